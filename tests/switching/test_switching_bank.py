"""The shipped switching noise bank and its loader."""

from __future__ import annotations

import json

import numpy as np
import pytest
from scipy import stats

from ftjlab.errors import BadInput
from ftjlab.switching.noise import load_noise_bank


def test_bank_file_round_trip_and_bad_files(tmp_path, rng):
    h = rng.binomial(8, 0.5, size=(50, 3)).astype(np.uint8)
    path = tmp_path / "bank.npz"
    np.savez(path, hamming=h, k=np.int64(8), meta=np.array(json.dumps({"p": 0.5})))
    values, info = load_noise_bank(path)
    assert values.dtype == np.float32 and values.shape == (150,)
    # step-major: the units of step 0, then those of step 1, ...
    np.testing.assert_allclose(values, ((h.astype(float) - 4) / np.sqrt(2)).ravel(), rtol=1e-6)
    assert info["p"] == 0.5 and info["size"] == 150
    with pytest.raises(BadInput, match="does not exist"):
        load_noise_bank(tmp_path / "none.npz")
    np.savez(tmp_path / "other.npz", weights=np.zeros(3))
    with pytest.raises(BadInput, match="not a noise bank"):
        load_noise_bank(tmp_path / "other.npz")
    np.savez(tmp_path / "big.npz", hamming=h + 5, k=np.int64(8), meta=np.array("{}"))
    with pytest.raises(BadInput, match="no Hamming weights"):
        load_noise_bank(tmp_path / "big.npz")


def test_shipped_bank_is_large_and_matches_the_binomial():
    """The bank recorded through the bench: >= 1e5 k = 8 values whose moments (scipy, not
    the project's noise_quality) match Binomial(8, 1/2) standardised, serially uncorrelated,
    and its record states what it holds."""
    values, info = load_noise_bank()
    assert values.size >= 100_000 and info["k"] == 8 and info["p"] == 0.5
    steps, units = info["steps"], info["units"]
    assert steps * units == values.size
    x = values.astype(np.float64).reshape(steps, units)
    assert set(np.unique(np.round(x * np.sqrt(2)).astype(int))) <= set(range(-4, 5))
    flat = x.ravel()
    assert flat.mean() == pytest.approx(0.0, abs=0.02)
    # as recorded, the mean is zero within 3 standard errors (no standardising needed): the
    # balanced readout cancels a gap between the SET and RESET flip rates
    assert abs(flat.mean()) <= 3 * flat.std() / np.sqrt(flat.size)
    assert info["readout"] == ["balanced"]
    assert flat.var(ddof=1) == pytest.approx(1.0, abs=0.03)
    assert stats.kurtosis(flat) == pytest.approx(-0.25, abs=0.05)
    lag1 = [stats.pearsonr(x[1:, u], x[:-1, u])[0] for u in range(units)]
    assert abs(np.mean(lag1)) <= 0.02
    # units of different cells (and of different chips) are independent: no pair beyond
    # 5 sigma of a zero correlation
    cross = np.corrcoef(x, rowvar=False)[np.triu_indices(units, 1)]
    assert np.max(np.abs(cross)) <= 5 / np.sqrt(steps)
    assert info["quality"]["excess_kurtosis"] == pytest.approx(stats.kurtosis(flat), abs=1e-6)
    # runs side by side come from different bench seeds (one seed replays one random stream)
    seeds = [r["bench"]["seed"] for r in info["runs"]]
    assert len(set(seeds)) == len(seeds)
    assert all(r["status"] == "completed" for r in info["runs"])
    # every pulse through the instruments, the calibration's too: each run's laws come from
    # row-parallel trials on its own chip (bench seed), in the run or in an earlier
    # switching-noise run of that seed that calibrated itself
    for run in info["runs"]:
        cal = run["calibration_run"] or {**run["results"], "procedure": "switching-noise",
                                         "calibration": run["parameters"]["calibration"],
                                         "bench_seed": run["bench"]["seed"]}
        assert cal["procedure"] == "switching-noise" and cal["calibration"] == "fresh"
        assert cal["bench_seed"] == run["bench"]["seed"]
        assert cal["calibration_trials"] > 1000 and cal["calibration_wall_s"] > 0
    # the stationary theory at the achieved per-polarity rates, against the bank
    from ftjlab.switching.noise import chain_theory

    th = chain_theory(8, info["p_achieved"]["set"], info["p_achieved"]["reset"])
    assert flat.var(ddof=1) == pytest.approx(th.variance, abs=0.03)
    assert np.mean(lag1) == pytest.approx(th.lag1, abs=0.02)
