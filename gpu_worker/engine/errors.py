"""Typed engine failures; the job layer maps each to a user-facing error code."""


class EngineError(Exception):
    code = "internal"


class InvalidSpec(EngineError):
    code = "invalid_input"


class ModelUnavailable(EngineError):
    code = "model_unavailable"


class OutOfMemory(EngineError):
    code = "out_of_memory"


class GenerationCancelled(EngineError):
    """Raised from the step callback to stop a run before the VAE decode."""

    code = "cancelled"


class UnsafeWeights(InvalidSpec):
    """A weights file is not a valid safetensors file (pickle formats run code when loaded)."""

    code = "unsafe_weights"


class ChecksumMismatch(ModelUnavailable):
    """A downloaded file's sha256 differs from the one it was published with."""

    code = "checksum_mismatch"
