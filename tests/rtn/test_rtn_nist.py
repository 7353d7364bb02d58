"""SP 800-22 tests against the worked examples in SP 800-22 rev1a's text (section 2.x.8 and the
examples inside 2.x.4), the multi-sequence criteria, speed, and bad input.

Where the text's example disagrees with its own formula the test checks what the text's
numbers do determine and says why:

* 2.4.8: chi^2 = 4.882605 as printed, but igamc(3/2, 4.882605/2) = 0.180598, not the printed
  0.180609 (rounding in the text).
* 2.5.8 (3 x 3 example): the text counts F_M = 1, F_M-1 = 1, then uses the 32 x 32 class
  probabilities 0.2888 / 0.5776 / 0.1336 (hard-coded in NIST STS) to get chi^2 = 0.596953.
* 2.6.8: the printed N1 = 4 for epsilon = 1001010011 cannot happen: the first n/2 = 5 moduli
  are 0, 2, 4.47, 2, 4.47, all below T = 5.47 (N1 = 5), and likewise for the 100-bit example.
  The DFT test is checked on the 1e6 bits of e (Appendix B) instead.
* 2.8.8 (50-bit example): the printed counts do not follow from the sequence; the 1e6-bit e
  example (chi^2 = 8.965859, P = 0.110434) is checked.
* 2.9.8 (20-bit example): f_n = 1.1949875 as printed, but the printed P-value uses sigma =
  sqrt(variance) instead of the c sqrt(variance / K) of section 2.9.4; the 1e6-bit e value
  (P = 0.282568) follows the formula and is checked.
"""

from __future__ import annotations

import importlib.util
import math
import time
from pathlib import Path

import numpy as np
import pytest
from rtn_helpers import PI100

from ftjlab.errors import BadInput
from ftjlab.rtn import nist

_spec = importlib.util.spec_from_file_location(
    "rtn_make_e_bits", Path(__file__).with_name("data") / "make_e_bits.py"
)
_make = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_make)
compute_e_bits = _make.e_bits

LONGEST_128 = (
    "11001100000101010110110001001100111000000000001001"
    "00110101010001000100111101011010000000110101111100"
    "1100111001101101100010110010"
)


def test_e_data_is_the_binary_expansion_of_e(e_bits):
    prefix = compute_e_bits(4000)
    assert "".join(map(str, e_bits[:4000])) == prefix
    # NIST data.e starts (its first three lines):
    assert prefix.startswith("101011011111100001010100" "0101100010100010101110110"
                             "1001010100110101010111111")


@pytest.mark.parametrize(
    ("func", "bits", "kwargs", "p", "stat"),
    [
        (nist.frequency, "1011010101", {}, 0.527089, 0.632455532),  # 2.1.4
        (nist.frequency, PI100, {}, 0.109599, 1.6),  # 2.1.8
        (nist.block_frequency, "0110011010", {"m": 3}, 0.801252, 1.0),  # 2.2.4
        (nist.block_frequency, PI100, {"m": 10}, 0.706438, 7.2),  # 2.2.8
        (nist.runs, "1001101011", {}, 0.147232, 7),  # 2.3.4
        (nist.runs, PI100, {}, 0.500798, 52),  # 2.3.8
        (nist.longest_run, LONGEST_128, {}, 0.180598, 4.882605),  # 2.4.8 (see module doc)
        (nist.approximate_entropy, "0100110101", {"m": 3}, 0.261961, None),  # 2.12.4
        (nist.approximate_entropy, PI100, {"m": 2}, 0.235301, 5.550792),  # 2.12.8
    ],
)
def test_single_statistic_examples(func, bits, kwargs, p, stat):
    r = func(bits, **kwargs)
    assert r.applicable
    assert r.p_value == pytest.approx(p, abs=1e-6)
    if stat is not None:
        assert r.statistic[0] == pytest.approx(stat, abs=1e-6)


def test_longest_run_text_p_value_is_its_rounding():
    assert nist.longest_run(LONGEST_128).p_value == pytest.approx(0.180609, abs=2e-5)


def test_rank_small_example_counts_and_chi2():
    r = nist.rank("01011001001010101101", 3, 3)  # 2.5.4: two 3 x 3 matrices
    assert r.detail["counts"].tolist() == [1, 1, 0]  # F_M, F_M-1, rest as in the text
    expected = 2 * np.array([0.2888, 0.5776, 0.1336])  # the text's (32 x 32) probabilities
    chi2 = float(np.sum((r.detail["counts"] - expected) ** 2 / expected))
    assert chi2 == pytest.approx(0.596953, abs=1e-6)
    assert math.exp(-chi2 / 2) == pytest.approx(0.741948, abs=1e-6)


