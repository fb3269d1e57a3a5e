"""The tiny models, saved in the layouts of the repositories people really deploy from.

Same folder structure, file names, class names, variants and key names as the published
repositories (tiny shapes, random weights), built by code from the tiny models of
``tiny_models`` and never downloaded, so the production loaders meet what a real deployment
meets: SDXL base with only its ``fp16`` variant files and its original-layout single file,
the fp16-fix VAE, xinsir's Union ControlNet (``ControlNetModel`` class name with
``num_control_type``, the ``_promax`` file), diffusers' single-type ControlNet, h94's
IP-Adapter repository (bigG encoder in ``sdxl_models/image_encoder``, ViT-H one in
``models/image_encoder``), LoRAs in kohya and diffusers/peft naming, and a DPT depth model.

``write_hub_cache`` lays any of them out as ``huggingface_hub`` leaves a download
(``models--org--name/blobs``, ``snapshots/<commit>`` links, ``refs/main``), so hub ids resolve
offline (``HF_HUB_OFFLINE=1``, ``HF_HUB_CACHE``).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from pathlib import Path

import torch

# Hub id of each published layout; the LoRA repositories stand for any LoRA on the Hub.
REPOS = {
    "sdxl": "stabilityai/stable-diffusion-xl-base-1.0",
    "vae_fp16_fix": "madebyollin/sdxl-vae-fp16-fix",
    "controlnet_union": "xinsir/controlnet-union-sdxl-1.0",
    "controlnet_canny": "diffusers/controlnet-canny-sdxl-1.0",
    "ip_adapter": "h94/IP-Adapter",
    "lora_kohya": "illustrators/sdxl-lora-kohya",
    "lora_peft": "illustrators/sdxl-lora-peft",
    "depth": "Intel/dpt-large",
}
SDXL_SINGLE_FILE = "sd_xl_base_1.0.safetensors"
UNION_PROMAX_WEIGHTS = "diffusion_pytorch_model_promax.safetensors"
IP_ADAPTER_FILES = {
    "bigg": "sdxl_models/ip-adapter_sdxl.safetensors",
    "vit_h": "sdxl_models/ip-adapter_sdxl_vit-h.safetensors",
    "plus_vit_h": "sdxl_models/ip-adapter-plus_sdxl_vit-h.safetensors",
}
LORA_FILES = {
    "lora_kohya": "style_kohya.safetensors",
    "lora_peft": "pytorch_lora_weights.safetensors",
}
# Tiny stand-ins for the two CLIP vision towers: every width differs, so an adapter paired
# with the wrong encoder fails with a shape error, as the real ones do.
_BIGG_VISION = {"hidden_size": 48, "intermediate_size": 37, "projection_dim": 40}
_VIT_H_VISION = {"hidden_size": 32, "intermediate_size": 37, "projection_dim": 24}
_VISION_COMMON = {
    "num_hidden_layers": 2,
    "num_attention_heads": 4,
    "image_size": 32,
    "patch_size": 8,
}
_PROMAX_CONTROL_TYPES = 8  # ProMax adds tile and repaint


def build_published_layouts(tiny: dict[str, Path], root: Path) -> dict[str, Path]:
    """Folders under ``root`` (one per key of ``REPOS``) with each repository's published
    layout, from the tiny models ``tiny_models.build_tiny_models`` (+ "depth") returned."""
    root = Path(root)
    builders = {
        "sdxl": lambda out: _sdxl_base(Path(tiny["sdxl"]), Path(tiny["single_file"]), out),
        "vae_fp16_fix": lambda out: _vae_fp16_fix(Path(tiny["sdxl"]) / "vae", out),
        "controlnet_union": lambda out: _xinsir_union(Path(tiny["controlnet_union"]), out),
        "controlnet_canny": lambda out: _diffusers_controlnet(Path(tiny["controlnet"]), out),
        "ip_adapter": lambda out: _h94_ip_adapter(Path(tiny["sdxl"]) / "unet", out),
        "lora_kohya": lambda out: _copy(tiny["lora_kohya"], out / LORA_FILES["lora_kohya"]),
        "lora_peft": lambda out: _copy(tiny["lora_a"], out / LORA_FILES["lora_peft"]),
        "depth": lambda out: shutil.copytree(tiny["depth"], out, dirs_exist_ok=True),
    }
    built = {}
    for key, build in builders.items():
        folder = root / REPOS[key].replace("/", "--")
        folder.mkdir(parents=True, exist_ok=True)
        build(folder)
        built[key] = folder
    return built


def write_hub_cache(cache_dir: Path, repo_id: str, folder: Path, revision: str = "main") -> Path:
    """Lay ``folder`` out in ``cache_dir`` as ``huggingface_hub`` stores a download of
    ``repo_id``: content-addressed blobs, a snapshot of relative links named by a commit
    hash, and ``refs/<revision>``. Returns the snapshot folder."""
    repo_dir = Path(cache_dir) / ("models--" + repo_id.replace("/", "--"))
    files = sorted(p for p in Path(folder).rglob("*") if p.is_file())
    digests = {path: _sha256(path) for path in files}
    commit = hashlib.sha1(  # noqa: S324 - a commit-shaped id, not security
        "".join(f"{p.relative_to(folder).as_posix()}:{d}" for p, d in digests.items()).encode()
    ).hexdigest()
    snapshot = repo_dir / "snapshots" / commit
    (repo_dir / "blobs").mkdir(parents=True, exist_ok=True)
    for path, digest in digests.items():
        blob = repo_dir / "blobs" / digest
        if not blob.exists():
            shutil.copyfile(path, blob)
        link = snapshot / path.relative_to(folder)
        link.parent.mkdir(parents=True, exist_ok=True)
        if link.is_symlink() or link.exists():
            link.unlink()
        link.symlink_to(os.path.relpath(blob, link.parent))
    (repo_dir / "refs").mkdir(parents=True, exist_ok=True)
    (repo_dir / "refs" / revision).write_text(commit)
    return snapshot


def build_hub_cache(tiny: dict[str, Path], work: Path) -> Path:
    """Every published layout in a Hugging Face cache under ``work/hub``; returns that cache."""
    cache = Path(work) / "hub"
    for key, folder in build_published_layouts(tiny, Path(work) / "layouts").items():
        write_hub_cache(cache, REPOS[key], folder)
    return cache


# --- the layouts ------------------------------------------------------------------------------


def _sdxl_base(tiny_sdxl: Path, single_file: Path, out: Path) -> None:
    """stabilityai/stable-diffusion-xl-base-1.0 as downloaded with variant="fp16": every
    component's weights only as ``*.fp16.safetensors``; ``vae_1_0/`` (a folder the pipeline
    does not list); the tokenizers as vocab.json + merges.txt; the SGM single file."""
    _copy(tiny_sdxl / "model_index.json", out / "model_index.json")
    _copy(tiny_sdxl / "scheduler/scheduler_config.json", out / "scheduler/scheduler_config.json")
    for component, stem in [
        ("text_encoder", "model"),
        ("text_encoder_2", "model"),
        ("unet", "diffusion_pytorch_model"),
        ("vae", "diffusion_pytorch_model"),
        ("vae_1_0", "diffusion_pytorch_model"),
    ]:
        source = tiny_sdxl / ("vae" if component == "vae_1_0" else component)
        _copy(source / "config.json", out / component / "config.json")
        _save_half(source / f"{stem}.safetensors", out / component / f"{stem}.fp16.safetensors")
    for component in ("tokenizer", "tokenizer_2"):
        _clip_tokenizer_files(tiny_sdxl / component, out / component)
    _copy(single_file, out / SDXL_SINGLE_FILE)


def _clip_tokenizer_files(tokenizer_dir: Path, out: Path) -> None:
    """The published CLIP tokenizer files (vocab.json, merges.txt, special_tokens_map.json,
    tokenizer_config.json), written from the tiny tokenizer.json."""
    model = json.loads((tokenizer_dir / "tokenizer.json").read_text())["model"]
    out.mkdir(parents=True, exist_ok=True)
    (out / "vocab.json").write_text(json.dumps(model["vocab"], ensure_ascii=False))
    merges = [" ".join(m) if isinstance(m, list) else m for m in model.get("merges", [])]
    (out / "merges.txt").write_text("\n".join(["#version: 0.2", *merges]) + "\n")
    special = {
        "bos_token": "<|startoftext|>",
        "eos_token": "<|endoftext|>",
        "pad_token": "<|endoftext|>",
        "unk_token": "<|endoftext|>",
    }
    (out / "special_tokens_map.json").write_text(json.dumps(special, indent=2))
    config = {
        "add_prefix_space": False,
        "do_lower_case": True,
        "errors": "replace",
        "model_max_length": 77,
        "tokenizer_class": "CLIPTokenizer",
        **special,
    }
    (out / "tokenizer_config.json").write_text(json.dumps(config, indent=2))


def _vae_fp16_fix(tiny_vae: Path, out: Path) -> None:
    """madebyollin/sdxl-vae-fp16-fix: diffusers files whose config says force_upcast false,
    beside the original-layout ``sdxl_vae.safetensors`` (which the loader does not read)."""
    config = json.loads((tiny_vae / "config.json").read_text())
    config["force_upcast"] = False
    (out / "config.json").write_text(json.dumps(config, indent=2))
    _copy(
        tiny_vae / "diffusion_pytorch_model.safetensors",
        out / "diffusion_pytorch_model.safetensors",
    )
    _copy(tiny_vae / "diffusion_pytorch_model.safetensors", out / "sdxl_vae.safetensors")


def _xinsir_union(tiny_union: Path, out: Path) -> None:
    """xinsir/controlnet-union-sdxl-1.0: ``config.json`` names ``ControlNetModel`` and carries
    ``num_control_type`` (6); ``config_promax.json`` (8 types) goes with the ``_promax``
    weights. (The tiny config keeps the transformer widths that xinsir's leaves at diffusers'
    defaults, since those defaults are SDXL-sized.)"""
    from diffusers import ControlNetUnionModel

    config = json.loads((tiny_union / "config.json").read_text())
    config["_class_name"] = "ControlNetModel"
    (out / "config.json").write_text(json.dumps(config, indent=2))
    weights = tiny_union / "diffusion_pytorch_model.safetensors"
    _copy(weights, out / "diffusion_pytorch_model.safetensors")
    promax = {**config, "num_control_type": _PROMAX_CONTROL_TYPES}
    (out / "config_promax.json").write_text(json.dumps(promax, indent=2))
    from safetensors.torch import load_file, save_file

    torch.manual_seed(5)
    model = ControlNetUnionModel.from_config(
        {k: v for k, v in promax.items() if k != "_class_name"}
    )
    own = model.state_dict()
    model.load_state_dict(
        {k: v for k, v in load_file(weights).items() if k in own and own[k].shape == v.shape},
        strict=False,
    )
    save_file(
        {k: v.contiguous() for k, v in model.state_dict().items()}, out / UNION_PROMAX_WEIGHTS
    )


def _diffusers_controlnet(tiny_controlnet: Path, out: Path) -> None:
    """diffusers/controlnet-canny-sdxl-1.0: config.json with the plain and fp16 weights."""
    _copy(tiny_controlnet / "config.json", out / "config.json")
    weights = tiny_controlnet / "diffusion_pytorch_model.safetensors"
    _copy(weights, out / "diffusion_pytorch_model.safetensors")
    _save_half(weights, out / "diffusion_pytorch_model.fp16.safetensors")


def _h94_ip_adapter(tiny_unet: Path, out: Path) -> None:
    """h94/IP-Adapter's SDXL files: ``sdxl_models/ip-adapter_sdxl.safetensors`` with its bigG
    encoder in ``sdxl_models/image_encoder/``; the ``_vit-h`` and ``plus`` adapters in
    ``sdxl_models/`` that take the ViT-H encoder in ``models/image_encoder/``."""
    from diffusers import UNet2DConditionModel
    from safetensors.torch import save_file

    unet = UNet2DConditionModel.from_pretrained(tiny_unet)
    generator = torch.Generator().manual_seed(21)
    _clip_vision(out / "sdxl_models/image_encoder", _BIGG_VISION, seed=22)
    _clip_vision(out / "models/image_encoder", _VIT_H_VISION, seed=23)
    cross = unet.config.cross_attention_dim
    adapters = {
        "bigg": _plain_projection(cross, _BIGG_VISION["projection_dim"], generator),
        "vit_h": _plain_projection(cross, _VIT_H_VISION["projection_dim"], generator),
        "plus_vit_h": _resampler_projection(cross, _VIT_H_VISION["hidden_size"], generator),
    }
    attention = _ip_attention(unet, generator)
    for key, projection in adapters.items():
        tensors = {f"image_proj.{k}": v for k, v in projection.items()}
        tensors.update({f"ip_adapter.{k}": v for k, v in attention.items()})
        path = out / IP_ADAPTER_FILES[key]
        path.parent.mkdir(parents=True, exist_ok=True)
        save_file({k: v.contiguous() for k, v in tensors.items()}, path)


def _clip_vision(directory: Path, widths: dict, seed: int) -> None:
    from transformers import CLIPVisionConfig, CLIPVisionModelWithProjection

    torch.manual_seed(seed)
    config = CLIPVisionConfig(num_channels=3, **widths, **_VISION_COMMON)
    CLIPVisionModelWithProjection(config).save_pretrained(directory, safe_serialization=True)


def _plain_projection(cross: int, embed: int, generator, tokens: int = 4) -> dict:
    """IP-Adapter's ImageProjModel: ``proj`` (embed -> tokens x cross) and ``norm``."""
    return {
        "proj.weight": torch.randn(tokens * cross, embed, generator=generator) * 0.2,
        "proj.bias": torch.zeros(tokens * cross),
        "norm.weight": torch.ones(cross),
        "norm.bias": torch.zeros(cross),
    }


