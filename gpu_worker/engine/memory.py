"""Device memory: the one helper that gives it back, and the guard that turns a CUDA
out-of-memory error into the engine's ``OutOfMemory`` after releasing the failed pass."""

from __future__ import annotations

import gc
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import torch

from .errors import OutOfMemory


def free_device_memory() -> None:
    """Collect garbage, then return the CUDA caching allocator's free blocks to the device."""
    gc.collect()
    if torch.cuda.is_available():
        torch.cuda.empty_cache()


@contextmanager
def out_of_memory_as(message: Callable[[], str]) -> Iterator[None]:
    """Run the block; a CUDA out-of-memory error becomes ``OutOfMemory(message())`` (the worker
    retries that with the low-memory profile). The failed pass's tensors are held by the
    error's traceback frames: those are cleared before memory is freed, else the retry would
    find the device as full as the pass left it."""
    try:
        yield
    except torch.OutOfMemoryError as exc:
        traceback.clear_frames(exc.__traceback__)
        free_device_memory()
        raise OutOfMemory(message()) from exc
