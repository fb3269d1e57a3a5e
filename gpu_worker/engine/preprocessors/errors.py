"""Preprocessor failures, typed under the engine's errors so the job layer maps them to codes."""

from __future__ import annotations

from gpu_worker.engine.errors import InvalidSpec, ModelUnavailable


class UnknownPreprocessor(InvalidSpec, ValueError):
    """A control kind no preprocessor handles (a ``ValueError`` for callers outside the engine)."""


class PreprocessorModelUnavailable(ModelUnavailable):
    """The model a preprocessor needs is not configured, not on disk or not loadable."""
