"""RTN physics against the analytic results of a two-state Markov process.

For capture time tau_c and emission time tau_e: dwell times are exponential with those means,
the occupancy is tau_e / (tau_c + tau_e), the autocorrelation is exp(-lag / tau*) with
1/tau* = 1/tau_c + 1/tau_e, and the power spectrum is a Lorentzian with corner 1/(2 pi tau*).
"""

import numpy as np
import pytest
from ftjlab.simulators.array import FTJArray
from ftjlab.simulators.params import ArrayParams, TrapModel
from ftjlab.simulators.trap_queue import BiasWindow, TrapPopulation
from ftjlab.simulators.traps import TraceWindow, simulate_traps, transition_probabilities
from scipy import optimize, signal

TAU_C, TAU_E = 2e-3, 5e-3
TAU_STAR = 1 / (1 / TAU_C + 1 / TAU_E)


def run_lengths(binary: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Lengths (in samples) of the runs of 1s and of 0s, dropping the truncated end runs."""
    edges = np.flatnonzero(np.diff(binary.astype(np.int8))) + 1
    bounds = np.concatenate([[0], edges, [binary.size]])
    lengths = np.diff(bounds)[1:-1]
    values = binary[bounds[1:-2]]
    return lengths[values], lengths[~values]


@pytest.fixture(scope="module")
def single_trap_trace():
    rng = np.random.default_rng(7)
    window = TraceWindow(n=4_000_000, interval_s=1e-5, aperture_s=1e-5)  # 40 s, dt = tau/200
    trace, _ = simulate_traps(
        np.array([False]),
        np.array([1 / TAU_C]),
        np.array([1 / TAU_E]),
        np.array([1.0]),
        np.array([0]),
        np.zeros(1),
        window,
        rng,
    )
    return trace[0].astype(np.float64), window


def test_dwell_times_and_occupancy_match_trap_model(single_trap_trace):
    trace, window = single_trap_trace
    filled = trace > 0.5
    up, down = run_lengths(filled)
    assert min(up.size, down.size) >= 5_000  # >= 1e4 transitions
    dt = window.interval_s
    # A run of k samples on a grid of dt has mean dt / (1 - exp(-dt/tau)) = tau + dt/2 + O(dt^2)
    assert up.mean() * dt - dt / 2 == pytest.approx(TAU_E, rel=0.03)
    assert down.mean() * dt - dt / 2 == pytest.approx(TAU_C, rel=0.03)
    assert trace.mean() == pytest.approx(TAU_E / (TAU_C + TAU_E), abs=0.01)


def test_autocorrelation_decays_as_exp_minus_lag_over_tau_star(single_trap_trace):
    trace, window = single_trap_trace
    x = trace - trace.mean()
    var = np.mean(x * x)
    for lag_s in (2e-4, 1e-3, 2e-3, 4e-3):
        k = round(lag_s / window.interval_s)
        rho = np.mean(x[:-k] * x[k:]) / var
        assert rho == pytest.approx(np.exp(-lag_s / TAU_STAR), abs=0.02)


def test_power_spectrum_is_lorentzian_with_corner_at_1_over_2pi_tau_star(single_trap_trace):
    trace, window = single_trap_trace
    fs = 1 / window.interval_s
    f, psd = signal.welch(trace, fs=fs, nperseg=1 << 15)
    sel = (f > 2) & (f < 5_000)

    def lorentz(freq, s0, fc):
        return s0 / (1 + (freq / fc) ** 2)

    (s0, fc), _ = optimize.curve_fit(
        lambda fr, a, b: np.log(lorentz(fr, a, b)), f[sel], np.log(psd[sel]), p0=(psd[1], 100.0)
    )
    assert fc == pytest.approx(1 / (2 * np.pi * TAU_STAR), rel=0.10)
    # The plateau follows from the variance: S(0) = 4 var tau* (one-sided).
    p = TAU_E / (TAU_C + TAU_E)
    assert s0 == pytest.approx(4 * p * (1 - p) * TAU_STAR, rel=0.10)


def test_aperture_average_is_exact_time_average():
    """A reading is the time average over its aperture: compare against a brute-force fine
    sampling of the same trap path (the window is split into sub-readings)."""
    rng = np.random.default_rng(3)
    coarse = TraceWindow(n=2_000, interval_s=1e-3, aperture_s=1e-3)
    rng2 = np.random.default_rng(3)
    fine = TraceWindow(n=2_000 * 50, interval_s=2e-5, aperture_s=2e-5)
    args = (
        np.array([True]),
        np.array([1 / TAU_C]),
        np.array([1 / TAU_E]),
        np.array([1.0]),
        np.array([0]),
        np.zeros(1),
    )
    a, _ = simulate_traps(*args, coarse, rng)
    b, _ = simulate_traps(*args, fine, rng2)
    # Both draw the same dwell sequence from the same seed: the coarse reading must equal
    # the mean of its 50 fine sub-readings.
    np.testing.assert_allclose(a[0], b[0].reshape(-1, 50).mean(axis=1), atol=2e-6)


def test_grid_transition_probabilities_exact_for_any_step():
    lam_c, lam_e = 1 / TAU_C, 1 / TAU_E
    for dt in (1e-6, 1e-3, 1.0):
        p01, p10 = transition_probabilities(lam_c, lam_e, dt)
        # Chapman-Kolmogorov: two steps of dt equal one step of 2 dt
        m = np.array([[1 - p01, p01], [p10, 1 - p10]])
        q01, q10 = transition_probabilities(lam_c, lam_e, 2 * dt)
        np.testing.assert_allclose(m @ m, [[1 - q01, q01], [q10, 1 - q10]], atol=1e-12)
    p01, p10 = transition_probabilities(lam_c, lam_e, 100.0)
    assert p01 == pytest.approx(TAU_E / (TAU_C + TAU_E))  # stationary for long steps


def _population_with_known_rates(n_traps: int, volts: float, rng) -> TrapPopulation:
    """One trap per cell whose rates at ``volts`` are exactly 1/TAU_C and 1/TAU_E."""
    params = TrapModel(tau_log_sigma=0.0, kinetics_bound_v=0.3)
    pop = TrapPopulation(params, n_traps, rng, 0.0, counts=np.ones(n_traps, dtype=np.int64))
    # rescale the reference times so that the rates at `volts` are exactly 1/TAU_C, 1/TAU_E
    ids = np.arange(pop.state.size)
    pop.tau_c_ref[:] = pop.tau_c_ref * (pop.capture_rate(ids, volts) * TAU_C)
    pop.tau_e_ref[:] = pop.tau_e_ref * (pop.emission_rate(ids, volts) * TAU_E)
    pop.set_states(ids, pop.state.copy(), 0.0)  # reschedule every trap with the new rates
    return pop


def test_event_queue_path_has_exact_occupancy_and_dwell_times():
    """The whole-array path (thinning + exact emission) against the same analytic truths."""
    rng = np.random.default_rng(11)
    volts, n_traps = 0.25, 20
    pop = _population_with_known_rates(n_traps, volts, rng)
    window = BiasWindow(0.0, 1e9, np.ones((1, 1), bool), np.full(n_traps, volts))
    pop.open_window(window)
    dt, steps = 5e-5, 100_000  # 5 s per trap, ~1,400 transitions each
    states = np.empty((steps, n_traps), dtype=bool)
    for k in range(steps):
        pop.advance((k + 1) * dt, window)
        states[k] = pop.state
    ups, downs = zip(*(run_lengths(states[:, j]) for j in range(n_traps)), strict=True)
    up, down = np.concatenate(ups), np.concatenate(downs)
    assert min(up.size, down.size) >= 10_000
    assert up.mean() * dt - dt / 2 == pytest.approx(TAU_E, rel=0.03)
    assert down.mean() * dt - dt / 2 == pytest.approx(TAU_C, rel=0.03)
    assert states.mean() == pytest.approx(TAU_E / (TAU_C + TAU_E), abs=0.01)


def test_event_queue_occupancy_of_a_population_relaxes_to_stationary():
    rng = np.random.default_rng(5)
    volts = 0.3
    pop = _population_with_known_rates(40_000, volts, rng)
    cells = 40_000
    window = BiasWindow(0.0, 1.0, np.ones((1, cells // 200), bool), np.full(200, volts))
    pop.open_window(window)
    pop.advance(0.5, window)  # >> tau*: stationary at `volts`
    p = TAU_E / (TAU_C + TAU_E)
    n = pop.state.size
    assert pop.state.mean() == pytest.approx(p, abs=4 * np.sqrt(p * (1 - p) / n))
    # after the window the cells are idle (0 V): occupancy relaxes to the idle value
    pop.advance(2.0)
    ids = np.arange(n)
    lc, le = pop.capture_rate(ids, 0.0), pop.emission_rate(ids, 0.0)
    assert pop.state.mean() == pytest.approx(np.mean(lc / (lc + le)), abs=0.005)


def test_long_idle_jump_is_exact_in_distribution():
    rng = np.random.default_rng(9)
    pop = _population_with_known_rates(50_000, 0.0, rng)  # idle rates = 1/TAU_C, 1/TAU_E
    pop.state[:] = True
    pop.advance(1e3)  # long idle: one exact transition draw per trap
    p = TAU_E / (TAU_C + TAU_E)
    assert pop.state.mean() == pytest.approx(p, abs=0.01)


def test_rtn_amplitude_negligible_at_vmm_bias_and_large_at_sampling_bias():
    rng = np.random.default_rng(21)
    array = FTJArray(ArrayParams(rows=8, cols=64, initial_state="on"), rng)
    has_trap = np.diff(array.traps.cell_ptr)[:64] > 0  # row 0
    cols = np.arange(64)
    quiet = array.acquire([0], cols, 0.2, 20_000, 1e-4, 1e-4, noise=False).astype(np.float64)
    loud = array.acquire([0], cols, 0.8, 20_000, 1e-4, 1e-4, noise=False).astype(np.float64)
    rel_quiet = quiet.std(axis=1) / quiet.mean(axis=1)
    rel_step = (loud.max(axis=1) - loud.min(axis=1)) / loud.mean(axis=1)
    assert rel_quiet.max() < 1e-3  # RTN below 0.1 % of the cell current at the VMM bias
    assert np.median(rel_step[has_trap]) > 0.01  # several % at the sampling bias
    assert np.all(rel_step[~has_trap] < 1e-6)  # no traps, no RTN
    # The step of one filled trap at the VMM bias, measured through the read path:
    a0 = array.traps.amp0
    assert np.max(a0) * float(array.rtn_amplitude(0.2)) < 1e-3
    assert np.median(a0) * float(array.rtn_amplitude(0.8)) > 1e-2


def test_filled_trap_lowers_the_vmm_current_by_its_amplitude():
    rng = np.random.default_rng(4)
    array = FTJArray(ArrayParams(rows=4, cols=4, initial_state="on"), rng)
    cell = int(np.flatnonzero(np.diff(array.traps.cell_ptr) > 0)[0])
    r, c = divmod(cell, 4)
    trap = int(array.traps.cell_ptr[cell])
    empty = array.read_bitlines([r], 0.2, 1e-9, noise=False)[c]
    array.traps.state[array.traps.cell == cell] = False
    array.traps.state[trap] = True
    array.modulation[:] = array.traps.modulation(16)
    array._h_volts = None
    filled = array.read_bitlines([r], 0.2, 1e-9, noise=False)[c]
    expected = float(array.traps.amp0[trap]) * float(array.rtn_amplitude(0.2))
    assert 1 - filled / empty == pytest.approx(expected, rel=1e-3)


def test_emission_through_a_sequence_of_reads_has_the_exact_survival_function():
    """A filled trap whose word line toggles from read to read: P(no emission by t) must be
    exp(-integral of the piecewise emission rate), also after the window (idle rate)."""
    rng = np.random.default_rng(13)
    n = 200_000
    params = TrapModel(tau_log_sigma=0.0)
    pop = TrapPopulation(params, n, rng, 0.0, counts=np.ones(n, dtype=np.int64))
    step, volts = 1e-6, 0.25
    row_on = np.array([[True], [False], [True], [True]])  # one word line, 4 reads
    window = BiasWindow(0.0, step, np.repeat(row_on, n, axis=1), np.full(1, volts))
    ids = np.arange(n)
    t_emit = pop._emission_after(ids, np.zeros(n), window)
    lam_on = float(pop.emission_rate(ids[:1], volts)[0])
    lam_idle = float(pop.emission_rate(ids[:1], 0.0)[0])
    rates = np.where(row_on[:, 0], lam_on, lam_idle)
    for t in (0.5e-6, 1.5e-6, 3e-6, 4e-6, 6e-6):
        seg = np.clip(t - step * np.arange(4), 0, step)
        hazard = np.sum(rates * seg) + lam_idle * max(t - 4 * step, 0.0)
        expected = np.exp(-hazard)
        assert np.mean(t_emit > t) == pytest.approx(expected, abs=4 * np.sqrt(expected / n) + 1e-3)


@pytest.mark.parametrize("noise", [False, True])
def test_compiled_and_numpy_engines_agree(noise):
    """The numba loops and the numpy reference consume the same draws: same readings."""
    rng = np.random.default_rng(23)
    n_traps, groups = 300, 64
    group = np.sort(rng.integers(0, groups, n_traps))
    tau_c = 1e-3 * np.exp(rng.normal(0, 1.2, n_traps))
    tau_e = 1e-3 * np.exp(rng.normal(0, 1.2, n_traps))
    args = (
        rng.random(n_traps) < 0.5, 1 / tau_c, 1 / tau_e, rng.normal(0, 1e-9, n_traps), group,
        np.full(groups, 2e-8), TraceWindow(n=5_000, interval_s=5e-5, aperture_s=2e-5),
    )
    sigma = np.full(groups, 1e-10) if noise else None
    a, sa = simulate_traps(*args, np.random.default_rng(1), noise_sigma=sigma, engine="numba")
    b, sb = simulate_traps(*args, np.random.default_rng(1), noise_sigma=sigma, engine="numpy")
    np.testing.assert_array_equal(sa, sb)
    np.testing.assert_allclose(a, b, rtol=2e-6, atol=1e-15)
    assert np.std(a) > 0
