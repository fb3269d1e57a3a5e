"""Export a diffusers SDXL directory as one original-layout (SGM/LDM) ``.safetensors`` file.

The reverse of diffusers' single-file conversion (after diffusers'
scripts/convert_diffusers_to_original_sdxl.py, generalised to any block layout), used to give
the tiny SDXL a single-file form so ``from_single_file`` is exercised as with a published
checkpoint.
"""

from __future__ import annotations

from pathlib import Path

import torch


def _sgm_unet_prefixes(config) -> list[tuple[str, str]]:
    """(sgm prefix, diffusers prefix) pairs for a UNet with ``config``'s block layout."""
    per_block = config.layers_per_block
    blocks = len(config.block_out_channels)
    has_attention = [kind.startswith("CrossAttn") for kind in config.down_block_types]
    up_attention = [kind.startswith("CrossAttn") for kind in config.up_block_types]
    pairs = []
    for i in range(blocks):
        for j in range(per_block):
            pairs.append(
                (f"input_blocks.{(per_block + 1) * i + j + 1}.0.", f"down_blocks.{i}.resnets.{j}.")
            )
            if has_attention[i]:
                pairs.append(
                    (
                        f"input_blocks.{(per_block + 1) * i + j + 1}.1.",
                        f"down_blocks.{i}.attentions.{j}.",
                    )
                )
        for j in range(per_block + 1):
            pairs.append(
                (f"output_blocks.{(per_block + 1) * i + j}.0.", f"up_blocks.{i}.resnets.{j}.")
            )
            if up_attention[i]:
                pairs.append(
                    (
                        f"output_blocks.{(per_block + 1) * i + j}.1.",
                        f"up_blocks.{i}.attentions.{j}.",
                    )
                )
        if i < blocks - 1:
            pairs.append(
                (
                    f"input_blocks.{(per_block + 1) * (i + 1)}.0.op.",
                    f"down_blocks.{i}.downsamplers.0.conv.",
                )
            )
            slot = 2 if up_attention[i] else 1
            pairs.append(
                (
                    f"output_blocks.{(per_block + 1) * i + per_block}.{slot}.",
                    f"up_blocks.{i}.upsamplers.0.",
                )
            )
    pairs.append(("middle_block.1.", "mid_block.attentions.0."))
    pairs += [(f"middle_block.{2 * j}.", f"mid_block.resnets.{j}.") for j in range(2)]
    return pairs


_SGM_UNET_TOP = {
    "time_embedding.linear_1.": "time_embed.0.",
    "time_embedding.linear_2.": "time_embed.2.",
    "add_embedding.linear_1.": "label_emb.0.0.",
    "add_embedding.linear_2.": "label_emb.0.2.",
    "conv_in.": "input_blocks.0.0.",
    "conv_norm_out.": "out.0.",
    "conv_out.": "out.2.",
}
_SGM_RESNET = {
    "norm1.": "in_layers.0.",
    "conv1.": "in_layers.2.",
    "norm2.": "out_layers.0.",
    "conv2.": "out_layers.3.",
    "time_emb_proj.": "emb_layers.1.",
    "conv_shortcut.": "skip_connection.",
}


def _rename_prefix(key: str, pairs: list[tuple[str, str]]) -> str:
    """Replace the longest matching ``old`` prefix of ``key`` by ``new``; (old, new) pairs."""
    matches = [(old, new) for old, new in pairs if key.startswith(old)]
    if not matches:
        return key
    old, new = max(matches, key=lambda pair: len(pair[0]))
    return new + key[len(old) :]


def _sgm_unet_state_dict(unet) -> dict[str, torch.Tensor]:
    blocks = [(diffusers, sgm) for sgm, diffusers in _sgm_unet_prefixes(unet.config)]
    converted = {}
    for key, value in unet.state_dict().items():
        name = _rename_prefix(key, list(_SGM_UNET_TOP.items()))
        if ".resnets." in key:
            head, _, tail = name.partition(".resnets.")
            index, _, rest = tail.partition(".")
            name = f"{head}.resnets.{index}." + _rename_prefix(rest, list(_SGM_RESNET.items()))
        converted["model.diffusion_model." + _rename_prefix(name, blocks)] = value
    return converted


