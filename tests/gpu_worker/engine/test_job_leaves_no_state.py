"""Regressions: what one job left behind broke the next one (VAE left in fp32 by a ControlNet
inpaint, stale attention processors after fused QKV met an IP-Adapter, weights left frozen or
trainable by peft), and an out-of-memory error in an edit job that never reached the worker's
low-memory retry."""

from __future__ import annotations

import weakref

import numpy as np
import pytest
import torch

from gpu_worker.engine.errors import OutOfMemory
from gpu_worker.engine.frozen import trainable
from gpu_worker.engine.masks import rect_mask
from gpu_worker.engine.spec import ControlSpec, LoraSpec
from tests.fixtures.engine import SIZE, pattern_image, pixels


def test_a_controlnet_inpaint_job_leaves_the_vae_in_half_precision(
    fast_engine, make_spec, tiny_models
):
    """diffusers' ControlNet inpaint pipelines upcast the VAE to fp32 for the decode and never
    cast it back; the next fp16 job then failed with a Half/float mismatch."""
    source = pattern_image(21)
    model = make_spec().model
    warm, _ = fast_engine.pipelines.get(model)
    for controlnet in ("controlnet", "controlnet_union"):
        control = ControlSpec(
            image=pattern_image(22), model=str(tiny_models[controlnet]), kind="canny"
        )
        fast_engine.generate(
            make_spec(
                mode="inpaint",
                source=source,
                mask=rect_mask(source.size, (8, 8, 32, 32)),
                controls=(control,),
                steps=2,
            )
        )
        assert warm.pipeline.vae.dtype == torch.float16
    text = fast_engine.generate(make_spec(steps=2))
    assert pixels(text).std() > 0


def _edit_specs(make_spec):
    source = pattern_image(31)
    return {
        "img2img": make_spec(mode="img2img", source=source, strength=0.6),
        "inpaint": make_spec(
            mode="inpaint", source=source, mask=rect_mask(source.size, (8, 8, 24, 24))
        ),
        "upscale": make_spec(
            mode="upscale",
            source=source,
            scale=2,
            width=2 * SIZE,
            height=2 * SIZE,
            strength=0.4,
            tile_size=SIZE,
            tile_overlap=16,
        ),
        "face_repair": make_spec(
            mode="face_repair", source=source, face_boxes=((16, 16, 48, 48),), repair_size=SIZE
        ),
    }


@pytest.mark.parametrize("mode", ["img2img", "inpaint", "upscale", "face_repair"])
def test_out_of_memory_in_an_edit_job_frees_the_failed_pass_and_raises_out_of_memory(
    engine, make_spec, monkeypatch, mode
):
    """The worker retries with the low-memory profile only on the engine's OutOfMemory; the
    failed pass's activations must be released first, or the retry has no room either."""
    warm, _ = engine.pipelines.get(make_spec().model)
    activations: list[weakref.ref] = []

    def out_of_memory(*args, **kwargs):
        held = torch.empty(1 << 16)  # what a real failed forward pass holds on to
        activations.append(weakref.ref(held))
        raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")

    spec = _edit_specs(make_spec)[mode]
    monkeypatch.setattr(warm.pipeline.unet, "forward", out_of_memory)
    with pytest.raises(OutOfMemory) as raised:
        engine.generate(spec)
    assert "out of memory" in str(raised.value)
    assert activations and activations[0]() is None  # the engine collected them itself
    monkeypatch.undo()
    assert engine.generate(spec).images[0].image.size == (spec.width, spec.height)


def test_a_lora_job_after_reference_and_plain_jobs_equals_the_same_lora_job_before(
    fast_engine, make_spec, tiny_models
):
    """With fused QKV, fusing while IP-Adapter processors were attached recorded them as the
    UNet's originals; a LoRA job after "reference job -> plain job" unfused back to them and
    read the last text tokens as image tokens."""
    lora = make_spec(loras=(LoraSpec(str(tiny_models["lora_a"]), 0.8),), steps=2)
    before = fast_engine.generate(lora)
    fast_engine.generate(make_spec(ip_adapter_images=(pattern_image(5),), steps=2))
    fast_engine.generate(make_spec(steps=2))
    after = fast_engine.generate(lora)
    assert np.array_equal(pixels(after), pixels(before))


def test_no_parameter_runs_trainable_and_a_plain_job_after_lora_jobs_equals_a_fresh_engines(
    fast_engine, fresh_fast_engine, make_spec, tiny_models
):
    """PyTorch picks the fp16 matmul kernel of a layer with a non-contiguous input by whether
    its weight requires grad; peft froze the UNet when it loaded a LoRA (and made active
    adapters trainable), so a plain job after a LoRA job differed from a fresh engine's."""
    plain = make_spec(prompt="a fox in the snow", seeds=(427,), steps=2)
    expected = fresh_fast_engine().generate(plain)
    warm, _ = fast_engine.pipelines.get(plain.model)
    control = ControlSpec(
        image=pattern_image(3), model=str(tiny_models["controlnet"]), kind="canny"
    )
    trainable_in_a_job: set[str] = set()

    def note_trainable(step: int, total: int) -> None:
        modules = {
            **warm.pipeline.components,
            "controlnet": fast_engine.controlnets.get(control.model),
        }
        trainable_in_a_job.update(
            name
            for name, module in modules.items()
            if isinstance(module, torch.nn.Module) and trainable(module)
        )

    loras = (LoraSpec(str(tiny_models["lora_b"]), 0.82), LoraSpec(str(tiny_models["lora_a"]), 1.02))
    fast_engine.generate(make_spec(loras=loras, steps=2), on_step=note_trainable)
    fast_engine.generate(
        make_spec(
            loras=loras[:1],
            controls=(control,),
            ip_adapter_images=(pattern_image(5),),
            steps=2,
        ),
        on_step=note_trainable,
    )
    assert trainable_in_a_job == set()
    assert np.array_equal(pixels(fast_engine.generate(plain)), pixels(expected))
