"""The switch costs routing reads come from the fleet's own finished jobs."""

import pytest
from django.utils import timezone

from generation.queue.costs import forget_switch_costs, recent_switch_costs
from tests.fixtures.admin import make_job
from work.models import WorkStatus


@pytest.fixture(autouse=True)
def _fresh():
    forget_switch_costs()
    yield
    forget_switch_costs()


def finished(user, **timings):
    return make_job(user, finished_at=timezone.now(), timings=timings)


def test_loads_and_jobs_average_over_recent_finished_jobs(user):
    finished(user, model_load_ms=3000, inference_ms=1000, batch_jobs=1)
    finished(user, model_load_ms=0, inference_ms=2000, batch_jobs=2)  # resident, shared pass
    finished(user, model_load_ms=5000, inference_ms=1000)
    make_job(user, status=WorkStatus.FAILED, timings={"model_load_ms": 60_000})

    costs = recent_switch_costs()

    assert costs.load_s == pytest.approx(4.0)  # only jobs whose model was loaded
    assert costs.job_s == pytest.approx(1.0)  # a pass's time over the jobs in it


def test_no_figures_until_a_load_and_a_job_were_seen(user):
    finished(user, model_load_ms=0, inference_ms=1000)
    assert recent_switch_costs() is None
