"""The check a training makes between steps: whether an image job has waited long enough on a
queue this worker serves before training, read from Redis (real RQ queues), at most every few
seconds however often it is asked."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from gpu_worker.image_wait import (
    ImageWaitCheck,
    image_queues_before_training,
    longest_image_wait_s,
)
from work.redis_queue import get_queue

IMAGE_QUEUES = ["gpu-high", "gpu", "gpu-low"]


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def wait_on(queue_name: str) -> str:
    job_id = str(uuid.uuid4())
    get_queue(queue_name).enqueue("gpu_worker.tasks.run_generation_job", job_id, job_id=job_id)
    return job_id


def test_only_generation_queues_served_before_training_count():
    assert image_queues_before_training([*IMAGE_QUEUES, "training"]) == IMAGE_QUEUES
    assert image_queues_before_training(["training"]) == []  # a dedicated trainer
    assert image_queues_before_training(["training", "gpu"]) == []  # images after training
    assert image_queues_before_training(["gpu", "webhooks"]) == ["gpu"]


def test_the_wait_is_the_oldest_queue_head_and_none_when_nothing_waits(empty_queues):
    assert longest_image_wait_s(IMAGE_QUEUES) is None
    wait_on("gpu-low")
    later = datetime.now(UTC) + timedelta(seconds=90)
    assert 89 <= longest_image_wait_s(IMAGE_QUEUES, now=later) <= 91
    assert longest_image_wait_s(["gpu-high"], now=later) is None  # only the queues given


def test_a_training_gives_way_once_an_image_waited_the_setting_reading_redis_sparingly(
    empty_queues,
):
    clock = Clock()
    check = ImageWaitCheck(IMAGE_QUEUES, after_s=0, every_s=2, clock=clock)
    assert [check() for _ in range(50)] == [False] * 50  # nothing waits
    assert check.reads == 1  # fifty steps within two seconds: one Redis read

    wait_on("gpu")
    assert not check()  # not yet asked again: the next read is two seconds after the last
    clock.now += 2
    assert check() and check.reads == 2

    patient = ImageWaitCheck(IMAGE_QUEUES, after_s=600, every_s=2, clock=clock)
    assert not patient()  # the image has waited well under ten minutes

    assert not ImageWaitCheck([], after_s=0, every_s=2, clock=clock)()  # a dedicated trainer
