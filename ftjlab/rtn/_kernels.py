"""Compiled inner loops of the hidden Markov models (numba), with numpy references.

The forward-backward and Viterbi recursions are sequential in time, so numpy can only run them
as a Python loop over samples. These kernels run them over a block of samples in one call;
:mod:`ftjlab.rtn.hmm` streams blocks through them. The numpy versions below are the reference
the tests compare against (on short traces). Set ``FTJLAB_NUMBA=0`` to use numpy only.
"""

from __future__ import annotations

import math
import os

import numpy as np

try:
    if os.environ.get("FTJLAB_NUMBA", "1") == "0":
        raise ImportError("disabled by FTJLAB_NUMBA=0")
    from numba import njit

    AVAILABLE = True
except ImportError:  # pragma: no cover - only without numba
    AVAILABLE = False

    def njit(*args, **kwargs):
        return (lambda f: f) if not args or not callable(args[0]) else args[0]


# The helpers below are inlined into the kernels at the numba IR level (inline="always"),
# so the compiled kernels are the same loops as when they were written out in each one.
@njit(cache=True, fastmath=True, inline="always")
def _normalise_predict(alpha, inv_c, pred, trans, t, s):
    """Forward step shared by the K-state kernels: scale ``alpha[t]`` (which sums to ``s``) to
    a distribution, store ``1 / s`` in ``inv_c[t]`` and the predicted distribution of the next
    sample in ``pred``. Returns ``s``, floored at 1e-300."""
    k = pred.size
    if s <= 1e-300:
        s = 1e-300
    inv = 1.0 / s
    inv_c[t] = inv
    for j in range(k):
        alpha[t, j] *= inv
    for j in range(k):
        a = 0.0
        for i in range(k):
            a += alpha[t, i] * trans[i, j]
        pred[j] = a
    return s


@njit(cache=True, fastmath=True, inline="always")
def _add_log_normaliser(loglik, prod, mx, s):
    """Adds ``mx + log(s)`` to ``loglik``: ``s`` goes into the running product ``prod`` of
    normalisers, which is folded into ``loglik`` before it underflows. Returns (loglik, prod)."""
    loglik += mx
    if s < 1e-100:
        loglik += math.log(s)
    else:
        prod *= s
        if prod < 1e-200:
            loglik += math.log(prod)
            prod = 1.0
    return loglik, prod


@njit(cache=True, fastmath=True, inline="always")
def _backward(x, b, alpha, inv_c, trans, prev_filtered, n_keep):
    """Backward pass shared by the K-state kernels: accumulates the sufficient statistics of
    samples ``0 .. n_keep-1`` from the filtered distributions ``alpha``, the scaled emission
    densities ``b`` and the inverse normalisers ``inv_c``. Returns (G, X, X2, XI, filtered at
    n_keep-1)."""
    t_len, k = b.shape
    beta = np.ones(k)
    w = np.empty(k)
    g = np.zeros(k)
    xs = np.zeros(k)
    x2 = np.zeros(k)
    xi = np.zeros((k, k))
    for t in range(t_len - 1, -1, -1):
        if t < n_keep:
            xt = x[t]
            for j in range(k):
                gam = alpha[t, j] * beta[j]
                g[j] += gam
                xs[j] += gam * xt
                x2[j] += gam * xt * xt
        for j in range(k):
            w[j] = b[t, j] * beta[j] * inv_c[t]
        if t > 0:
            keep = t < n_keep
            for i in range(k):
                ai = alpha[t - 1, i]
                s = 0.0
                for j in range(k):
                    v = trans[i, j] * w[j]
                    if keep:
                        xi[i, j] += ai * v
                    s += v
                beta[i] = s
        elif n_keep > 0:
            tot = 0.0
            for i in range(k):
                tot += prev_filtered[i]
            if tot > 0.0:
                for i in range(k):
                    for j in range(k):
                        xi[i, j] += prev_filtered[i] * trans[i, j] * w[j]
    last = np.zeros(k)
    if n_keep > 0:
        for j in range(k):
            last[j] = alpha[n_keep - 1, j]
    return g, xs, x2, xi, last


