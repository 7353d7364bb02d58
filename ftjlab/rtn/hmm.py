"""Hidden Markov models of RTN traces: level detection for one and several traps.

* :class:`GaussianHMM` - K levels, Gaussian read noise (one variance shared by all levels by
  default: the read noise does not depend on the trap state), free transition matrix.
* :class:`FactorialHMM` - K independent two-state traps; level of a state = base + sum of the
  amplitudes of the filled traps; transition matrix = Kronecker product of the traps' 2 x 2
  matrices (Puglisi & Pavan's factorial HMM with the exact E-step over the 2^K joint states).
  Resolves traps of different amplitude and gives each trap its own tau_c, tau_e.

Both fit by Baum-Welch (EM) with the scaled forward-backward recursion of
:mod:`ftjlab.rtn._kernels`, streamed block by block: the forward message is carried across
blocks exactly; each block's backward pass starts at the end of a look-ahead of ``lookahead``
samples from the next block, so the posterior at the block's end is the fixed-lag smoother,
equal to the exact one whenever the look-ahead spans many dwell times (4096 samples by
default). Memory: two blocks at a time, whatever the trace length.

Time constants: the fitted per-sample transition probabilities P01 (empty -> filled) and
P10 of a trap are those of the continuous-time chain sampled every ``dt``:
P01 = (lc / l)(1 - exp(-l dt)), P10 = (le / l)(1 - exp(-l dt)), l = lc + le. Inverting gives
tau_c = 1/lc and tau_e = 1/le exactly (no dt << tau assumption). Readings that average over an
aperture shift flips by at most half an aperture; dwells shorter than that are missed.
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass, field

import numpy as np
from scipy import optimize, special
from scipy import stats as sstats

from ftjlab.errors import BadInput

from . import _kernels as kern
from .source import Trace, as_trace

DEFAULT_LOOKAHEAD = 4096
MIN_MEMORY = 0.05
BATCHES = 8

__all__ = [
    "ApertureHMM",
    "FactorialHMM",
    "GaussianHMM",
    "TrapEstimate",
    "continuous_rates",
    "select_traps",
]


def continuous_rates(p01: float, p10: float, dt_s: float) -> tuple[float, float]:
    """(capture rate, emission rate) in 1/s of the continuous-time two-state chain whose
    samples every ``dt_s`` have transition probabilities P01 (capture) and P10 (emission)."""
    s = p01 + p10
    if not 0 < s < 1:
        raise BadInput(f"transition probabilities P01={p01:.3g}, P10={p10:.3g}: their sum must "
                       "be in (0, 1) (no transitions seen, or sampling far too slow)")
    lam = -math.log1p(-s) / dt_s
    return lam * p01 / s, lam * p10 / s


@dataclass
class TrapEstimate:
    """One trap: time constants with 95 % confidence intervals, amplitude, occupancy."""

    tau_c_s: float
    tau_e_s: float
    tau_c_ci_s: tuple[float, float]
    tau_e_ci_s: tuple[float, float]
    amplitude_a: float  # level(filled) - level(empty)
    amplitude_ci_a: tuple[float, float]
    occupancy: float  # fraction of time filled = tau_e / (tau_c + tau_e)
    occupancy_ci: tuple[float, float]
    captures: float  # expected number of capture transitions seen
    emissions: float
    memory: float = 1.0  # 1 - P01 - P10 = exp(-dt / tau*): correlation from one sample to the next

    @property
    def transitions(self) -> float:
        return self.captures + self.emissions

    @property
    def resolved(self) -> bool:
        """Whether the trap keeps its state from one sample to the next (memory >= 0.05, i.e.
        tau* >= dt / 3). Without memory a 'trap' is only a non-Gaussian shape of white noise:
        the HMM cannot tell it from one, nor time it."""
        return self.memory >= MIN_MEMORY

    def as_dict(self) -> dict:
        return {k: (list(v) if isinstance(v, tuple) else v) for k, v in self.__dict__.items()}


def _tau_ci(tau: float, count: float) -> tuple[float, float]:
    """95 % interval of a mean exponential dwell from ``count`` dwells (chi^2 with 2n dof):
    the interval if the states were observed; widened by the jackknife when they are not."""
    n = max(count, 1.0)
    lo, hi = sstats.chi2.ppf([0.975, 0.025], 2 * n)
    return (tau * 2 * n / lo, tau * 2 * n / hi)


@dataclass
class _Stats:
    loglik: float = 0.0
    g: np.ndarray = field(default_factory=lambda: np.zeros(0))
    x: np.ndarray = field(default_factory=lambda: np.zeros(0))
    x2: np.ndarray = field(default_factory=lambda: np.zeros(0))
    xi: np.ndarray = field(default_factory=lambda: np.zeros((0, 0)))


class _BaseHMM:
    """Shared E-step, streaming, decoding. Subclasses define the state space and M-step."""

    n_states: int
    means: np.ndarray
    variances: np.ndarray
    trans: np.ndarray
    start: np.ndarray

    def __init__(self, engine: str | None = None) -> None:
        self.engine = engine or ("numba" if kern.AVAILABLE else "numpy")
        if self.engine not in ("numba", "numpy"):
            raise BadInput(f"engine: must be 'numba' or 'numpy', got {self.engine!r}")
        self.loglik: float = -math.inf
        self.n_iter: int = 0
        self.converged: bool = False
        self.n_samples: int = 0
        self.interval_s: float = 1.0
        self.history: list[float] = []

    # ------------------------------------------------------------------ E-step
    def _fb(self, x, prior, prev, n_keep):
        if self.engine == "numpy":
            f = kern.forward_backward_numpy
        else:
            f = kern.forward_backward2 if self.n_states == 2 else kern.forward_backward
        return f(x, self.means, self.variances, self.trans, prior, prev, n_keep)

    def _estep(self, trace: Trace, lookahead: int) -> _Stats:
        k = self.n_states
        st = _Stats(0.0, np.zeros(k), np.zeros(k), np.zeros(k), np.zeros((k, k)))
        prev = np.zeros(k)
        prior = self.start.copy()
        for blk, ahead in trace.blocks_with_lookahead(trace.block, lookahead):
            x = np.concatenate([blk, ahead]) if ahead.size else blk
            ll, g, xs, x2, xi, last = self._fb(x, prior, prev, blk.size)
            st.loglik += ll
            st.g += g
            st.x += xs
            st.x2 += x2
            st.xi += xi
            prev = last
            prior = last @ self.trans
        return st

    def score(self, trace, interval_s: float = 1.0, lookahead: int = DEFAULT_LOOKAHEAD) -> float:
        """Log-likelihood of a trace under the current parameters."""
        tr = as_trace(trace, interval_s)
        return self._estep(tr, lookahead).loglik

    # ------------------------------------------------------------------ fitting
    def fit(
        self,
        trace,
        interval_s: float | None = None,
        max_iter: int = 200,
        tol: float = 1e-7,
        lookahead: int = DEFAULT_LOOKAHEAD,
        warm_start: bool = False,
        errors: bool = True,
    ):
        """Baum-Welch until the log-likelihood per sample improves by less than ``tol``.

        ``trace``: a :class:`~ftjlab.rtn.source.Trace` or a 1-D array (then ``interval_s``
        gives the sampling interval; default 1, i.e. times in samples). ``warm_start``:
        continue from the current parameters (a model fitted before) instead of
        re-initialising. ``errors``: batch-means confidence intervals (:meth:`_jackknife`,
        about one more fit's work); off for quick screening fits."""
        tr = as_trace(trace, interval_s or 1.0)
        if interval_s is not None and isinstance(trace, Trace):
            tr.interval_s = float(interval_s)
        st = tr.check(min_samples=max(MIN_FIT_SAMPLES, 10 * self.n_states))
        self.interval_s = tr.interval_s
        self.n_samples = st.n
        if not (warm_start and self.n_iter > 0):
            self._initialise(tr, st)
            self.history = []
            self.n_iter = 0
        prev_ll = -math.inf
        self.converged = False
        for _ in range(max_iter):
            s = self._estep(tr, lookahead)
            self.history.append(s.loglik)
            self._mstep(s)
            self.n_iter += 1
            if abs(s.loglik - prev_ll) < tol * st.n:
                self.converged = True
                break
            prev_ll = s.loglik
        self.loglik = self._estep(tr, lookahead).loglik if not self.converged else s.loglik
        self._last_stats = s
        self._tol = tol
        self._after_fit()
        if errors:
            self._jackknife(tr, lookahead)
        return self

    def _after_fit(self) -> None:
        """Hook run after EM, before the batch-means errors (e.g. to order the levels)."""

    # ------------------------------------------------------------------ uncertainty
    def _quantities(self) -> np.ndarray | None:
        """Per trap (log tau_c, log tau_e, amplitude, occupancy), or None (no traps)."""
        try:
            est = self._estimates(jackknife=False)
        except BadInput:
            return None
        if not est:
            return None
        q = np.array([[math.log(t.tau_c_s), math.log(t.tau_e_s), t.amplitude_a, t.occupancy]
                      for t in est])
        return q if np.all(np.isfinite(q)) else None

    def _estimates(self, jackknife: bool = True) -> list[TrapEstimate]:
        return []

    def _jackknife(self, tr: Trace, lookahead: int, batches: int = BATCHES) -> None:
        """Batch means: the trace in ``batches`` contiguous parts, each fitted on its own
        (warm-started from the full fit), and the spread of their estimates / sqrt(batches)
        as the standard error of the full fit. Every part is refitted to convergence, so
        the uncertainty of the levels feeds back into the time constants as it does in the
        full fit (it dominates at SNR ~ 1); a one-step (E-step at the full-fit parameters)
        jackknife misses that feedback and is about half as wide there. Each part must hold
        >= 20,000 samples, else only the exponential-dwell intervals are given."""
        self._jk_se = None
        full = self._quantities()
        size = tr.n // batches
        if full is None or size < 20_000:
            return
        reps = []
        for b in range(batches):
            m = copy.deepcopy(self)
            m._jk_se = None
            try:
                m.fit(tr.window(b * size, (b + 1) * size), max_iter=100, tol=self._tol,
                      lookahead=lookahead, warm_start=True, errors=False)
            except BadInput:
                return
            q = m._quantities()
            if q is None or q.shape != full.shape:
                return
            reps.append(q)
        reps = np.array(reps)
        self._jk_se = reps.std(axis=0, ddof=1) / math.sqrt(batches)
        self._jk_t = float(sstats.t.ppf(0.975, batches - 1))

    def _apply_jackknife(self, est: list[TrapEstimate]) -> list[TrapEstimate]:
        se = getattr(self, "_jk_se", None)
        if se is None or se.shape[0] != len(est):
            return est
        z = self._jk_t
        for t, (s_lc, s_le, s_a, s_o) in zip(est, se, strict=True):
            # the wider of the batch-means and the exponential-dwell (chi^2) intervals
            lo, hi = t.tau_c_s * math.exp(-z * s_lc), t.tau_c_s * math.exp(z * s_lc)
            t.tau_c_ci_s = (min(lo, t.tau_c_ci_s[0]), max(hi, t.tau_c_ci_s[1]))
            lo, hi = t.tau_e_s * math.exp(-z * s_le), t.tau_e_s * math.exp(z * s_le)
            t.tau_e_ci_s = (min(lo, t.tau_e_ci_s[0]), max(hi, t.tau_e_ci_s[1]))
            t.amplitude_ci_a = (min(t.amplitude_a - z * s_a, t.amplitude_ci_a[0]),
                                max(t.amplitude_a + z * s_a, t.amplitude_ci_a[1]))
            t.occupancy_ci = (max(0.0, min(t.occupancy - z * s_o, t.occupancy_ci[0])),
                              min(1.0, max(t.occupancy + z * s_o, t.occupancy_ci[1])))
        return est

    def _check_fitted(self) -> None:
        if self.n_iter == 0:
            raise BadInput("model: fit it to a trace first")

    def _viterbi(self, x, log_prior):
        f = kern.viterbi if self.engine == "numba" else kern.viterbi_numpy
        with np.errstate(divide="ignore"):
            log_t = np.log(self.trans)
        return f(x, self.means, self.variances, log_t, log_prior)

    def decode_blocks(self, trace, interval_s: float = 1.0,
                      lookahead: int = DEFAULT_LOOKAHEAD):
        """Viterbi path, block by block (int8 state indices). Each block is decoded with a
        look-ahead and started from the state the previous block ended in, so the pieces
        join into one valid path (the exact Viterbi path whenever paths merge within the
        look-ahead)."""
        self._check_fitted()
        tr = as_trace(trace, interval_s)
        with np.errstate(divide="ignore"):
            log_prior = np.log(self.start)
        for blk, ahead in tr.blocks_with_lookahead(tr.block, lookahead):
            x = np.concatenate([blk, ahead]) if ahead.size else blk
            path = self._viterbi(x, log_prior)[: blk.size]
            end = int(path[-1])
            # the next block starts one transition after `end`
            with np.errstate(divide="ignore"):
                log_prior = np.log(self.trans[end])
            yield path

    def decode(self, trace, interval_s: float = 1.0) -> np.ndarray:
        """The whole Viterbi path (int8). For long file-backed traces prefer
        :meth:`decode_blocks` or :meth:`dwells`."""
        return np.concatenate(list(self.decode_blocks(trace, interval_s)))

    def dwells(self, trace, interval_s: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
        """Run-length encoding of the Viterbi path, streamed: (state of each dwell, length in
        samples). The first and last dwells are censored by the record edges."""
        states: list[np.ndarray] = []
        lengths: list[np.ndarray] = []
        cur_state, cur_len = -1, 0
        for path in self.decode_blocks(trace, interval_s):
            change = np.flatnonzero(path[1:] != path[:-1]) + 1
            starts = np.concatenate([[0], change])
            lens = np.diff(np.concatenate([starts, [path.size]]))
            st = path[starts].astype(np.int64)
            if st[0] == cur_state:
                lens[0] += cur_len
            elif cur_state >= 0:
                states.append(np.array([cur_state]))
                lengths.append(np.array([cur_len]))
            states.append(st[:-1])
            lengths.append(lens[:-1])
            cur_state, cur_len = int(st[-1]), int(lens[-1])
        states.append(np.array([cur_state]))
        lengths.append(np.array([cur_len]))
        return np.concatenate(states), np.concatenate(lengths)

    # ------------------------------------------------------------------ model selection
    @property
    def n_parameters(self) -> int:
        raise NotImplementedError

    def bic(self) -> float:
        """Bayesian information criterion of the fit (lower is better)."""
        self._check_fitted()
        return -2.0 * self.loglik + self.n_parameters * math.log(self.n_samples)


MIN_FIT_SAMPLES = 200


def _kmeans_1d(x: np.ndarray, k: int, iters: int = 50) -> np.ndarray:
    """Cluster centres of 1-D data (Lloyd's algorithm from quantile starts)."""
    centres = np.quantile(x, (2 * np.arange(k) + 1) / (2 * k))
    for _ in range(iters):
        edges = (centres[1:] + centres[:-1]) / 2
        lab = np.searchsorted(edges, x)
        new = np.array([x[lab == j].mean() if np.any(lab == j) else centres[j] for j in range(k)])
        if np.allclose(new, centres, rtol=0, atol=1e-12 * (np.ptp(x) + 1e-300)):
            break
        centres = np.sort(new)
    return centres


class GaussianHMM(_BaseHMM):
    """K-level Gaussian HMM (levels sorted by mean after fitting).

    Parameters
    ----------
    n_states: number of levels.
    tied: one read-noise variance for all levels (default) or one per level.
    """

    def __init__(self, n_states: int = 2, tied: bool = True, engine: str | None = None):
        super().__init__(engine)
        if not 2 <= n_states <= 32:
            raise BadInput(f"n_states: must be within 2..32, got {n_states}")
        self.n_states = n_states
        self.tied = tied

    @property
    def n_parameters(self) -> int:
        k = self.n_states
        return k + (1 if self.tied else k) + k * (k - 1)

    def _initialise(self, tr: Trace, st) -> None:
        k = self.n_states
        sample = tr.read(0, min(tr.n, 200_000))
        centres = _kmeans_1d(sample, k)
        edges = (centres[1:] + centres[:-1]) / 2
        lab = np.searchsorted(edges, sample)
        resid = sample - centres[lab]
        var = max(float(resid.var()), 1e-6 * st.std**2)
        counts = np.zeros((k, k))
        np.add.at(counts, (lab[:-1], lab[1:]), 1.0)
        counts += 1.0
        self.means = centres.astype(np.float64)
        self.variances = np.full(k, var)
        self.trans = counts / counts.sum(axis=1, keepdims=True)
        occ = np.bincount(lab, minlength=k) + 1.0
        self.start = occ / occ.sum()

    def _mstep(self, s: _Stats) -> None:
        g = np.maximum(s.g, 1e-300)
        self.means = s.x / g
        ss = s.x2 - 2 * self.means * s.x + self.means**2 * s.g
        if self.tied:
            self.variances = np.full(self.n_states, max(ss.sum() / s.g.sum(), 1e-300))
        else:
            self.variances = np.maximum(ss / g, 1e-300)
        rows = s.xi.sum(axis=1, keepdims=True)
        self.trans = np.where(rows > 0, s.xi / np.maximum(rows, 1e-300), np.eye(self.n_states))
        self.start = s.g / s.g.sum()

    def sort_levels(self) -> None:
        """Reorder states by increasing mean."""
        order = np.argsort(self.means)
        self.means = self.means[order]
        self.variances = self.variances[order]
        self.trans = self.trans[np.ix_(order, order)]
        self.start = self.start[order]
        if hasattr(self, "_last_stats"):
            s = self._last_stats
            s.g, s.x, s.x2 = s.g[order], s.x[order], s.x2[order]
            s.xi = s.xi[np.ix_(order, order)]

    def _after_fit(self) -> None:
        self.sort_levels()

    @property
    def noise_sigma(self) -> float:
        return float(np.sqrt(self.variances.mean()))

    def _estimates(self, jackknife: bool = True) -> list[TrapEstimate]:
        if self.n_states != 2:
            return []
        return [self.trap(self._filled, jackknife=jackknife)]

    _filled = "low"

    def trap(self, filled: str = "low", jackknife: bool = True) -> TrapEstimate:
        """The trap of a two-level fit: which level is 'filled' (a filled trap lowers the
        current in the FTJ model: ``filled="low"``). Confidence intervals: the wider of the
        exponential-dwell interval and the jackknife one (see :meth:`_jackknife`)."""
        self._check_fitted()
        if self.n_states != 2:
            raise BadInput("trap(): needs a two-level fit; use FactorialHMM for several traps")
        if filled not in ("low", "high"):
            raise BadInput(f"filled: 'low' or 'high', got {filled!r}")
        f = 0 if filled == "low" else 1
        e = 1 - f
        s = self._last_stats
        memory = 1.0 - self.trans[e, f] - self.trans[f, e]
        if memory < MIN_MEMORY:
            raise BadInput(
                f"trace: the two-level fit has no memory from one sample to the next "
                f"(1 - P01 - P10 = {memory:.3f}): no trap, or one much faster than the "
                f"{self.interval_s:.3g} s sampling interval; its time constants cannot be "
                "measured at this sampling"
            )
        est = _trap_estimate(
            p01=self.trans[e, f], p10=self.trans[f, e], dt=self.interval_s,
            captures=s.xi[e, f], emissions=s.xi[f, e],
            amplitude=self.means[f] - self.means[e],
            n_filled=s.g[f], n_empty=s.g[e], sigma=self.noise_sigma, n=self.n_samples,
        )  # fmt: skip
        if jackknife and filled == self._filled:
            self._apply_jackknife([est])
        return est


def _trap_estimate(p01, p10, dt, captures, emissions, amplitude, n_filled, n_empty, sigma,
                   n) -> TrapEstimate:
    nan = float("nan")
    if not 0 < p01 + p10 < 1:  # no memory at all: nothing to time (see TrapEstimate.resolved)
        occ = float(p01 / (p01 + p10)) if p01 + p10 > 0 else nan
        return TrapEstimate(nan, nan, (nan, nan), (nan, nan), float(amplitude), (nan, nan), occ,
                            (nan, nan), float(captures), float(emissions),
                            float(1.0 - p01 - p10))
    lc, le = continuous_rates(float(p01), float(p10), dt)
    tau_c, tau_e = 1 / lc, 1 / le
    occ = tau_e / (tau_c + tau_e)
    se_amp = sigma * math.sqrt(1 / max(n_filled, 1) + 1 / max(n_empty, 1))
    tau_star = 1 / (lc + le)
    t_total = n * dt
    se_occ = math.sqrt(max(2 * occ * (1 - occ) * tau_star / max(t_total, 1e-300), 0.0)
                       + occ * (1 - occ) / n)
    z = 1.959963984540054
    return TrapEstimate(
        tau_c, tau_e, _tau_ci(tau_c, captures), _tau_ci(tau_e, emissions),
        float(amplitude), (amplitude - z * se_amp, amplitude + z * se_amp),
        occ, (max(0.0, occ - z * se_occ), min(1.0, occ + z * se_occ)),
        float(captures), float(emissions), float(1.0 - p01 - p10),
    )  # fmt: skip


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
        occ = self.trap_trans[:, 0, 1] / (self.trap_trans[:, 0, 1] + self.trap_trans[:, 1, 0])
        p = np.prod(np.where(self._bits == 1, occ, 1 - occ), axis=1)
        self.start = p / p.sum()

    def _initialise(self, tr: Trace, st) -> None:
        # levels from a free K-level fit of a leading sample: base = highest level (all
        # empty when filling lowers the current), amplitudes from the levels nearest base
        sample = tr.read(0, min(tr.n, 50_000))
        g = GaussianHMM(self.n_states, engine=self.engine)
        g.fit(sample, 1.0, max_iter=15, tol=1e-6)
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
        var = max(float(ss.sum() / s.g.sum()), 1e-300)
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
        return self._apply_jackknife(out) if jackknife else out


def _chain(lc: float, le: float, dt: float) -> np.ndarray:
    """2 x 2 transition matrix (0 = empty, 1 = filled) of a trap over ``dt`` (exact)."""
    lam = lc + le
    r = -math.expm1(-lam * dt) if dt > 0 else 0.0
    p01, p10 = lc / lam * r, le / lam * r
    return np.array([[1 - p01, p01], [p10, 1 - p10]])


class ApertureHMM(_BaseHMM):
    """One trap read through apertures: each reading averages the current over ``aperture``
    of every ``interval``, so a reading during which the trap flips lies between the levels.

    Hidden state of a reading: (trap state at the aperture's start, at its end) = 4 states.
    Emissions: the level (Gaussian read noise) when both agree; after a single flip at a
    uniformly distributed time, level_a + (level_b - level_a) u, u ~ U(0, 1), plus noise.
    Transitions: the exact two-state chain over the gap (interval - aperture) then over the
    aperture, parameterised by the capture and emission rates themselves (fitted by a 2-D
    maximisation of the expected complete-data likelihood in the M-step). Without this, a
    factorial model explains the in-between readings as a second trap of half the amplitude
    with the same kinetics. Neglects two flips within one aperture (order (aperture/tau)^2).
    """

    def __init__(self, aperture_fraction: float, filled: str = "low",
                 engine: str | None = None):
        super().__init__(engine)
        if not 0 < aperture_fraction <= 1:
            raise BadInput(f"aperture: must be within (0, 1] of the interval, got "
                           f"{aperture_fraction!r}")
        if filled not in ("low", "high"):
            raise BadInput(f"filled: 'low' or 'high', got {filled!r}")
        self.aperture_fraction = float(aperture_fraction)
        self.filled = filled
        self.n_states = 4
        self.n_traps = 1

    @property
    def n_parameters(self) -> int:
        return 5  # two levels, noise, two rates

    # pair index p = 2 * start + end
    def _compose(self) -> None:
        dt = self.interval_s
        a = self.aperture_fraction * dt
        g = _chain(self.lc, self.le, dt - a) if dt - a > 0 else np.eye(2)
        ap = _chain(self.lc, self.le, a)
        t = np.zeros((4, 4))
        for i in range(2):
            for j in range(2):
                for k in range(2):
                    for m in range(2):
                        t[2 * i + j, 2 * k + m] = g[j, k] * ap[k, m]
        self.trans = t
        occ = self.lc / (self.lc + self.le)
        pi = np.array([1 - occ, occ])
        self.start = (pi[:, None] * ap).ravel()
        self.means = np.array([self.mu_e, (self.mu_e + self.mu_f) / 2,
                               (self.mu_e + self.mu_f) / 2, self.mu_f])
        self.variances = np.full(4, self.var)

    def _initialise(self, tr: Trace, st) -> None:
        g = GaussianHMM(2, engine=self.engine).fit(tr.read(0, min(tr.n, 50_000)),
                                                    tr.interval_s, max_iter=15, tol=1e-6)
        f = 0 if self.filled == "low" else 1
        self.mu_f, self.mu_e = float(g.means[f]), float(g.means[1 - f])
        self.var = float(g.variances.mean())
        p01, p10 = float(g.trans[1 - f, f]), float(g.trans[f, 1 - f])
        if 0 < p01 + p10 < 1:
            self.lc, self.le = continuous_rates(p01, p10, tr.interval_s)
        else:
            self.lc = self.le = 1.0 / tr.interval_s
        self._compose()

    def _fb(self, x, prior, prev, n_keep):
        lo, hi = min(self.mu_e, self.mu_f), max(self.mu_e, self.mu_f)
        sd = math.sqrt(self.var)
        logn = -0.5 * np.log(2 * np.pi * self.var)
        le_ = logn - (x - self.mu_e) ** 2 / (2 * self.var)
        lf_ = logn - (x - self.mu_f) ** 2 / (2 * self.var)
        span = max(hi - lo, 1e-300)
        dens = special.ndtr((x - lo) / sd) - special.ndtr((x - hi) / sd)
        lt = np.log(np.maximum(dens, 1e-300)) - math.log(span)
        logb = np.stack([le_, lt, lt, lf_], axis=1)
        mx = logb.max(axis=1)
        b = np.exp(logb - mx[:, None])
        ll, g, xs, x2, xi, last = kern.forward_backward_emissions(b, x, self.trans, prior, prev,
                                                                  n_keep)
        return ll + float(mx[:n_keep].sum()), g, xs, x2, xi, last

    def _mstep(self, s: _Stats) -> None:
        g0, g3 = max(s.g[0], 1e-300), max(s.g[3], 1e-300)
        self.mu_e, self.mu_f = s.x[0] / g0, s.x[3] / g3
        ss = (s.x2[0] - 2 * self.mu_e * s.x[0] + self.mu_e**2 * s.g[0]
              + s.x2[3] - 2 * self.mu_f * s.x[3] + self.mu_f**2 * s.g[3])
        self.var = max(float(ss / (s.g[0] + s.g[3])), 1e-300)
        xi = s.xi.reshape(2, 2, 2, 2)  # (i, j) -> (k, m)
        n_gap = xi.sum(axis=(0, 3))  # j -> k
        n_ap = xi.sum(axis=(0, 1))  # k -> m
        dt = self.interval_s
        a = self.aperture_fraction * dt

        def nll(q: np.ndarray) -> float:
            lc, le = math.exp(q[0]), math.exp(q[1])
            out = -float(np.sum(n_ap * np.log(np.maximum(_chain(lc, le, a), 1e-300))))
            if dt - a > 0:
                out -= float(np.sum(n_gap * np.log(np.maximum(_chain(lc, le, dt - a),
                                                              1e-300))))
            return out

        r = optimize.minimize(nll, np.log([self.lc, self.le]), method="Nelder-Mead",
                              options={"xatol": 1e-7, "fatol": 1e-9, "maxiter": 400})
        self.lc, self.le = float(math.exp(r.x[0])), float(math.exp(r.x[1]))
        self._counts = (n_gap, n_ap)
        self._compose()

    def decode_blocks(self, trace, interval_s: float = 1.0, lookahead: int = DEFAULT_LOOKAHEAD):
        raise BadInput("decode: not available for the aperture model; fit a GaussianHMM(2) "
                       "for a level path")

    def _estimates(self, jackknife: bool = True) -> list[TrapEstimate]:
        return self.traps(jackknife)

    def traps(self, jackknife: bool = True) -> list[TrapEstimate]:
        self._check_fitted()
        n_gap, n_ap = self._counts
        captures = float(n_gap[0, 1] + n_ap[0, 1])
        emissions = float(n_gap[1, 0] + n_ap[1, 0])
        dt = self.interval_s
        p = _chain(self.lc, self.le, dt)
        s = self._last_stats
        out = [_trap_estimate(
            p01=p[0, 1], p10=p[1, 0], dt=dt, captures=captures, emissions=emissions,
            amplitude=self.mu_f - self.mu_e, n_filled=s.g[3], n_empty=s.g[0],
            sigma=math.sqrt(self.var), n=self.n_samples,
        )]  # fmt: skip
        return self._apply_jackknife(out) if jackknife else out

    @property
    def base(self) -> float:
        return float(self.mu_e)


def select_traps(trace, interval_s: float | None = None, max_traps: int = 3,
                 max_iter: int = 200, tol: float = 1e-7, screen_iter: int = 25,
                 baseline_bic: float = math.inf, aperture_fraction: float | None = None
                 ) -> tuple[_BaseHMM, dict[int, float]]:
    """Fit factorial models with 1..max_traps traps, keep the one with the lowest BIC, and
    finish its fit. Candidates get ``screen_iter`` EM iterations first (a model with a
    spurious extra trap converges slowly and never pays for its parameters; a real extra
    trap wins by far within a few iterations). The winner is not finished when
    ``baseline_bic`` (e.g. of white noise, no trap) beats it. With ``aperture_fraction``
    (aperture / interval) the one-trap candidate is an :class:`ApertureHMM`. Returns
    (best model, {traps: BIC})."""
    tr = as_trace(trace, interval_s or 1.0)
    models, scores = {}, {}
    for k in range(1, max_traps + 1):
        m = (ApertureHMM(aperture_fraction) if k == 1 and aperture_fraction else
             FactorialHMM(k))
        m.fit(tr, interval_s, max_iter=min(screen_iter, max_iter), tol=tol, errors=False)
        models[k], scores[k] = m, m.bic()
    best = models[min(scores, key=scores.get)]
    if scores[best.n_traps] < baseline_bic:
        if not best.converged:
            best.fit(tr, interval_s, max_iter=max_iter - best.n_iter, tol=tol,
                     warm_start=True, errors=False)
            scores[best.n_traps] = best.bic()
        best._jackknife(tr, DEFAULT_LOOKAHEAD)
    return best, scores
