"""Level detection and time constants on simulated traces with known parameters."""

from __future__ import annotations

import numpy as np
import pytest
from rtn_helpers import simulate_rtn

from ftjlab.errors import BadInput
from ftjlab.rtn import _kernels as kern
from ftjlab.rtn.aperture import ApertureHMM
from ftjlab.rtn.factorial import FactorialHMM
from ftjlab.rtn.hmm import GaussianHMM, continuous_rates
from ftjlab.rtn.source import Trace
from ftjlab.store import RunWriter, StreamSpec

DT = 50e-6  # 20 kHz sampling
TAU_C, TAU_E = 1e-3, 3e-3  # 20 and 60 samples: the reference note's test case


def test_compiled_kernels_match_the_numpy_reference():
    rng = np.random.default_rng(0)
    x = rng.normal(size=3000) + (rng.random(3000) < 0.3)
    for k in (2, 4):
        means = np.linspace(0, 1, k)
        var = np.full(k, 0.4)
        trans = np.full((k, k), 0.05 / (k - 1)) + np.eye(k) * (0.95 - 0.05 / (k - 1))
        prior = np.full(k, 1 / k)
        prev = rng.dirichlet(np.ones(k))
        a = kern.forward_backward(x, means, var, trans, prior, prev, 2500)
        b = kern.forward_backward_numpy(x, means, var, trans, prior, prev, 2500)
        for u, v in zip(a, b, strict=True):
            np.testing.assert_allclose(u, v, rtol=1e-9, atol=1e-12)
        if k == 2:
            for u, v in zip(kern.forward_backward2(x, means, var, trans, prior, prev, 2500), b,
                            strict=True):
                np.testing.assert_allclose(u, v, rtol=1e-9, atol=1e-12)
        lt, lp = np.log(trans), np.log(prior)
        np.testing.assert_array_equal(kern.viterbi(x, means, var, lt, lp),
                                      kern.viterbi_numpy(x, means, var, lt, lp))


def test_continuous_rates_invert_the_sampled_chain():
    lc, le, dt = 1 / 3e-3, 1 / 7e-3, 2e-3  # dt comparable to tau: no small-dt shortcut
    lam = lc + le
    p01 = lc / lam * -np.expm1(-lam * dt)
    p10 = le / lam * -np.expm1(-lam * dt)
    assert continuous_rates(p01, p10, dt) == pytest.approx((lc, le), rel=1e-12)
    with pytest.raises(BadInput, match="transition probabilities"):
        continuous_rates(0.0, 0.0, dt)


@pytest.mark.parametrize(("snr", "n", "seed"), [(1.0, 1_000_000, 11), (2.0, 500_000, 12)])
def test_tau_c_tau_e_within_5_percent_at_snr_ge_1(snr, n, seed):
    """A single trap at SNR = dI / sigma = 1 (1e6 samples, ~25,000 transitions: the standard
    error of tau is ~1.2 % there, ~2.5 % with 3e5 samples) and SNR = 2 (5e5 samples). The 95 %
    intervals (batch means) are as wide as the errors: the truth lies within 1.5 half-widths
    (~3 standard errors; over 20 seeds the 95 % intervals covered the truth 18 times)."""
    x = simulate_rtn([TAU_C], [TAU_E], [-1.0], n, 1.0 / snr, seed, dt=DT, aperture=DT / 100)
    m = GaussianHMM(2).fit(x, DT)
    assert m.converged
    t = m.trap(filled="low")
    assert t.transitions >= 1000
    assert t.tau_c_s == pytest.approx(TAU_C, rel=0.05)
    assert t.tau_e_s == pytest.approx(TAU_E, rel=0.05)
    for est, (lo, hi), true in ((t.tau_c_s, t.tau_c_ci_s, TAU_C), (t.tau_e_s, t.tau_e_ci_s,
                                                                   TAU_E)):
        assert abs(est - true) <= 1.5 * (hi - lo) / 2
    assert t.amplitude_a == pytest.approx(-1.0, rel=0.03)
    assert t.occupancy == pytest.approx(TAU_E / (TAU_C + TAU_E), abs=0.02)
    assert m.noise_sigma == pytest.approx(1.0 / snr, rel=0.02)


def test_time_constants_near_the_sampling_interval_use_the_exact_inversion():
    """tau_c = 2 dt, tau_e = 5 dt: mean dwell * dt would be off by ~25 %; the exact
    inversion of the sampled chain is not."""
    x = simulate_rtn([2.0], [5.0], [-1.0], 100_000, 0.25, 21, dt=1.0, aperture=0.01)
    t = GaussianHMM(2).fit(x).trap()
    assert t.tau_c_s == pytest.approx(2.0, rel=0.05)
    assert t.tau_e_s == pytest.approx(5.0, rel=0.05)


