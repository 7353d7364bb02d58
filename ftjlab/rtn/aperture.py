"""One trap read through apertures: the exact likelihood for apertures up to a few tau.

Each reading averages the current over an aperture ``a`` at the start of every interval
``dt``: x = level_empty + dI U + noise, where U is the fraction of the aperture the trap
spent filled. Given the trap state at the aperture's start (i) and end (j), U has atoms at 0
or 1 (no flip; probability exp(-rate a)) and a continuous part from any number of flips. With
l0 = 1/tau_c (leaving empty), l1 = 1/tau_e and s = U a, z = l0 l1 s (a - s), the joint
densities of (end state, s) are (alternating exponential dwells summed over the number of
flips):

* 0 -> 0: e^{-l0 (a-s) - l1 s} sqrt(l0 l1 (a-s)/s) I1(2 sqrt z)
* 0 -> 1: l0 e^{-l0 (a-s) - l1 s} I0(2 sqrt z)
* 1 -> 0: l1 e^{-l0 (a-s) - l1 s} I0(2 sqrt z)
* 1 -> 1: e^{-l0 (a-s) - l1 s} sqrt(l0 l1 s/(a-s)) I1(2 sqrt z)

(I0, I1: modified Bessel functions). U is binned finely (bins narrower than the read noise
over the amplitude) and each bin's Gaussian-blurred uniform density is exact, so the
emission of a reading given (i, j) is exact up to the binning of U. The hidden chain is the
end-of-aperture state; between apertures the trap evolves over the gap dt - a by the exact
two-state transition matrix. The log-likelihood is maximised directly (BFGS over levels, log
noise variance and log rates, from a two-level HMM fit) and its numerical Hessian gives the
observed information for the intervals.
"""

from __future__ import annotations

import math

import numpy as np
from scipy import optimize, special

from ftjlab.errors import BadInput

from . import _kernels as kern
from . import em
from . import information as info
from .factorial import _chain
from .hmm import MIN_FIT_SAMPLES, GaussianHMM, TrapEstimate, _trap_estimate
from .source import Trace, as_trace

__all__ = ["ApertureHMM", "filled_fraction_masses"]

_GL_X, _GL_W = np.polynomial.legendre.leggauss(6)


def filled_fraction_masses(
    lc: float, le: float, aperture: float, bins: int
) -> tuple[np.ndarray, np.ndarray]:
    """(atoms (2,), masses (2, 2, bins)): atoms[i] = P(no flip in the aperture | start i);
    masses[i, j, k] = P(end j, filled fraction in bin k, at least one flip | start i), bins
    of equal width over [0, 1] (module text; Gauss-Legendre over each bin)."""
    edges = np.linspace(0.0, 1.0, bins + 1)
    half = 0.5 * (edges[1] - edges[0])
    u = (0.5 * (edges[1:] + edges[:-1]))[:, None] + half * _GL_X[None, :]  # (bins, nodes)
    s = u * aperture
    r = aperture - s
    z = lc * le * s * r
    y = 2.0 * np.sqrt(z)
    expo = -lc * r - le * s + y  # ive(nu, y) = I(nu, y) exp(-y)
    e = np.exp(expo)
    i0 = special.ive(0, y) * e
    i1 = special.ive(1, y) * e
    f00 = np.sqrt(lc * le * r / s) * i1
    f11 = np.sqrt(lc * le * s / r) * i1
    f01 = lc * i0
    f10 = le * i0
    w = _GL_W[None, :] * half * aperture  # ds = a du
    masses = np.empty((2, 2, bins))
    for (i, j), f in (((0, 0), f00), ((0, 1), f01), ((1, 0), f10), ((1, 1), f11)):
        masses[i, j] = np.sum(f * w, axis=1)
    atoms = np.array([math.exp(-lc * aperture), math.exp(-le * aperture)])
    return atoms, masses


