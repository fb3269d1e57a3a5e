"""What every image upload endpoint does once it knows whose upload it is: check the multipart
body, hand the image to the app's service and answer 201 with the stored object."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from rest_framework import serializers, status
from rest_framework.response import Response

from core.serializers import ImageUploadRequestSerializer


def image_upload_created(
    request,
    *,
    store: Callable[[dict[str, Any]], Any],
    answer_with: type[serializers.BaseSerializer],
    parse_with: type[serializers.Serializer] = ImageUploadRequestSerializer,
) -> Response:
    """Validate the body with ``parse_with`` (a bad one is a 400 and nothing is stored), call
    ``store`` with the validated data and answer 201 with ``answer_with`` of what it made.
    The caller resolves the acting user and any parent object first: an unknown one is a 404
    before the body is looked at."""
    body = parse_with(data=request.data)
    body.is_valid(raise_exception=True)
    created = store(body.validated_data)
    return Response(
        answer_with(created, context={"request": request}).data, status=status.HTTP_201_CREATED
    )
