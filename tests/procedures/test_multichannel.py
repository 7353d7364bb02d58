"""The two-node 2636B bench measures several bit lines at once: VMM and row reads with one
read channel per bit line, RTN of several cells started together; instrument time shrinks by
the number of channels, the results match the one-channel path."""

import numpy as np
import pytest
from ftjlab.data import benches

from ftjlab.controller import ArrayController
from ftjlab.session import BenchSession
from ftjlab.traffic import Meter

BENCH_4CH = f"{benches.__path__[0]}/sim-4ch.toml"


def _open(bench=BENCH_4CH, seed=5):
    return BenchSession.open(bench, seed=seed)


def test_vmm_reads_three_bit_lines_at_once_with_the_same_products():
    x = np.random.default_rng(2).integers(0, 256, 32)
    out = {}
    for parallel in (True, False):
        session = _open()
        try:
            c = ArrayController(session)
            assert c.parallel_reads == 3
            if not parallel:
                c._channels = c._channels[:1]  # the same bench, one read channel
            c.vmm(x, 8, 0.2, 1.0)  # settle roles and scripts
            with Meter(session) as m:
                y = c.vmm(x, 8, 0.2, 1.0)
            out[parallel] = (y, m.result)
        finally:
            session.close()
    (y3, a3), (y1, a1) = out[True], out[False]
    np.testing.assert_allclose(y3, y1, rtol=5e-3)  # read noise at 1 NPLC
    assert a3.round_trips == a1.round_trips == 2
    # 32 bit lines in 11 groups of three instead of 32 one by one
    assert a3.instrument_s / a1.instrument_s == pytest.approx(11 / 32, rel=0.05)


def test_rtn_of_three_cells_at_once_takes_a_third_of_the_time():
    session = _open()
    try:
        c = ArrayController(session)
        g_row = session.sim.array.conductance()[2]
        order = np.argsort(g_row)
        cols, n = [int(order[0]), int(order[16]), int(order[-1])], 6000  # low, middle, high G
        with Meter(session) as m:
            blocks = list(c.acquire_rtn_cells(2, cols, 0.8, 2e-4, 0.006, n, 2500))
        together = m.result
        current = np.concatenate([b[0] for b in blocks])
        stamps = np.concatenate([b[1] for b in blocks])
        with Meter(session) as m:
            single = [np.concatenate([b for b, _ in c.acquire_rtn(2, col, 0.8, 2e-4, 0.006, n,
                                                                  2500)]) for col in cols]
        one_by_one = m.result
        g = session.sim.array.conductance()[2, cols] * session.sim.array.current_factor(0.8)
    finally:
        session.close()
    assert current.shape == stamps.shape == (n, 3)
    np.testing.assert_allclose(np.diff(stamps, axis=0), 2e-4, rtol=1e-6)  # across blocks
    np.testing.assert_allclose(stamps[:, 0], stamps[:, 2])  # a common start
    # each channel measured its own cell (RTN at the sampling bias moves a median by ~10 %)
    medians = np.median(current, axis=0)
    np.testing.assert_allclose(medians, g, rtol=0.2)
    np.testing.assert_allclose(medians, [np.median(s) for s in single], rtol=0.2)
    assert list(np.argsort(medians)) == [0, 1, 2]
    assert together.instrument_s <= 1.2 / 3 * one_by_one.instrument_s
    assert together.round_trips * 1e-3 <= 0.05 * together.instrument_s  # 1 ms per trip


def test_more_cells_than_read_channels_is_refused_naming_the_field():
    session = _open()
    try:
        c = ArrayController(session)
        with pytest.raises(Exception, match=r"cols: 1\.\.3"):
            next(c.acquire_rtn_cells(0, [0, 1, 2, 3], 0.8, 2e-4, 0.006, 10))
    finally:
        session.close()
