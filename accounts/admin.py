"""Admin for users, API tokens, avatars and quotas. Tokens and avatars are created through
their services (a token's raw key is shown once; an avatar is re-encoded without EXIF)."""

from django import forms
from django.contrib import admin, messages
from django.contrib.auth import forms as auth_forms
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin

from core.admin import ServiceAddMixin, image_tag

from .models import ActingRecord, ApiToken, Avatar, Quota, User
from .services import (
    api_token_create,
    api_token_revoke,
    avatar_create,
    avatar_delete,
    avatar_set_primary,
)


class UserCreationForm(auth_forms.AdminUserCreationForm):
    class Meta(auth_forms.AdminUserCreationForm.Meta):
        model = User  # the stock forms are bound to auth.User, which this project swaps out


class UserChangeForm(auth_forms.UserChangeForm):
    class Meta(auth_forms.UserChangeForm.Meta):
        model = User


@admin.register(User)
class UserAdmin(BaseUserAdmin):
    add_form = UserCreationForm
    form = UserChangeForm


class ApiTokenAddForm(forms.Form):
    user = forms.ModelChoiceField(User.objects.order_by("username"))
    name = forms.CharField(max_length=100, required=False)


@admin.register(ApiToken)
class ApiTokenAdmin(ServiceAddMixin, admin.ModelAdmin):
    add_form = ApiTokenAddForm
    list_display = ("prefix", "user", "name", "created_at", "last_used_at", "revoked_at")
    list_filter = ("revoked_at",)
    search_fields = ("user__username", "prefix", "name")
    list_select_related = ("user",)
    fields = ("user", "name", "prefix", "key_hash", "created_at", "last_used_at", "revoked_at")
    readonly_fields = ("user", "key_hash", "prefix", "created_at", "last_used_at", "revoked_at")
    actions = ("revoke",)

    def create_from_form(self, request, form):
        token, raw_key = api_token_create(**form.cleaned_data)
        # Only the hash is stored: this message is the one time the key can be read.
        self.message_user(
            request, f"Token for {token.user}: {raw_key} (copy it now; it is not stored).",
            messages.WARNING,
        )  # fmt: skip
        return token

    @admin.action(description="Revoke selected tokens")
    def revoke(self, request, queryset):
        tokens = list(queryset)
        for token in tokens:
            api_token_revoke(token=token)
        self.message_user(request, f"Revoked {len(tokens)} tokens.", messages.SUCCESS)


class AvatarAddForm(forms.Form):
    owner = forms.ModelChoiceField(User.objects.order_by("username"))
    image = forms.FileField(help_text="PNG, JPEG or WebP; stored re-encoded, without metadata.")
    primary = forms.BooleanField(required=False)
    allow_no_face = forms.BooleanField(
        required=False, help_text="Keep it even without exactly one face (unusable for identity)."
    )


@admin.register(Avatar)
class AvatarAdmin(ServiceAddMixin, admin.ModelAdmin):
    add_form = AvatarAddForm
    list_display = ("thumb", "owner", "primary", "face_count", "face_score", "created_at")
    list_filter = ("primary", "face_backend")
    search_fields = ("owner__username",)
    list_select_related = ("owner",)
    actions = ("make_primary",)
    fields = (
        "large_image", "owner", "primary", ("width", "height"), ("face_count", "face_score"),
        "face_backend", "face_embedding", "created_at",
    )  # fmt: skip
    # Face fields come from detection and primary from avatar_set_primary: all read-only.
    readonly_fields = (
        "large_image", "owner", "primary", "width", "height", "face_count", "face_score",
        "face_backend", "face_embedding", "created_at",
    )  # fmt: skip

    def create_from_form(self, request, form):
        data = form.cleaned_data
        return avatar_create(
            owner=data["owner"],
            upload=data["image"],
            primary=data["primary"],
            allow_no_face=data["allow_no_face"],
        )

    @admin.display(description="avatar")
    def thumb(self, avatar):
        return image_tag(avatar.image, f"avatar of {avatar.owner}")

    @admin.display(description="image")
    def large_image(self, avatar):
        return image_tag(avatar.image, f"avatar of {avatar.owner}", size=512)

    @admin.action(description="Make the selected avatar its owner's primary")
    def make_primary(self, request, queryset):
        for avatar in queryset:
            avatar_set_primary(avatar=avatar)
        self.message_user(request, "Primary avatars updated.", messages.SUCCESS)

    def delete_model(self, request, obj):
        avatar_delete(avatar=obj)

    def delete_queryset(self, request, queryset):
        for avatar in queryset:
            avatar_delete(avatar=avatar)


@admin.register(Quota)
class QuotaAdmin(admin.ModelAdmin):
    list_display = (
        "user", "max_concurrent_jobs", "images_per_day", "allow_high_priority", "max_job_cost",
        "max_queued_cost",
    )  # fmt: skip
    list_filter = ("allow_high_priority",)
    search_fields = ("user__username",)
    autocomplete_fields = ("user",)
    list_select_related = ("user",)


@admin.register(ActingRecord)
class ActingRecordAdmin(admin.ModelAdmin):
    """Who acted for whom (``user_id``), what and when: read-only, never edited or deleted."""

    list_display = ("created_at", "actor_username", "for_username", "action")
    list_filter = ("created_at",)
    search_fields = ("actor_username", "for_username", "action")
    date_hierarchy = "created_at"
    fields = ("created_at", "actor", "actor_username", "for_user", "for_username", "action")
    readonly_fields = fields

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
