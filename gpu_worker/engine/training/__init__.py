"""LoRA training on SDXL, a sibling of generation: a plain ``TrainingSpec`` in, a LoRA
``.safetensors`` file and a training manifest out. No Django.

Public API
----------
- ``spec.TrainingSpec`` / ``spec.TrainingImage``: the model, the images with captions (and an
  optional face box per image), rank/alpha, learning rate, steps, resolution, batch size,
  seed, whether the text encoders train, SNR gamma, checkpoint interval, sample prompts.
- ``trainer.train_lora(spec, output_path, *, device=None, on_step=None, on_checkpoint=None,
  resume_from=None) -> TrainingResult``. ``on_step(StepReport)`` may raise
  ``errors.TrainingCancelled`` to stop within a step; ``on_checkpoint(Checkpoint)`` receives a
  checkpoint file (LoRA weights, optimizer state, step, RNG) and the sample images made at it;
  ``resume_from`` is such a file, and training continues from its step exactly as if it had
  never stopped.
- ``data.bucket_for`` / ``data.prepare_image``: aspect-ratio buckets and face-centred crops.

Example::

    from gpu_worker.engine.training.spec import TrainingImage, TrainingSpec
    from gpu_worker.engine.training.trainer import train_lora

    spec = TrainingSpec(model="stabilityai/stable-diffusion-xl-base-1.0",
                        images=tuple(TrainingImage(img, "a photo of zkx person") for img in imgs),
                        rank=16, alpha=16, learning_rate=1e-4, steps=1000, resolution=1024)
    result = train_lora(spec, Path("zkx.safetensors"), on_step=print)
    result.manifest["final_loss"]

The output uses diffusers/peft naming (``unet.<module>.lora_A.weight``; ``naming="kohya"``
writes ``lora_unet_..`` names with ``.alpha``), so diffusers' ``load_lora_weights``, ComfyUI
and A1111 read it; the manifest sits in the safetensors metadata under ``illu_training``.
"""
