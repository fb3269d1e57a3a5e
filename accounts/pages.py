"""Account pages: sign in and out (Django's auth views, our templates) and the avatars."""

from __future__ import annotations

from functools import wraps

from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.contrib.auth.forms import AuthenticationForm
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.decorators import method_decorator
from django.views.decorators.http import require_POST

from core.media import media_url
from core.throttles import UploadThrottle, client_ip, throttled_page

from .forms import AvatarForm
from .login_lockout import (
    LoginLockedOut,
    login_failure_record,
    login_lockout_check,
    login_success_record,
)
from .selectors import avatars_of
from .services import avatar_delete, avatar_set_primary


def under_login_lockout(view):
    """Wrap a sign-in view (ours, the admin's) in the lock-out of the token exchange: once a
    username or an address has too many failures, a POST answers 429 with Retry-After and a
    page that says so, the right password included."""

    @wraps(view)
    def guarded(request, *args, **kwargs):
        if request.method != "POST":
            return view(request, *args, **kwargs)
        username = str(request.POST.get("username", ""))[:150]
        client = client_ip(request)
        try:
            login_lockout_check(username=username, client=client)
        except LoginLockedOut as exc:
            context = {"form": AuthenticationForm(request), "locked_out": exc}
            response = render(request, "pages/login.html", context, status=429)
            response["Retry-After"] = str(exc.retry_after)
            return response
        response = view(request, *args, **kwargs)
        if request.user.is_authenticated:
            login_success_record(username=username, client=client)
        else:
            login_failure_record(username=username, client=client)
        return response

    return guarded


@method_decorator(under_login_lockout, name="post")
class LoginView(auth_views.LoginView):
    template_name = "pages/login.html"
    redirect_authenticated_user = True
    next_page = "gallery"


class LogoutView(auth_views.LogoutView):
    """Signing out is a POST (Django 5); a GET (a typed /logout/) shows a button for it."""

    http_method_names = ["get", "post", "options"]
    next_page = "login"

    def get(self, request, *args, **kwargs):
        return render(request, "pages/logout.html")


@login_required
@throttled_page(UploadThrottle)
def avatar_list(request):
    form = AvatarForm(request.POST or None, request.FILES or None)
    if request.method == "POST":
        avatar = form.save(request.user)
        if avatar is not None:
            found = "a face was found" if avatar.face_detected else "no single face was found"
            messages.success(request, f"The photo is saved: {found}.")
            return redirect("avatars")
    avatars = [{"avatar": a, "url": media_url(a.image.name)} for a in avatars_of(user=request.user)]
    return render(request, "pages/avatars.html", {"form": form, "avatars": avatars})


@login_required
@require_POST
def avatar_primary_page(request, avatar_id):
    avatar_set_primary(avatar=get_object_or_404(avatars_of(user=request.user), pk=avatar_id))
    messages.success(request, "That photo is now your primary photo.")
    return redirect("avatars")


@login_required
@require_POST
def avatar_delete_page(request, avatar_id):
    avatar_delete(avatar=get_object_or_404(avatars_of(user=request.user), pk=avatar_id))
    messages.success(request, "The photo is deleted.")
    return redirect("avatars")
