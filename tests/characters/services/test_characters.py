import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image

from accounts.models import Avatar
from accounts.services import avatar_create, avatar_set_primary
from characters.services import character_create, character_update, reference_add
from core.errors import InvalidParams
from core.image_input import ImageTooLarge, InvalidImage, UnsupportedImage
from tests.catalog.services.test_lora_registry import lora_bytes, register

pytestmark = pytest.mark.django_db


def png_upload(size=(64, 48), exif_gps: bool = False, name="photo.jpg") -> SimpleUploadedFile:
    image = Image.new("RGB", size, (200, 120, 40))
    buffer = io.BytesIO()
    if exif_gps:
        exif = Image.Exif()
        exif[0x8825] = {2: (52.0, 22.0, 0.0)}  # GPS IFD: latitude
        image.save(buffer, format="JPEG", exif=exif)
    else:
        image.save(buffer, format="PNG")
    return SimpleUploadedFile(name, buffer.getvalue())


def test_character_with_weighted_default_loras(user):
    lora, _ = register(lora_bytes())
    character = character_create(
        owner=user, name="Luca", default_loras=[{"lora": lora.slug, "weight": 0.7}]
    )
    assert [(link.lora.slug, link.weight) for link in character.lora_links.all()] == [("hero", 0.7)]


def test_weight_outside_the_loras_range_is_refused(user):
    lora, _ = register(lora_bytes())
    with pytest.raises(InvalidParams) as raised:
        character_create(owner=user, name="Luca", default_loras=[{"lora": "hero", "weight": 3}])
    assert "default_loras.0.weight" in raised.value.fields
    assert not user.characters.exists()


def test_unknown_lora_is_refused_and_update_keeps_old_links(user):
    lora, _ = register(lora_bytes())
    character = character_create(owner=user, name="Luca", default_loras=[{"lora": "hero"}])
    with pytest.raises(InvalidParams):
        character_update(character=character, default_loras=[{"lora": "nope"}])
    assert character.lora_links.count() == 1


def test_reference_images_are_reencoded_without_exif(user):
    character = character_create(owner=user, name="Luca")
    reference = reference_add(character=character, upload=png_upload(exif_gps=True))
    with reference.image.open("rb") as handle:
        stored = Image.open(io.BytesIO(handle.read()))
    assert stored.format == "PNG" and stored.size == (64, 48)
    assert not stored.getexif()


def test_first_avatar_is_primary_and_switching_keeps_one(user):
    first = avatar_create(owner=user, upload=png_upload(), allow_no_face=True)
    second = avatar_create(owner=user, upload=png_upload(), allow_no_face=True)
    assert first.primary and not second.primary
    avatar_set_primary(avatar=second)
    assert list(Avatar.objects.filter(owner=user, primary=True)) == [second]


@pytest.mark.parametrize(
    ("data", "error"),
    [
        (b"not an image at all", UnsupportedImage),
        (png_upload().read()[:60], InvalidImage),
    ],
    ids=["not-image", "truncated"],
)
def test_bad_avatar_uploads_store_nothing(user, data, error):
    with pytest.raises(error):
        avatar_create(owner=user, upload=SimpleUploadedFile("a.png", data), allow_no_face=True)
    assert not Avatar.objects.exists()


def test_oversize_and_bomb_uploads_are_refused(user, settings):
    settings.ILLU_UPLOAD_MAX_BYTES = 50
    with pytest.raises(ImageTooLarge):
        avatar_create(owner=user, upload=png_upload(), allow_no_face=True)
    settings.ILLU_UPLOAD_MAX_BYTES = 20 * 1024 * 1024
    Image.MAX_IMAGE_PIXELS, previous = 1000, Image.MAX_IMAGE_PIXELS
    try:
        with pytest.raises(ImageTooLarge):
            avatar_create(owner=user, upload=png_upload(size=(100, 100)), allow_no_face=True)
    finally:
        Image.MAX_IMAGE_PIXELS = previous
    assert not Avatar.objects.exists()
