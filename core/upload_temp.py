"""Django's temporary upload files, kept where a dead process's leftovers can be found.

A file part larger than FILE_UPLOAD_MAX_MEMORY_SIZE is written to a named temporary file while
the request is parsed (``TemporaryUploadedFile``). Django deletes it when the request ends; a
process killed meanwhile (kill -9, out of memory) cannot, and the file would stay for good.

So each process writes them into a folder of its own under ILLU_UPLOAD_TEMP_DIR, made on its
first upload and holding an exclusive ``flock`` on a file inside for the process's life. The
kernel drops that lock however the process ends: ``sweep_upload_temp_dirs`` (at web start and
in the cleanup pass) removes every folder whose lock it can take, and never a live one's.
``CloseTemporaryUploadsMiddleware`` closes (and so deletes) what a request's handlers
created in a ``finally``, whatever the view or the parser raised."""

from __future__ import annotations

import fcntl
import logging
import os
import shutil
import tempfile
import threading
import time
from pathlib import Path

from asgiref.sync import iscoroutinefunction, markcoroutinefunction
from django.conf import settings
from django.core.files.uploadedfile import TemporaryUploadedFile, UploadedFile
from django.core.files.uploadhandler import FileUploadHandler, TemporaryFileUploadHandler

logger = logging.getLogger(__name__)

LOCK_NAME = ".owner.lock"
_UNFINISHED_PREFIX = ".new-"  # a folder not yet locked: only swept when old
_UNFINISHED_MAX_AGE_S = 3600

_lock = threading.Lock()
# This process's folder under each root it used: (pid, root) -> (folder, its open lock file).
_held: dict[tuple[int, str], tuple[Path, object]] = {}


def upload_temp_root() -> Path:
    return Path(settings.ILLU_UPLOAD_TEMP_DIR)


def process_upload_dir() -> Path:
    """This process's folder for temporary upload files, made and locked on first use (a
    forked child makes its own)."""
    root = upload_temp_root()
    key = (os.getpid(), str(root))
    with _lock:
        if key not in _held:
            root.mkdir(parents=True, exist_ok=True)
            # Locked before it gets its visible name, so a sweep never sees it unlocked.
            unfinished = Path(tempfile.mkdtemp(prefix=_UNFINISHED_PREFIX, dir=root))
            handle = open(unfinished / LOCK_NAME, "w")  # noqa: SIM115 - held for life
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            folder = root / f"{os.getpid()}-{unfinished.name.removeprefix(_UNFINISHED_PREFIX)}"
            unfinished.rename(folder)
            _held[key] = (folder, handle)
        return _held[key][0]


def sweep_upload_temp_dirs(*, dry_run: bool = False, root: Path | None = None) -> list[str]:
    """Remove the folders of processes that are gone (their lock is free), with whatever
    upload files they left; returns their paths. Live processes' folders are never touched."""
    root = root or upload_temp_root()
    if not root.is_dir():
        return []
    removed = []
    for folder in sorted(root.iterdir()):
        if not folder.is_dir():
            continue
        if folder.name.startswith(_UNFINISHED_PREFIX):
            if time.time() - folder.stat().st_mtime > _UNFINISHED_MAX_AGE_S:
                removed.append(str(folder))
                if not dry_run:
                    shutil.rmtree(folder, ignore_errors=True)
            continue
        if not _owner_is_gone(folder):
            continue
        removed.append(str(folder))
        if not dry_run:
            shutil.rmtree(folder, ignore_errors=True)
    if removed and not dry_run:
        logger.info("removed the upload folders of %d stopped processes", len(removed))
    return removed


def _owner_is_gone(folder: Path) -> bool:
    try:
        handle = open(folder / LOCK_NAME, "a")  # noqa: SIM115 - closed below
    except FileNotFoundError:  # removed meanwhile
        return False
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False  # its process holds the lock: alive
    finally:
        handle.close()  # also releases the lock just taken
    return True


class ProcessTemporaryUploadedFile(TemporaryUploadedFile):
    """A TemporaryUploadedFile in this process's folder instead of FILE_UPLOAD_TEMP_DIR."""

    def __init__(self, name, content_type, size, charset, content_type_extra=None):
        _, ext = os.path.splitext(name)
        # Closed (and so deleted) when the request ends: Django, or the middleware below.
        file = tempfile.NamedTemporaryFile(  # noqa: SIM115
            suffix=".upload" + ext, dir=process_upload_dir()
        )
        UploadedFile.__init__(self, file, name, content_type, size, charset, content_type_extra)


class ProcessTemporaryFileUploadHandler(TemporaryFileUploadHandler):
    """Django's TemporaryFileUploadHandler, writing into this process's folder and keeping
    what it made so the request can close it whatever happens."""

    def new_file(self, *args, **kwargs):
        FileUploadHandler.new_file(self, *args, **kwargs)
        self.file = ProcessTemporaryUploadedFile(
            self.file_name, self.content_type, 0, self.charset, self.content_type_extra
        )
        self.__dict__.setdefault("created", []).append(self.file)

    def close_created(self) -> None:
        for upload in self.__dict__.pop("created", []):
            upload.close()  # a NamedTemporaryFile deletes itself on close


class CloseTemporaryUploadsMiddleware:
    """Closes every temporary upload file of the request once its response is made or its
    view raised (Django closes the files it handed to the view only when the response is
    closed, and those a failed parse made only when they are garbage-collected). Sync and
    async capable, so a long wait passes through without a thread (core.long_waits)."""

    sync_capable = True
    async_capable = True

    def __init__(self, get_response):
        self.get_response = get_response
        if iscoroutinefunction(get_response):
            markcoroutinefunction(self)

    def __call__(self, request):
        if iscoroutinefunction(self):
            return self._acall(request)
        try:
            return self.get_response(request)
        finally:
            _close_temporary_uploads(request)

    async def _acall(self, request):
        try:
            return await self.get_response(request)
        finally:
            _close_temporary_uploads(request)


def _close_temporary_uploads(request) -> None:
    for handler in getattr(request, "_upload_handlers", ()):
        if isinstance(handler, ProcessTemporaryFileUploadHandler):
            handler.close_created()
