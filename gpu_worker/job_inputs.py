"""What a job names must still be there when it runs: its character (and that character's
reference images), LoRAs (still in the registry, enabled and visible to the owner), avatar,
control image, source image or upload and mask. A job waits in the queue for a while, and
any of these may be deleted or disabled meanwhile; the job then fails with ``invalid_input``
naming each one, before any GPU work (``build_spec`` checks first, on the solo and the batch
path alike, so in a batch only the member that lost an input fails)."""

from __future__ import annotations

from catalog.selectors import loras_visible_to
from generation.models import GenerationJob

from .assets import AssetMissing


class InputsGone(AssetMissing):
    """Inputs the job names were deleted or disabled after it was queued."""


def gone_inputs(job: GenerationJob) -> list[str]:
    """One phrase per input of ``job`` that is gone or disabled ("character <id> (deleted)");
    empty when everything is still there."""
    params = job.params
    gone = [*_character_gone(params), *_loras_gone(job), *_avatar_gone(params)]
    control = params.get("control") or {}
    for what, upload_id in (
        ("control image", control.get("image")),
        ("source image", params.get("source_upload")),
        ("mask", params.get("mask_upload")),
    ):
        if upload_id and not _upload_exists(upload_id):
            gone.append(f"{what} {upload_id} (deleted)")
    if params.get("source_image"):
        from generation.models import GeneratedImage

        if not GeneratedImage.objects.filter(pk=params["source_image"]).exists():
            gone.append(f"source image {params['source_image']} (deleted)")
    return gone


def require_inputs(job: GenerationJob) -> None:
    """Raise ``InputsGone`` (``invalid_input``) naming every input of ``job`` that is gone."""
    gone = gone_inputs(job)
    if gone:
        raise InputsGone(
            f"What this job uses was removed or disabled while it waited: {'; '.join(gone)}."
        )


def _character_gone(params: dict) -> list[str]:
    character_id = params.get("character")
    if not character_id:
        return []
    from characters.models import Character, ReferenceImage

    if not Character.objects.filter(pk=character_id).exists():
        return [f"character {character_id} (deleted)"]
    named = params.get("reference_images") or []
    if named and not ReferenceImage.objects.filter(pk__in=named).exists():
        # Some deleted references leave the rest to use; none left is no identity at all.
        return [f"the reference images of character {character_id} (all deleted)"]
    return []


def _loras_gone(job: GenerationJob) -> list[str]:
    named = job.params.get("loras") or []
    if not named:
        return []
    from catalog.models import Lora

    shas = [item["sha256"] for item in named]
    usable = set(
        loras_visible_to(user=job.owner).filter(sha256__in=shas).values_list("sha256", flat=True)
    )
    enabled = dict(Lora.objects.filter(sha256__in=shas).values_list("sha256", "enabled"))
    gone = []
    for item in named:
        sha256 = item["sha256"]
        if sha256 in usable:
            continue
        if sha256 not in enabled:
            state = "deleted"
        else:
            state = "disabled" if not enabled[sha256] else "no longer shared with you"
        gone.append(f"LoRA {item.get('slug') or sha256[:12]!r} ({state})")
    return gone


def _avatar_gone(params: dict) -> list[str]:
    avatar_id = params.get("avatar")
    if not avatar_id:
        return []
    from accounts.models import Avatar

    return [] if Avatar.objects.filter(pk=avatar_id).exists() else [f"avatar {avatar_id} (deleted)"]


def _upload_exists(upload_id: str) -> bool:
    from generation.models import Upload

    return Upload.objects.filter(pk=upload_id).exists()
