from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from accounts.services import api_token_create, user_allow_acting, user_create


class Command(BaseCommand):
    help = "Create a user and print an API token for it on the last line."

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument("--password", required=True)
        parser.add_argument("--email", default="")
        parser.add_argument("--staff", action="store_true", help="staff and superuser")
        parser.add_argument(
            "--act-for-users",
            action="store_true",
            help="a service account: staff (not superuser) that may act for other users "
            "(user_id), and nothing else",
        )

    def handle(self, *args, username, password, email, staff, act_for_users, **options):
        if staff and act_for_users:
            raise CommandError("Give --staff or --act-for-users, not both.")
        try:
            user = user_create(username=username, password=password, email=email, is_staff=staff)
        except ValidationError as exc:
            raise CommandError(
                "; ".join(f"{k}: {' '.join(v)}" for k, v in exc.message_dict.items())
            )
        if act_for_users:
            user.is_staff = True
            user.save(update_fields=["is_staff"])
            user_allow_acting(user=user)
        _, raw_key = api_token_create(user=user, name="createuser")
        kind = "staff " if staff else "service " if act_for_users else ""
        self.stdout.write(f"Created {kind}user {user.username}")
        self.stdout.write(raw_key)
