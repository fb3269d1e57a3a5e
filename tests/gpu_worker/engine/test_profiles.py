"""Memory profiles are a pure function of total device memory, overridable."""

from __future__ import annotations

import pytest

from gpu_worker.engine.errors import InvalidSpec
from gpu_worker.engine.profiles import choose_memory_profile

GIB = 1024**3


@pytest.mark.parametrize(
    ("total", "expected"),
    [
        (int(79.1 * GIB), "large"),  # an H100 80 GB as the driver reports it
        (141 * GIB, "large"),
        (int(39.4 * GIB), "standard"),  # A100 40 GB
        (int(23.6 * GIB), "standard"),  # RTX 4090 / L4
        (16 * GIB, "low"),
        (None, "cpu"),
    ],
)
def test_profile_follows_total_memory(total, expected):
    assert choose_memory_profile(total).name == expected


def test_profiles_set_compile_offload_and_tiling():
    large, standard, low = (choose_memory_profile(n * GIB) for n in (80, 24, 12))
    assert (large.compile_allowed, large.cpu_offload, large.vae_tiling) == (True, False, False)
    assert (standard.compile_allowed, standard.cpu_offload) == (False, False)
    assert (low.cpu_offload, low.vae_tiling) == (True, True)


def test_override_wins_and_unknown_is_refused():
    assert choose_memory_profile(141 * GIB, override="low").cpu_offload is True
    with pytest.raises(InvalidSpec):
        choose_memory_profile(None, override="huge")