@njit(cache=True, fastmath=True)
def forward_backward(x, means, variances, trans, prior, prev_filtered, n_keep):
    """Scaled forward-backward over ``x`` (block followed by look-ahead samples).

    ``prior``: P(s_0 | earlier data) (start distribution for the first block, else the carried
    filtered distribution times ``trans``). ``prev_filtered``: filtered distribution at the
    sample before ``x`` (for the boundary transition; all zeros for the first block).
    Statistics and log-likelihood cover samples ``0 .. n_keep-1`` only; the look-ahead just
    sharpens their backward messages (beta = 1 at the end of the look-ahead).

    Returns (loglik, G, X, X2, XI, filtered_at_n_keep_minus_1).
    """
    t_len = x.size
    k = means.size
    b = np.empty((t_len, k))  # emission densities, each row scaled by exp(-max log density)
    alpha = np.empty((t_len, k))  # filtered distributions
    inv_c = np.empty(t_len)  # 1 / sum_j predicted_j * b_tj
    inv2v = np.empty(k)
    lnorm = np.empty(k)
    lrow = np.empty(k)
    pred = np.empty(k)
    for j in range(k):
        inv2v[j] = 0.5 / variances[j]
        lnorm[j] = -0.5 * math.log(2.0 * math.pi * variances[j])
        pred[j] = prior[j]
    loglik = 0.0
    prod = 1.0  # running product of normalisers, folded into loglik before it underflows
    for t in range(t_len):
        mx = -1e300
        arg = 0
        for j in range(k):
            d = x[t] - means[j]
            lrow[j] = lnorm[j] - d * d * inv2v[j]
            if lrow[j] > mx:
                mx = lrow[j]
                arg = j
        s = 0.0
        for j in range(k):
            bj = 1.0 if j == arg else math.exp(lrow[j] - mx)
            b[t, j] = bj
            a = pred[j] * bj
            alpha[t, j] = a
            s += a
        s = _normalise_predict(alpha, inv_c, pred, trans, t, s)
        if t < n_keep:
            loglik, prod = _add_log_normaliser(loglik, prod, mx, s)
    loglik += math.log(prod)
    g, xs, x2, xi, last = _backward(x, b, alpha, inv_c, trans, prev_filtered, n_keep)
    return loglik, g, xs, x2, xi, last


@njit(cache=True, fastmath=True)
def forward_backward2(x, means, variances, trans, prior, prev_filtered, n_keep):
    """:func:`forward_backward` unrolled for two states (the single-trap case), with the same
    arguments and results; about twice as fast."""
    t_len = x.size
    m0, m1 = means[0], means[1]
    i0, i1 = 0.5 / variances[0], 0.5 / variances[1]
    l0 = -0.5 * math.log(2.0 * math.pi * variances[0])
    l1 = -0.5 * math.log(2.0 * math.pi * variances[1])
    a00, a01, a10, a11 = trans[0, 0], trans[0, 1], trans[1, 0], trans[1, 1]
    b0 = np.empty(t_len)
    b1 = np.empty(t_len)
    f0 = np.empty(t_len)
    f1 = np.empty(t_len)
    inv_c = np.empty(t_len)
    p0, p1 = prior[0], prior[1]
    loglik = 0.0
    prod = 1.0
    for t in range(t_len):
        d0 = x[t] - m0
        d1 = x[t] - m1
        g0 = l0 - d0 * d0 * i0
        g1 = l1 - d1 * d1 * i1
        if g0 >= g1:
            mx = g0
            e0 = 1.0
            e1 = math.exp(g1 - g0)
        else:
            mx = g1
            e0 = math.exp(g0 - g1)
            e1 = 1.0
        b0[t] = e0
        b1[t] = e1
        u0 = p0 * e0
        u1 = p1 * e1
        s = u0 + u1
        if s <= 1e-300:
            s = 1e-300
        inv = 1.0 / s
        inv_c[t] = inv
        u0 *= inv
        u1 *= inv
        f0[t] = u0
        f1[t] = u1
        p0 = u0 * a00 + u1 * a10
        p1 = u0 * a01 + u1 * a11
        if t < n_keep:
            loglik, prod = _add_log_normaliser(loglik, prod, mx, s)
    loglik += math.log(prod)
    be0 = 1.0
    be1 = 1.0
    g0s = g1s = x0s = x1s = q0s = q1s = 0.0
    x00 = x01 = x10 = x11 = 0.0
    for t in range(t_len - 1, -1, -1):
        if t < n_keep:
            xt = x[t]
            ga0 = f0[t] * be0
            ga1 = f1[t] * be1
            g0s += ga0
            g1s += ga1
            x0s += ga0 * xt
            x1s += ga1 * xt
            q0s += ga0 * xt * xt
            q1s += ga1 * xt * xt
        w0 = b0[t] * be0 * inv_c[t]
        w1 = b1[t] * be1 * inv_c[t]
        if t > 0:
            v00 = a00 * w0
            v01 = a01 * w1
            v10 = a10 * w0
            v11 = a11 * w1
            if t < n_keep:
                h0 = f0[t - 1]
                h1 = f1[t - 1]
                x00 += h0 * v00
                x01 += h0 * v01
                x10 += h1 * v10
                x11 += h1 * v11
            be0 = v00 + v01
            be1 = v10 + v11
        elif n_keep > 0 and prev_filtered[0] + prev_filtered[1] > 0.0:
            x00 += prev_filtered[0] * a00 * w0
            x01 += prev_filtered[0] * a01 * w1
            x10 += prev_filtered[1] * a10 * w0
            x11 += prev_filtered[1] * a11 * w1
    g = np.array([g0s, g1s])
    xs = np.array([x0s, x1s])
    x2 = np.array([q0s, q1s])
    xi = np.array([[x00, x01], [x10, x11]])
    last = np.zeros(2)
    if n_keep > 0:
        last[0] = f0[n_keep - 1]
        last[1] = f1[n_keep - 1]
    return loglik, g, xs, x2, xi, last


