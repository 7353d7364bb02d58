"""End to end: a run file as the RTN acquisition writes it -> analysis stored next to the run,
and the rtn-analyze / rng-test / rtn-tune commands (exit codes, messages, stored groups)."""

from __future__ import annotations

import h5py
import numpy as np
import pytest
from rtn_helpers import simulate_rtn

from ftjlab.cli import main
from ftjlab.errors import BadInput
from ftjlab.rtn import analysis, spectrum
from ftjlab.rtn.hmm import GaussianHMM
from ftjlab.rtn.source import Trace
from ftjlab.store import RunWriter, StreamSpec, list_runs

DT = 50e-6
TAU_C, TAU_E, DI, SIGMA = 1e-3, 3e-3, 2e-9, 1e-9  # SNR 2


def _rtn_run(tmp_path, x, procedure="rtn-acquisition", **params):
    run = RunWriter.create(
        tmp_path, procedure, {"bias_v": 0.8, "interval_s": DT, "nplc": 0.0006, **params},
        {"seed": 1}, {"current": StreamSpec(np.float32, "A")}, units={"bias_v": "V"},
    )
    for start in range(0, x.size, 50_000):
        run.append("current", x[start : start + 50_000])
    run.finish("completed", attrs={"aperture_s": 1e-5})
    return run.path, run.run_id


@pytest.fixture(scope="module")
def trap_file(tmp_path_factory):
    x = simulate_rtn([TAU_C], [TAU_E], [-DI], 200_000, SIGMA, 51, dt=DT, aperture=1e-5,
                     base=1e-7)
    return _rtn_run(tmp_path_factory.mktemp("rtn"), x.astype(np.float32))


def test_analysis_of_a_recorded_trace_is_stored_next_to_the_run(trap_file):
    path, run_id = trap_file
    rep = analysis.analyze(Trace.from_run(path, run_id, block=64_000))
    assert rep.n_traps == 1 and rep.bic[1] < rep.bic[2]
    t = rep.traps[0]
    assert t.tau_c_s == pytest.approx(TAU_C, rel=0.05)
    assert t.tau_e_s == pytest.approx(TAU_E, rel=0.05)
    assert t.amplitude_a == pytest.approx(-DI, rel=0.03)
    assert rep.noise_sigma_a == pytest.approx(SIGMA, rel=0.03)
    s0, fc = spectrum.expected_lorentzian(TAU_C, TAU_E, DI)
    assert rep.lorentzian.fc_hz == pytest.approx(fc, rel=0.1)
    assert rep.lorentzian.s0_a2_hz == pytest.approx(s0, rel=0.15)
    assert rep.lorentzian.white_a2_hz == pytest.approx(2 * SIGMA**2 * DT, rel=0.1)
    tau_star = 1 / (1 / TAU_C + 1 / TAU_E)
    var_rtn = DI**2 * 0.25 * 0.75
    assert rep.acf[1] == pytest.approx(var_rtn * np.exp(-DT / tau_star) / (var_rtn + SIGMA**2),
                                       abs=0.01)
    # 10 us apertures are 1.3 % of tau*: below the 5 % from which the aperture model is used
    assert not any("ApertureHMM" in n for n in rep.notes)
    assert rep.warnings == [] and t.ci_method.startswith("observed information")
    group = analysis.store(rep, path, run_id)
    with h5py.File(path, "r") as f:
        g = f[group]
        assert g["tau_c"].attrs["units"] == "s" and g["tau_c"][0] == pytest.approx(t.tau_c_s)
        assert g["psd"].shape == g["psd_f"].shape and g["tlp_counts"].shape == (64, 64)
        assert g.attrs["n_traps"] == 1
        assert "warnings" in g.attrs and "observed information" in str(g.attrs["ci_methods"])


def test_dwell_times_from_the_viterbi_path():
    """Short apertures, SNR 2: the Viterbi dwells are flagged as biased long; SNR 10: the
    dwell-based tau_c, tau_e agree with the truth within 5 %."""
    x = simulate_rtn([TAU_C], [TAU_E], [-1.0], 100_000, 0.5, 52, dt=DT, aperture=DT / 100)
    rep = analysis.analyze(x, DT, traps=1, spectrum_segment=None, tlp_bins=0, acf_lags=0)
    assert "SNR 2 < 4" in rep.dwell_note
    x = simulate_rtn([TAU_C], [TAU_E], [-1.0], 100_000, 0.1, 53, dt=DT, aperture=DT / 100)
    rep = analysis.analyze(x, DT, traps=1, spectrum_segment=None, tlp_bins=0, acf_lags=0)
    assert rep.dwell_note == "" and rep.dwell.n_empty > 500
    assert rep.dwell.tau_c_s == pytest.approx(TAU_C, rel=0.05)
    assert rep.dwell.tau_e_s == pytest.approx(TAU_E, rel=0.05)
    assert rep.dwell.naive_tau_c_s > rep.dwell.tau_c_s  # mean dwell * dt is ~dt/2 too long


