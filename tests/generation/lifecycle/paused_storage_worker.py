"""A real GPU worker (``manage.py gpu_worker``) whose storage stage stops for good after the
upload and before the commit, so a test can kill it there: the fault is injected on purpose,
everything else is the production worker.
Run: python -m tests.generation.lifecycle.paused_storage_worker
NAME MARKER_FILE."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path


def main() -> None:
    name, marker = sys.argv[1], Path(sys.argv[2])
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "illuplatform.settings.base")
    import django

    django.setup()
    from django.core.management import call_command

    from gpu_worker.serving import storage_stage

    real_upload = storage_stage._upload

    def upload_then_hang(job, outcome):
        real_upload(job, outcome)
        marker.write_text(str(job.id))
        time.sleep(3600)

    storage_stage._upload = upload_then_hang
    call_command("gpu_worker", "--name", name)


if __name__ == "__main__":
    main()