@njit(cache=True, fastmath=True)
def forward_backward_emissions(b, x, trans, prior, prev_filtered, n_keep):
    """:func:`forward_backward` with the emission densities given: ``b`` (T, K), each row
    scaled by its own factor (the caller adds the log factors to the log-likelihood).
    Returns (sum of log normalisers over 0..n_keep-1, G, X, X2, XI, filtered at n_keep-1)."""
    t_len, k = b.shape
    alpha = np.empty((t_len, k))
    inv_c = np.empty(t_len)
    pred = np.empty(k)
    for j in range(k):
        pred[j] = prior[j]
    loglik = 0.0
    for t in range(t_len):
        s = 0.0
        for j in range(k):
            a = pred[j] * b[t, j]
            alpha[t, j] = a
            s += a
        s = _normalise_predict(alpha, inv_c, pred, trans, t, s)
        if t < n_keep:
            loglik += math.log(s)
    g, xs, x2, xi, last = _backward(x, b, alpha, inv_c, trans, prev_filtered, n_keep)
    return loglik, g, xs, x2, xi, last


@njit(cache=True, fastmath=True)
def aperture_loglik(x, mu_e, delta, sigma, gap, masses, atoms, prior):
    """Log-likelihood of readings averaged over apertures (:mod:`ftjlab.rtn.aperture`).

    Hidden chain: the trap state at each aperture's end; ``gap`` (2 x 2) moves it to the next
    aperture's start. A reading given (start i, end j) is mu_e + delta U + N(0, sigma^2) with
    U = 0 or 1 when the trap does not flip (probability ``atoms[i]``, only i = j) and U
    uniform within bin k of [0, 1] with probability ``masses[i, j, k]`` otherwise.
    ``prior``: distribution of the state before the first gap."""
    n = x.size
    q = masses.shape[2]
    width = abs(delta) / q
    inv = 1.0 / (sigma * math.sqrt(2.0))
    lnorm = 1.0 / (sigma * math.sqrt(2.0 * math.pi))
    cdf = np.empty(q + 1)
    p0 = prior[0]
    p1 = prior[1]
    loglik = 0.0
    for t in range(n):
        xt = x[t]
        for k in range(q + 1):
            z = (mu_e + delta * k / q - xt) * inv
            if z > 6.0:
                cdf[k] = 0.0
            elif z < -6.0:
                cdf[k] = 1.0
            else:
                cdf[k] = 0.5 * math.erfc(z)
        a00 = 0.0
        a01 = 0.0
        a10 = 0.0
        a11 = 0.0
        for k in range(q):
            d = abs(cdf[k + 1] - cdf[k]) / width
            a00 += masses[0, 0, k] * d
            a01 += masses[0, 1, k] * d
            a10 += masses[1, 0, k] * d
            a11 += masses[1, 1, k] * d
        d0 = xt - mu_e
        d1 = xt - mu_e - delta
        e0 = atoms[0] * lnorm * math.exp(-d0 * d0 * inv * inv)
        e1 = atoms[1] * lnorm * math.exp(-d1 * d1 * inv * inv)
        s0 = p0 * gap[0, 0] + p1 * gap[1, 0]
        s1 = p0 * gap[0, 1] + p1 * gap[1, 1]
        f0 = s0 * (e0 + a00) + s1 * a10
        f1 = s0 * a01 + s1 * (e1 + a11)
        c = f0 + f1
        if c < 1e-300:
            c = 1e-300
        loglik += math.log(c)
        p0 = f0 / c
        p1 = f1 / c
    return loglik


