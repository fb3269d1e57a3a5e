"""Manifests name the real sha256 of every weights file that produced an image."""

from __future__ import annotations

import hashlib
from pathlib import Path

from gpu_worker.engine.spec import ControlSpec, LoraSpec
from tests.fixtures.engine import pattern_image


def sha256(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def test_manifest_names_real_sha256_of_every_weights_file(engine, make_spec, tiny_models):
    spec = make_spec(
        seeds=(11, 12),
        loras=(LoraSpec(path=str(tiny_models["lora_a"]), weight=0.7),),
        ip_adapter_images=(pattern_image(4),),
        ip_adapter_scale=0.5,
        controls=(ControlSpec(image=pattern_image(5), model=str(tiny_models["controlnet"])),),
        scheduler="euler_a",
    )
    result = engine.generate(spec)
    manifest = result.images[1].manifest
    model_dir = tiny_models["sdxl"]
    unet = "unet/diffusion_pytorch_model.safetensors"
    assert manifest["model"]["weights_sha256"][unet] == sha256(model_dir / unet)
    assert len(manifest["model"]["weights_sha256"]) == 4  # unet, vae, two text encoders
    assert manifest["loras"][0]["sha256"] == sha256(tiny_models["lora_a"])
    ip_weights = manifest["ip_adapter"]["weights_sha256"]
    assert ip_weights[str(tiny_models["ip_adapter"])] == sha256(tiny_models["ip_adapter"])
    control_weights = manifest["controls"][0]["weights_sha256"]
    weights_file = "diffusion_pytorch_model.safetensors"
    assert control_weights[weights_file] == sha256(tiny_models["controlnet"] / weights_file)
    assert manifest["seed"] == 12 and manifest["batch_index"] == 1
    assert manifest["scheduler"]["class"] == "EulerAncestralDiscreteScheduler"
    assert manifest["params"]["steps"] == 3
    assert {"torch", "diffusers", "transformers", "peft"} <= set(manifest["versions"])


def test_every_schedulers_record_is_strict_json_that_a_database_can_store():
    # DPM-Solver's config holds lambda_min_clipped=-inf: stored as is, no image of a
    # dpmpp_2m job could be saved (jsonb and SQLite's JSON refuse -Infinity).
    import json

    from diffusers import EulerDiscreteScheduler

    from gpu_worker.engine.manifest import scheduler_record
    from gpu_worker.engine.schedulers import SCHEDULER_NAMES, build_scheduler

    base = dict(EulerDiscreteScheduler().config)
    for name in SCHEDULER_NAMES:
        record = scheduler_record(build_scheduler(name, base))
        json.dumps(record, allow_nan=False)
    dpm = scheduler_record(build_scheduler("dpmpp_2m", base))["config"]
    assert dpm["lambda_min_clipped"] == "-inf" and dpm["use_karras_sigmas"] is True
