"""From a job row's resolved params to the engine's plain GenerationSpec."""

from __future__ import annotations

import random

from generation.models import EDIT_KINDS, GenerationJob

from .assets import AssetMissing, local_lora_file, storage_image
from .engine.spec import ControlSpec, GenerationSpec, LoraSpec
from .job_inputs import require_inputs
from .job_models import job_model_source
from .runtime import model_set


def build_spec(job: GenerationJob) -> GenerationSpec:
    """The engine spec of ``job``; ``InputsGone`` (invalid_input) first when something it
    names was removed or disabled while it waited (``job_inputs``)."""
    require_inputs(job)
    params = job.params
    spec = GenerationSpec(
        model=job_model_source(params["model"]),
        prompt=_prompt(params),
        negative_prompt=params.get("negative_prompt", ""),
        style_template=params.get("style_template", ""),
        width=params["width"],
        height=params["height"],
        steps=params["steps"],
        guidance_scale=params["guidance_scale"],
        scheduler=params.get("scheduler"),
        seeds=tuple(params["seeds"]),
        loras=tuple(
            LoraSpec(path=str(local_lora_file(item["sha256"])), weight=item["weight"])
            for item in params.get("loras", [])
        ),
        ip_adapter_images=_identity_images(job),
        ip_adapter_scale=params.get("ip_adapter_scale", 0.6),
        controls=_controls(params),
    )
    if job.kind in EDIT_KINDS:
        from .edit_specs import with_edit

        spec = with_edit(spec, job.kind, params)
    return spec


def _prompt(params: dict) -> str:
    # Trigger words (character and LoRAs) go after the user's prompt, once each.
    words = [word for word in params.get("trigger_words", []) if word not in params["prompt"]]
    return ", ".join([params["prompt"], *words]) if words else params["prompt"]


def _identity_images(job: GenerationJob) -> tuple:
    params = job.params
    if params.get("avatar"):
        from accounts.models import Avatar

        avatar = Avatar.objects.filter(pk=params["avatar"]).first()
        if avatar is None:
            raise AssetMissing("The avatar this job uses was deleted.")
        return (storage_image(avatar.image.name, "avatar"),)
    if params.get("reference_images"):
        from characters.models import ReferenceImage

        references = ReferenceImage.objects.filter(pk__in=params["reference_images"])
        return tuple(storage_image(ref.image.name, "reference") for ref in references)
    return ()


def _controls(params: dict) -> tuple[ControlSpec, ...]:
    control = params.get("control")
    if not control:
        return ()
    from generation.models import Upload

    upload = Upload.objects.filter(pk=control["image"]).first()
    if upload is None:
        raise AssetMissing("The control image this job uses was deleted.")
    controlnets = model_set().controlnets
    model = controlnets.get(control["type"]) or controlnets.get("*")
    if model is None:
        from .engine.errors import ModelUnavailable

        raise ModelUnavailable(
            f"No ControlNet is configured for {control['type']!r}; set ILLU_CONTROLNET_MODELS."
        )
    return (
        ControlSpec(
            image=storage_image(upload.image.name, "control"),
            model=model,
            kind=control["type"],
            scale=control["scale"],
            preprocess=control.get("preprocess", True),
        ),
    )


def fresh_seeds(count: int, used: set[int]) -> list[int]:
    """New seeds for another consistency round, never repeating one already tried."""
    seeds: list[int] = []
    while len(seeds) < count:
        seed = random.randrange(2**32)  # noqa: S311 - seeds, not secrets
        if seed not in used and seed not in seeds:
            seeds.append(seed)
    return seeds
