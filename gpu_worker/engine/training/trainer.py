"""peft LoRA training of the SDXL UNet (and optionally both text encoders).

The images are encoded once (VAE latents, and the caption embeddings when the text encoders
stay frozen), so a step is one UNet forward and backward. Everything random in a step (which
images, noise, timesteps) comes from generators seeded by (seed, step), so a run resumed from
a checkpoint takes exactly the steps an uninterrupted run would have taken.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import torch

from ..devices import DeviceProfile, select_device
from ..errors import EngineError, ModelUnavailable, OutOfMemory
from ..manifest import image_sha256, library_versions, model_digests
from ..memory import free_device_memory
from ..sources import is_local_source
from ..weights import read_safetensors_header
from .data import batch_schedule, bucket_for, face_crop_box, prepare_image
from .spec import TrainingSpec

logger = logging.getLogger(__name__)

MANIFEST_KEY = "illu_training"
CHECKPOINT_KEY = "illu_checkpoint"
FORMAT = "illu-lora-training/1"
_UNET_TARGETS = ["to_q", "to_k", "to_v", "to_out.0"]
_TEXT_TARGETS = ["q_proj", "k_proj", "v_proj", "out_proj"]
# Fixed timesteps (fractions of the schedule) of the evaluation loss: the same noise and
# timesteps before and after training, so the two numbers compare the weights alone.
_EVAL_TIMESTEP_FRACTIONS = (0.1, 0.3, 0.5, 0.7, 0.9)
_EVAL_MAX_IMAGES = 8
_MAX_GRAD_NORM = 1.0


class TrainingCancelled(EngineError):
    """Raised from ``on_step`` to stop a run; nothing is written after it."""

    code = "cancelled"


class TrainingPaused(EngineError):
    """Raised between steps when ``should_pause`` said so, once a checkpoint of the step
    reached is written (and handed to ``on_checkpoint``): resuming from ``checkpoint`` takes
    the same steps an uninterrupted run would have taken."""

    code = "paused"

    def __init__(self, step: int, total: int, checkpoint: Path):
        super().__init__(f"Training paused at step {step} of {total}.")
        self.step = step
        self.total = total
        self.checkpoint = checkpoint


@dataclass(frozen=True)
class StepReport:
    step: int
    total: int
    loss: float
    eta_s: float
    learning_rate: float


@dataclass(frozen=True)
class Checkpoint:
    step: int
    path: Path
    loss: float
    samples: list[tuple[str, Any]] = field(default_factory=list)  # (prompt, PIL image)


@dataclass(frozen=True)
class TrainingResult:
    path: Path
    manifest: dict
    initial_loss: float
    final_loss: float
    steps_run: int  # by this call (fewer than spec.steps after a resume)
    resumed_from: int | None
    loss_history: list[float]
    samples: list[tuple[str, Any]] = field(default_factory=list)


@dataclass
class _Example:
    latents: torch.Tensor  # (4, h/8, w/8), scaled
    time_ids: torch.Tensor  # SDXL micro-conditioning: original size, crop offset, target size
    caption: str
    bucket: tuple[int, int]
    record: dict
    prompt_embeds: torch.Tensor | None = None
    pooled: torch.Tensor | None = None


@dataclass
class _State:
    step: int = 0
    loss_history: list[float] = field(default_factory=list)
    initial_loss: float | None = None
    resumes: list[int] = field(default_factory=list)


def train_lora(
    spec: TrainingSpec,
    output_path: Path,
    *,
    profile: DeviceProfile | None = None,
    on_step: Callable[[StepReport], None] | None = None,
    on_checkpoint: Callable[[Checkpoint], None] | None = None,
    resume_from: Path | None = None,
    work_dir: Path | None = None,
    pipeline: Any | None = None,
    should_pause: Callable[[], bool] | None = None,
) -> TrainingResult:
    """Train, write the LoRA to ``output_path`` and return its manifest. ``pipeline``: an
    SDXL pipeline already in memory to train on instead of loading ``spec.model`` (the GPU
    check's full-size random model, built on the GPU and never written to disk).
    ``should_pause`` is asked after every step but the last (keep it cheap); when it says
    yes, the run writes a checkpoint of that step and raises ``TrainingPaused``."""
    spec.validate()
    profile = profile or select_device()
    try:
        return _Trainer(spec, profile, work_dir or Path(output_path).parent, pipeline).run(
            Path(output_path), on_step, on_checkpoint, resume_from, should_pause
        )
    except torch.cuda.OutOfMemoryError as exc:
        free_device_memory()
        raise OutOfMemory(
            f"Out of GPU memory while training: {exc}. Lower the resolution, batch size or "
            "rank, or turn on gradient checkpointing."
        ) from exc


class _Trainer:
    def __init__(
        self, spec: TrainingSpec, profile: DeviceProfile, work_dir: Path, pipeline: Any = None
    ):
        self.given_pipeline = pipeline
        self.spec = spec
        self.profile = profile
        self.device = torch.device(profile.device)
        self.cuda = profile.device.startswith("cuda")
        # Frozen weights in half precision on CUDA (bf16 where supported: no loss scaling),
        # the LoRA weights and optimizer state in fp32.
        if self.cuda:
            self.weight_dtype = torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
        else:
            self.weight_dtype = torch.float32
        self.work_dir = Path(work_dir)
        self.work_dir.mkdir(parents=True, exist_ok=True)
        self.scaler = torch.amp.GradScaler("cuda") if self.weight_dtype == torch.float16 else None

    # -- setup ---------------------------------------------------------------------------

    def _load(self) -> None:
        from diffusers import DDPMScheduler, StableDiffusionXLPipeline

        if self.given_pipeline is not None:
            pipeline = self.given_pipeline.to(self.device, self.weight_dtype)
        elif is_local_source(self.spec.model) and not Path(self.spec.model).is_dir():
            raise ModelUnavailable(f"No diffusers model directory at {self.spec.model!r}.")
        else:
            pipeline = self._from_pretrained(StableDiffusionXLPipeline)
        pipeline.set_progress_bar_config(disable=True)
        self.pipeline = pipeline
        self.unet = pipeline.unet
        self.encoders = (pipeline.text_encoder, pipeline.text_encoder_2)
        self.tokenizers = (pipeline.tokenizer, pipeline.tokenizer_2)
        self.noise_scheduler = DDPMScheduler.from_config(pipeline.scheduler.config)
        for module in (self.unet, *self.encoders, pipeline.vae):
            module.requires_grad_(False)

    def _from_pretrained(self, pipeline_class):
        """The base model from a directory or a hub id (resolved in the Hugging Face cache),
        reading its fp16 weights variant in half precision or when that is all it has."""
        from ..hub import pipeline_weights
        from ..sources import SourceConfig, is_hub_source, resolve_source
        from ..weight_hashes import WEIGHT_HASHES

        half = self.weight_dtype != torch.float32
        source = self.spec.model
        if is_hub_source(source):
            source = resolve_source(source, SourceConfig(), layout="pipeline", prefer_fp16=half)
        variant = None
        if (Path(source) / "model_index.json").is_file():
            files, variant = pipeline_weights(Path(source), half)
            WEIGHT_HASHES.record_loaded((self.spec.model, str(source)), Path(source), files)
        try:
            pipeline = pipeline_class.from_pretrained(
                source,
                dtype=self.weight_dtype,
                use_safetensors=True,
                add_watermarker=False,
                variant=variant,
            )
        except (OSError, ValueError) as exc:
            raise ModelUnavailable(f"Could not load SDXL model {self.spec.model!r}: {exc}") from exc
        return pipeline.to(self.device)

    def _add_adapters(self) -> None:
        from peft import LoraConfig, inject_adapter_in_model

        spec = self.spec
        torch.manual_seed(spec.seed)  # the LoRA's initial A matrices come from the seed
        self.unet.add_adapter(
            LoraConfig(
                r=spec.rank,
                lora_alpha=spec.alpha,
                init_lora_weights="gaussian",
                target_modules=_UNET_TARGETS,
            )
        )
        self.trained = [("unet", self.unet)]
        if spec.train_text_encoder:
            for name, encoder in zip(
                ("text_encoder", "text_encoder_2"), self.encoders, strict=True
            ):
                # peft directly: transformers' add_adapter wants a newer peft than diffusers.
                inject_adapter_in_model(
                    LoraConfig(
                        r=spec.rank,
                        lora_alpha=spec.alpha,
                        init_lora_weights="gaussian",
                        target_modules=_TEXT_TARGETS,
                    ),
                    encoder,
                )
                self.trained.append((name, encoder))
        self.params: list[tuple[str, torch.nn.Parameter]] = []
        for prefix, module in self.trained:
            for name, param in module.named_parameters():
                if param.requires_grad:
                    param.data = param.data.float()  # trainable weights in fp32
                    self.params.append((f"{prefix}.{name}", param))
        if self.gradient_checkpointing:
            self.unet.enable_gradient_checkpointing()
            if spec.train_text_encoder:
                for encoder in self.encoders:
                    encoder.gradient_checkpointing_enable()

    @property
    def gradient_checkpointing(self) -> bool:
        if self.spec.gradient_checkpointing is None:
            return self.cuda
        return self.spec.gradient_checkpointing

    def _optimizer(self) -> torch.optim.Optimizer:
        spec = self.spec
        groups = [
            {
                "params": [p for n, p in self.params if n.startswith("unet.")],
                "lr": spec.learning_rate,
            }
        ]
        text = [p for n, p in self.params if not n.startswith("unet.")]
        if text:
            lr = spec.text_encoder_learning_rate or spec.learning_rate / 2
            groups.append({"params": text, "lr": lr})
        use_8bit = spec.use_8bit_adam
        if use_8bit is None:
            use_8bit = self.cuda and _bitsandbytes_available()
        if use_8bit:
            import bitsandbytes

            self.optimizer_name = "AdamW8bit"
            return bitsandbytes.optim.AdamW8bit(groups, weight_decay=1e-2)
        self.optimizer_name = "AdamW"
        return torch.optim.AdamW(groups, weight_decay=1e-2)

    # -- data ----------------------------------------------------------------------------

    def _examples(self) -> list[_Example]:
        vae = self.pipeline.vae
        # The SDXL VAE overflows in fp16; encode in fp32 once, then go back.
        if self.weight_dtype != torch.float32:
            vae.to(torch.float32)
        examples = []
        with torch.no_grad():
            for item in self.spec.images:
                source = item.image.convert("RGB")
                face_box = item.face_box if self.spec.face_crop else None
                if face_box is not None:
                    region = face_crop_box(source.size, face_box)
                    source = source.crop(region)
                    face_box = (
                        face_box[0] - region[0],
                        face_box[1] - region[1],
                        face_box[2] - region[0],
                        face_box[3] - region[1],
                    )
                bucket = bucket_for(source.size, self.spec.resolution)
                crop, (top, left) = prepare_image(source, bucket, face_box)
                pixels = torch.from_numpy(_to_array(crop)).permute(2, 0, 1)[None]
                pixels = (pixels.float() / 127.5 - 1.0).to(self.device)
                latents = vae.encode(pixels).latent_dist.mode() * vae.config.scaling_factor
                width, height = bucket
                time_ids = torch.tensor(
                    [source.height, source.width, top, left, height, width], dtype=torch.float32
                )
                examples.append(
                    _Example(
                        latents=latents[0].to(self.weight_dtype),
                        time_ids=time_ids,
                        caption=item.caption,
                        bucket=bucket,
                        record={
                            "sha256": image_sha256(item.image),
                            "prepared_sha256": image_sha256(crop),
                            "caption": item.caption,
                            "bucket": [width, height],
                            "face_crop": face_box is not None,
                        },
                    )
                )
        if self.weight_dtype != torch.float32:
            vae.to(self.weight_dtype)
        if not self.spec.train_text_encoder:
            with torch.no_grad():
                for example in examples:
                    embeds, pooled = self._encode_text([example.caption])
                    example.prompt_embeds, example.pooled = embeds[0], pooled[0]
        return examples

    def _encode_text(self, captions: list[str]) -> tuple[torch.Tensor, torch.Tensor]:
        """SDXL's conditioning: both encoders' penultimate hidden states side by side, and the
        second encoder's pooled projection."""
        states = []
        pooled = None
        for tokenizer, encoder in zip(self.tokenizers, self.encoders, strict=True):
            ids = tokenizer(
                captions,
                padding="max_length",
                max_length=tokenizer.model_max_length,
                truncation=True,
                return_tensors="pt",
            ).input_ids.to(self.device)
            output = encoder(ids, output_hidden_states=True)
            states.append(output.hidden_states[-2])
            pooled = output[0]  # the last encoder (with projection): text_embeds
        return torch.cat(states, dim=-1), pooled

    # -- loss ----------------------------------------------------------------------------

    def _loss(
        self,
        batch: list[_Example],
        noise: torch.Tensor,
        timesteps: torch.Tensor,
        per_sample: bool = False,
    ) -> torch.Tensor:
        latents = torch.stack([example.latents for example in batch]).to(self.device)
        noise = noise.to(self.device, latents.dtype)
        timesteps = timesteps.to(self.device)
        noisy = self.noise_scheduler.add_noise(latents, noise, timesteps)
        if self.spec.train_text_encoder:
            embeds, pooled = self._encode_text([example.caption for example in batch])
        else:
            embeds = torch.stack([example.prompt_embeds for example in batch])
            pooled = torch.stack([example.pooled for example in batch])
        time_ids = torch.stack([example.time_ids for example in batch]).to(self.device)
        with torch.autocast(self.device.type, dtype=self.weight_dtype, enabled=self.cuda):
            prediction = self.unet(
                noisy,
                timesteps,
                encoder_hidden_states=embeds.to(self.weight_dtype),
                added_cond_kwargs={
                    "text_embeds": pooled.to(self.weight_dtype),
                    "time_ids": time_ids.to(self.weight_dtype),
                },
            ).sample
        if self.noise_scheduler.config.prediction_type == "v_prediction":
            target = self.noise_scheduler.get_velocity(latents, noise, timesteps)
        else:
            target = noise
        losses = torch.nn.functional.mse_loss(
            prediction.float(), target.float(), reduction="none"
        ).mean(dim=(1, 2, 3))
        if self.spec.snr_gamma:
            losses = losses * self._snr_weights(timesteps)
        return losses if per_sample else losses.mean()

    def _snr_weights(self, timesteps: torch.Tensor) -> torch.Tensor:
        """Min-SNR-gamma (Hang et al. 2023): easy, low-noise steps stop dominating the loss."""
        from diffusers.training_utils import compute_snr

        snr = compute_snr(self.noise_scheduler, timesteps).float()
        clipped = torch.clamp(snr, max=self.spec.snr_gamma)
        if self.noise_scheduler.config.prediction_type == "v_prediction":
            return clipped / (snr + 1)
        return clipped / snr

    def _step_randomness(self, step: int, batch: list[_Example]):
        generator = torch.Generator().manual_seed(_step_seed(self.spec.seed, step))
        noise = torch.randn(
            (len(batch), *batch[0].latents.shape), generator=generator, dtype=torch.float32
        )
        timesteps = torch.randint(
            0, self.noise_scheduler.config.num_train_timesteps, (len(batch),), generator=generator
        )
        return noise, timesteps

    def _evaluation_loss(self, examples: list[_Example]) -> float:
        """The loss on fixed noise and timesteps over (up to 8 of) the images."""
        total = self.noise_scheduler.config.num_train_timesteps
        generator = torch.Generator().manual_seed(_step_seed(self.spec.seed, -1))
        values = []
        self.unet.eval()
        with torch.no_grad():
            for example in examples[:_EVAL_MAX_IMAGES]:
                for fraction in _EVAL_TIMESTEP_FRACTIONS:
                    noise = torch.randn(
                        (1, *example.latents.shape), generator=generator, dtype=torch.float32
                    )
                    timestep = torch.tensor([int(fraction * (total - 1))])
                    values.append(float(self._loss([example], noise, timestep)))
        self.unet.train()
        return sum(values) / len(values)

    # -- the run ------------------------------------------------------------------------

    def run(
        self, output_path, on_step, on_checkpoint, resume_from, should_pause=None
    ) -> TrainingResult:
        spec = self.spec
        self._load()
        self._add_adapters()
        optimizer = self._optimizer()
        examples = self._examples()
        schedule = batch_schedule(
            [e.bucket for e in examples], spec.batch_size, spec.steps, spec.seed
        )
        state = _State()
        if resume_from is not None:
            state = self._restore(Path(resume_from), optimizer)
            state.resumes.append(state.step)
            logger.info("resuming training at step %d of %d", state.step, spec.steps)
        if state.initial_loss is None:
            state.initial_loss = self._evaluation_loss(examples)
        resumed_from = state.resumes[-1] if state.resumes else None
        first_step = state.step
        started = time.perf_counter()
        self.unet.train()
        samples: list[tuple[str, Any]] = []
        for step in range(first_step, spec.steps):
            batch = [examples[i] for i in schedule[step]]
            noise, timesteps = self._step_randomness(step, batch)
            loss = self._loss(batch, noise, timesteps)
            self._backward_and_step(loss, optimizer)
            state.step = step + 1
            state.loss_history.append(round(loss.item(), 6))
            if on_step is not None:
                done = state.step - first_step
                elapsed = time.perf_counter() - started
                on_step(
                    StepReport(
                        step=state.step,
                        total=spec.steps,
                        loss=state.loss_history[-1],
                        eta_s=round(elapsed / done * (spec.steps - state.step), 1),
                        learning_rate=spec.learning_rate,
                    )
                )
            if state.step == spec.steps:
                break
            path = self.work_dir / f"checkpoint-{state.step:06d}.safetensors"
            due = bool(spec.checkpoint_every) and state.step % spec.checkpoint_every == 0
            if due:
                self._save_checkpoint(path, optimizer, state)
                samples = self._samples()
                if on_checkpoint is not None:
                    on_checkpoint(Checkpoint(state.step, path, state.loss_history[-1], samples))
            if should_pause is not None and should_pause():
                if not due:  # no regular checkpoint at this step: one without samples
                    self._save_checkpoint(path, optimizer, state)
                    if on_checkpoint is not None:
                        on_checkpoint(Checkpoint(state.step, path, state.loss_history[-1]))
                raise TrainingPaused(state.step, spec.steps, path)
        final_loss = self._evaluation_loss(examples)
        samples = self._samples()
        manifest = self._manifest(examples, state, final_loss)
        self._export(Path(output_path), manifest)
        return TrainingResult(
            path=Path(output_path),
            manifest=manifest,
            initial_loss=state.initial_loss,
            final_loss=final_loss,
            steps_run=spec.steps - first_step,
            resumed_from=resumed_from,
            loss_history=state.loss_history,
            samples=samples,
        )

    def _backward_and_step(self, loss: torch.Tensor, optimizer) -> None:
        parameters = [param for _, param in self.params]
        if self.scaler is not None:
            self.scaler.scale(loss).backward()
            self.scaler.unscale_(optimizer)
            torch.nn.utils.clip_grad_norm_(parameters, _MAX_GRAD_NORM)
            self.scaler.step(optimizer)
            self.scaler.update()
        else:
            loss.backward()
            torch.nn.utils.clip_grad_norm_(parameters, _MAX_GRAD_NORM)
            optimizer.step()
        optimizer.zero_grad(set_to_none=True)

    def _samples(self) -> list[tuple[str, Any]]:
        """One image per sample prompt with the LoRA as trained so far (fixed seeds)."""
        if not self.spec.sample_prompts:
            return []
        images = []
        for module in (self.unet, *self.encoders):
            module.eval()
        side = self.spec.resolution
        with torch.no_grad():
            for index, prompt in enumerate(self.spec.sample_prompts):
                generator = torch.Generator(self.device).manual_seed(self.spec.seed + index)
                image = self.pipeline(
                    prompt,
                    num_inference_steps=self.spec.sample_steps,
                    width=side,
                    height=side,
                    generator=generator,
                ).images[0]
                images.append((prompt, image))
        self.unet.train()
        for _, module in self.trained[1:]:
            module.train()
        return images

    # -- checkpoints ----------------------------------------------------------------------

    def _save_checkpoint(self, path: Path, optimizer, state: _State) -> None:
        """LoRA weights, optimizer state, step, loss history and RNG state in one
        safetensors file (never pickle: a checkpoint comes back from shared storage)."""
        from safetensors.torch import save_file

        tensors = {f"lora::{name}": param.detach().float().cpu() for name, param in self.params}
        optimizer_state = optimizer.state_dict()
        scalars: dict[str, dict[str, Any]] = {}
        for index, entry in optimizer_state["state"].items():
            for key, value in entry.items():
                if isinstance(value, torch.Tensor):
                    tensors[f"optim::{index}::{key}"] = value.detach().cpu().contiguous()
                else:
                    scalars.setdefault(str(index), {})[key] = value
        tensors["rng::torch"] = torch.get_rng_state()
        meta = {
            "step": state.step,
            "loss_history": state.loss_history,
            "initial_loss": state.initial_loss,
            "resumes": state.resumes,
            "param_groups": optimizer_state["param_groups"],
            "optimizer_scalars": scalars,
            "scaler": self.scaler.state_dict() if self.scaler is not None else None,
            "spec": _hyperparameters(self.spec),
        }
        temporary = path.with_suffix(".partial")
        save_file(tensors, str(temporary), metadata={CHECKPOINT_KEY: json.dumps(meta)})
        temporary.replace(path)

    def _restore(self, path: Path, optimizer) -> _State:
        from safetensors import safe_open

        header = read_safetensors_header(path)  # refuses anything that is not safetensors
        meta = json.loads(header.get("__metadata__", {}).get(CHECKPOINT_KEY, "null") or "null")
        if not meta:
            raise ModelUnavailable(f"{path.name} is not a training checkpoint.")
        if meta["spec"] != _hyperparameters(self.spec):
            raise ModelUnavailable("The checkpoint was made with other training parameters.")
        with safe_open(str(path), framework="pt") as handle:
            keys = set(handle.keys())
            with torch.no_grad():
                for name, param in self.params:
                    param.copy_(handle.get_tensor(f"lora::{name}"))
            state: dict[int, dict[str, Any]] = {}
            for key in keys:
                if key.startswith("optim::"):
                    _, index, name = key.split("::", 2)
                    state.setdefault(int(index), {})[name] = handle.get_tensor(key)
            torch.set_rng_state(handle.get_tensor("rng::torch"))
        for index, values in meta["optimizer_scalars"].items():
            state.setdefault(int(index), {}).update(values)
        optimizer.load_state_dict({"state": state, "param_groups": meta["param_groups"]})
        if self.scaler is not None and meta.get("scaler"):
            self.scaler.load_state_dict(meta["scaler"])
        return _State(
            step=meta["step"],
            loss_history=list(meta["loss_history"]),
            initial_loss=meta["initial_loss"],
            resumes=list(meta["resumes"]),
        )

    # -- output ---------------------------------------------------------------------------

    def _manifest(self, examples: list[_Example], state: _State, final_loss: float) -> dict:
        digests = model_digests(self.spec.model)
        combined = hashlib.sha256(
            "".join(f"{name}:{digest}\n" for name, digest in sorted(digests.items())).encode()
        ).hexdigest()
        tail = state.loss_history[-10:]
        return {
            "format": FORMAT,
            "base_model": self.spec.model,
            "base_model_sha256": combined if digests else None,
            "base_model_files": digests,
            "data": [example.record for example in examples],
            "hyperparameters": _hyperparameters(self.spec),
            "steps": state.step,
            "resumed_from_steps": state.resumes,
            "initial_loss": round(state.initial_loss, 6),
            "final_loss": round(final_loss, 6),
            "final_train_loss": round(sum(tail) / len(tail), 6) if tail else None,
            "loss_history": state.loss_history,
            "optimizer": self.optimizer_name,
            "precision": str(self.weight_dtype).removeprefix("torch."),
            "gradient_checkpointing": self.gradient_checkpointing,
            "device": self.profile.device,
            "naming": self.spec.naming,
            "libraries": library_versions(),
            **self.spec.extra_manifest,
        }

    def _export(self, path: Path, manifest: dict) -> None:
        """The LoRA as inference loaders expect it. alpha/rank is folded into the up weights,
        so every loader (whatever alpha it assumes) applies the trained scale."""
        from peft.utils import get_peft_model_state_dict
        from safetensors.torch import save_file

        scale = self.spec.alpha / self.spec.rank
        tensors = {}
        for prefix, module in self.trained:
            for key, value in get_peft_model_state_dict(module).items():
                value = value.detach().float().cpu().contiguous()
                if ".lora_B." in key:
                    value = value * scale
                tensors[f"{prefix}.{key}"] = value
        if self.spec.naming == "kohya":
            tensors = _to_kohya(tensors)
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = path.with_suffix(".partial")
        metadata = {MANIFEST_KEY: json.dumps(manifest, default=str), "format": "pt"}
        save_file(tensors, str(temporary), metadata=metadata)
        temporary.replace(path)


def _to_kohya(tensors: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """diffusers/peft names -> kohya names (``lora_unet_<path>``, ``lora_te1_``, ``lora_te2_``
    with ``lora_down``/``lora_up`` and an ``alpha`` equal to the rank: the scale is folded)."""
    prefixes = {"unet.": "lora_unet_", "text_encoder.": "lora_te1_", "text_encoder_2.": "lora_te2_"}
    out = {}
    for key, value in tensors.items():
        prefix = next(p for p in sorted(prefixes, key=len, reverse=True) if key.startswith(p))
        module, _, kind = key[len(prefix) :].rpartition(".lora_")
        name = prefixes[prefix] + module.replace(".", "_")
        if kind == "A.weight":
            out[f"{name}.lora_down.weight"] = value
            out[f"{name}.alpha"] = torch.tensor(float(value.shape[0]))
        else:
            out[f"{name}.lora_up.weight"] = value
    return out


def read_training_manifest(path: Path) -> dict | None:
    """The manifest a trained LoRA carries in its safetensors metadata (None if absent)."""
    header = read_safetensors_header(Path(path))
    raw = header.get("__metadata__", {}).get(MANIFEST_KEY)
    return json.loads(raw) if raw else None


def checkpoint_step(path: Path) -> int:
    header = read_safetensors_header(Path(path))
    return json.loads(header["__metadata__"][CHECKPOINT_KEY])["step"]


def _hyperparameters(spec: TrainingSpec) -> dict:
    skipped = ("images", "extra_manifest", "model", "sample_prompts")
    return {
        item.name: getattr(spec, item.name) for item in fields(spec) if item.name not in skipped
    }


def _step_seed(seed: int, step: int) -> int:
    digest = hashlib.sha256(f"{seed}:{step}".encode()).digest()
    return int.from_bytes(digest[:8], "little") & (2**63 - 1)


def _to_array(image):
    import numpy as np

    return np.asarray(image, dtype=np.uint8).copy()


def _bitsandbytes_available() -> bool:
    import importlib.util

    return importlib.util.find_spec("bitsandbytes") is not None


__all__ = [
    "Checkpoint",
    "StepReport",
    "TrainingCancelled",
    "TrainingPaused",
    "TrainingResult",
    "checkpoint_step",
    "read_training_manifest",
    "train_lora",
]
