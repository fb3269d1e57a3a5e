"""The bridge between the training engine and Django: load the run, fetch its images, train
(resuming from the stored checkpoint), store checkpoints and samples as they come, register the
LoRA through the registry's validator. RQ calls ``run_training_job`` with the row id only."""

from __future__ import annotations

import io
import logging
import shutil
import tempfile
import time
from pathlib import Path

from django.conf import settings
from django.core.files import File
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import transaction
from django.utils.text import slugify

from catalog.models import LoraType
from catalog.services import lora_register
from core.log_context import job_log_context
from training.models import SourceKind, TrainingRun
from training.services import training_mark_succeeded, training_record_checkpoint
from training.work_kind import TRAINING_QUEUE, TRAININGS
from work.lifecycle import work_claim
from work.models import WorkStatus
from work.redis_channel import cancel_requested, publish_event

from .assets import storage_image
from .engine.training.spec import TrainingImage, TrainingSpec
from .engine.training.trainer import (
    Checkpoint,
    StepReport,
    TrainingCancelled,
    train_lora,
)
from .failures import StorageError, settle
from .image_wait import ImageWaitCheck, image_queues_before_training
from .runtime import get_engine, resolve_model_source, worker_identity

logger = logging.getLogger(__name__)


def run_training_job(run_id: str) -> dict:
    owner = TrainingRun.objects.filter(pk=run_id).values_list("owner__username", flat=True)
    with job_log_context(run_id, owner.first() or "", TRAINING_QUEUE):
        return _run_training(run_id)


class TrainingReporter:
    """Per step: the cancel flag (raising stops the run within the step) and throttled
    progress with the loss and ETA on the job's Redis hash and SSE channel (``paused``
    false: a paused run's progress comes from its row)."""

    def __init__(self, run: TrainingRun):
        self.run_id = str(run.id)
        self.min_interval = 1.0 / settings.ILLU_PROGRESS_MAX_EVENTS_PER_SECOND
        self._last_event = 0.0

    def __call__(self, report: StepReport) -> None:
        if cancel_requested(self.run_id):
            raise TrainingCancelled(f"Training {self.run_id} was cancelled at step {report.step}.")
        now = time.monotonic()
        if report.step != report.total and now - self._last_event < self.min_interval:
            return
        self._last_event = now
        publish_event(
            self.run_id,
            "progress",
            {
                "step": report.step,
                "total": report.total,
                "fraction": round(report.step / report.total, 4),
                "loss": report.loss,
                "eta_s": report.eta_s,
                "paused": False,
            },
        )


def served_queue_names() -> list[str]:
    """The queues of the RQ worker running this training, in the order it serves them
    (empty outside a worker)."""
    from rq import Worker, get_current_job
    from rq.serializers import JSONSerializer

    from work.redis_queue import get_redis

    current = get_current_job()
    if current is None or not current.worker_name:
        return []
    key = Worker.redis_worker_namespace_prefix + current.worker_name
    worker = Worker.find_by_key(key, connection=get_redis(), serializer=JSONSerializer)
    return worker.queue_names() if worker is not None else []


def _run_training(run_id: str) -> dict:
    if not work_claim(TRAININGS, row_id=run_id, worker_name=worker_identity()):
        status = TrainingRun.objects.filter(pk=run_id).values_list("status", flat=True).first()
        logger.info("training %s not started: status is %s", run_id, status)
        return {"skipped": status}
    run = TrainingRun.objects.get(pk=run_id)
    work_dir = Path(tempfile.mkdtemp(prefix=f"training-{run.id}-"))
    try:
        return _train(run, work_dir)
    except Exception as exc:
        return settle(TRAININGS, run_id, exc)
    finally:
        shutil.rmtree(work_dir, ignore_errors=True)


