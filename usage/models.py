"""No tables of its own: usage is derived from job rows. The proxy gives the admin a page of
usage per user and month (``usage.admin``)."""

from generation.models import GenerationJob


class MonthlyUsage(GenerationJob):
    class Meta:
        proxy = True
        verbose_name = "usage per user and month"
        verbose_name_plural = "usage per user and month"
