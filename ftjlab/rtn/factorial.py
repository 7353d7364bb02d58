"""Factorial HMM: K independent two-state traps behind one trace (see :mod:`ftjlab.rtn.hmm`
for the streaming EM and the time-constant conventions)."""

from __future__ import annotations

import math

import numpy as np
from scipy import special

from ftjlab.errors import BadInput

from .hmm import (
    GaussianHMM,
    TrapEstimate,
    _BaseHMM,
    _Stats,
    _trap_estimate,
)
from .source import Trace

__all__ = ["FactorialHMM"]


class FactorialHMM(_BaseHMM):
    """K independent two-state traps behind one trace (state j: bit k = trap k filled).

    Parameters: ``base`` (level with every trap empty), ``amplitudes`` (level change when a
    trap fills: negative in the FTJ model), per-trap 2 x 2 transition matrices ``trap_trans``
    and one read-noise variance.
    """

    def __init__(self, n_traps: int = 2, engine: str | None = None):
        super().__init__(engine)
        if not 1 <= n_traps <= 4:
            raise BadInput(f"n_traps: must be within 1..4, got {n_traps}")
        self.n_traps = n_traps
        self.n_states = 2**n_traps
        self._bits = ((np.arange(self.n_states)[:, None] >> np.arange(n_traps)) & 1).astype(float)
        self.base = 0.0
        self.amplitudes = np.zeros(n_traps)
        self.trap_trans = np.tile(np.array([[0.9, 0.1], [0.1, 0.9]]), (n_traps, 1, 1))

    @property
    def n_parameters(self) -> int:
        return 1 + self.n_traps + 1 + 2 * self.n_traps

    def _compose(self) -> None:
        self.means = self.base + self._bits @ self.amplitudes
        t = np.ones((1, 1))
        # state index j = sum_k bit_k 2^k: trap 0 is the least significant, so kron from the top
        for k in range(self.n_traps - 1, -1, -1):
            t = np.kron(t, self.trap_trans[k])
        self.trans = t
        flips = self.trap_trans[:, 0, 1] + self.trap_trans[:, 1, 0]
        # a trap that never flips (both probabilities 0): occupancy from nothing, take 1/2
        occ = np.where(flips > 0, self.trap_trans[:, 0, 1] / np.maximum(flips, 1e-300), 0.5)
        p = np.prod(np.where(self._bits == 1, occ, 1 - occ), axis=1)
        self.start = p / p.sum()

    def _initialise(self, tr: Trace, st) -> None:
        # levels from a free K-level fit of a leading sample: base = highest level (all
        # empty when filling lowers the current), amplitudes from the levels nearest base
        sample = tr.read(0, min(tr.n, 50_000))
        g = GaussianHMM(self.n_states, engine=self.engine)
        g.fit(sample, 1.0, max_iter=15, tol=1e-6, errors=False)
        lv = g.means  # sorted ascending
        span = lv[-1] - lv[0]
        if self.n_traps == 1:
            base, amps = lv[-1], np.array([lv[0] - lv[-1]])
        else:
            # choose base as the extreme level with the larger occupancy-weighted distance
            base = lv[-1]
            others = np.sort(np.abs(lv[:-1] - base))
            amps = -others[: self.n_traps]
            if np.any(amps == 0):
                amps = -span * (np.arange(1, self.n_traps + 1) / (self.n_traps + 1))
        self.base = float(base)
        self.amplitudes = amps.astype(np.float64)
        self.variances = np.full(self.n_states, g.variances.mean())
        stay = np.clip(np.diag(g.trans).mean(), 0.5, 0.999)
        self.trap_trans = np.tile(np.array([[stay, 1 - stay], [1 - stay, stay]]),
                                  (self.n_traps, 1, 1))
        self._compose()

    def _mstep(self, s: _Stats) -> None:
        # levels: weighted least squares for (base, amplitudes)
        d = np.hstack([np.ones((self.n_states, 1)), self._bits])
        lhs = (d * s.g[:, None]).T @ d
        rhs = d.T @ s.x
        theta = np.linalg.lstsq(lhs, rhs, rcond=None)[0]
        self.base, self.amplitudes = float(theta[0]), theta[1:].copy()
        means = d @ theta
        ss = s.x2 - 2 * means * s.x + means**2 * s.g
        var = max(float(ss.sum() / s.g.sum()), self._var_floor, 1e-300)
        self.variances = np.full(self.n_states, var)
        # per-trap transitions from the joint expected transition counts
        for k in range(self.n_traps):
            bi = self._bits[:, k]
            c = np.zeros((2, 2))
            for a in (0, 1):
                for b in (0, 1):
                    c[a, b] = s.xi[np.ix_(bi == a, bi == b)].sum()
            rows = c.sum(axis=1, keepdims=True)
            self.trap_trans[k] = np.where(rows > 0, c / np.maximum(rows, 1e-300), np.eye(2))
        self._compose()

    def _theta(self) -> np.ndarray:
        p01, p10 = self.trap_trans[:, 0, 1], self.trap_trans[:, 1, 0]
        return np.concatenate([[self.base / self._scale], self.amplitudes / self._scale,
                               [math.log(self.variances[0])], special.logit(p01),
                               special.logit(p10)])

    def _set_theta(self, theta: np.ndarray) -> None:
        k = self.n_traps
        self.base = float(theta[0] * self._scale)
        self.amplitudes = np.asarray(theta[1 : 1 + k] * self._scale, dtype=np.float64)
        self.variances = np.full(self.n_states, max(math.exp(theta[1 + k]), self._var_floor))
        p01 = special.expit(theta[2 + k : 2 + 2 * k])
        p10 = special.expit(theta[2 + 2 * k : 2 + 3 * k])
        self.trap_trans = np.stack([np.stack([1 - p01, p01], -1), np.stack([p10, 1 - p10], -1)],
                                   axis=1)
        self._compose()

    def _score_stats(self, s: _Stats) -> np.ndarray:
        d = np.hstack([np.ones((self.n_states, 1)), self._bits])
        var = self.variances[0]
        d_lin = self._scale * d.T @ (s.x - self.means * s.g) / var
        ss = s.x2 - 2 * self.means * s.x + self.means**2 * s.g
        d_lv = -s.g.sum() / 2 + ss.sum() / (2 * var)
        up, down = [], []
        for k in range(self.n_traps):
            bi = self._bits[:, k]
            c = np.array([[s.xi[np.ix_(bi == a, bi == b)].sum() for b in (0, 1)]
                          for a in (0, 1)])
            p01, p10 = self.trap_trans[k, 0, 1], self.trap_trans[k, 1, 0]
            up.append(c[0, 1] * (1 - p01) - c[0, 0] * p01)
            down.append(c[1, 0] * (1 - p10) - c[1, 1] * p10)
        return np.concatenate([d_lin, [d_lv], up, down])

    def transition_counts(self, k: int) -> np.ndarray:
        """Expected 2 x 2 transition counts of trap ``k`` in the last E-step."""
        s = self._last_stats
        bi = self._bits[:, k]
        return np.array([[s.xi[np.ix_(bi == a, bi == b)].sum() for b in (0, 1)] for a in (0, 1)])

    def _estimates(self, jackknife: bool = True) -> list[TrapEstimate]:
        return self.traps(jackknife)

    def traps(self, jackknife: bool = True) -> list[TrapEstimate]:
        """Every trap's estimate, ordered by decreasing |amplitude|. 'Filled' is the state
        that moves the level by ``amplitude`` from ``base``. Intervals: the wider of the
        exponential-dwell and the jackknife ones."""
        self._check_fitted()
        s = self._last_stats
        out = []
        sigma = float(np.sqrt(self.variances.mean()))
        for k in np.argsort(-np.abs(self.amplitudes)):
            c = self.transition_counts(int(k))
            occ_samples = s.g @ self._bits[:, k]
            out.append(_trap_estimate(
                p01=self.trap_trans[k, 0, 1], p10=self.trap_trans[k, 1, 0], dt=self.interval_s,
                captures=c[0, 1], emissions=c[1, 0], amplitude=self.amplitudes[k],
                n_filled=occ_samples, n_empty=s.g.sum() - occ_samples, sigma=sigma,
                n=self.n_samples,
            ))  # fmt: skip
        if self.n_traps == 1:
            out[0].memory_lr = float(getattr(self, "memory_lr", math.nan))
        return self._apply_jackknife(out) if jackknife else out


def _chain(lc: float, le: float, dt: float) -> np.ndarray:
    """2 x 2 transition matrix (0 = empty, 1 = filled) of a trap over ``dt`` (exact)."""
    lam = lc + le
    r = -math.expm1(-lam * dt) if dt > 0 else 0.0
    p01, p10 = lc / lam * r, le / lam * r
    return np.array([[1 - p01, p01], [p10, 1 - p10]])