def _train(run: TrainingRun, work_dir: Path) -> dict:
    spec = build_training_spec(run)
    resume = _download_checkpoint(run, work_dir) if run.checkpoint_key else None
    output = work_dir / "lora.safetensors"
    engine = get_engine()
    if engine.profile.device.startswith("cuda") and engine.pipelines.memory.name != "large":
        # Training loads its own copy of the model; below 80 GB the warm inference pipelines
        # make room (they load again for the next image job).
        engine.pipelines.unload_all()
    result = train_lora(
        spec,
        output,
        profile=engine.profile,
        on_step=TrainingReporter(run),
        on_checkpoint=lambda checkpoint: _store_checkpoint(run, checkpoint),
        resume_from=resume,
        work_dir=work_dir,
        # Image jobs go first: past ILLU_TRAINING_YIELD_AFTER_SECONDS of waiting, the run
        # checkpoints and goes back to the queue (TrainingPaused, gpu_worker.failures).
        should_pause=ImageWaitCheck(image_queues_before_training(served_queue_names())),
    )
    if cancel_requested(str(run.id)):  # cancelled after the last step: still no LoRA
        raise TrainingCancelled(f"Training {run.id} was cancelled.")
    samples = _store_samples(run, result.samples, result.manifest["steps"])
    manifest = {**result.manifest, "base_model": run.params["model"]}
    if not _register(run, output, manifest, samples):
        _delete_keys([sample["key"] for sample in samples])
        return {"status": "discarded"}
    logger.info(
        "training %s succeeded: loss %.4f -> %.4f", run.id, result.initial_loss, result.final_loss
    )
    return {"status": WorkStatus.SUCCEEDED, "final_loss": result.final_loss}


def build_training_spec(run: TrainingRun) -> TrainingSpec:
    params = run.params
    face_crop = run.lora_type == LoraType.CHARACTER
    images = tuple(
        TrainingImage(image, item["caption"], _face_box(image) if face_crop else None)
        for item, image in ((item, _source_image(item)) for item in run.images)
    )
    return TrainingSpec(
        model=resolve_model_source(params["model"]),
        images=images,
        rank=params["rank"],
        alpha=params["alpha"],
        learning_rate=params["learning_rate"],
        steps=params["steps"],
        resolution=params["resolution"],
        batch_size=params["batch_size"],
        seed=params["seed"],
        train_text_encoder=params["train_text_encoder"],
        snr_gamma=params.get("snr_gamma"),
        checkpoint_every=params["checkpoint_every"],
        sample_prompts=tuple(params.get("sample_prompts", ())),
        sample_steps=params.get("sample_steps", 20),
        naming=params.get("naming", "diffusers"),
        face_crop=face_crop,
        # The run id makes every trained file unique: the registry dedupes files by sha256,
        # and two users' identical trainings must never share one private LoRA.
        extra_manifest={
            "training_run": str(run.id),
            "trigger_word": run.trigger_word,
            "lora_type": run.lora_type,
        },
    )


def _source_image(item: dict):
    if item["kind"] == SourceKind.REFERENCE:
        from characters.models import ReferenceImage

        record = ReferenceImage.objects.filter(pk=item["id"]).first()
        return storage_image(record.image.name if record else "", "reference")
    from generation.models import Upload

    record = Upload.objects.filter(pk=item["id"]).first()
    return storage_image(record.image.name if record else "", "training")


def _face_box(image) -> tuple[float, float, float, float] | None:
    """The largest face's box, to crop around it; None (a centre crop) when there is none."""
    from .engine.identity import load_face_embedder

    try:
        faces = load_face_embedder(settings.ILLU_IDENTITY_BACKEND).detect(image)
    except Exception:  # an identity backend that cannot load must not stop a training
        logger.warning("face detection unavailable; training on centre crops", exc_info=True)
        return None
    if not faces:
        return None
    largest = max(faces, key=lambda f: (f.bbox[2] - f.bbox[0]) * (f.bbox[3] - f.bbox[1]))
    return tuple(float(v) for v in largest.bbox)


