"""The AutoBio illustration service this platform replaces: `POST /v1/images/memory|subject`
with its parameter names, answered with the job resource (Prefer: wait supported)."""

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.views import APIView

from core.acting import acting_user_field
from core.throttles import JobCreateThrottle

from .serializers import JobSerializer, StrictSerializer
from .views import create_job_from


class AutoBioRequestSerializer(StrictSerializer):
    """A request to the AutoBio service, in its own parameter names."""

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


def _autobio_view(kind: str):
    class AutoBioView(APIView):
        throttle_classes = [JobCreateThrottle]

        @extend_schema(
            request=AutoBioRequestSerializer,
            responses={201: JobSerializer, 200: JobSerializer},
            operation_id=f"autobio_images_{kind}",
        )
        def post(self, request):
            serializer = AutoBioRequestSerializer(data=request.data)
            serializer.is_valid(raise_exception=True)
            # user_id stays in request.data for acting_user; the job request leaves it out.
            return create_job_from(request, serializer.platform_payload(), kind=kind)

    AutoBioView.__name__ = f"AutoBio{kind.title()}View"
    return AutoBioView.as_view()


memory_view = _autobio_view("memory")
subject_view = _autobio_view("subject")
