"""The whole path with real parts: API -> Postgres/SQLite row -> Redis -> a real
`gpu_worker --burst` process -> S3 -> API -> presigned URL -> PNG."""

import io

import httpx
import pytest
from PIL import Image

pytestmark = [pytest.mark.e2e, pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def test_text_job_end_to_end_with_a_real_worker(api, empty_queues, run_worker_burst, settings):
    created = api.post(
        "/api/v1/jobs/",
        {"kind": "text", "prompt": "a lighthouse", "width": 512, "height": 384, "steps": 3},
        format="json",
    )
    assert created.status_code == 201
    job_id = created.json()["id"]

    output = run_worker_burst()
    assert "gpu_worker ready" in output.stdout

    job = api.get(f"/api/v1/jobs/{job_id}/").json()
    assert job["status"] == "succeeded", job["error"]
    assert job["attempts"] == 1
    assert job["timings"]["inference_ms"] > 0
    [image] = job["images"]
    if settings.STORAGE_BACKEND == "s3":
        assert "X-Amz-Signature" in image["url"]
    if image["url"].startswith("http://testserver/"):
        content = b"".join(
            api.get(image["url"].removeprefix("http://testserver")).streaming_content
        )
    else:
        response = httpx.get(image["url"], timeout=30)
        assert response.status_code == 200
        content = response.content
    png = Image.open(io.BytesIO(content))
    assert png.format == "PNG" and png.size == (512, 384)
