"""Generated images: the full image resource, its list (filters, ordering) and detail."""

from __future__ import annotations

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema
from rest_framework import generics

from core.acting import acting_user
from core.schema import USER_ID_PARAMETER
from core.serializers import validated_query

from ..selectors import image_list, images_visible_to
from .serializers import GeneratedImageSerializer, ImageQuerySerializer


@extend_schema(
    parameters=[ImageQuerySerializer, USER_ID_PARAMETER],
    tags=["images"],
)
class ImageListView(generics.ListAPIView):
    """The requester's generated images, newest first unless ``ordering`` says otherwise."""

    serializer_class = GeneratedImageSerializer

    def get_queryset(self):
        filters = validated_query(ImageQuerySerializer, self.request)
        return image_list(user=acting_user(self.request), filters=filters)


@extend_schema(parameters=[USER_ID_PARAMETER], tags=["images"])
class ImageDetailView(generics.RetrieveAPIView):
    serializer_class = GeneratedImageSerializer

    def get_object(self):
        images = images_visible_to(user=acting_user(self.request))
        return get_object_or_404(images, pk=self.kwargs["image_id"])
