import os
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand

from accounts.models import User
from accounts.services import api_token_create, user_create
from gpu_worker.demo_models import DEMO_BASE_MODELS, ensure_demo_models, register_demo_models

DEMO_USERNAME = "demo"


class Command(BaseCommand):
    help = (
        "Build the tiny demo models and register them as base models if no real one is "
        "configured, and print a demo login."
    )

    def handle(self, *args, **options):
        if not settings.ILLU_SDXL_MODEL:
            paths = ensure_demo_models()
            self.stdout.write(
                f"Demo models: tiny random SDXL, ControlNet, IP-Adapter and LoRAs under "
                f"{Path(paths['sdxl']).parent} (their images are noise; set ILLU_SDXL_MODEL "
                "to real SDXL weights for real pictures)."
            )
            register_demo_models()
            slugs = ", ".join(entry["slug"] for entry in DEMO_BASE_MODELS)
            self.stdout.write(f"Demo base models registered: {slugs} (two seeds, two looks).")
        password = os.environ.get("ILLU_DEMO_PASSWORD", "illustrate-demo")
        user = User.objects.filter(username=DEMO_USERNAME).first()
        if user is None:
            user = user_create(username=DEMO_USERNAME, password=password, is_staff=True)
        else:
            user.set_password(password)
            user.save(update_fields=["password"])
        _, raw_key = api_token_create(user=user, name="make run")
        self.stdout.write(f"Demo user: {DEMO_USERNAME}  password: {password}  API token:")
        self.stdout.write(raw_key)
