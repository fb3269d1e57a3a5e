"""No state survives a job: a seeded random sequence of every job kind on ONE engine, as a GPU
worker runs it (half precision, fused QKV and channels-last forced on), and after each job
its images equal those of a fresh engine given only that job, and the engine is back at rest
(module dtypes, attention processors, no image projection, LoRA layers disabled).

``make test`` runs a short sequence; ``pytest -m property_long`` runs 200 jobs. A failure
names the seed and the sequence, so it replays exactly."""

from __future__ import annotations

import random
from dataclasses import dataclass, replace

import numpy as np
import pytest

from gpu_worker.engine.batching import BatchMember
from gpu_worker.engine.controlnet import UNION_CONTROL_MODES
from gpu_worker.engine.masks import rect_mask
from gpu_worker.engine.spec import ControlSpec, LoraSpec
from tests.fixtures.engine import SIZE, pattern_image

SEED = 20261205
# The tiny Union ControlNet knows the first six control types (xinsir's, before ProMax).
CONTROL_TYPES = sorted(kind for kind, mode in UNION_CONTROL_MODES.items() if mode < 6)
PROMPTS = ("a lighthouse at dusk", "a fox in the snow", "an old bicycle", "")
LORAS = ("lora_a", "lora_b", "lora_kohya")
KINDS = (
    "text",
    "lora",
    "two_loras",
    "ip_adapter",
    "controlnet",
    "union_controlnet",
    "img2img",
    "inpaint",
    "controlnet_inpaint",
    "upscale",
    "face_repair",
    "batch",
)


@dataclass
class Job:
    kind: str
    spec: object = None  # a GenerationSpec, or None for a batch
    members: tuple = ()  # a batch's specs

    def run(self, engine) -> list[np.ndarray]:
        if self.kind == "batch":
            batch = engine.generate_batch([BatchMember(spec) for spec in self.members])
            results = batch.results
        else:
            results = [engine.generate(self.spec)]
        return [np.asarray(image.image) for result in results for image in result.images]

    def __str__(self) -> str:
        specs = self.members or (self.spec,)
        return f"{self.kind}({', '.join(_describe(spec) for spec in specs)})"


def _describe(spec) -> str:
    loras = "+".join(f"{lora.path.rsplit('/', 1)[-1]}@{lora.weight}" for lora in spec.loras)
    controls = "+".join(f"{c.model.rsplit('/', 1)[-1]}:{c.kind}" for c in spec.controls)
    parts = [spec.mode, f"seeds={list(spec.seeds)}", loras, controls]
    parts.append("ip" if spec.ip_adapter_images else "")
    return " ".join(part for part in parts if part)


