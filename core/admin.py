"""Small helpers every app's admin shares: image thumbnails, pretty JSON, add pages backed by a
service (what it refuses shows on the form, nothing stored) and per-object action reports."""

from __future__ import annotations

import json
from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.admin import ModelAdmin, helpers
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils.html import format_html

from core.errors import Conflict, DomainError


def image_tag(file, alt: str, size: int = 96):
    """A small <img> of a stored file (a fresh presigned URL on S3), or a dash."""
    if not file or not file.name:
        return "—"
    return format_html(
        '<img src="{}" alt="{}" loading="lazy" style="max-width:{}px;max-height:{}px">',
        file.url,
        alt,
        size,
        size,
    )


def pretty_json(value: Any):
    return format_html("<pre>{}</pre>", json.dumps(value, indent=2, sort_keys=True, default=str))


def add_service_errors(form: forms.Form, exc: Exception) -> None:
    """Show a service's DomainError or ValidationError on the form fields it names."""
    if isinstance(exc, DomainError):
        fields = [name for name in exc.fields or {} if name in form.fields]
        # The message names the problem best (the field messages may name temp files).
        form.add_error(fields[0] if len(fields) == 1 else None, exc.message)
    elif hasattr(exc, "error_dict"):
        for name, errors in exc.error_dict.items():
            form.add_error(name if name in form.fields else None, errors)
    else:
        form.add_error(None, exc)


class ServiceAddMixin:
    """An add page backed by a plain form and a service, so that what the service refuses is
    shown on the form and nothing is stored. Subclasses set ``add_form`` and implement
    ``create_from_form``."""

    add_form: type[forms.Form]

    def create_from_form(self, request, form):
        raise NotImplementedError

    def add_view(self, request, form_url="", extra_context=None):
        if not self.has_add_permission(request):
            raise PermissionDenied
        posted = request.method == "POST"
        form = self.add_form(request.POST if posted else None, request.FILES if posted else None)
        if posted and form.is_valid():
            try:
                with transaction.atomic():
                    obj = self.create_from_form(request, form)
            except (DomainError, ValidationError) as exc:
                add_service_errors(form, exc)
            else:
                self.log_addition(request, obj, [{"added": {}}])
                return self.response_add(request, obj)
        admin_form = helpers.AdminForm(
            form, [(None, {"fields": list(form.fields)})], {}, model_admin=self
        )
        context = {
            **self.admin_site.each_context(request),
            "title": f"Add {self.opts.verbose_name}",
            "subtitle": None,
            "adminform": admin_form,
            "object_id": None,
            "original": None,
            "is_popup": False,
            "to_field": None,
            "media": self.media + admin_form.media,
            "inline_admin_formsets": [],
            "errors": helpers.AdminErrorList(form, []),
            "preserved_filters": self.get_preserved_filters(request),
            **(extra_context or {}),
        }
        return self.render_change_form(
            request, context, add=True, change=False, obj=None, form_url=form_url
        )


def report_per_object(modeladmin, request, objects, action, verb: str) -> None:
    """Run ``action`` on each object; a Conflict is reported for that object, not raised."""
    done = 0
    for obj in objects:
        try:
            action(obj)
        except Conflict as exc:
            modeladmin.message_user(request, exc.message, messages.ERROR)
        else:
            done += 1
    if done:
        modeladmin.message_user(request, f"{verb} {done} of {len(objects)}.", messages.SUCCESS)


class RollupAdmin(ModelAdmin):
    """A read-only changelist that shows figures rolled up over the rows its filters select,
    not the rows (usage per month, acceptance rates): subclasses set the template and say
    what the figures are in ``rollup``."""

    list_display = ("id",)
    show_full_result_count = False

    def rollup(self, queryset) -> dict[str, Any]:
        """The template's context: the figures over ``queryset``, the filtered rows."""
        raise NotImplementedError

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def changelist_view(self, request, extra_context=None):
        response = super().changelist_view(request, extra_context)
        context = getattr(response, "context_data", None)
        if context and "cl" in context:  # not a redirect (a bad filter) or an error page
            context.update(self.rollup(context["cl"].queryset))
        return response
