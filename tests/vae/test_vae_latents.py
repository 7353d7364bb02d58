"""RTN latents from the simulated array at the sampling bias."""

from __future__ import annotations

import numpy as np
import pytest
from ftjlab.simulators.array import FTJArray
from ftjlab.simulators.params import ArrayParams
from scipy import stats

from ftjlab.errors import BadInput
from ftjlab.vae.latents import (
    estimate_tau_star,
    gaussian_source,
    prepare_rtn_cells,
    rtn_latents,
    rtn_source,
    standardise_columns,
)


@pytest.fixture(scope="module")
def sampled():
    array = FTJArray(ArrayParams(), np.random.default_rng(3))
    rows, cols = np.arange(16), np.arange(16)
    prepare_rtn_cells(array, rows, cols)
    t0 = array.clock.now_s
    latents = rtn_latents(array, 3000, rows, cols, volts=0.8)
    return array, latents, array.clock.now_s - t0


def test_rtn_latents_are_standard_normal_and_spaced(sampled):
    _, lat, elapsed = sampled
    z = lat.z
    assert z.shape == (3000, 16)
    np.testing.assert_allclose(z.mean(axis=0), 0, atol=1e-9)
    np.testing.assert_allclose(z.std(axis=0), 1, rtol=1e-9)
    ks = [stats.kstest(z[:, i], "norm").statistic for i in range(16)]
    assert max(ks) < 0.05  # Kirchhoff sum of 16 cells' RTN per latent: close to Gaussian
    assert np.max(np.abs(stats.skew(z))) < 0.3
    lag1 = [np.corrcoef(z[:-1, i], z[1:, i])[0, 1] for i in range(16)]
    assert np.max(np.abs(lag1)) < 0.15  # readings >= 5 tau* apart
    off = np.corrcoef(z.T)[np.triu_indices(16, 1)]
    assert np.max(np.abs(off)) < 0.1  # independent cells: independent dimensions
    assert lat.interval_s >= 5 * lat.tau_star_s
    assert 1e-4 < lat.tau_star_s < 1e-2  # traps at 0.8 V: tau_c = tau_e ~ 1 ms (log spread)
    assert lat.aperture_s == pytest.approx(0.5 * lat.interval_s)
    assert elapsed == pytest.approx(lat.instrument_time_s)
    assert lat.instrument_time_s >= 3000 * lat.interval_s


def test_rtn_is_what_makes_the_latents(sampled):
    """At the VMM bias the same cells barely fluctuate: RTN needs the sampling bias."""
    array, lat, _ = sampled
    low = array.acquire(np.arange(16), np.arange(16), 0.2, 2000, lat.interval_s, lat.aperture_s)
    high = lat.traces_a
    rel_low = np.median(low.std(axis=1) / low.mean(axis=1))
    rel_high = np.median(high.std(axis=1) / high.mean(axis=1))
    assert rel_high > 20 * rel_low


def test_tau_star_of_a_known_process():
    rng = np.random.default_rng(0)
    dt, tau = 1e-4, 2e-3
    rho = np.exp(-dt / tau)
    x = np.zeros((4, 40_000))
    e = rng.standard_normal(x.shape) * np.sqrt(1 - rho**2)
    for k in range(1, x.shape[1]):  # AR(1): autocorrelation exp(-lag dt / tau)
        x[:, k] = rho * x[:, k - 1] + e[:, k]
    np.testing.assert_allclose(estimate_tau_star(x, dt), tau, rtol=0.15)


def test_sources_and_determinism():
    z1 = gaussian_source(8, np.random.default_rng(1))(5)
    z2 = gaussian_source(8, np.random.default_rng(1))(5)
    np.testing.assert_array_equal(z1, z2)
    runs = []
    for _ in range(2):
        array = FTJArray(ArrayParams(rows=4, cols=8), np.random.default_rng(9))
        source = rtn_source(array, [0, 1, 2, 3], np.arange(8), interval_s=5e-3)
        runs.append(source(200))
    np.testing.assert_array_equal(runs[0], runs[1])


def test_bad_inputs():
    array = FTJArray(ArrayParams(rows=4, cols=4), np.random.default_rng(0))
    with pytest.raises(BadInput, match="n:"):
        rtn_latents(array, 1, [0], [0])
    with pytest.raises(BadInput, match="aperture"):
        rtn_latents(array, 10, [0], [0], interval_s=1e-3, aperture_s=2e-3)
    with pytest.raises(BadInput, match="volts"):
        rtn_latents(array, 10, [0], [0], volts=float("nan"))
    with pytest.raises(BadInput, match="rows, cols"):
        rtn_latents(array, 10, [], [0])
    with pytest.raises(BadInput, match="no fluctuation"):
        standardise_columns(np.ones((2, 10)))
