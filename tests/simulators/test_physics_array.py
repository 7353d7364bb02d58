"""Switching, conductance, NOR-array and ageing physics against analytic expectations."""

import dataclasses
import itertools

import numpy as np
import pytest
from ftjlab.simulators.array import FTJArray
from ftjlab.simulators.clock import VirtualClock
from ftjlab.simulators.params import (
    ArrayParams,
    ConductanceModel,
    EnduranceModel,
    RetentionModel,
    SwitchingModel,
    TrapModel,
)
from trap_helpers import fast_trap_params

NO_TRAPS = TrapModel(traps_per_cell=0.0)
NO_STUCK = ConductanceModel(stuck_on_fraction=0.0, stuck_off_fraction=0.0)


def test_single_domain_switching_probability_follows_kai_law():
    """One domain, no spread: P(t) = 1 - exp(-(t/tau)^beta), tau = tau0 exp((Va/V)^alpha)."""
    sw = SwitchingModel(
        domains_per_cell=1,
        activation_v_d2d_sigma=0.0,
        activation_v_domain_sigma=0.0,
        activation_v_mean=3.0,
    )
    params = ArrayParams(rows=100, cols=200, switching=sw, traps=NO_TRAPS, conductance=NO_STUCK)
    volts = 2.5
    tau = sw.tau0_s * np.exp((3.0 / volts) ** sw.alpha)
    for k, width in enumerate(tau * np.array([0.3, 0.7, 1.0, 1.5, 2.5])):
        array = FTJArray(params, np.random.default_rng(k))
        array.apply_pulse(range(100), range(200), volts, width)
        switched = array.switched_fraction().mean()
        expected = 1 - np.exp(-((width / tau) ** sw.beta))
        assert switched == pytest.approx(
            expected, abs=4 * np.sqrt(expected * (1 - expected) / 2e4) + 1e-3
        )


def test_a_burst_of_n_pulses_switches_with_one_minus_survival_to_the_n():
    sw = SwitchingModel(
        domains_per_cell=1,
        activation_v_d2d_sigma=0.0,
        activation_v_domain_sigma=0.0,
        activation_v_mean=3.0,
    )
    params = ArrayParams(rows=100, cols=200, switching=sw, traps=NO_TRAPS, conductance=NO_STUCK)
    volts, width = 2.5, 1e-7
    p1 = 1 - np.exp(-((width / (sw.tau0_s * np.exp((3.0 / volts) ** sw.alpha))) ** sw.beta))
    array = FTJArray(params, np.random.default_rng(31))
    t0 = array.clock.now_s
    array.apply_pulse(range(100), range(200), volts, width, count=5, period_s=1e-6)
    expected = 1 - (1 - p1) ** 5
    tol = 4 * np.sqrt(expected * (1 - expected) / 2e4)
    assert array.switched_fraction().mean() == pytest.approx(expected, abs=tol)
    assert array.clock.now_s - t0 == pytest.approx(4e-6 + 1e-7)


def test_switching_is_stochastic_near_the_coercive_bias_and_multilevel():
    params = ArrayParams(rows=64, cols=64, traps=NO_TRAPS, conductance=NO_STUCK)
    fractions = []
    for k, volts in enumerate([1.0, 1.6, 1.9, 2.2, 4.0]):  # 50 % near 1.9 V for 1 us
        array = FTJArray(params, np.random.default_rng(100 + k))
        array.apply_pulse(range(64), range(64), volts, 1e-6)
        fractions.append(array.switched_fraction())
    means = [f.mean() for f in fractions]
    assert means[0] < 0.02 and means[-1] > 0.98
    assert all(b >= a for a, b in itertools.pairwise(means))  # monotonic in V
    mid = fractions[2]
    assert 0.2 < mid.mean() < 0.8 and mid.std() > 0.05  # partial, cell-to-cell spread
    # many distinct levels: partial switching gives a multi-level conductance
    assert np.unique(np.round(mid, 3)).size > 50


def test_negative_pulses_reset_and_cycles_count_full_switching():
    params = ArrayParams(rows=4, cols=4, traps=NO_TRAPS, conductance=NO_STUCK)
    array = FTJArray(params, np.random.default_rng(0))
    array.apply_pulse(range(4), range(4), 5.0, 1e-3)
    assert array.switched_fraction().min() == pytest.approx(1.0)
    array.apply_pulse(range(4), range(4), -5.0, 1e-3)
    assert array.switched_fraction().max() == pytest.approx(0.0)
    np.testing.assert_allclose(array.cycles, 1.0)  # up and down once = one cycle


