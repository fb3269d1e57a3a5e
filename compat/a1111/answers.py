"""AUTOMATIC1111's answers: generation results (``images``, ``parameters``, ``info`` as a JSON
string with seeds and infotexts), progress, and the registry listings in its shapes."""

from __future__ import annotations

import json
from typing import Any

import psutil
from django.conf import settings
from django.utils import timezone

from ..images import preview_as_png
from ..model_lookup import available_models
from ..outcome import MadeImage
from ..platform import (
    JOBS,
    GenerationJob,
    enabled_styles,
    live_workers,
    loras_visible_to,
    work_progress,
)
from ..samplers import SAMPLERS, SCHEDULES, UPSCALERS, sampler_label
from .translate import Request

VERSION = "illuplatform"


def _infotext(item: MadeImage, request: Request) -> str:
    params = item.job.params
    lines = [request.prompt or params.get("prompt", "")]
    if params.get("negative_prompt"):
        lines.append(f"Negative prompt: {params['negative_prompt']}")
    settings_line = [
        f"Steps: {params.get('steps')}",
        f"Sampler: {sampler_label(params.get('scheduler', ''))}",
        f"Schedule type: {request.schedule.title()}",
        f"CFG scale: {params.get('guidance_scale')}",
        f"Seed: {item.image.seed}",
        f"Size: {item.image.width}x{item.image.height}",
        f"Model: {request.model.name}",
    ]
    if params.get("loras"):
        hashes = ", ".join(f"{lora['slug']}: {lora['sha256'][:12]}" for lora in params["loras"])
        settings_line.append(f'Lora hashes: "{hashes}"')
    settings_line.append(f"Version: {VERSION}")
    lines.append(", ".join(settings_line))
    return "\n".join(lines)


def generation_answer(
    *,
    shown: list[MadeImage],
    seeded: list[MadeImage],
    request: Request,
    request_data: dict,
    jobs: list[GenerationJob],
) -> dict:
    """``shown`` are the images answered (the upscaled ones after enable_hr), ``seeded`` the
    images whose seeds and parameters the info reports (the first pass)."""
    first = seeded[0].job.params if seeded else {}
    seeds = [item.image.seed for item in seeded]
    info: dict[str, Any] = {
        "prompt": request.prompt,
        "all_prompts": [request.prompt] * len(seeded),
        "negative_prompt": first.get("negative_prompt", ""),
        "all_negative_prompts": [first.get("negative_prompt", "")] * len(seeded),
        "seed": seeds[0] if seeds else -1,
        "all_seeds": seeds,
        "subseed": -1,
        "all_subseeds": [-1] * len(seeded),
        "subseed_strength": 0,
        "width": shown[0].image.width if shown else request_data.get("width"),
        "height": shown[0].image.height if shown else request_data.get("height"),
        "sampler_name": request.sampler,
        "cfg_scale": first.get("guidance_scale"),
        "steps": first.get("steps"),
        "batch_size": request_data.get("batch_size", 1),
        "restore_faces": False,
        "sd_model_name": request.model.name,
        "sd_model_hash": None,
        "denoising_strength": request_data.get("denoising_strength"),
        "styles": list(request_data.get("styles") or []),
        "index_of_first_image": 0,
        "infotexts": [_infotext(item, request) for item in seeded],
        "job_timestamp": timezone.now().strftime("%Y%m%d%H%M%S"),
        "clip_skip": 1,
        "version": VERSION,
        "job_ids": [str(job.id) for job in jobs],
    }
    images = [item.png_base64() for item in shown] if request_data.get("send_images", True) else []
    parameters = dict(request_data)
    for name in ("init_images", "mask"):
        if name in parameters:
            parameters[name] = None  # A1111 does not echo the images back either
    return {"images": images, "parameters": parameters, "info": json.dumps(info)}


