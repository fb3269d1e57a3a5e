"""Real identity with the dlib backend on real photos, through the platform's services."""

import pytest
from PIL import ImageEnhance, ImageOps

from accounts.models import Avatar
from accounts.services import avatar_create
from characters.services import character_create, reference_add, reference_remove
from core.faces import FaceRequirementError
from gpu_worker.scoring import scorer_for_job
from tests import photos

pytestmark = pytest.mark.django_db


def test_avatar_with_one_face_stores_its_embedding(user):
    avatar = avatar_create(owner=user, upload=photos.upload_of(photos.astronaut()))
    assert avatar.face_count == 1 and avatar.face_detected
    assert len(avatar.face_embedding) == 128 and avatar.face_backend == "dlib"


@pytest.mark.parametrize(
    ("image", "says"),
    [(photos.no_face, "no face was found"), (photos.two_faces, "2 faces were found")],
    ids=["no-face", "two-faces"],
)
def test_avatar_without_exactly_one_face_is_refused_and_nothing_stored(user, image, says):
    with pytest.raises(FaceRequirementError) as raised:
        avatar_create(owner=user, upload=photos.upload_of(image()))
    assert says in raised.value.message and "image" in raised.value.fields
    assert not Avatar.objects.exists()


def test_client_may_keep_a_faceless_avatar_marked_as_such(user):
    avatar = avatar_create(
        owner=user, upload=photos.upload_of(photos.no_face()), allow_no_face=True
    )
    assert avatar.face_count == 0 and avatar.face_detected is False


def test_character_embedding_follows_its_references_and_flags_faceless_ones(user):
    character = character_create(owner=user, name="Astro")
    reference_add(character=character, upload=photos.upload_of(photos.astronaut()))
    character.refresh_from_db()
    first = list(character.reference_embedding)
    flagged = reference_add(character=character, upload=photos.upload_of(photos.no_face()))
    assert flagged.face_flagged
    character.refresh_from_db()
    assert character.reference_embedding == first  # the faceless one is not used
    mirrored = reference_add(
        character=character, upload=photos.upload_of(ImageOps.mirror(photos.astronaut()))
    )
    character.refresh_from_db()
    assert character.reference_embedding != first
    reference_remove(reference=mirrored)
    character.refresh_from_db()
    assert character.reference_embedding == pytest.approx(first, abs=1e-6)


def test_same_face_scores_above_threshold_and_another_below(user, settings):
    from generation.models import GenerationJob

    avatar = avatar_create(owner=user, upload=photos.upload_of(photos.astronaut()))
    job = GenerationJob.objects.create(
        owner=user, kind="memory", params={"avatar": str(avatar.id), "consistency_threshold": 0.5}
    )
    scorer = scorer_for_job(job)
    same = photos.astronaut()
    variants = [
        ImageOps.mirror(same),
        ImageEnhance.Brightness(same).enhance(1.3),
        same.resize((same.width // 2, same.height // 2)),
    ]
    for variant in variants:
        assert scorer.score(variant) > scorer.threshold
    assert scorer.score(photos.other_person()) < scorer.threshold
    assert scorer.score(photos.no_face()) is None
