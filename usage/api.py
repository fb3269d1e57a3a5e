"""``GET /api/v1/usage/?month=YYYY-MM``: the caller's usage in a month. Thin: the month is
checked here, the roll-up is ``usage.selectors``'."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from core.acting import acting_user
from core.schema import USER_ID_PARAMETER
from core.serializers import validated_query

from .months import Month
from .selectors import usage_for_month


class MonthQuerySerializer(serializers.Serializer):
    month = serializers.CharField(
        required=False, help_text="YYYY-MM (UTC); the current month when absent."
    )

    def validate_month(self, value: str) -> Month:
        try:
            return Month.parse(value)
        except ValueError as exc:
            raise serializers.ValidationError(str(exc)) from exc


class MonthlyUsageTotalsSerializer(serializers.Serializer):
    images = serializers.IntegerField(help_text="Images generated (rejected ones included).")
    jobs = serializers.IntegerField(help_text="Jobs that ended in the month, whatever status.")
    gpu_seconds = serializers.FloatField(help_text="Engine time their images took.")


class MonthlyUsageSerializer(MonthlyUsageTotalsSerializer):
    month = serializers.CharField()
    by_kind = serializers.DictField(child=MonthlyUsageTotalsSerializer())


class UsageView(APIView):
    @extend_schema(
        parameters=[MonthQuerySerializer, USER_ID_PARAMETER], responses=MonthlyUsageSerializer
    )
    def get(self, request):
        query = validated_query(MonthQuerySerializer, request)
        month = query.get("month") or Month.current()
        return Response(usage_for_month(user=acting_user(request), month=month))
