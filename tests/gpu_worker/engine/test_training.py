"""LoRA training on the tiny SDXL: the loss falls, a resumed run equals an uninterrupted one,
the file passes the validator and changes pixels through the engine's LoRA loader."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image
from safetensors.torch import load_file

from gpu_worker.engine.devices import DeviceProfile
from gpu_worker.engine.lora import resolve_lora
from gpu_worker.engine.spec import LoraSpec
from gpu_worker.engine.training.data import batch_schedule, bucket_for, buckets, prepare_image
from gpu_worker.engine.training.spec import TrainingImage, TrainingSpec
from gpu_worker.engine.training.trainer import (
    TrainingCancelled,
    TrainingPaused,
    checkpoint_step,
    read_training_manifest,
    train_lora,
)
from gpu_worker.engine.weights import read_safetensors_header
from tests.fixtures.engine import max_diff, pattern_image, pixels

CPU = DeviceProfile("cpu", torch.float32)


@pytest.fixture
def training_spec(tiny_models):
    def build(**overrides) -> TrainingSpec:
        # Two images: each costs its encoding and five UNet passes of each evaluation loss
        # (the first and the last) in every run.
        images = tuple(
            TrainingImage(pattern_image(index, 96), f"a photo of zkx person {index}")
            for index in range(2)
        )
        values = {
            "model": str(tiny_models["sdxl"]),
            "images": images,
            "rank": 4,
            "alpha": 4.0,
            "learning_rate": 5e-3,
            "steps": 30,
            "resolution": 64,
            "seed": 7,
        }
        values.update(overrides)
        return TrainingSpec(**values)

    return build


def test_thirty_steps_lower_the_loss_on_fixed_noise(training_spec, tmp_path):
    steps = []
    result = train_lora(
        training_spec(), tmp_path / "zkx.safetensors", profile=CPU, on_step=steps.append
    )
    assert result.final_loss < result.initial_loss
    assert [report.step for report in steps] == list(range(1, 31))
    assert all(report.loss > 0 and report.eta_s >= 0 for report in steps)
    manifest = read_training_manifest(result.path)
    assert manifest["steps"] == 30 and manifest["final_loss"] == round(result.final_loss, 6)
    assert manifest["base_model_sha256"] and len(manifest["data"]) == 2
    assert manifest["hyperparameters"]["rank"] == 4 and manifest["resumed_from_steps"] == []


def test_same_seed_same_lora(training_spec, tmp_path):
    first = train_lora(training_spec(steps=4), tmp_path / "a.safetensors", profile=CPU)
    second = train_lora(training_spec(steps=4), tmp_path / "b.safetensors", profile=CPU)
    a, b = load_file(first.path), load_file(second.path)
    assert a.keys() == b.keys() and all(torch.equal(a[key], b[key]) for key in a)


def test_resume_from_a_checkpoint_equals_the_uninterrupted_run(training_spec, tmp_path):
    spec = training_spec(steps=12, checkpoint_every=5)
    whole = train_lora(spec, tmp_path / "whole" / "lora.safetensors", profile=CPU)

    checkpoints = []

    def stop_at_seven(report):
        if report.step == 7:
            raise TrainingCancelled("stopped on purpose")

    with pytest.raises(TrainingCancelled):
        train_lora(
            spec,
            tmp_path / "cut" / "lora.safetensors",
            profile=CPU,
            on_step=stop_at_seven,
            on_checkpoint=checkpoints.append,
        )
    assert [checkpoint.step for checkpoint in checkpoints] == [5]
    assert not (tmp_path / "cut" / "lora.safetensors").exists()  # a cancelled run writes none
    assert checkpoint_step(checkpoints[0].path) == 5

    resumed = train_lora(
        spec, tmp_path / "resumed.safetensors", profile=CPU, resume_from=checkpoints[0].path
    )
    assert resumed.steps_run == 7 and resumed.resumed_from == 5
    assert resumed.loss_history == whole.loss_history
    a, b = load_file(whole.path), load_file(resumed.path)
    assert all(torch.equal(a[key], b[key]) for key in a)
    assert read_training_manifest(resumed.path)["resumed_from_steps"] == [5]


def test_a_run_paused_between_steps_resumes_to_the_uninterrupted_result(training_spec, tmp_path):
    spec = training_spec(steps=8, checkpoint_every=3)
    whole = train_lora(spec, tmp_path / "whole" / "lora.safetensors", profile=CPU)

    reached, checkpoints = [], []
    with pytest.raises(TrainingPaused) as paused:
        train_lora(
            spec,
            tmp_path / "paused" / "lora.safetensors",
            profile=CPU,
            on_step=lambda report: reached.append(report.step),
            on_checkpoint=checkpoints.append,
            should_pause=lambda: reached[-1] == 5,
        )
    # Step 5 is no regular checkpoint: the pause wrote one (without samples) and stopped.
    assert paused.value.step == 5 and reached == list(range(1, 6))
    assert [checkpoint.step for checkpoint in checkpoints] == [3, 5]
    assert checkpoint_step(paused.value.checkpoint) == 5
    assert not (tmp_path / "paused" / "lora.safetensors").exists()

    resumed = train_lora(
        spec, tmp_path / "resumed.safetensors", profile=CPU, resume_from=paused.value.checkpoint
    )
    assert resumed.steps_run == 3 and resumed.loss_history == whole.loss_history
    a, b = load_file(whole.path), load_file(resumed.path)
    assert all(torch.equal(a[key], b[key]) for key in a)


def test_trained_lora_passes_the_validator_and_changes_pixels(
    training_spec, tmp_path, engine, make_spec
):
    result = train_lora(
        training_spec(train_text_encoder=True, steps=10),
        tmp_path / "trained.safetensors",
        profile=CPU,
    )
    header = read_safetensors_header(result.path)
    names = [name for name in header if name != "__metadata__"]
    assert any(name.startswith("unet.") and ".lora_A." in name for name in names)
    assert any(name.startswith("text_encoder_2.") for name in names)
    assert resolve_lora(LoraSpec(str(result.path), 1.0)).size_bytes > 0

    plain = engine.generate(make_spec())
    applied = engine.generate(make_spec(loras=(LoraSpec(str(result.path), 1.0),)))
    zero = engine.generate(make_spec(loras=(LoraSpec(str(result.path), 0.0),)))
    assert max_diff(plain, applied) > 0
    assert np.array_equal(pixels(plain), pixels(zero))


def test_kohya_naming_loads_into_every_module(training_spec, tmp_path, engine, make_spec):
    result = train_lora(
        training_spec(train_text_encoder=True, steps=3, naming="kohya"),
        tmp_path / "kohya.safetensors",
        profile=CPU,
    )
    names = set(load_file(result.path))
    assert any(name.startswith("lora_unet_") for name in names)
    assert any(name.startswith("lora_te2_") and name.endswith(".alpha") for name in names)
    spec = make_spec(loras=(LoraSpec(str(result.path), 1.0, name="trainedkohya"),))
    assert max_diff(engine.generate(spec), engine.generate(make_spec())) > 0


def test_checkpoints_carry_samples(training_spec, tmp_path):
    checkpoints = []
    result = train_lora(
        training_spec(steps=4, checkpoint_every=2, sample_prompts=("zkx person",), sample_steps=2),
        tmp_path / "s.safetensors",
        profile=CPU,
        on_checkpoint=checkpoints.append,
    )
    assert [c.step for c in checkpoints] == [2]
    prompt, image = checkpoints[0].samples[0]
    assert prompt == "zkx person" and image.size == (64, 64)
    assert len(result.samples) == 1


def test_buckets_keep_the_aspect_ratio():
    assert bucket_for((600, 900), 1024) in buckets(1024)
    width, height = bucket_for((600, 900), 1024)
    assert height > width and abs(width * height - 1024 * 1024) < 0.1 * 1024 * 1024
    assert bucket_for((1000, 1000), 1024) == (1024, 1024)
    assert bucket_for((1600, 900), 1024)[0] > 1024


def test_crop_is_centred_on_the_face():
    image = Image.new("RGB", (400, 200), "black")
    face = (300, 50, 380, 150)
    crop, (top, left) = prepare_image(image, (128, 128), face_box=face)
    assert crop.size == (128, 128)
    # Scaled by 128/200: the face centre at x=340 -> 217.6; the crop keeps it inside.
    assert left <= 217.6 <= left + 128 and left > 0


def test_batches_stay_in_one_bucket_and_follow_the_seed():
    buckets_of = [(64, 64), (64, 64), (64, 128), (64, 128), (64, 64)]
    schedule = batch_schedule(buckets_of, batch_size=2, steps=20, seed=3)
    assert len(schedule) == 20
    assert all(len({buckets_of[i] for i in batch}) == 1 for batch in schedule)
    assert schedule == batch_schedule(buckets_of, batch_size=2, steps=20, seed=3)
    assert schedule != batch_schedule(buckets_of, batch_size=2, steps=20, seed=4)


def test_gradient_checkpointing_trains_the_same_lora(training_spec, tmp_path):
    plain = train_lora(training_spec(steps=3), tmp_path / "a.safetensors", profile=CPU)
    checkpointed = train_lora(
        training_spec(steps=3, gradient_checkpointing=True),
        tmp_path / "b.safetensors",
        profile=CPU,
    )
    assert read_training_manifest(checkpointed.path)["gradient_checkpointing"] is True
    a, b = load_file(plain.path), load_file(checkpointed.path)
    ups = [key for key in a if ".lora_B." in key]
    assert any(a[key].abs().sum() > 0 for key in ups)  # the LoRA learned something
    assert all(torch.allclose(a[key], b[key], atol=1e-5) for key in a)


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_mixed_precision_training_on_cuda(training_spec, tmp_path):
    from gpu_worker.engine.devices import select_device

    checkpoints = []
    result = train_lora(
        training_spec(steps=12, checkpoint_every=6, sample_prompts=("zkx",), sample_steps=2),
        tmp_path / "cuda.safetensors",
        profile=select_device("cuda"),
        on_checkpoint=checkpoints.append,
    )
    manifest = read_training_manifest(result.path)
    assert manifest["precision"] in ("bfloat16", "float16")
    assert manifest["gradient_checkpointing"] is True
    assert all(np.isfinite(loss) for loss in result.loss_history)
    assert load_file(result.path)  # weights stored in fp32, on the CPU
    resumed = train_lora(
        training_spec(steps=12, checkpoint_every=6, sample_prompts=("zkx",), sample_steps=2),
        tmp_path / "resumed.safetensors",
        profile=select_device("cuda"),
        resume_from=checkpoints[0].path,
    )
    assert resumed.steps_run == 6 and resumed.resumed_from == 6
