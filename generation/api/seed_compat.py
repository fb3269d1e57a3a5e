"""The illustration service this platform replaces: `POST /v1/images/memory|subject` with its
parameter names, answered with the job resource (Prefer: wait supported)."""

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.views import APIView

from core.acting import acting_user_field
from core.throttles import JobCreateThrottle

from .serializers import JobSerializer, StrictSerializer
from .views import create_job_from


class SeedRequestSerializer(StrictSerializer):
    user_id = acting_user_field()
    prompt = serializers.CharField(required=False)
    num_inference_steps = serializers.IntegerField(required=False)
    ip_adapter_scale = serializers.FloatField(required=False)
    negative_prompt = serializers.CharField(required=False, allow_blank=True)
    style_prompt = serializers.CharField(required=False, allow_blank=True)

    # Renamed to the platform's names; the job serializer then checks ranges.
    RENAMES = {"num_inference_steps": "steps"}

    def platform_payload(self) -> dict:
        data = dict(self.validated_data)
        if not data.get("style_prompt"):
            data.pop("style_prompt", None)
        return {self.RENAMES.get(key, key): value for key, value in data.items()}


def _seed_view(kind: str):
    class SeedView(APIView):
        throttle_classes = [JobCreateThrottle]

        @extend_schema(
            request=SeedRequestSerializer,
            responses={201: JobSerializer, 200: JobSerializer},
            operation_id=f"seed_images_{kind}",
        )
        def post(self, request):
            serializer = SeedRequestSerializer(data=request.data)
            serializer.is_valid(raise_exception=True)
            # user_id stays in request.data for acting_user; the job request leaves it out.
            return create_job_from(request, serializer.platform_payload(), kind=kind)

    SeedView.__name__ = f"Seed{kind.title()}View"
    return SeedView.as_view()


memory_view = _seed_view("memory")
subject_view = _seed_view("subject")