def test_rank_on_1e5_bits_of_e(e_bits):
    r = nist.rank(e_bits[:100_000])  # 2.5.8
    assert r.detail["counts"].tolist() == [23, 60, 14]
    assert r.statistic[0] == pytest.approx(1.2619656, abs=1e-6)
    assert r.p_value == pytest.approx(0.532069, abs=1e-6)


def test_dft_text_examples_are_inconsistent_with_the_threshold():
    x = 2.0 * nist.as_bits("1001010011") - 1
    moduli = np.abs(np.fft.fft(x))[:5]
    assert np.all(moduli < math.sqrt(math.log(20) * 10))  # N1 = 5, not the printed 4
    assert nist.dft("1001010011").detail["n1"] == 5


def test_non_overlapping_template_example():
    r = nist.non_overlapping_template("10100100101110010110", 3, 2, ["001"])  # 2.7.4
    assert r.detail["W"][:, 0].tolist() == [2, 1]
    assert r.statistic[0] == pytest.approx(2.133333, abs=1e-6)
    assert r.p_value == pytest.approx(0.344154, abs=1e-6)


def test_148_aperiodic_templates_of_nine_bits():
    t = nist.aperiodic_templates(9)
    assert t.size == 148
    assert format(t[0], "09b") == "000000001" and format(t[-1], "09b") == "111111110"
    with pytest.raises(BadInput, match="aperiodic"):
        nist.non_overlapping_template("0101" * 100, 3, 2, ["101"])


def test_universal_small_example_statistic():
    r = nist.universal("01011010011101010111", 2, 4)  # 2.9.4: L = 2, Q = 4, K = 6
    assert r.statistic[0] == pytest.approx(1.1949875, abs=1e-7)


def test_linear_complexity_example_on_e(e_bits):
    r = nist.linear_complexity(e_bits, 1000)  # 2.10.8
    assert r.detail["nu"].tolist() == [11, 31, 116, 501, 258, 57, 26]
    assert r.statistic[0] == pytest.approx(2.700348, abs=1e-6)
    assert r.p_value == pytest.approx(0.845406, abs=1e-6)


def test_berlekamp_massey_small_sequence():
    # 1101011110001 (2.10.4's illustration) has linear complexity 4
    bits = nist.as_bits("1101011110001")
    assert nist.linear_complexities(bits[None, :])[0] == 4
    assert nist.linear_complexities(np.ones((1, 20), np.uint8))[0] == 1
    assert nist.linear_complexities(np.zeros((1, 20), np.uint8))[0] == 0


def test_serial_examples(e_bits):
    r = nist.serial("0011011101", 3)  # 2.11.4
    np.testing.assert_allclose(r.statistic, [1.6, 0.8], atol=1e-9)
    np.testing.assert_allclose(r.p_values, [0.808792, 0.670320], atol=1e-6)
    r = nist.serial(e_bits, 2)  # 2.11.8
    np.testing.assert_allclose(r.p_values, [0.843764, 0.561915], atol=1e-6)


def test_cumulative_sums_examples():
    r = nist.cumulative_sums("1011010111")  # 2.13.4
    assert r.statistic[0] == 4
    assert r.p_values[0] == pytest.approx(0.4116588, abs=1e-6)
    r = nist.cumulative_sums(PI100)  # 2.13.8
    assert r.statistic.tolist() == [16, 19]
    np.testing.assert_allclose(r.p_values, [0.219194, 0.114866], atol=1e-6)


def test_random_excursions_examples_on_e(e_bits):
    r = nist.random_excursions(e_bits)  # 2.14.8
    assert r.detail["J"] == 1490
    np.testing.assert_allclose(
        r.statistic,
        [3.835698, 7.318707, 7.861927, 15.692617, 2.430872, 4.798906, 2.357041, 2.488767],
        atol=1e-6,
    )
    np.testing.assert_allclose(
        r.p_values,
        [0.573306, 0.197996, 0.164011, 0.007779, 0.786868, 0.440912, 0.797854, 0.778186],
        atol=1e-6,
    )
    v = nist.random_excursions_variant(e_bits)  # 2.15.8
    assert v.statistic.tolist() == [1450, 1435, 1380, 1366, 1412, 1475, 1480, 1468, 1502,
                                    1409, 1369, 1396, 1479, 1599, 1628, 1619, 1620, 1610]
    np.testing.assert_allclose(
        v.p_values,
        [0.858946, 0.794755, 0.576249, 0.493417, 0.633873, 0.917283, 0.934708, 0.816012,
         0.826009, 0.137861, 0.200642, 0.441254, 0.939291, 0.505683, 0.445935, 0.512207,
         0.538635, 0.593930],
        atol=1e-6,
    )  # fmt: skip


