"""The image page's edit actions (vary, inpaint, upscale, repair face). Like /create/, the
form only parses what the browser sends; the API's rules (JobCreateSerializer, job_create)
decide, and a brush mask is stored only once everything else is valid."""

from __future__ import annotations

import base64
import binascii
import uuid

from django import forms
from django.core.files.uploadedfile import SimpleUploadedFile

from core.errors import DomainError

from .api.serializers import JobCreateSerializer
from .forms import _discard, add_domain_error, add_field_errors, flatten_errors
from .models import GeneratedImage, GenerationJob, JobKind
from .services import job_create
from .uploads import upload_create

# Each button on the image page and the job kind it makes.
ACTIONS = {
    "vary": JobKind.IMG2IMG,
    "inpaint": JobKind.INPAINT,
    "upscale": JobKind.UPSCALE,
    "repair": JobKind.FACE_REPAIR,
}
PNG_DATA_URL = "data:image/png;base64,"


class ImageEditForm(forms.Form):
    action = forms.ChoiceField(choices=[(name, name) for name in ACTIONS])
    prompt = forms.CharField(required=False)
    strength = forms.FloatField(required=False, min_value=0, max_value=1)
    scale = forms.TypedChoiceField(required=False, choices=[(2, "2x"), (4, "4x")], coerce=int)
    upscale_method = forms.ChoiceField(
        required=False, choices=[("tiled", "Tiled SDXL"), ("lanczos", "Lanczos (fast)")]
    )
    mask = forms.CharField(required=False, widget=forms.HiddenInput)

    def __init__(self, image: GeneratedImage, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.image = image
        self.owner = image.job.owner

    def job_request(self) -> dict:
        data = self.cleaned_data
        kind = ACTIONS[data["action"]]
        body: dict = {"kind": kind, "source_image": str(self.image.id)}
        if kind in (JobKind.IMG2IMG, JobKind.INPAINT):
            body["prompt"] = data.get("prompt") or self.image.job.params.get("prompt") or ""
        if data.get("strength") is not None:
            body["strength"] = data["strength"]
        if kind == JobKind.UPSCALE:
            body["scale"] = data.get("scale") or 2
            body["upscale_method"] = data.get("upscale_method") or "tiled"
        character = self.image.job.params.get("character")
        if kind in (JobKind.IMG2IMG, JobKind.FACE_REPAIR) and character:
            body["character"] = character  # the character's LoRAs, references and score
        return body

    def _mask_file(self) -> SimpleUploadedFile | None:
        raw = self.cleaned_data.get("mask") or ""
        if not raw.startswith(PNG_DATA_URL):
            return None
        try:
            content = base64.b64decode(raw[len(PNG_DATA_URL) :], validate=True)
        except (binascii.Error, ValueError):
            return None
        return SimpleUploadedFile("mask.png", content, content_type="image/png")

    def save(self) -> GenerationJob | None:
        if not self.is_valid():
            return None
        body = self.job_request()
        mask_file = None
        if body["kind"] == JobKind.INPAINT:
            mask_file = self._mask_file()
            if mask_file is None:
                self.add_error("mask", "Paint over the part of the image to change first.")
                return None
            body["mask_upload"] = str(uuid.uuid4())  # a stand-in until the rest is valid
        serializer = JobCreateSerializer(data=body)
        if not serializer.is_valid():
            add_field_errors(self, flatten_errors(serializer.errors))
            return None
        request = dict(serializer.validated_data)
        upload = None
        try:
            if mask_file is not None:
                upload = upload_create(owner=self.owner, upload=mask_file)
                request["mask_upload"] = upload.id
            job, _ = job_create(owner=self.owner, kind=request.pop("kind"), params=request)
        except DomainError as exc:
            _discard(upload)
            add_domain_error(self, exc, {"mask_upload": "mask", "image": "mask"})
            return None
        return job
