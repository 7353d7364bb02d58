"""Hidden Markov models of RTN traces: level detection for one and several traps.

* :class:`GaussianHMM` - K levels, Gaussian read noise (one variance shared by all levels by
  default: the read noise does not depend on the trap state), free transition matrix.
* :class:`~ftjlab.rtn.factorial.FactorialHMM` - K independent two-state traps; level of a
  state = base + sum of the amplitudes of the filled traps; transition matrix = Kronecker
  product of the traps' 2 x 2 matrices (Puglisi & Pavan's factorial HMM with the exact E-step
  over the 2^K joint states).
  Resolves traps of different amplitude and gives each trap its own tau_c, tau_e.
* :mod:`ftjlab.rtn.traps` - how many traps (BIC), and when to use the aperture model.

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

import math
from dataclasses import dataclass, field

import numpy as np
from scipy import stats as sstats

from ftjlab.errors import BadInput

from . import _kernels as kern
from . import em
from . import information as info
from .source import Trace, as_trace

DEFAULT_LOOKAHEAD = 4096
MIN_MEMORY = 0.05
MEMORY_LR = 10.83  # chi^2 (1 dof) at p = 0.001: the trap test's threshold
VAR_FLOOR = 1e-10  # smallest read-noise variance of a fit, relative to the trace variance
BATCHES = 8

__all__ = [  # ApertureHMM: see ftjlab.rtn.aperture (also reachable from here)
    "GaussianHMM",
    "TrapEstimate",
    "continuous_rates",
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
    ci_method: str = info.DWELLS  # how the intervals were formed
    memory_lr: float = math.nan  # 2 ln(L / L without memory): the trap test's statistic

    @property
    def transitions(self) -> float:
        return self.captures + self.emissions

    @property
    def resolved(self) -> bool:
        """Whether the trap keeps its state from one sample to the next: the likelihood
        ratio against the same levels without memory (independent readings) exceeds
        ``MEMORY_LR`` (chi^2, 1 dof, p = 0.001) when it was computed, else memory >= 0.05.
        Without memory a 'trap' is only a non-Gaussian shape of white noise: the HMM cannot
        tell it from one, nor time it."""
        if math.isfinite(self.memory_lr):
            return self.memory > 0 and self.memory_lr >= MEMORY_LR
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
        self.warnings: list[str] = []
        self._scale = 1.0
        self._var_floor = 0.0

    def _set_var_floor(self, st) -> None:
        """Smallest read-noise variance a fit may reach: ``VAR_FLOOR`` x the trace's variance.
        Without it a level can collapse onto a few readings (variance -> 0, the likelihood
        unbounded) or an extrapolated EM step can underflow exp(log variance) to 0."""
        self._var_floor = VAR_FLOOR * float(st.std) ** 2

    # ------------------------------------------------------------------ E-step
    def _fb(self, x, prior, prev, n_keep):
        if not (np.all(self.variances > 0) and np.all(np.isfinite(self.means))
                and np.all(np.isfinite(self.variances))):
            # a degenerate point (an over-long extrapolated EM step): the caller rejects it
            raise FloatingPointError("degenerate HMM parameters (zero or non-finite variance "
                                     "or level)")
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
        max_iter: int = 3000,
        tol: float = 1e-8,
        lookahead: int = DEFAULT_LOOKAHEAD,
        warm_start: bool = False,
        errors: bool = True,
        ptol: float = 1e-5,
    ):
        """Baum-Welch (SQUAREM-accelerated, :func:`ftjlab.rtn.em.run_em`) until the
        log-likelihood gains less than ``tol`` per sample and the parameters move by less than
        ``ptol`` (levels in read-noise sigmas, logits of the transition probabilities) in one
        cycle; ``max_iter`` E-steps at most, after which ``converged`` is False and
        ``warnings`` says so.

        ``trace``: a :class:`~ftjlab.rtn.source.Trace` or a 1-D array (then ``interval_s``
        gives the sampling interval; default 1, i.e. times in samples). ``warm_start``:
        continue from the current parameters (a model fitted before) instead of
        re-initialising from several starts. ``errors``: confidence intervals (observed
        information; batch means added on long traces); off for quick screening fits."""
        tr = as_trace(trace, interval_s or 1.0)
        if interval_s is not None and isinstance(trace, Trace):
            tr.interval_s = float(interval_s)
        st = tr.check(min_samples=max(MIN_FIT_SAMPLES, 10 * self.n_states))
        self.interval_s = tr.interval_s
        self.n_samples = st.n
        self.warnings = []
        self._set_var_floor(st)
        if not (warm_start and self.n_iter > 0):
            self._initialise(tr, st)
            self.history = []
            self.n_iter = 0
        self._scale = float(np.sqrt(np.mean(self.variances)))
        res, s = em.run_em(
            lambda: self._estep(tr, lookahead), self._mstep, self._theta, self._set_theta,
            st.n, max_iter=max_iter, tol=tol, ptol=ptol, history=self.history,
        )  # fmt: skip
        self.n_iter += res.iterations
        self.converged = res.converged
        self.em_result = res
        if not res.converged:
            self.warnings.append(f"EM not converged: {res.reason}")
        self.loglik = float(s.loglik)
        self._last_stats = s
        self._tol = tol
        self._after_fit()
        self._jk_se = None
        self._oi_cov = None
        if errors:
            self._errors(tr, lookahead)
        return self

    def _after_fit(self) -> None:
        """Hook run after EM, before the batch-means errors (e.g. to order the levels)."""

    # ------------------------------------------------------------------ uncertainty
    def _estimates(self, jackknife: bool = True) -> list[TrapEstimate]:
        return []

    def _errors(self, tr: Trace, lookahead: int) -> None:
        """Observed-information covariance of the trap quantities (every length) and, on
        traces of >= 8 x 20,000 samples, batch-means standard errors
        (:mod:`ftjlab.rtn.information`)."""
        if self.n_states == 2:
            st = tr.stats()
            ll_mix, _ = em.mixture_loglik(tr.blocks, st.minimum, st.maximum)
            self.memory_lr = 2.0 * (self.loglik - ll_mix)
        self._oi_cov = info.observed_covariance(self, lambda: self._estep(tr, lookahead))
        if self._oi_cov is None and info.quantities(self) is not None:
            self.warnings.append("the observed information is not positive definite (a flat "
                                 "or degenerate likelihood): intervals from counted dwells, "
                                 "which assume the states are seen, are too narrow")
        self._jk_se = info.batch_means_se(self, tr, lookahead)

    def _apply_jackknife(self, est: list[TrapEstimate]) -> list[TrapEstimate]:
        return info.apply(est, getattr(self, "_oi_cov", None), getattr(self, "_jk_se", None))

    # ------------------------------------------------------------------ parameters
    def _theta(self) -> np.ndarray:
        raise NotImplementedError

    def _set_theta(self, theta: np.ndarray) -> None:
        raise NotImplementedError

    def _score_stats(self, s: _Stats) -> np.ndarray:
        raise NotImplementedError

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
        var = max(float(resid.var()), 1e-6 * st.std**2, self._var_floor)
        counts = np.zeros((k, k))
        np.add.at(counts, (lab[:-1], lab[1:]), 1.0)
        counts += 1.0
        self.means = centres.astype(np.float64)
        self.variances = np.full(k, var)
        self.trans = counts / counts.sum(axis=1, keepdims=True)
        occ = np.bincount(lab, minlength=k) + 1.0
        self.start = occ / occ.sum()
        if k == 2:
            self._best_start(sample, st)

    def _best_start(self, sample: np.ndarray, st, screen: int = 8) -> None:
        """Several two-level starts (k-means, moments, Gaussian mixture, percentiles; see
        :mod:`ftjlab.rtn.em`), each run for ``screen`` E-steps on a leading part of the
        trace; the one with the highest log-likelihood is kept."""
        head = sample[: min(sample.size, 50_000)]
        cands = [(self.means.copy(), self.variances.copy(), self.trans.copy(), "k-means")]
        for c in em.two_level_starts(head):
            t = np.array([[1 - c.p_up, c.p_up], [c.p_down, 1 - c.p_down]])
            cands.append((np.array([c.low, c.high]), np.full(2, max(c.var, 1e-6 * st.std**2)),
                          np.clip(t, 1e-6, 1 - 1e-6), c.source))
        best, best_ll = None, -math.inf
        tr = Trace(head, self.interval_s)
        for means, var, trans, source in cands:
            self.means, self.variances, self.trans = means, var, trans
            self.trans = self.trans / self.trans.sum(axis=1, keepdims=True)
            self.start = np.full(2, 0.5)
            self._scale = float(np.sqrt(np.mean(self.variances)))
            try:
                res, _ = em.run_em(lambda: self._estep(tr, DEFAULT_LOOKAHEAD), self._mstep,
                                   self._theta, self._set_theta, tr.n, max_iter=screen)
            except (ArithmeticError, ValueError, np.linalg.LinAlgError):
                continue
            if np.isfinite(res.loglik) and res.loglik > best_ll:
                best_ll = res.loglik
                best = (self.means.copy(), self.variances.copy(), self.trans.copy(),
                        self.start.copy(), source)
        if best is not None:
            self.means, self.variances, self.trans, self.start, self.start_source = best

    def _theta(self) -> np.ndarray:
        k = self.n_states
        with np.errstate(divide="ignore"):
            lt = np.log(np.maximum(self.trans, 1e-300))
        off = (lt - np.diag(lt)[:, None])[~np.eye(k, dtype=bool)]
        lv = np.log(self.variances[:1] if self.tied else self.variances)
        return np.concatenate([self.means / self._scale, lv, off])

    def _set_theta(self, theta: np.ndarray) -> None:
        k = self.n_states
        nv = 1 if self.tied else k
        self.means = theta[:k] * self._scale
        with np.errstate(over="ignore"):  # inf variance: rejected by _fb
            var = np.maximum(np.exp(theta[k : k + nv]), self._var_floor)
        self.variances = np.broadcast_to(var, (k,)).copy()
        lt = np.zeros((k, k))
        lt[~np.eye(k, dtype=bool)] = theta[k + nv :]
        lt -= lt.max(axis=1, keepdims=True)
        t = np.exp(lt)
        self.trans = t / t.sum(axis=1, keepdims=True)

    def _score_stats(self, s: _Stats) -> np.ndarray:
        k = self.n_states
        ss = s.x2 - 2 * self.means * s.x + self.means**2 * s.g
        d_mu = self._scale * (s.x - self.means * s.g) / self.variances
        d_lv = -s.g / 2 + ss / (2 * self.variances)
        d_lv = np.array([d_lv.sum()]) if self.tied else d_lv
        rows = s.xi.sum(axis=1, keepdims=True)
        d_t = (s.xi - rows * self.trans)[~np.eye(k, dtype=bool)]
        return np.concatenate([d_mu, d_lv, d_t])

    def _mstep(self, s: _Stats) -> None:
        g = np.maximum(s.g, 1e-300)
        self.means = s.x / g
        ss = s.x2 - 2 * self.means * s.x + self.means**2 * s.g
        if self.tied:
            self.variances = np.full(self.n_states,
                                     max(ss.sum() / s.g.sum(), self._var_floor, 1e-300))
        else:
            self.variances = np.maximum(ss / g, max(self._var_floor, 1e-300))
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
        lr = getattr(self, "memory_lr", math.nan)
        if memory <= 0 or lr < MEMORY_LR:
            raise BadInput(
                f"trace: the two-level fit has no memory from one sample to the next "
                f"(1 - P01 - P10 = {memory:.3f}; likelihood ratio against independent "
                f"readings {lr:.3g} < {MEMORY_LR}): no trap, or one much faster than the "
                f"{self.interval_s:.3g} s sampling interval; its time constants cannot be "
                "measured at this sampling"
            )
        est = _trap_estimate(
            p01=self.trans[e, f], p10=self.trans[f, e], dt=self.interval_s,
            captures=s.xi[e, f], emissions=s.xi[f, e],
            amplitude=self.means[f] - self.means[e],
            n_filled=s.g[f], n_empty=s.g[e], sigma=self.noise_sigma, n=self.n_samples,
        )  # fmt: skip
        est.memory_lr = float(getattr(self, "memory_lr", math.nan))
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


def __getattr__(name: str):
    # the exact aperture model lives in its own module, which builds on this one
    if name == "ApertureHMM":
        from .aperture import ApertureHMM

        return ApertureHMM
    raise AttributeError(name)
