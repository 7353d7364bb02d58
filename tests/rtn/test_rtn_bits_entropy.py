"""Bit extraction, post-processing, SP 800-90B estimators, and the device bit source."""

from __future__ import annotations

import math

import numpy as np
import pytest
from ftjlab.simulators.array import FTJArray
from ftjlab.simulators.params import ArrayParams

from ftjlab.errors import BadInput
from ftjlab.rtn import bits as bitops
from ftjlab.rtn import entropy, nist, rng


def _markov_bits(n: int, p01: float, p10: float, seed: int) -> np.ndarray:
    """A stationary two-state Markov chain (a trap sampled on a grid)."""
    r = np.random.default_rng(seed).random(n)
    out = np.empty(n, dtype=np.uint8)
    s = int(r[0] < p01 / (p01 + p10))
    for i in range(n):
        out[i] = s
        s = int(r[i] >= p10) if s else int(r[i] < p01)
    return out


def test_von_neumann_is_unbiased_for_independent_and_for_reversible_markov_bits():
    rng_ = np.random.default_rng(1)
    iid = (rng_.random(400_000) < 0.3).astype(np.uint8)
    out = bitops.von_neumann(iid)
    assert out.size == pytest.approx(200_000 * 2 * 0.3 * 0.7, rel=0.02)  # yield p(1-p)/pair
    assert abs(out.mean() - 0.5) < 3 * 0.5 / math.sqrt(out.size)
    chain = _markov_bits(400_000, 0.05, 0.15, 2)  # occupancy 0.25, strongly correlated
    assert chain.mean() == pytest.approx(0.25, abs=0.02)
    out = bitops.von_neumann(chain)
    assert abs(out.mean() - 0.5) < 3 * 0.5 / math.sqrt(out.size)


def test_xor_of_independent_cells_follows_the_piling_up_lemma():
    rng_ = np.random.default_rng(3)
    cells = np.vstack([(rng_.random(1_000_000) < p).astype(np.uint8) for p in (0.3, 0.4)])
    x = bitops.xor_cells(cells, 2)
    # P(1) = (1 - (1 - 2 p1)(1 - 2 p2)) / 2 = 0.46
    assert x.shape == (1, 1_000_000)
    assert x.mean() == pytest.approx(0.46, abs=0.002)
    assert bitops.xor_fold(np.array([1, 1, 0, 1, 0, 0, 1]), 2).tolist() == [0, 1, 0]
    with pytest.raises(BadInput, match="k"):
        bitops.xor_cells(cells, 3)


def test_threshold_and_dwell_parity_bits():
    trace = np.array([[0.0, 1.0, 1.0, 0.0, 1.0, 0.0]])
    assert bitops.threshold_bits(trace, 0.5).tolist() == [[0, 1, 1, 0, 1, 0]]
    states = np.array([0, 0, 1, 1, 1, 0, 1, 1, 0, 0, 0])
    levels, lengths = bitops.dwell_lengths(states)
    assert levels.tolist() == [0, 1, 0, 1, 0] and lengths.tolist() == [2, 3, 1, 2, 3]
    assert bitops.dwell_parity_bits(states).tolist() == [1, 1, 0]
    with pytest.raises(BadInput, match="constant"):
        bitops.threshold_bits(np.ones((2, 10)))
    with pytest.raises(BadInput, match="NaN"):
        bitops.threshold_bits(np.array([0.0, np.nan, 1.0]))
    packed = bitops.pack([1, 0, 1, 1, 0, 0, 0, 1, 1])
    assert bitops.unpack(packed, 9).tolist() == [1, 0, 1, 1, 0, 0, 0, 1, 1]


