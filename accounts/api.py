from rest_framework import serializers
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from generation.api.serializers import StrictSerializer

from .services import InvalidCredentials, api_token_for_credentials


class TokenRequestSerializer(StrictSerializer):
    username = serializers.CharField()
    password = serializers.CharField(trim_whitespace=False)


class TokenView(APIView):
    """Exchange a username and password for a new API token."""

    authentication_classes = []
    permission_classes = [AllowAny]

    def post(self, request):
        serializer = TokenRequestSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        try:
            raw_key = api_token_for_credentials(**serializer.validated_data)
        except InvalidCredentials as exc:
            return Response(
                {"error": {"code": "invalid_credentials", "message": str(exc)}}, status=400
            )
        return Response({"token": raw_key})
