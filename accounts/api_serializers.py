"""Serializers of the accounts API: tokens and avatars."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from core.acting import acting_user_field
from core.media import storage_url
from core.serializers import StrictSerializer, image_file_field

from .models import ApiToken, Avatar


class TokenRequestSerializer(StrictSerializer):
    username = serializers.CharField()
    password = serializers.CharField(trim_whitespace=False)


class TokenResponseSerializer(serializers.Serializer):
    token = serializers.CharField(help_text='Send as "Authorization: Token <token>".')


class ApiTokenSerializer(serializers.ModelSerializer):
    current = serializers.SerializerMethodField(help_text="The token this request used.")

    class Meta:
        model = ApiToken
        fields = ["id", "name", "prefix", "created_at", "last_used_at", "revoked_at", "current"]
        read_only_fields = fields

    def get_current(self, token: ApiToken) -> bool:
        request = self.context.get("request")
        return bool(request and getattr(request.auth, "pk", None) == token.pk)


class FaceSerializer(serializers.Serializer):
    detected = serializers.BooleanField(
        allow_null=True, help_text="Exactly one face found; null until detection ran."
    )
    score = serializers.FloatField(allow_null=True, help_text="Detector confidence, 0..1.")
    count = serializers.IntegerField(allow_null=True, help_text="Faces found.")


def face_block(*, count: int | None, score: float | None) -> dict:
    return {"detected": None if count is None else count == 1, "score": score, "count": count}


class AvatarSerializer(serializers.ModelSerializer):
    url = serializers.SerializerMethodField()
    face = serializers.SerializerMethodField()

    class Meta:
        model = Avatar
        fields = ["id", "url", "primary", "width", "height", "face", "created_at"]
        read_only_fields = fields

    @extend_schema_field({"type": "string", "format": "uri"})
    def get_url(self, avatar: Avatar) -> str:
        return storage_url(avatar.image.name, self.context.get("request"))

    @extend_schema_field(FaceSerializer)
    def get_face(self, avatar: Avatar) -> dict:
        return face_block(count=avatar.face_count, score=avatar.face_score)


class AvatarCreateSerializer(StrictSerializer):
    image = image_file_field()
    primary = serializers.BooleanField(
        required=False, default=False, help_text="Make it the primary avatar (the first always is)."
    )
    allow_no_face = serializers.BooleanField(
        required=False,
        default=False,
        help_text="Keep a photo without exactly one face (else 400); it cannot drive identity.",
    )
    user_id = acting_user_field()