class JobMaker:
    """Random jobs of every kind from one seeded ``random.Random``."""

    def __init__(self, rng: random.Random, models, make_spec):
        self.rng = rng
        self.models = models
        self.make_spec = make_spec

    def job(self, kind: str) -> Job:
        if kind == "batch":
            return self._batch()
        return Job(kind, getattr(self, f"_{kind}")(self._base()))

    def _base(self, **changes):
        rng = self.rng
        values = {
            "prompt": rng.choice(PROMPTS),
            "seeds": tuple(rng.randrange(1000) for _ in range(rng.randint(1, 2))),
            "steps": rng.randint(1, 2),
            "guidance_scale": rng.choice((1.0, 5.0)),
            "scheduler": rng.choice((None, "euler_a", "dpmpp_2m")),
        }
        return self.make_spec(**{**values, **changes})

    def _loras(self, count: int):
        names = self.rng.sample(LORAS, count)
        return tuple(
            LoraSpec(str(self.models[name]), round(self.rng.uniform(0.2, 1.2), 2)) for name in names
        )

    def _control(self, union: bool, image_seed: int | None = None):
        model = self.models["controlnet_union" if union else "controlnet"]
        image = pattern_image(self.rng.randrange(100) if image_seed is None else image_seed)
        scale = round(self.rng.uniform(0.3, 1.0), 2)
        return ControlSpec(image=image, model=str(model), kind=self.rng.choice(CONTROL_TYPES),
                           scale=scale)  # fmt: skip

    def _references(self):
        return tuple(pattern_image(self.rng.randrange(100)) for _ in range(self.rng.randint(1, 2)))

    def _source(self, size: int = SIZE):
        return pattern_image(self.rng.randrange(100), size)

    def _text(self, spec):
        return spec

    def _lora(self, spec):
        return replace(spec, loras=self._loras(1))

    def _two_loras(self, spec):
        return replace(spec, loras=self._loras(2))

    def _ip_adapter(self, spec):
        scale = round(self.rng.uniform(0.2, 1.0), 2)
        return replace(spec, ip_adapter_images=self._references(), ip_adapter_scale=scale)

    def _controlnet(self, spec):
        return replace(spec, controls=(self._control(union=False),))

    def _union_controlnet(self, spec):
        controls = tuple(self._control(union=True) for _ in range(self.rng.randint(1, 2)))
        return replace(spec, controls=controls)

    def _edit(self, spec, mode: str, **changes):
        source = changes.pop("source", None) or self._source()
        strength = round(self.rng.uniform(0.5, 1.0), 2)
        return replace(spec, mode=mode, source=source, width=source.width,
                       height=source.height, strength=strength, **changes)  # fmt: skip

    def _img2img(self, spec):
        return self._edit(spec, "img2img", loras=self._maybe_lora())

    def _mask(self):
        x, y = self.rng.randrange(0, 32, 8), self.rng.randrange(0, 32, 8)
        return rect_mask((SIZE, SIZE), (x, y, 24, 24))

    def _inpaint(self, spec):
        return self._edit(spec, "inpaint", mask=self._mask(), mask_blur=2, mask_padding=4)

    def _controlnet_inpaint(self, spec):
        union = self.rng.random() < 0.5
        return self._edit(spec, "inpaint", mask=self._mask(), mask_blur=2, mask_padding=4,
                          controls=(self._control(union=union),))  # fmt: skip

    def _upscale(self, spec):
        source = self._source(SIZE // 2)
        return replace(self._edit(spec, "upscale", source=source), width=SIZE, height=SIZE,
                       scale=2, tile_size=SIZE, tile_overlap=16)  # fmt: skip

    def _face_repair(self, spec):
        return self._edit(spec, "face_repair", face_boxes=((16, 16, 48, 48),), repair_size=SIZE,
                          seeds=spec.seeds[:1])  # fmt: skip

    def _maybe_lora(self):
        return self._loras(1) if self.rng.random() < 0.5 else ()

    def _batch(self) -> Job:
        rng = self.rng
        lead = self._base(scheduler=rng.choice((None, "dpmpp_2m")), loras=self._maybe_lora())
        setup = rng.choice(("plain", "ip_adapter", "controlnet", "union_controlnet"))
        members = []
        for _ in range(rng.randint(1, 4)):
            spec = replace(lead, prompt=rng.choice(PROMPTS), seeds=(rng.randrange(1000),))
            if setup == "ip_adapter":
                spec = replace(spec, ip_adapter_images=(pattern_image(rng.randrange(100)),),
                               ip_adapter_scale=0.6)  # fmt: skip
            elif setup != "plain":
                control = self._control(union=setup == "union_controlnet", image_seed=0)
                image = pattern_image(rng.randrange(100))
                spec = replace(spec, controls=(replace(control, image=image, kind="canny",
                                                       scale=0.8),))  # fmt: skip
            members.append(spec)
        return Job("batch", members=tuple(members))


def run_sequence(count: int, engine, fresh_engine, maker: JobMaker, model: str) -> None:
    resting = fresh_engine().resting_state(model)
    kinds = list(KINDS)
    done: list[str] = []
    for index in range(count):
        # Every kind once in the first len(KINDS) jobs, then at random.
        kind = kinds.pop(maker.rng.randrange(len(kinds))) if kinds else maker.rng.choice(KINDS)
        job = maker.job(kind)
        done.append(str(job))
        context = f"job {index} of seed {SEED}: {job}\nafter: " + "\n  ".join(done[-6:-1])
        images = job.run(engine)
        expected = job.run(fresh_engine())
        assert len(images) == len(expected), context
        for image, reference in zip(images, expected, strict=True):
            difference = np.abs(image.astype(np.int16) - reference.astype(np.int16)).max()
            assert difference == 0, f"{context}\nimages differ from a fresh engine's: {difference}"
        assert engine.resting_state(model) == resting, f"{context}\nnot back at rest"


@pytest.mark.parametrize(
    "count", [12, pytest.param(200, marks=pytest.mark.property_long)], ids=["short", "long"]
)
def test_every_job_equals_a_fresh_engines_and_leaves_the_engine_at_rest(
    count, fast_engine, fresh_fast_engine, tiny_models, make_spec
):
    maker = JobMaker(random.Random(SEED), tiny_models, make_spec)
    run_sequence(count, fast_engine, fresh_fast_engine, maker, make_spec().model)
