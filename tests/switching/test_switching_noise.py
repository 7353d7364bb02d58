"""Gaussian noise of k-cell units on the simulated device, against N(0, 1) and the theory."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats
from switching_physics import SCHEDULE_BETAS

from ftjlab.switching.nls import schedule_p
from ftjlab.switching.noise import binomial_theory, noise_quality, unit_values


def _chain(cells, pts, idx, steps):
    """The flip chain of cells ``idx`` on the device: each step a cell flips with its own
    physics at its operating point (the bench restores full states between steps)."""
    flips = np.column_stack([cells.flips(j, pts.volts[j], pts.width_s[j], steps) for j in idx])
    return np.cumsum(flips, axis=0) % 2


@pytest.mark.slow
def test_k8_noise_matches_binomial_and_normal(calibrated):
    cells, cal = calibrated
    pts = cal.points(0.5, +1, 1e-6, max_volts=4.5)
    idx = np.flatnonzero(pts.usable)[:16]
    assert idx.size == 16, pts.reasons
    bits = _chain(cells, pts, idx, 40_000)
    q = noise_quality(unit_values(bits, 8), k=8, p=0.5)
    assert q.mean == pytest.approx(0.0, abs=0.02)
    assert q.variance == pytest.approx(1.0, abs=0.03)
    assert q.excess_kurtosis == pytest.approx(-0.25, abs=0.05)
    assert abs(q.lag1) <= 0.02 and abs(q.lag1_worst) <= 0.02
    assert abs(q.cross_unit_worst) <= 0.02
    # a discrete law: KS distance stays at its Binomial(8, 1/2) floor, not below
    assert q.ks_distance == pytest.approx(binomial_theory(8).ks_distance_limit, abs=0.01)
    assert q.theory.excess_kurtosis == -0.25


def test_noise_statistics_agree_with_scipy(rng):
    x = rng.binomial(4, 0.5, size=(5000, 3))
    v = (x - 2.0) / 1.0
    q = noise_quality(v, k=4)
    flat = v.ravel()
    assert q.excess_kurtosis == pytest.approx(stats.kurtosis(flat), abs=1e-9)
    assert q.skewness == pytest.approx(stats.skew(flat), abs=1e-9)
    assert q.ks_distance == pytest.approx(stats.kstest(flat, "norm").statistic)
    assert q.theory.excess_kurtosis == -0.5
    # lag-1 of a chain with p = 0.2 is 1 - 2p = 0.6
    flips = rng.random((20000, 8)) < 0.2
    q2 = noise_quality(unit_values(np.cumsum(flips, axis=0) % 2, 8), k=8, p=0.2)
    assert q2.lag1 == pytest.approx(0.6, abs=0.03) and q2.theory.lag1 == pytest.approx(0.6)


def test_schedule_gives_the_ddpm_mean_shrink_per_step(calibrated):
    """Start every cell ON (spin +1), step through p_t = (1 - sqrt(1 - beta_t))/2 on the device
    (2e4 chains per cell): the mean spin shrinks by sqrt(1 - beta_t) per step, within 2 %."""
    cells, cal = calibrated
    chains = 20_000
    p_t = schedule_p(SCHEDULE_BETAS)
    spins = np.ones((chains, 16))
    means = [1.0]
    for p in p_t:
        set_pts = cal.points(float(p), +1, 1e-6, max_volts=4.5, p_tolerance=0.05)
        reset_pts = cal.points(float(p), -1, 1e-6, max_volts=4.5, p_tolerance=0.05)
        for j in range(16):
            assert set_pts.usable[j] and reset_pts.usable[j], (p, set_pts.reasons)
            # the device flips up (SET) or down (RESET) from the cell's current state
            down = cells.flips(j, reset_pts.volts[j], reset_pts.width_s[j], chains)
            up = cells.flips(j, set_pts.volts[j], set_pts.width_s[j], chains)
            spins[:, j] = np.where(spins[:, j] > 0, np.where(down, -1, 1), np.where(up, 1, -1))
        means.append(spins.mean())
    shrink = np.array(means[1:]) / np.array(means[:-1])
    np.testing.assert_allclose(shrink, np.sqrt(1 - SCHEDULE_BETAS), rtol=0.02)
    # per-step errors share a sign (p slightly low at small targets) and add up over steps
    np.testing.assert_allclose(means[-1], np.prod(np.sqrt(1 - SCHEDULE_BETAS)), rtol=0.1)


def _two_state_chain(rng, p_set: float, p_reset: float, steps: int, cells: int) -> np.ndarray:
    """States (steps, cells) of independent cells: OFF -> ON with p_set, ON -> OFF with
    p_reset per step (an independent simulation, not the procedure's code)."""
    s = (rng.random(cells) < 0.5).astype(np.uint8)
    out = np.empty((steps, cells), np.uint8)
    for t in range(steps):
        u = rng.random(cells)
        s = np.where(s == 0, u < p_set, u >= p_reset).astype(np.uint8)
        out[t] = s
    return out


def test_chain_with_unequal_flip_rates_against_theory_and_simulation(rng):
    """SET flips rarer than RESET flips: direct readout shifts the mean by sqrt(k)(2 pi - 1),
    the balanced readout (every second cell counts OFF as 1) cancels it, the variance moves
    to 4 pi (1 - pi), lag-1 is 1 - p_set - p_reset; the closed forms, chain_theory and an
    independent simulation (20,000 steps x 64 cells) agree."""
    from ftjlab.switching.noise import balanced_complement, chain_theory

    p_set, p_reset, k = 0.35, 0.45, 8
    pi = p_set / (p_set + p_reset)
    v = pi * (1 - pi)
    closed = {"direct": (np.sqrt(k) * (2 * pi - 1), 4 * v), "balanced": (0.0, 4 * v)}
    states = _two_state_chain(rng, p_set, p_reset, 20_000, 64)
    assert balanced_complement(10, 4).tolist() == [0, 1, 0, 1, 0, 1, 0, 1, 0, 0]
    for readout, (mean, var) in closed.items():
        th = chain_theory(k, p_set, p_reset, balanced=readout == "balanced")
        assert th.mean == pytest.approx(mean, abs=1e-12)
        assert th.variance == pytest.approx(var, abs=1e-12)
        assert th.lag1 == pytest.approx(1 - p_set - p_reset)
        if readout == "balanced":
            assert th.skewness == pytest.approx(0.0, abs=1e-12)
            assert th.excess_kurtosis == pytest.approx((1 - 6 * v) / (k * v), abs=1e-12)
        x = unit_values(states, k, balanced=readout == "balanced")
        flat = x.ravel()
        # standard error of the mean: correlated steps (lag-1 0.2) inflate it by ~1.22
        se = np.sqrt(var / flat.size * (1 + th.lag1) / (1 - th.lag1))
        assert abs(flat.mean() - mean) < 5 * se, (readout, flat.mean(), mean)
        assert flat.var() == pytest.approx(var, abs=0.02)
        assert stats.kurtosis(flat) == pytest.approx(th.excess_kurtosis, abs=0.03)
        assert noise_quality(x, k).lag1 == pytest.approx(1 - p_set - p_reset, abs=0.01)
    # the shipped bank's first recording: SET 0.4947, RESET 0.5001 read out directly
    gap = chain_theory(8, 0.4947, 0.5001, balanced=False)
    assert gap.mean == pytest.approx(-0.0153, abs=2e-4)
    assert chain_theory(8, 0.4947, 0.5001).mean == pytest.approx(0.0, abs=1e-12)
    assert chain_theory(8, 0.5, 0.5).excess_kurtosis == pytest.approx(-0.25)
