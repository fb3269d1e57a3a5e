"""The AUTOMATIC1111 routes. Thin: check the request, let ``translate`` say which jobs it
means, create them through compat's service and answer once they end (compat.waiting); the
listings answer from the platform's registries. Errors keep the platform's error body."""

from __future__ import annotations

from django.http import HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework.response import Response
from rest_framework.views import APIView

from core.parsers import JSONParser
from core.serializers import validated_query
from core.throttles import JobCreateThrottle, UploadThrottle

from ..errors import client_field_names
from ..outcome import check_ended, made_images
from ..platform import HashedTokenAuthentication, JobSource, WorkStatus
from ..selectors import (
    a1111_checkpoint_of,
    jobs_in_order,
    running_job_of,
    unfinished_jobs_of,
)
from ..services import JobPlan, a1111_jobs_interrupt, a1111_options_set, compat_jobs_create
from ..waiting import JobsPending, answers_when_jobs_end
from . import answers, translate
from .authentication import TokenBasicAuthentication
from .serializers import (
    Img2ImgRequestSerializer,
    OptionsSerializer,
    ProgressQuerySerializer,
    Txt2ImgRequestSerializer,
)

TAG = "AUTOMATIC1111"
ANY_JSON = OpenApiResponse(OpenApiTypes.ANY, description="In AUTOMATIC1111's shape.")
JSON_NULL = OpenApiResponse(description="`null`, as AUTOMATIC1111 answers.")
GENERATION_RESPONSES = {
    200: OpenApiResponse(
        OpenApiTypes.OBJECT,
        description='`{"images": [base64 PNG], "parameters": {...}, "info": "<JSON string>"}`',
    ),
    504: OpenApiResponse(description="The jobs did not end within ILLU_COMPAT_WAIT_SECONDS."),
}


def json_null() -> HttpResponse:
    return HttpResponse(b"null", content_type="application/json")


class A1111View(APIView):
    # Basic first: a request without credentials is answered with WWW-Authenticate: Basic.
    authentication_classes = [TokenBasicAuthentication, HashedTokenAuthentication]


class _GenerationView(A1111View):
    """Creates the request's jobs (source ``a1111``), then answers when they end."""

    parser_classes = [JSONParser]  # A1111's API takes JSON only
    throttle_classes = [JobCreateThrottle]
    request_serializer: type

    def asked_for(self, request_data: dict, user) -> translate.Request:
        """The jobs and answer details this request means."""
        raise NotImplementedError

    def post(self, request):
        serializer = self.request_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        request_data = serializer.validated_data
        self.request_data = dict(request_data)  # echoed in the answer's "parameters"
        asked = self.asked_for(request_data, request.user)  # its errors name A1111's fields
        with client_field_names(translate.CLIENT_FIELDS):
            jobs = self._create([asked.plan])
        job_ids = [str(job.id) for job in jobs]
        return JobsPending(job_ids, self._guarded(lambda: self._first_pass(job_ids, asked)))

    def _create(self, plans: list[JobPlan]):
        return compat_jobs_create(owner=self.request.user, plans=plans, source=JobSource.A1111)

    def _guarded(self, answer):
        def then():
            try:
                return answer()
            except Exception as exc:  # answered like the view's own errors
                return self.handle_exception(exc)

        return then

    def _first_pass(self, job_ids: list[str], asked: translate.Request):
        jobs = jobs_in_order(user=self.request.user, job_ids=job_ids)
        check_ended(jobs, allow_cancelled=True)
        made = made_images(jobs)
        interrupted = any(job.status != WorkStatus.SUCCEEDED for job in jobs)
        if asked.hires is None or not made or interrupted:
            return self._answer(shown=made, seeded=made, asked=asked, jobs=jobs)
        plans = [JobPlan(body={**asked.hires, "source_image": str(item.image.id)}) for item in made]
        with client_field_names(translate.CLIENT_FIELDS):
            hires_jobs = self._create(plans)
        hires_ids = [str(job.id) for job in hires_jobs]

        def second_pass():
            upscaled = jobs_in_order(user=self.request.user, job_ids=hires_ids)
            check_ended(upscaled, allow_cancelled=True)
            return self._answer(
                shown=made_images(upscaled), seeded=made, asked=asked, jobs=jobs + upscaled
            )

        return JobsPending(hires_ids, self._guarded(second_pass))

    def _answer(self, *, shown, seeded, asked, jobs) -> Response:
        return Response(
            answers.generation_answer(
                shown=shown,
                seeded=seeded,
                request=asked,
                request_data=self.request_data,
                jobs=jobs,
            )
        )


