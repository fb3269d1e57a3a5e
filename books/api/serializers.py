"""Serializers of the books API: books with their pages, candidates, comments, progress and
cost; page writes; share links."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from catalog.controlnet_weights import CONTROL_TYPES
from core.serializers import StrictSerializer
from generation.api.serializers import GeneratedImageSerializer

from ..models import Book, BookPage, BookStatus, PageComment, ShareLink
from ..selectors import book_cost, book_progress, candidate_scores, page_candidates

INTEGER, NUMBER = {"type": "integer"}, {"type": "number"}
PROGRESS_SCHEMA = {"type": "object", "properties": {"pages_done": INTEGER, "pages_total": INTEGER}}
COST_SCHEMA = {
    "type": "object",
    "properties": {"gpu_seconds": NUMBER, "images": INTEGER, "jobs": INTEGER},
}

# --- requests ---------------------------------------------------------------------------


class BookWriteSerializer(StrictSerializer):
    title = serializers.CharField(max_length=200)
    style = serializers.SlugField(required=False, allow_null=True, help_text="A style preset.")
    model = serializers.CharField(max_length=300, required=False, allow_blank=True)
    characters = serializers.ListField(
        child=serializers.UUIDField(), required=False, help_text="Your characters' ids."
    )
    page_width_in = serializers.FloatField(min_value=1, max_value=30, required=False)
    page_height_in = serializers.FloatField(min_value=1, max_value=30, required=False)
    bleed_in = serializers.FloatField(min_value=0, max_value=1, required=False)
    dpi = serializers.IntegerField(min_value=72, max_value=1200, required=False)
    candidates_per_page = serializers.IntegerField(min_value=1, max_value=8, required=False)
    status = serializers.ChoiceField(
        choices=[BookStatus.DRAFT, BookStatus.APPROVED],
        required=False,
        help_text="Other statuses follow the book's work (generating, review, exported).",
    )


class PageWriteSerializer(StrictSerializer):
    prompt = serializers.CharField(max_length=2000)
    text = serializers.CharField(required=False, allow_blank=True, max_length=5000)
    characters = serializers.ListField(child=serializers.UUIDField(), required=False)
    control_image = serializers.UUIDField(required=False, allow_null=True)
    control_type = serializers.ChoiceField(choices=CONTROL_TYPES, required=False, allow_blank=True)
    order = serializers.IntegerField(min_value=0, required=False)


class ReorderSerializer(StrictSerializer):
    order = serializers.ListField(child=serializers.UUIDField(), allow_empty=False)


class GenerateSerializer(StrictSerializer):
    pages = serializers.ListField(child=serializers.UUIDField(), required=False, allow_empty=False)


class SelectSerializer(StrictSerializer):
    image = serializers.UUIDField()


class RegenerateSerializer(StrictSerializer):
    prompt = serializers.CharField(required=False, max_length=2000)
    note = serializers.CharField(required=False, allow_blank=True, max_length=1000)


class ShareLinkCreateSerializer(StrictSerializer):
    label = serializers.CharField(max_length=120)
    expires_in_days = serializers.IntegerField(min_value=1, max_value=365, default=14)


# --- responses --------------------------------------------------------------------------


class CommentSerializer(serializers.ModelSerializer):
    class Meta:
        model = PageComment
        fields = ["id", "kind", "text", "label", "share_link", "created_at"]
        read_only_fields = fields


class CandidateSerializer(GeneratedImageSerializer):
    identity_scores = serializers.SerializerMethodField()

    class Meta(GeneratedImageSerializer.Meta):
        fields = [*GeneratedImageSerializer.Meta.fields, "identity_scores"]
        read_only_fields = fields

    @extend_schema_field({"type": "object", "additionalProperties": {"type": "number"}})
    def get_identity_scores(self, image) -> dict:
        """Character id -> score (null: no face found, or not scored)."""
        return self.context.get("scores", {}).get(str(image.pk), {})


class PageSerializer(serializers.ModelSerializer):
    characters = serializers.PrimaryKeyRelatedField(many=True, read_only=True)
    selected_image = serializers.SerializerMethodField()
    candidates = serializers.SerializerMethodField()
    comments = CommentSerializer(many=True, read_only=True)

    class Meta:
        model = BookPage
        fields = [
            "id",
            "order",
            "text",
            "prompt",
            "characters",
            "control_image",
            "control_type",
            "selected_image",
            "candidates",
            "review_status",
            "needs_attention",
            "comments",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields

    def _with_scores(self, page: BookPage) -> dict:
        return {**self.context, "scores": candidate_scores(page)}

    @extend_schema_field(CandidateSerializer(allow_null=True))
    def get_selected_image(self, page: BookPage):
        if page.selected_image is None:
            return None
        return CandidateSerializer(page.selected_image, context=self._with_scores(page)).data

    @extend_schema_field(CandidateSerializer(many=True))
    def get_candidates(self, page: BookPage) -> list:
        return CandidateSerializer(
            page_candidates(page), many=True, context=self._with_scores(page)
        ).data


class BookSummarySerializer(serializers.ModelSerializer):
    style = serializers.SlugRelatedField(slug_field="slug", read_only=True, allow_null=True)
    characters = serializers.PrimaryKeyRelatedField(many=True, read_only=True)
    progress = serializers.SerializerMethodField()
    cost = serializers.SerializerMethodField()

    class Meta:
        model = Book
        fields = [
            "id",
            "title",
            "style",
            "model",
            "characters",
            "page_width_in",
            "page_height_in",
            "bleed_in",
            "dpi",
            "candidates_per_page",
            "status",
            "progress",
            "cost",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields

    @extend_schema_field(PROGRESS_SCHEMA)
    def get_progress(self, book: Book) -> dict:
        return book_progress(book)

    @extend_schema_field(COST_SCHEMA)
    def get_cost(self, book: Book) -> dict:
        return book_cost(book)


class BookSerializer(BookSummarySerializer):
    pages = PageSerializer(many=True, read_only=True)

    class Meta(BookSummarySerializer.Meta):
        fields = [*BookSummarySerializer.Meta.fields, "pages"]
        read_only_fields = fields


class ShareLinkSerializer(serializers.ModelSerializer):
    active = serializers.SerializerMethodField()

    class Meta:
        model = ShareLink
        fields = ["id", "label", "expires_at", "revoked_at", "active", "created_at"]
        read_only_fields = fields

    def get_active(self, link: ShareLink) -> bool:
        from django.utils import timezone

        return link.revoked_at is None and link.expires_at > timezone.now()
