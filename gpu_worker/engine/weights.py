"""Checks that a weights file is safetensors before anything deserialises it.

Pickle formats (``.bin``, ``.ckpt``, ``.pt``, a ``torch.save`` file renamed ``.safetensors``)
run code when loaded, so a file is accepted only when its header parses as safetensors.
"""

from __future__ import annotations

import json
import struct
from pathlib import Path

from .errors import UnsafeWeights

# A safetensors header is JSON metadata; real ones are kilobytes, 100 MB is a generous cap.
_MAX_HEADER_BYTES = 100 * 1024 * 1024
# Bits per element, so a header's shapes can be checked against its byte offsets.
_DTYPE_BITS = {
    "BOOL": 8, "U8": 8, "I8": 8, "F8_E4M3": 8, "F8_E5M2": 8, "F8_E8M0": 8,
    "I16": 16, "U16": 16, "F16": 16, "BF16": 16,
    "I32": 32, "U32": 32, "F32": 32,
    "F64": 64, "I64": 64, "U64": 64, "C64": 64,
    "F4": 4, "F6_E2M3": 6, "F6_E3M2": 6,
}  # fmt: skip
_DTYPES = set(_DTYPE_BITS)


def read_safetensors_header(path: Path) -> dict:
    """Return the parsed header of ``path`` or raise UnsafeWeights; reads only the header."""
    path = Path(path)
    if path.suffix != ".safetensors":
        raise UnsafeWeights(f"{path.name}: only .safetensors weights are accepted.")
    try:
        size = path.stat().st_size
        with open(path, "rb") as handle:
            prefix = handle.read(8)
            if len(prefix) != 8:
                raise UnsafeWeights(f"{path.name} is not a safetensors file (too short).")
            (header_len,) = struct.unpack("<Q", prefix)
            if not 2 <= header_len <= min(_MAX_HEADER_BYTES, size - 8):
                raise UnsafeWeights(f"{path.name} is not a safetensors file (bad header length).")
            raw = handle.read(header_len)
    except OSError as exc:
        raise UnsafeWeights(f"Cannot read weights file {path}: {exc}") from exc
    try:
        header = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise UnsafeWeights(f"{path.name} is not a safetensors file (header is not JSON).")
    if not isinstance(header, dict):
        raise UnsafeWeights(f"{path.name} is not a safetensors file (header is not a mapping).")
    data_len = size - 8 - header_len
    spans = []
    for name, info in header.items():
        if name == "__metadata__":
            continue
        problem = _entry_problem(info, data_len)
        if problem:
            raise UnsafeWeights(
                f"{path.name} is not a valid safetensors file: tensor {name!r} {problem}."
            )
        spans.append(tuple(info["data_offsets"]))
    if not _covers_exactly(spans, data_len):
        raise UnsafeWeights(
            f"{path.name} is not a valid safetensors file: its header does not describe the "
            f"{data_len} data bytes exactly (truncated file or lying header)."
        )
    return header


def _covers_exactly(spans: list[tuple[int, int]], data_len: int) -> bool:
    """The spec's rule: tensors tile the data buffer with no holes and no overlaps."""
    position = 0
    for begin, end in sorted(spans):
        if begin != position:
            return False
        position = end
    return position == data_len


def _entry_problem(info: object, data_len: int) -> str | None:
    """Why a header entry is invalid, or None when it is fine."""
    if not isinstance(info, dict) or info.get("dtype") not in _DTYPES:
        return "has an unknown dtype"
    offsets, shape = info.get("data_offsets"), info.get("shape")
    if not (isinstance(offsets, list) and len(offsets) == 2 and isinstance(shape, list)):
        return "has malformed offsets or shape"
    begin, end = offsets
    if not (isinstance(begin, int) and isinstance(end, int) and 0 <= begin <= end):
        return "has malformed offsets"
    if end > data_len:
        return "runs past the end of the data (the file is truncated)"
    if not all(isinstance(dim, int) and dim >= 0 for dim in shape):
        return "has a malformed shape"
    elements = 1
    for dim in shape:
        elements *= dim
    if end - begin != (elements * _DTYPE_BITS[info["dtype"]] + 7) // 8:
        return f"has a shape {shape} that does not match its {end - begin} bytes"
    return None


def tensor_bytes(header: dict) -> int:
    """Bytes of tensor data described by a safetensors header (its memory cost when loaded)."""
    return sum(
        info["data_offsets"][1] - info["data_offsets"][0]
        for name, info in header.items()
        if name != "__metadata__"
    )


def tensor_names(header: dict) -> list[str]:
    return [name for name in header if name != "__metadata__"]
