"""Usage per user and month: the job changelist's filters (user, kind, status, the month
through the date hierarchy) narrow the jobs; the page shows their roll-up
(``usage.selectors.usage_by_user_and_month``), not the jobs. Read-only."""

from __future__ import annotations

from django.contrib import admin

from .models import MonthlyUsage
from .selectors import usage_by_user_and_month


@admin.register(MonthlyUsage)
class MonthlyUsageAdmin(admin.ModelAdmin):
    change_list_template = "admin/usage/monthlyusage/change_list.html"
    date_hierarchy = "finished_at"
    list_filter = (("owner", admin.RelatedOnlyFieldListFilter), "kind", "status")
    search_fields = ("owner__username",)
    list_display = ("id",)
    show_full_result_count = False

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
            context["usage_rows"] = usage_by_user_and_month(context["cl"].queryset)
        return response
