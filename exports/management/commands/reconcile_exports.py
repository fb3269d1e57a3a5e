from django.core.management.base import BaseCommand

from exports.work_kind import reconcile_exports


class Command(BaseCommand):
    help = "Mend book exports whose row and queue disagree (see work.reconcile)."

    def add_arguments(self, parser):
        parser.add_argument("--dry-run", action="store_true")

    def handle(self, *args, dry_run, **options):
        report = reconcile_exports(dry_run=dry_run)
        self.stdout.write(f"{'would mend' if dry_run else 'mended'}: {report}")
