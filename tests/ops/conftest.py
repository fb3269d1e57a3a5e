"""Fixtures of the operations tests: metrics scraping, heartbeats and captured JSON logs."""

from __future__ import annotations

import io
import json
import logging

import pytest
from prometheus_client.parser import text_string_to_metric_families

from generation.queueing import get_redis
from generation.worker_registry import KEY_PREFIX
from illuplatform.logging_config import JobContextFilter, JsonFormatter


def parse_metrics(text: str) -> dict[tuple[str, frozenset], float]:
    """{(sample name, frozenset(labels)): value} of a Prometheus text exposition."""
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


@pytest.fixture
def clean_heartbeats():
    redis = get_redis()

    def clear():
        for key in redis.scan_iter(match=KEY_PREFIX + "*"):
            redis.delete(key)

    clear()
    yield
    clear()


@pytest.fixture
def json_log_lines():
    """Log lines as the JSON handler of the settings writes them, parsed back (INFO and up)."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    handler.addFilter(JobContextFilter())
    root = logging.getLogger()
    old_level = root.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)

    def lines() -> list[dict]:
        handler.flush()
        return [json.loads(line) for line in stream.getvalue().splitlines() if line]

    yield lines
    root.removeHandler(handler)
    root.setLevel(old_level)
