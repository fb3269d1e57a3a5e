"""The platform names a request's fields its own way (``num_images``, ``guidance_scale``,
``source_upload``); a compatibility client sent other names (``n``, ``cfg_scale``,
``init_images``). Errors from the platform's checks are renamed to the client's fields here,
so a 400 names what the client actually sent."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping

from rest_framework.exceptions import ValidationError

from core.errors import DomainError


def flat_fields(detail, prefix: str = "") -> dict[str, list[str]]:
    """DRF error detail (nested dicts and lists) as {"field" or "a.0.b": [messages]}."""
    fields: dict[str, list[str]] = {}
    if isinstance(detail, dict):
        for key, value in detail.items():
            name = f"{prefix}.{key}" if prefix else str(key)
            for sub, messages in flat_fields(value, name).items():
                fields.setdefault(sub, []).extend(messages)
    elif isinstance(detail, list):
        for position, item in enumerate(detail):
            if isinstance(item, dict):
                sub_prefix = f"{prefix}.{position}" if prefix else str(position)
                for sub, messages in flat_fields(item, sub_prefix).items():
                    fields.setdefault(sub, []).extend(messages)
            elif isinstance(item, list):
                for sub, messages in flat_fields(item, prefix).items():
                    fields.setdefault(sub, []).extend(messages)
            else:
                fields.setdefault(prefix or "non_field_errors", []).append(str(item))
    else:
        fields.setdefault(prefix or "non_field_errors", []).append(str(detail))
    return fields


def renamed_fields(fields: Mapping[str, list[str]], names: Mapping[str, str]) -> dict:
    """Each key whose first part is in ``names`` becomes that name (the rest of a dotted key
    is dropped: it belonged to the platform's shape); other keys stay."""
    renamed: dict[str, list[str]] = {}
    for key, messages in fields.items():
        head = key.split(".", 1)[0]
        target = names.get(head, key)
        for message in messages:
            if message not in renamed.setdefault(target, []):
                renamed[target].append(message)
    return renamed


@contextlib.contextmanager
def client_field_names(names: Mapping[str, str]) -> Iterator[None]:
    """Inside, a ValidationError or DomainError from the platform is re-raised with its fields
    named as the client named them."""
    try:
        yield
    except ValidationError as exc:
        raise ValidationError(renamed_fields(flat_fields(exc.detail), names))
    except DomainError as exc:
        if exc.fields:
            exc.fields = renamed_fields(exc.fields, names)
        raise


class JobsTimedOut(DomainError):
    """The wait ran out; the jobs go on and their images reach the gallery."""

    status_code = 504
    code = "timeout"


class JobsCancelled(DomainError):
    status_code = 409
    code = "cancelled"


class JobFailed(DomainError):
    """A job of the request failed: the job's own error code, 400 for bad input, else 500."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code
        self.status_code = 400 if code == "invalid_input" else 500
