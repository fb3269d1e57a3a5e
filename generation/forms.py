"""The /create/ form. It only parses what a browser sends; the rules are the API's
(JobCreateSerializer, then job_create), and their errors land beside the form's fields."""

from __future__ import annotations

import uuid

from django import forms

from accounts.models import Avatar, User
from catalog.controlnet_weights import CONTROL_TYPES
from catalog.models import Scheduler
from catalog.selectors import enabled_base_models, enabled_styles, loras_visible_to
from characters.models import Character
from core.errors import DomainError
from core.forms import ACCEPTED_IMAGES, add_domain_error, add_field_errors, flatten_errors

from .api.serializers import JobCreateSerializer
from .models import EDIT_KINDS, GenerationJob, JobKind, JobSource, ReviewStatus, Upload
from .presets import QUALITY_PRESETS
from .services import job_create_from_request
from .uploads import upload_create

IDENTITY_KINDS = ("memory", "subject", "character")
# Plain parameters copied into the request when given; which kinds use each.
SIMPLE_FIELDS = {
    "prompt": None,
    "negative_prompt": None,
    "style": None,
    "model": None,
    "quality": None,
    "steps": None,
    "guidance_scale": None,
    "scheduler": None,
    "width": None,
    "height": None,
    "seed": None,
    "num_images": None,
    "avatar": ("memory", "subject"),
    "ip_adapter_scale": IDENTITY_KINDS,
    "character": ("character",),
}


def _number(minimum, maximum, step) -> forms.NumberInput:
    return forms.NumberInput(attrs={"min": minimum, "max": maximum, "step": step})


# Editing kinds start from an image: their form is on the image page (edit_forms.py).
CREATE_KINDS = [(value, label) for value, label in JobKind.choices if value not in EDIT_KINDS]


