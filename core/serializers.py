"""Serializer bases and fields shared by every app's API."""

from rest_framework import serializers
from rest_framework.exceptions import ValidationError

from .acting import acting_user_field
from .parsers import JSONTypedMixin


class StrictSerializer(JSONTypedMixin, serializers.Serializer):
    """The one parsing rule of every request body: fields it does not know are refused by
    name instead of silently dropped, and in a JSON body each field must have its JSON type
    (``"5"`` is not a number). Every request serializer builds on it."""

    def to_internal_value(self, data):
        unknown = sorted(set(data) - set(self.fields)) if isinstance(data, dict) else []
        errors = {name: ["Unknown field."] for name in unknown}
        try:
            value = super().to_internal_value(data)
        except serializers.ValidationError as exc:
            detail = (
                exc.detail if isinstance(exc.detail, dict) else {"non_field_errors": exc.detail}
            )
            raise serializers.ValidationError({**detail, **errors})
        if errors:
            raise serializers.ValidationError(errors)
        return value


def validated_query(serializer_class: type[serializers.Serializer], request) -> dict:
    """Query parameters checked by a serializer. A repeated parameter is a 400, not a silent
    pick, and an empty value is invalid, not "absent" (a plain dict, not DRF's form rules)."""
    params = request.query_params
    repeated = {
        name: ["Give this parameter once."] for name in params if len(params.getlist(name)) > 1
    }
    if repeated:
        raise ValidationError(repeated)
    serializer = serializer_class(data=params.dict())
    serializer.is_valid(raise_exception=True)
    return dict(serializer.validated_data)


def image_file_field() -> serializers.FileField:
    # The service checks the content (PNG, JPEG or WebP; size; pixels), not the name.
    return serializers.FileField(help_text="PNG, JPEG or WebP, checked by content.")


class ImageUploadRequestSerializer(StrictSerializer):
    image = image_file_field()
    user_id = acting_user_field()
