"""Which base model a job runs on (``resolve_model``), and the forms a model source may take."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError

from catalog.base_models import ModelRefused, resolve_model
from catalog.models import BaseModel, StylePreset
from characters.services import character_create

pytestmark = pytest.mark.django_db


@pytest.fixture
def models():
    return {
        slug: BaseModel.objects.create(slug=slug, name=slug.title(), source=f"org/{slug}")
        for slug in ("house", "ink", "anime")
    }


def test_the_request_wins_then_the_style_then_the_character_then_the_default(
    models, user, settings
):
    settings.ILLU_DEFAULT_MODEL = "house"
    style = StylePreset.objects.create(slug="inky", name="Inky", base_model=models["ink"])
    character = character_create(owner=user, name="Luca", base_model=models["anime"])
    assert resolve_model("anime", style=style, character=character).slug == "anime"
    assert resolve_model(None, style=style, character=character).slug == "ink"
    assert resolve_model(None, style=None, character=character).slug == "anime"
    assert resolve_model(None).slug == "house"


def test_without_a_registered_default_the_configured_weights_run(models, settings):
    settings.ILLU_DEFAULT_MODEL = "not-registered"
    assert resolve_model(None) is None
    settings.ILLU_DEFAULT_MODEL = ""
    assert resolve_model(None) is None


@pytest.mark.parametrize("slug", ["nope", "off"])
def test_an_unknown_or_disabled_model_is_refused_naming_model(models, slug):
    BaseModel.objects.create(slug="off", name="Off", source="org/off", enabled=False)
    with pytest.raises(ModelRefused) as raised:
        resolve_model(slug)
    assert list(raised.value.fields) == ["model"] and slug in raised.value.message


def test_a_style_pinned_to_a_disabled_model_is_refused_naming_model(models):
    style = StylePreset.objects.create(slug="inky", name="Inky", base_model=models["ink"])
    BaseModel.objects.filter(slug="ink").update(enabled=False)
    style.refresh_from_db()
    with pytest.raises(ModelRefused) as raised:
        resolve_model(None, style=style)
    assert "'ink' is disabled" in raised.value.message


@pytest.mark.parametrize(
    "source",
    [
        "stabilityai/stable-diffusion-xl-base-1.0",
        "org/name@main/sd_xl_base_1.0.safetensors",
        "/srv/models/watercolor",
        "/srv/models/watercolor.safetensors",
        "s3://models/watercolor/",
        "demo:tiny-sdxl-b",
    ],
)
def test_accepted_sources(source):
    BaseModel(slug="m", name="M", source=source).full_clean()


@pytest.mark.parametrize(
    "source",
    [
        "watercolor",  # no org/name, no absolute path
        "relative/../escape",
        "/srv/models/watercolor.ckpt",  # pickle
        "org/name/model.bin",
        "s3://",
        "http://example.com/model.safetensors",
        "demo:",
        "org/name with space",
    ],
)
def test_refused_sources_name_the_field(source):
    with pytest.raises(ValidationError) as raised:
        BaseModel(slug="m", name="M", source=source).full_clean()
    assert "source" in raised.value.message_dict
