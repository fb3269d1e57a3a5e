"""API routes of accounts (tokens, avatars), included under /api/v1/ by illuplatform/urls.py."""

from django.urls import path

from . import api

urlpatterns = [
    path("auth/token/", api.TokenView.as_view(), name="auth-token"),
    path("auth/tokens/", api.TokenListView.as_view(), name="token-list"),
    path("auth/tokens/<uuid:token_id>/", api.TokenRevokeView.as_view(), name="token-detail"),
    path("avatars/", api.AvatarListCreateView.as_view(), name="avatar-list"),
    path("avatars/<uuid:avatar_id>/", api.AvatarDetailView.as_view(), name="avatar-detail"),
    path(
        "avatars/<uuid:avatar_id>/primary/", api.AvatarPrimaryView.as_view(), name="avatar-primary"
    ),
]
