"""Nothing orphaned: a stored file goes with its row or not at all; what a killed process
still leaves (an object written before its row committed, Django's temporary file of an
upload being read) is removed by the cleanup pass, and nothing a row or a live process holds
ever is. Faults are injected on purpose: a failing row write, a process that dies between the
object and the row, a web process killed with SIGKILL mid-upload."""

from __future__ import annotations

import contextlib
import signal
import threading
import time
import uuid
from io import StringIO
from pathlib import Path

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.core.management import call_command
from django.db import IntegrityError

from generation.models import Upload
from generation.uploads import upload_create
from tests import photos
from tests.fixtures.api import stored_keys
from tests.fixtures.lifecycle import wait_for


def cleanup(*args) -> str:
    out = StringIO()
    call_command("cleanup", *args, stdout=out)
    return out.getvalue()


def refuse_to_save(self, *args, **kwargs):
    raise IntegrityError("injected: the row does not commit")


@pytest.mark.django_db
def test_a_file_whose_row_does_not_commit_is_not_kept(user, monkeypatch):
    monkeypatch.setattr(Upload, "save", refuse_to_save)

    with pytest.raises(IntegrityError):
        upload_create(owner=user, upload=photos.upload_of(photos.no_face()))
    assert stored_keys("uploads/") == [] and not Upload.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_an_object_left_by_a_crash_before_its_row_committed_is_swept_after_the_grace(
    user, worker_env, start_python, tmp_path, settings
):
    kept = upload_create(owner=user, upload=photos.upload_of(photos.no_face()))
    crash = start_python(
        ["-m", "tests.core.crash_between_store_and_commit", user.username],
        env=worker_env,
        log_path=tmp_path / "crash.log",
    )
    assert crash.wait(timeout=120) == 137, (tmp_path / "crash.log").read_text()
    left = [key for key in stored_keys("uploads/") if key != kept.image.name]
    assert len(left) == 1 and Upload.objects.count() == 1  # an object no row names
    # The same leftovers of the other storing paths, and an image's (a storage stage killed
    # between upload and commit).
    strays = [
        default_storage.save(f"{prefix}/stray.png", ContentFile(b"left behind"))
        for prefix in (f"avatars/{user.pk}", f"references/{uuid.uuid4()}", "generated/x/thumbs")
    ]

    young = cleanup("--orphans", "--yes")  # all inside the default grace (an hour): kept
    assert "Deleted 0 stored objects" in young
    settings.ILLU_ORPHAN_GRACE_SECONDS = 0
    dry = cleanup("--orphans")  # a dry run unless --yes
    assert "Would delete 4 stored objects" in dry and all(name in dry for name in left + strays)
    assert all(default_storage.exists(name) for name in left + strays)

    done = cleanup("--orphans", "--yes")
    assert "Deleted 4 stored objects" in done
    assert not any(default_storage.exists(name) for name in left + strays)
    assert default_storage.exists(kept.image.name)  # what a row names stays


@pytest.mark.django_db(transaction=True)
def test_a_web_process_killed_mid_upload_leaves_no_temporary_file_after_the_sweep(
    user, worker_env, start_python, tmp_path, settings
):
    import httpx

    from accounts.services import api_token_create
    from illuplatform.embedded import free_port

    temp_root = tmp_path / "upload-temp"
    settings.ILLU_UPLOAD_TEMP_DIR = temp_root
    port, marker, log = free_port(), tmp_path / "parsed", tmp_path / "web.log"
    web = start_python(
        ["-m", "tests.core.paused_upload_web", str(port), str(marker)],
        env={**worker_env, "ILLU_UPLOAD_TEMP_DIR": str(temp_root)},
        log_path=log,
    )
    base = f"http://127.0.0.1:{port}"

    def answers() -> bool:
        assert web.poll() is None, log.read_text()
        try:
            return httpx.get(f"{base}/health/", timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    wait_for(answers, timeout=60)
    _, token = api_token_create(user=user)
    big = bytes(range(256)) * (3 * 4096)  # 3 MiB: over FILE_UPLOAD_MAX_MEMORY_SIZE, to disk

    def upload() -> None:
        with contextlib.suppress(httpx.HTTPError):  # the server is killed under it
            httpx.post(
                f"{base}/api/v1/uploads/",
                files={"image": ("big.png", big, "image/png")},
                headers={"Authorization": f"Token {token}"},
                timeout=60,
            )

    threading.Thread(target=upload, daemon=True).start()
    wait_for(lambda: marker.exists() and marker.read_text(), timeout=60)
    temporary = Path(marker.read_text())
    assert temporary.exists() and temporary.stat().st_size == len(big)
    assert temporary.parent.parent == temp_root  # the process's own folder under the setting

    assert cleanup("--orphans", "--yes").count(str(temp_root)) == 0  # alive: never swept
    assert temporary.exists()

    web.send_signal(signal.SIGKILL)
    web.wait(timeout=30)
    time.sleep(0.1)
    assert temporary.exists()  # a killed process cannot delete its files
    swept = cleanup("--orphans", "--yes")
    assert "1 upload folders of stopped processes" in swept and str(temporary.parent) in swept
    assert not temporary.exists() and list(temp_root.iterdir()) == []
