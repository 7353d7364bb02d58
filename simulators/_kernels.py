"""Compiled inner loops of the RTN simulation (numba), with the numpy code as reference.

Two loops that numpy can only express as several full passes with sorts: walking each trap's
dwell times while scattering its flips into per-reading increments, and turning increments
into readings (a running sum) with read noise added, writing every reading once. The numpy
implementation in :mod:`ftjlab.simulators.traps` stays the reference: tests check both agree.
Set ``FTJLAB_NUMBA=0`` to use numpy only.
"""

from __future__ import annotations

import importlib.util
import math
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


@njit(cache=True)
def trap_chains(
    ids, state, next_t, cell, tau_c, tau_e, b_scale, e_scale, t_to, accept_scale,
    capture_slope, ws, step, row_on, col_volts, n_cols, emission_slope, exps, unif, f_ids, f_t,
    f_sign, pos, amp0, f_cell, f_amp,
):
    """Fire every event of traps ``ids`` up to ``t_to``, one trap after the other (traps are
    independent given the bias schedule). An empty trap's event is a candidate at its bound
    rate ``lam_bound``, accepted with ``accept_scale * exp(V / capture_slope)`` (V = its
    cell's bias then); a filled trap's event is its emission, drawn by integrating its
    piecewise-constant rate (``lam_idle * exp(-V / emission_slope)``) over the reads of the
    window (``row_on`` (reads, rows), read k = ``[ws + k*step, +step)``; no reads: idle).
    Per trap id: ``lam_bound = b_scale / tau_c``, ``lam_idle = e_scale / tau_e``.
    ``state``/``next_t`` are updated in place; flips go to ``f_*`` (with the trap's cell and
    amplitude ``amp0``, read here with the rest of the trap's data, for whoever weighs the
    flips). Draws come from ``exps`` and ``unif`` from ``pos[0]``/``pos[1]`` (advanced in
    place); returns (flips written, traps finished): stops early, with every array
    consistent, when the draws or the flip buffer run low."""
    n_reads = row_on.shape[0]
    w_end = ws + n_reads * step
    ne = pos[0]
    nu = pos[1]
    nf = 0
    cap = f_ids.size
    done = 0
    # per bit line: the emission factor and the capture acceptance when its word line is on
    onf_col = np.empty(col_volts.size)
    acc_col = np.empty(col_volts.size)
    for j in range(col_volts.size):
        onf_col[j] = math.exp(-col_volts[j] / emission_slope)
        acc_col[j] = accept_scale * math.exp(col_volts[j] / capture_slope)
    acc_off = accept_scale  # word line off: 0 V, exp(0) = 1
    for i in range(ids.size):
        tr = ids[i]
        c = cell[tr]
        row = c // n_cols
        onf = onf_col[c % n_cols]
        acc_on = acc_col[c % n_cols]
        lam_e = e_scale / np.float64(tau_e[tr])
        lam_b = b_scale / np.float64(tau_c[tr])
        a0 = amp0[tr]
        while next_t[tr] <= t_to:
            if ne + 2 > exps.size or nu + 1 > unif.size or nf + 2 > cap:
                pos[0] = ne
                pos[1] = nu
                return nf, done
            t = next_t[tr]
            if state[tr]:
                state[tr] = False
                f_ids[nf] = tr
                f_t[nf] = t
                f_sign[nf] = -1.0
                f_cell[nf] = c
                f_amp[nf] = a0
                nf += 1
                next_t[tr] = t + exps[ne] / lam_b
                ne += 1
                continue
            acc = acc_off
            if n_reads > 0 and t >= ws and t < w_end:
                k = int((t - ws) / step)
                if k > n_reads - 1:
                    k = n_reads - 1
                if row_on[k, row]:
                    acc = acc_on
            u = unif[nu]
            nu += 1
            if u >= acc:
                next_t[tr] = t + exps[ne] / lam_b
                ne += 1
                continue
            state[tr] = True
            f_ids[nf] = tr
            f_t[nf] = t
            f_sign[nf] = 1.0
            f_cell[nf] = c
            f_amp[nf] = a0
            nf += 1
            # emission time: integrate the hazard read by read until it reaches the draw
            left = exps[ne]
            ne += 1
            cur = t
            while True:
                if n_reads == 0 or cur >= w_end:
                    cur = cur + left / lam_e
                    break
                if cur < ws:
                    seg_end = ws
                    rate = lam_e
                else:
                    k = int((cur - ws) / step)
                    if k > n_reads - 1:
                        k = n_reads - 1
                    seg_end = ws + (k + 1) * step
                    if seg_end <= cur:  # rounding at a read boundary
                        seg_end = ws + (k + 2) * step if k + 1 < n_reads else w_end
                    rate = lam_e * onf if row_on[k, row] else lam_e
                h = rate * (seg_end - cur)
                if left < h:
                    cur = cur + left / rate
                    break
                left -= h
                cur = seg_end
            next_t[tr] = cur
        done = i + 1
    pos[0] = ne
    pos[1] = nu
    return nf, done


