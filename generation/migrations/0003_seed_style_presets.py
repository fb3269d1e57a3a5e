"""The replaced services' defaults (AutoBio's memory and subject styles, the others' looks)
as curated style presets (editable in the admin)."""

from django.db import migrations

REPLACED_NEGATIVE = "error, glitch, mistake"

PRESETS = [
    {
        "slug": "memory",
        "name": "Memory sketch",
        "prompt_template": (
            "{prompt}, highest quality, monochrome, professional sketch, personal, nostalgic, clean"
        ),
        "negative_prompt": REPLACED_NEGATIVE,
        "quality": "ultra",
        "steps": 50,
        "ip_adapter_scale": 0.33,
        "controlnet_weights": {},
    },
    {
        "slug": "subject",
        "name": "Subject portrait",
        "prompt_template": "{prompt}, highest quality, professional sketch, monochrome",
        "negative_prompt": REPLACED_NEGATIVE,
        "quality": "ultra",
        "steps": 50,
        "ip_adapter_scale": 0.33,
        "controlnet_weights": {},
    },
    {
        "slug": "comic",
        "name": "Comic",
        "prompt_template": "A vibrant comic book style illustration of {prompt}",
        "negative_prompt": REPLACED_NEGATIVE,
        "quality": "standard",
        "steps": None,
        "ip_adapter_scale": None,
        "controlnet_weights": {"canny": 0.9, "depth": 0.5, "segmentation": 0.7, "scribble": 0.3},
    },
    {
        "slug": "watercolor",
        "name": "Watercolor",
        "prompt_template": "A soft watercolor painting depicting {prompt}, with flowing brushstrokes",
        "negative_prompt": REPLACED_NEGATIVE,
        "quality": "standard",
        "steps": None,
        "ip_adapter_scale": None,
        "controlnet_weights": {"canny": 0.4, "depth": 0.3, "segmentation": 0.3, "scribble": 0.8},
    },
    {
        "slug": "storybook",
        "name": "Storybook 3D",
        "prompt_template": (
            "{prompt}, 3d animated film still, soft global illumination, warm colors, detailed"
        ),
        "negative_prompt": "blurry, deformed, low quality, " + REPLACED_NEGATIVE,
        "quality": "high",
        "steps": None,
        "ip_adapter_scale": 0.5,
        "controlnet_weights": {"pose": 0.8, "depth": 0.5},
    },
]


def create_presets(apps, schema_editor):
    StylePreset = apps.get_model("generation", "StylePreset")
    for preset in PRESETS:
        StylePreset.objects.update_or_create(slug=preset["slug"], defaults=preset)


def remove_presets(apps, schema_editor):
    StylePreset = apps.get_model("generation", "StylePreset")
    StylePreset.objects.filter(slug__in=[p["slug"] for p in PRESETS]).delete()


class Migration(migrations.Migration):
    dependencies = [("generation", "0002_stylepreset_generatedimage_accepted_and_more")]
    operations = [migrations.RunPython(create_presets, remove_presets)]
