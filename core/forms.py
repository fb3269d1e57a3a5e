"""Form helpers every app's pages share: a service's refusal shown beside the fields it names,
and the image file field (the content is checked by the service, not the name)."""

from __future__ import annotations

from django import forms

from .errors import DomainError

ACCEPTED_IMAGES = "image/png,image/jpeg,image/webp"


def image_field(label: str) -> forms.FileField:
    # Only the content counts (PNG, JPEG, WebP; checked by the service), not the name.
    return forms.FileField(
        label=label, widget=forms.ClearableFileInput(attrs={"accept": ACCEPTED_IMAGES})
    )


def flatten_errors(detail, prefix: str = "") -> dict[str, list[str]]:
    """DRF's nested error detail -> {"width": [..], "control.image": [..], "loras.0.weight": ..}."""
    if isinstance(detail, dict):
        flat: dict[str, list[str]] = {}
        for key, value in detail.items():
            name = f"{prefix}.{key}" if prefix else str(key)
            for path, messages in flatten_errors(value, name).items():
                flat.setdefault(path, []).extend(messages)
        return flat
    if isinstance(detail, list) and any(isinstance(item, dict | list) for item in detail):
        flat = {}
        for position, item in enumerate(detail):
            for path, messages in flatten_errors(item, f"{prefix}.{position}").items():
                flat.setdefault(path, []).extend(messages)
        return flat
    items = detail if isinstance(detail, list) else [detail]
    return {prefix or "non_field_errors": [str(item) for item in items]}


def add_field_errors(form: forms.Form, fields: dict[str, list[str]], aliases=None) -> None:
    """Put each error beside the form field it names (through ``aliases`` for API names the
    form spells differently); errors on anything else go at the top of the form."""
    aliases = aliases or {}
    for path, messages in fields.items():
        name = aliases.get(path, path)
        for message in messages:
            if name in form.fields:
                form.add_error(name, message)
            elif path == "non_field_errors":
                form.add_error(None, message)
            else:
                form.add_error(None, f"{path}: {message}")


def add_domain_error(form: forms.Form, exc: DomainError, aliases=None) -> None:
    """A service's refusal: beside the fields it names, else (quota, conflicts) at the top."""
    if exc.fields:
        add_field_errors(form, exc.fields, aliases)
    else:
        form.add_error(None, exc.message)
