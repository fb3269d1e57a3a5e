import secrets

from django.contrib.auth import authenticate
from django.db import transaction
from django.utils import timezone

from core.stored_files import delete_files_on_commit, store_with_rows

from .login_lockout import login_failure_record, login_lockout_check, login_success_record
from .models import ActingRecord, ApiToken, Avatar, User, hash_token


class InvalidCredentials(Exception):
    pass


@transaction.atomic
def user_create(*, username: str, password: str, email: str = "", is_staff: bool = False) -> User:
    user = User(username=username, email=email, is_staff=is_staff, is_superuser=is_staff)
    user.set_password(password)
    user.full_clean()
    user.save()
    return user


def user_allow_acting(*, user: User) -> User:
    """Give ``user`` the permission to act for other users (``accounts.act_for_user``; the
    API's ``user_id`` also needs staff status). A superuser has it already."""
    from django.contrib.auth.models import Permission

    user.user_permissions.add(
        Permission.objects.get(codename="act_for_user", content_type__app_label="accounts")
    )
    return user


def acting_record_create(*, actor: User, for_user: User, action: str) -> ActingRecord:
    """The audit record of one request in which ``actor`` acted for ``for_user`` (core.acting
    writes it, in the transaction of the change when there is one)."""
    return ActingRecord.objects.create(
        actor=actor,
        actor_username=actor.get_username(),
        for_user=for_user,
        for_username=for_user.get_username(),
        action=action[:300],
    )


def api_token_create(*, user: User, name: str = "") -> tuple[ApiToken, str]:
    """Create a token and return it with its raw key, which is shown once and never stored."""
    raw_key = secrets.token_urlsafe(32)
    token = ApiToken.objects.create(
        user=user, name=name, key_hash=hash_token(raw_key), prefix=raw_key[:8]
    )
    return token, raw_key


def api_token_for_credentials(*, username: str, password: str, client: str = "") -> str:
    """A new token for the right password, unless this username or client address is locked
    out after too many failures (LoginLockedOut, a 429, even for the right password)."""
    login_lockout_check(username=username, client=client)
    user = authenticate(username=username, password=password)
    if user is None or not user.is_active:
        login_failure_record(username=username, client=client)
        raise InvalidCredentials("Unknown username or wrong password.")
    login_success_record(username=username, client=client)
    _, raw_key = api_token_create(user=user, name="password login")
    return raw_key


def api_token_revoke(*, token: ApiToken) -> ApiToken:
    ApiToken.objects.filter(pk=token.pk, revoked_at__isnull=True).update(revoked_at=timezone.now())
    token.refresh_from_db()
    return token


def avatar_create(
    *, owner: User, upload, primary: bool = False, allow_no_face: bool = False
) -> Avatar:
    """Store a re-encoded avatar with its face; the first one, or one asked for, becomes the
    primary. Without exactly one face it is refused (nothing stored) unless the client says
    ``allow_no_face``, and then it is kept marked as such (unusable for memory/subject). The
    file and the row are stored together (``store_with_rows``)."""
    from core.faces import detect_face, require_single_face
    from core.image_input import png_content, read_uploaded_image

    image = read_uploaded_image(upload)
    face = detect_face(image)
    if not allow_no_face:
        require_single_face(face)
    avatar = Avatar(
        owner=owner,
        face_count=face.count,
        face_score=face.score,
        face_embedding=face.embedding,
        face_backend=face.backend,
    )

    def write_rows() -> None:
        # Under a lock on the owner's row: two first avatars at once make one primary.
        User.objects.select_for_update().filter(pk=owner.pk).first()
        avatar.primary = primary or not Avatar.objects.filter(owner=owner).exists()
        if avatar.primary:
            Avatar.objects.filter(owner=owner, primary=True).update(primary=False)
        avatar.save()

    store_with_rows([(avatar.image, "avatar.png", png_content(image))], write_rows)
    return avatar


@transaction.atomic
def avatar_set_primary(*, avatar: "Avatar") -> Avatar:

    # Lock the owner's avatars so two concurrent switches cannot both win.
    list(Avatar.objects.select_for_update().filter(owner_id=avatar.owner_id))
    Avatar.objects.filter(owner_id=avatar.owner_id, primary=True).exclude(pk=avatar.pk).update(
        primary=False
    )
    Avatar.objects.filter(pk=avatar.pk).update(primary=True)
    avatar.refresh_from_db()
    return avatar


def avatar_delete(*, avatar: "Avatar") -> None:
    name = avatar.image.name
    avatar.delete()
    delete_files_on_commit([name])
