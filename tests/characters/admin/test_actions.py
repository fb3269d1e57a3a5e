"""Admin actions have their effect on the rows (and the queues) through the services."""

import pytest
from django.urls import reverse

from characters.models import Lora
from tests.characters.services.test_lora_registry import lora_bytes, register
from tests.fixtures.admin import make_image, make_job

pytestmark = pytest.mark.django_db


def run_action(client, model: str, action: str, objects, app: str = "generation"):
    url = reverse(f"admin:{app}_{model}_changelist")
    data = {"action": action, "_selected_action": [str(obj.pk) for obj in objects]}
    return client.post(url, data, follow=True)


def messages_of(response) -> list[str]:
    return [str(message) for message in response.context["messages"]]


@pytest.fixture
def images(user):
    job = make_job(user)
    return [make_image(job, index=i, score=0.2 * i) for i in range(3)]


def test_disable_and_enable_loras(staff_client):
    lora, _ = register(lora_bytes(), slug="hero")
    other, _ = register(lora_bytes(1), slug="other")
    run_action(staff_client, "lora", "disable", [lora], app="characters")
    assert Lora.objects.get(pk=lora.pk).enabled is False
    assert Lora.objects.get(pk=other.pk).enabled is True
    run_action(staff_client, "lora", "enable", [lora], app="characters")
    assert Lora.objects.get(pk=lora.pk).enabled is True
