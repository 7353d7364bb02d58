"""Oxide traps: two-state Markov processes behind random telegraph noise (RTN).

A trap is empty (0) or filled (1). Capture (0 -> 1) and emission (1 -> 0) are Poisson events
with bias-dependent rates ``lam_c(V) = 1/tau_c(V)`` and ``lam_e(V) = 1/tau_e(V)``. A filled
trap lowers its cell's current by ``a0 * g(V)``.

Two exact simulation paths, both with cost that follows the number of state changes:

* :func:`simulate_traps` - a window of constant bias sampled by many readings (RTN
  acquisition): exponential dwell times are drawn in continuous time and every reading is the
  exact average of the trap states over its aperture.
* :class:`~.trap_queue.TrapPopulation` with its :class:`~.trap_queue.EventQueue`
  (:mod:`.trap_queue`) - the whole array between and during
  short low-bias reads (VMM): empty traps get candidate events at a bounding rate
  ``Lam0 = lam_c(bound_v)`` and accept them with probability ``lam_c(V)/Lam0``
  (thinning, exact for any piecewise-constant bias up to the bound); filled traps get their
  exact emission time by integrating the piecewise-constant rate. Traps nobody touches cost
  nothing until their next event.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import _kernels
from .fastrandom import TABLE as _NOISE
from .fastrandom import noise_indices as _noise_indices
from .fastrandom import standard_normal_f32
from .params import TrapModel


def activation(params: TrapModel, volts: np.ndarray | float) -> np.ndarray:
    """Bias activation g(V) of the RTN amplitude (0..1)."""
    v = np.abs(np.asarray(volts, dtype=np.float64))
    return 1.0 / (1.0 + np.exp(-(v - params.activation_v) / params.activation_width_v))


def capture_rate(params: TrapModel, tau_c_ref: np.ndarray, volts) -> np.ndarray:
    """Capture rate 1/tau_c(V) in 1/s."""
    return (
        np.exp((np.asarray(volts) - params.reference_bias_v) / params.capture_slope_v) / tau_c_ref
    )


def emission_rate(params: TrapModel, tau_e_ref: np.ndarray, volts) -> np.ndarray:
    """Emission rate 1/tau_e(V) in 1/s."""
    return (
        np.exp(-(np.asarray(volts) - params.reference_bias_v) / params.emission_slope_v) / tau_e_ref
    )


def transition_probabilities(lam_c, lam_e, dt_s):
    """Exact two-state transition probabilities over a step ``dt_s`` (any length).

    Returns ``(P01, P10)`` with ``P01 = lam_c/lam (1 - exp(-lam dt))`` and
    ``P10 = lam_e/lam (1 - exp(-lam dt))``, ``lam = lam_c + lam_e``.
    """
    lam = np.asarray(lam_c) + np.asarray(lam_e)
    relax = -np.expm1(-lam * dt_s)
    return lam_c / lam * relax, lam_e / lam * relax


@dataclass
class TraceWindow:
    """Readings of a window: ``n`` readings, ``interval_s`` apart, each averaging ``aperture_s``."""

    n: int
    interval_s: float
    aperture_s: float

    @property
    def duration_s(self) -> float:
        return self.n * self.interval_s


@dataclass
class Flips:
    """Trap state changes: trap ids, event times (s) and +1 (filled) / -1 (emptied).

    ``everything`` is set when a long idle was jumped in one step: any trap may have changed.
    ``grouped``: each trap's flips are contiguous and in time order.
    """

    ids: np.ndarray
    times: np.ndarray
    sign: np.ndarray
    everything: bool = False
    grouped: bool = False
    cells: np.ndarray | None = None  # each flip's cell and trap amplitude (from the
    amps: np.ndarray | None = None  # trap-by-trap loop, which reads them anyway)

    def changed_ids(self) -> np.ndarray:
        """The traps whose state differs after the flips from before them (flips alternate
        in sign, so an odd number of flips), unique."""
        ids = self.ids
        if not ids.size:
            return ids
        if self.grouped:
            start = np.flatnonzero(np.concatenate([[True], ids[1:] != ids[:-1]]))
            count = np.diff(start, append=ids.size)
            return ids[start[count % 2 == 1]]  # one group per trap: unique already
        uniq, count = np.unique(ids, return_counts=True)
        return uniq[count % 2 == 1]

    @classmethod
    def none(cls, **flags) -> Flips:
        """No flips."""
        return cls(np.zeros(0, np.int64), np.zeros(0), np.zeros(0), **flags)


# Below these sizes the default engine of simulate_traps is numpy (no numba load).
_NUMPY_EVENTS = 20_000
_NUMPY_READINGS = 200_000


def simulate_traps(
    state0: np.ndarray,
    lam_c: np.ndarray,
    lam_e: np.ndarray,
    weight: np.ndarray,
    group: np.ndarray,
    base: np.ndarray,
    window: TraceWindow,
    rng: np.random.Generator,
    noise_sigma: np.ndarray | None = None,
    max_events: int = 200_000_000,
    engine: str | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Exact continuous-time simulation of independent traps over a window of readings.

    Parameters
    ----------
    state0: initial states (bool) of the traps at the window start (t = 0).
    lam_c, lam_e: capture and emission rates (1/s) during the window (constant bias).
    weight: change of its group's signal when a trap fills (e.g. -dI in amperes).
    group: group (cell) index of each trap, in ``range(len(base))``.
    base: signal of each group with all its traps empty.
    window: reading k averages the signal over ``[k*interval, k*interval + aperture]``.
    noise_sigma: per group, the sigma of Gaussian read noise added to every reading.
    engine: "numba" (compiled loops, default when available) or "numpy" (the reference);
        both consume the same random draws and agree to rounding.

    Returns
    -------
    signal: (n_groups, n) float32, the exact aperture average of
        ``base + sum(weight * state)`` for every reading (plus noise).
    state_end: trap states at ``window.duration_s``.
    """
    n, dt, ap = int(window.n), float(window.interval_s), float(window.aperture_s)
    if not 0 < ap <= dt:
        raise ValueError(f"aperture {ap!r} s must be > 0 and <= the interval {dt!r} s")
    n_groups = base.size
    t_end = n * dt
    state0 = np.asarray(state0, dtype=bool)
    start_level = base + np.bincount(group, weights=weight * state0, minlength=n_groups)
    state_end = state0.copy()
    expected = 0.0
    if state0.size:
        mean_dwell = 0.5 * (1.0 / lam_c + 1.0 / lam_e)
        expected = float(np.sum(t_end / mean_dwell))
        if expected > max_events:
            raise ValueError(
                f"trap kinetics would need ~{expected:.3g} events in this window "
                f"(limit {max_events:.3g}): time constants far below the aperture"
            )
    if engine is None:
        # Small windows: numpy is done before numba (~0.5 s to load) would be; both engines
        # give the same readings from the same draws, so the choice changes only the speed.
        small = expected < _NUMPY_EVENTS and n * n_groups < _NUMPY_READINGS
        engine = "numba" if _kernels.AVAILABLE and not small else "numpy"
    if engine == "numba":
        d = np.zeros((n_groups, n + 1))
        idx = np.arange(state0.size)
        t = np.zeros(state0.size)
        s = state0.copy()
        while idx.size:
            pairs = _pairs_needed(t_end, t, mean_dwell[idx])
            draws = rng.standard_exponential(2 * int(pairs.sum()))
            done, s, t = _kernels.scatter_flips(
                draws, pairs, idx, s, t, lam_c, lam_e, weight, group, n, dt, ap, t_end, d
            )
            state_end[idx[done]] = s[done]
            idx, t, s = idx[~done], t[~done], s[~done]
        out = np.empty((n_groups, n), dtype=np.float32)
        if noise_sigma is None:
            _kernels.readings(d, start_level, np.zeros(0), np.zeros(0, np.intp), _NOISE, out)
        else:
            noise_idx = _noise_indices(rng, out.size)
            sigma = np.asarray(noise_sigma, dtype=np.float64)
            _kernels.readings(d, start_level, sigma, noise_idx, _NOISE, out)
        return out, state_end
    if engine != "numpy":
        raise ValueError(f"engine must be 'numba' or 'numpy', got {engine!r}")
    out, state_end = _simulate_numpy(
        state0, lam_c, lam_e, weight, group, start_level, n, dt, ap, rng
    )
    if noise_sigma is not None:
        z = standard_normal_f32(rng, out.size).reshape(out.shape)
        z *= np.asarray(noise_sigma, dtype=np.float32)[:, None]
        out += z
    return out, state_end


