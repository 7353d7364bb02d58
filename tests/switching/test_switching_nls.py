"""Switching laws and operating points: fitted from flip counts, checked against the device."""

from __future__ import annotations

import math

import numpy as np
import pytest
from switching_physics import WIDTHS_S

from ftjlab.errors import BadInput
from ftjlab.switching.nls import choose_points, fit_cell, inv_cloglog, schedule_p


def _nls(volts, width_s, tau0_s, va_v, alpha, beta):
    """The NLS law written out (independent of the module's cloglog form)."""
    tau = tau0_s * np.exp((va_v / np.abs(volts)) ** alpha)
    return 1.0 - np.exp(-((width_s / tau) ** beta))


def test_fit_recovers_a_known_nls_law(rng):
    tau0, va, alpha, beta = 20e-9, 3.0, 3.0, 2.0
    volts = np.tile(np.linspace(1.7, 2.3, 13), 3)
    widths = np.repeat([3e-7, 1e-6, 4e-6], 13)
    n = np.full(volts.size, 400)
    k = rng.binomial(n, _nls(volts, widths, tau0, va, alpha, beta))
    law = fit_cell(volts, widths, n, k, alpha)
    assert law.ok
    assert law.beta == pytest.approx(beta, rel=0.1)
    assert law.va_v == pytest.approx(va, rel=0.03)
    assert math.log(law.tau0_s) == pytest.approx(math.log(tau0), abs=0.6)
    # the delta-method error covers the truth at the operating point
    v = law.volts_for(0.5, 1e-6)
    p_true = float(_nls(v, 1e-6, tau0, va, alpha, beta))
    assert abs(p_true - 0.5) < 3 * float(law.probability_sigma(v, 1e-6)[0]) + 1e-3


def test_operating_points_give_target_p_on_simulated_cells(calibrated):
    """16 simulated 32-domain cells, calibrated from their flip counts under the bench's trial
    design: the (V, t) chosen for p = 0.5 and for a diffusion-schedule p give, measured with
    1e4 fresh trials of the device per cell, p within +-0.02 (amplitudes on a 1 mV grid, widths
    fine-tuned by < 1 %)."""
    cells, cal = calibrated
    for target in (0.5, float(schedule_p(np.array([0.35]))[0])):
        pts = cal.points(target, +1, WIDTHS_S[0], max_volts=4.5, p_tolerance=0.02,
                         fine_width=True)
        kept = np.flatnonzero(pts.usable)
        assert kept.size >= 12, pts.reasons
        errors = [cells.p_true(j, pts.volts[j], pts.width_s[j], 10_000) - target for j in kept]
        assert np.max(np.abs(errors)) <= 0.02, (target, errors)
        assert set(pts.reasons) == set(range(16)) - set(kept)  # every exclusion says why


def test_unreachable_and_stuck_cells_are_excluded_with_reasons(rng):
    volts = np.tile(np.linspace(1.7, 2.3, 13), 2)
    widths = np.repeat([1e-6, 4e-6], 13)
    n = np.full(volts.size, 200)
    k = rng.binomial(n, _nls(volts, widths, 20e-9, 3.0, 3.0, 2.0))
    good = fit_cell(volts, widths, n, k, 3.0)
    stuck = fit_cell(volts, widths, n, np.zeros_like(k), 3.0)
    assert not stuck.ok and "never flipped" in stuck.reason
    # 1 us needs ~1.88 V: above a 1.5 V limit
    pts = choose_points([good, stuck], 0.5, 1e-6, +1, max_volts=1.5)
    assert not pts.usable.any()
    assert "unreachable" in pts.reasons[0] and "limit 1.5 V" in pts.reasons[0]
    assert "never flipped" in pts.reasons[1]
    # at 10 ns even |V| -> infinity (tau -> tau0 = 20 ns) gives only p = 0.22
    pts = choose_points([good], 0.5, 1e-8, +1, max_volts=4.5)
    assert "unreachable: no amplitude" in pts.reasons[0]
    with pytest.raises(BadInput, match="between 0 and 1"):
        choose_points([good], 1.0, 1e-6, +1, 4.5)


