"""The LoRA registry and LoRA combinations moved to the catalog (catalog 0001): characters'
style and default LoRAs point there, and the moved models leave this app's state. State only:
no table or row changes here."""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("catalog", "0001_initial"),
        ("characters", "0002_initial"),
        # The last foreign key to characters.Lora outside this app moves first.
        ("training", "0002_lora_in_catalog"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name="character",
                    name="style",
                    field=models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, to="catalog.stylepreset"),
                ),
                migrations.AlterField(
                    model_name="characterlora",
                    name="lora",
                    field=models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name="+", to="catalog.lora"),
                ),
                migrations.AlterField(
                    model_name="character",
                    name="default_loras",
                    field=models.ManyToManyField(related_name="+", through="characters.CharacterLora", to="catalog.lora"),
                ),
                migrations.DeleteModel(name="LoraCombinationEntry"),
                migrations.DeleteModel(name="LoraCombination"),
                migrations.DeleteModel(name="Lora"),
            ]
        )
    ]
