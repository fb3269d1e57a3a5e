import secrets

from django.contrib.auth import authenticate
from django.db import transaction
from django.utils import timezone

from .models import ApiToken, User, hash_token


class InvalidCredentials(Exception):
    pass


@transaction.atomic
def user_create(*, username: str, password: str, email: str = "", is_staff: bool = False) -> User:
    user = User(username=username, email=email, is_staff=is_staff, is_superuser=is_staff)
    user.set_password(password)
    user.full_clean()
    user.save()
    return user


def api_token_create(*, user: User, name: str = "") -> tuple[ApiToken, str]:
    """Create a token and return it with its raw key, which is shown once and never stored."""
    raw_key = secrets.token_urlsafe(32)
    token = ApiToken.objects.create(
        user=user, name=name, key_hash=hash_token(raw_key), prefix=raw_key[:8]
    )
    return token, raw_key


def api_token_for_credentials(*, username: str, password: str) -> str:
    user = authenticate(username=username, password=password)
    if user is None or not user.is_active:
        raise InvalidCredentials("Unknown username or wrong password.")
    _, raw_key = api_token_create(user=user, name="password login")
    return raw_key


def api_token_revoke(*, token: ApiToken) -> ApiToken:
    ApiToken.objects.filter(pk=token.pk, revoked_at__isnull=True).update(revoked_at=timezone.now())
    token.refresh_from_db()
    return token
