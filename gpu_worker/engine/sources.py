"""Model sources: a Hugging Face hub id, a local path, or an ``s3://bucket/prefix`` URI.

Hub ids (``org/name[@revision][/path]``, see ``hub``) resolve to files in the Hugging Face
cache, fetching only what the loader of that ``layout`` reads.

S3 sources are downloaded once into a cache directory (resuming a partial file with a Range
request), with progress logged every ``progress_interval_s`` seconds, and every weights file
verified against a sha256: a ``checksums.sha256`` manifest (``sha256sum`` format) under a
prefix, a ``<key>.sha256`` object beside a single file, or a checksum passed in. Only
``.safetensors`` weights are fetched; pickle formats are skipped. The engine receives plain
configuration (endpoint, credentials); it never reads Django settings.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from . import hub
from .errors import ChecksumMismatch, ModelUnavailable, UnsafeWeights
from .weights import read_safetensors_header

logger = logging.getLogger(__name__)

CHECKSUM_MANIFEST = "checksums.sha256"
COMPLETE_MARKER = ".illu-complete.json"
_PICKLE_SUFFIXES = (".bin", ".ckpt", ".pt", ".pth", ".pkl", ".pickle", ".msgpack", ".h5")
_CHUNK = 1 << 20


@dataclass(frozen=True)
class S3Config:
    endpoint_url: str | None = None  # None: AWS; a URL for SeaweedFS/MinIO (path-style)
    access_key: str | None = None
    secret_key: str | None = field(default=None, repr=False)
    region: str | None = None


@dataclass(frozen=True)
class SourceConfig:
    cache_dir: Path = Path("var/models")
    s3: S3Config = S3Config()
    progress_interval_s: float = 10.0
    # Refuse S3 weights that come with no checksum at all.
    require_checksum: bool = True


# What a loader reads from a source, so a hub id fetches only that: a diffusers pipeline, one
# model folder (ControlNet, VAE, depth model; or one named weights file of it with the configs
# beside it), one file (LoRA, single-file checkpoint), or the configuration files of a
# pipeline (a single-file checkpoint's config source).
LAYOUTS = ("pipeline", "model", "file", "configs")


def is_local_source(source: str) -> bool:
    return source.startswith(("/", "./", "../", "~")) or Path(source).exists()


def is_hub_source(source: str) -> bool:
    return (
        not source.startswith("s3://")
        and not is_local_source(source)
        and (hub.parse_hub_ref(source) is not None)
    )


def resolve_source(
    source: str,
    config: SourceConfig,
    checksum: str | None = None,
    *,
    layout: str = "pipeline",
    prefer_fp16: bool = False,
) -> str:
    """The local path of ``source``: downloading S3 first, or resolving a hub id in the
    Hugging Face cache (only the files ``layout`` needs; the fp16 variant when
    ``prefer_fp16`` and it is published)."""
    if source.startswith("s3://"):
        return str(download_s3(source, config, checksum=checksum))
    if is_local_source(source):
        path = Path(source).expanduser()
        if not path.exists():
            raise ModelUnavailable(f"No model at {source!r}.")
        return str(path)
    ref = hub.parse_hub_ref(source)
    if ref is None:
        raise ModelUnavailable(f"{source!r} is not a local path, an s3:// URI or a hub id.")
    if layout not in LAYOUTS:
        raise ValueError(f"unknown layout {layout!r}")
    if layout == "model" and ref.path.endswith(".safetensors"):
        chooser = hub.choose_file_with_configs
    elif layout == "file" or ref.path.endswith(".safetensors"):
        chooser = hub.choose_file
    elif layout == "configs":
        chooser = hub.choose_configs
    elif layout == "model":
        chooser = hub.choose_model_folder(prefer_fp16)
    else:
        chooser = hub.choose_pipeline(prefer_fp16)
    return str(hub.resolve_hub(ref, chooser))


def _split_uri(uri: str) -> tuple[str, str]:
    bucket, _, key = uri.removeprefix("s3://").partition("/")
    if not bucket or not key.strip("/"):
        raise ModelUnavailable(f"{uri!r} needs a bucket and a key: s3://bucket/prefix.")
    return bucket, key.strip("/")


def s3_client(config: S3Config):
    import boto3
    from botocore.config import Config

    return boto3.client(
        "s3",
        endpoint_url=config.endpoint_url,
        aws_access_key_id=config.access_key,
        aws_secret_access_key=config.secret_key,
        region_name=config.region or "us-east-1",
        config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 5}),
    )


def download_s3(uri: str, config: SourceConfig, checksum: str | None = None) -> Path:
    """Download ``uri`` (one object or every object under a prefix) once; return its path."""
    bucket, key = _split_uri(uri)
    target = Path(config.cache_dir) / "s3" / bucket / key
    marker = _marker_path(target)
    if marker.is_file():
        return target
    with _download_lock(target):  # workers sharing a cache download each source once
        if marker.is_file():
            return target
        _download(uri, bucket, key, target, config, checksum)
    return target


@contextmanager
def _download_lock(target: Path):
    import fcntl

    lock_path = target.parent / f"{target.name}.lock"
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    with open(lock_path, "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _download(
    uri: str, bucket: str, key: str, target: Path, config: SourceConfig, checksum: str | None
) -> None:
    marker = _marker_path(target)
    client = s3_client(config.s3)
    try:
        objects = _list_objects(client, bucket, key)
    except Exception as exc:  # botocore raises many types; all mean "not reachable"
        raise ModelUnavailable(f"Cannot list {uri}: {exc}") from exc
    if key in objects:  # a single file, e.g. a from_single_file checkpoint
        files = {Path(key).name: key}
        expected = {Path(key).name: checksum or _read_sidecar(client, bucket, key + ".sha256")}
        destination_dir = target.parent
    else:
        files = _directory_files(objects, key)
        manifest = f"{key}/{CHECKSUM_MANIFEST}"
        published = _read_text(client, bucket, manifest) if manifest in objects else ""
        expected = _parse_manifest(published)
        destination_dir = target
    if not files:
        raise ModelUnavailable(f"Nothing to download at {uri} (no .safetensors or configs).")
    total = sum(objects[object_key] for object_key in files.values())
    progress = _Progress(uri, total, config.progress_interval_s)
    for relative, object_key in files.items():
        path = destination_dir / relative
        digest = expected.get(relative)
        if digest is None and relative.endswith(".safetensors") and config.require_checksum:
            raise ChecksumMismatch(f"{uri}: no sha256 published for {relative}; refusing it.")
        _download_file(client, bucket, object_key, objects[object_key], path, progress)
        if digest is not None:
            _verify(path, digest)
        if relative.endswith(".safetensors"):
            _check_safetensors(path)
    progress.done()
    marker.parent.mkdir(parents=True, exist_ok=True)
    marker.write_text(json.dumps({"uri": uri, "files": sorted(files), "sha256": expected}))


def _marker_path(target: Path) -> Path:
    return target.parent / f"{target.name}{COMPLETE_MARKER}"


def _list_objects(client, bucket: str, key: str) -> dict[str, int]:
    sizes: dict[str, int] = {}
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=key):
        for item in page.get("Contents", []):
            sizes[item["Key"]] = item["Size"]
    return {k: v for k, v in sizes.items() if k == key or k.startswith(key + "/")}


def _directory_files(objects: dict[str, int], prefix: str) -> dict[str, str]:
    files = {}
    for object_key in objects:
        relative = object_key[len(prefix) + 1 :]
        if not relative or relative.endswith("/") or relative == CHECKSUM_MANIFEST:
            continue
        if relative.endswith(_PICKLE_SUFFIXES):
            logger.info("skipping %s: only .safetensors weights are accepted", object_key)
            continue
        files[relative] = object_key
    return files


def _read_text(client, bucket: str, key: str) -> str:
    return client.get_object(Bucket=bucket, Key=key)["Body"].read().decode()


def _read_sidecar(client, bucket: str, key: str) -> str | None:
    try:
        return _read_text(client, bucket, key).split()[0].lower()
    except Exception:  # no sidecar published
        return None


def _parse_manifest(text: str) -> dict[str, str]:
    """``sha256sum`` lines: '<hex>  <relative path>' (a '*' before the path means binary)."""
    expected = {}
    for line in text.splitlines():
        parts = line.strip().split(maxsplit=1)
        if len(parts) == 2:
            expected[parts[1].lstrip("*").removeprefix("./")] = parts[0].lower()
    return expected


class _Progress:
    """Logs bytes and percent at most every ``interval_s`` seconds for one download."""

    def __init__(self, uri: str, total: int, interval_s: float):
        self.uri, self.total, self.interval_s = uri, total, interval_s
        self.done_bytes = 0
        self._last = time.monotonic()

    def add(self, count: int) -> None:
        self.done_bytes += count
        now = time.monotonic()
        if now - self._last >= self.interval_s:
            self._last = now
            self._log()

    def done(self) -> None:
        self._log()

    def _log(self) -> None:
        percent = 100.0 * self.done_bytes / self.total if self.total else 100.0
        logger.info(
            "download %s: %d / %d bytes (%.1f%%)", self.uri, self.done_bytes, self.total, percent
        )


def _download_file(client, bucket: str, key: str, size: int, path: Path, progress) -> None:
    """Fetch into ``<path>.part``, resuming what an interrupted run left, then rename."""
    if path.is_file() and path.stat().st_size == size:
        progress.add(size)
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".part")
    offset = partial.stat().st_size if partial.is_file() else 0
    if offset > size:
        partial.unlink()
        offset = 0
    progress.add(offset)
    if offset < size:
        request = {"Bucket": bucket, "Key": key}
        if offset:
            request["Range"] = f"bytes={offset}-"
            logger.info("resuming %s at byte %d", key, offset)
        body = client.get_object(**request)["Body"]
        with open(partial, "ab") as handle:
            for chunk in body.iter_chunks(_CHUNK):
                handle.write(chunk)
                progress.add(len(chunk))
    partial.replace(path)


def _check_safetensors(path: Path) -> None:
    try:
        read_safetensors_header(path)
    except UnsafeWeights:
        path.unlink(missing_ok=True)
        raise


def _verify(path: Path, expected: str) -> None:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(_CHUNK), b""):
            digest.update(chunk)
    if digest.hexdigest() != expected.lower():
        path.unlink(missing_ok=True)  # a corrupt file must not be found by the next run
        raise ChecksumMismatch(
            f"{path.name}: sha256 {digest.hexdigest()} does not match the published {expected}."
        )
