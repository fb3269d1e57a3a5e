"""Uploads: images a user sends once and refers to by id (control images, photos)."""

from __future__ import annotations

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema
from rest_framework.response import Response
from rest_framework.views import APIView

from core.acting import acting_user
from core.parsers import MultiPartParser
from core.schema import USER_ID_PARAMETER
from core.serializers import ImageUploadRequestSerializer
from core.throttles import UploadThrottle
from core.upload_views import image_upload_created

from ..selectors import uploads_visible_to
from ..uploads import upload_create
from .serializers import UploadSerializer


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
        return image_upload_created(
            request,
            store=lambda body: upload_create(owner=owner, upload=body["image"]),
            answer_with=UploadSerializer,
        )


class UploadDetailView(APIView):
    @extend_schema(parameters=[USER_ID_PARAMETER], responses=UploadSerializer, tags=["uploads"])
    def get(self, request, upload_id):
        upload = get_object_or_404(uploads_visible_to(user=acting_user(request)), pk=upload_id)
        return Response(UploadSerializer(upload, context={"request": request}).data)
