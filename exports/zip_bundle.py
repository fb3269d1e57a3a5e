"""The ZIP export: each page's image as stored (full resolution PNG, not re-encoded) named by
page order, and ``manifest.json`` saying for each page how its image was made (prompt, seed,
model, LoRAs, identity scores, the job) so it can be reproduced."""

from __future__ import annotations

import json
import zipfile
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any


def page_file_name(position: int) -> str:
    """``001.png``: the page's place in the book, from 1."""
    return f"{position:03d}.png"


def write_zip(
    path: Path,
    pages: Iterable[tuple[bytes, dict[str, Any]]],
    book: dict[str, Any],
    *,
    on_page: Callable[[int], None] = lambda done: None,
) -> None:
    """``pages``: (PNG bytes, the page's manifest entry) in book order."""
    entries = []
    # PNG is compressed already: stored, not deflated again.
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_STORED) as bundle:
        for position, (png, entry) in enumerate(pages, start=1):
            name = page_file_name(position)
            bundle.writestr(name, png)
            entries.append({"file": name, **entry})
            on_page(position)
        manifest = {"book": book, "pages": entries}
        bundle.writestr(
            "manifest.json",
            json.dumps(manifest, indent=2, ensure_ascii=False),
            compress_type=zipfile.ZIP_DEFLATED,
        )
