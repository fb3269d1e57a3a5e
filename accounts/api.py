"""Accounts API: tokens (password exchange, listing, revocation) and avatars."""

from __future__ import annotations

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import generics, status
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from core.acting import acting_user
from core.api_errors import error_body
from core.parsers import MultiPartParser
from core.schema import USER_ID_PARAMETER, ErrorSerializer
from core.throttles import UploadThrottle, client_ip
from core.upload_views import image_upload_created

from .api_serializers import (
    ApiTokenSerializer,
    AvatarCreateSerializer,
    AvatarSerializer,
    TokenRequestSerializer,
    TokenResponseSerializer,
)
from .models import Avatar
from .selectors import api_tokens_of, avatars_of
from .services import (
    InvalidCredentials,
    api_token_for_credentials,
    api_token_revoke,
    avatar_create,
    avatar_delete,
    avatar_set_primary,
)

__all__ = ["TokenRequestSerializer", "TokenView"]


class TokenView(APIView):
    """Exchange a username and password for a new API token."""

    authentication_classes = []
    permission_classes = [AllowAny]

    @extend_schema(
        request=TokenRequestSerializer,
        responses={
            200: TokenResponseSerializer,
            400: OpenApiResponse(ErrorSerializer, "`invalid` input or `invalid_credentials`."),
            429: OpenApiResponse(
                ErrorSerializer, "`throttled`: too many failed attempts (`Retry-After`)."
            ),
        },
        tags=["auth"],
    )
    def post(self, request):
        serializer = TokenRequestSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        try:
            raw_key = api_token_for_credentials(
                **serializer.validated_data, client=client_ip(request)
            )
        except InvalidCredentials as exc:
            return Response(error_body("invalid_credentials", str(exc)), status=400)
        return Response({"token": raw_key})


@extend_schema(tags=["auth"])
class TokenListView(generics.ListAPIView):
    """The requester's own tokens, revoked ones included (with ``revoked_at``)."""

    serializer_class = ApiTokenSerializer

    def get_queryset(self):
        return api_tokens_of(user=self.request.user)


class TokenRevokeView(APIView):
    @extend_schema(responses={204: None}, tags=["auth"])
    def delete(self, request, token_id):
        """Revoke one of the requester's tokens (the one in use too); revoking twice is fine."""
        token = get_object_or_404(api_tokens_of(user=request.user), pk=token_id)
        api_token_revoke(token=token)
        return Response(status=status.HTTP_204_NO_CONTENT)


class AvatarListCreateView(generics.ListAPIView):
    serializer_class = AvatarSerializer
    parser_classes = [MultiPartParser]
    throttle_classes = [UploadThrottle]

    def get_queryset(self):
        return avatars_of(user=acting_user(self.request))

    @extend_schema(parameters=[USER_ID_PARAMETER], tags=["avatars"])
    def get(self, request, *args, **kwargs):
        """The user's avatars, the primary one first."""
        return super().get(request, *args, **kwargs)

    @extend_schema(
        request={"multipart/form-data": AvatarCreateSerializer},
        responses={201: AvatarSerializer},
        tags=["avatars"],
    )
    def post(self, request):
        """Add a photo of the user. It must show exactly one face unless ``allow_no_face``; the
        first avatar, or one sent with ``primary=true``, is the primary."""
        owner = acting_user(request)
        return image_upload_created(
            request,
            parse_with=AvatarCreateSerializer,
            store=lambda body: avatar_create(
                owner=owner,
                upload=body["image"],
                primary=body["primary"],
                allow_no_face=body["allow_no_face"],
            ),
            answer_with=AvatarSerializer,
        )


class AvatarDetailView(APIView):
    def _avatar(self, request, avatar_id) -> Avatar:
        return get_object_or_404(avatars_of(user=acting_user(request)), pk=avatar_id)

    @extend_schema(parameters=[USER_ID_PARAMETER], responses=AvatarSerializer, tags=["avatars"])
    def get(self, request, avatar_id):
        avatar = self._avatar(request, avatar_id)
        return Response(AvatarSerializer(avatar, context={"request": request}).data)

    @extend_schema(parameters=[USER_ID_PARAMETER], responses={204: None}, tags=["avatars"])
    def delete(self, request, avatar_id):
        """Delete the avatar and its stored file."""
        avatar_delete(avatar=self._avatar(request, avatar_id))
        return Response(status=status.HTTP_204_NO_CONTENT)


class AvatarPrimaryView(APIView):
    @extend_schema(
        request=None,
        parameters=[USER_ID_PARAMETER],
        responses=AvatarSerializer,
        tags=["avatars"],
    )
    def post(self, request, avatar_id):
        """Make this avatar the primary one (memory and subject jobs use it by default)."""
        avatar = get_object_or_404(avatars_of(user=acting_user(request)), pk=avatar_id)
        avatar = avatar_set_primary(avatar=avatar)
        return Response(AvatarSerializer(avatar, context={"request": request}).data)
