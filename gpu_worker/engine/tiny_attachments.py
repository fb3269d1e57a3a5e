"""Tiny attachments matching the tiny SDXL UNet: ControlNet, Union ControlNet, IP-Adapter
(with a CLIP vision image encoder) and LoRAs in diffusers/peft and kohya/SGM naming.

Built from the loaded tiny UNet and text encoders so every shape fits; saved the way the
published ones are, so the production loaders read them unchanged.
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch.nn import Conv2d

_SEED = 0

_IMAGE_EMBEDDING_GAIN = 8.0
_UNION_CONTROL_TYPES = 6  # xinsir union: openpose, depth, hed/scribble, canny/lineart, normal, seg


def _randomise_zero_convs(controlnet, generator: torch.Generator) -> None:
    """ControlNets start with zero output convs; random ones make a control visibly matter."""
    zero_modules = list(controlnet.controlnet_down_blocks) + [controlnet.controlnet_mid_block]
    extra = getattr(controlnet, "spatial_ch_projs", None)
    zero_modules += [extra] if extra is not None else []
    with torch.no_grad():
        for module in zero_modules:
            module.weight.copy_(torch.randn(module.weight.shape, generator=generator) * 0.1)
            if module.bias is not None:
                module.bias.zero_()
    _randomise_image_embedding(controlnet, generator)


def _randomise_image_embedding(controlnet, generator: torch.Generator) -> None:
    """The control image's embedding: its last conv starts at zero, and with default inits
    the image fades under the biases, so every control image would steer alike. He-scaled
    convs without bias (the last one stronger) keep each image's own effect visible."""
    convs = [m for m in controlnet.controlnet_cond_embedding.modules() if isinstance(m, Conv2d)]
    with torch.no_grad():
        for conv in convs:
            gain = _IMAGE_EMBEDDING_GAIN if conv is convs[-1] else 1.0
            std = gain * (2 / conv.weight[0].numel()) ** 0.5
            conv.weight.copy_(torch.randn(conv.weight.shape, generator=generator) * std)
            conv.bias.zero_()


def build_tiny_controlnet(unet, directory: Path) -> Path:
    """A single-type ControlNetModel derived from the tiny UNet (like diffusers' from_unet)."""
    from diffusers import ControlNetModel

    controlnet = ControlNetModel.from_unet(unet, conditioning_embedding_out_channels=(8, 8, 16, 16))
    _randomise_zero_convs(controlnet, torch.Generator().manual_seed(_SEED + 1))
    controlnet.save_pretrained(directory, safe_serialization=True)
    return directory


def build_tiny_union_controlnet(unet, directory: Path) -> Path:
    """An SDXL Union ControlNet (ControlNetUnionModel) with the tiny UNet's layout."""
    from diffusers import ControlNetUnionModel

    config = unet.config
    controlnet = ControlNetUnionModel(
        in_channels=config.in_channels,
        down_block_types=config.down_block_types,
        block_out_channels=config.block_out_channels,
        layers_per_block=config.layers_per_block,
        attention_head_dim=config.attention_head_dim,
        use_linear_projection=config.use_linear_projection,
        addition_embed_type=config.addition_embed_type,
        addition_time_embed_dim=config.addition_time_embed_dim,
        transformer_layers_per_block=config.transformer_layers_per_block,
        projection_class_embeddings_input_dim=config.projection_class_embeddings_input_dim,
        cross_attention_dim=config.cross_attention_dim,
        norm_num_groups=config.norm_num_groups,
        conditioning_embedding_out_channels=(8, 8, 16, 32),
        num_control_type=_UNION_CONTROL_TYPES,
        num_trans_channel=config.block_out_channels[0],
        num_trans_head=4,
        num_trans_layer=1,
        num_proj_channel=config.block_out_channels[0],
    )
    controlnet.load_state_dict(_unet_weights_for(controlnet, unet), strict=False)
    _randomise_zero_convs(controlnet, torch.Generator().manual_seed(_SEED + 2))
    controlnet.save_pretrained(directory, safe_serialization=True)
    return directory


def _unet_weights_for(controlnet, unet) -> dict:
    """The UNet encoder weights a ControlNet starts from (same names, same shapes)."""
    own = controlnet.state_dict()
    return {k: v for k, v in unet.state_dict().items() if k in own and own[k].shape == v.shape}


TINY_VISION = {
    "hidden_size": 32,
    "intermediate_size": 37,
    "projection_dim": 32,
    "num_hidden_layers": 2,
    "num_attention_heads": 4,
    "image_size": 32,
    "patch_size": 8,
}


def build_tiny_ip_adapter(unet, directory: Path) -> Path:
    """IP-Adapter weights (plain, 4 image tokens) plus a tiny CLIP vision image encoder."""
    return build_random_ip_adapter(
        unet,
        directory,
        vision=TINY_VISION,
        seed=_SEED + 3,
        projection_scale=0.2,
        attention_scale=0.3,
    )


