"""Housekeeping passes, a dry run unless --yes: old finished jobs with their images and files
(--older-than), and crash leftovers (--orphans); --repeat runs the pass every
ILLU_CLEANUP_INTERVAL seconds until stopped (`make run`'s cleanup program)."""

import signal
import threading
from datetime import timedelta

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from generation.maintenance import cleanup_finished_jobs, cleanup_orphans, parse_age


class Command(BaseCommand):
    help = (
        "--older-than AGE: delete finished (succeeded, failed, cancelled) jobs older than AGE, "
        "with their image rows and stored files. --orphans: delete stored objects no row names "
        "(older than ILLU_ORPHAN_GRACE_SECONDS) and the temporary upload folders of stopped "
        "web processes. Prints what it would delete unless --yes is given; --repeat runs the "
        "pass every ILLU_CLEANUP_INTERVAL seconds until stopped."
    )

    def add_arguments(self, parser):
        parser.add_argument("--older-than", help="Age: a number and d, h or m.")
        parser.add_argument(
            "--orphans", action="store_true", help="Sweep what crashes left behind."
        )
        parser.add_argument(
            "--repeat",
            action="store_true",
            help="Run the pass every ILLU_CLEANUP_INTERVAL seconds until stopped.",
        )
        mode = parser.add_mutually_exclusive_group()
        mode.add_argument("--dry-run", action="store_true", help="Only report (the default).")
        mode.add_argument("--yes", action="store_true", help="Really delete.")

    def handle(self, *args, older_than, orphans, repeat, dry_run, yes, **options):
        if not older_than and not orphans:
            raise CommandError("Say what to clean up: --older-than AGE, --orphans, or both.")
        try:
            age = parse_age(older_than) if older_than else None
        except ValueError as exc:
            raise CommandError(str(exc))
        every = max(1, settings.ILLU_CLEANUP_INTERVAL) if repeat else None
        stop = threading.Event()
        if every:
            # supervisord stops the program with SIGTERM: end between passes, not mid-delete.
            signal.signal(signal.SIGTERM, lambda *_: stop.set())
            self.stdout.write(f"cleanup ready: a pass every {every} s")
        while True:
            if age is not None:
                self._old_jobs(age, yes)
            if orphans:
                self._orphans(yes)
            if not yes:
                self.stdout.write("Dry run: nothing was deleted. Run again with --yes to delete.")
            self.stdout.flush()
            if not every or stop.wait(every):
                return

    def _old_jobs(self, age, yes: bool) -> None:
        result = cleanup_finished_jobs(older_than=age, dry_run=not yes)
        verb = "Deleted" if result.deleted else "Would delete"
        self.stdout.write(
            f"{verb} {len(result.job_ids)} jobs, {len(result.image_ids)} images and "
            f"{len(result.file_names)} stored files "
            f"(jobs finished before {result.cutoff:%Y-%m-%d %H:%M} UTC)."
        )
        for job_id in result.job_ids:
            self.stdout.write(f"  job {job_id}")

    def _orphans(self, yes: bool) -> None:
        grace = timedelta(seconds=settings.ILLU_ORPHAN_GRACE_SECONDS)
        result = cleanup_orphans(grace=grace, dry_run=not yes)
        stored = result.stored
        verb = "Deleted" if yes else "Would delete"
        self.stdout.write(
            f"{verb} {len(stored.orphans)} stored objects no row names "
            f"(older than {stored.cutoff:%Y-%m-%d %H:%M:%S} UTC; {stored.kept_young} newer "
            f"ones kept) and {len(result.upload_dirs)} upload folders of stopped processes."
        )
        for name in [*stored.orphans, *result.upload_dirs]:
            self.stdout.write(f"  {name}")