def _ldm_vae_state_dict(vae) -> dict[str, torch.Tensor]:
    count = len(vae.config.block_out_channels)
    pairs = [("conv_norm_out.", "norm_out.")]
    for part in ("encoder.", "decoder."):
        pairs += [(f"{part}mid_block.resnets.{k}.", f"{part}mid.block_{k + 1}.") for k in range(2)]
        pairs.append((f"{part}mid_block.attentions.0.", f"{part}mid.attn_1."))
        pairs.append((f"{part}conv_norm_out.", f"{part}norm_out."))
    for i in range(count):
        up = count - 1 - i  # decoder blocks are numbered in reverse in the LDM layout
        pairs += [
            (f"encoder.down_blocks.{i}.resnets.{j}.", f"encoder.down.{i}.block.{j}.")
            for j in range(4)
        ]
        pairs.append((f"encoder.down_blocks.{i}.downsamplers.0.", f"encoder.down.{i}.downsample."))
        pairs += [
            (f"decoder.up_blocks.{i}.resnets.{j}.", f"decoder.up.{up}.block.{j}.") for j in range(4)
        ]
        pairs.append((f"decoder.up_blocks.{i}.upsamplers.0.", f"decoder.up.{up}.upsample."))
    attention = {
        "group_norm.": "norm.",
        "to_q.": "q.",
        "to_k.": "k.",
        "to_v.": "v.",
        "to_out.0.": "proj_out.",
    }
    converted = {}
    for key, value in vae.state_dict().items():
        name = _rename_prefix(key, pairs).replace("conv_shortcut.", "nin_shortcut.")
        if ".mid.attn_1." in name:
            head, _, rest = name.partition(".mid.attn_1.")
            rest = _rename_prefix(rest, list(attention.items()))
            name = f"{head}.mid.attn_1.{rest}"
            if value.ndim == 2:  # LDM attention projections are 1x1 convolutions
                value = value[:, :, None, None]
        converted["first_stage_model." + name] = value
    return converted


def _openclip_state_dict(text_encoder_2) -> dict[str, torch.Tensor]:
    pairs = [
        ("embeddings.token_embedding.weight", "token_embedding.weight"),
        ("embeddings.position_embedding.weight", "positional_embedding"),
        ("encoder.layers.", "transformer.resblocks."),
        ("final_layer_norm.", "ln_final."),
    ]
    inner = {
        ".layer_norm1.": ".ln_1.",
        ".layer_norm2.": ".ln_2.",
        ".mlp.fc1.": ".mlp.c_fc.",
        ".mlp.fc2.": ".mlp.c_proj.",
        ".self_attn.out_proj.": ".attn.out_proj.",
    }
    converted: dict[str, torch.Tensor] = {}
    fused: dict[str, dict[str, torch.Tensor]] = {}
    for key, value in text_encoder_2.state_dict().items():
        key = key.removeprefix("text_model.")
        if key == "text_projection.weight":
            converted["text_projection"] = value.T.contiguous()
            continue
        name = _rename_prefix(key, pairs)
        for old, new in inner.items():
            name = name.replace(old, new)
        for projection in ("q", "k", "v"):
            marker = f".self_attn.{projection}_proj."
            if marker in name:
                head, _, kind = name.partition(marker)
                fused.setdefault(f"{head}.attn.in_proj_{kind}", {})[projection] = value
                break
        else:
            converted[name] = value
    for name, parts in fused.items():
        converted[name] = torch.cat([parts["q"], parts["k"], parts["v"]])
    return {"conditioner.embedders.1.model." + k: v for k, v in converted.items()}


def export_single_file(sdxl_dir: Path, path: Path) -> Path:
    """Save the SDXL at ``sdxl_dir`` as one original-layout ``.safetensors`` checkpoint; it
    loads with ``from_single_file(path, config=sdxl_dir)``."""
    from diffusers import StableDiffusionXLPipeline
    from safetensors.torch import save_file

    pipeline = StableDiffusionXLPipeline.from_pretrained(sdxl_dir)
    clip = {
        "conditioner.embedders.0.transformer.text_model." + key.removeprefix("text_model."): value
        for key, value in pipeline.text_encoder.state_dict().items()
    }
    tensors = {
        **_sgm_unet_state_dict(pipeline.unet),
        **_ldm_vae_state_dict(pipeline.vae),
        **clip,
        **_openclip_state_dict(pipeline.text_encoder_2),
    }
    save_file({k: v.contiguous() for k, v in tensors.items()}, path)
    return path