def test_pulses_reach_only_cells_whose_word_line_is_on():
    params = ArrayParams(rows=16, cols=16, traps=NO_TRAPS, conductance=NO_STUCK)
    array = FTJArray(params, np.random.default_rng(1))
    before = array.switched_fraction().copy()
    array.apply_pulse([3, 7], [0, 5, 9], 4.0, 1e-5)
    after = array.switched_fraction()
    changed = after != before
    expected = np.zeros((16, 16), bool)
    expected[np.ix_([3, 7], [0, 5, 9])] = True
    np.testing.assert_array_equal(changed, expected)


def test_bitline_current_is_kirchhoff_sum_with_ideal_wires():
    no_drift = RetentionModel(drift_nu_mean=0.0, drift_nu_sigma=0.0)
    params = ArrayParams(
        rows=32, cols=32, initial_state="random", traps=NO_TRAPS, retention=no_drift
    )
    array = FTJArray(params, np.random.default_rng(2))
    rng = np.random.default_rng(3)
    for volts in (0.1, 0.2, -0.15):
        x = rng.random(32) < 0.5
        current = array.read_bitlines(x, volts, 1e-4, noise=False)
        g_chord = array.conductance() * (1 + (volts / params.conductance.nonlinearity_v) ** 2)
        np.testing.assert_allclose(current, volts * (x @ g_chord), rtol=1e-12)
    # word lines off: no current at all
    np.testing.assert_array_equal(
        array.read_bitlines(np.zeros(32, bool), 0.2, 1e-4, noise=False), 0
    )


def _nodal_solution(g_col: np.ndarray, r: float, volts: float, v_nl: float) -> float:
    """Bit-line current of one column with resistive wire, by scipy on the nodal equations."""
    from scipy import optimize

    n = g_col.size

    def kcl(v):
        v_prev = np.concatenate([[volts], v[:-1]])
        v_next = np.concatenate([v[1:], [np.nan]])
        i = g_col * v * (1 + (v / v_nl) ** 2)
        out = (v_prev - v) / r - i
        out[:-1] -= (v[:-1] - v_next[:-1]) / r
        return out

    v = optimize.fsolve(kcl, np.full(n, volts), xtol=1e-13)
    return (volts - v[0]) / r


def test_wire_resistance_matches_an_independent_nodal_solution():
    base = ArrayParams(
        rows=16,
        cols=4,
        initial_state="on",
        traps=NO_TRAPS,
        conductance=NO_STUCK,
        retention=RetentionModel(drift_nu_mean=0.0, drift_nu_sigma=0.0),
    )
    ideal = FTJArray(base, np.random.default_rng(4)).read_bitlines(
        np.ones(16, bool), 0.2, 1e-4, noise=False
    )
    previous = np.zeros(4)
    for r in (1e3, 1e5, 1e6):
        cond = dataclasses.replace(NO_STUCK, wire_resistance_ohm=r)
        array = FTJArray(dataclasses.replace(base, conductance=cond), np.random.default_rng(4))
        current = array.read_bitlines(np.ones(16, bool), 0.2, 1e-4, noise=False)
        g = array.conductance()
        for col in range(4):
            assert current[col] == pytest.approx(_nodal_solution(g[:, col], r, 0.2, 1.0), rel=1e-6)
        drop = 1 - current / ideal
        assert np.all(drop > previous)  # more wire resistance, more loss
        previous = drop
    assert previous.max() > 0.05  # 1 MOhm per pitch against ~10 MOhm cells: a visible loss


def test_read_noise_scales_with_aperture_as_one_over_sqrt_bandwidth():
    params = ArrayParams(rows=2, cols=2, initial_state="on", traps=NO_TRAPS, conductance=NO_STUCK)
    array = FTJArray(params, np.random.default_rng(5))
    sig = []
    for aperture in (1e-4, 1e-3, 1e-2):
        trace = array.acquire([0], [0], 0.2, 20_000, aperture, aperture)
        sig.append(trace.astype(np.float64).std())
    assert sig[0] / sig[1] == pytest.approx(np.sqrt(10), rel=0.05)
    assert sig[1] / sig[2] == pytest.approx(np.sqrt(10), rel=0.05)
    g = array.conductance()[0, 0]
    i = g * array.current_factor(0.2)
    p = params.read_noise
    psd = (
        4 * 1.380649e-23 * p.temperature_k * g
        + 2 * 1.602176634e-19 * i
        + p.instrument_noise_a_per_rthz**2
    )
    assert sig[1] == pytest.approx(np.sqrt(psd / (2 * 1e-3)), rel=0.05)


