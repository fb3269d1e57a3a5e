"""OpenAPI generation (drf-spectacular): the token auth scheme, the error body of API.md, and
an AutoSchema that documents the error responses every operation can give, so each view only
declares its success body."""

from __future__ import annotations

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.openapi import AutoSchema as SpectacularAutoSchema
from drf_spectacular.plumbing import force_instance
from drf_spectacular.utils import OpenApiParameter
from rest_framework import serializers

from core.serializers import StrictSerializer


class HashedTokenScheme(OpenApiAuthenticationExtension):
    target_class = "accounts.authentication.HashedTokenAuthentication"
    name = "tokenAuth"

    def get_security_definition(self, auto_schema):
        return {
            "type": "apiKey",
            "in": "header",
            "name": "Authorization",
            "description": 'API token, sent as "Token <key>" or "Bearer <key>" (from POST '
            "/api/v1/auth/token/).",
        }


class ErrorDetailSerializer(serializers.Serializer):
    code = serializers.CharField(help_text="snake_case, e.g. invalid, not_found, too_large.")
    message = serializers.CharField(help_text="A human sentence naming what was wrong.")
    fields = serializers.DictField(
        child=serializers.ListField(child=serializers.CharField()),
        required=False,
        help_text="Field name -> messages (400 invalid only).",
    )


class ErrorSerializer(serializers.Serializer):
    error = ErrorDetailSerializer()


USER_ID_PARAMETER = OpenApiParameter(
    "user_id",
    str,
    OpenApiParameter.QUERY,
    required=False,
    description="Staff tokens with the permission accounts.act_for_user only: act for the user "
    "with this username (403 for others, and for a superuser unless the token is one's).",
)

_ERROR_DESCRIPTIONS = {
    "400": "Invalid input (`invalid`); `fields` names each bad field.",
    "401": "Missing, invalid or revoked credentials (`not_authenticated`).",
    "403": "Not allowed (`forbidden`).",
    "404": "No such object, or another user's (`not_found`).",
    "413": "Request or file too large (`too_large`).",
    "415": "Not an accepted image or media type (`unsupported_media`).",
    "429": "Too many requests (`throttled`); `Retry-After` says when to try again.",
}
_WRITE_METHODS = {"POST", "PUT", "PATCH"}


class AutoSchema(SpectacularAutoSchema):
    """Adds the error responses an operation can produce, each with the error body."""

    def _get_request_for_media_type(self, serializer, direction="request"):
        schema, required = super()._get_request_for_media_type(serializer, direction)
        # A hand-written body schema that demands properties cannot be absent either.
        if isinstance(serializer, dict) and serializer.get("minProperties"):
            required = True
        return schema, required

    def _error_codes(self) -> list[str]:
        codes = []
        parameters = {parameter["name"] for parameter in self._get_parameters()}
        if self.method in _WRITE_METHODS or parameters:
            codes.append("400")
        if self.get_auth() and {} not in self.get_auth():
            codes += ["401", "403"]
        # Path ids, a page past the end, and a user_id naming nobody are all 404s.
        if "{" in self.path or "page" in parameters or self._takes_user_id(parameters):
            codes.append("404")
        if self.method in _WRITE_METHODS:
            codes.append("413")
            codes.append("415")  # a media type the parsers do not accept, or a non-image file
        if self.method == "POST" and getattr(self.view, "throttle_classes", None):
            codes.append("429")  # core.throttles: per-user bursts of writes
        return codes

    def _takes_user_id(self, parameters: set[str]) -> bool:
        if "user_id" in parameters:
            return True
        body = self.get_request_serializer() if self.method in _WRITE_METHODS else None
        bodies = body.values() if isinstance(body, dict) else [body]
        return any("user_id" in getattr(force_instance(item), "fields", {}) for item in bodies)

    def _map_basic_serializer(self, serializer, direction):
        schema = super()._map_basic_serializer(serializer, direction)
        # Strict serializers answer 400 for fields they do not know; the schema says so.
        if direction == "request" and isinstance(serializer, StrictSerializer):
            schema["additionalProperties"] = False
        return schema

    def _get_response_bodies(self, direction="response"):
        responses = super()._get_response_bodies(direction)
        if direction != "response":
            return responses
        for code in self._error_codes():
            if code not in responses:
                responses[code] = self._get_response_for_code(
                    ErrorSerializer, code, direction=direction
                )
                responses[code]["description"] = _ERROR_DESCRIPTIONS[code]
        return responses
