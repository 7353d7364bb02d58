"""The shortcuts of the whole-array read path against the plain computation they replace."""

import dataclasses

import numpy as np
import pytest
from ftjlab.simulators import _kernels
from ftjlab.simulators import trap_queue as tq
from ftjlab.simulators.array import FTJArray
from trap_helpers import fast_trap_params


def _fast_trap_array(seed: int) -> FTJArray:
    """Traps fast and fully active at the 0.2 V VMM bias: many flips per product."""
    return FTJArray(fast_trap_params(24, 16, "random"), np.random.default_rng(seed))


def test_read_cache_follows_every_trap_flip_and_program_pulse():
    """After VMMs (many flips, most undone within a product) and program pulses, the cached
    modulation and read matrix equal a rebuild from the trap states and conductances."""
    a = _fast_trap_array(31)
    x = np.random.default_rng(32).integers(0, 16, (6, 24))
    for k in range(5):
        a.vmm_batch(x, 4, 0.2, 1e-5)
        if k == 2:
            a.apply_pulse([3, 4], [1, 2, 5], 3.5, 1e-6)
        np.testing.assert_array_equal(
            a.modulation, a.traps.modulation(a.rows * a.cols).astype(np.float32)
        )
        act = float(a.rtn_amplitude(0.2))
        h = a.conductance(a._h_time) * (1.0 - act * a.modulation.reshape(a.shape))
        np.testing.assert_array_equal(a._h, h)
        np.testing.assert_array_equal(a._h32, h.astype(np.float32))


def test_flip_corrections_without_and_with_the_trap_grouping_agree(monkeypatch):
    """The trap-by-trap advance hands over flips grouped by trap, which the compiled
    corrections walk without a sort; the numpy form, given the flips as from any other
    engine (sorted first), must give the same products bit for bit."""
    if not _kernels.AVAILABLE:  # FTJLAB_NUMBA=0 or no numba: flips come ungrouped, numpy only
        pytest.skip("the grouped corrections run only with numba")
    import numba  # noqa: F401  (the compiled corrections run once numba is loaded)

    calls = []
    kernel = _kernels.vmm_flip_corrections
    monkeypatch.setattr(_kernels, "vmm_flip_corrections", lambda *a: calls.append(1) or kernel(*a))
    x = np.random.default_rng(34).integers(0, 16, (12, 24))
    grouped = _fast_trap_array(35).vmm_batch(x, 4, 0.2, 1e-5)
    assert calls
    real = tq.TrapPopulation._advance_chains

    def ungrouped(self, *args, **kwargs):
        return dataclasses.replace(real(self, *args, **kwargs), grouped=False)

    monkeypatch.setattr(tq.TrapPopulation, "_advance_chains", ungrouped)
    b = _fast_trap_array(35)
    sorted_ = b.vmm_batch(x, 4, 0.2, 1e-5)
    assert grouped.tobytes() == sorted_.tobytes()
    np.testing.assert_array_equal(
        b.modulation, b.traps.modulation(b.rows * b.cols).astype(np.float32)
    )