class ApertureHMM:
    """One trap read through apertures of ``aperture_fraction`` x the interval (exact
    likelihood, see the module text). ``filled``: which level is the filled trap ('low':
    filling lowers the current, as in the FTJ model).

    Attributes after :meth:`fit`: ``mu_e``, ``mu_f`` (levels), ``var`` (read-noise
    variance), ``lc``, ``le`` (capture and emission rates, 1/s), ``loglik``, ``converged``,
    ``n_iter`` (likelihood evaluations), ``warnings``."""

    n_traps = 1

    def __init__(self, aperture_fraction: float, filled: str = "low", engine: str | None = None):
        if not 0 < aperture_fraction <= 1:
            raise BadInput(
                f"aperture: must be within (0, 1] of the interval, got {aperture_fraction!r}"
            )
        if filled not in ("low", "high"):
            raise BadInput(f"filled: 'low' or 'high', got {filled!r}")
        self.aperture_fraction = float(aperture_fraction)
        self.filled = filled
        self.engine = engine
        self.n_iter = 0
        self.converged = False
        self.loglik = -math.inf
        self.warnings: list[str] = []
        self.n_samples = 0
        self.interval_s = 1.0
        self._cov = None

    # ------------------------------------------------------------------ likelihood
    def _bins(self, mu_e: float, mu_f: float, var: float) -> int:
        return int(np.clip(math.ceil(1.5 * abs(mu_f - mu_e) / math.sqrt(var)), 3, 24))

    def _loglik(
        self, x: np.ndarray, mu_e: float, mu_f: float, var: float, lc: float, le: float, bins: int
    ) -> float:
        dt = self.interval_s
        a = self.aperture_fraction * dt
        atoms, masses = filled_fraction_masses(lc, le, a, bins)
        gap = _chain(lc, le, dt - a) if dt - a > 0 else np.eye(2)
        occ = lc / (lc + le)
        prior = np.array([1 - occ, occ])
        return float(
            kern.aperture_loglik(x, mu_e, mu_f - mu_e, math.sqrt(var), gap, masses, atoms, prior)
        )

    def _unpack(self, th: np.ndarray) -> tuple[float, float, float, float, float]:
        sc, dt = self._scale, self.interval_s
        return (
            th[0] * sc + self._offset,
            th[1] * sc + self._offset,
            math.exp(th[2]) * sc**2,
            math.exp(th[3]) / dt,
            math.exp(th[4]) / dt,
        )

    def _pack(self) -> np.ndarray:
        sc, dt = self._scale, self.interval_s
        return np.array(
            [
                (self.mu_e - self._offset) / sc,
                (self.mu_f - self._offset) / sc,
                math.log(self.var / sc**2),
                math.log(self.lc * dt),
                math.log(self.le * dt),
            ]
        )

    def _nll(self, th: np.ndarray, x: np.ndarray, bins: int) -> float:
        self.n_iter += 1
        try:
            ll = self._loglik(x, *self._unpack(th), bins)
        except (OverflowError, ValueError, FloatingPointError):
            return math.inf
        return -ll if math.isfinite(ll) else math.inf

    # ------------------------------------------------------------------ fitting
    def fit(
        self,
        trace,
        interval_s: float | None = None,
        max_iter: int = 200,
        tol: float = 1e-9,
        errors: bool = True,
        **_ignored,
    ):
        """Maximise the exact likelihood (BFGS with central-difference gradients), from a
        two-level HMM fit of the same readings. ``max_iter``: BFGS iterations at most (not
        converged -> a warning). ``tol``: gradient norm per sample at which BFGS stops."""
        tr = as_trace(trace, interval_s or 1.0)
        if interval_s is not None and isinstance(trace, Trace):
            tr.interval_s = float(interval_s)
        st = tr.check(min_samples=MIN_FIT_SAMPLES)
        self.interval_s = tr.interval_s
        self.n_samples = st.n
        self.warnings = []
        self.n_iter = 0
        x = tr.read()
        g = GaussianHMM(2, engine=self.engine).fit(x, tr.interval_s, errors=False)
        f = 0 if self.filled == "low" else 1
        self.mu_f, self.mu_e = float(g.means[f]), float(g.means[1 - f])
        self.var = float(g.variances.mean())
        p01, p10 = float(g.trans[1 - f, f]), float(g.trans[f, 1 - f])
        s = p01 + p10
        if 0 < s < 1:
            lam = -math.log1p(-s) / tr.interval_s
            self.lc, self.le = lam * p01 / s, lam * p10 / s
        else:
            self.lc = self.le = 1.0 / tr.interval_s
        self._scale = math.sqrt(self.var)
        self._offset = self.mu_e
        bins = self._bins(self.mu_e, self.mu_f, self.var)
        self._bins_used = bins
        th0 = self._pack()

        def grad(th: np.ndarray, xs: np.ndarray, b: int) -> np.ndarray:
            h = 1e-5
            out = np.empty(th.size)
            for i in range(th.size):
                d = np.zeros(th.size)
                d[i] = h
                out[i] = (self._nll(th + d, xs, b) - self._nll(th - d, xs, b)) / (2 * h)
            return out

        # first on a leading fifth (cheap, lands near the optimum), then on everything with
        # the curvature learnt there
        opts: dict = {"maxiter": max_iter, "gtol": 1e-2}
        if x.size >= 50_000:
            part = x[: x.size // 5]
            r1 = optimize.minimize(
                self._nll,
                th0,
                args=(part, bins),
                jac=grad,
                method="BFGS",
                options={"maxiter": max_iter, "gtol": 1e-1},
            )
            if np.all(np.isfinite(r1.x)):
                th0 = r1.x
                hi = 0.5 * (r1.hess_inv + r1.hess_inv.T) * part.size / x.size
                if np.all(np.isfinite(hi)) and np.linalg.eigvalsh(hi).min() > 0:
                    opts["hess_inv0"] = hi
        res = optimize.minimize(
            self._nll, th0, args=(x, bins), jac=grad, method="BFGS", options=opts
        )
        self.mu_e, self.mu_f, self.var, self.lc, self.le = self._unpack(res.x)
        self.loglik = -float(res.fun)
        self.converged = bool(res.success) or bool(np.max(np.abs(res.jac)) < 1e-2)
        if not self.converged:
            self.warnings.append(
                f"aperture-model fit not converged after {res.nit} BFGS "
                f"iterations ({res.message}); largest gradient "
                f"{np.max(np.abs(res.jac)):.3g}"
            )
        self._theta_hat = res.x
        self._cov = self._covariance(res.x, x, bins) if errors else None
        ll_mix, _ = em.mixture_loglik(lambda: iter([x]), st.minimum, st.maximum)
        self.memory_lr = 2.0 * (self.loglik - ll_mix)
        if errors and self._cov is None:
            self.warnings.append(
                "the observed information of the aperture model is not "
                "positive definite: intervals from counted transitions"
            )
        return self

    def _covariance(
        self, th: np.ndarray, x: np.ndarray, bins: int, h: float = 2e-3
    ) -> np.ndarray | None:
        """Covariance of (log tau_c, log tau_e, amplitude, occupancy) from the numerical
        Hessian of the log-likelihood (central differences in the packed parameters)."""
        p = th.size
        f0 = self._nll(th, x, bins)
        hess = np.zeros((p, p))
        e = np.eye(p) * h
        for i in range(p):
            for j in range(i, p):
                if i == j:
                    hess[i, i] = (
                        self._nll(th + e[i], x, bins) - 2 * f0 + self._nll(th - e[i], x, bins)
                    ) / h**2
                else:
                    hess[i, j] = hess[j, i] = (
                        self._nll(th + e[i] + e[j], x, bins)
                        - self._nll(th + e[i] - e[j], x, bins)
                        - self._nll(th - e[i] + e[j], x, bins)
                        + self._nll(th - e[i] - e[j], x, bins)
                    ) / (4 * h * h)
        w, v = np.linalg.eigh(hess)
        if not np.all(np.isfinite(w)) or w.min() <= 0:
            return None
        cov_th = (v / w) @ v.T
        sc = self._scale
        lc, le = math.exp(th[3]), math.exp(th[4])
        jac = np.zeros((4, p))
        jac[0, 3] = -1.0  # log tau_c = -log lc + const
        jac[1, 4] = -1.0
        jac[2, 0], jac[2, 1] = -sc, sc  # amplitude = mu_f - mu_e
        occ = lc / (lc + le)  # filled fraction; d occ / d log lc = occ (1 - occ)
        jac[3, 3], jac[3, 4] = occ * (1 - occ), -occ * (1 - occ)
        return jac @ cov_th @ jac.T

    # ------------------------------------------------------------------ results
    @property
    def n_parameters(self) -> int:
        return 5

    @property
    def base(self) -> float:
        return float(self.mu_e)

    @property
    def variances(self) -> np.ndarray:
        return np.full(2, self.var)

    @property
    def means(self) -> np.ndarray:
        return np.array([self.mu_e, self.mu_f])

    def bic(self) -> float:
        if self.n_iter == 0:
            raise BadInput("model: fit it to a trace first")
        return -2.0 * self.loglik + self.n_parameters * math.log(self.n_samples)

    def traps(self, jackknife: bool = True) -> list[TrapEstimate]:
        if self.n_iter == 0:
            raise BadInput("model: fit it to a trace first")
        dt = self.interval_s
        p = _chain(self.lc, self.le, dt)
        occ = self.lc / (self.lc + self.le)
        t_total = self.n_samples * dt
        flips = t_total / (1 / self.lc + 1 / self.le)
        est = [_trap_estimate(
            p01=p[0, 1], p10=p[1, 0], dt=dt, captures=flips, emissions=flips,
            amplitude=self.mu_f - self.mu_e, n_filled=occ * self.n_samples,
            n_empty=(1 - occ) * self.n_samples, sigma=math.sqrt(self.var), n=self.n_samples,
        )]  # fmt: skip
        est[0].memory_lr = float(getattr(self, "memory_lr", math.nan))
        return info.apply(est, self._cov, None) if jackknife else est

    def decode_blocks(self, *args, **kwargs):
        raise BadInput(
            "decode: not available for the aperture model; fit a GaussianHMM(2) for a level path"
        )
