"""AUTOMATIC1111's ``--api-auth``: HTTP Basic with the username and one of the user's API
tokens as the password (never the account password: a token can be revoked alone)."""

from __future__ import annotations

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import authentication, exceptions

from ..platform import token_user


class TokenBasicAuthentication(authentication.BasicAuthentication):
    www_authenticate_realm = "sdapi"

    def authenticate_credentials(self, userid, password, request=None):
        found = token_user(password)
        if found is None or found[0].get_username() != userid:
            raise exceptions.AuthenticationFailed("Invalid username or API token.")
        return found


class TokenBasicScheme(OpenApiAuthenticationExtension):
    target_class = "compat.a1111.authentication.TokenBasicAuthentication"
    name = "apiTokenBasicAuth"

    def get_security_definition(self, auto_schema):
        return {
            "type": "http",
            "scheme": "basic",
            "description": "Username and an API token as the password (A1111's --api-auth).",
        }
