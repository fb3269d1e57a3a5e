"""Result assembly for every run: each image with its seed and reproducibility manifest."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PIL import Image

from .controlnet import PreparedControls
from .ip_adapter import ip_adapter_files
from .manifest import (
    file_sha256,
    image_sha256,
    library_versions,
    model_digests,
    scheduler_record,
    weights_digests,
)
from .prepared import PreparedJob
from .spec import GenerationResult, GenerationSpec, ImageOutput, resolved_prompt


def manifest(job: PreparedJob, scheduler, member: int = 0) -> dict[str, Any]:
    """What reproduces the images of the job's spec number ``member`` (the per-image seed and
    index are added by ``generation_result``)."""
    spec, controls = job.specs[member], job.controls[member]
    record: dict[str, Any] = {
        "model": {"source": spec.model, "weights_sha256": model_digests(job.model_path)},
        "scheduler": {"name": spec.scheduler, **scheduler_record(scheduler)},
        "params": {
            "prompt": spec.prompt,
            "resolved_prompt": resolved_prompt(spec),
            "style_template": spec.style_template,
            "negative_prompt": spec.negative_prompt,
            "width": spec.width,
            "height": spec.height,
            "steps": spec.steps,
            "guidance_scale": spec.guidance_scale,
            "seeds": list(spec.seeds),
        },
        "loras": [
            {
                "name": lora.adapter_name,
                "path": str(lora.path),
                "weight": lora.weight,
                "sha256": lora.sha256,
            }
            for lora in job.loras
        ],
        "device": job.device,
        "memory_profile": job.memory_profile,
        "versions": library_versions(),
    }
    if job.vae_source:
        record["vae"] = {
            "source": job.vae_source,
            "weights_sha256": model_digests(job.vae_source),
        }
    if job.ip_weights is not None:
        record["ip_adapter"] = {
            "path": str(job.ip_weights),
            "scale": spec.ip_adapter_scale,
            "weights_sha256": {str(p): file_sha256(p) for p in ip_adapter_files(job.ip_weights)},
            "reference_images_sha256": [image_sha256(i) for i in spec.ip_adapter_images],
        }
    if controls is not None:
        record["controls"] = [
            {
                "model": control.model,
                "kind": control.kind,
                "scale": control.scale,
                "preprocessed": control.preprocess,
                "guidance": [control.guidance_start, control.guidance_end],
                "weights_sha256": weights_digests(Path(control.model)),
                "image_sha256": image_sha256(image),
            }
            for control, image in zip(spec.controls, controls.images, strict=True)
        ]
    return record


def generation_result(
    spec: GenerationSpec,
    images: list[Image.Image],
    record: dict[str, Any],
    *,
    load_ms: int,
    inference_ms: int,
    controls: PreparedControls | None = None,
) -> GenerationResult:
    """``spec``'s images, one per seed, each with the manifest plus its seed and index."""
    outputs = [
        ImageOutput(image=image, seed=seed, manifest={**record, "seed": seed, "batch_index": i})
        for i, (image, seed) in enumerate(zip(images, spec.seeds, strict=True))
    ]
    conditioning = controls.images if controls else []
    return GenerationResult(
        images=outputs,
        load_ms=load_ms,
        inference_ms=inference_ms,
        extra={"conditioning_images": conditioning} if conditioning else {},
        conditioning_images=conditioning,
    )
