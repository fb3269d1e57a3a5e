"""Each editing kind end to end: API -> row -> a real `gpu_worker --burst` process on the demo
model -> PNGs in storage -> the job resource. Plus the identity repair loop of a character job."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from characters.services import character_create, reference_add
from generation.models import GeneratedImage
from generation.uploads import upload_create
from tests import photos
from tests.fixtures.lifecycle import wait_for

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.slow,
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("no_warmup"),
]


def create(api, **body) -> dict:
    response = api.post("/api/v1/jobs/", {"steps": 2, **body}, format="json")
    assert response.status_code == 201, response.json()
    return response.json()


def finished(api, job: dict) -> dict:
    body = api.get(f"/api/v1/jobs/{job['id']}/").json()
    assert body["status"] == "succeeded", body["error"]
    return body


def ended(api, *jobs: dict) -> bool:
    statuses = [api.get(f"/api/v1/jobs/{job['id']}/").json()["status"] for job in jobs]
    return all(status in ("succeeded", "failed", "cancelled") for status in statuses)


def stored_pixels(image: dict) -> np.ndarray:
    row = GeneratedImage.objects.get(pk=image["id"])
    with row.file.open("rb") as handle:
        return np.asarray(Image.open(io.BytesIO(handle.read())).convert("RGB"), dtype=np.int16)


def test_every_edit_kind_end_to_end(api, user, settings, empty_queues, run_worker_burst):
    settings.ILLU_UPSCALE_TILE_SIZE = 256  # stored in the job's params: the worker uses it
    settings.ILLU_UPSCALE_TILE_OVERLAP = 32
    settings.ILLU_FACE_REPAIR_SIZE = 256
    face = photos.astronaut().resize((256, 256))
    source = upload_create(owner=user, upload=photos.upload_of(face))
    original = np.asarray(face, dtype=np.int16)
    rect = [96, 96, 64, 64]
    character = character_create(owner=user, name="Astro")
    reference_add(character=character, upload=photos.upload_of(photos.astronaut()))
    jobs = {
        "img2img": create(api, kind="img2img", prompt="at night", source_upload=str(source.id)),
        "inpaint": create(
            api, kind="inpaint", prompt="a hat", source_upload=str(source.id), mask_rect=rect,
            mask_blur=4, mask_padding=4,
        ),
        "polygon": create(
            api, kind="inpaint", prompt="a hat", source_upload=str(source.id), mask_blur=0,
            mask_padding=0, mask_polygon=[[128, 150], [200, 240], [56, 240]],
        ),
        "upscale": create(api, kind="upscale", source_upload=str(source.id), scale=2),
        "lanczos": create(
            api, kind="upscale", source_upload=str(source.id), scale=4, upscale_method="lanczos"
        ),
        "face_repair": create(api, kind="face_repair", source_upload=str(source.id)),
        "character_repair": create(
            api, kind="face_repair", source_upload=str(source.id), character=str(character.id)
        ),
        "strength0": create(
            api, kind="img2img", prompt="same", source_upload=str(source.id), strength=0
        ),
    }  # fmt: skip
    run_worker_burst()
    results = {kind: finished(api, job) for kind, job in jobs.items()}
    sizes = {
        kind: (r["images"][0]["width"], r["images"][0]["height"]) for kind, r in results.items()
    }
    assert sizes == {
        "img2img": (256, 256),
        "inpaint": (256, 256),
        "polygon": (256, 256),
        "upscale": (512, 512),
        "lanczos": (1024, 1024),
        "face_repair": (256, 256),
        "character_repair": (256, 256),
        "strength0": (256, 256),
    }
    assert np.array_equal(stored_pixels(results["strength0"]["images"][0]), original)
    assert np.abs(stored_pixels(results["img2img"]["images"][0]) - original).mean() > 5

    inpainted = stored_pixels(results["inpaint"]["images"][0])
    x, y, w, h = rect
    margin = 4 + 4  # padding, then the blur's reach
    outside = np.ones(original.shape[:2], dtype=bool)
    outside[y - margin : y + h + margin, x - margin : x + w + margin] = False
    assert np.abs(inpainted - original)[outside].max() <= 1
    assert np.abs(inpainted - original)[y : y + h, x : x + w].mean() > 10

    triangle = stored_pixels(results["polygon"]["images"][0])
    assert np.array_equal(triangle[:140], original[:140])  # above the triangle: untouched
    assert np.abs(triangle - original)[200:235, 110:146].mean() > 10  # inside: repainted

    upscale_manifest = results["upscale"]["images"][0]["manifest"]["edit"]
    assert upscale_manifest["tiles"] == 9 and upscale_manifest["method"] == "tiled"
    lanczos = face.resize((1024, 1024), Image.Resampling.LANCZOS)
    assert np.array_equal(stored_pixels(results["lanczos"]["images"][0]), np.asarray(lanczos))

    [face_record] = results["face_repair"]["images"][0]["manifest"]["edit"]["faces"]
    x0, y0, x1, y1 = face_record["crop"]
    repaired = stored_pixels(results["face_repair"]["images"][0])
    far = np.ones(original.shape[:2], dtype=bool)
    far[y0:y1, x0:x1] = False
    assert np.array_equal(repaired[far], original[far])
    assert np.abs(repaired - original)[y0:y1, x0:x1].mean() > 1

    # With a character: its references steer the repair (IP-Adapter) and the result is scored.
    with_character = results["character_repair"]
    assert with_character["params"]["reference_images"]
    manifest = with_character["images"][0]["manifest"]
    assert manifest["ip_adapter"]["reference_images_sha256"]
    assert manifest["identity"]["backend"] == "dlib"
    assert manifest["identity"]["threshold"] == with_character["params"]["consistency_threshold"]


def test_a_generated_image_is_a_source_a_faceless_one_fails_face_repair_repairs_are_recorded(
    api, user, empty_queues, start_worker
):
    """One worker: a text job whose image is then the source of two edits, and (meanwhile) a
    character job whose identity repair loop records each pass."""
    character = character_create(owner=user, name="Astro")
    reference_add(character=character, upload=photos.upload_of(photos.astronaut()))
    text = create(api, kind="text", prompt="a lighthouse", width=256, height=256)
    repaired = create(
        api,
        kind="character",
        prompt="on a boat",
        character=str(character.id),
        width=256,
        height=256,
        consistency={"repair": True, "min_accepted": 1, "max_attempts": 2},
    )
    start_worker()
    wait_for(lambda: ended(api, text, repaired))
    image_id = finished(api, text)["images"][0]["id"]
    vary = create(api, kind="img2img", prompt="a lighthouse, snow", source_image=image_id)
    repair = create(api, kind="face_repair", source_image=image_id)
    wait_for(lambda: ended(api, vary, repair))
    assert finished(api, vary)["images"][0]["manifest"]["edit"]["source_size"] == [256, 256]
    failed = api.get(f"/api/v1/jobs/{repair['id']}/").json()
    assert failed["status"] == "failed" and failed["error"]["code"] == "invalid_input"
    assert "No face" in failed["error"]["message"] and failed["images"] == []

    body = finished(api, repaired)
    assert body["params"]["consistency"]["repair"] is True
    assert body["generated_count"] == 2  # repaired nothing (noise has no face), then re-rolled
    for image in body["images"]:
        passes = image["manifest"]["identity"]["repair"]
        assert passes == [{"pass": 1, "faces": 0, "score": None, "accepted": False}]
