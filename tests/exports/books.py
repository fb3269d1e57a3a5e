"""A book whose pages already have their selected images, stored through the normal storage
code (no workers): what the export tests start from."""

from __future__ import annotations

import io

from django.core.files.base import ContentFile
from PIL import Image, ImageDraw

from books.generation_runs import page_image_set
from books.services import book_create, page_create
from generation.models import GeneratedImage, GenerationJob

MANIFEST = {"model": {"source": "demo:tiny-sdxl"}, "loras": [{"name": "hero", "weight": 0.7}]}


def png(size: tuple[int, int], color: tuple[int, int, int]) -> bytes:
    picture = Image.new("RGB", size, color)
    ImageDraw.Draw(picture).rectangle((4, 4, size[0] // 2, size[1] // 2), fill=(250, 250, 250))
    buffer = io.BytesIO()
    picture.save(buffer, format="PNG")
    return buffer.getvalue()


def stored_image(owner, *, prompt: str, size: tuple[int, int], seed: int) -> GeneratedImage:
    job = GenerationJob.objects.create(
        owner=owner, kind="text", status="succeeded", params={"prompt": prompt, "seed": seed}
    )
    image = GeneratedImage(
        job=job, width=size[0], height=size[1], seed=seed, consistency_score=0.8,
        manifest={**MANIFEST, "seed": seed},
    )  # fmt: skip
    image.file.save("page.png", ContentFile(png(size, (40 * seed % 255, 90, 160))), save=False)
    image.save()
    return image


def illustrated_book(owner, *, pages, size=(128, 128), **book_fields):
    """``pages``: (prompt, text) pairs; each page gets an image of ``size`` (or a list)."""
    fields = {"page_width_in": 1.0, "page_height_in": 1.0, "bleed_in": 0.125, "dpi": 72}
    book = book_create(owner=owner, title="The Lighthouse", **{**fields, **book_fields})
    sizes = size if isinstance(size, list) else [size] * len(pages)
    for seed, ((prompt, text), image_size) in enumerate(zip(pages, sizes, strict=True), 1):
        page = page_create(book=book, prompt=prompt, text=text)
        image = stored_image(owner, prompt=prompt, size=image_size, seed=seed)
        page_image_set(page=page, image=image, needs_attention=False)
    book.refresh_from_db()
    return book
