"""Characters API: characters and their reference images."""

from __future__ import annotations

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema
from rest_framework import generics, status
from rest_framework.response import Response
from rest_framework.views import APIView

from core.acting import acting_user
from core.parsers import JSONParser, MultiPartParser
from core.schema import USER_ID_PARAMETER
from core.serializers import ImageUploadRequestSerializer
from core.throttles import UploadThrottle
from core.upload_views import image_upload_created

from .api_serializers import CharacterSerializer, CharacterWriteSerializer, ReferenceSerializer
from .selectors import characters_of
from .services import (
    character_create,
    character_delete,
    character_update,
    reference_add,
    reference_remove,
)


class CharacterListCreateView(generics.ListAPIView):
    serializer_class = CharacterSerializer
    parser_classes = [JSONParser]

    def get_queryset(self):
        return characters_of(user=acting_user(self.request))

    @extend_schema(parameters=[USER_ID_PARAMETER], tags=["characters"])
    def get(self, request, *args, **kwargs):
        """The user's characters, by name."""
        return super().get(request, *args, **kwargs)

    @extend_schema(
        request=CharacterWriteSerializer,
        responses={201: CharacterSerializer},
        tags=["characters"],
    )
    def post(self, request):
        owner = acting_user(request)
        serializer = CharacterWriteSerializer(data=request.data, context={"owner": owner})
        serializer.is_valid(raise_exception=True)
        character = character_create(owner=owner, **serializer.validated_data)
        character = characters_of(user=owner).get(pk=character.pk)
        body = CharacterSerializer(character, context={"request": request}).data
        return Response(body, status=status.HTTP_201_CREATED)


class CharacterDetailView(APIView):
    parser_classes = [JSONParser]

    @extend_schema(
        parameters=[USER_ID_PARAMETER], responses=CharacterSerializer, tags=["characters"]
    )
    def get(self, request, character_id):
        character = get_object_or_404(characters_of(user=acting_user(request)), pk=character_id)
        return Response(CharacterSerializer(character, context={"request": request}).data)

    @extend_schema(
        request=CharacterWriteSerializer(partial=True),
        responses=CharacterSerializer,
        tags=["characters"],
    )
    def patch(self, request, character_id):
        """Change any of the fields; ``default_loras``, when sent, replaces the whole list."""
        owner = acting_user(request)
        character = get_object_or_404(characters_of(user=owner), pk=character_id)
        serializer = CharacterWriteSerializer(
            data=request.data, partial=True, context={"owner": owner, "character": character}
        )
        serializer.is_valid(raise_exception=True)
        character_update(character=character, **serializer.validated_data)
        character = characters_of(user=owner).get(pk=character.pk)
        return Response(CharacterSerializer(character, context={"request": request}).data)

    @extend_schema(parameters=[USER_ID_PARAMETER], responses={204: None}, tags=["characters"])
    def delete(self, request, character_id):
        """Delete the character, its references and their stored files."""
        character = get_object_or_404(characters_of(user=acting_user(request)), pk=character_id)
        character_delete(character=character)
        return Response(status=status.HTTP_204_NO_CONTENT)


class ReferenceCreateView(APIView):
    parser_classes = [MultiPartParser]
    throttle_classes = [UploadThrottle]

    @extend_schema(
        request={"multipart/form-data": ImageUploadRequestSerializer},
        responses={201: ReferenceSerializer},
        tags=["characters"],
    )
    def post(self, request, character_id):
        """Add a reference image of the character (re-encoded as PNG)."""
        owner = acting_user(request)
        character = get_object_or_404(characters_of(user=owner), pk=character_id)
        return image_upload_created(
            request,
            store=lambda body: reference_add(character=character, upload=body["image"]),
            answer_with=ReferenceSerializer,
        )


class ReferenceDetailView(APIView):
    @extend_schema(parameters=[USER_ID_PARAMETER], responses={204: None}, tags=["characters"])
    def delete(self, request, character_id, reference_id):
        """Remove a reference image and its stored file."""
        character = get_object_or_404(characters_of(user=acting_user(request)), pk=character_id)
        reference = get_object_or_404(character.references.all(), pk=reference_id)
        reference_remove(reference=reference)
        return Response(status=status.HTTP_204_NO_CONTENT)