class JobForm(forms.Form):
    kind = forms.ChoiceField(choices=CREATE_KINDS, initial="text", widget=forms.RadioSelect)
    prompt = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 3}))
    negative_prompt = forms.CharField(required=False, label="Negative prompt")
    style = forms.ChoiceField(required=False)
    model = forms.ChoiceField(required=False, label="Base model")
    quality = forms.ChoiceField(
        required=False,
        choices=[("", "From the style")] + [(name, name) for name in QUALITY_PRESETS],
    )
    width = forms.IntegerField(required=False, initial=1024, widget=_number(256, 2048, 8))
    height = forms.IntegerField(required=False, initial=1024, widget=_number(256, 2048, 8))
    seed = forms.IntegerField(
        required=False, help_text="Empty: a random seed.", widget=_number(0, None, 1)
    )
    num_images = forms.IntegerField(
        required=False, initial=1, label="Number of images", widget=_number(1, 8, 1)
    )
    steps = forms.IntegerField(
        required=False, help_text="Empty: from the quality.", widget=_number(1, 150, 1)
    )
    guidance_scale = forms.FloatField(
        required=False, label="Guidance scale", widget=_number(0, 30, 0.5)
    )
    scheduler = forms.ChoiceField(
        required=False, choices=[("", "From the style")] + [(n, n) for n in Scheduler.values]
    )
    avatar = forms.ChoiceField(required=False, label="Photo")
    ip_adapter_scale = forms.FloatField(
        required=False, label="Identity strength", widget=_number(0, 1, 0.05)
    )
    character = forms.ChoiceField(required=False)
    control_type = forms.ChoiceField(
        choices=[(name, name) for name in CONTROL_TYPES],
        initial="canny",
        required=False,
        label="Control type",
        help_text="Which preprocessor reads the image: edges, depth, pose...",
    )
    control_image = forms.FileField(
        required=False,
        label="Control image",
        widget=forms.ClearableFileInput(attrs={"accept": ACCEPTED_IMAGES}),
    )
    control_scale = forms.FloatField(
        required=False, label="Control strength", widget=_number(0, 2, 0.05)
    )
    control_preprocess = forms.BooleanField(
        required=False,
        initial=True,
        label="Preprocess the image",
        help_text="Uncheck when the image already is a control map.",
    )

    def __init__(self, owner: User, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.owner = owner
        styles = enabled_styles().order_by("name")
        self.fields["style"].choices = [("", "Default")] + [(s.slug, s.name) for s in styles]
        models = enabled_base_models().order_by("name")
        self.fields["model"].choices = [("", "From the style, or the default")] + [
            (m.slug, m.name) for m in models
        ]
        avatars = Avatar.objects.filter(owner=owner)
        self.fields["avatar"].choices = [("", "My primary photo")] + [
            (str(a.id), f"Photo from {a.created_at:%Y-%m-%d %H:%M}") for a in avatars
        ]
        characters = Character.objects.filter(owner=owner).order_by("name")
        self.fields["character"].choices = [("", "Choose a character")] + [
            (str(c.id), c.name) for c in characters
        ]
        self.loras = list(loras_visible_to(user=owner).order_by("type", "name"))
        for lora in self.loras:
            self.fields[f"lora_{lora.slug}"] = forms.BooleanField(required=False, label=lora.name)
            self.fields[f"lora_{lora.slug}_weight"] = forms.FloatField(
                required=False,
                initial=lora.default_weight,
                label=f"{lora.name} weight",
                widget=forms.NumberInput(
                    attrs={
                        "type": "range",
                        "min": lora.min_weight,
                        "max": lora.max_weight,
                        "step": 0.05,
                        "data-output": f"lora-{lora.slug}-value",
                    }
                ),
            )

    def lora_rows(self) -> list[dict]:
        """For the template: each LoRA with its checkbox and weight slider."""
        return [
            {
                "lora": lora,
                "use": self[f"lora_{lora.slug}"],
                "weight": self[f"lora_{lora.slug}_weight"],
            }
            for lora in self.loras
        ]

    def job_request(self) -> dict:
        """The API request body this form describes (only what the user gave)."""
        data = self.cleaned_data
        kind = data["kind"]
        body: dict = {"kind": kind}
        for name, kinds in SIMPLE_FIELDS.items():
            value = data.get(name)
            if value not in (None, "") and (kinds is None or kind in kinds):
                body[name] = value
        chosen = self._chosen_loras()
        if chosen:
            body["loras"] = [
                {"lora": lora.slug, "weight": data[f"lora_{lora.slug}_weight"]}
                if data.get(f"lora_{lora.slug}_weight") is not None
                else {"lora": lora.slug}
                for lora in chosen
            ]
        if kind == JobKind.CONTROL:
            control = {"type": data.get("control_type") or "canny"}
            control["preprocess"] = bool(data.get("control_preprocess"))
            if data.get("control_scale") is not None:
                control["scale"] = data["control_scale"]
            body["control"] = control
        return body

    def _chosen_loras(self) -> list:
        return [lora for lora in self.loras if self.cleaned_data.get(f"lora_{lora.slug}")]

    def _aliases(self) -> dict[str, str]:
        aliases = {
            "control": "control_image",
            "control.image": "control_image",
            "control.type": "control_type",
            "control.scale": "control_scale",
            "control.preprocess": "control_preprocess",
        }
        # The request lists the checked LoRAs in order; its errors name them by position.
        for position, lora in enumerate(self._chosen_loras()):
            aliases[f"loras.{position}.lora"] = f"lora_{lora.slug}"
            aliases[f"loras.{position}.weight"] = f"lora_{lora.slug}_weight"
        return aliases

    def save(self) -> GenerationJob | None:
        """Validate as the API does, store the control image, create the job. On any error
        the form carries it (beside its field) and None is returned."""
        if not self.is_valid():
            return None
        body = self.job_request()
        control_file = self.cleaned_data.get("control_image") if "control" in body else None
        if control_file:
            # A stand-in id: the file is stored only once everything else is valid.
            body["control"]["image"] = str(uuid.uuid4())
        serializer = JobCreateSerializer(data=body)
        if not serializer.is_valid():
            add_field_errors(self, flatten_errors(serializer.errors), self._aliases())
            return None
        request = dict(serializer.validated_data)
        upload = None
        try:
            if control_file:
                upload = upload_create(owner=self.owner, upload=control_file)
                request["control"] = {**request["control"], "image": upload.id}
            job, _ = job_create_from_request(owner=self.owner, data=request)
        except DomainError as exc:
            _discard(upload)
            add_domain_error(self, exc, {"image": "control_image", **self._aliases()})
            return None
        return job


def _discard(upload: Upload | None) -> None:
    if upload is not None:
        upload.image.delete(save=False)
        upload.delete()


class GalleryFilterForm(forms.Form):
    """The gallery's filters (a GET form); an invalid value is simply not applied."""

    kind = forms.ChoiceField(required=False, choices=[("", "Any kind")] + JobKind.choices)
    source = forms.ChoiceField(
        required=False, label="Made through", choices=[("", "Any API")] + JobSource.choices
    )
    character = forms.ChoiceField(required=False)
    accepted = forms.ChoiceField(
        required=False,
        choices=[("", "Accepted or not"), ("true", "Accepted"), ("false", "Not accepted")],
    )
    review_status = forms.ChoiceField(
        required=False, label="Review", choices=[("", "Any review")] + ReviewStatus.choices
    )

    def __init__(self, owner: User, *args, **kwargs):
        super().__init__(*args, **kwargs)
        characters = Character.objects.filter(owner=owner).order_by("name")
        self.fields["character"].choices = [("", "Any character")] + [
            (str(c.id), c.name) for c in characters
        ]

    def image_filters(self) -> dict:
        """The image_list filters this form chose (those of GET /api/v1/images/ plus the
        job's kind and source), newest first; an invalid form chooses none."""
        if not self.is_valid():
            return {"ordering": "-created_at"}
        data = self.cleaned_data
        return {
            "kind": data["kind"] or None,
            "source": data["source"] or None,
            "character": data["character"] or None,
            "accepted": {"true": True, "false": False}.get(data["accepted"]),
            "review_status": data["review_status"] or None,
            "ordering": "-created_at",
        }
