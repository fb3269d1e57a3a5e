"""A process that stores an upload's image and dies before the upload's row commits, the way
a kill -9 at that moment would (``os._exit``: no handler, no cleanup runs). The fault is
injected on purpose; the rest is the production service.
Run: python -m tests.core.crash_between_store_and_commit USERNAME"""

from __future__ import annotations

import os
import sys


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "illuplatform.settings.base")
    import django

    django.setup()
    from accounts.models import User
    from generation.models import Upload
    from generation.uploads import upload_create
    from tests import photos

    def die_before_the_row(self, *args, **kwargs):
        sys.stdout.write("stored the object; dying before the row commits\n")
        sys.stdout.flush()
        os._exit(137)

    Upload.save = die_before_the_row
    owner = User.objects.get(username=sys.argv[1])
    upload_create(owner=owner, upload=photos.upload_of(photos.no_face()))


if __name__ == "__main__":
    main()