@njit(cache=True)
def viterbi(x, means, variances, log_trans, log_prior):
    """Most likely state path of ``x`` given the log prior of its first state."""
    t_len = x.size
    k = means.size
    back = np.empty((t_len, k), dtype=np.int8)
    delta = np.empty(k)
    nd = np.empty(k)
    inv2v = np.empty(k)
    lnorm = np.empty(k)
    for j in range(k):
        inv2v[j] = 0.5 / variances[j]
        lnorm[j] = -0.5 * math.log(2.0 * math.pi * variances[j])
    for j in range(k):
        d = x[0] - means[j]
        delta[j] = log_prior[j] + lnorm[j] - d * d * inv2v[j]
        back[0, j] = j
    for t in range(1, t_len):
        for j in range(k):
            best = -1e300
            arg = 0
            for i in range(k):
                v = delta[i] + log_trans[i, j]
                if v > best:
                    best = v
                    arg = i
            d = x[t] - means[j]
            nd[j] = best + lnorm[j] - d * d * inv2v[j]
            back[t, j] = arg
        for j in range(k):
            delta[j] = nd[j]
    path = np.empty(t_len, dtype=np.int8)
    best = -1e300
    arg = 0
    for j in range(k):
        if delta[j] > best:
            best = delta[j]
            arg = j
    path[t_len - 1] = arg
    for t in range(t_len - 1, 0, -1):
        path[t - 1] = back[t, path[t]]
    return path


# ------------------------------------------------------------------ numpy references


def forward_backward_numpy(x, means, variances, trans, prior, prev_filtered, n_keep):
    """Reference implementation of :func:`forward_backward` (slow: a loop over samples)."""
    x = np.asarray(x, dtype=np.float64)
    log_b = -0.5 * np.log(2 * np.pi * variances) - (x[:, None] - means) ** 2 / (2 * variances)
    mx = log_b.max(axis=1)
    b = np.exp(log_b - mx[:, None])
    t_len, k = b.shape
    alpha = np.empty((t_len, k))
    c = np.empty(t_len)
    pred = prior.copy()
    for t in range(t_len):
        a = pred * b[t]
        c[t] = a.sum()
        alpha[t] = a / c[t]
        pred = alpha[t] @ trans
    loglik = float(np.sum(np.log(c[:n_keep]) + mx[:n_keep]))
    beta = np.ones((t_len, k))
    for t in range(t_len - 2, -1, -1):
        beta[t] = trans @ (b[t + 1] * beta[t + 1]) / c[t + 1]
    gamma = alpha[:n_keep] * beta[:n_keep]
    xi = np.zeros((k, k))
    for t in range(1, n_keep):
        xi += alpha[t - 1][:, None] * trans * (b[t] * beta[t])[None, :] / c[t]
    if prev_filtered.sum() > 0 and n_keep > 0:
        xi += prev_filtered[:, None] * trans * (b[0] * beta[0])[None, :] / c[0]
    xk = x[:n_keep]
    last = alpha[n_keep - 1].copy() if n_keep else np.zeros(k)
    return (loglik, gamma.sum(0), gamma.T @ xk, gamma.T @ (xk * xk), xi, last)


def viterbi_numpy(x, means, variances, log_trans, log_prior):
    """Reference implementation of :func:`viterbi`."""
    x = np.asarray(x, dtype=np.float64)
    log_b = -0.5 * np.log(2 * np.pi * variances) - (x[:, None] - means) ** 2 / (2 * variances)
    t_len, k = log_b.shape
    back = np.empty((t_len, k), dtype=np.int8)
    delta = log_prior + log_b[0]
    for t in range(1, t_len):
        cand = delta[:, None] + log_trans
        back[t] = np.argmax(cand, axis=0)
        delta = cand[back[t], np.arange(k)] + log_b[t]
    path = np.empty(t_len, dtype=np.int8)
    path[-1] = int(np.argmax(delta))
    for t in range(t_len - 1, 0, -1):
        path[t - 1] = back[t, path[t]]
    return path
