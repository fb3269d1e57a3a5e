"""Tiny random-weight models, built in code, for tests, CI and the demo.

They have the real architectures (SDXL UNet with text-time conditioning, two CLIP text
encoders, a VAE with SDXL's 8x downscale) at a few hundred kilobytes, are saved with
``save_pretrained`` and are loaded back through the production loaders, so every code path
that real weights take is exercised. Their images are noise. ``build_tiny_models`` adds the
attachments: ControlNet and Union ControlNet, IP-Adapter with its CLIP image encoder, LoRAs in
diffusers and kohya naming, and a single-file (original layout) checkpoint.
"""

from __future__ import annotations

from pathlib import Path

import torch

TINY_SDXL_DIRNAME = "tiny-sdxl"
_SEED = 0


def _bytes_to_unicode() -> dict[int, str]:
    """GPT-2/CLIP's reversible byte -> printable unicode table."""
    printable = (
        list(range(ord("!"), ord("~") + 1))
        + list(range(ord("\u00a1"), ord("\u00ac") + 1))
        + list(range(ord("\u00ae"), ord("\u00ff") + 1))
    )
    codes = printable[:]
    extra = 0
    for byte in range(256):
        if byte not in printable:
            printable.append(byte)
            codes.append(256 + extra)
            extra += 1
    return dict(zip(printable, (chr(c) for c in codes), strict=True))


def build_clip_tokenizer(directory: Path) -> Path:
    """Write a byte-level CLIP tokenizer (no merges) so prompts tokenize without downloads."""
    from transformers import CLIPTokenizer

    directory.mkdir(parents=True, exist_ok=True)
    symbols = list(_bytes_to_unicode().values())
    vocab: dict[str, int] = {}
    for symbol in symbols + [s + "</w>" for s in symbols]:
        vocab.setdefault(symbol, len(vocab))
    for special in ("<|startoftext|>", "<|endoftext|>"):
        vocab[special] = len(vocab)
    tokenizer = CLIPTokenizer(vocab=vocab, merges=[], model_max_length=77)
    tokenizer.save_pretrained(directory)
    return directory


def _tiny_text_encoders(vocab_size: int):
    """CLIP-L-like and bigG-like text encoders. Their widths differ (32 and 48) as in SDXL
    (768 and 1280): single-file loading tells the two apart by that width."""
    from transformers import CLIPTextConfig, CLIPTextModel, CLIPTextModelWithProjection

    def config(hidden_size: int) -> CLIPTextConfig:
        return CLIPTextConfig(
            bos_token_id=vocab_size - 2,
            eos_token_id=vocab_size - 1,
            pad_token_id=vocab_size - 1,
            hidden_size=hidden_size,
            intermediate_size=37,
            layer_norm_eps=1e-05,
            num_attention_heads=4,
            num_hidden_layers=2,
            vocab_size=vocab_size,
            hidden_act="gelu",
            projection_dim=32,
        )

    return CLIPTextModel(config(32)), CLIPTextModelWithProjection(config(48))


def _tiny_unet():
    from diffusers import UNet2DConditionModel

    return UNet2DConditionModel(
        block_out_channels=(32, 64),
        layers_per_block=1,
        sample_size=32,
        in_channels=4,
        out_channels=4,
        down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"),
        up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"),
        attention_head_dim=(2, 4),
        use_linear_projection=True,
        addition_embed_type="text_time",
        addition_time_embed_dim=8,
        transformer_layers_per_block=(1, 1),
        projection_class_embeddings_input_dim=80,  # 6 time ids * 8 + pooled text (32)
        cross_attention_dim=80,  # both text encoders' hidden states (32 + 48), concatenated
        norm_num_groups=8,
    )


def _tiny_vae():
    from diffusers import AutoencoderKL

    # Four blocks give SDXL's 8x latent downscale, so sizes behave as with real weights.
    return AutoencoderKL(
        block_out_channels=[8, 8, 16, 16],
        in_channels=3,
        out_channels=3,
        down_block_types=["DownEncoderBlock2D"] * 4,
        up_block_types=["UpDecoderBlock2D"] * 4,
        latent_channels=4,
        norm_num_groups=8,
        sample_size=128,
    )


