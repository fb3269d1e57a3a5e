import os
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand

from accounts.models import User
from accounts.services import api_token_create, user_create
from gpu_worker.engine.tiny_models import ensure_tiny_sdxl

DEMO_USERNAME = "demo"


class Command(BaseCommand):
    help = "Build the tiny demo model if no real one is configured, and print a demo login."

    def handle(self, *args, **options):
        if not settings.ILLU_SDXL_MODEL:
            path = ensure_tiny_sdxl(Path(settings.ILLU_MODELS_DIR))
            self.stdout.write(
                f"Demo model: tiny random SDXL at {path} (its images are noise; set "
                "ILLU_SDXL_MODEL to real SDXL weights for real pictures)."
            )
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