def test_retention_drift_is_a_power_law_toward_g_off():
    ret = RetentionModel(drift_nu_mean=0.05, drift_nu_sigma=0.0, drift_t0_s=1.0)
    params = ArrayParams(rows=2, cols=2, traps=NO_TRAPS, conductance=NO_STUCK, retention=ret)
    array = FTJArray(params, np.random.default_rng(6))
    array.apply_pulse([0, 1], [0, 1], 5.0, 1e-3)
    t_prog = array.clock.now_s - 1e-3
    g_off = array.g_off.astype(float).reshape(2, 2)
    g0 = array.conductance(t_prog) - g_off
    for age in (10.0, 1e3, 1e5):
        g = array.conductance(t_prog + age) - g_off
        np.testing.assert_allclose(g / g0, ((age + 1.0) / 1.0) ** -0.05, rtol=2e-3)


def test_endurance_shrinks_the_memory_window():
    endu = EnduranceModel(wear_cycles=500.0, wear_exponent=1.0)
    params = ArrayParams(rows=2, cols=2, traps=NO_TRAPS, conductance=NO_STUCK, endurance=endu)
    array = FTJArray(params, np.random.default_rng(7))
    fresh_on = None
    for cycle in range(1000):
        array.apply_pulse([0, 1], [0, 1], 5.0, 1e-3)
        if cycle == 0:
            fresh_on = array.conductance().copy()
        array.apply_pulse([0, 1], [0, 1], -5.0, 1e-3)
    array.apply_pulse([0, 1], [0, 1], 5.0, 1e-3)
    g_off = array.g_off.astype(float).reshape(2, 2)
    window = (array.conductance() - g_off) / (fresh_on - g_off)
    # 1000.5 cycles at wear_cycles = 500: factor 1/(1 + 1000.5/500) vs fresh 1/(1 + 0.5/500)
    np.testing.assert_allclose(window, (1 / (1 + 1000.5 / 500)) / (1 / (1 + 0.5 / 500)), rtol=2e-3)


def test_stuck_cells_do_not_switch():
    cond = ConductanceModel(stuck_on_fraction=0.05, stuck_off_fraction=0.05)
    array = FTJArray(
        ArrayParams(rows=32, cols=32, traps=NO_TRAPS, conductance=cond), np.random.default_rng(8)
    )
    stuck_on = (array.stuck == 1).reshape(32, 32)
    stuck_off = (array.stuck == 2).reshape(32, 32)
    assert 20 < stuck_on.sum() < 90 and 20 < stuck_off.sum() < 90
    array.apply_pulse(range(32), range(32), -5.0, 1e-3)
    assert np.all(array.switched_fraction()[stuck_on] == 1.0)
    array.apply_pulse(range(32), range(32), 5.0, 1e-3)
    assert np.all(array.switched_fraction()[stuck_off] == 0.0)


def _scenario(seed: int) -> list[np.ndarray]:
    array = FTJArray(ArrayParams(rows=16, cols=16), np.random.default_rng(seed))
    out = []
    array.apply_pulse([1, 2], range(16), 2.6, 2e-6)
    out.append(array.read_bitlines([1, 2, 5], 0.2, 1e-4))
    out.append(array.acquire([1], [0, 3], 0.8, 5_000, 1e-4, 5e-5))
    array.clock.advance(50.0)
    out.append(array.read_bitlines(np.arange(16) % 3 == 0, 0.25, 1e-4))
    out.append(array.conductance())
    return out


def test_same_seed_gives_bit_identical_results():
    a, b, c = _scenario(42), _scenario(42), _scenario(43)
    for x, y in zip(a, b, strict=True):
        assert x.tobytes() == y.tobytes()
    assert any(x.tobytes() != z.tobytes() for x, z in zip(a, c, strict=True))


