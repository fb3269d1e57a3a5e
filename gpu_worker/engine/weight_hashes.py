"""sha256 of weights files: computed once per file, off the denoising thread, and only for the
files a model really loaded.

A loader records the files it read (``record_loaded``) under the source it was given and the
local path it resolved to; their hashes start at once on one background thread, so they run
beside the first job's denoising instead of before it. The manifest asks for them after the
run (``file_sha256`` waits for a hash still in progress). Hashes are cached by (path, size,
modification time): a changed file is hashed again, an unchanged one never.
"""

from __future__ import annotations

import hashlib
import logging
import threading
from collections.abc import Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

logger = logging.getLogger(__name__)

_CHUNK = 1 << 20
_Key = tuple[str, int, int]


@dataclass(frozen=True)
class LoadedFiles:
    root: Path  # digests are keyed by paths relative to it
    files: tuple[Path, ...]


class WeightHashes:
    """The per-process hash cache (see the module docstring)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._futures: dict[_Key, Future] = {}
        self._loaded: dict[str, LoadedFiles] = {}
        self._executor: ThreadPoolExecutor | None = None
        self.hashed: list[str] = []  # paths read for hashing, in order (tests, diagnostics)

    def record_loaded(self, keys: Iterable[str], root: Path, files: Iterable[Path]) -> None:
        """Remember ``files`` as what ``keys`` (a source, its local path) loaded; start their
        hashes in the background."""
        loaded = LoadedFiles(Path(root), tuple(Path(f) for f in files))
        with self._lock:
            for key in keys:
                self._loaded[_normal(key)] = loaded
        for path in loaded.files:
            self._future(path)

    def loaded(self, key: str) -> LoadedFiles | None:
        with self._lock:
            return self._loaded.get(_normal(key))

    def file_sha256(self, path: Path) -> str:
        return self._future(Path(path)).result()

    def digests(self, loaded: LoadedFiles) -> dict[str, str]:
        return {_relative(path, loaded.root): self.file_sha256(path) for path in loaded.files}

    def _future(self, path: Path) -> Future:
        stat = path.stat()
        key = (str(path.resolve()), stat.st_size, stat.st_mtime_ns)
        with self._lock:
            future = self._futures.get(key)
            if future is None:
                if self._executor is None:
                    self._executor = ThreadPoolExecutor(1, thread_name_prefix="weight-hash")
                future = self._executor.submit(self._hash, path)
                self._futures[key] = future
            return future

    def _hash(self, path: Path) -> str:
        self.hashed.append(str(path))
        digest = hashlib.sha256()
        with open(path, "rb") as handle:
            for chunk in iter(lambda: handle.read(_CHUNK), b""):
                digest.update(chunk)  # hashlib releases the GIL: denoising goes on meanwhile
        return digest.hexdigest()


def _normal(key: str) -> str:
    return str(key).rstrip("/")


def _relative(path: Path, root: Path) -> str:
    try:
        return path.relative_to(root).as_posix()
    except ValueError:
        return path.name


WEIGHT_HASHES = WeightHashes()
