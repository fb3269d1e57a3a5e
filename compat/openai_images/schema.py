"""OpenAPI for the OpenAI routes: the error responses carry OpenAI's error shape."""

from __future__ import annotations

from rest_framework import serializers

from core.schema import AutoSchema, ErrorSerializer


class OpenAIErrorDetailSerializer(serializers.Serializer):
    message = serializers.CharField()
    type = serializers.CharField(help_text="invalid_request_error, requests, server_error, ...")
    param = serializers.CharField(allow_null=True, help_text="The first field at fault.")
    code = serializers.CharField(allow_null=True)
    fields = serializers.DictField(
        child=serializers.ListField(child=serializers.CharField()),
        required=False,
        help_text="Every field at fault -> messages (400).",
    )


class OpenAIErrorSerializer(serializers.Serializer):
    error = OpenAIErrorDetailSerializer()


class OpenAISchema(AutoSchema):
    """The platform's AutoSchema, with OpenAI's error body in place of the platform's."""

    def _get_response_for_code(
        self, serializer, status_code, media_types=None, direction="response"
    ):
        if serializer is ErrorSerializer:
            serializer = OpenAIErrorSerializer
        return super()._get_response_for_code(serializer, status_code, media_types, direction)