def build_random_ip_adapter(
    unet,
    directory: Path,
    *,
    vision: dict,
    seed: int,
    projection_scale: float,
    attention_scale: float,
    tokens: int = 4,
) -> Path:
    """Random plain IP-Adapter weights shaped for ``unet``, with a CLIP vision encoder of
    config ``vision``. Layout as in h94/IP-Adapter: the weights file with an
    ``image_encoder/`` folder beside it."""
    from safetensors.torch import save_file
    from transformers import CLIPVisionConfig, CLIPVisionModelWithProjection

    cross_attention_dim = unet.config.cross_attention_dim
    directory.mkdir(parents=True, exist_ok=True)
    generator = torch.Generator().manual_seed(seed)
    encoder_config = CLIPVisionConfig(num_channels=3, **vision)
    CLIPVisionModelWithProjection(encoder_config).save_pretrained(
        directory / "image_encoder", safe_serialization=True
    )
    tensors = {
        "image_proj.proj.weight": torch.randn(
            tokens * cross_attention_dim, encoder_config.projection_dim, generator=generator
        )
        * projection_scale,
        "image_proj.proj.bias": torch.zeros(tokens * cross_attention_dim),
        "image_proj.norm.weight": torch.ones(cross_attention_dim),
        "image_proj.norm.bias": torch.zeros(cross_attention_dim),
    }
    # One key pair per cross-attention processor, numbered 1, 3, 5... in processor order.
    cross_attention = [name for name in unet.attn_processors if name.endswith("attn2.processor")]
    for index, name in enumerate(cross_attention):
        hidden = _attention_width(unet, name)
        for kind in ("to_k_ip", "to_v_ip"):
            tensors[f"ip_adapter.{2 * index + 1}.{kind}.weight"] = (
                torch.randn(hidden, cross_attention_dim, generator=generator) * attention_scale
            )
    weights = directory / "ip-adapter_sdxl.safetensors"
    save_file(tensors, weights)
    return weights


def _attention_width(unet, processor_name: str) -> int:
    channels = unet.config.block_out_channels
    if processor_name.startswith("mid_block"):
        return channels[-1]
    block = int(processor_name.split(".")[1])
    return list(reversed(channels))[block] if processor_name.startswith("up_") else channels[block]


Targets = list[tuple[str, int, int]]  # (module path, in features, out features)


def _unet_lora_targets(unet) -> Targets:
    """The UNet attention projections a LoRA adapts."""
    return [
        (name, module.in_features, module.out_features)
        for name, module in unet.named_modules()
        if isinstance(module, torch.nn.Linear) and ".attn" in name and "_ip" not in name
    ]


def _text_lora_targets(text_encoder) -> Targets:
    # Published LoRAs name CLIP modules "text_model.encoder..." (transformers 4 layout);
    # diffusers strips the prefix for the flattened transformers 5 models.
    return [
        ("text_model." + name.removeprefix("text_model."), module.in_features, module.out_features)
        for name, module in text_encoder.named_modules()
        if isinstance(module, torch.nn.Linear)
        and name.endswith(("q_proj", "k_proj", "v_proj", "out_proj"))
    ]


def _lora_pair(fan_in: int, fan_out: int, rank: int, generator: torch.Generator):
    down = torch.randn(rank, fan_in, generator=generator) / fan_in**0.5
    up = torch.randn(fan_out, rank, generator=generator) * 0.5
    return down, up


def build_tiny_lora_diffusers(
    unet, text_encoders: tuple, path: Path, seed: int, rank: int = 4
) -> Path:
    """A LoRA in diffusers/peft naming (``unet.<module>.lora_A.weight``), as save_lora_weights."""
    from safetensors.torch import save_file

    generator = torch.Generator().manual_seed(seed)
    groups = [("unet", _unet_lora_targets(unet))]
    groups += [
        (prefix, _text_lora_targets(encoder))
        for prefix, encoder in zip(("text_encoder", "text_encoder_2"), text_encoders, strict=True)
    ]
    tensors = {}
    for prefix, targets in groups:
        for name, fan_in, fan_out in targets:
            down, up = _lora_pair(fan_in, fan_out, rank, generator)
            tensors[f"{prefix}.{name}.lora_A.weight"] = down
            tensors[f"{prefix}.{name}.lora_B.weight"] = up
    save_file(tensors, path)
    return path


def _sgm_unet_name(name: str, layers_per_block: int) -> str:
    """diffusers UNet module path -> kohya's SGM-style name (input/middle/output blocks)."""
    parts = name.split(".")
    if parts[0] == "down_blocks":  # down block b, layer l -> input_blocks.{1 + b*(lpb+1) + l}.1
        index = 1 + int(parts[1]) * (layers_per_block + 1) + int(parts[3])
        rest = ["input_blocks", str(index), "1", *parts[4:]]
    elif parts[0] == "up_blocks":  # up blocks have lpb+1 layers each
        index = int(parts[1]) * (layers_per_block + 1) + int(parts[3])
        rest = ["output_blocks", str(index), "1", *parts[4:]]
    else:  # mid_block.attentions.0 -> middle_block.1
        rest = ["middle_block", "1", *parts[3:]]
    return "lora_unet_" + "_".join(rest)


def build_tiny_lora_kohya(unet, text_encoders: tuple, path: Path, seed: int, rank: int = 4) -> Path:
    """A LoRA in kohya/SGM naming: ``lora_unet_input_blocks_..``, ``lora_te1_``, ``lora_te2_``
    with ``.lora_down.weight`` / ``.lora_up.weight`` / ``.alpha``, as kohya sd-scripts saves."""
    from safetensors.torch import save_file

    generator = torch.Generator().manual_seed(seed)
    layers_per_block = unet.config.layers_per_block
    named = [(_sgm_unet_name(n, layers_per_block), i, o) for n, i, o in _unet_lora_targets(unet)]
    for prefix, encoder in zip(("lora_te1_", "lora_te2_"), text_encoders, strict=True):
        named += [(prefix + n.replace(".", "_"), i, o) for n, i, o in _text_lora_targets(encoder)]
    tensors = {}
    for name, fan_in, fan_out in named:
        down, up = _lora_pair(fan_in, fan_out, rank, generator)
        tensors[f"{name}.lora_down.weight"] = down
        tensors[f"{name}.lora_up.weight"] = up
        tensors[f"{name}.alpha"] = torch.tensor(float(rank))
    save_file(tensors, path)
    return path
