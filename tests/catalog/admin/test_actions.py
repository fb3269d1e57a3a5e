"""Admin actions have their effect on the rows (and the queues) through the services."""

import pytest

from catalog.models import Lora
from tests.catalog.services.test_lora_registry import lora_bytes, register
from tests.fixtures.admin import run_action

pytestmark = pytest.mark.django_db


def test_disable_and_enable_loras(staff_client):
    lora, _ = register(lora_bytes(), slug="hero")
    other, _ = register(lora_bytes(1), slug="other")
    run_action(staff_client, "lora", "disable", [lora], app="catalog")
    assert Lora.objects.get(pk=lora.pk).enabled is False
    assert Lora.objects.get(pk=other.pk).enabled is True
    run_action(staff_client, "lora", "enable", [lora], app="catalog")
    assert Lora.objects.get(pk=lora.pk).enabled is True


def test_disable_and_enable_base_models(staff_client):
    from catalog.models import BaseModel

    model = BaseModel.objects.create(slug="ink", name="Ink", source="s3://models/ink")
    run_action(staff_client, "basemodel", "disable", [model], app="catalog")
    assert BaseModel.objects.get(pk=model.pk).enabled is False
    run_action(staff_client, "basemodel", "enable", [model], app="catalog")
    assert BaseModel.objects.get(pk=model.pk).enabled is True
    # Staff see the source in the list.
    listing = staff_client.get("/admin/catalog/basemodel/").content.decode()
    assert "s3://models/ink" in listing


def test_a_changed_source_clears_the_recorded_sha256(staff_client):
    from catalog.models import BaseModel

    model = BaseModel.objects.create(slug="ink", name="Ink", source="org/ink", sha256="ab" * 32)
    form = {
        "name": "Ink", "slug": "ink", "family": "sdxl", "enabled": "on", "source": "org/ink-v2",
        "vae": "", "default_scheduler": "euler", "license_note": "",
    }  # fmt: skip
    response = staff_client.post(f"/admin/catalog/basemodel/{model.pk}/change/", form)
    assert response.status_code == 302, response.content.decode()[:2000]
    model.refresh_from_db()
    assert (model.source, model.sha256) == ("org/ink-v2", "")
    form["source"] = "not a source"
    refused = staff_client.post(f"/admin/catalog/basemodel/{model.pk}/change/", form)
    assert refused.status_code == 200 and "is no model source" in refused.content.decode()
