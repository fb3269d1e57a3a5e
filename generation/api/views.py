"""Job endpoints. Thin: validate, call a service, serialize."""

from django.http import QueryDict
from django.shortcuts import get_object_or_404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import generics, serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from illuplatform.acting import acting_user
from illuplatform.serializers import StrictSerializer, validated_query
from illuplatform.throttles import JobCreateThrottle

from ..models import JobKind, JobStatus
from ..selectors import jobs_visible_to
from ..services import job_cancel, job_create, job_delete, job_retry, jobs_bulk_delete
from .serializers import JobCreateSerializer, JobSerializer

IDEMPOTENCY_HEADER = "Idempotency-Key"
CREATE_HEADERS = [
    OpenApiParameter(
        IDEMPOTENCY_HEADER,
        OpenApiTypes.STR,
        OpenApiParameter.HEADER,
        description="The same key from the same user within 24 h returns the first job (200).",
    ),
    OpenApiParameter(
        "Prefer",
        OpenApiTypes.STR,
        OpenApiParameter.HEADER,
        description="wait=N (N <= 60): hold the response until the job ends or N s pass.",
    ),
]


def render_job(job, request, status_code=status.HTTP_200_OK) -> Response:
    return Response(JobSerializer(job, context={"request": request}).data, status=status_code)


def _without_user_id(data):
    """A copy without ``user_id``. A form body stays a QueryDict, as only JSON bodies are held
    to JSON types; built anew rather than deep-copied, which uploaded files do not survive."""
    if not isinstance(data, QueryDict):
        return {key: value for key, value in data.items() if key != "user_id"}
    form = QueryDict(mutable=True)
    for key, values in data.lists():
        if key != "user_id":
            form.setlist(key, values)
    return form


def create_job_from(request, data: dict, *, kind: str | None = None) -> Response:
    """Shared by /api/v1/jobs/ and the seed-compatible endpoints."""
    owner = acting_user(request)
    data = _without_user_id(data)
    if kind is not None:
        data["kind"] = kind
    serializer = JobCreateSerializer(data=data)
    serializer.is_valid(raise_exception=True)
    validated = dict(serializer.validated_data)
    kind = validated.pop("kind")
    job, created = job_create(
        owner=owner,
        kind=kind,
        priority=validated.pop("priority", "normal"),
        idempotency_key=(request.headers.get(IDEMPOTENCY_HEADER) or "").strip()[:200] or None,
        cancel_after=validated.pop("cancel_after", None),
        webhook=validated.pop("webhook", ""),
        webhook_events=validated.pop("webhook_events", None),
        params=validated,
    )
    return render_job(job, request, status.HTTP_201_CREATED if created else status.HTTP_200_OK)


class JobQuerySerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=JobStatus.choices, required=False)
    kind = serializers.ChoiceField(choices=JobKind.choices, required=False)
    character = serializers.UUIDField(required=False)
    ordering = serializers.ChoiceField(
        choices=["created_at", "-created_at", "finished_at", "-finished_at"], required=False
    )


@extend_schema(parameters=[JobQuerySerializer], methods=["GET"])
class JobListCreateView(generics.ListAPIView):
    serializer_class = JobSerializer
    throttle_classes = [JobCreateThrottle]

    def get_queryset(self):
        filters = validated_query(JobQuerySerializer, self.request)
        ordering = filters.pop("ordering", "-created_at")
        if "character" in filters:
            filters["character_id"] = filters.pop("character")
        return jobs_visible_to(self.request.user).filter(**filters).order_by(ordering)

    @extend_schema(
        request=JobCreateSerializer,
        responses={201: JobSerializer, 200: JobSerializer},
        parameters=CREATE_HEADERS,
    )
    def post(self, request):
        return create_job_from(request, request.data)


class JobDetailView(APIView):
    @extend_schema(responses=JobSerializer)
    def get(self, request, job_id):
        return render_job(get_object_or_404(jobs_visible_to(request.user), pk=job_id), request)

    @extend_schema(responses={204: None})
    def delete(self, request, job_id):
        job_delete(job=get_object_or_404(jobs_visible_to(request.user), pk=job_id))
        return Response(status=status.HTTP_204_NO_CONTENT)


class JobCancelView(APIView):
    @extend_schema(request=None, responses={200: JobSerializer})
    def post(self, request, job_id):
        job = get_object_or_404(jobs_visible_to(request.user), pk=job_id)
        return render_job(job_cancel(job=job), request)


class JobRetryView(APIView):
    throttle_classes = [JobCreateThrottle]

    @extend_schema(request=None, responses={201: JobSerializer})
    def post(self, request, job_id):
        job = get_object_or_404(jobs_visible_to(request.user), pk=job_id)
        return render_job(job_retry(job=job), request, status.HTTP_201_CREATED)


class BulkDeleteSerializer(StrictSerializer):
    ids = serializers.ListField(child=serializers.UUIDField(), required=False, max_length=1000)
    status = serializers.ChoiceField(choices=JobStatus.choices, required=False)
    before = serializers.DateTimeField(required=False)

    def validate(self, attrs):
        if not attrs.get("ids") and not attrs.get("status") and not attrs.get("before"):
            raise serializers.ValidationError(
                {"ids": ["Give ids, or a status and/or before time, to choose what to delete."]}
            )
        return attrs


class JobBulkDeleteView(APIView):
    @extend_schema(
        # "At least one criterion" is part of the contract: {} would mean "delete everything".
        request={
            "application/json": {
                "type": "object",
                "minProperties": 1,
                "additionalProperties": False,
                "properties": {
                    "ids": {
                        "type": "array",
                        "items": {"type": "string", "format": "uuid"},
                        "minItems": 1,
                        "maxItems": 1000,
                    },
                    "status": {"type": "string", "enum": list(JobStatus.values)},
                    "before": {"type": "string", "format": "date-time"},
                },
            }
        },
        responses=inline_serializer("BulkDeleted", {"deleted": serializers.IntegerField()}),
    )
    def post(self, request):
        serializer = BulkDeleteSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        deleted = jobs_bulk_delete(
            owner=request.user,
            ids=[str(i) for i in data["ids"]] if data.get("ids") else None,
            status=data.get("status"),
            before=data.get("before"),
        )
        return Response({"deleted": deleted})
