"""What an export reads: the stored images of a book's pages, and the manifest entry that
says how each page's image was made."""

from __future__ import annotations

import io
from typing import Any

from PIL import Image

from books.models import Book, BookPage
from generation.models import GeneratedImage


class ExportError(Exception):
    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code


def read_png(image: GeneratedImage) -> bytes:
    try:
        with image.file.open("rb") as handle:
            return handle.read()
    except (FileNotFoundError, OSError) as exc:
        raise ExportError("image_missing", f"The stored file of image {image.id} is gone.") from exc


def open_image(image: GeneratedImage) -> Image.Image:
    picture = Image.open(io.BytesIO(read_png(image)))
    picture.load()
    return picture


def book_summary(book: Book) -> dict[str, Any]:
    return {
        "id": str(book.id),
        "title": book.title,
        "style": book.style.slug if book.style else None,
        "model": book.model or None,
        "page_width_in": book.page_width_in,
        "page_height_in": book.page_height_in,
        "bleed_in": book.bleed_in,
        "dpi": book.dpi,
    }


def page_manifest(page: BookPage) -> dict[str, Any]:
    """How the page's image was made: enough to reproduce it."""
    image = page.selected_image
    job = image.job
    manifest = image.manifest or {}
    link = getattr(job, "book_page_link", None)
    identity = (link.identity_scores or {}).get(str(image.id)) if link else None
    return {
        "page_id": str(page.id),
        "order": page.order,
        "text": page.text,
        "prompt": job.params.get("prompt", page.prompt),
        "negative_prompt": job.params.get("negative_prompt", ""),
        "image_id": str(image.id),
        "job_id": str(job.id),
        "width": image.width,
        "height": image.height,
        "seed": image.seed,
        "model": manifest.get("model") or job.params.get("model"),
        "loras": manifest.get("loras", job.params.get("loras", [])),
        "scores": {"consistency": image.consistency_score, "identity": identity},
        "review_status": page.review_status,
        "image_manifest": manifest,
    }
