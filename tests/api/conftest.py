"""Fixtures of the API tests: two users (alice owns things, bob must never see them), staff,
image files of every kind (good, truncated, bomb, not an image) and stored-file listing."""

from __future__ import annotations

import io
import struct
import time
import zlib

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image

from accounts.services import avatar_create
from characters.services import character_create, reference_add
from generation.models import GeneratedImage, GenerationJob
from generation.queueing import get_redis
from generation.uploads import upload_create
from gpu_worker.heartbeat import KEY_PREFIX, write_heartbeat
from tests.conftest import client_for


def image_bytes(size=(64, 48), fmt="PNG", color=(200, 120, 40)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, color).save(buffer, format=fmt)
    return buffer.getvalue()


def image_file(fmt="PNG", name="photo.png", size=(64, 48)) -> SimpleUploadedFile:
    return SimpleUploadedFile(name, image_bytes(size, fmt), content_type="image/png")


def bomb_png(side: int = 40_000) -> bytes:
    """A valid-looking PNG whose header claims side x side pixels (1.6 G): Pillow must refuse
    it before decoding. Built by rewriting a small PNG's IHDR (and its CRC)."""
    data = bytearray(image_bytes((8, 8)))
    ihdr_start = 8 + 8  # signature, then length + type of the first chunk
    data[ihdr_start : ihdr_start + 8] = struct.pack(">II", side, side)
    crc = zlib.crc32(bytes(data[12 : ihdr_start + 13]))
    data[ihdr_start + 13 : ihdr_start + 17] = struct.pack(">I", crc)
    return bytes(data)


BAD_IMAGES = {
    # name: (bytes, status, code)
    "not_an_image": (b"this is plain text, not a picture" * 10, 415, "unsupported_media"),
    "gif": (image_bytes(fmt="GIF"), 415, "unsupported_media"),
    "truncated": (image_bytes((256, 256), "JPEG")[:600], 400, "invalid_image"),
    # Declares 40000 x 40000 pixels but ends early: broken, not a bomb (was 413 too_large).
    "truncated_huge_png": (bomb_png()[:-12], 400, "invalid_image"),
    "truncated_png": (image_bytes((256, 256))[:-30], 400, "invalid_image"),
    "truncated_webp": (image_bytes((256, 256), "WEBP")[:-40], 400, "invalid_image"),
    "bomb": (bomb_png(), 413, "too_large"),
}


def stored_keys(prefix: str = "") -> list[str]:
    """Every file under ``prefix`` in the test's storage (its own folder or key prefix)."""
    try:
        dirs, files = default_storage.listdir(prefix)
    except FileNotFoundError:
        return []
    keys = [f"{prefix}{name}" for name in files]
    for directory in dirs:
        keys += stored_keys(f"{prefix}{directory}/")
    return keys


@pytest.fixture
def alice(user):
    return user


@pytest.fixture
def bob(make_user):
    return make_user("bob")


@pytest.fixture
def bob_api(bob):
    return client_for(bob)


@pytest.fixture
def staff(make_user):
    return make_user("ops", staff=True)


@pytest.fixture
def staff_api(staff):
    return client_for(staff)


def make_generated_image(owner, *, character=None, index=0, score=None, accepted=True, **extra):
    job = GenerationJob.objects.create(
        owner=owner, kind="text", status="succeeded", params={"prompt": "x"}, character=character
    )
    image = GeneratedImage(
        job=job, index=index, width=64, height=48, seed=7 + index,
        consistency_score=score, accepted=accepted, manifest={"seed": 7 + index}, **extra,
    )  # fmt: skip
    image.file.save("image.png", ContentFile(image_bytes()), save=False)
    image.thumbnail.save("thumb.webp", ContentFile(image_bytes(fmt="WEBP")), save=False)
    image.save()
    return image


@pytest.fixture
def alice_things(alice):
    """One of everything alice can own, made through the services."""
    avatar = avatar_create(owner=alice, upload=image_file(), allow_no_face=True)
    character = character_create(owner=alice, name="Luca")
    reference = reference_add(character=character, upload=image_file())
    upload = upload_create(owner=alice, upload=image_file())
    image = make_generated_image(alice, character=character)
    return {
        "avatar": avatar,
        "character": character,
        "reference": reference,
        "upload": upload,
        "image": image,
    }


def lora_upload(seed: int = 0, name: str = "hero.safetensors") -> SimpleUploadedFile:
    from tests.characters.test_lora_registry import lora_bytes

    return SimpleUploadedFile(name, lora_bytes(seed), content_type="application/octet-stream")


@pytest.fixture
def private_lora(alice):
    from characters.services import lora_register

    lora, _ = lora_register(
        upload=lora_upload(seed=1), slug="alice-secret", name="Secret", type="character",
        owner=alice, is_public=False,
    )  # fmt: skip
    return lora


@pytest.fixture
def public_lora():
    from characters.services import lora_register

    lora, _ = lora_register(upload=lora_upload(seed=2), slug="ink", name="Ink", type="style")
    return lora


@pytest.fixture
def no_workers():
    redis = get_redis()
    for key in redis.scan_iter(match=KEY_PREFIX + "*"):
        redis.delete(key)
    yield
    for key in redis.scan_iter(match=KEY_PREFIX + "*"):
        redis.delete(key)


@pytest.fixture
def live_worker(no_workers):
    state = {
        "name": "gpu-1", "device": "cuda:0", "memory_kind": "cuda",
        "memory_total": 80 * 2**30, "memory_used": 9 * 2**30, "memory_reserved": 8 * 2**30,
        "models": ["stabilityai/stable-diffusion-xl-base-1.0"], "current_job": "",
        "pid": 4242, "host": "node-a", "time": time.time(),
    }  # fmt: skip
    # Alive for the whole test however long a loaded machine makes it (a 30 s TTL expired
    # mid-fuzz); no_workers removes it afterwards.
    write_heartbeat(get_redis(), state, ttl=3600)
    return state