def _checkpoint_key(run: TrainingRun, step: int) -> str:
    return f"trainings/{run.id}/checkpoint-{step:06d}.safetensors"


def _download_checkpoint(run: TrainingRun, work_dir: Path) -> Path:
    target = work_dir / "resume.safetensors"
    try:
        with default_storage.open(run.checkpoint_key, "rb") as source, open(target, "wb") as out:
            shutil.copyfileobj(source, out, 1 << 20)
    except Exception as exc:
        raise StorageError(f"Could not fetch checkpoint {run.checkpoint_key}: {exc}") from exc
    logger.info("training %s resumes from step %d", run.id, run.checkpoint_step)
    return target


def _store_checkpoint(run: TrainingRun, checkpoint: Checkpoint) -> None:
    """Upload the checkpoint and its samples, then point the row at them."""
    key = _checkpoint_key(run, checkpoint.step)
    try:
        with open(checkpoint.path, "rb") as handle:
            stored = default_storage.save(key, File(handle))
        samples = _store_samples(run, checkpoint.samples, checkpoint.step)
    except StorageError:
        raise
    except Exception as exc:
        raise StorageError(f"Could not store checkpoint {key}: {exc}") from exc
    history = _loss_history(checkpoint.path)
    previous = training_record_checkpoint(
        run_id=str(run.id),
        step=checkpoint.step,
        key=stored,
        samples=samples,
        loss_history=history,
    )
    if previous is None:  # the run ended meanwhile (cancelled): keep nothing
        _delete_keys([stored, *(sample["key"] for sample in samples)])
        raise TrainingCancelled(f"Training {run.id} ended while checkpointing.")
    if previous and previous != stored:
        _delete_keys([previous])
    checkpoint.path.unlink(missing_ok=True)


def _loss_history(path: Path) -> list[float]:
    import json

    from .engine.training.trainer import CHECKPOINT_KEY
    from .engine.weights import read_safetensors_header

    meta = read_safetensors_header(path)["__metadata__"][CHECKPOINT_KEY]
    return json.loads(meta)["loss_history"]


def _store_samples(run: TrainingRun, samples: list, step: int) -> list[dict]:
    stored = []
    try:
        for index, (prompt, image) in enumerate(samples):
            buffer = io.BytesIO()
            image.save(buffer, format="PNG")
            key = default_storage.save(
                f"trainings/{run.id}/samples/{step:06d}-{index}.png",
                ContentFile(buffer.getvalue()),
            )
            stored.append({"step": step, "prompt": prompt, "key": key})
    except Exception as exc:
        _delete_keys([item["key"] for item in stored])
        raise StorageError(f"Could not store sample images: {exc}") from exc
    return stored


def _register(run: TrainingRun, output: Path, manifest: dict, samples: list[dict]) -> bool:
    """The LoRA enters the registry through the upload validator, private to the owner, and
    the run succeeds in the same transaction; a run that ended meanwhile keeps nothing."""
    slug = f"{slugify(run.trigger_word)[:60] or 'lora'}-{run.id.hex[:8]}"
    with transaction.atomic():
        with open(output, "rb") as handle:
            lora, created = lora_register(
                upload=File(handle, name=f"{slug}.safetensors"),
                slug=slug,
                name=run.name,
                type=run.lora_type,
                owner=run.owner,
                is_public=False,
                trigger_words=[run.trigger_word],
                default_weight=0.8,
            )
        succeeded = training_mark_succeeded(
            run_id=str(run.id),
            lora=lora,
            manifest=manifest,
            samples=samples,
            attach=run.attach_to_character,
        )
        if not succeeded:
            transaction.set_rollback(True)
    if not succeeded and created:
        default_storage.delete(lora.file.name)
    return succeeded


def _delete_keys(keys: list[str]) -> None:
    for key in keys:
        if key:
            default_storage.delete(key)
