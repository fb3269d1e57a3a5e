"""The production web process (uvicorn, the ASGI app) whose upload service stops for good
once Django has parsed the request's file to disk, so a test can kill it there with Django's
temporary upload file still open. The fault is injected on purpose.
Run: python -m tests.core.paused_upload_web PORT MARKER_FILE"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path


def main() -> None:
    port, marker = int(sys.argv[1]), Path(sys.argv[2])
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "illuplatform.settings.base")
    import django

    django.setup()
    import uvicorn

    from generation import uploads

    def hang_with_the_file_on_disk(upload, field="image"):
        marker.write_text(upload.temporary_file_path())
        time.sleep(3600)

    uploads.read_uploaded_image = hang_with_the_file_on_disk
    uvicorn.run("illuplatform.asgi:application", host="127.0.0.1", port=port, log_level="warning")


if __name__ == "__main__":
    main()
