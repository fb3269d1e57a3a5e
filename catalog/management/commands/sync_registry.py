"""Import (default) or export the LoRA registry, combinations, style presets and characters."""

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from catalog.registry import RegistrySyncError, export_registry, import_registry


class Command(BaseCommand):
    help = (
        "Import the registry from a YAML file (idempotent; --dry-run reports without writing), "
        "or --export it there, copying the LoRA files into a folder beside the file. "
        "The schema is described in catalog/registry/__init__.py."
    )

    def add_arguments(self, parser):
        parser.add_argument("file", type=Path)
        parser.add_argument("--export", action="store_true", help="Write the file instead.")
        parser.add_argument("--dry-run", action="store_true", help="Import: report, write nothing.")

    def handle(self, *args, file: Path, export: bool, dry_run: bool, **options):
        if export and dry_run:
            raise CommandError("--dry-run applies to imports only.")
        try:
            if export:
                counts = export_registry(file)
                summary = ", ".join(f"{count} {section}" for section, count in counts.items())
                self.stdout.write(f"Exported {summary} to {file}.")
                return
            report = import_registry(file, dry_run=dry_run)
        except RegistrySyncError as exc:
            raise CommandError(str(exc))
        prefix = "would " if dry_run else ""
        for change in report.changes:
            self.stdout.write(f"{prefix}{change}")
        self.stdout.write(
            f"{len(report.changes)} changes, {report.unchanged} unchanged"
            + (" (dry run: nothing was written)." if dry_run else ".")
        )
