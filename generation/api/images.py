"""Generated images: the full image resource, its list (filters, ordering) and detail."""

from __future__ import annotations

from django.db.models import F, QuerySet
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema, extend_schema_field
from rest_framework import generics, serializers

from core.acting import acting_user
from core.media import storage_url
from core.schema import USER_ID_PARAMETER
from core.serializers import validated_query

from ..models import GeneratedImage, ReviewStatus


class GeneratedImageSerializer(serializers.ModelSerializer):
    """The image resource of API.md; the job resource can embed it as ``images``."""

    job = serializers.UUIDField(source="job_id", read_only=True)
    url = serializers.SerializerMethodField()
    thumbnail_url = serializers.SerializerMethodField()
    manifest = serializers.DictField(
        read_only=True, help_text="Everything needed to reproduce the image."
    )

    class Meta:
        model = GeneratedImage
        fields = [
            "id",
            "job",
            "index",
            "url",
            "thumbnail_url",
            "width",
            "height",
            "seed",
            "consistency_score",
            "accepted",
            "review_status",
            "created_at",
            "manifest",
        ]
        read_only_fields = fields

    @extend_schema_field({"type": "string", "format": "uri"})
    def get_url(self, image: GeneratedImage) -> str | None:
        return storage_url(image.file.name, self.context.get("request"))

    @extend_schema_field({"type": "string", "format": "uri", "nullable": True})
    def get_thumbnail_url(self, image: GeneratedImage) -> str | None:
        return storage_url(image.thumbnail.name, self.context.get("request"))


ORDERINGS = {
    "created_at": F("created_at").asc(),
    "-created_at": F("created_at").desc(),
    "consistency_score": F("consistency_score").asc(nulls_last=True),
    "-consistency_score": F("consistency_score").desc(nulls_last=True),
}


class ImageQuerySerializer(serializers.Serializer):
    job = serializers.UUIDField(required=False, help_text="Only images of this job.")
    character = serializers.UUIDField(required=False, help_text="Only images of this character.")
    accepted = serializers.BooleanField(required=False, help_text="Only (not) accepted images.")
    review_status = serializers.ChoiceField(choices=ReviewStatus.choices, required=False)
    ordering = serializers.ChoiceField(choices=list(ORDERINGS), default="-created_at")


def images_visible_to(user) -> QuerySet[GeneratedImage]:
    return GeneratedImage.objects.filter(job__owner=user)


def filter_images(images: QuerySet[GeneratedImage], query: dict) -> QuerySet[GeneratedImage]:
    if query.get("job"):
        images = images.filter(job_id=query["job"])
    if query.get("character"):
        images = images.filter(job__character_id=query["character"])
    if query.get("accepted") is not None:
        images = images.filter(accepted=query["accepted"])
    if query.get("review_status"):
        images = images.filter(review_status=query["review_status"])
    return images.order_by(ORDERINGS[query["ordering"]], "id")


def _parse_query(request) -> dict:
    return validated_query(ImageQuerySerializer, request)


@extend_schema(
    parameters=[ImageQuerySerializer, USER_ID_PARAMETER],
    tags=["images"],
)
class ImageListView(generics.ListAPIView):
    """The requester's generated images, newest first unless ``ordering`` says otherwise."""

    serializer_class = GeneratedImageSerializer

    def get_queryset(self):
        query = _parse_query(self.request)
        return filter_images(images_visible_to(acting_user(self.request)), query)


@extend_schema(parameters=[USER_ID_PARAMETER], tags=["images"])
class ImageDetailView(generics.RetrieveAPIView):
    serializer_class = GeneratedImageSerializer

    def get_object(self):
        images = images_visible_to(acting_user(self.request))
        return get_object_or_404(images, pk=self.kwargs["image_id"])
