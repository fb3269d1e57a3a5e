"""Model sources: s3:// downloads once into the cache, verified by sha256, on a real S3 server.

Uses the S3 server in AWS_S3_ENDPOINT_URL when set (with AWS_ACCESS_KEY_ID/SECRET), else
starts SeaweedFS (``weed mini``) on free loopback ports for this module.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from gpu_worker.engine.errors import ChecksumMismatch, ModelUnavailable, UnsafeWeights
from gpu_worker.engine.sources import S3Config, SourceConfig, download_s3, resolve_source

ACCESS_KEY, SECRET_KEY = "engine-test-access", "engine-test-secret"


def _free_ports(count: int) -> list[int]:
    sockets = [socket.socket() for _ in range(count)]
    for sock in sockets:
        sock.bind(("127.0.0.1", 0))
    ports = [sock.getsockname()[1] for sock in sockets]
    for sock in sockets:
        sock.close()
    return ports


def _start_weed(data_dir: Path) -> tuple[str, subprocess.Popen]:
    weed = shutil.which("weed") or str(Path(sys.executable).parent / "weed")
    if not Path(weed).exists():
        pytest.skip("SeaweedFS 'weed' binary not installed")
    identity = {"accessKey": ACCESS_KEY, "secretKey": SECRET_KEY}
    config = data_dir / "s3.json"
    config.write_text(
        json.dumps(
            {
                "identities": [
                    {
                        "name": "engine",
                        "credentials": [identity],
                        "actions": ["Admin", "Read", "Write", "List", "Tagging"],
                    }
                ]
            }
        )
    )
    names = ["s3", "master", "volume", "filer", "webdav", "admin"]
    ports = dict(zip(names, _free_ports(len(names)), strict=True))
    grpc = dict(zip(names, _free_ports(len(names)), strict=True))
    command = [
        weed,
        "mini",
        f"-dir={data_dir}",
        "-ip=127.0.0.1",
        "-ip.bind=127.0.0.1",
        f"-s3.config={config}",
        "-bucket=models",
        "-admin.ui=false",
    ]
    command += [f"-{name}.port={port}" for name, port in ports.items()]
    command += [
        f"-{name}.port.grpc={grpc[name]}" for name in ("s3", "master", "volume", "filer", "admin")
    ]
    log = open(data_dir / "weed.log", "ab")  # noqa: SIM115 - owned by the process
    process = subprocess.Popen(
        command, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
    )
    return f"http://127.0.0.1:{ports['s3']}", process


@pytest.fixture(scope="module")
def s3(tmp_path_factory):
    """(S3Config, boto3 client, bucket) on a real S3 server."""
    from gpu_worker.engine.sources import s3_client

    process = None
    if os.environ.get("AWS_S3_ENDPOINT_URL"):
        config = S3Config(
            endpoint_url=os.environ["AWS_S3_ENDPOINT_URL"],
            access_key=os.environ.get("AWS_ACCESS_KEY_ID"),
            secret_key=os.environ.get("AWS_SECRET_ACCESS_KEY"),
        )
    else:
        endpoint, process = _start_weed(tmp_path_factory.mktemp("weed"))
        config = S3Config(endpoint_url=endpoint, access_key=ACCESS_KEY, secret_key=SECRET_KEY)
    client = s3_client(config)
    bucket = f"engine-models-{uuid.uuid4().hex[:8]}"
    deadline = time.monotonic() + 60
    while True:
        try:
            client.create_bucket(Bucket=bucket)
            break
        except Exception:
            if time.monotonic() > deadline or (process and process.poll() is not None):
                raise
            time.sleep(0.5)
    yield config, client, bucket
    if process is not None:
        process.terminate()
        process.wait(timeout=20)


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _upload_dir(client, bucket: str, prefix: str, directory: Path) -> dict[str, str]:
    digests = {}
    for path in sorted(directory.rglob("*")):
        if path.is_file():
            relative = path.relative_to(directory).as_posix()
            client.put_object(Bucket=bucket, Key=f"{prefix}/{relative}", Body=path.read_bytes())
            digests[relative] = _sha(path.read_bytes())
    return digests


def test_s3_model_downloads_once_verified_and_loads(s3, tiny_models, tmp_path, caplog):
    config, client, bucket = s3
    digests = _upload_dir(client, bucket, "sdxl/tiny", tiny_models["sdxl"])
    manifest = "".join(f"{d}  {p}\n" for p, d in digests.items() if p.endswith(".safetensors"))
    client.put_object(Bucket=bucket, Key="sdxl/tiny/checksums.sha256", Body=manifest.encode())
    client.put_object(Bucket=bucket, Key="sdxl/tiny/unet/weights.bin", Body=b"pickle")
    sources = SourceConfig(cache_dir=tmp_path, s3=config, progress_interval_s=0.0)
    uri = f"s3://{bucket}/sdxl/tiny"

    with caplog.at_level(logging.INFO, logger="gpu_worker.engine.sources"):
        local = Path(resolve_source(uri, sources))
    assert (local / "model_index.json").is_file()
    assert not (local / "unet/weights.bin").exists()  # pickle weights are never fetched
    unet = "unet/diffusion_pytorch_model.safetensors"
    assert _sha((local / unet).read_bytes()) == digests[unet]
    progress = [r.getMessage() for r in caplog.records if "bytes (" in r.getMessage()]
    assert progress and progress[-1].endswith("(100.0%)")

    # Cached: a second resolve needs no S3 at all, even with the objects gone.
    for key in digests:
        client.delete_object(Bucket=bucket, Key=f"sdxl/tiny/{key}")
    offline = SourceConfig(cache_dir=tmp_path, s3=S3Config(endpoint_url="http://127.0.0.1:9"))
    assert Path(resolve_source(uri, offline)) == local

    from diffusers import StableDiffusionXLPipeline

    assert StableDiffusionXLPipeline.from_pretrained(local).unet is not None


def test_wrong_checksum_fails_and_leaves_nothing_cached(s3, tiny_models, tmp_path):
    config, client, bucket = s3
    data = Path(tiny_models["lora_a"]).read_bytes()
    client.put_object(Bucket=bucket, Key="loras/a.safetensors", Body=data)
    sources = SourceConfig(cache_dir=tmp_path, s3=config)
    uri = f"s3://{bucket}/loras/a.safetensors"
    with pytest.raises(ChecksumMismatch):
        download_s3(uri, sources, checksum="0" * 64)
    assert not list(tmp_path.rglob("*.safetensors"))
    with pytest.raises(ChecksumMismatch):  # no checksum anywhere: refused as well
        download_s3(uri, sources)
    client.put_object(Bucket=bucket, Key="loras/a.safetensors.sha256", Body=_sha(data).encode())
    path = download_s3(uri, sources)  # the published sidecar checksum
    assert path.read_bytes() == data


def test_interrupted_download_resumes_from_the_partial_file(s3, tiny_models, tmp_path, caplog):
    config, client, bucket = s3
    data = Path(tiny_models["lora_b"]).read_bytes()
    client.put_object(Bucket=bucket, Key="resume/b.safetensors", Body=data)
    target = tmp_path / "s3" / bucket / "resume" / "b.safetensors"
    target.parent.mkdir(parents=True)
    half = len(data) // 2
    target.with_name("b.safetensors.part").write_bytes(data[:half])
    sources = SourceConfig(cache_dir=tmp_path, s3=config)
    with caplog.at_level(logging.INFO, logger="gpu_worker.engine.sources"):
        path = download_s3(f"s3://{bucket}/resume/b.safetensors", sources, checksum=_sha(data))
    assert path.read_bytes() == data
    assert any(f"at byte {half}" in r.getMessage() for r in caplog.records)


def test_pickle_disguised_as_safetensors_is_refused_after_download(s3, tmp_path):
    import torch

    config, client, bucket = s3
    fake = tmp_path / "fake.safetensors"
    torch.save({"w": torch.zeros(1)}, fake)
    client.put_object(Bucket=bucket, Key="bad/fake.safetensors", Body=fake.read_bytes())
    sources = SourceConfig(cache_dir=tmp_path / "cache", s3=config)
    with pytest.raises(UnsafeWeights):
        download_s3(
            f"s3://{bucket}/bad/fake.safetensors", sources, checksum=_sha(fake.read_bytes())
        )


def test_local_paths_and_hub_ids_resolve_to_local_files_without_download(tmp_path, offline_hub):
    from tests.fixtures.engine import hub_snapshot

    sources = SourceConfig(cache_dir=tmp_path)
    assert resolve_source(str(tmp_path), sources) == str(tmp_path)
    repo = "stabilityai/stable-diffusion-xl-base-1.0"
    assert resolve_source(repo, sources) == str(hub_snapshot(offline_hub, repo))
    assert resolve_source(f"{repo}/vae", sources, layout="model").endswith("/vae")
    with pytest.raises(ModelUnavailable):
        resolve_source("/does/not/exist", sources)


def test_engine_generates_from_an_s3_model_and_an_s3_lora(s3, tiny_models, tmp_path):
    import torch

    from gpu_worker.engine.config import EngineConfig
    from gpu_worker.engine.devices import DeviceProfile
    from gpu_worker.engine.generate import Engine
    from gpu_worker.engine.spec import GenerationSpec, LoraSpec

    config, client, bucket = s3
    digests = _upload_dir(client, bucket, "engine/sdxl", tiny_models["sdxl"])
    manifest = "".join(f"{d}  {p}\n" for p, d in digests.items())
    client.put_object(Bucket=bucket, Key="engine/sdxl/checksums.sha256", Body=manifest.encode())
    lora_bytes = Path(tiny_models["lora_a"]).read_bytes()
    client.put_object(Bucket=bucket, Key="engine/lora.safetensors", Body=lora_bytes)
    lora_uri = f"s3://{bucket}/engine/lora.safetensors"
    engine = Engine(
        DeviceProfile("cpu", torch.float32),
        EngineConfig(cache_dir=tmp_path, s3=config, checksums={lora_uri: _sha(lora_bytes)}),
    )
    model_uri = f"s3://{bucket}/engine/sdxl"
    spec = GenerationSpec(
        model=model_uri,
        prompt="a boat",
        seeds=(1,),
        width=64,
        height=64,
        steps=2,
        loras=(LoraSpec(lora_uri, 0.8),),
    )
    result = engine.generate(spec)
    manifest_entry = result.images[0].manifest
    assert manifest_entry["model"]["source"] == model_uri
    assert manifest_entry["loras"][0]["sha256"] == _sha(lora_bytes)
    unet = "unet/diffusion_pytorch_model.safetensors"
    assert manifest_entry["model"]["weights_sha256"][unet] == digests[unet]