def _resampler_projection(cross: int, embed: int, generator, queries: int = 16) -> dict:
    """IP-Adapter Plus's Resampler in the original key names (``latents``, ``proj_in``,
    ``layers.N.0`` perceiver attention with ``to_kv``, ``layers.N.1`` feed-forward)."""
    width, inner = 16, 64  # one head of 64, as diffusers derives heads = to_q rows // 64

    def randn(*shape):
        return torch.randn(*shape, generator=generator) * 0.2

    tensors = {
        "latents": randn(1, queries, width),
        "proj_in.weight": randn(width, embed),
        "proj_in.bias": torch.zeros(width),
        "proj_out.weight": randn(cross, width),
        "proj_out.bias": torch.zeros(cross),
        "norm_out.weight": torch.ones(cross),
        "norm_out.bias": torch.zeros(cross),
    }
    for layer in range(4):  # SDXL Plus has 4 (diffusers assumes 4 when converting)
        attention, feed_forward = f"layers.{layer}.0", f"layers.{layer}.1"
        tensors.update({
            f"{attention}.norm1.weight": torch.ones(width),
            f"{attention}.norm1.bias": torch.zeros(width),
            f"{attention}.norm2.weight": torch.ones(width),
            f"{attention}.norm2.bias": torch.zeros(width),
            f"{attention}.to_q.weight": randn(inner, width),
            f"{attention}.to_kv.weight": randn(2 * inner, width),
            f"{attention}.to_out.weight": randn(width, inner),
            f"{feed_forward}.0.weight": torch.ones(width),
            f"{feed_forward}.0.bias": torch.zeros(width),
            f"{feed_forward}.1.weight": randn(4 * width, width),
            f"{feed_forward}.3.weight": randn(width, 4 * width),
        })  # fmt: skip
    return tensors


def _ip_attention(unet, generator) -> dict:
    """``N.to_k_ip`` / ``N.to_v_ip`` per cross-attention layer, N = 1, 3, 5... as h94 numbers
    them (attn1 and attn2 processors counted together, only attn2 has weights)."""
    tensors = {}
    cross = unet.config.cross_attention_dim
    cross_attention = [name for name in unet.attn_processors if name.endswith("attn2.processor")]
    for index, name in enumerate(cross_attention):
        module = unet.get_submodule(name.removesuffix(".processor"))
        hidden = module.to_k.out_features
        for kind in ("to_k_ip", "to_v_ip"):
            tensors[f"{2 * index + 1}.{kind}.weight"] = (
                torch.randn(hidden, cross, generator=generator) * 0.3
            )
    return tensors


def _save_half(source: Path, target: Path) -> None:
    from safetensors.torch import load_file, save_file

    target.parent.mkdir(parents=True, exist_ok=True)
    tensors = load_file(source)
    save_file({k: v.half() if v.is_floating_point() else v for k, v in tensors.items()}, target)


def _copy(source, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(source, target)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()