def test_two_traps_of_different_amplitude_are_resolved():
    """dI = -1 and -2.2 (sigma 0.5: SNR 2 and 4.4), time constants 30/50 and 200/150
    samples: the factorial HMM gives each trap its own amplitude and time constants, and the
    BIC prefers two traps to one."""
    x = simulate_rtn([30.0, 200.0], [50.0, 150.0], [-1.0, -2.2], 300_000, 0.5, 31)
    two = FactorialHMM(2).fit(x)
    fast, slow = sorted(two.traps(), key=lambda t: t.tau_c_s)
    assert fast.amplitude_a == pytest.approx(-1.0, rel=0.03)
    assert slow.amplitude_a == pytest.approx(-2.2, rel=0.03)
    assert fast.tau_c_s == pytest.approx(30.0, rel=0.05)
    assert fast.tau_e_s == pytest.approx(50.0, rel=0.05)
    assert slow.tau_c_s == pytest.approx(200.0, rel=0.1)  # ~1700 transitions: 3.4 % s.e.
    assert slow.tau_e_s == pytest.approx(150.0, rel=0.1)
    assert slow.transitions >= 1000
    one = FactorialHMM(1).fit(x, max_iter=50)
    assert two.bic() < one.bic() - 1000


def test_readings_integrating_over_half_the_interval_keep_one_trap():
    """Apertures of half the interval (as the RTN acquisition's default NPLC gives) catch
    ~10 % of the readings mid-flip. The aperture-aware model times the trap within 5 % and
    the trap-count selection keeps one trap (at high SNR a plain factorial fit calls the
    in-between readings a second trap of half the amplitude, as seen on rtn-acquisition
    runs)."""
    from ftjlab.rtn.analysis import analyze

    x = simulate_rtn([1.4e-3], [1.2e-3], [-1.0], 60_000, 0.2, 61, dt=2e-4, aperture=1e-4)
    m = ApertureHMM(0.5).fit(x, 2e-4)
    t = m.traps()[0]
    assert t.tau_c_s == pytest.approx(1.4e-3, rel=0.05)
    assert t.tau_e_s == pytest.approx(1.2e-3, rel=0.05)
    assert t.amplitude_a == pytest.approx(-1.0, rel=0.01)
    rep = analyze(Trace(x, 2e-4, aperture_s=1e-4), spectrum_segment=None, tlp_bins=0)
    assert rep.n_traps == 1 and rep.bic[1] < rep.bic[2]
    with pytest.raises(BadInput, match="aperture"):
        ApertureHMM(1.5)


def _write_trace(tmp_path, x: np.ndarray, interval_s: float, cells: int = 1):
    """A run file as the RTN acquisition writes it: float32 stream 'current' in A."""
    run = RunWriter.create(
        tmp_path, "rtn-acquisition", {"bias_v": 0.8, "interval_s": interval_s, "nplc": 0.003},
        {"seed": 1}, {"current": StreamSpec(np.float32, "A", () if cells == 1 else (cells,))},
        units={"bias_v": "V", "interval_s": "s"},
    )
    for start in range(0, x.shape[0], 40_000):
        run.append("current", x[start : start + 40_000])
    run.finish("completed", attrs={"aperture_s": interval_s / 2})
    return run.path, run.run_id


def test_file_backed_trace_streams_in_blocks_and_fits_like_memory(tmp_path):
    x = simulate_rtn([TAU_C], [TAU_E], [-2e-9], 200_000, 1e-9, 41, dt=DT, aperture=DT / 2) + 1e-7
    path, run_id = _write_trace(tmp_path, x.astype(np.float32), DT)
    trace = Trace.from_run(path, run_id, block=30_000)
    assert trace.interval_s == DT and trace.aperture_s == DT / 2 and trace.n == x.size
    assert max(b.size for b in trace.blocks()) == 30_000
    mem = GaussianHMM(2).fit(x.astype(np.float32).astype(np.float64), DT)
    disk = GaussianHMM(2).fit(trace)
    assert disk.trap().tau_c_s == pytest.approx(mem.trap().tau_c_s, rel=1e-6)
    assert disk.trap().tau_e_s == pytest.approx(mem.trap().tau_e_s, rel=1e-6)
    whole = mem.decode(x.astype(np.float32).astype(np.float64), DT)
    pieces = disk.decode(trace)
    assert np.mean(whole == pieces) > 0.9999


def test_multi_cell_stream_selects_a_column(tmp_path):
    rng = np.random.default_rng(5)
    x = rng.normal(size=(5000, 3)).astype(np.float32)
    path, run_id = _write_trace(tmp_path, x, 1e-3, cells=3)
    tr = Trace.from_run(path, run_id, cell=2)
    np.testing.assert_array_equal(tr.read(), x[:, 2].astype(np.float64))
    with pytest.raises(BadInput, match="cell"):
        Trace.from_run(path, run_id, cell=3)
    with pytest.raises(BadInput, match="no dataset"):
        Trace.from_run(path, run_id, dataset="voltage")


@pytest.mark.parametrize(
    ("trace", "match"),
    [
        (np.r_[np.zeros(500), np.nan, np.ones(500)], "NaN"),
        (np.full(5000, 1e-7), "constant"),
        (np.random.default_rng(1).normal(size=50), "too short"),
    ],
)
def test_bad_traces_are_refused_with_a_message(trace, match):
    with pytest.raises(BadInput, match=match):
        GaussianHMM(2).fit(trace, 1e-3)


def test_unfitted_model_and_bad_arguments():
    with pytest.raises(BadInput, match="fit it"):
        GaussianHMM(2).trap()
    with pytest.raises(BadInput, match="n_states"):
        GaussianHMM(1)
    with pytest.raises(BadInput, match="n_traps"):
        FactorialHMM(5)
    with pytest.raises(BadInput, match="interval_s"):
        Trace(np.ones(10), interval_s=-1.0)
