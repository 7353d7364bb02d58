"""The compiled trap-by-trap advance against the vectorised rounds through the event queue:
two implementations of the same kinetics (thinned candidates at the bound rate, emissions
integrated over the reads of a bias window) must give the same flip statistics."""

import numpy as np
import pytest
from ftjlab.simulators import trap_queue as tr
from ftjlab.simulators.params import ArrayParams


def _flip_stats(mode: str, monkeypatch, seed: int):
    # "compiled": numba loop; "python": the same loop in Python; "queue": numpy rounds
    monkeypatch.setattr(tr, "_PY_CHAIN_EVENTS", 10**12 if mode == "python" else -1)
    if mode == "queue":
        monkeypatch.setattr(tr._kernels, "AVAILABLE", False)
    params = ArrayParams(rows=8, cols=8).traps
    pop = tr.TrapPopulation(params, 64, np.random.default_rng(7), 0.0)  # the same traps
    pop.rng = np.random.default_rng(seed)  # independent kinetics
    pop.raise_bound(0.3, 0.0)
    win_rng = np.random.default_rng(5)
    captures, emissions, occupancy, filled, t = [], [], [], [], 0.0
    for _ in range(200):
        reads, step = 64, 2e-3
        window = tr.BiasWindow(t, step, win_rng.random((reads, 8)) < 0.5, np.full(8, 0.3))
        pop.open_window(window)
        f = pop.advance(t + reads * step, window)
        captures.append(int(np.sum(f.sign > 0)))
        emissions.append(int(np.sum(f.sign < 0)))
        t += reads * step
        occupancy.append(float(np.sum(f.sign * (t - f.times))) / (reads * step))  # trap-s / s
        f = pop.advance(t + 1e-3)  # a short idle between windows
        filled.append(pop.state.mean())
        t += 1e-3
    return np.array(captures), np.array(emissions), np.array(occupancy), np.array(filled)


@pytest.mark.parametrize("mode", ["compiled", "python"])
def test_trap_by_trap_advance_matches_the_queue_rounds(mode, monkeypatch):
    a = _flip_stats(mode, monkeypatch, 1)
    b = _flip_stats("queue", monkeypatch, 2)
    for x, y in zip(a[:3], b[:3], strict=True):
        assert np.all(x >= 0) and x.sum() > 1000 * (x.dtype.kind == "i")
        # per window counts: means agree within 5 standard errors
        se = np.sqrt(x.var() / x.size + y.var() / y.size)
        assert x.mean() == pytest.approx(y.mean(), abs=5 * se + 1e-9)
    assert a[3].mean() == pytest.approx(b[3].mean(), abs=0.05)


def test_compiled_and_python_loops_give_identical_flips():
    """The same draws through the numba loop and its Python source: bit-identical results
    (so which of the two runs an advance never changes a seeded simulation)."""
    params = ArrayParams(rows=8, cols=8).traps
    out = []
    for kernel in (tr._kernels.trap_chains, tr._kernels.trap_chains.py_func):
        pop = tr.TrapPopulation(params, 64, np.random.default_rng(3), 0.0)
        pop.raise_bound(0.3, 0.0)
        window = tr.BiasWindow(
            0.0, 2e-3, np.random.default_rng(4).random((64, 8)) < 0.5, np.full(8, 0.3)
        )
        pop.open_window(window)
        f = pop._advance_chains(64 * 2e-3, window, kernel)
        g = pop._advance_chains(0.2, None, kernel)
        out.append(
            (f.ids, f.times, f.sign, g.ids, g.times, pop.state.copy(), pop.queue.next_t.copy())
        )
    assert out[0][0].size > 50
    for x, y in zip(*out, strict=True):
        assert x.tobytes() == y.tobytes()


