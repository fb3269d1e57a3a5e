"""Request-level guards: NUL characters refused before they reach the database, and unknown
URLs under /api/ answered with the JSON error body whatever DEBUG is.

Both are ``MiddlewareMixin`` hooks, so they work in Django's async mode without holding a
thread while the view runs (a sync-only middleware would wait, in a thread, for the whole
of a view that waits long: core.long_waits)."""

from urllib.parse import unquote

from django.http import HttpResponseBadRequest, JsonResponse
from django.utils.deprecation import MiddlewareMixin

from .api_errors import json_not_found


class RejectNulCharactersMiddleware(MiddlewareMixin):
    """PostgreSQL text cannot hold NUL: a filter on one would be a 500, not the client's
    mistake."""

    def process_request(self, request):
        query = request.META.get("QUERY_STRING", "")
        if "\x00" in unquote(query) or "\x00" in request.path:
            message = "The request URL contains a NUL character."
            if request.path.startswith(("/api/", "/v1/")):
                return JsonResponse({"error": {"code": "invalid", "message": message}}, status=400)
            return HttpResponseBadRequest(message)
        return None


class JsonNotFoundUnderApiMiddleware(MiddlewareMixin):
    """Unknown URLs under /api/ answer the JSON error body even when DEBUG is on: Django then
    renders its technical HTML 404 page and never calls ``handler404``."""

    def process_response(self, request, response):
        if (
            response.status_code == 404
            and request.path.startswith("/api/")
            and not response.get("Content-Type", "").startswith("application/json")
        ):
            return json_not_found(request)
        return response
