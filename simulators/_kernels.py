"""Compiled inner loops of the RTN simulation (numba), with the numpy code as reference.

Two loops that numpy can only express as several full passes with sorts: walking each trap's
dwell times while scattering its flips into per-reading increments, and turning increments
into readings (a running sum) with read noise added, writing every reading once. The numpy
implementation in :mod:`ftjlab.simulators.traps` stays the reference: tests check both agree.
Set ``FTJLAB_NUMBA=0`` to use numpy only.
"""

from __future__ import annotations

import importlib.util
import os

import numpy as np

# numba is a dependency, but the simulator must still run where it cannot load. Importing it
# costs ~0.5 s, so it is loaded (and the kernels compiled or read from the cache) on the
# first call of a kernel, not when the simulator is imported.
AVAILABLE = (
    os.environ.get("FTJLAB_NUMBA", "1") != "0" and importlib.util.find_spec("numba") is not None
)


def njit(cache: bool = True):
    """Compile the decorated function with numba on its first call (plain Python without
    numba)."""

    def wrap(func):
        compiled = None

        def call(*args):
            nonlocal compiled
            if compiled is None:
                if AVAILABLE:
                    from numba import njit as numba_njit

                    compiled = numba_njit(cache=cache)(func)
                else:  # pragma: no cover - exercised only without numba
                    compiled = func
            return compiled(*args)

        call.__name__, call.__doc__, call.py_func = func.__name__, func.__doc__, func
        return call

    return wrap


@njit(cache=True)
def scatter_flips(draws, pairs, idx, state, t, lam_c, lam_e, weight, group, n, dt, ap, t_end, d):
    """Walk the dwell times of traps ``idx`` (pairs of exponential draws, one dwell in the
    current state then one in the other) from times ``t``; every flip before ``t_end`` adds
    the part of its step inside its reading's aperture to ``d[group, k]`` and the rest to
    ``d[group, k + 1]``. Returns (finished, state, time) per trap; unfinished traps ran out
    of draws and continue from the returned time."""
    m = idx.size
    finished = np.zeros(m, dtype=np.bool_)
    s_out = np.empty(m, dtype=np.bool_)
    t_out = np.empty(m)
    inv_dt = 1.0 / dt
    pos = 0
    for i in range(m):
        tr = idx[i]
        filled = state[i]
        inv_c = 1.0 / lam_c[tr]
        inv_e = 1.0 / lam_e[tr]
        step = weight[tr]
        g = group[tr]
        tt = t[i]
        count = 2 * pairs[i]
        for j in range(count):
            tt += draws[pos + j] * (inv_e if filled else inv_c)
            if tt >= t_end:
                finished[i] = True
                break
            w = -step if filled else step
            k = int(tt * inv_dt)
            if k > n - 1:
                k = n - 1
            part = (ap - (tt - k * dt)) / ap
            if part < 0.0:
                part = 0.0
            elif part > 1.0:
                part = 1.0
            d[g, k] += w * part
            d[g, k + 1] += w * (1.0 - part)
            filled = not filled
        pos += count
        s_out[i] = filled
        t_out[i] = tt
    return finished, s_out, t_out


@njit(cache=True)
def readings(d, start, sigma, noise_idx, table, out):
    """``out[g, k] = start[g] + sum(d[g, :k + 1]) + sigma[g] * table[noise_idx[g * n + k]]``
    (``sigma`` empty: no noise)."""
    groups, n = out.shape
    noisy = sigma.size > 0
    for g in range(groups):
        level = start[g]
        base = g * n
        for k in range(n):
            level += d[g, k]
            if noisy:
                out[g, k] = level + sigma[g] * table[noise_idx[base + k]]
            else:
                out[g, k] = level
