"""Degenerate traces that used to crash the fit: a trap seen flipping once in the record (a
single step; one level's transition row all 'stay'), readings in amperes on a large offset
stored as float32. The fit must end in a report with a warning, never an exception.

The traces are built here with numpy alone (no project simulator)."""

from __future__ import annotations

import numpy as np

from ftjlab.rtn import analysis
from ftjlab.rtn.factorial import FactorialHMM
from ftjlab.rtn.hmm import GaussianHMM


def _single_step(n: int = 2000, seed: int = 7) -> np.ndarray:
    """One capture halfway through: 98 nA + 25 pA, then 98 nA - 23 pA; 12.5 pA white noise
    (SNR ~3.7), float32 like the run files."""
    rng = np.random.default_rng(seed)
    level = np.where(np.arange(n) < n // 2, 25e-12, -23e-12)
    return (98e-9 + level + rng.normal(0.0, 12.5e-12, n)).astype(np.float32)


def test_a_trap_seen_flipping_once_is_reported_with_a_warning_not_an_exception():
    for seed in range(2):
        x = _single_step(seed=seed)
        for m in (GaussianHMM(2), GaussianHMM(4), FactorialHMM(2)):
            m.fit(x, 2e-4, max_iter=300, errors=False)  # used to raise ZeroDivisionError
            assert np.all(m.variances > 0) and np.all(np.isfinite(m.means))
        rep = analysis.analyze(x, 2e-4)
        assert rep.n_traps == 1
        # the step itself is measured: levels 48 pA apart, within 4 pA
        assert abs(abs(rep.traps[0].amplitude_a) - 48e-12) < 4e-12
        assert any("too few transitions" in w for w in rep.warnings), rep.warnings


def test_white_noise_on_a_large_offset_is_no_trap():
    rng = np.random.default_rng(3)
    x = (98e-9 + rng.normal(0.0, 12.5e-12, 2000)).astype(np.float32)
    rep = analysis.analyze(x, 2e-4)
    assert rep.n_traps == 0 and not rep.traps
    assert any("no RTN resolved" in n for n in rep.notes)


def test_a_parameter_resting_at_a_bound_does_not_stall_the_em():
    """A factorial fit whose second trap never flips (transition probabilities exactly 0:
    logits -inf, a fixed point of EM): SQUAREM and the stopping rule see that parameter as
    not moving, so the fit converges instead of running to its cap on NaN steps."""
    rng = np.random.default_rng(3)
    state = np.repeat(rng.random(400) < 0.25, 50)  # a telegraph-like record, 20,000 readings
    x = -1.0 * state + rng.normal(0.0, 0.5, state.size)
    m = FactorialHMM(2)
    m.fit(x, 1.0, max_iter=2, errors=False)
    m.base, m.amplitudes = 0.0, np.array([-1.0, -0.3])
    m.trap_trans[1] = np.eye(2)
    m._compose()
    m.fit(x, 1.0, max_iter=500, errors=False, warm_start=True)
    assert m.converged and not m.warnings, m.warnings
    assert m.n_iter < 100
    assert np.all(m.trap_trans[1] == np.eye(2))  # still at the bound
    assert abs(abs(m.amplitudes[0]) - 1.0) < 0.05
