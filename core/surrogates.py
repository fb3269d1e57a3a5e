"""Lone UTF-16 surrogates (U+D800..U+DFFF on their own): what a JSON ``"\\ud800"`` escape, or a
body or query string declared in a charset such as UTF-7, decodes to. They are no text: UTF-8
cannot encode them, so PostgreSQL refuses them, SQLite's driver raises on them in text
columns, and a response that echoes one cannot be encoded at all.

Input is refused where it is parsed (``lone_surrogate_fields`` names each place, keys
included: the JSON, form and multipart parsers of the API, and the middleware for query
strings and page forms); output is made safe where it is written (``surrogate_safe``, used by
the error body, the API's JSON renderer and ``json_dumps_safe`` for routes with an error
shape of their own), so an error reply is valid JSON whatever it echoes."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

from django.http import QueryDict

_LONE_SURROGATE = re.compile(r"[\ud800-\udfff]")
REPLACEMENT = "\ufffd"
MESSAGE = "Contains a lone UTF-16 surrogate ({escaped}), which is not text."
KEY_MESSAGE = "This key contains a lone UTF-16 surrogate ({escaped}), which is not text."


def has_lone_surrogate(text: str) -> bool:
    return _LONE_SURROGATE.search(text) is not None


def escaped(text: str) -> str:
    """``text`` with each surrogate written as ``\\udXXX`` (ASCII, safe to show anywhere)."""
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


def _message(text: str, template: str = MESSAGE) -> str:
    found = _LONE_SURROGATE.search(text)
    return template.format(escaped=escaped(found.group()) if found else "")


def _join(prefix: str, name: str) -> str:
    return f"{prefix}.{name}" if prefix else name


def lone_surrogate_fields(data: Any, prefix: str = "") -> dict[str, list[str]]:
    """{place: [message]} for every string in ``data`` (parsed JSON, a QueryDict, nested
    dicts and lists) that holds a lone surrogate: values by their path (``a.b``, ``loras.0``),
    keys by their parent's path and the key written escaped (``scene_presets.\\ud800``).
    Empty when there is none."""
    found: dict[str, list[str]] = {}
    if isinstance(data, str):
        if has_lone_surrogate(data):
            found[prefix or "non_field_errors"] = [_message(data)]
    elif isinstance(data, QueryDict):
        for key, values in data.lists():
            place = _join(prefix, escaped(key))
            if has_lone_surrogate(key):
                found[place] = [_message(key, KEY_MESSAGE)]
            for value in values:
                if isinstance(value, str) and has_lone_surrogate(value):
                    found.setdefault(place, []).append(_message(value))
    elif isinstance(data, Mapping):
        for key, value in data.items():
            name = key if isinstance(key, str) else str(key)
            place = _join(prefix, escaped(name))
            if has_lone_surrogate(name):
                found.setdefault(place, []).append(_message(name, KEY_MESSAGE))
            for path, messages in lone_surrogate_fields(value, place).items():
                found.setdefault(path, []).extend(messages)
    elif isinstance(data, list | tuple):
        for position, item in enumerate(data):
            for path, messages in lone_surrogate_fields(item, _join(prefix, str(position))).items():
                found.setdefault(path, []).extend(messages)
    return found


def surrogate_safe(value: Any) -> Any:
    """``value`` with every lone surrogate, in strings and in keys, replaced by U+FFFD (the
    replacement character); everything else as it is. Cheap when there is none."""
    if isinstance(value, str):
        return _LONE_SURROGATE.sub(REPLACEMENT, value) if has_lone_surrogate(value) else value
    if isinstance(value, Mapping):
        return {surrogate_safe(key): surrogate_safe(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [surrogate_safe(item) for item in value]
    return value


def json_dumps_safe(value: Any, **kwargs) -> str:
    """``json.dumps`` whose result always encodes as UTF-8: lone surrogates become U+FFFD.
    For responses outside the API's renderer (routes with an error shape of their own)."""
    try:
        text = json.dumps(value, **kwargs)
        text.encode("utf-8")
    except UnicodeEncodeError:
        text = json.dumps(surrogate_safe(value), **kwargs)
    return text