def progress_answer(
    *, job: GenerationJob | None, unfinished: int, with_image: bool
) -> dict[str, Any]:
    """``/sdapi/v1/progress`` for the caller's running job (its step by the platform's one
    progress rule, ``work_progress``, with the live preview), or an idle answer."""
    state = {
        "skipped": False,
        "interrupted": False,
        "job": "",
        "job_count": unfinished,
        "job_timestamp": "0",
        "job_no": 0,
        "sampling_step": 0,
        "sampling_steps": 0,
    }
    if job is None:
        text = f"{unfinished} job(s) queued" if unfinished else None
        return {
            "progress": 0.0,
            "eta_relative": 0.0,
            "state": state,
            "current_image": None,
            "textinfo": text,
        }
    live = work_progress(JOBS, job)
    step, total = live["step"], live.get("total") or JOBS.total_steps(job)
    fraction = float(live.get("fraction") or (step / total if total else 0.0))
    elapsed = (timezone.now() - job.started_at).total_seconds() if job.started_at else 0.0
    eta = elapsed * (1 - fraction) / fraction if fraction > 0 else 0.0
    state.update(
        job=f"job {job.id}",
        job_timestamp=job.started_at.strftime("%Y%m%d%H%M%S") if job.started_at else "0",
        sampling_step=step,
        sampling_steps=total,
    )
    preview = live.get("preview") if with_image else None
    return {
        "progress": round(fraction, 4),
        "eta_relative": round(eta, 2),
        "state": state,
        "current_image": preview_as_png(preview) if preview else None,
        "textinfo": f"{job.kind} job {job.id}: step {step}/{total}",
    }


def sd_models() -> list[dict[str, Any]]:
    return [
        {
            "title": choice.name,
            "model_name": choice.name,
            "hash": choice.sha256[:10] or None,
            "sha256": choice.sha256 or None,
            # Sources stay staff-only: the file name says what the choice is.
            "filename": f"style preset {choice.name}" if choice.style else f"model {choice.name}",
            "config": None,
        }
        for choice in available_models()
    ]


def samplers() -> list[dict[str, Any]]:
    return [
        {
            "name": sampler.name,
            "aliases": list(sampler.aliases),
            "options": {"scheduler": "karras"} if sampler.karras else {},
        }
        for sampler in SAMPLERS
    ]


def schedulers() -> list[dict[str, Any]]:
    return [dict(item) for item in SCHEDULES]


def loras(user) -> list[dict[str, Any]]:
    return [
        {
            "name": lora.slug,
            "alias": lora.slug,
            "path": lora.original_filename or lora.slug,
            "metadata": {
                "name": lora.name,
                "type": lora.type,
                "sha256": lora.sha256,
                "trigger_words": list(lora.trigger_words),
                "default_weight": lora.default_weight,
            },
        }
        for lora in loras_visible_to(user=user).order_by("slug")
    ]


def upscalers() -> list[dict[str, Any]]:
    return [
        {
            "name": item["name"],
            "model_name": None,
            "model_path": None,
            "model_url": None,
            "scale": 4 if item["method"] == "tiled" else 2,
        }
        for item in UPSCALERS
    ]


def sd_vae() -> list[dict[str, str]]:
    source = settings.ILLU_SDXL_VAE
    if not source:
        return []
    return [{"model_name": source.rstrip("/").rsplit("/", 1)[-1], "filename": source}]


def prompt_styles() -> list[dict[str, str]]:
    return [
        {
            "name": style.slug,
            "prompt": style.prompt_template,
            "negative_prompt": style.negative_prompt,
        }
        for style in enabled_styles().order_by("slug")
    ]


def options(checkpoint: str) -> dict[str, Any]:
    return {
        "sd_model_checkpoint": checkpoint or settings.ILLU_BASE_MODEL_SLUG,
        "sd_checkpoint_hash": None,
        "sd_vae": "Automatic",
        "samples_format": "png",
        "CLIP_stop_at_last_layers": 1,
    }


def memory() -> dict[str, Any]:
    """The web host's RAM, and the first live GPU worker's device memory from its heartbeat."""
    ram = psutil.virtual_memory()
    answer: dict[str, Any] = {
        "ram": {"free": ram.available, "used": ram.total - ram.available, "total": ram.total}
    }
    workers = [worker for worker in live_workers() if worker.get("memory_kind") == "cuda"]
    if not workers:
        answer["cuda"] = {"error": "No live GPU worker reports CUDA memory."}
        return answer
    worker = workers[0]
    total, used = worker["memory_total"], worker["memory_used"]
    answer["cuda"] = {
        "system": {"free": total - used, "used": used, "total": total},
        "reserved": {"current": worker["memory_reserved"]},
        "worker": worker.get("name"),
    }
    return answer