def build_tiny_sdxl(directory: Path, seed: int = _SEED) -> Path:
    """Build and save a tiny random SDXL pipeline in ``directory`` (diffusers layout); another
    ``seed`` gives another checkpoint of the same shape (the demo's second model)."""
    from diffusers import EulerDiscreteScheduler, StableDiffusionXLPipeline
    from transformers import CLIPTokenizer

    directory = Path(directory)
    torch.manual_seed(seed)
    tokenizer_dir = build_clip_tokenizer(directory / "_tokenizer_build")
    tokenizer = CLIPTokenizer.from_pretrained(tokenizer_dir)
    text_encoder, text_encoder_2 = _tiny_text_encoders(len(tokenizer))
    scheduler = EulerDiscreteScheduler(
        beta_start=0.00085,
        beta_end=0.012,
        beta_schedule="scaled_linear",
        timestep_spacing="leading",
        steps_offset=1,
    )
    pipeline = StableDiffusionXLPipeline(
        vae=_tiny_vae(),
        text_encoder=text_encoder,
        text_encoder_2=text_encoder_2,
        tokenizer=tokenizer,
        tokenizer_2=tokenizer,
        unet=_tiny_unet(),
        scheduler=scheduler,
    )
    pipeline.save_pretrained(directory, safe_serialization=True)
    _remove_tree(tokenizer_dir)
    return directory


def ensure_tiny_sdxl(models_dir: Path) -> Path:
    """Return the tiny SDXL directory under ``models_dir``, building it once."""
    target = Path(models_dir) / TINY_SDXL_DIRNAME
    if not (target / "model_index.json").exists():
        build_tiny_sdxl(target)
    return target


def _remove_tree(path: Path) -> None:
    import shutil

    shutil.rmtree(path, ignore_errors=True)


def build_tiny_models(directory: Path) -> dict[str, Path]:
    """Build every tiny model the engine uses under ``directory`` and return their paths.

    Keys: sdxl, controlnet, controlnet_union, ip_adapter (weights file; its image encoder sits
    in ``image_encoder/`` beside it), lora_a, lora_b (diffusers naming), lora_kohya, and
    single_file (the tiny SDXL as one original-layout checkpoint; config dir: sdxl).
    """
    from diffusers import UNet2DConditionModel
    from transformers import CLIPTextModel, CLIPTextModelWithProjection

    from .single_file_export import export_single_file
    from .tiny_attachments import (
        build_tiny_controlnet,
        build_tiny_ip_adapter,
        build_tiny_lora_diffusers,
        build_tiny_lora_kohya,
        build_tiny_union_controlnet,
    )

    directory = Path(directory)
    sdxl = ensure_tiny_sdxl(directory)
    unet = UNet2DConditionModel.from_pretrained(sdxl / "unet")
    encoders = (
        CLIPTextModel.from_pretrained(sdxl / "text_encoder"),
        CLIPTextModelWithProjection.from_pretrained(sdxl / "text_encoder_2"),
    )
    loras = directory / "loras"
    loras.mkdir(parents=True, exist_ok=True)
    return {
        "sdxl": sdxl,
        "controlnet": build_tiny_controlnet(unet, directory / "tiny-controlnet"),
        "controlnet_union": build_tiny_union_controlnet(unet, directory / "tiny-controlnet-union"),
        "ip_adapter": build_tiny_ip_adapter(unet, directory / "tiny-ip-adapter"),
        "lora_a": build_tiny_lora_diffusers(unet, encoders, loras / "lora_a.safetensors", 11),
        "lora_b": build_tiny_lora_diffusers(unet, encoders, loras / "lora_b.safetensors", 12),
        "lora_kohya": build_tiny_lora_kohya(unet, encoders, loras / "lora_kohya.safetensors", 13),
        "single_file": export_single_file(sdxl, directory / "tiny-sdxl-single.safetensors"),
    }