def test_queue_holds_every_due_trap_across_scans_jumps_and_pops(monkeypatch):
    """Advances that scan every trap leave the epoch to be rebuilt on its next use; advances
    with few events take the due traps from the queue. Whatever the sequence, the queue must
    hold exactly the traps whose next event is due (checked against a scan of next_t)."""
    # the trap-by-trap loop for every advance but the long idles, whether numba is loaded,
    # missing or off (FTJLAB_NUMBA=0): otherwise a scan jumps while numba is not yet imported
    monkeypatch.setattr(tr, "_PY_CHAIN_EVENTS", 10**12)
    params = ArrayParams(rows=64, cols=64).traps
    pop = tr.TrapPopulation(params, 64 * 64, np.random.default_rng(11), 0.0)
    q = pop.queue
    pops = []
    real_pop = q.pop_due
    monkeypatch.setattr(q, "pop_due", lambda t: pops.append(t) or real_pop(t))
    rng = np.random.default_rng(12)
    t, n, rate = 0.0, pop.state.size, pop._rate_sum
    jumps = 0
    for k in range(60):
        # few events (from the queue), many (a scan of every trap), a long idle (one jump)
        dt = [0.5 / rate, 0.05 * n / rate, 3.0 * n / rate][k % 3]
        window = None
        if k % 3 != 2 and rng.random() < 0.5:
            window = tr.BiasWindow(t, dt / 4, rng.random((4, 64)) < 0.5, np.full(64, 0.2))
            pop.open_window(window)
        jumps += pop.advance(t + dt, window).everything
        t += dt
        assert np.all(q.next_t > t)  # every due event was fired
        probe = t + 0.3 * dt
        if probe <= q.epoch_end:  # the valid entries held up to probe = the due traps
            held = np.concatenate([q._ep_id[q._head :], q._pend_id])
            times = np.concatenate([q._ep_t[q._head :], q._pend_t])
            held = held[(times <= probe) & (q.next_t[held] == times)]
            np.testing.assert_array_equal(np.sort(held), np.flatnonzero(q.next_t <= probe))
    assert jumps == 20 and len(pops) >= 15


@pytest.mark.parametrize("seed", [21, 22])
def test_compiled_and_numpy_emission_times_agree_bit_for_bit(seed, monkeypatch):
    """Emission times of filled traps through a window of reads (the redraw when a read
    starts, and every capture inside it): the compiled loop repeats the numpy arithmetic."""
    import numba  # noqa: F401  (the compiled form runs once numba is loaded)

    params = ArrayParams(rows=16, cols=16).traps
    out = []
    for available in (True, False):
        monkeypatch.setattr(tr._kernels, "AVAILABLE", available)
        pop = tr.TrapPopulation(params, 256, np.random.default_rng(seed), 0.0)
        pop.rng = np.random.default_rng(seed + 100)
        wr = np.random.default_rng(seed + 200)
        ids = np.arange(pop.state.size)
        for step in (1e-7, 1e-6, 1e-4):  # the rates reach 0 to several reads per emission
            volts = np.where(wr.random(16) < 0.8, 0.5, 0.0)
            window = tr.BiasWindow(0.1, step, wr.random((9, 16)) < 0.5, volts)
            t = 0.1 + wr.random(ids.size) * 11 * step  # inside, and after the window
            out.append(pop._emission_after(ids, t, window))
    n = len(out) // 2
    assert all(np.any(a > 0.1 + 9 * 1e-7) for a in out)
    for a, b in zip(out[:n], out[n:], strict=True):
        assert a.tobytes() == b.tobytes()


def test_changed_ids_of_grouped_flips_are_the_traps_whose_state_changed(monkeypatch):
    """Against the states before and after each advance, including advances long enough that
    the trap-by-trap loop runs out of draws and continues a trap in a second part."""
    monkeypatch.setattr(tr, "_PY_CHAIN_EVENTS", -1)
    params = ArrayParams(rows=20, cols=20).traps
    pop = tr.TrapPopulation(params, 400, np.random.default_rng(51), 0.0)
    pop.raise_bound(0.3, 0.0)
    window = tr.BiasWindow(0.0, 1e9, np.ones((1, 1), bool), np.full(400, 0.25))
    pop.open_window(window)
    rate, t, flips = pop._rate_sum, 0.0, 0
    for k in range(60):
        t += (0.5, 50.0, 4000.0)[k % 3] / rate  # few, some and many events per trap
        before = pop.state.copy()
        f = pop.advance(t, window)
        assert f.grouped or not tr._kernels.AVAILABLE  # numpy rounds without numba
        flips += f.ids.size
        np.testing.assert_array_equal(np.sort(f.changed_ids()), np.flatnonzero(before != pop.state))
    assert flips > 20 * 4096  # many draw refills
