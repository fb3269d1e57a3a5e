"""Is an uploaded image file complete? Checked from its container structure before Pillow
opens it, because Pillow reads the declared size first: a truncated file that declares huge
dimensions would otherwise be refused as a decompression bomb (413) instead of as the broken
file it is (400)."""

from __future__ import annotations

import struct

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
JPEG_START = b"\xff\xd8"
JPEG_START_OF_SCAN = b"\xff\xda"
JPEG_END = b"\xff\xd9"


def _png_truncation(data: bytes) -> str | None:
    position = len(PNG_SIGNATURE)
    while position + 8 <= len(data):
        length, kind = struct.unpack(">I4s", data[position : position + 8])
        end = position + 8 + length + 4  # length, type, data, CRC
        if end > len(data):
            return f"the {kind.decode('latin-1')!r} chunk ends past the end of the file"
        if kind == b"IEND":
            return None
        position = end
    return "the file ends before the IEND chunk"


def _jpeg_truncation(data: bytes) -> str | None:
    # Entropy-coded data never holds FF D9 (FF is stuffed), so the last scan of a complete
    # file is followed by the end-of-image marker; an embedded EXIF thumbnail comes earlier.
    last_scan = data.rfind(JPEG_START_OF_SCAN)
    if last_scan == -1:
        return "the file ends before the image data"
    if data.find(JPEG_END, last_scan) == -1:
        return "the file ends before the end-of-image marker"
    return None


def _webp_truncation(data: bytes) -> str | None:
    (riff_size,) = struct.unpack("<I", data[4:8])
    if len(data) < riff_size + 8:
        return f"the file is {len(data)} bytes; its header declares {riff_size + 8}"
    return None


def truncation_of(data: bytes) -> str | None:
    """Why a PNG, JPEG or WebP file is incomplete, or None when it is whole (or is none of
    these: other formats are refused by content elsewhere)."""
    if data.startswith(PNG_SIGNATURE):
        return _png_truncation(data)
    if data.startswith(JPEG_START):
        return _jpeg_truncation(data)
    if len(data) >= 12 and data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return _webp_truncation(data)
    return None
