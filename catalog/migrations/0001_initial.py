"""Style presets (from generation), the LoRA registry and LoRA combinations (from characters)
move into the catalog. State only: the tables and their rows stay as they are (0002 renames
the tables), and the foreign keys of the other apps follow in their own migrations."""

import uuid

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models

import catalog.models


class Migration(migrations.Migration):
    initial = True

    dependencies = [
        ("characters", "0002_initial"),
        ("generation", "0005_edit_job_kinds"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    state_operations = [
        migrations.CreateModel(
            name="StylePreset",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("slug", models.SlugField(max_length=80, unique=True)),
                ("name", models.CharField(max_length=120)),
                ("prompt_template", models.TextField(default="{prompt}", help_text="Must contain {prompt}, where the user's prompt goes.")),
                ("negative_prompt", models.TextField(blank=True)),
                ("quality", models.CharField(choices=[("draft", "Draft"), ("standard", "Standard"), ("high", "High"), ("ultra", "Ultra")], default="standard", max_length=16)),
                ("steps", models.PositiveSmallIntegerField(blank=True, help_text="Overrides the quality preset's steps when set.", null=True)),
                ("scheduler", models.CharField(choices=[("euler", "Euler"), ("euler_a", "Euler A"), ("dpmpp_2m", "Dpmpp 2M"), ("ddim", "Ddim")], default="euler", max_length=16)),
                ("ip_adapter_scale", models.FloatField(blank=True, null=True)),
                ("controlnet_weights", models.JSONField(blank=True, default=dict, help_text='Control type -> conditioning scale, e.g. {"canny": 0.9}')),
                ("enabled", models.BooleanField(default=True)),
                ("created_at", models.DateTimeField(auto_now_add=True)),
                ("updated_at", models.DateTimeField(auto_now=True)),
            ],
            options={
                "db_table": "generation_stylepreset",
                "ordering": ["name"],
                "constraints": [
                    models.CheckConstraint(condition=models.Q(("prompt_template__contains", "{prompt}")), name="stylepreset_template_has_prompt"),
                    models.CheckConstraint(condition=models.Q(("quality__in", ["draft", "standard", "high", "ultra"])), name="stylepreset_quality_valid"),
                    models.CheckConstraint(condition=models.Q(("scheduler__in", ["euler", "euler_a", "dpmpp_2m", "ddim"])), name="stylepreset_scheduler_valid"),
                    models.CheckConstraint(condition=models.Q(("ip_adapter_scale__isnull", True), models.Q(("ip_adapter_scale__gte", 0.0), ("ip_adapter_scale__lte", 1.0)), _connector="OR"), name="stylepreset_ip_scale_unit_interval"),
                    models.CheckConstraint(condition=models.Q(("steps__isnull", True), models.Q(("steps__gte", 1), ("steps__lte", 150)), _connector="OR"), name="stylepreset_steps_range"),
                ],
            },
        ),
        migrations.CreateModel(
            name="Lora",
            fields=[
                ("id", models.UUIDField(default=uuid.uuid4, editable=False, primary_key=True, serialize=False)),
                ("slug", models.SlugField(max_length=80, unique=True)),
                ("name", models.CharField(max_length=120)),
                ("type", models.CharField(choices=[("character", "Character"), ("style", "Style"), ("background", "Background"), ("pose", "Pose"), ("detail", "Detail")], max_length=16)),
                ("file", models.FileField(max_length=300, upload_to=catalog.models.lora_key)),
                ("original_filename", models.CharField(blank=True, max_length=255)),
                ("sha256", models.CharField(max_length=64, unique=True)),
                ("size_bytes", models.BigIntegerField()),
                ("base_model", models.CharField(choices=[("sdxl", "SDXL"), ("sd15", "Stable Diffusion 1.5")], default="sdxl", max_length=16)),
                ("trigger_words", models.JSONField(blank=True, default=list)),
                ("default_weight", models.FloatField(default=0.8)),
                ("min_weight", models.FloatField(default=0.0)),
                ("max_weight", models.FloatField(default=1.5)),
                ("preview", models.ImageField(blank=True, null=True, upload_to=catalog.models.lora_preview_key)),
                ("enabled", models.BooleanField(default=True)),
                ("is_public", models.BooleanField(default=True)),
                ("created_at", models.DateTimeField(auto_now_add=True)),
                ("owner", models.ForeignKey(blank=True, help_text="Empty for platform LoRAs; a private LoRA belongs to its owner.", null=True, on_delete=django.db.models.deletion.CASCADE, related_name="loras", to=settings.AUTH_USER_MODEL)),
            ],
            options={
                "db_table": "characters_lora",
                "ordering": ["type", "name"],
                "constraints": [
                    models.CheckConstraint(condition=models.Q(("type__in", ["character", "style", "background", "pose", "detail"])), name="lora_type_valid"),
                    models.CheckConstraint(condition=models.Q(("min_weight__lte", models.F("default_weight")), ("default_weight__lte", models.F("max_weight"))), name="lora_default_weight_in_range"),
                    models.CheckConstraint(condition=models.Q(("is_public", True), ("owner__isnull", False), _connector="OR"), name="lora_public_or_owned"),
                    models.CheckConstraint(condition=models.Q(("size_bytes__gt", 0)), name="lora_size_positive"),
                ],
            },
        ),
        migrations.CreateModel(
            name="LoraCombination",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("slug", models.SlugField(max_length=80, unique=True)),
                ("name", models.CharField(max_length=120)),
                ("description", models.TextField(blank=True)),
            ],
            options={"db_table": "characters_loracombination", "ordering": ["name"]},
        ),
        migrations.CreateModel(
            name="LoraCombinationEntry",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("weight", models.FloatField()),
                ("combination", models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name="entries", to="catalog.loracombination")),
                ("lora", models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name="+", to="catalog.lora")),
            ],
            options={
                "db_table": "characters_loracombinationentry",
                "constraints": [models.UniqueConstraint(fields=("combination", "lora"), name="combination_lora_once")],
            },
        ),
        migrations.AddField(
            model_name="loracombination",
            name="loras",
            field=models.ManyToManyField(related_name="+", through="catalog.LoraCombinationEntry", to="catalog.lora"),
        ),
    ]

    operations = [migrations.SeparateDatabaseAndState(state_operations=state_operations)]
