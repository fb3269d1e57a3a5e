"""The moved tables take the catalog's names (characters_lora -> catalog_lora, ...), and the
content types follow, so admin permissions granted on the old models keep applying. Rows,
primary keys and the foreign keys that point at them are untouched."""

from django.db import migrations

# model -> the app it came from
MOVED = {
    "stylepreset": "generation",
    "lora": "characters",
    "loracombination": "characters",
    "loracombinationentry": "characters",
}


def move_content_types(apps, schema_editor):
    ContentType = apps.get_model("contenttypes", "ContentType")
    for model, old_app in MOVED.items():
        if not ContentType.objects.filter(app_label="catalog", model=model).exists():
            ContentType.objects.filter(app_label=old_app, model=model).update(app_label="catalog")


def restore_content_types(apps, schema_editor):
    ContentType = apps.get_model("contenttypes", "ContentType")
    for model, old_app in MOVED.items():
        if not ContentType.objects.filter(app_label=old_app, model=model).exists():
            ContentType.objects.filter(app_label="catalog", model=model).update(app_label=old_app)


class Migration(migrations.Migration):
    dependencies = [
        ("catalog", "0001_initial"),
        ("characters", "0003_catalog"),
        ("contenttypes", "0002_remove_content_type_name"),
        ("generation", "0006_style_presets_in_catalog"),
    ]

    operations = [
        migrations.AlterModelTable(name="stylepreset", table=None),
        migrations.AlterModelTable(name="lora", table=None),
        migrations.AlterModelTable(name="loracombination", table=None),
        migrations.AlterModelTable(name="loracombinationentry", table=None),
        migrations.RunPython(move_content_types, restore_content_types),
    ]
