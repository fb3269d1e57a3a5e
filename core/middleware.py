"""Request-level guards: NUL characters refused before they reach the database, and unknown
URLs under /api/ answered with the JSON error body whatever DEBUG is."""

from urllib.parse import unquote

from django.http import HttpResponseBadRequest, JsonResponse

from .api_errors import json_not_found


class RejectNulCharactersMiddleware:
    """PostgreSQL text cannot hold NUL: a filter on one would be a 500, not the client's
    mistake."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        query = request.META.get("QUERY_STRING", "")
        if "\x00" in unquote(query) or "\x00" in request.path:
            message = "The request URL contains a NUL character."
            if request.path.startswith(("/api/", "/v1/", "/sdapi/")):
                return JsonResponse({"error": {"code": "invalid", "message": message}}, status=400)
            return HttpResponseBadRequest(message)
        return self.get_response(request)


class JsonNotFoundUnderApiMiddleware:
    """Unknown URLs under /api/ answer the JSON error body even when DEBUG is on: Django then
    renders its technical HTML 404 page and never calls ``handler404``."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if (
            response.status_code == 404
            and request.path.startswith("/api/")
            and not response.get("Content-Type", "").startswith("application/json")
        ):
            return json_not_found(request)
        return response
