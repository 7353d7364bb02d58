"""Power spectrum with a Lorentzian fit, autocorrelation and time-lag plots of RTN traces,
each computed in one streaming pass over a :class:`~ftjlab.rtn.source.Trace`.

A two-level trap gives S(f) = 4 dI^2 tau*^2 / ((tau_c + tau_e)(1 + (2 pi f tau*)^2)) with
1/tau* = 1/tau_c + 1/tau_e (one-sided, A^2/Hz), plus a white read-noise floor;
:func:`fit_lorentzian` returns S0, the corner f_c = 1/(2 pi tau*) and the floor with standard
errors. The autocorrelation of the same trap is exp(-t/tau*).

Sampled traces (:func:`fit_sampled_lorentzians`): readings every dt of a trap see the
autocovariance B rho^|k| at lags k >= 1, rho = exp(-dt/tau*), whose discrete-time spectrum is
2 dt B (1 - rho^2) / (1 - 2 rho cos(2 pi f dt) + rho^2): the continuous Lorentzian with every
alias folded in. A reading averaged over an aperture a <= dt keeps that form at lags >= 1
(B scaled by 2 (tau*/a)^2 (cosh(a/tau*) - 1)) and only changes the lag-0 variance, which
goes into the white term. So the sampled, aperture-filtered Lorentzian is exact at any
corner frequency up to Nyquist; fitting the continuous one there biases tau* by several %.
Several traps: a sum of such terms.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import optimize, signal

from ftjlab.errors import BadInput

from .source import as_trace

__all__ = [
    "Lorentzian",
    "autocorrelation",
    "expected_lorentzian",
    "fit_lorentzian",
    "fit_sampled_lorentzians",
    "lorentzian",
    "psd",
    "time_lag_plot",
]


def psd(trace, interval_s: float = 1.0, segment: int = 4096) -> tuple[np.ndarray, np.ndarray]:
    """One-sided Welch power spectral density (A^2/Hz): Hann windows of ``segment`` samples,
    50 % overlap, averaged over the whole trace block by block. Returns (f in Hz, S)."""
    tr = as_trace(trace, interval_s)
    tr.check(min_samples=2 * segment)
    fs = 1.0 / tr.interval_s
    step = segment // 2
    acc = np.zeros(segment // 2 + 1)
    count = 0
    carry = np.empty(0)
    mean = tr.stats().mean
    win = signal.windows.hann(segment, sym=False)
    scale = 1.0 / (fs * np.sum(win**2))
    for blk in tr.blocks():
        data = np.concatenate([carry, blk - mean])
        n_seg = (data.size - segment) // step + 1 if data.size >= segment else 0
        if n_seg > 0:
            idx = np.arange(n_seg)[:, None] * step + np.arange(segment)[None, :]
            spec = np.fft.rfft(data[idx] * win, axis=1)
            acc += np.sum(np.abs(spec) ** 2, axis=0)
            count += n_seg
            carry = data[n_seg * step :]
        else:
            carry = data
    s = acc * scale / count
    s[1:-1] *= 2  # one-sided
    f = np.fft.rfftfreq(segment, tr.interval_s)
    return f, s


def lorentzian(f, s0, fc, white):
    """S0 / (1 + (f / fc)^2) + white."""
    return s0 / (1.0 + (np.asarray(f) / fc) ** 2) + white


@dataclass
class Lorentzian:
    """Fitted spectrum: plateau ``s0_a2_hz``, corner ``fc_hz``, white floor, and errors."""

    s0_a2_hz: float
    fc_hz: float
    white_a2_hz: float
    s0_se: float
    fc_se: float
    white_se: float

    @property
    def tau_star_s(self) -> float:
        """tau* = 1 / (2 pi f_c) = 1 / (1/tau_c + 1/tau_e)."""
        return 1.0 / (2 * math.pi * self.fc_hz)

    @property
    def tau_star_se_s(self) -> float:
        return self.tau_star_s * self.fc_se / self.fc_hz

    def as_dict(self) -> dict:
        return {**self.__dict__, "tau_star_s": self.tau_star_s,
                "tau_star_se_s": self.tau_star_se_s}


def fit_lorentzian(f: np.ndarray, s: np.ndarray, f_min: float | None = None) -> Lorentzian:
    """Least-squares fit of :func:`lorentzian` to a Welch spectrum in log space (each point
    weighted equally in log S, which is what a Welch estimate's errors are like)."""
    f = np.asarray(f, dtype=np.float64)
    s = np.asarray(s, dtype=np.float64)
    keep = (f > (f_min if f_min is not None else f[1] if f.size > 1 else 0)) & (s > 0)
    f, s = f[keep], s[keep]
    if f.size < 5:
        raise BadInput("spectrum: fewer than 5 usable frequencies for a Lorentzian fit")
    white0 = float(np.median(s[-max(3, f.size // 20) :]))
    s00 = float(np.median(s[: max(3, f.size // 50)]))
    half = np.flatnonzero(s - white0 < (s00 - white0) / 2)
    fc0 = float(f[half[0]]) if half.size else float(f[f.size // 2])
    p0 = np.log([max(s00 - white0, s00 * 1e-3), fc0, max(white0, s00 * 1e-9)])

    def resid(p):
        return np.log(lorentzian(f, *np.exp(p))) - np.log(s)

    r = optimize.least_squares(resid, p0, method="lm", x_scale="jac")
    p = np.exp(r.x)
    dof = max(f.size - 3, 1)
    s2 = float(np.sum(r.fun**2) / dof)
    try:
        cov = np.linalg.inv(r.jac.T @ r.jac) * s2
        se = p * np.sqrt(np.maximum(np.diag(cov), 0))  # d exp(q) = exp(q) dq
    except np.linalg.LinAlgError:
        se = np.full(3, np.nan)
    return Lorentzian(float(p[0]), float(p[1]), float(p[2]), *map(float, se))


def autocorrelation(trace, max_lag: int, interval_s: float = 1.0) -> np.ndarray:
    """Normalised autocorrelation rho(0..max_lag) of the whole trace, streamed: each block is
    correlated with itself plus the first ``max_lag`` samples of the next one."""
    tr = as_trace(trace, interval_s)
    st = tr.check(min_samples=max(2 * max_lag, 10))
    if max_lag < 1:
        raise BadInput(f"max_lag: must be >= 1, got {max_lag}")
    acc = np.zeros(max_lag + 1)
    for blk, ahead in tr.blocks_with_lookahead(tr.block, max_lag):
        a = blk - st.mean
        full = np.concatenate([a, ahead - st.mean]) if ahead.size else a
        m = 1 << math.ceil(math.log2(full.size + max_lag + 1))
        fa = np.fft.rfft(a, m)
        ff = np.fft.rfft(full, m)
        c = np.fft.irfft(np.conj(fa) * ff, m)[: max_lag + 1]  # sum_t a_t full_{t+k}, t < n
        acc += c
    return acc / acc[0]


def time_lag_plot(trace, bins: int = 100, lag: int = 1, interval_s: float = 1.0,
                  smooth: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """Time-lag plot: 2-D histogram of (x_t, x_{t+lag}) over the whole trace (streamed).
    With ``smooth`` > 0 (in units of the read-noise scale, bins) each count is spread by a
    Gaussian kernel: the weighted TLP of Martin-Martinez et al. (EDL 2014), whose diagonal
    peaks are the levels. Returns (counts (bins, bins), bin edges)."""
    tr = as_trace(trace, interval_s)
    st = tr.check(min_samples=lag + 10)
    pad = 1e-9 * (st.maximum - st.minimum)
    edges = np.linspace(st.minimum - pad, st.maximum + pad, bins + 1)
    h = np.zeros((bins, bins))
    for blk, ahead in tr.blocks_with_lookahead(tr.block, lag):
        full = np.concatenate([blk, ahead]) if ahead.size else blk
        a, b = full[: full.size - lag], full[lag:]
        a, b = a[: blk.size], b[: blk.size]
        h += np.histogram2d(a, b, [edges, edges])[0]
    if smooth > 0:
        from scipy.ndimage import gaussian_filter

        h = gaussian_filter(h, smooth)
    return h, edges


def expected_lorentzian(tau_c_s: float, tau_e_s: float,
                        amplitude_a: float) -> tuple[float, float]:
    """(S0 in A^2/Hz, f_c in Hz) of one trap: S0 = 4 dI^2 tau*^2 / (tau_c + tau_e)."""
    tau_star = 1.0 / (1.0 / tau_c_s + 1.0 / tau_e_s)
    return 4 * amplitude_a**2 * tau_star**2 / (tau_c_s + tau_e_s), 1 / (2 * math.pi * tau_star)



def sampled_lorentzians(f, interval_s: float, s0s, tau_stars, white):
    """Sum over traps of the sampled Lorentzian (module text) with plateau excesses ``s0s``
    (S(0) above the floor, A^2/Hz) and ``tau_stars`` (s), plus the floor ``white``."""
    f = np.asarray(f, dtype=np.float64)
    out = np.full(f.shape, float(white))
    c = np.cos(2 * math.pi * f * interval_s)
    for s0, ts in zip(s0s, tau_stars, strict=True):
        rho = math.exp(-interval_s / ts)
        # 2 dt B (1 - rho^2)/(1 - 2 rho c + rho^2), with S(0) excess s0 = 2 dt B (1+rho)/(1-rho)
        out += s0 * (1 - rho) ** 2 / (1 - 2 * rho * c + rho**2)
    return out


def fit_sampled_lorentzians(f: np.ndarray, s: np.ndarray, interval_s: float,
                            tau_star_guess_s: list[float] | None = None,
                            n_components: int = 1) -> list[Lorentzian]:
    """Fit of :func:`sampled_lorentzians` (``n_components`` traps, or one per start value
    in ``tau_star_guess_s``) to a Welch spectrum, in log space. The zero and Nyquist bins
    are left out. Returns one :class:`Lorentzian` per trap (sharing the floor), by
    increasing corner frequency."""
    f = np.asarray(f, dtype=np.float64)
    s = np.asarray(s, dtype=np.float64)
    keep = (f > 0) & (f < 0.5 / interval_s * (1 - 1e-9)) & (s > 0)
    f, s = f[keep], s[keep]
    k = len(tau_star_guess_s) if tau_star_guess_s else int(n_components)
    if f.size < 2 * k + 4:
        raise BadInput("spectrum: too few usable frequencies for the Lorentzian fit")
    white0 = float(np.median(s[-max(3, f.size // 20):]))
    s00 = float(np.median(s[: max(3, f.size // 50)]))
    if tau_star_guess_s:
        taus = list(tau_star_guess_s)
    else:
        half = np.flatnonzero(s - white0 < (s00 - white0) / 2)
        fc0 = float(f[half[0]]) if half.size else float(f[f.size // 2])
        taus = [1 / (2 * math.pi * fc0) * 4.0**j for j in range(k)]
    # the floor is a free real number: averaging over an aperture moves variance from lag 0
    # into the exponential part, which can leave the fitted floor below the read noise's
    scale = max(white0, s00 * 1e-6)
    p0 = np.concatenate([np.log(np.full(k, max(s00 - white0, s00 * 1e-3) / k)),
                         np.log(taus), [white0 / scale]])
    lo_tau, hi_tau = math.log(interval_s / 50), math.log(interval_s * f.size * 40)

    def resid(p):
        s0s, ts = np.exp(p[:k]), np.exp(np.clip(p[k : 2 * k], lo_tau, hi_tau))
        model = sampled_lorentzians(f, interval_s, s0s, ts, p[-1] * scale)
        return np.log(np.maximum(model, 1e-300)) - np.log(s)

    r = optimize.least_squares(resid, p0, method="lm", x_scale="jac")
    dof = max(f.size - p0.size, 1)
    s2 = float(np.sum(r.fun**2) / dof)
    try:
        cov = np.linalg.inv(r.jac.T @ r.jac) * s2
        se_log = np.sqrt(np.maximum(np.diag(cov), 0))
    except np.linalg.LinAlgError:
        se_log = np.full(p0.size, np.nan)
    out = []
    white = float(r.x[-1] * scale)
    for j in range(k):
        ts = math.exp(min(max(r.x[k + j], lo_tau), hi_tau))  # as the model saw it
        fc = 1 / (2 * math.pi * ts)
        s0 = math.exp(r.x[j])
        out.append(Lorentzian(s0, fc, white, s0 * se_log[j], fc * se_log[k + j],
                              scale * se_log[-1]))
    return sorted(out, key=lambda lz: lz.fc_hz)
