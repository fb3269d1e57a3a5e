"""The API's JSON renderer: DRF's, except that a body holding a lone surrogate (which UTF-8
cannot encode) is written with U+FFFD in its place instead of failing as a plain-text 500.
Input with surrogates is refused at the parsers; this covers what was stored before that,
and anything else a response echoes."""

from __future__ import annotations

from rest_framework import renderers

from .surrogates import surrogate_safe


class JSONRenderer(renderers.JSONRenderer):
    def render(self, data, accepted_media_type=None, renderer_context=None):
        try:
            return super().render(data, accepted_media_type, renderer_context)
        except UnicodeEncodeError:
            return super().render(surrogate_safe(data), accepted_media_type, renderer_context)
