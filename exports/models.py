"""A book export: print-ready PDF or a ZIP of the pages' PNGs with a manifest, made in the
background as a kind of work (``exports.work_kind.EXPORTS``) on a CPU worker."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models

from work.models import Work


class ExportFormat(models.TextChoices):
    PDF = "pdf"
    ZIP = "zip"


def export_key(instance: BookExport, filename: str) -> str:
    # Server-generated keys only.
    return f"exports/{instance.book_id}/{uuid.uuid4().hex}.{instance.format}"


class BookExport(Work):
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="book_exports"
    )
    book = models.ForeignKey("books.Book", on_delete=models.CASCADE, related_name="exports")
    format = models.CharField(max_length=8, choices=ExportFormat.choices)
    pages_total = models.PositiveIntegerField(default=0)
    pages_done = models.PositiveIntegerField(default=0)
    file = models.FileField(upload_to=export_key, max_length=300, blank=True)
    # The upscale jobs it made for pages whose image is below the book's dpi; it waits (queued,
    # holding no worker) until all of them ended.
    upscale_jobs = models.ManyToManyField("generation.GenerationJob", blank=True, related_name="+")

    class Meta(Work.Meta):
        indexes = [models.Index(fields=["owner", "-created_at"])]
        constraints = [
            *Work.Meta.constraints,
            models.CheckConstraint(
                condition=models.Q(format__in=ExportFormat.values), name="bookexport_format_valid"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.format} export {self.id} of {self.book_id} ({self.status})"