def _pairs_needed(t_end: float, t: np.ndarray, mean_dwell: np.ndarray) -> np.ndarray:
    """Dwell pairs to draw per trap: the expected number of flips to ``t_end`` + 4 sigma."""
    mu = 0.5 * (t_end - t) / mean_dwell
    return (mu + 4.0 * np.sqrt(mu) + 2.0).astype(np.int64)


def _simulate_numpy(state0, lam_c, lam_e, weight, group, start_level, n, dt, ap, rng):
    """Reference implementation of :func:`simulate_traps` in numpy passes."""
    n_groups = start_level.size
    t_end = n * dt
    state_end = state0.copy()
    pos_parts, inc_parts = [], []
    per_group = np.zeros(n_groups)  # sum of all increments of each group
    if state0.size:
        mean_dwell = 0.5 * (1.0 / lam_c + 1.0 / lam_e)
        inv_dt = 1.0 / dt
        idx = np.arange(state0.size)
        t = np.zeros(state0.size)
        s = state0.copy()
        while idx.size:
            # Dwell times in pairs (one dwell in each state, starting from the current one);
            # traps that do not reach t_end go round again.
            pairs = _pairs_needed(t_end, t, mean_dwell[idx])
            ends = np.cumsum(pairs)
            local = np.repeat(np.arange(idx.size, dtype=np.int32), pairs)
            inv_c, inv_e = 1.0 / lam_c[idx], 1.0 / lam_e[idx]
            dwell = rng.standard_exponential(2 * int(ends[-1])).reshape(-1, 2)
            dwell[:, 0] *= np.where(s, inv_e, inv_c)[local]
            dwell[:, 1] *= np.where(s, inv_c, inv_e)[local]
            times = np.cumsum(dwell.ravel())
            # restart each trap's clock at its own t: subtract what earlier blocks summed to
            before = np.concatenate([[0.0], times[2 * ends[:-1] - 1]]) - t
            times -= np.repeat(before, 2 * pairs)
            flat = np.flatnonzero(times < t_end)
            ft = times[flat]
            loc = local[flat >> 1]
            # The flip ending dwell 0 of a pair fills the trap iff it started empty; the flip
            # ending dwell 1 undoes it: signed weight = w0 * (+1 | -1) by parity, no masks.
            w0 = np.where(s, -weight[idx], weight[idx])
            w = w0[loc] * (1.0 - 2.0 * (flat & 1))
            kread = (ft * inv_dt).astype(np.int64)
            np.minimum(kread, n - 1, out=kread)
            # Reading k sees the fraction (t_k + ap - t_flip)/ap of a flip inside its aperture
            # (0 outside it), readings from k+1 on see the rest.
            part = np.clip((ap - (ft - kread * dt)) * (1.0 / ap), 0.0, 1.0)
            part *= w
            w -= part
            # A flip in the last reading puts its rest at the next group's first position;
            # that group's reset entry absorbs it, since resets use the exact totals.
            pos = (group[idx] * n)[loc] + kread
            entries = np.empty((pos.size, 2), dtype=np.int64)
            entries[:, 0] = pos
            entries[:, 1] = pos + 1
            increments = np.empty((pos.size, 2))
            increments[:, 0] = part
            increments[:, 1] = w
            pos_parts.append(entries.ravel())
            inc_parts.append(increments.ravel())
            nflips = np.bincount(loc, minlength=idx.size)
            s = s ^ (nflips % 2 == 1)
            t_last = times[2 * ends - 1]
            done = t_last >= t_end
            state_end[idx[done]] = s[done]
            idx, t, s = idx[~done], t_last[~done], s[~done]
        # every flip adds part + rest = its full step: per group the steps sum to the change
        # of the trap states between the window's ends
        change = weight * (state_end.astype(np.float64) - state0)
        per_group = np.bincount(group, weights=change, minlength=n_groups)
    return _expand(start_level, per_group, pos_parts, inc_parts, n), state_end


def _expand(start_level, per_group, pos_parts, inc_parts, n: int) -> np.ndarray:
    """Dense (groups, n) float32 trace from sparse increments at flat positions group*n + k."""
    n_groups = start_level.size
    # One flat cumulative sum over all groups: a reset increment at each group's first position
    # brings the running level to the group's start level.
    end_level = start_level + per_group
    reset = start_level - np.concatenate([[0.0], end_level[:-1]])
    pos = np.concatenate([np.arange(n_groups, dtype=np.int64) * n, *pos_parts])
    inc = np.concatenate([reset, *inc_parts])
    # Positions are ascending within each trap and across groups: timsort merges few runs.
    order = np.argsort(pos, kind="stable")
    pos = pos[order]
    levels = np.cumsum(inc[order]).astype(np.float32)
    counts = np.diff(pos, append=n_groups * n)
    return np.repeat(levels, counts).reshape(n_groups, n)
