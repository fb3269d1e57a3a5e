"""Scene names stored with a lone UTF-16 surrogate (SQLite kept what PostgreSQL refuses, before
the parsers refused it too) made the owner's character list and its admin page fail for good:
each surrogate becomes U+FFFD. Nothing to undo."""

from django.db import migrations

from core.surrogates import lone_surrogate_fields, surrogate_safe


def replace_surrogates(apps, schema_editor):
    Character = apps.get_model("characters", "Character")
    for character in Character.objects.only("id", "scene_presets").iterator():
        if lone_surrogate_fields(character.scene_presets):
            character.scene_presets = surrogate_safe(character.scene_presets)
            character.save(update_fields=["scene_presets"])


class Migration(migrations.Migration):
    dependencies = [("characters", "0003_catalog")]

    operations = [migrations.RunPython(replace_surrogates, migrations.RunPython.noop)]
