"""Job endpoints. Thin: validate, call a service, serialize."""

from django.shortcuts import get_object_or_404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import generics, serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from core.acting import acting_user
from core.schema import USER_ID_PARAMETER
from core.serializers import validated_query
from core.throttles import JobCreateThrottle
from work.models import WorkStatus

from ..selectors import job_list, jobs_visible_to
from ..services import (
    job_cancel,
    job_create_from_request,
    job_delete,
    job_rerun,
    jobs_bulk_delete,
)
from .serializers import (
    BulkDeleteSerializer,
    JobCreateSerializer,
    JobQuerySerializer,
    JobSerializer,
)

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


def create_job_from(request, data: dict, *, kind: str | None = None) -> Response:
    """Shared by /api/v1/jobs/ and the AutoBio service's endpoints."""
    owner = acting_user(request)
    serializer = JobCreateSerializer.for_body(data, kind=kind)
    serializer.is_valid(raise_exception=True)
    job, created = job_create_from_request(
        owner=owner,
        data=serializer.validated_data,
        idempotency_key=request.headers.get(IDEMPOTENCY_HEADER),
        requested_by=request.user,
    )
    return render_job(job, request, status.HTTP_201_CREATED if created else status.HTTP_200_OK)


def acting_jobs(request):
    """The jobs of the user the request acts for (``user_id``, core.acting)."""
    return jobs_visible_to(user=acting_user(request))


@extend_schema(parameters=[JobQuerySerializer, USER_ID_PARAMETER], methods=["GET"])
class JobListCreateView(generics.ListAPIView):
    serializer_class = JobSerializer
    throttle_classes = [JobCreateThrottle]

    def get_queryset(self):
        filters = validated_query(JobQuerySerializer, self.request)
        return job_list(user=acting_user(self.request), filters=filters)

    @extend_schema(
        request=JobCreateSerializer,
        responses={201: JobSerializer, 200: JobSerializer},
        parameters=CREATE_HEADERS,
    )
    def post(self, request):
        return create_job_from(request, request.data)


class JobDetailView(APIView):
    @extend_schema(parameters=[USER_ID_PARAMETER], responses=JobSerializer)
    def get(self, request, job_id):
        return render_job(get_object_or_404(acting_jobs(request), pk=job_id), request)

    @extend_schema(parameters=[USER_ID_PARAMETER], responses={204: None})
    def delete(self, request, job_id):
        job_delete(job=get_object_or_404(acting_jobs(request), pk=job_id))
        return Response(status=status.HTTP_204_NO_CONTENT)


class JobCancelView(APIView):
    @extend_schema(request=None, parameters=[USER_ID_PARAMETER], responses={200: JobSerializer})
    def post(self, request, job_id):
        job = get_object_or_404(acting_jobs(request), pk=job_id)
        return render_job(job_cancel(job=job), request)


class JobRetryView(APIView):
    throttle_classes = [JobCreateThrottle]

    @extend_schema(request=None, parameters=[USER_ID_PARAMETER], responses={201: JobSerializer})
    def post(self, request, job_id):
        job = get_object_or_404(acting_jobs(request), pk=job_id)
        rerun = job_rerun(job=job, requested_by=request.user)
        return render_job(rerun, request, status.HTTP_201_CREATED)


class JobBulkDeleteView(APIView):
    @extend_schema(
        # "At least one criterion" is part of the contract: {} would mean "delete everything".
        request={
            "application/json": {
                "type": "object",
                "minProperties": 1,
                "anyOf": [{"required": [criterion]} for criterion in ("ids", "status", "before")],
                "additionalProperties": False,
                "properties": {
                    "ids": {
                        "type": "array",
                        "items": {"type": "string", "format": "uuid"},
                        "minItems": 1,
                        "maxItems": 1000,
                    },
                    "status": {"type": "string", "enum": list(WorkStatus.values)},
                    "before": {"type": "string", "format": "date-time"},
                    "user_id": {
                        "type": "string",
                        "description": "Staff with accounts.act_for_user only: act for "
                        "this username.",
                    },
                },
            }
        },
        responses=inline_serializer("BulkDeleted", {"deleted": serializers.IntegerField()}),
    )
    def post(self, request):
        serializer = BulkDeleteSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        deleted = jobs_bulk_delete(owner=acting_user(request), **serializer.validated_data)
        return Response({"deleted": deleted})
