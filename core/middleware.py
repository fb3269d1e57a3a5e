"""Refuse NUL characters in query strings before they reach the database: PostgreSQL text
cannot hold them, and a filter on one would be a 500 instead of the client's mistake."""

from urllib.parse import unquote

from django.http import HttpResponseBadRequest, JsonResponse


class RejectNulCharactersMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        query = request.META.get("QUERY_STRING", "")
        if "\x00" in unquote(query) or "\x00" in request.path:
            message = "The request URL contains a NUL character."
            if request.path.startswith(("/api/", "/v1/")):
                return JsonResponse({"error": {"code": "invalid", "message": message}}, status=400)
            return HttpResponseBadRequest(message)
        return self.get_response(request)