def test_white_noise_is_reported_as_no_rtn_not_as_a_trap():
    """A cell without traps: Gaussian read noise (BIC of white noise wins) or a non-Gaussian
    white noise (a two-level fit without memory): no trap and no time constants."""
    rng = np.random.default_rng(8)
    rep = analysis.analyze(rng.normal(size=50_000) * 1e-12 + 3e-9, 2e-4, tlp_bins=0)
    assert rep.n_traps == 0 and rep.traps == [] and "white Gaussian noise" in rep.notes[0]
    assert rep.lorentzian is None
    rep = analysis.analyze(rng.uniform(size=50_000), 2e-4, spectrum_segment=None, tlp_bins=0)
    assert rep.n_traps == 0 and "no memory" in rep.notes[0]
    with pytest.raises(BadInput, match="no memory"):
        GaussianHMM(2).fit(rng.uniform(size=20_000), 2e-4).trap()


def test_rtn_analyze_command(trap_file, capsys):
    path, run_id = trap_file
    assert main(["rtn-analyze", str(path), "--run", run_id, "--traps", "1"]) == 0
    out = capsys.readouterr().out
    assert "trap 0:" in out and "stored in" in out
    info = list_runs(path)[0]
    assert "analysis/rtn/tau_c" in info.datasets
    assert main(["rtn-analyze", str(path), "--dataset", "voltage"]) == 2
    assert "no dataset 'voltage'" in capsys.readouterr().err
    assert main(["rtn-analyze", str(path), "--traps", "many"]) == 2


@pytest.mark.parametrize(
    ("x", "message"),
    [
        (np.r_[np.ones(1000), np.nan, np.ones(1000)], "NaN"),
        (np.full(5000, 1e-7), "constant"),
        (np.random.default_rng(1).normal(size=60) * 1e-9, "too short"),
    ],
)
def test_bad_traces_give_a_clear_message_not_a_number(tmp_path, capsys, x, message):
    path, _ = _rtn_run(tmp_path, x.astype(np.float32))
    assert main(["rtn-analyze", str(path)]) == 2
    assert message in capsys.readouterr().err
    assert main(["rng-test", str(path), "--no-store"]) == 2
    assert message in capsys.readouterr().err or "all equal" in capsys.readouterr().err


def test_rng_test_on_a_recorded_trace_and_on_the_controls(trap_file, tmp_path, capsys):
    path, _ = trap_file
    assert main(["rng-test", str(path), "--post", "vn", "--length", "20000"]) == 0
    out = capsys.readouterr().out
    assert "sequences x 20000 bits" in out and "VERDICT" in out
    assert "analysis/rng_test/p_values" in list_runs(path)[0].datasets
    assert main(["rng-test", "--reference", "biased", "--sequences", "3", "--length",
                 "100000", "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "VERDICT: FAIL" in out
    (run_file,) = tmp_path.glob("*rng-test.h5")
    info = list_runs(run_file)[0]
    assert info.datasets["bits"][0] == (3, 12_500)
    assert main(["rng-test"]) == 2
    assert main(["rng-test", str(path), "--reference", "pcg64"]) == 2
    assert main(["rng-test", "--reference", "pcg64", "--length", "10"]) == 2


def test_rtn_tune_from_a_tuning_procedure_run(tmp_path, capsys):
    run = RunWriter.create(tmp_path, "rtn-tuning", {"v_start": 0.6}, {}, {
        "points": StreamSpec(np.float64, "", (6,))})
    run.append("points", np.array([
        [0.6, 0.02, 0.05, 20e-3, 0.05e-3, 0.01],
        [0.8, 0.02, 0.05, 1e-3, 1e-3, 0.5],
        [0.8, 0.04, 0.05, 1e-3, 1e-3, 0.5],
        [1.0, 0.04, 0.05, 0.14e-3, 7e-3, 0.98],
    ]))
    run.finish("completed")
    assert main(["rtn-tune", str(run.path)]) == 0
    out = capsys.readouterr().out
    # 0.6 V / 1.0 V: skewed occupancy; 20 ms with the procedure's 20 % gap is decorrelated
    assert "best operating point: 0.800 V, T_s = 20 ms" in out, out
    with h5py.File(run.path, "r") as f:
        g = f[f"runs/{run.run_id}/analysis/latent_tuning"]
        assert g.attrs["best_bias_v"] == 0.8 and g["ks_max"].shape == (3, 2)
    assert main(["rtn-tune"]) == 2
    assert main(["rtn-tune", "--bench", "--biases", "0.8,x"]) == 2
    assert main(["rtn-tune", "--bench", "--biases", "2.0"]) == 2  # above the bench limit
