"""The django-rq dashboard (queues, jobs, workers; emptying and requeueing), for superusers
only: a staff member who is not one gets 403, an anonymous visitor the admin's sign-in. Its
monitoring endpoints (stats JSON, Prometheus) keep django-rq's own token check, but a staff
session that is not a superuser's is refused there too. Its pages' small inline scripts (the
action checkboxes) are allowed by their sha256 under the Content-Security-Policy."""

from __future__ import annotations

import base64
import hashlib
import re
from functools import wraps
from pathlib import Path

import django_rq
from csp.decorators import csp_update
from django.contrib.admin.views.decorators import staff_member_required
from django.core.exceptions import PermissionDenied
from django_rq.urls import get_admin_urlpatterns, get_api_urlpatterns

_INLINE_SCRIPT = re.compile(r"<script[^>]*>(.*?)</script>", re.DOTALL)


def _inline_script_hashes() -> list[str]:
    """'sha256-...' of each inline script in django-rq's templates (those without template
    syntax, whose text is what the browser hashes)."""
    folder = Path(django_rq.__file__).parent / "templates"
    hashes = set()
    for template in folder.rglob("*.html"):
        for body in _INLINE_SCRIPT.findall(template.read_text()):
            if body.strip() and "{%" not in body and "{{" not in body:
                digest = base64.b64encode(hashlib.sha256(body.encode()).digest()).decode()
                hashes.add(f"'sha256-{digest}'")
    return sorted(hashes)


def superusers_only(view):
    @wraps(view)
    def guarded(request, *args, **kwargs):
        if not request.user.is_superuser:
            raise PermissionDenied("The queue dashboard is for superusers only.")
        return view(request, *args, **kwargs)

    # Anonymous visitors go to the admin's sign-in first, as everywhere in the admin.
    return staff_member_required(guarded)


def no_staff_sessions_but_superusers(view):
    @wraps(view)
    def guarded(request, *args, **kwargs):
        if request.user.is_staff and not request.user.is_superuser:
            raise PermissionDenied("The queue dashboard is for superusers only.")
        return view(request, *args, **kwargs)

    return guarded


def rq_dashboard_urls():
    """For ``include()``: django-rq's URL patterns (its names, its namespace), guarded."""
    allow_scripts = csp_update({"script-src": _inline_script_hashes()})
    patterns = [
        *get_api_urlpatterns(),
        *get_admin_urlpatterns(),
    ]
    api_names = {pattern.name for pattern in get_api_urlpatterns()}
    for pattern in patterns:
        if pattern.name in api_names:
            pattern.callback = no_staff_sessions_but_superusers(pattern.callback)
        else:
            pattern.callback = allow_scripts(superusers_only(pattern.callback))
    return patterns, "django_rq"
