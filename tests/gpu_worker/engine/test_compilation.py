"""Compilation never inside a user's job: the warm-up compiles the UNet at the served buckets
(plain and hot-swapped-LoRA kinds), after which mixed jobs at those buckets run the compiled
graphs without compiling a new one, and everything else runs eager. On the CPU, with a
backend that runs dynamo's graphs eagerly and counts each run of a compiled graph."""

from __future__ import annotations

import dataclasses
import logging
import random

import numpy as np
import pytest
import torch

from gpu_worker.engine.batching import BatchMember
from gpu_worker.engine.compilation import parse_buckets
from gpu_worker.engine.masks import rect_mask
from gpu_worker.engine.spec import ControlSpec, LoraSpec
from tests.fixtures.engine import SIZE, pattern_image, pixels

BACKEND = "illu_counting_eager"
graph_runs = {"count": 0}


def _counting_backend(graph_module, example_inputs):
    def run(*args):
        graph_runs["count"] += 1
        return graph_module.forward(*args)

    return run


def _register_backend() -> None:
    from torch._dynamo.backends.registry import list_backends, register_backend

    if BACKEND not in list_backends(exclude_tags=()):
        register_backend(_counting_backend, name=BACKEND)


def compiled_engine(fast_engine_config, tiny_models):
    """An engine with the UNet to compile at 64x64, 1 and 2 images per pass, LoRAs hot-swapped."""
    from gpu_worker.engine.devices import DeviceProfile
    from gpu_worker.engine.generate import Engine

    _register_backend()
    config = dataclasses.replace(
        fast_engine_config,
        compile_unet=True,
        compile_backend=BACKEND,
        compile_buckets=((SIZE, SIZE, 1), (SIZE, SIZE, 2)),
        compile_cache_dir=None,
        lora_hotswap=True,
        lora_hotswap_max_rank=8,
    )
    return Engine(DeviceProfile("cpu", torch.float32), config)


def _mixed_jobs(make_spec, tiny_models):
    """14 jobs at the served buckets (LoRAs and weights changing, all four schedulers, 1 or 2
    images, edits at the bucket's size) and 3 that run eager (IP-Adapter, ControlNet, another
    size)."""
    rng = random.Random(8)
    loras = [str(tiny_models[name]) for name in ("lora_a", "lora_b", "lora_kohya")]
    source = pattern_image(5)
    served = []
    for index in range(10):  # seed 8: every scheduler, 0 to 2 LoRAs, 1 and 2 images
        chosen = rng.sample(loras, rng.randint(0, 2))
        served.append(
            make_spec(
                steps=1,
                seeds=tuple(rng.randrange(100) for _ in range(rng.randint(1, 2))),
                scheduler=rng.choice((None, "euler_a", "dpmpp_2m", "ddim")),
                loras=tuple(LoraSpec(path, round(rng.uniform(0.1, 1.2), 2)) for path in chosen),
                prompt=f"a lighthouse, take {index}",
            )
        )
    mask = rect_mask(source.size, (8, 8, 24, 24))
    served += [
        make_spec(mode="img2img", source=source, strength=0.7, steps=2),
        make_spec(mode="inpaint", source=source, mask=mask, seeds=(4, 5), steps=1),
        make_spec(mode="img2img", source=source, steps=2, loras=(LoraSpec(loras[0], 0.4),)),
        make_spec(
            mode="face_repair", source=source, face_boxes=((8, 8, 40, 40),), repair_size=SIZE
        ),
    ]
    reference = (pattern_image(3),)
    control = ControlSpec(image=pattern_image(4), model=str(tiny_models["controlnet"]), kind="x")
    eager = [
        make_spec(steps=1, ip_adapter_images=reference, loras=(LoraSpec(loras[0], 0.6),)),
        make_spec(steps=1, controls=(control,)),
        make_spec(steps=1, width=72, seeds=(1, 2, 3)),
    ]
    jobs = [(spec, True) for spec in served] + [(spec, False) for spec in eager]
    rng.shuffle(jobs)
    return jobs


def test_after_the_warm_up_no_job_compiles_and_served_jobs_run_compiled(
    fast_engine_config, engine, make_spec, tiny_models, caplog
):
    """One scenario (one warm-up: compiling is the expensive part): the warm-up, 17 mixed
    jobs and a batch, hot-swapped LoRAs against loaded ones, and a pass whose graph went
    stale."""
    hot = compiled_engine(fast_engine_config, tiny_models)
    warmed = hot.warm_up(make_spec().model)
    # Two buckets, each for plain jobs and for hot-swapped LoRA jobs; all schedulers and
    # pipelines (text, img2img, inpaint, batch) share them.
    assert warmed["graphs"] == 4 and warmed["compile_ms"] > 0
    assert hot.status()["compile"]["buckets"] == [[SIZE, SIZE, 1], [SIZE, SIZE, 2]]

    caplog.set_level(logging.WARNING, logger="gpu_worker.engine.compilation")
    for spec, served in _mixed_jobs(make_spec, tiny_models):
        before = graph_runs["count"]
        hot.generate(spec)
        assert (graph_runs["count"] > before) == served, spec
    before = graph_runs["count"]  # two one-image jobs in one pass: the 2-image graph
    hot.generate_batch(
        [BatchMember(make_spec(steps=2)), BatchMember(make_spec(steps=2, seeds=(7,)))]
    )
    assert graph_runs["count"] > before
    status = hot.status()["compile"]
    assert (status["graphs_after_warmup"], status["eager_fallbacks"]) == (0, 0)
    assert not _warnings(caplog)

    plain = hot.generate(make_spec(steps=2))
    for loras in (
        (LoraSpec(str(tiny_models["lora_kohya"]), 0.8),),
        (LoraSpec(str(tiny_models["lora_a"]), 0.5), LoraSpec(str(tiny_models["lora_b"]), 0.9)),
    ):
        spec = make_spec(steps=2, loras=loras)
        swapped, loaded = hot.generate(spec), engine.generate(spec)
        # Zero-padded ranks and a second slot at weight 0 may round differently: 1/255 at most.
        assert np.abs(pixels(swapped) - pixels(loaded)).max() <= 1
        assert np.abs(pixels(swapped) - pixels(plain)).max() > 10

    unet = hot.pipelines.get(make_spec().model)[0].pipeline.unet
    unet.train()  # a change the compiled graphs' guards see, and the results do not
    try:
        stale = hot.generate(make_spec(steps=2))
    finally:
        unet.eval()
    status = hot.status()["compile"]
    assert (status["graphs_after_warmup"], status["eager_fallbacks"]) == (0, 1)
    assert ["runs eager" in record.getMessage() for record in _warnings(caplog)] == [True]
    assert np.abs(pixels(stale) - pixels(plain)).max() <= 1


def _warnings(caplog) -> list[logging.LogRecord]:
    return [
        record
        for record in caplog.records
        if record.name == "gpu_worker.engine.compilation" and record.levelno >= logging.WARNING
    ]


def test_compile_buckets_parse_from_the_setting():
    assert parse_buckets("1024x1024x1, 832x1216") == ((1024, 1024, 1), (832, 1216, 1))
    with pytest.raises(ValueError, match="WIDTHxHEIGHT"):
        parse_buckets("1024x")
