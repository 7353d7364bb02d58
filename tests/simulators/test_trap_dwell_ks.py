"""Dwell times of the event-queue trap process against the exponential law (not just its mean).

A trap with capture time tau_c and emission time tau_e at a constant bias is a two-state
Markov process: its filled dwell times are exponential with mean tau_e, its empty ones with
mean tau_c. The flips' exact event times are compared with that closed form by a
Kolmogorov-Smirnov test, for the trap-by-trap loop (compiled where numba runs) and for the
numpy rounds through the event queue, with advances of every size (queue pops, scans).
"""

import numpy as np
import pytest
from ftjlab.simulators import trap_queue as tq
from ftjlab.simulators.params import TrapModel
from scipy import stats

TAU_C, TAU_E, VOLTS = 2e-3, 5e-3, 0.25


def _population(n_traps: int, rng: np.random.Generator) -> tq.TrapPopulation:
    """One trap per cell whose rates at VOLTS are exactly 1/TAU_C and 1/TAU_E."""
    params = TrapModel(tau_log_sigma=0.0, kinetics_bound_v=0.3)
    pop = tq.TrapPopulation(params, n_traps, rng, 0.0, counts=np.ones(n_traps, dtype=np.int64))
    ids = np.arange(pop.state.size)
    pop.tau_c_ref[:] = pop.tau_c_ref * (pop.capture_rate(ids, VOLTS) * TAU_C)
    pop.tau_e_ref[:] = pop.tau_e_ref * (pop.emission_rate(ids, VOLTS) * TAU_E)
    pop.set_states(ids, pop.state.copy(), 0.0)
    return pop


@pytest.mark.parametrize("engine", ["chains", "queue"])
def test_dwell_times_are_exponential_with_the_set_taus(engine, monkeypatch):
    # "chains": the trap-by-trap loop; "queue": the numpy rounds (as without numba)
    monkeypatch.setattr(tq, "_PY_CHAIN_EVENTS", -1)
    if engine == "queue":
        monkeypatch.setattr(tq._kernels, "AVAILABLE", False)
    n_traps = 40
    pop = _population(n_traps, np.random.default_rng(41))
    window = tq.BiasWindow(0.0, 1e9, np.ones((1, 1), bool), np.full(n_traps, VOLTS))
    pop.open_window(window)
    ids, times, signs = [], [], []
    t = 0.0
    for k in range(900):  # 3 s per trap, ~860 flips each
        t += (4e-7, 3e-4, 1e-2)[k % 3]  # few due traps (queue pops), some, most (scans)
        f = pop.advance(t, window)
        assert not f.everything
        ids.append(f.ids)
        times.append(f.times)
        signs.append(f.sign)
    ids, times, signs = np.concatenate(ids), np.concatenate(times), np.concatenate(signs)
    order = np.lexsort((times, ids))
    ids, times, signs = ids[order], times[order], signs[order]
    same = ids[1:] == ids[:-1]
    assert np.all(signs[1:][same] == -signs[:-1][same])  # a trap's flips alternate
    assert np.all(times <= t) and np.all(times >= 0)
    gaps = np.diff(times)[same]
    filled = gaps[signs[:-1][same] > 0]  # captured, then emitted
    empty = gaps[signs[:-1][same] < 0]
    assert min(filled.size, empty.size) > 10_000
    for dwell, tau in ((filled, TAU_E), (empty, TAU_C)):
        assert dwell.mean() == pytest.approx(tau, rel=4 / np.sqrt(dwell.size))
        assert stats.kstest(dwell, "expon", args=(0.0, tau)).pvalue > 1e-3
    # the same test tells a 10 % wrong tau apart at this sample size
    assert stats.kstest(filled, "expon", args=(0.0, 1.1 * TAU_E)).pvalue < 1e-3