class Txt2ImgView(_GenerationView):
    request_serializer = Txt2ImgRequestSerializer

    def asked_for(self, request_data, user):
        return translate.txt2img_request(request_data, user)

    @extend_schema(request=Txt2ImgRequestSerializer, responses=GENERATION_RESPONSES, tags=[TAG])
    def post(self, request):
        """A text job (a control job with a ControlNet unit; ``enable_hr``: then an upscale
        job per image), answered when the jobs end."""
        return super().post(request)


class Img2ImgView(_GenerationView):
    throttle_classes = [JobCreateThrottle, UploadThrottle]
    request_serializer = Img2ImgRequestSerializer

    def asked_for(self, request_data, user):
        return translate.img2img_request(request_data, user)

    @extend_schema(request=Img2ImgRequestSerializer, responses=GENERATION_RESPONSES, tags=[TAG])
    def post(self, request):
        """An img2img job, or an inpaint job with a ``mask``, answered when the jobs end."""
        return super().post(request)


class ProgressView(A1111View):
    @extend_schema(parameters=[ProgressQuerySerializer], responses=ANY_JSON, tags=[TAG])
    def get(self, request):
        """The caller's running job: progress, ETA, step and the live preview."""
        query = validated_query(ProgressQuerySerializer, request)
        return Response(
            answers.progress_answer(
                job=running_job_of(user=request.user),
                unfinished=unfinished_jobs_of(user=request.user).count(),
                with_image=not query["skip_current_image"],
            )
        )


class InterruptView(A1111View):
    running_only = False

    @extend_schema(request=None, responses=ANY_JSON, tags=[TAG])
    def post(self, request):
        """Cancel the caller's unfinished AUTOMATIC1111 jobs (queued ones included)."""
        a1111_jobs_interrupt(user=request.user, running_only=self.running_only)
        return Response({})


class SkipView(InterruptView):
    running_only = True

    @extend_schema(request=None, responses=ANY_JSON, tags=[TAG])
    def post(self, request):
        """Cancel the caller's running AUTOMATIC1111 job; its queued rest goes on."""
        return super().post(request)


class OptionsView(A1111View):
    parser_classes = [JSONParser]  # A1111 clients send JSON; a form could not say "unset"

    @extend_schema(responses=ANY_JSON, tags=[TAG])
    def get(self, request):
        """The caller's options (``sd_model_checkpoint``; others fixed)."""
        return Response(answers.options(a1111_checkpoint_of(user=request.user)))

    @extend_schema(request=OptionsSerializer, responses={200: JSON_NULL}, tags=[TAG])
    def post(self, request):
        """Set the caller's ``sd_model_checkpoint``; other options are ignored."""
        serializer = OptionsSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        if "sd_model_checkpoint" in serializer.validated_data:
            a1111_options_set(
                user=request.user,
                sd_model_checkpoint=serializer.validated_data["sd_model_checkpoint"],
            )
        return json_null()


def _listing(name: str, describe: str, answer):
    """A GET answered from a registry (``answer(request)``), in A1111's shape."""

    class ListingView(A1111View):
        @extend_schema(responses=ANY_JSON, tags=[TAG], description=describe)
        def get(self, request):
            return Response(answer(request))

    ListingView.__name__ = ListingView.__qualname__ = name
    return ListingView


SdModelsView = _listing(
    "SdModelsView", "The base model and the style presets.", lambda r: answers.sd_models()
)
SamplersView = _listing("SamplersView", "The samplers there are.", lambda r: answers.samplers())
SchedulersView = _listing("SchedulersView", "The schedule types.", lambda r: answers.schedulers())
LorasView = _listing("LorasView", "The LoRAs the caller may use.", lambda r: answers.loras(r.user))
UpscalersView = _listing(
    "UpscalersView", "The upscalers of enable_hr.", lambda r: answers.upscalers()
)
SdVaeView = _listing("SdVaeView", "The VAE swapped in, if any.", lambda r: answers.sd_vae())
ScriptsView = _listing("ScriptsView", "None.", lambda r: {"txt2img": [], "img2img": []})
EmbeddingsView = _listing("EmbeddingsView", "None.", lambda r: {"loaded": {}, "skipped": {}})
PromptStylesView = _listing(
    "PromptStylesView", "The style presets.", lambda r: answers.prompt_styles()
)
CmdFlagsView = _listing(
    "CmdFlagsView", "How this server runs.", lambda r: {"api": True, "nowebui": True}
)
MemoryView = _listing("MemoryView", "Host RAM and GPU worker memory.", lambda r: answers.memory())


class RefreshCheckpointsView(A1111View):
    @extend_schema(request=None, responses={200: JSON_NULL}, tags=[TAG])
    def post(self, request):
        """Nothing to do: the model list is read on every request."""
        return json_null()


txt2img = answers_when_jobs_end(Txt2ImgView.as_view())
img2img = answers_when_jobs_end(Img2ImgView.as_view())
