"""From a training row to the engine's TrainingSpec: images come from storage, captions from
the row, character references get a face box (the crop centres on it), style sets do not."""

from __future__ import annotations

import pytest

from characters.services import character_create, reference_add
from generation.uploads import upload_create
from gpu_worker.training_tasks import build_training_spec
from tests import photos
from training.services import training_create

pytestmark = pytest.mark.django_db


def test_character_references_are_face_cropped(user, empty_queues):
    character = character_create(owner=user, name="Mira")
    reference_add(character=character, upload=photos.upload_of(photos.astronaut()))
    run = training_create(
        owner=user, trigger_word="mira", character_id=str(character.id), params={"steps": 9}
    )
    spec = build_training_spec(run)
    assert spec.steps == 9 and spec.face_crop and len(spec.images) == 1
    image = spec.images[0]
    assert image.caption == "a photo of mira"
    x0, y0, x1, y1 = image.face_box
    assert 0 <= x0 < x1 <= image.image.width and 0 <= y0 < y1 <= image.image.height
    assert spec.extra_manifest["training_run"] == str(run.id)


def test_uploaded_style_set_keeps_captions_and_has_no_face_boxes(user, empty_queues):
    uploads = [
        upload_create(owner=user, upload=photos.upload_of(photos.astronaut())) for _ in range(2)
    ]
    run = training_create(
        owner=user,
        trigger_word="inkwash",
        upload_ids=[str(upload.id) for upload in uploads],
        captions=["a boat, inkwash style", "a hill, inkwash style"],
        params={"naming": "kohya"},
    )
    spec = build_training_spec(run)
    assert [item.caption for item in spec.images] == [
        "a boat, inkwash style",
        "a hill, inkwash style",
    ]
    assert not spec.face_crop and all(item.face_box is None for item in spec.images)
    assert run.lora_type == "style" and spec.naming == "kohya"
