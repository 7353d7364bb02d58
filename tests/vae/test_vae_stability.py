"""Issue 6: after 1e5 sampling + VMM cycles on the simulated array (drift and endurance
active), in-array FCD stays within 10 % of its start."""

import pytest

from ftjlab.vae.stability import run_stability


def test_fcd_stays_within_10_percent_over_1e5_cycles() -> None:
    r = run_stability(cycles=100_000, real_cycles=10_000, n_eval=2000, seed=2026)
    # the clock really advanced by 1e5 cycles' instrument time (RTN interval + VMMs)
    assert r.s_per_cycle >= 2e-3
    assert r.instrument_s >= 100_000 * r.s_per_cycle
    assert r.g_change_rel < -0.005  # drift did act on the programmed cells
    assert abs(r.fcd_change) <= 0.10, (r.fcd_start, r.fcd_end)
    assert r.fcd_end == pytest.approx(r.fcd_start, rel=0.10)
