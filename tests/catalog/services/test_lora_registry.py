"""LoRA files are untrusted input: only a real safetensors file is ever stored."""

import io
import pickle
import struct
from pathlib import Path

import pytest
import torch
from django.core.files import File
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile
from safetensors.torch import save

from catalog.models import Lora
from catalog.services import LoraRejected, LoraTooLarge, lora_register

pytestmark = pytest.mark.django_db


def lora_bytes(seed: int = 0) -> bytes:
    generator = torch.Generator().manual_seed(seed)
    return save(
        {
            "unet.down.lora_A.weight": torch.randn(4, 32, generator=generator),
            "unet.down.lora_B.weight": torch.randn(32, 4, generator=generator),
        }
    )


def upload(data: bytes, name: str = "hero.safetensors"):
    if "/" in name:
        # Django's UploadedFile drops directories itself; File keeps the name as given, as a
        # registry file named in a YAML import would be.
        return File(io.BytesIO(data), name=name)
    return SimpleUploadedFile(name, data, content_type="application/octet-stream")


def register(data: bytes, name: str = "hero.safetensors", slug: str = "hero"):
    return lora_register(upload=upload(data, name), slug=slug, name="Hero", type="character")


def stored_lora_keys() -> list[str]:
    try:
        _, files = default_storage.listdir("loras")
    except FileNotFoundError:
        return []
    return files


def test_a_valid_file_is_stored_under_a_server_key_with_its_sha256():
    data = lora_bytes()
    lora, created = register(data)
    assert created
    import hashlib

    assert lora.sha256 == hashlib.sha256(data).hexdigest()
    assert lora.size_bytes == len(data)
    assert lora.original_filename == "hero.safetensors"
    assert lora.file.name.startswith("loras/") and "hero" not in lora.file.name
    with lora.file.open("rb") as handle:
        assert handle.read() == data


def test_the_same_file_twice_is_the_same_entry():
    first, created_first = register(lora_bytes(1))
    second, created_second = register(lora_bytes(1), name="copy.safetensors", slug="copy")
    assert created_first and not created_second
    assert first.pk == second.pk and Lora.objects.count() == 1


def _torch_pickle() -> bytes:
    buffer = io.BytesIO()
    torch.save({"w": torch.zeros(2)}, buffer)
    return buffer.getvalue()


def _lying_header() -> bytes:
    real = lora_bytes()
    (header_len,) = struct.unpack("<Q", real[:8])
    header = real[8 : 8 + header_len].replace(b"[4,32]", b"[40,32]")
    return struct.pack("<Q", len(header)) + header + real[8 + header_len :]


@pytest.mark.parametrize(
    ("data", "name", "error", "message"),
    [
        (_torch_pickle(), "hero.safetensors", LoraRejected, "not a safetensors"),
        (pickle.dumps({"a": 1}), "hero.safetensors", LoraRejected, "not a"),
        (lora_bytes()[:-10], "hero.safetensors", LoraRejected, "truncated"),
        (_lying_header(), "hero.safetensors", LoraRejected, "shape"),
        (lora_bytes(), "../../x.safetensors", LoraRejected, "path"),
        (lora_bytes(), "hero.ckpt", LoraRejected, ".safetensors"),
    ],
    ids=["renamed-torch-pickle", "renamed-pickle", "truncated", "lying-header", "path", "ckpt"],
)
def test_bad_files_are_rejected_with_a_clear_message_and_nothing_stored(data, name, error, message):
    with pytest.raises(error) as raised:
        register(data, name=name)
    assert message in raised.value.message
    assert Lora.objects.count() == 0
    assert stored_lora_keys() == []


def test_an_oversize_file_is_rejected(settings):
    settings.ILLU_LORA_MAX_BYTES = 100
    with pytest.raises(LoraTooLarge):
        register(lora_bytes())
    assert Lora.objects.count() == 0 and stored_lora_keys() == []


def test_no_upload_temp_file_is_left_behind(tmp_path, monkeypatch):
    import tempfile

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    with pytest.raises(LoraRejected):
        register(_torch_pickle())
    register(lora_bytes(3), slug="ok")
    assert list(Path(tmp_path).iterdir()) == []