def test_virtual_clock_advances_with_the_work_and_never_sleeps(monkeypatch):
    import time

    # the simulator compiles its kernels (numba) on their first call, seconds of CPU on a
    # fresh clone under load: the same work on a throwaway array first, so only it is timed
    warm = FTJArray(ArrayParams(rows=8, cols=8), np.random.default_rng(8))
    warm.acquire([0], [0], 0.8, 100_000, 1e-4, 5e-5)  # the same engine as below (numba)
    warm.apply_pulse([0], [0], 3.0, 1e-6)
    warm.read_bitlines([0], 0.2, 2e-2)

    clock = VirtualClock()
    array = FTJArray(ArrayParams(rows=8, cols=8), np.random.default_rng(9), clock)
    slept = []
    monkeypatch.setattr(time, "sleep", slept.append)
    wall = time.perf_counter()
    array.acquire([0], [0], 0.8, 100_000, 1e-4, 5e-5)  # 10 s of readings
    array.apply_pulse([0], [0], 3.0, 1e-6)
    array.read_bitlines([0], 0.2, 2e-2)
    assert clock.now_s == pytest.approx(10.0 + 1e-6 + 2e-2, rel=1e-12)
    assert slept == []
    assert time.perf_counter() - wall < 2.0  # ~2 ms of CPU once the kernels are loaded


@pytest.mark.parametrize("size", [8, 1024])
def test_array_sizes_from_8_to_1024(size):
    array = FTJArray(ArrayParams(rows=size, cols=size), np.random.default_rng(10))
    assert array.conductance().shape == (size, size)
    assert array.nbytes / size**2 <= 256
    i = array.read_bitlines(np.ones(size, bool), 0.2, 1e-4)
    assert i.shape == (size,) and np.all(np.isfinite(i))


def test_bit_serial_vmm_is_the_shift_and_add_of_kirchhoff_sums():
    no_drift = RetentionModel(drift_nu_mean=0.0, drift_nu_sigma=0.0)
    params = ArrayParams(
        rows=64, cols=48, initial_state="random", traps=NO_TRAPS, retention=no_drift
    )
    array = FTJArray(params, np.random.default_rng(12))
    x = np.random.default_rng(13).integers(0, 256, 64)
    t0 = array.clock.now_s
    out = array.vmm(x, 8, 0.2, 1e-5, noise=False)
    expected = array.current_factor(0.2) * (x @ array.conductance())
    np.testing.assert_allclose(out, expected, rtol=1e-12)
    assert array.clock.now_s - t0 == pytest.approx(8e-5)
    with pytest.raises(ValueError, match="integers"):
        array.vmm(np.full(64, 256), 8, 0.2, 1e-5)


def test_vmm_with_traps_and_noise_stays_close_to_ideal_at_the_vmm_bias():
    params = ArrayParams(rows=128, cols=128, initial_state="random")
    array = FTJArray(params, np.random.default_rng(14))
    rng = np.random.default_rng(15)
    errs = []
    for _ in range(20):
        x = rng.integers(0, 16, 128)
        ideal = array.current_factor(0.2) * (x @ array.conductance())
        errs.append(np.abs(array.vmm(x, 4, 0.2, 1e-4) / ideal - 1).max())
    assert max(errs) < 2e-3  # read noise + RTN (< 0.1 % per cell) on sums of ~64 cells


def test_vmm_batch_equals_per_reading_shift_and_add_and_has_the_right_noise():
    no_drift = RetentionModel(drift_nu_mean=0.0, drift_nu_sigma=0.0)
    params = ArrayParams(
        rows=32, cols=16, initial_state="random", traps=NO_TRAPS, retention=no_drift
    )
    array = FTJArray(params, np.random.default_rng(16))
    x = np.random.default_rng(17).integers(0, 16, (5, 32))
    batch = array.vmm_batch(x, 4, 0.2, 1e-4, noise=False)
    planes = ((x[:, :, None] >> np.arange(4)) & 1).transpose(0, 2, 1).reshape(20, 32).astype(bool)
    readings = array.read_bitline_sequence(planes, 0.2, 1e-4, noise=False).reshape(5, 4, 16)
    np.testing.assert_allclose(
        batch, np.einsum("b,obc->oc", 2.0 ** np.arange(4), readings), rtol=1e-12
    )
    # noise: sum_b 4^b sigma_b^2 with sigma_b^2 = (4kT G_b + 2q I_b + S) / (2 T)
    xs = np.repeat(x[:1], 4000, axis=0)
    noisy = array.vmm_batch(xs, 4, 0.2, 1e-4)
    p = params.read_noise
    i_b = readings[0]
    var = sum(
        4.0**b
        * (
            4 * 1.380649e-23 * p.temperature_k * i_b[b] / array.current_factor(0.2)
            + 2 * 1.602176634e-19 * i_b[b]
            + p.instrument_noise_a_per_rthz**2
        )
        / (2 * 1e-4)
        for b in range(4)
    )
    np.testing.assert_allclose(noisy.std(axis=0), np.sqrt(var), rtol=0.06)
    np.testing.assert_allclose(noisy.mean(axis=0), batch[0], rtol=1e-4)


