"""The illustration engine: plain specs in, images and per-image manifests out.

Pure torch/diffusers code (no Django). One ``Engine`` per worker process keeps SDXL
pipelines, LoRA adapters, the IP-Adapter with its image encoder, ControlNets and the compiled
UNet warm between jobs.

Layout (walked one way)
-----------------------
- ``generate.Engine`` owns the warm state and is the way in. It hands each job to its run in
  ``runs/`` (``text``, ``batch``, ``edit`` for img2img and inpaint, ``upscale``,
  ``face_repair``, ``unchanged``), which uses the engine through two methods only:
  ``prepare`` (the warm pipeline made ready for its specs, back at rest when the run ends,
  however it ends) and ``denoise`` (one guarded pipeline call). Runs never import each other;
  their shared steps are ``runs/steps.py`` and ``runs/edit_pass.py``.
- ``results`` assembles every result and manifest; ``memory`` frees device memory and turns a
  CUDA out-of-memory error into ``OutOfMemory``; ``resting`` is what a pipeline holds between
  jobs (dtypes, attention processors from ``attention``, adapters disabled, IP-Adapter tokens
  out); ``compilation`` compiles the UNet at the served buckets, ``lora_slots`` hot-swaps
  LoRAs into it; ``views`` picks the pipeline class for a run.
- Below them: ``loading``, ``lora``, ``ip_adapter``, ``controlnet``, ``spec``, ``manifest``,
  ``schedulers``, ``masks``, ``tiles``, ``preview``, ``sources``, ``weights``.

Public API
----------
- ``generate.Engine(profile=None, config=None)``: ``.warm(model) -> load_ms``;
  ``.warm_up(model) -> {"load_ms", "compile_ms", "graphs", "buckets", "per_bucket"}`` (load,
  then compile every served bucket with ``config.compile_unet``);
  ``.generate(spec, on_step=None) -> GenerationResult``. ``on_step(step, total)`` may raise
  ``errors.GenerationCancelled`` to stop before the VAE decode.
  ``.generate_batch([batching.BatchMember(spec, on_step, on_preview)], preview_every=0)
  -> batching.BatchResult``: several specs in one pass (same model, size, steps, guidance,
  scheduler, LoRAs, and the same ControlNet/IP-Adapter setup or none), each with its own
  prompts, seeds, control and reference images; each result equals its solo ``generate``.
  ``.status()``: what is warm, and ``["compile"]`` = ``{"graphs_after_warmup",
  "eager_fallbacks", "buckets", ...}``; ``.resting_state(model)``: the state between jobs.
- ``batching.same_pass(lead, spec)``: whether two specs may share a pass.
- ``spec.GenerationSpec`` (``LoraSpec``, ``ControlSpec``), ``spec.GenerationResult``
  (``images: list[ImageOutput(image, seed, manifest)]``, ``load_ms``, ``inference_ms``,
  ``conditioning_images``, ``extra``).
- ``config.EngineConfig``: S3 endpoint/credentials and cache dir for ``s3://`` sources, a
  VAE, single-file config dir, memory profile override, the CUDA fast path (``FastPath``;
  ``on_cpu=True`` forces it on the CPU for tests), compilation (``compile_unet``,
  ``compile_buckets``, ``compile_mode``, ``compile_backend``, ``compile_cache_dir``), LoRA
  hot-swap (``lora_hotswap``, ``lora_hotswap_max_rank``), LoRA cache budget, the default
  IP-Adapter, the depth model, fp8 (``fp8.py``), size limits.
- Model sources everywhere: a local path, ``s3://``, or a hub id ``org/name[@rev][/path]``
  resolved in the Hugging Face cache (``hub.py``, ``sources.resolve_source``);
  ``published_layouts`` saves the tiny models in the published repositories' layouts.
- ``training.trainer.train_lora(TrainingSpec, output_path, ...)``: peft LoRA training of
  SDXL with checkpoints and exact resume (see ``training/__init__.py``).
- ``devices.select_device``, ``profiles.choose_memory_profile``, ``sources.resolve_source``,
  ``presets.memory_spec`` / ``presets.subject_spec``, ``tiny_models.build_tiny_models``,
  ``full_size.build_full_size_random``; failures are ``errors.EngineError`` subclasses with
  a ``code`` (``OutOfMemory``: the worker retries with the low-memory profile).

Examples
--------
Text to image::

    from gpu_worker.engine.generate import Engine
    from gpu_worker.engine.spec import GenerationSpec

    engine = Engine()
    result = engine.generate(GenerationSpec(
        model="stabilityai/stable-diffusion-xl-base-1.0", prompt="a lighthouse at dusk",
        negative_prompt="blurry", style_template="ink sketch of {prompt}", seeds=(1, 2),
        width=1024, height=768, steps=30, guidance_scale=5.0, scheduler="dpmpp_2m"))
    result.images[1].image.save("b.png")   # same pixels as a run with seeds=(2,)

LoRA (several, weighted; diffusers or kohya naming; kept loaded between jobs)::

    GenerationSpec(model=..., prompt="a fox", seeds=(7,), loras=(
        LoraSpec("/models/loras/house.safetensors", 0.8, trigger_words=("illu style",)),
        LoraSpec("/models/loras/character.safetensors", 0.6)))

IP-Adapter, memory mode (prompt + the user's avatar) and subject mode (portrait from a photo)::

    from gpu_worker.engine.presets import memory_spec, subject_spec

    memory_spec(model=..., prompt="our first picnic", avatar=avatar_image, seeds=(3,))
    subject_spec(model=..., photo=user_photo, seeds=(4,), ip_adapter_scale=0.5)
    # or directly: GenerationSpec(..., ip_adapter="/models/ip/ip-adapter_sdxl.safetensors",
    #                             ip_adapter_images=(avatar_image,), ip_adapter_scale=0.33)

ControlNet (single-type or SDXL Union; several controls, each with its scale)::

    GenerationSpec(model=..., prompt="a castle", seeds=(5,), controls=(
        ControlSpec(image=edges, model="/models/controlnet-union", kind="canny", scale=0.7),
        ControlSpec(image=photo, model="/models/controlnet-union", kind="depth", scale=0.4,
                    preprocess=True)))   # preprocess: run preprocessors.preprocess first

Editing modes (same spec, same warm pipeline; output = the source's size, times ``scale``)::

    GenerationSpec(model=..., prompt="at night", seeds=(6,), mode="img2img", source=photo,
                   width=photo.width, height=photo.height, strength=0.6)
    GenerationSpec(..., mode="inpaint", source=photo, mask=masks.rect_mask(photo.size,
                   (x, y, w, h)), mask_blur=8, mask_padding=32)     # outside: the source's pixels
    GenerationSpec(..., mode="upscale", source=photo, scale=4, width=4 * photo.width,
                   height=4 * photo.height, strength=0.3, tile_size=1024, tile_overlap=128)
    GenerationSpec(..., mode="face_repair", source=photo, strength=0.5,
                   face_boxes=face_loop.detect_face_boxes(embedder, photo))
    # strength=0 returns the source; upscale_method="lanczos" enlarges without a model.

Compilation (a GPU worker; the CPU tests use ``compile_backend="eager"``)::

    engine = Engine(config=EngineConfig(compile_unet=True, lora_hotswap=True,
                                        compile_buckets=((1024, 1024, 1), (1024, 1024, 4))))
    engine.warm_up(model)  # {"compile_ms": ..., "graphs": 4, ...}: plain and LoRA per bucket
    engine.generate(spec)  # compiled at a served bucket, eager elsewhere; never compiling
"""
