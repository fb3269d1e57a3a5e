"""The catalog names what the engine runs: the same schedulers and control types (the web side
may not import the engine, so it keeps its own list; this holds the two together)."""

from catalog.controlnet_weights import CONTROL_TYPES
from catalog.models import Scheduler
from gpu_worker.engine.preprocessors import KINDS
from gpu_worker.engine.schedulers import SCHEDULER_NAMES


def test_styles_and_jobs_offer_exactly_the_engines_schedulers():
    assert tuple(Scheduler.values) == SCHEDULER_NAMES


def test_jobs_offer_exactly_the_engines_control_types():
    assert set(CONTROL_TYPES) == set(KINDS)
