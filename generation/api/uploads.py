"""Uploads: images a user sends once and refers to by id (control images, photos)."""

from __future__ import annotations

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema, extend_schema_field
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from illuplatform.acting import acting_user
from illuplatform.parsers import MultiPartParser
from illuplatform.schema import USER_ID_PARAMETER
from illuplatform.serializers import StrictSerializer
from illuplatform.throttles import UploadThrottle

from ..models import Upload
from ..uploads import upload_create
from .images import storage_url


def image_file_field() -> serializers.FileField:
    # The service checks the content (PNG, JPEG or WebP; size; pixels), not the name.
    return serializers.FileField(help_text="PNG, JPEG or WebP, checked by content.")


def acting_user_field() -> serializers.CharField:
    return serializers.CharField(
        required=False, allow_blank=True, help_text="Staff only: act for this username."
    )


class ImageUploadRequestSerializer(StrictSerializer):
    image = image_file_field()
    user_id = acting_user_field()


class UploadSerializer(serializers.ModelSerializer):
    url = serializers.SerializerMethodField()

    class Meta:
        model = Upload
        fields = ["id", "url", "width", "height", "created_at"]
        read_only_fields = fields

    @extend_schema_field({"type": "string", "format": "uri"})
    def get_url(self, upload: Upload) -> str:
        return storage_url(upload.image.name, self.context.get("request"))


def uploads_visible_to(user):
    return Upload.objects.filter(owner=user)


class UploadCreateView(APIView):
    parser_classes = [MultiPartParser]
    throttle_classes = [UploadThrottle]

    @extend_schema(
        request={"multipart/form-data": ImageUploadRequestSerializer},
        responses={201: UploadSerializer},
        tags=["uploads"],
    )
    def post(self, request):
        """Store an image (re-encoded as PNG, metadata dropped) for use in later jobs."""
        owner = acting_user(request)
        serializer = ImageUploadRequestSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        upload = upload_create(owner=owner, upload=serializer.validated_data["image"])
        body = UploadSerializer(upload, context={"request": request}).data
        return Response(body, status=status.HTTP_201_CREATED)


class UploadDetailView(APIView):
    @extend_schema(parameters=[USER_ID_PARAMETER], responses=UploadSerializer, tags=["uploads"])
    def get(self, request, upload_id):
        upload = get_object_or_404(uploads_visible_to(acting_user(request)), pk=upload_id)
        return Response(UploadSerializer(upload, context={"request": request}).data)
