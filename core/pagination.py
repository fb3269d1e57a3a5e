"""Page-number pagination that takes only a real page number: DRF's reads ``?page=`` (empty)
as page 1, which a client that sent a broken link should hear about."""

from __future__ import annotations

import re

from rest_framework import pagination
from rest_framework.exceptions import NotFound


class PageNumberPagination(pagination.PageNumberPagination):
    def get_page_number(self, request, paginator):
        raw = request.query_params.get(self.page_query_param)
        if raw is None:
            return 1
        if not re.fullmatch(r"[0-9]{1,9}", raw) or int(raw) < 1:
            raise NotFound(f"Invalid page {raw[:20]!r}: pages are numbered from 1.")
        return int(raw)

    def get_schema_operation_parameters(self, view):
        parameters = super().get_schema_operation_parameters(view)
        for parameter in parameters:
            if parameter["name"] == self.page_query_param:
                parameter["schema"]["minimum"] = 1
        return parameters
