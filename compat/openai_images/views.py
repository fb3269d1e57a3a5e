"""The OpenAI routes. Thin: check the request, let ``translate`` say which jobs it means,
create them through compat's service, and answer once they end (compat.waiting)."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework.response import Response
from rest_framework.views import APIView

from core.parsers import JSONParser, MultiPartParser
from core.throttles import JobCreateThrottle, UploadThrottle

from ..errors import client_field_names
from ..model_lookup import available_models
from ..platform import JobSource
from ..selectors import jobs_in_order
from ..services import JobPlan, compat_jobs_create
from ..waiting import JobsPending, answers_when_jobs_end
from . import translate
from .answers import images_answer
from .errors import openai_exception_handler, openai_refusal
from .schema import OpenAIErrorSerializer, OpenAISchema
from .serializers import (
    EditRequestSerializer,
    GenerationRequestSerializer,
    ImagesResponseSerializer,
    ModelListSerializer,
    VariationRequestSerializer,
)

TAG = "OpenAI Images"
TIMED_OUT = OpenApiResponse(
    OpenAIErrorSerializer,
    description="The jobs did not end within ILLU_COMPAT_WAIT_SECONDS (`timeout`); they go on.",
)
MODEL_NOT_FOUND = OpenApiResponse(
    OpenAIErrorSerializer, description="No model of that name (`model_not_found`)."
)


class OpenAIView(APIView):
    """Errors in OpenAI's shape; documented under its own tag."""

    schema = OpenAISchema()

    def get_exception_handler(self):
        return openai_exception_handler


class _ImagesView(OpenAIView):
    """Creates the request's jobs (source ``openai``), then answers when they end."""

    request_serializer: type
    input_images = 0

    def plan(self, request_data: dict) -> JobPlan:
        raise NotImplementedError

    def post(self, request):
        serializer = self.request_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        request_data = serializer.validated_data
        plan = self.plan(request_data)  # its errors name OpenAI's fields already
        with client_field_names(translate.CLIENT_FIELDS):
            jobs = compat_jobs_create(
                owner=request.user,
                plans=[plan],
                source=JobSource.OPENAI,
                source_user=request_data.get("safety_identifier") or request_data.get("user", ""),
            )
        job_ids = [str(job.id) for job in jobs]
        answer = {**request_data, "prompt": request_data.get("prompt", "")}

        def then() -> Response:
            try:
                body = images_answer(
                    jobs_in_order(user=request.user, job_ids=job_ids),
                    answer,
                    http_request=request,
                    input_images=self.input_images,
                )
            except Exception as exc:  # answered in OpenAI's shape, like the view's own errors
                return self.handle_exception(exc)
            return Response(body)

        return JobsPending(job_ids, then)


_IMAGES_RESPONSES = {200: ImagesResponseSerializer, 404: MODEL_NOT_FOUND, 504: TIMED_OUT}


class GenerationsView(_ImagesView):
    parser_classes = [JSONParser]  # OpenAI's generations take JSON only
    throttle_classes = [JobCreateThrottle]
    request_serializer = GenerationRequestSerializer

    def plan(self, request_data):
        return translate.generation_plan(request_data)

    @extend_schema(request=GenerationRequestSerializer, responses=_IMAGES_RESPONSES, tags=[TAG])
    def post(self, request):
        """Make ``n`` images from a prompt: text jobs of the caller (a character job with
        ``character``), answered when they end."""
        return super().post(request)


class EditsView(_ImagesView):
    parser_classes = [MultiPartParser]
    throttle_classes = [JobCreateThrottle, UploadThrottle]
    request_serializer = EditRequestSerializer
    input_images = 1

    def plan(self, request_data):
        return translate.edit_plan(request_data)

    @extend_schema(
        request={"multipart/form-data": EditRequestSerializer},
        responses=_IMAGES_RESPONSES,
        tags=[TAG],
    )
    def post(self, request):
        """Edit an image: an inpaint job where the mask is transparent, img2img without a
        mask."""
        return super().post(request)


class VariationsView(_ImagesView):
    parser_classes = [MultiPartParser]
    throttle_classes = [JobCreateThrottle, UploadThrottle]
    request_serializer = VariationRequestSerializer
    input_images = 1

    def plan(self, request_data):
        return translate.variation_plan(request_data)

    @extend_schema(
        request={"multipart/form-data": VariationRequestSerializer},
        responses=_IMAGES_RESPONSES,
        tags=[TAG],
    )
    def post(self, request):
        """Variations of an image: img2img jobs of the caller."""
        return super().post(request)


class ModelListView(OpenAIView):
    @extend_schema(responses=ModelListSerializer, tags=[TAG])
    def get(self, request):
        """The models ``model`` may name: the base model and the enabled style presets."""
        data = [
            {
                "id": choice.name,
                "object": "model",
                "created": choice.created,
                "owned_by": "illuplatform",
            }
            for choice in available_models()
        ]
        return Response({"object": "list", "data": data})


generations = answers_when_jobs_end(GenerationsView.as_view(), refused=openai_refusal)
edits = answers_when_jobs_end(EditsView.as_view(), refused=openai_refusal)
variations = answers_when_jobs_end(VariationsView.as_view(), refused=openai_refusal)
models = ModelListView.as_view()