def test_schedule_matches_the_ddpm_forward_step():
    betas = np.linspace(1e-4, 0.5, 50)
    p = schedule_p(betas)
    assert np.allclose(1 - 2 * p, np.sqrt(1 - betas))  # mean shrink of a +-1 spin
    assert np.allclose(4 * p * (1 - p), betas)  # variance added
    assert inv_cloglog(np.log(-np.log(0.5))) == pytest.approx(0.5)


def test_drift_is_retuned_then_excluded(rng):
    """A cell whose observed flip rate moved is re-tuned (its law shifted to what was seen),
    and excluded with the reason once its re-tunes are used up."""
    from ftjlab.switching.engine import DriftTracker

    volts = np.tile(np.linspace(1.7, 2.3, 13), 2)
    widths = np.repeat([1e-6, 4e-6], 13)
    n = np.full(volts.size, 400)
    k = rng.binomial(n, _nls(volts, widths, 20e-9, 3.0, 3.0, 2.0))
    laws = {pol: [fit_cell(volts, widths, n, k, 3.0) for _ in range(2)] for pol in (1, -1)}
    v = laws[1][0].volts_for(0.5, 1e-6)
    # per-cell checks alone (the pooled SET rate of the two cells, 0.6, is the next test's)
    tracker = DriftTracker(2, check_every=400, max_retunes=1, z_polarity=np.inf)
    use = np.ones(2, bool)
    for rate in (0.7, 0.7):
        for _ in range(400):
            state = np.zeros(2, np.uint8)  # SET pulses only
            flips = np.array([rng.random() < rate, rng.random() < 0.5])
            tracker.add(state, flips, use)
        gone = tracker.check(0, 0.5, laws, use)
    assert [e[5] for e in tracker.events] == ["retuned", "excluded: drift"]
    assert gone == [0]
    # after the re-tune the law predicts what the cell did at its old operating point
    assert float(laws[1][0].probability(v, 1e-6)[0]) == pytest.approx(0.7, abs=0.06)


def test_a_common_drift_of_one_polarity_is_retuned_pooled(rng):
    """32 cells whose SET flips all run at 0.48 (RESET at 0.5): no single cell is far enough
    off to be re-tuned, the SET rate pooled over the cells is, within a few checks; every
    SET law is shifted to what was observed, RESET laws stay."""
    from ftjlab.switching.engine import DriftTracker

    volts = np.tile(np.linspace(1.7, 2.3, 13), 2)
    widths = np.repeat([1e-6, 4e-6], 13)
    n = np.full(volts.size, 400)
    k = rng.binomial(n, _nls(volts, widths, 20e-9, 3.0, 3.0, 2.0))
    base = fit_cell(volts, widths, n, k, 3.0)
    laws = {pol: [fit_cell(volts, widths, n, k, 3.0) for _ in range(32)] for pol in (1, -1)}
    v = base.volts_for(0.5, 1e-6)
    tracker = DriftTracker(32, check_every=200)
    use = np.ones(32, bool)
    checks = 0
    while not tracker.events and checks < 12:
        for _ in range(100):  # 100 steps of each polarity per check
            for state, rate in ((0, 0.48), (1, 0.5)):
                tracker.add(np.full(32, state), rng.random(32) < rate, use)
        tracker.check(checks, 0.5, laws, use)
        checks += 1
    assert [(e[1], e[2], e[5]) for e in tracker.events] == [(-1, 1, "retuned: polarity")]
    assert checks <= 8
    observed = tracker.events[0][3]
    assert observed == pytest.approx(0.48, abs=0.02)
    for law in laws[1]:  # each SET law now predicts the pooled rate at the old amplitude
        assert float(law.probability(v, 1e-6)[0]) == pytest.approx(observed, abs=1e-9)
    for law in laws[-1]:
        assert float(law.probability(v, 1e-6)[0]) == pytest.approx(
            float(base.probability(v, 1e-6)[0]), abs=1e-12)
