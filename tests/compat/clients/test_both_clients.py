"""Both APIs on one caller's running job: A1111's progress shows it live to its owner only,
interrupts reach only the caller's own jobs, and an OpenAI client that gives up cancels
nothing."""

from __future__ import annotations

import threading

import httpx
import openai
import pytest

from .conftest import SIZE
from .test_a1111_client import webui_for

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


def test_progress_and_interrupt_reach_only_the_callers_jobs_and_a_client_leaving_cancels_nothing(
    live_platform,
):
    alice, bob = live_platform.alice, live_platform.bob
    alice_webui, bob_webui = webui_for(live_platform, alice), webui_for(live_platform, bob)
    answers = []
    long_run = threading.Thread(
        target=lambda: answers.append(
            alice_webui.txt2img(prompt="a long one", width=SIZE, height=SIZE, steps=150)
        )
    )
    long_run.start()
    try:
        long_job = live_platform.job_asking(alice, "a long one")

        def previewed():
            progress = alice_webui.get_progress()
            return progress if progress["current_image"] else None

        progress = live_platform.wait_until(previewed)
        assert 0 < progress["progress"] < 1 and progress["state"]["sampling_steps"] == 150
        assert progress["state"]["sampling_step"] >= 1 and long_job["id"] in progress["textinfo"]

        # Only queued behind the long job: this client gives up long before its job runs.
        impatient = openai.OpenAI(
            base_url=f"{live_platform.base_url}/v1", api_key=alice.token, max_retries=0,
            timeout=1.0,
        )  # fmt: skip
        with pytest.raises(openai.APITimeoutError):
            impatient.images.generate(
                prompt="queued behind", size=f"{SIZE}x{SIZE}", extra_body={"steps": 1}
            )
        left_behind = live_platform.job_asking(alice, "queued behind", source="openai")

        idle = bob_webui.get_progress()
        assert idle["progress"] == 0 and idle["state"]["job_count"] == 0
        assert idle["current_image"] is None
        bob_webui.interrupt()
        bob_webui.skip()
        cancel = httpx.post(
            f"{live_platform.base_url}/api/v1/jobs/{long_job['id']}/cancel/",
            headers=bob.headers, timeout=30,
        )  # fmt: skip
        assert cancel.status_code == 404 and live_platform.jobs(bob) == []
        step_after_bob = alice_webui.get_progress()["state"]["sampling_step"]
        live_platform.wait_until(
            lambda: alice_webui.get_progress()["state"]["sampling_step"] >= step_after_bob + 3
        )
        assert live_platform.job(alice, long_job["id"])["status"] == "running"

        alice_webui.interrupt()
        long_run.join(timeout=120)
        [interrupted] = answers
        assert interrupted.images == []  # A1111 answers an interrupt with what was made
    finally:
        long_run.join(timeout=120)
    assert live_platform.job(alice, long_job["id"])["status"] == "cancelled"
    finished = live_platform.wait_for_job(
        alice, left_behind["id"], lambda job: job["status"] not in ("queued", "running")
    )
    assert finished["status"] == "succeeded"
    assert live_platform.get(alice, "/api/v1/images/", job=left_behind["id"])["count"] == 1
