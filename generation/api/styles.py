"""Style presets: read-only, the enabled ones only."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import generics

from ..selectors import enabled_styles
from .serializers import StylePresetSerializer


@extend_schema(tags=["styles"])
class StyleListView(generics.ListAPIView):
    serializer_class = StylePresetSerializer

    def get_queryset(self):
        return enabled_styles()


@extend_schema(tags=["styles"])
class StyleDetailView(generics.RetrieveAPIView):
    serializer_class = StylePresetSerializer
    lookup_field = "slug"

    def get_queryset(self):
        return enabled_styles()
