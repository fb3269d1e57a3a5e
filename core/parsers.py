"""Request input: parsers that refuse an oversized body by its Content-Length before reading
it and lone surrogates in what they parsed (``core.surrogates``: a 400 naming each place,
keys included), and JSON-type checking for serializers.

DRF's JSON parser reads the request stream directly, so Django's DATA_UPLOAD_MAX_MEMORY_SIZE
never applies to JSON bodies; and files in a multipart body are not counted by it at all. Each
parser here raises Django's ``RequestDataTooBig``, which the exception handler turns into a
413 ``too_large``."""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.http import QueryDict
from rest_framework import parsers, serializers
from rest_framework.exceptions import ParseError, ValidationError

from .surrogates import lone_surrogate_fields


def _check_length(parser_context: dict | None, limit: int) -> None:
    request = (parser_context or {}).get("request")
    meta = getattr(request, "META", {})
    try:
        length = int(meta.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    if length > limit:
        raise RequestDataTooBig(f"The request body is {length} bytes; the limit is {limit} bytes.")


def refuse_lone_surrogates(data) -> None:
    """A 400 naming every value and key of a parsed body that holds a lone surrogate: it
    could be neither stored nor echoed in an error."""
    found = lone_surrogate_fields(data)
    if found:
        raise ValidationError(found)


class JSONParser(parsers.JSONParser):
    """Every JSON request body of this API is an object: an array, a string, a number or null
    at the top is a 400 here, before any view reads it as a mapping."""

    def parse(self, stream, media_type=None, parser_context=None):
        _check_length(parser_context, settings.DATA_UPLOAD_MAX_MEMORY_SIZE)
        data = super().parse(stream, media_type, parser_context)
        if not isinstance(data, dict):
            kind = "null" if data is None else type(data).__name__
            raise ParseError(f"The request body must be a JSON object, not {kind}.")
        refuse_lone_surrogates(data)
        return data


class FormParser(parsers.FormParser):
    def parse(self, stream, media_type=None, parser_context=None):
        _check_length(parser_context, settings.DATA_UPLOAD_MAX_MEMORY_SIZE)
        data = super().parse(stream, media_type, parser_context)
        refuse_lone_surrogates(data)
        return data


class MultiPartParser(parsers.MultiPartParser):
    """Files up to ``ILLU_UPLOAD_MAX_BYTES`` plus the ordinary fields' allowance."""

    file_limit_setting = "ILLU_UPLOAD_MAX_BYTES"

    def parse(self, stream, media_type=None, parser_context=None):
        file_limit = getattr(settings, self.file_limit_setting)
        _check_length(parser_context, file_limit + settings.DATA_UPLOAD_MAX_MEMORY_SIZE)
        parsed = super().parse(stream, media_type, parser_context)
        refuse_lone_surrogates(parsed.data)
        refuse_lone_surrogates({name: "" for name in parsed.files})  # the fields' names
        return parsed


class LoraMultiPartParser(MultiPartParser):
    file_limit_setting = "ILLU_LORA_MAX_BYTES"


# --- JSON types ---------------------------------------------------------------------------
# DRF coerces freely ("5" for an integer, 5 for a string, "yes" for a boolean). In a JSON body
# the types are the client's explicit choice and the schema states them, so a mismatch is a 400
# naming the field. Form bodies (all strings) keep DRF's coercion.

_JSON_TYPES: list[tuple[type, tuple[type, ...], str]] = [
    (serializers.BooleanField, (bool,), "a boolean"),
    (serializers.IntegerField, (int,), "an integer"),
    (serializers.FloatField, (int, float), "a number"),
    (serializers.CharField, (str,), "a string"),
    (serializers.ChoiceField, (str,), "a string"),
    (serializers.UUIDField, (str,), "a string"),
    (serializers.DateTimeField, (str,), "a string"),
    (serializers.DateField, (str,), "a string"),
    (serializers.RelatedField, (str,), "a string"),
    (serializers.ListField, (list,), "a list"),
    (serializers.DictField, (dict,), "an object"),
    (serializers.ListSerializer, (list,), "a list"),  # many=True
    (serializers.BaseSerializer, (dict,), "an object"),
]


def json_type_errors(field: serializers.Field, value, path: str) -> dict[str, list[str]]:
    """{path: [message]} for ``value`` (parsed JSON) that is not of ``field``'s JSON type."""
    if value is None:
        return {}  # null is allow_null's business
    for field_class, types, name in _JSON_TYPES:
        if isinstance(field, field_class):
            if not isinstance(value, types) or (isinstance(value, bool) and bool not in types):
                return {path: [f"Must be {name}, not {type(value).__name__}."]}
            break
    errors: dict[str, list[str]] = {}
    if isinstance(field, serializers.ListField):
        for position, item in enumerate(value):
            errors.update(json_type_errors(field.child, item, f"{path}.{position}"))
    elif isinstance(field, serializers.DictField):
        for key, item in value.items():
            errors.update(json_type_errors(field.child, item, f"{path}.{key}"))
    return errors


class JSONTypedMixin:
    """For serializers: in a JSON body every declared field must have its JSON type."""

    def to_internal_value(self, data):
        type_errors: dict[str, list[str]] = {}
        if isinstance(data, dict) and not isinstance(data, QueryDict):
            for name, field in self.fields.items():
                if name in data and not field.read_only:
                    type_errors.update(json_type_errors(field, data[name], name))
        try:
            value = super().to_internal_value(data)
        except serializers.ValidationError as exc:
            detail = (
                exc.detail if isinstance(exc.detail, dict) else {"non_field_errors": exc.detail}
            )
            raise serializers.ValidationError({**detail, **type_errors})
        if type_errors:
            raise serializers.ValidationError(type_errors)
        return value