@njit(cache=True)
def vmm_flip_corrections(
    ids, times, sign, cells, amps, g_h, x, xf, t0, step, bits, n_cols, scale, corr
):  # fmt: skip
    """The change of bit-serial products from trap flips (``ids`` / ``times`` / ``sign``,
    grouped by trap, each trap's in time order; ``cells`` and ``amps``: each flip's cell and
    trap amplitude) during their back-to-back reads (read
    ``r = o * bits + b``, ``[t0 + r*step, +step)``): into ``corr`` (products x bit lines, zeros),
    a flip's step ``scale * g_h * sign * amp0`` times the part of product o after it (the bits
    above b, bit b for the rest of its read) and times the whole input of the later products
    until the trap's next flip undoes it. The same sums, in the same order, as the numpy form
    in :meth:`~.array_read.ArrayReadPath.vmm_batch`."""
    m = ids.size
    n_reads = x.shape[0] * bits
    inv = 1.0 / step
    scale32 = np.float32(scale)
    delta = np.empty(m)
    o_of = np.empty(m, dtype=np.int64)
    for i in range(m):
        c = cells[i]
        row = c // n_cols
        col = c % n_cols
        delta[i] = np.float64(scale32 * g_h[c]) * sign[i] * np.float64(amps[i])
        r = int((times[i] - t0) * inv)
        if r < 0:
            r = 0
        elif r > n_reads - 1:
            r = n_reads - 1
        o = r // bits
        b = r % bits
        o_of[i] = o
        frac = (t0 + (r + 1) * step - times[i]) / step
        xo = x[o, row]
        part = ((xo >> (b + 1)) << (b + 1)) + ((xo >> b) & 1) * (2.0**b) * frac
        corr[o, col] += delta[i] * part
    n = x.shape[0]
    rank = 0
    for i in range(m):
        if i > 0 and ids[i] == ids[i - 1]:
            rank += 1
        else:
            rank = 0
        if rank % 2 == 1:
            continue  # an odd flip undoes the one before it from its product on
        end = n - 1
        if i + 1 < m and ids[i + 1] == ids[i]:
            end = o_of[i + 1]
        c = cells[i]
        row = c // n_cols
        col = c % n_cols
        for o in range(o_of[i] + 1, end + 1):
            corr[o, col] += delta[i] * xf[o, row]


@njit(cache=True)
def emission_times(t, e, lam, cell, rows_ever_on, row_on, col_volts, onf_col, ws, step, out):
    """Emission times of filled traps (cells ``cell``) from ``t`` for exponential draws ``e``:
    the hazard of the rate ``lam`` (idle), times ``onf_col`` of the trap's bit line in a read
    of ``row_on`` (read k = ``[ws + k*step, +step)``) with its word line on, reaches ``e``.
    The same arithmetic, step for step, as the numpy form
    (:meth:`~.trap_queue.TrapPopulation._emission_after`): the current read first, then four
    reads at a time, idle after the last read."""
    n_reads = row_on.shape[0]
    n_cols = col_volts.size
    w_end = ws + n_reads * step
    inv = 1.0 / step
    for i in range(t.size):
        out[i] = t[i] + e[i] / lam[i]
        c = cell[i]
        row = c // n_cols
        col = c % n_cols
        if not (rows_ever_on[row] and col_volts[col] != 0 and t[i] < w_end):
            continue
        cur = t[i]
        left = e[i]
        lm = lam[i]
        of = onf_col[col]
        r = int((cur - ws) * inv)
        r = min(max(r, 0), n_reads - 1)
        rate = lm * (of if row_on[r, row] else 1.0)
        edge = ws + (r + 1) * step
        room = rate * (edge - cur)
        if left < room:
            out[i] = cur + left / rate
            continue
        left = left - room
        cur = edge
        while True:
            r = int((cur - ws) * inv)
            r = min(max(r, 0), n_reads - 1)
            h = 0.0
            seg = 0.0
            done = False
            for j in range(4):
                k = r + j
                seg = ws + k * step
                if k < n_reads:
                    rate = lm * (of if row_on[k, row] else 1.0)
                    dur = seg + step - max(cur, seg)
                    if dur < 0.0:
                        dur = 0.0
                else:
                    rate = lm
                    dur = math.inf
                before = h
                h = h + rate * dur if j > 0 else rate * dur
                if not h < left:
                    out[i] = max(cur, seg) + (left - before) / rate
                    done = True
                    break
            if done:
                break
            left = left - h
            cur = seg + step
