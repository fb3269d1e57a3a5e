"""Request-level guards: NUL characters refused before they reach the database, lone
surrogates refused in query strings and page forms, and unknown URLs under /api/ answered with
the JSON error body whatever DEBUG is.

Each is a ``MiddlewareMixin`` hook, so it works in Django's async mode without holding a
thread while the view runs (a sync-only middleware would wait, in a thread, for the whole of a
view that waits long: core.long_waits)."""

from urllib.parse import unquote

from django.http import HttpResponseBadRequest, JsonResponse
from django.shortcuts import render
from django.utils.deprecation import MiddlewareMixin
from django.utils.http import url_has_allowed_host_and_scheme
from rest_framework.views import APIView

from .api_errors import error_body, json_not_found
from .surrogates import lone_surrogate_fields

API_PREFIXES = ("/api/", "/v1/")
FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


class RejectNulCharactersMiddleware(MiddlewareMixin):
    """PostgreSQL text cannot hold NUL: a filter on one would be a 500, not the client's
    mistake."""

    def process_request(self, request):
        query = request.META.get("QUERY_STRING", "")
        if "\x00" in unquote(query) or "\x00" in request.path:
            message = "The request URL contains a NUL character."
            if request.path.startswith(("/api/", "/v1/", "/sdapi/")):
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


def is_api_view(view_func) -> bool:
    """A DRF view (its parsers check its body); plain views are pages, the admin and such."""
    view_class = getattr(view_func, "cls", None)
    return isinstance(view_class, type) and issubclass(view_class, APIView)


def refused_page(request, *, status: int, heading: str, message: str, problems=()):
    """The page of a refused page request (bad input, too many requests): the message, each
    field named, and a way back."""
    referer = request.META.get("HTTP_REFERER", "")
    came_from_here = url_has_allowed_host_and_scheme(
        referer, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    )
    context = {
        "heading": heading,
        "message": message,
        "problems": list(problems),
        "back_url": referer if referer and came_from_here else "/",
    }
    return render(request, "pages/refused.html", context, status=status)


class RejectLoneSurrogatesMiddleware(MiddlewareMixin):
    """Lone UTF-16 surrogates (``core.surrogates``) in the query string of any request, and in
    the form fields of a page (every view but the API's, whose parsers check their bodies), are
    a 400 naming each parameter or field: under /api/ and /v1/ the JSON error body, elsewhere a
    page. A charset such as UTF-7 on the request decodes them from plain ASCII bytes."""

    def process_request(self, request):
        found = lone_surrogate_fields(request.GET)
        return self._refusal(request, found, "query parameter") if found else None

    def process_view(self, request, view_func, view_args, view_kwargs):
        if request.method in ("GET", "HEAD", "OPTIONS") or is_api_view(view_func):
            return None
        if not request.content_type.startswith(FORM_TYPES):
            return None
        found = lone_surrogate_fields(request.POST)
        found.update(lone_surrogate_fields({name: "" for name in request.FILES}))
        return self._refusal(request, found, "field") if found else None

    @staticmethod
    def _refusal(request, found: dict[str, list[str]], what: str):
        names = ", ".join(found)
        message = f"Refused: the {what} {names} cannot be read as text."
        if request.path.startswith(API_PREFIXES):
            return JsonResponse(error_body("invalid", message, found), status=400)
        problems = [(name, " ".join(messages)) for name, messages in found.items()]
        return refused_page(
            request, status=400, heading="Unreadable input", message=message, problems=problems
        )
