"""Delete old finished jobs, their images and stored files. A dry run unless --yes."""

from django.core.management.base import BaseCommand, CommandError

from generation.maintenance import cleanup_finished_jobs, parse_age


class Command(BaseCommand):
    help = (
        "Delete finished (succeeded, failed, cancelled) jobs older than --older-than, with "
        "their image rows and stored files. Prints what it would delete unless --yes is given."
    )

    def add_arguments(self, parser):
        parser.add_argument("--older-than", required=True, help="Age: a number and d, h or m.")
        mode = parser.add_mutually_exclusive_group()
        mode.add_argument("--dry-run", action="store_true", help="Only report (the default).")
        mode.add_argument("--yes", action="store_true", help="Really delete.")

    def handle(self, *args, older_than, dry_run, yes, **options):
        try:
            age = parse_age(older_than)
        except ValueError as exc:
            raise CommandError(str(exc))
        result = cleanup_finished_jobs(older_than=age, dry_run=not yes)
        verb = "Deleted" if result.deleted else "Would delete"
        self.stdout.write(
            f"{verb} {len(result.job_ids)} jobs, {len(result.image_ids)} images and "
            f"{len(result.file_names)} stored files "
            f"(jobs finished before {result.cutoff:%Y-%m-%d %H:%M} UTC)."
        )
        for job_id in result.job_ids:
            self.stdout.write(f"  job {job_id}")
        if not yes:
            self.stdout.write("Dry run: nothing was deleted. Run again with --yes to delete.")
