"""Full-size SDXL base architecture with random weights, for GPU speed and memory measurement.

The configs below are SDXL base 1.0's published ones (UNet 2.57B parameters, CLIP ViT-L and
OpenCLIP ViT-bigG text encoders, the SDXL VAE), written here so nothing is downloaded. Compute
and memory match the real model; the images are noise. The tokenizer is the byte-level one of
``tiny_models`` (prompts are padded to 77 tokens either way, so the cost is the same).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

SDXL_UNET_CONFIG: dict[str, Any] = {
    "sample_size": 128,
    "in_channels": 4,
    "out_channels": 4,
    "down_block_types": ("DownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D"),
    "up_block_types": ("CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "UpBlock2D"),
    "block_out_channels": (320, 640, 1280),
    "layers_per_block": 2,
    "transformer_layers_per_block": (1, 2, 10),
    "attention_head_dim": (5, 10, 20),
    "cross_attention_dim": 2048,
    "use_linear_projection": True,
    "addition_embed_type": "text_time",
    "addition_time_embed_dim": 256,
    "projection_class_embeddings_input_dim": 2816,  # 6 time ids * 256 + pooled bigG (1280)
    "norm_num_groups": 32,
    "norm_eps": 1e-5,
    "act_fn": "silu",
    "flip_sin_to_cos": True,
    "freq_shift": 0,
}

CLIP_VIT_L_TEXT_CONFIG: dict[str, Any] = {
    "hidden_size": 768,
    "intermediate_size": 3072,
    "num_attention_heads": 12,
    "num_hidden_layers": 12,
    "projection_dim": 768,
    "hidden_act": "quick_gelu",
    "max_position_embeddings": 77,
    "vocab_size": 49408,
}

OPENCLIP_BIGG_TEXT_CONFIG: dict[str, Any] = {
    "hidden_size": 1280,
    "intermediate_size": 5120,
    "num_attention_heads": 20,
    "num_hidden_layers": 32,
    "projection_dim": 1280,
    "hidden_act": "gelu",
    "max_position_embeddings": 77,
    "vocab_size": 49408,
}

SDXL_VAE_CONFIG: dict[str, Any] = {
    "in_channels": 3,
    "out_channels": 3,
    "down_block_types": ("DownEncoderBlock2D",) * 4,
    "up_block_types": ("UpDecoderBlock2D",) * 4,
    "block_out_channels": (128, 256, 512, 512),
    "layers_per_block": 2,
    "latent_channels": 4,
    "norm_num_groups": 32,
    "sample_size": 1024,
    "scaling_factor": 0.13025,
    "force_upcast": True,
}

SDXL_SCHEDULER_CONFIG: dict[str, Any] = {
    "beta_start": 0.00085,
    "beta_end": 0.012,
    "beta_schedule": "scaled_linear",
    "num_train_timesteps": 1000,
    "prediction_type": "epsilon",
    "steps_offset": 1,
    "timestep_spacing": "leading",
    "interpolation_type": "linear",
    "use_karras_sigmas": False,
}

SDXL_UNET_PARAMETERS = 2_567_463_684  # published SDXL base UNet parameter count


def unet_parameter_count() -> int:
    """Parameters of the SDXL UNet, counted on the meta device (no memory, no weights)."""
    from diffusers import UNet2DConditionModel

    with torch.device("meta"):
        unet = UNet2DConditionModel(**SDXL_UNET_CONFIG)
    return sum(parameter.numel() for parameter in unet.parameters())


def _text_config(base: dict[str, Any], tokenizer):
    from transformers import CLIPTextConfig

    return CLIPTextConfig(
        **base,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    )


def build_full_size_pipeline(
    device: str = "cuda", dtype: torch.dtype = torch.float16, tokenizer_dir: Path | None = None
):
    """An in-memory SDXL base pipeline with random weights, built directly on ``device``."""
    import tempfile

    from diffusers import (
        AutoencoderKL,
        EulerDiscreteScheduler,
        StableDiffusionXLPipeline,
        UNet2DConditionModel,
    )
    from transformers import CLIPTextModel, CLIPTextModelWithProjection, CLIPTokenizer

    from .tiny_models import build_clip_tokenizer

    with tempfile.TemporaryDirectory() as scratch:
        tokenizer = CLIPTokenizer.from_pretrained(
            build_clip_tokenizer(Path(tokenizer_dir or scratch) / "tokenizer")
        )
    torch.manual_seed(0)
    # Built on the target device: random init of 3.5B parameters is seconds on a GPU.
    with torch.device(device):
        unet = UNet2DConditionModel(**SDXL_UNET_CONFIG).to(dtype)
        text_encoder = CLIPTextModel(_text_config(CLIP_VIT_L_TEXT_CONFIG, tokenizer)).to(dtype)
        text_encoder_2 = CLIPTextModelWithProjection(
            _text_config(OPENCLIP_BIGG_TEXT_CONFIG, tokenizer)
        ).to(dtype)
        vae = AutoencoderKL(**SDXL_VAE_CONFIG).to(dtype)
    pipeline = StableDiffusionXLPipeline(
        vae=vae,
        text_encoder=text_encoder,
        text_encoder_2=text_encoder_2,
        tokenizer=tokenizer,
        tokenizer_2=tokenizer,
        unet=unet,
        scheduler=EulerDiscreteScheduler(**SDXL_SCHEDULER_CONFIG),
        add_watermarker=False,
    )
    pipeline.set_progress_bar_config(disable=True)
    return pipeline


def build_full_size_random(
    directory: Path, device: str | None = None, dtype: torch.dtype = torch.float16
) -> Path:
    """Save a random-weight full-size SDXL (about 7 GB in fp16) as a diffusers directory,
    loadable by the production loader like a downloaded model."""
    directory = Path(directory)
    device = device or ("cuda" if torch.cuda.is_available() else "cpu")
    pipeline = build_full_size_pipeline(device, dtype)
    pipeline.to("cpu")
    pipeline.save_pretrained(directory, safe_serialization=True)
    del pipeline
    if torch.cuda.is_available():
        torch.cuda.empty_cache()
    return directory
