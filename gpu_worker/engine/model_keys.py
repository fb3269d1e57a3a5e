"""A warm model's key: its source, plus the VAE it decodes with when that is its own (a
registered model's ``vae``) rather than the engine's default (``EngineConfig.vae_source``,
the fp16-safe ILLU_SDXL_VAE). One source with two VAEs is two warm models; the key is a
plain string, so residency, resting state and manifests key on it as on a source."""

from __future__ import annotations

VAE_MARK = "#vae="


def model_key(source: str, vae: str | None = None) -> str:
    return f"{source}{VAE_MARK}{vae}" if vae else source


def split_model_key(key: str) -> tuple[str, str | None]:
    """(source, its own VAE or None) of a key ``model_key`` made."""
    source, mark, vae = key.partition(VAE_MARK)
    return source, (vae if mark else None)
