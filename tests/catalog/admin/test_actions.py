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
