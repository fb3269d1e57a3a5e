"""Usage per user and month: the job changelist's filters (user, kind, status, the month
through the date hierarchy) narrow the jobs; the page shows their roll-up
(``usage.selectors.usage_by_user_and_month``), not the jobs. Read-only."""

from __future__ import annotations

from django.contrib import admin

from core.admin import RollupAdmin

from .models import MonthlyUsage
from .selectors import usage_by_user_and_month


@admin.register(MonthlyUsage)
class MonthlyUsageAdmin(RollupAdmin):
    change_list_template = "admin/usage/monthlyusage/change_list.html"
    date_hierarchy = "finished_at"
    list_filter = (("owner", admin.RelatedOnlyFieldListFilter), "kind", "status")
    search_fields = ("owner__username",)

    def rollup(self, queryset):
        return {"usage_rows": usage_by_user_and_month(queryset)}
