"""Style presets: read-only, the enabled ones only."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import generics, serializers

from ..models import StylePreset


class StylePresetSerializer(serializers.ModelSerializer):
    controlnet_weights = serializers.DictField(
        child=serializers.FloatField(), help_text="Control type -> conditioning scale."
    )

    class Meta:
        model = StylePreset
        fields = [
            "slug",
            "name",
            "prompt_template",
            "negative_prompt",
            "quality",
            "steps",
            "scheduler",
            "ip_adapter_scale",
            "controlnet_weights",
            "updated_at",
        ]
        read_only_fields = fields


def enabled_styles():
    return StylePreset.objects.filter(enabled=True)


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