def test_mcv_markov_collision_against_nist_reference_figures():
    # SP 800-90B section 6.3.1 example: p_hat = 0.4 over L = 20 samples -> 0.5363 bits (the
    # text rounds z to 2.576)
    p_u = 0.4 + 2.576 * math.sqrt(0.4 * 0.6 / 19)
    assert -math.log2(p_u) == pytest.approx(0.5363, abs=1e-4)
    # NIST SP800-90B_EntropyAssessment selftest (normal.bin, bit string): mode count 4006586
    # of 8e6 -> p_u = 0.5012785960031747, min-entropy 0.99631546080565159
    bits = np.zeros(8_000_000, dtype=np.uint8)
    bits[:4_006_586] = 1
    h, d = entropy.mcv_estimate(bits)
    assert d["p_u"] == pytest.approx(0.5012785960031747, abs=1e-13)
    assert h == pytest.approx(0.99631546080565159, abs=1e-12)
    # same selftest, Markov estimate from its transition probabilities
    pm = entropy.markov_p_max(0.49917675, 0.4969995597751698, 0.50300044022483026,
                              0.50134690765327583, 0.49865309234672417)
    assert pm == pytest.approx(5.097359688619317e-39, rel=1e-12)
    assert -math.log2(pm) / 128 == pytest.approx(0.9937925432957424, abs=1e-12)
    # collision for bits: X' = 2.4996605057885732 -> p = 0.51302870314782467 (randData.bin)
    x_prime = 2.4996605057885732
    assert 0.5 + 0.5 * math.sqrt(1 - 2 * (x_prime - 2)) == pytest.approx(0.51302870314782467,
                                                                        abs=1e-12)


def test_min_entropy_of_known_sources():
    ideal = rng.reference_bits("pcg64", 1_000_000, seed=5)
    rep = entropy.min_entropy(ideal)
    assert rep.estimates["mcv"] > 0.99 and rep.estimates["markov"] > 0.99
    assert 0.85 < rep.min_entropy <= 1.0
    biased = rng.reference_bits("biased", 1_000_000, seed=6, p=0.6)
    assert entropy.min_entropy(biased).estimates["mcv"] == pytest.approx(-math.log2(0.6),
                                                                         abs=0.005)
    sticky = _markov_bits(200_000, 0.02, 0.02, 7)  # fair but correlated: Markov sees it
    est = entropy.min_entropy(sticky).estimates
    assert est["mcv"] > 0.95 and est["markov"] < 0.1
    assert entropy.repetition_count_cutoff(1.0) == 21
    assert entropy.repetition_count_cutoff(0.5) == 41
    assert entropy.adaptive_proportion_cutoff(1.0) == 589
    h = entropy.health_tests(ideal, 0.99)
    assert h["repetition_failures"] == 0 and h["adaptive_failures"] == 0
    with pytest.raises(BadInput, match="at least 1000"):
        entropy.min_entropy(ideal[:100])


def test_device_bit_source_on_a_small_simulated_array():
    """Screening, thresholds, XOR of 8 cells: the bits of an 8 x 32 array are balanced and
    pass the single-sequence SP 800-22 tests that apply at 2e5 bits."""
    array = FTJArray(ArrayParams(rows=8, cols=32), np.random.default_rng(11))
    src = rng.DeviceBitSource(array, xor_cells=8)
    src.screen()
    assert len(src.cells) % 8 == 0 and len(src.cells) >= 16
    assert src.screening["xor_bias_bound"] < 1e-3
    bits = src.take(200_000)
    assert bits.size == 200_000
    assert abs(bits.mean() - 0.5) < 4 * 0.5 / math.sqrt(bits.size)
    results = nist.run_suite(bits, ("frequency", "runs", "block_frequency", "cumulative_sums",
                                    "approximate_entropy", "serial"), serial_m=10, apen_m=8)
    assert min(float(r.p_values.min()) for r in results) > 1e-4
    assert 0.05 < rng.describe_rate(src, bits.size)["bits_per_reading"] <= 1 / 8
    with pytest.raises(BadInput, match="usable RTN cells"):
        rng.DeviceBitSource(FTJArray(ArrayParams(rows=1, cols=8), np.random.default_rng(1)),
                            xor_cells=8).screen()


def test_reference_sources():
    assert rng.reference_bits("pcg64", 13).size == 13
    with pytest.raises(BadInput, match="reference"):
        rng.reference_bits("mt19937", 10)
    with pytest.raises(BadInput, match="p:"):
        rng.reference_bits("biased", 10, p=1.5)
