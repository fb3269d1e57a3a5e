import hashlib
import uuid

from django.contrib.auth.models import AbstractUser
from django.db import models


class User(AbstractUser):
    """The platform's user; custom from the first migration so it can grow freely."""

    class Meta(AbstractUser.Meta):
        permissions = [
            ("act_for_user", "Can act for another user through the API (user_id)"),
        ]


def hash_token(raw_key: str) -> str:
    return hashlib.sha256(raw_key.encode()).hexdigest()


class ApiToken(models.Model):
    """An API token. Only its sha256 is stored, so a leaked database leaks no usable token."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(max_length=100, blank=True)
    key_hash = models.CharField(max_length=64, unique=True)
    prefix = models.CharField(max_length=8, help_text="First characters, to tell tokens apart.")
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.prefix}… ({self.user})"


def avatar_key(instance: "Avatar", filename: str) -> str:
    return f"avatars/{instance.owner_id}/{uuid.uuid4().hex}.png"


class Avatar(models.Model):
    """A user's photo used as identity (memory and subject jobs). One primary per user."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    owner = models.ForeignKey(User, on_delete=models.CASCADE, related_name="avatars")
    image = models.ImageField(upload_to=avatar_key, width_field="width", height_field="height")
    width = models.PositiveIntegerField(default=0)
    height = models.PositiveIntegerField(default=0)
    primary = models.BooleanField(default=False)
    # Filled by face detection: null until detected; count 1 is required for identity use.
    face_count = models.PositiveSmallIntegerField(null=True, blank=True)
    face_score = models.FloatField(null=True, blank=True)
    face_embedding = models.JSONField(null=True, blank=True)
    face_backend = models.CharField(max_length=32, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-primary", "-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["owner"],
                condition=models.Q(primary=True),
                name="avatar_one_primary_per_user",
            )
        ]

    def __str__(self) -> str:
        return f"avatar {self.id} of {self.owner}"

    @property
    def face_detected(self) -> bool | None:
        return None if self.face_count is None else self.face_count == 1


class Quota(models.Model):
    """Per-user limits; a null field means the default from settings."""

    user = models.OneToOneField(User, on_delete=models.CASCADE, related_name="quota")
    max_concurrent_jobs = models.PositiveIntegerField(null=True, blank=True)
    images_per_day = models.PositiveIntegerField(null=True, blank=True)
    allow_high_priority = models.BooleanField(
        default=False,
        help_text="May ask for priority high (ahead of everyone's normal jobs); staff always may.",
    )
    max_job_cost = models.PositiveIntegerField(
        null=True,
        blank=True,
        help_text="Largest cost of one job in megapixel-steps (width x height / 1e6 x steps x "
        "images); empty: ILLU_MAX_JOB_COST.",
    )
    max_queued_cost = models.PositiveIntegerField(
        null=True,
        blank=True,
        help_text="Largest cost of all unfinished jobs together, megapixel-steps; empty: "
        "ILLU_MAX_QUEUED_COST.",
    )

    def __str__(self) -> str:
        return f"quota of {self.user}"


class ActingRecord(models.Model):
    """One request in which ``actor`` acted for ``for_user`` (``user_id``, core.acting): who,
    for whom, what (method and path) and when. Written in the same transaction as the change
    the request made; read-only in the admin. The names are kept as text too, so the record
    outlives either account."""

    id = models.BigAutoField(primary_key=True)
    actor = models.ForeignKey(User, on_delete=models.SET_NULL, null=True, related_name="+")
    actor_username = models.CharField(max_length=150)
    for_user = models.ForeignKey(User, on_delete=models.SET_NULL, null=True, related_name="+")
    for_username = models.CharField(max_length=150)
    action = models.CharField(max_length=300, help_text="Method and path of the request.")
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.actor_username} for {self.for_username}: {self.action}"
