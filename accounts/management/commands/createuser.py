from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from accounts.services import api_token_create, user_create


class Command(BaseCommand):
    help = "Create a user and print an API token for it on the last line."

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument("--password", required=True)
        parser.add_argument("--email", default="")
        parser.add_argument("--staff", action="store_true", help="staff and superuser")

    def handle(self, *args, username, password, email, staff, **options):
        try:
            user = user_create(username=username, password=password, email=email, is_staff=staff)
        except ValidationError as exc:
            raise CommandError(
                "; ".join(f"{k}: {' '.join(v)}" for k, v in exc.message_dict.items())
            )
        _, raw_key = api_token_create(user=user, name="createuser")
        self.stdout.write(f"Created {'staff ' if staff else ''}user {user.username}")
        self.stdout.write(raw_key)
