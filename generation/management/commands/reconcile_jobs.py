from django.core.management.base import BaseCommand

from generation.work_kind import reconcile_jobs


class Command(BaseCommand):
    help = "Requeue or fail jobs whose worker is gone; re-enqueue queued jobs missing in Redis."

    def add_arguments(self, parser):
        parser.add_argument("--dry-run", action="store_true", help="report, change nothing")

    def handle(self, *args, dry_run, **options):
        report = reconcile_jobs(dry_run=dry_run)
        prefix = "would be " if dry_run else ""
        for label, ids in vars(report).items():
            self.stdout.write(f"{prefix}{label.replace('_', ' ')}: {len(ids)} {' '.join(ids)}")