def test_suite_on_e_matches_the_text_and_runs_fast(e_bits):
    """The examples on the 1e6 bits of e (sections 2.x.8 and Appendix B, NIST STS's default
    parameters), all 15 tests in one run, within the 5 s budget."""
    nist.run_suite(e_bits[:20_000])  # warm caches
    t0 = time.perf_counter()
    results = {r.test: r for r in nist.run_suite(e_bits)}
    elapsed = time.perf_counter() - t0
    assert len(results) == 15
    expected = {
        "frequency": [0.953749],
        "runs": [0.561917],
        "longest_run": [0.718945],
        "rank": [0.306156],
        "dft": [0.847187],
        "overlapping_template": [0.110434],
        "universal": [0.282568],
        "approximate_entropy": [0.700073],
        "serial": [0.766182, 0.462921],
        "linear_complexity": [0.826335],
        "cumulative_sums": [0.669887, 0.724266],
    }
    for name, p in expected.items():
        np.testing.assert_allclose(results[name].p_values, p, atol=2e-6, err_msg=name)
    # non-overlapping template 000000001 (Appendix B) and the overlapping chi^2 (2.8.8)
    nt = results["non_overlapping_template"]
    assert nt.labels[0] == "000000001" and len(nt.labels) == 148
    assert nt.p_values[0] == pytest.approx(0.078790, abs=1e-6)
    assert results["overlapping_template"].statistic[0] == pytest.approx(8.965859, abs=1e-6)
    assert results["overlapping_template"].detail["nu"].tolist() == [329, 164, 150, 111, 78, 136]
    assert elapsed <= 5.0, f"full suite on 1e6 bits took {elapsed:.2f} s"


def test_criteria_pass_a_good_source_and_fail_a_biased_one():
    """The section 4.2 machinery on m = 30 sequences of 1e5 bits (the 100 x 1e6 runs are in
    ``ftjlab bench rtn``): PCG64 passes, a p = 0.51 source fails on the frequency tests."""
    rng = np.random.default_rng(2026)
    tests = ("frequency", "block_frequency", "runs", "cumulative_sums", "serial",
             "approximate_entropy", "longest_run", "rank")
    kw = {"serial_m": 8, "apen_m": 6}

    def run(p):
        return [nist.run_suite((rng.random(100_000) < p).astype(np.uint8), tests, **kw)
                for _ in range(30)]

    good = nist.assess(run(0.5))
    assert good.verdict, good.table()
    assert nist.min_pass_count(30) == 28 and nist.min_pass_count(100) == 96
    assert good.flagged <= 1
    bad = nist.assess(run(0.51))
    assert not bad.verdict
    flagged = {s.test for s in bad.sets if s.flagged}
    assert {"frequency", "cumulative_sums"} <= flagged
    assert "FAIL" in bad.table()


def test_assess_uniformity_needs_55_sequences_and_not_applicable_sets_are_skipped():
    rng = np.random.default_rng(1)
    res = [nist.run_suite(rng.integers(0, 2, 20_000), ("frequency", "random_excursions"))
           for _ in range(10)]
    a = nist.assess(res)
    assert [s.test for s in a.sets] == ["frequency"]  # excursions: J < 500 everywhere
    assert math.isnan(a.sets[0].uniformity_p)
    assert not res[0][1].applicable and "500" in res[0][1].note


@pytest.mark.parametrize(
    ("bits", "match"),
    [
        (np.array([0, 1, 2, 1]), "0 or 1"),
        (np.array([0.0, np.nan, 1.0]), "NaN"),
        ("0101x", "only '0' and '1'"),
        (np.array([], dtype=np.uint8), "empty"),
    ],
)
def test_bad_bits(bits, match):
    with pytest.raises(BadInput, match=match):
        nist.frequency(bits)


def test_unknown_test_name():
    with pytest.raises(BadInput, match="unknown SP 800-22 test"):
        nist.run_suite("0101" * 100, ["monobit"])
