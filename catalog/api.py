"""Catalog API: the base models (read-only: the enabled ones, with the workers holding them),
the LoRA registry (read by everyone, written by staff) and the style presets (read-only, the
enabled ones only)."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import generics, status
from rest_framework.permissions import SAFE_METHODS, BasePermission
from rest_framework.response import Response

from core.acting import acting_user
from core.parsers import LoraMultiPartParser
from core.schema import USER_ID_PARAMETER
from core.throttles import UploadThrottle

from .api_serializers import (
    BaseModelSerializer,
    LoraQuerySerializer,
    LoraRegisterSerializer,
    LoraSerializer,
    StylePresetSerializer,
)
from .residency import model_residency
from .selectors import (
    enabled_base_models,
    enabled_styles,
    lora_list,
    loras_visible_to,
)
from .services import lora_register


@extend_schema(tags=["models"])
class BaseModelListView(generics.ListAPIView):
    """The enabled base models (checkpoints) jobs may name, and the live workers holding each."""

    serializer_class = BaseModelSerializer

    def get_queryset(self):
        return enabled_base_models()

    def get_serializer_context(self):
        return {**super().get_serializer_context(), "residency": model_residency()}


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


class ReadOrStaffWrite(BasePermission):
    message = "Only staff may register LoRAs."

    def has_permission(self, request, view):
        user = request.user
        if not (user and user.is_authenticated):
            return False
        return request.method in SAFE_METHODS or user.is_staff


class LoraListCreateView(generics.ListAPIView):
    serializer_class = LoraSerializer
    permission_classes = [ReadOrStaffWrite]
    parser_classes = [LoraMultiPartParser]
    throttle_classes = [UploadThrottle]

    def get_queryset(self):
        query = LoraQuerySerializer(data=self.request.query_params.dict())
        query.is_valid(raise_exception=True)
        return lora_list(user=acting_user(self.request), filters=query.validated_data)

    @extend_schema(parameters=[LoraQuerySerializer, USER_ID_PARAMETER], tags=["loras"])
    def get(self, request, *args, **kwargs):
        """Enabled public LoRAs and the requester's own private ones."""
        return super().get(request, *args, **kwargs)

    @extend_schema(
        request={"multipart/form-data": LoraRegisterSerializer},
        responses={201: LoraSerializer, 200: LoraSerializer},
        tags=["loras"],
    )
    def post(self, request):
        """Staff only: register a .safetensors LoRA. The same file (same sha256) sent again
        answers 200 with the existing entry; a new one 201."""
        serializer = LoraRegisterSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        fields = dict(serializer.validated_data)
        actor = acting_user(request)  # checked even when unused: an unknown user_id is a 400
        owner = None if fields["is_public"] else actor
        lora, created = lora_register(upload=fields.pop("file"), owner=owner, **fields)
        body = LoraSerializer(lora, context={"request": request}).data
        return Response(body, status=status.HTTP_201_CREATED if created else status.HTTP_200_OK)


@extend_schema(parameters=[USER_ID_PARAMETER], tags=["loras"])
class LoraDetailView(generics.RetrieveAPIView):
    serializer_class = LoraSerializer
    lookup_field = "slug"

    def get_queryset(self):
        return loras_visible_to(user=acting_user(self.request))
