"""Books: pages of one style and cast, generated as jobs, reviewed by a customer through
share links. A page's candidates are the images of its jobs (``PageJob``); its review
decisions and comments are ``PageComment`` rows."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models

from catalog.controlnet_weights import CONTROL_TYPES
from catalog.models import StylePreset


class BookStatus(models.TextChoices):
    DRAFT = "draft"
    GENERATING = "generating"
    REVIEW = "review"
    APPROVED = "approved"
    EXPORTED = "exported"


class Book(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="books"
    )
    title = models.CharField(max_length=200)
    style = models.ForeignKey(
        StylePreset, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    model = models.CharField(
        max_length=300, blank=True, help_text="Base model; empty means the platform's default."
    )
    characters = models.ManyToManyField("characters.Character", blank=True, related_name="books")
    page_width_in = models.FloatField(default=8.5)
    page_height_in = models.FloatField(default=8.5)
    bleed_in = models.FloatField(default=0.125)
    dpi = models.PositiveIntegerField(default=300)
    candidates_per_page = models.PositiveSmallIntegerField(default=4)
    status = models.CharField(
        max_length=16, choices=BookStatus.choices, default=BookStatus.DRAFT, db_index=True
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["owner", "-created_at"])]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(status__in=BookStatus.values), name="book_status_valid"
            ),
            models.CheckConstraint(
                condition=models.Q(page_width_in__gt=0) & models.Q(page_height_in__gt=0),
                name="book_page_size_positive",
            ),
            models.CheckConstraint(condition=models.Q(bleed_in__gte=0), name="book_bleed_nonneg"),
            models.CheckConstraint(condition=models.Q(dpi__gt=0), name="book_dpi_positive"),
            models.CheckConstraint(
                condition=models.Q(candidates_per_page__gte=1)
                & models.Q(candidates_per_page__lte=8),
                name="book_candidates_per_page_range",
            ),
        ]

    def __str__(self) -> str:
        return self.title


class PageReviewStatus(models.TextChoices):
    PENDING = "pending"
    APPROVED = "approved"
    CHANGES_REQUESTED = "changes_requested"


class BookPage(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    book = models.ForeignKey(Book, on_delete=models.CASCADE, related_name="pages")
    order = models.PositiveIntegerField(default=0)
    text = models.TextField(blank=True, help_text="The words printed on the page.")
    prompt = models.TextField(help_text="The scene.")
    characters = models.ManyToManyField("characters.Character", blank=True, related_name="+")
    control_image = models.ForeignKey(
        "generation.Upload", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    control_type = models.CharField(
        max_length=32, blank=True, choices=[(name, name) for name in CONTROL_TYPES]
    )
    selected_image = models.ForeignKey(
        "generation.GeneratedImage",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    needs_attention = models.BooleanField(default=False)
    # Follow-up jobs (re-rolls, face repairs) spent since the page's last generate.
    retries_used = models.PositiveSmallIntegerField(default=0)
    review_status = models.CharField(
        max_length=20, choices=PageReviewStatus.choices, default=PageReviewStatus.PENDING
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["book", "order", "created_at"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(review_status__in=PageReviewStatus.values),
                name="bookpage_review_status_valid",
            ),
        ]

    def __str__(self) -> str:
        return f"page {self.order} of {self.book}"


class PageJobPurpose(models.TextChoices):
    GENERATE = "generate"
    REROLL = "reroll"
    REPAIR = "repair"
    REGENERATE = "regenerate"


class PageJob(models.Model):
    """A generation job made for a page; its images are the page's candidates. The identity
    scores are per image and character: ``{image_id: {character_id: score or null}}``."""

    page = models.ForeignKey(BookPage, on_delete=models.CASCADE, related_name="page_jobs")
    job = models.OneToOneField(
        "generation.GenerationJob", on_delete=models.CASCADE, related_name="book_page_link"
    )
    purpose = models.CharField(max_length=16, choices=PageJobPurpose.choices)
    identity_scores = models.JSONField(default=dict, blank=True)
    handled = models.BooleanField(default=False, help_text="Its end was acted on.")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at"]

    def __str__(self) -> str:
        return f"{self.purpose} job {self.job_id} of {self.page}"


class ShareLink(models.Model):
    """A customer's way in without an account: ``/share/<token>/``. Only the token's SHA-256
    is kept; the token itself is shown once, when the link is made."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    book = models.ForeignKey(Book, on_delete=models.CASCADE, related_name="share_links")
    label = models.CharField(max_length=120)
    token_hash = models.CharField(max_length=64, unique=True)
    expires_at = models.DateTimeField()
    revoked_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"share link {self.label!r} of {self.book}"


class CommentKind(models.TextChoices):
    APPROVED = "approved"
    CHANGES_REQUESTED = "changes_requested"
    NOTE = "note"


class PageComment(models.Model):
    """A review decision (through a share link) or an owner's note on a page. The link's
    label is copied, so a decision still names its reviewer after the link is gone."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    page = models.ForeignKey(BookPage, on_delete=models.CASCADE, related_name="comments")
    kind = models.CharField(max_length=20, choices=CommentKind.choices)
    text = models.TextField(blank=True)
    share_link = models.ForeignKey(
        ShareLink, on_delete=models.SET_NULL, null=True, blank=True, related_name="decisions"
    )
    label = models.CharField(max_length=120, blank=True, help_text="Who: the link's label.")
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(kind__in=CommentKind.values), name="pagecomment_kind_valid"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kind} on {self.page}"


class ReviewMetrics(BookPage):
    """No table: gives the admin a page of acceptance rates (``books.review_metrics``)."""

    class Meta:
        proxy = True
        verbose_name = "review metrics"
        verbose_name_plural = "review metrics"
