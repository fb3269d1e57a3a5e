from django.core.management.base import BaseCommand

from training.work_kind import reconcile_trainings


class Command(BaseCommand):
    help = "Requeue training runs whose worker is gone (they resume from their checkpoint)."

    def add_arguments(self, parser):
        parser.add_argument("--dry-run", action="store_true", help="report, change nothing")

    def handle(self, *args, dry_run, **options):
        report = reconcile_trainings(dry_run=dry_run)
        prefix = "would be " if dry_run else ""
        for label, ids in vars(report).items():
            self.stdout.write(f"{prefix}{label.replace('_', ' ')}: {len(ids)} {' '.join(ids)}")
