"""Style presets moved to the catalog (catalog 0001): a job's style points there and the model
leaves this app's state. State only: no table or row changes here."""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("catalog", "0001_initial"),
        # characters.Character.style moves first: nothing may point at the model removed here.
        ("characters", "0003_catalog"),
        ("generation", "0005_edit_job_kinds"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name="generationjob",
                    name="style",
                    field=models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name="+", to="catalog.stylepreset"),
                ),
                migrations.DeleteModel(name="StylePreset"),
            ]
        )
    ]
