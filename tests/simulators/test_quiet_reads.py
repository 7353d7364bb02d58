"""Whole-array reads at a bias where the traps' RTN is negligible (``quiet_rtn_rel``) leave
the traps alone; the bound is checked against the exact per-cell trap simulation."""

import numpy as np
from ftjlab.simulators.array import FTJArray
from ftjlab.simulators.params import ArrayParams


def test_read_bias_is_quiet_and_its_rtn_is_below_the_bound():
    array = FTJArray(ArrayParams(rows=8, cols=64, initial_state="on"), np.random.default_rng(21))
    bound = array.params.traps.quiet_rtn_rel
    assert array.traps.quiet_at(0.2) and not array.traps.quiet_at(0.3)
    assert not array.traps.quiet_at(0.8)
    # independent reference: the exact continuous-time simulation of row 0's traps
    cols = np.arange(64)
    trace = array.acquire([0], cols, 0.2, 5_000, 1e-6, 1e-6, noise=False).astype(np.float64)
    assert (trace.std(axis=1) / trace.mean(axis=1)).max() <= bound
    loud = array.acquire([0], cols, 0.3, 5_000, 1e-6, 1e-6, noise=False).astype(np.float64)
    assert (loud.std(axis=1) / loud.mean(axis=1)).max() > bound


def test_quiet_reads_leave_the_traps_alone_and_loud_ones_advance_them():
    array = FTJArray(ArrayParams(rows=8, cols=8, initial_state="on"), np.random.default_rng(4))
    state, t_traps = array.traps.state.copy(), array.traps.time_s
    for _ in range(50):
        array.read_bitlines([0, 3], 0.2, 1e-3)
        array.read_bitline_sequence(np.eye(8, dtype=bool), 0.2, 1e-3)
    assert array.clock.now_s > t_traps + 0.3
    assert array.traps.time_s == t_traps and np.array_equal(array.traps.state, state)
    # a quiet read reads the cached matrix: the filled traps' states as last advanced
    expected = array.current_factor(0.2) * array._h[[0, 3]].sum(axis=0)
    assert np.allclose(array.read_bitlines([0, 3], 0.2, 1e-3, noise=False), expected,
                       rtol=1e-9)
    array.read_bitlines([0], 0.3, 1e-3)  # not quiet: the traps catch up to the read's end
    assert array.traps.time_s == array.clock.now_s