def test_vmm_batch_trap_corrections_match_the_per_reading_computation():
    """Traps made fast and fully active at the VMM bias flip many times per product; with
    noise off both paths draw the same trap events, so the shift-and-add of the per-reading
    currents must equal the batched products to rounding."""
    params = fast_trap_params(rows=24, cols=8)
    x = np.random.default_rng(18).integers(0, 16, (12, 24))
    a = FTJArray(params, np.random.default_rng(19))
    b = FTJArray(params, np.random.default_rng(19))
    batch = a.vmm_batch(x, 4, 0.2, 1e-5, noise=False)
    planes = ((x[:, :, None] >> np.arange(4)) & 1).transpose(0, 2, 1).reshape(48, 24).astype(bool)
    readings = b.read_bitline_sequence(planes, 0.2, 1e-5, noise=False).reshape(12, 4, 8)
    expected = np.einsum("b,obc->oc", 2.0 ** np.arange(4), readings)
    np.testing.assert_allclose(batch, expected, rtol=1e-10)
    ideal = a.current_factor(0.2) * (x @ a.conductance())
    assert np.abs(batch / ideal - 1).max() > 1e-3  # the traps really did change the products
    np.testing.assert_array_equal(a.traps.state, b.traps.state)


def test_bipolar_burst_matches_cycle_by_cycle_pulses_in_distribution():
    """N program/erase cycles in one step: same switched fraction and wear as N explicit
    pulse pairs (weak pulses, so domains switch stochastically), within sampling error."""
    params = ArrayParams(rows=50, cols=40, traps=NO_TRAPS, conductance=NO_STUCK)
    burst = FTJArray(params, np.random.default_rng(40))
    steps = FTJArray(params, np.random.default_rng(40))
    v_hi, v_lo, width, n = 2.0, -1.9, 1e-6, 12
    burst.apply_bipolar_burst(range(50), range(40), v_hi, width, v_lo, width, n)
    for _ in range(n):
        steps.apply_pulse(range(50), range(40), v_hi, width)
        steps.apply_pulse(range(50), range(40), v_lo, width)
    assert burst.switched_fraction().mean() == pytest.approx(
        steps.switched_fraction().mean(), abs=0.02
    )
    assert burst.cycles.mean() == pytest.approx(steps.cycles.mean(), rel=0.03)
    assert burst.clock.now_s == pytest.approx(steps.clock.now_s)


def test_cell_sequence_equals_the_bit_line_sequence_it_selects_from():
    """Slot k of read_cell_sequence is reading k of read_bitline_sequence at bit line cols[k]:
    with fast, fully active traps and noise off both draw the same trap events, so they agree
    to rounding (the traps change the readings well above rounding)."""
    params = fast_trap_params(rows=16, cols=12)
    rng = np.random.default_rng(3)
    masks = rng.random((40, 16)) < 0.4
    cols = rng.integers(0, 12, 40)
    volts = np.where(np.arange(12) % 3 == 0, 0.0, 0.2)  # some bit lines unbiased
    a = FTJArray(params, np.random.default_rng(4))
    b = FTJArray(params, np.random.default_rng(4))
    cells = a.read_cell_sequence(masks, cols, volts, 1e-5)
    full = b.read_bitline_sequence(masks, volts, 1e-5, noise=False)
    np.testing.assert_allclose(cells, full[np.arange(40), cols], rtol=1e-10, atol=1e-18)
    ideal = a.current_factor(0.2) * np.einsum("kr,rk->k", masks, a.conductance()[:, cols])
    ideal *= volts[cols] != 0
    assert np.abs(cells - ideal).max() > 1e-3 * np.abs(ideal).max()  # traps did act
    np.testing.assert_array_equal(a.traps.state, b.traps.state)
    assert a.clock.now_s == pytest.approx(b.clock.now_s)
