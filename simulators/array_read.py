"""The read path of the FTJ array: read noise, bit-line readings, VMM products, acquisitions.

:class:`ArrayReadPath` is the half of :class:`~.array.FTJArray` that reads: it relies on the
state the array keeps (``params``, ``rng``, ``clock``, ``traps``, the cached read matrix ``_h``
and the conductance / trap-cache methods) and changes no programmed state.

* :meth:`ArrayReadPath.read_bitlines` - one reading of every bit line (a VMM step or a map row).
  At |V| <= ``traps.kinetics_bound_max_v`` the traps advance through the event queue, so the cost
  follows the number of trap flips, not the number of traps; at a bias where no trap's RTN
  exceeds ``traps.quiet_rtn_rel`` (a read bias) the read leaves the traps alone and costs
  one product with the cached read matrix.
* :meth:`ArrayReadPath.acquire` - many readings of a few bit lines at any bias (RTN, IV): the
  traps of the selected cells are simulated exactly in continuous time.
"""

from __future__ import annotations

import functools
import sys

import numpy as np

from . import _kernels
from .fastrandom import standard_normal_f32
from .trap_queue import BiasWindow, Flips
from .traps import TraceWindow, simulate_traps

BOLTZMANN = 1.380649e-23
ELEMENTARY_CHARGE = 1.602176634e-19


class ArrayReadPath:
    """Reads of an :class:`~.array.FTJArray` (a base class; it has no state of its own)."""

    # ------------------------------------------------------------------ noise
    def noise_sigma(self, current_a, conductance_s, aperture_s: float) -> np.ndarray:
        """Read-noise sigma (A) of one reading integrated over ``aperture_s``."""
        p = self.params.read_noise
        psd = 4 * BOLTZMANN * p.temperature_k * np.abs(conductance_s)
        if p.shot_noise:
            psd = psd + 2 * ELEMENTARY_CHARGE * np.abs(current_a)
        psd = psd + p.instrument_noise_a_per_rthz**2
        return np.sqrt(psd / (2.0 * aperture_s))

    # ------------------------------------------------------------------ reads
    def read_bitlines(self, rows_on, volts, aperture_s: float, noise: bool = True) -> np.ndarray:
        """One reading of every bit line (A), word lines ``rows_on`` on (bool mask or indices),
        bit lines at ``volts`` (scalar or one per column; 0 V lines read ~0 A), integrated over
        ``aperture_s``. The clock advances by the aperture."""
        mask = self._row_mask(rows_on)
        return self.read_bitline_sequence(mask[None, :], volts, aperture_s, noise)[0]

    def _bit_line_bias(self, volts) -> tuple[np.ndarray, np.ndarray, float, bool]:
        """Bit-line voltages (one per column), which lines are biased, their first bias V0,
        and whether the fast path applies: every biased line at the same V0 (the others at 0 V
        carry no current and leave their cells idle), |V0| within the kinetics bound, no wire
        resistance."""
        v = np.asarray(volts, dtype=np.float64)
        if v.shape != (self.cols,):
            v = np.broadcast_to(v, (self.cols,))
        biased = v != 0
        lines = v[biased]
        v0 = float(lines[0]) if lines.size else 0.0
        fast = (
            abs(v0) <= self.params.traps.kinetics_bound_max_v
            and self.params.conductance.wire_resistance_ohm <= 0
            and lines.min(initial=v0) == lines.max(initial=v0)
        )
        return v, biased, v0, fast

    def read_bitline_sequence(
        self,
        masks: np.ndarray,
        volts,
        aperture_s: float,
        noise: bool = True,
    ) -> np.ndarray:
        """Back-to-back readings of every bit line, word-line pattern ``masks[k]`` (bool,
        shape (reads, rows)) during reading k; returns currents (A), shape (reads, cols).

        This is how bit-serial inputs reach the array. Trap kinetics stay exact across the
        sequence (each cell's bias follows its word line from reading to reading) and every
        reading is the exact average over its aperture. The clock advances by
        ``reads * aperture_s``.
        """
        masks = np.asarray(masks, dtype=bool)
        if masks.ndim != 2 or masks.shape[1] != self.rows:
            raise ValueError(
                f"word-line masks must have shape (reads, {self.rows}), got {masks.shape}"
            )
        if not aperture_s > 0:
            raise ValueError(f"aperture must be > 0 s, got {aperture_s!r}")
        v, biased, v0, fast = self._bit_line_bias(volts)
        if not fast:
            cols = np.arange(self.cols)
            return np.stack(
                [
                    self.acquire(np.flatnonzero(m), cols, v, 1, aperture_s, aperture_s, noise)[:, 0]
                    for m in masks
                ]
            ).astype(np.float64)
        n_reads = masks.shape[0]
        t0, quiet = self._start_fast_read(v0)
        t1 = t0 + n_reads * aperture_s
        x = masks.astype(np.float64)
        f = float(self.current_factor(v0))
        # one reading: single-threaded loops, as for one VMM (vmm_batch)
        current = np.einsum("kr,rc->kc", x, self._h) if n_reads == 1 else x @ self._h
        current *= f * biased
        # Traps that change state during the sequence: reading j sees the fraction of its
        # aperture after the flip, later readings the whole change (if the cell's word line
        # is on in them).
        window = None if quiet else BiasWindow(t0, aperture_s, masks, np.where(biased, v0, 0.0))
        flips = self._window_flips(window, t1)
        if flips is not None and v0 != 0:
            cells = self.traps.cell[flips.ids]
            rows, cols = np.divmod(cells, self.cols)
            di = (
                -f
                * float(self.rtn_amplitude(v0))
                * self._g_h[cells]  # the G behind _h
                * flips.sign
                * self.traps.amp0[flips.ids]
                * biased[cols]
            )
            j = window.read_of(flips.times)
            frac = (t0 + (j + 1) * aperture_s - flips.times) / aperture_s
            seen = x[:, rows].T  # (flips, reads): word line of the flipped cell on in reading k
            weight = seen * (np.arange(n_reads)[None, :] > j[:, None])
            hit = np.arange(j.size)
            weight[hit, j] = seen[hit, j] * frac  # the part of reading j after the flip
            for k in np.flatnonzero(weight.any(axis=0)):
                current[k] += np.bincount(cols, weights=di * weight[:, k], minlength=self.cols)
        off = self.params.conductance.access_off_current_a
        if off:
            current += (off * np.sign(v0)) * (self.rows - masks.sum(axis=1))[:, None]
        if noise:
            g_sum = current / f if f != 0 else x @ self.conductance(t0)
            sigma = self.noise_sigma(current, g_sum, aperture_s)
            current += sigma * standard_normal_f32(self.rng, current.size).reshape(current.shape)
        self.clock.advance(n_reads * aperture_s)
        return current

    def read_cell_sequence(
        self, masks: np.ndarray, cols: np.ndarray, volts, step_s: float
    ) -> np.ndarray | None:
        """Back-to-back slots of ``step_s``, slot k reading bit line ``cols[k]`` (or, for a
        2-D ``cols``, the bit lines ``cols[k, j]`` at once; -1: nothing) with word lines
        ``masks[k]`` on: the noise-free current (A) of each slot's own bit line(s), shape
        ``cols.shape``; None where :meth:`read_bitline_sequence` must do it (a bias above the
        kinetics bound, wire resistance, unequal line voltages).

        The same physics as :meth:`read_bitline_sequence` (traps exact across the sequence,
        each slot the exact average of its bit line's current), computed only for the bit
        lines each slot keeps. The clock advances by ``slots * step_s``.
        """
        masks = np.asarray(masks, dtype=bool)
        cols = np.asarray(cols, dtype=np.int64)
        flat = cols.ndim == 1
        c2 = cols[:, None] if flat else cols
        _, biased, v0, fast = self._bit_line_bias(volts)
        if not fast:
            return None
        n = masks.shape[0]
        t0, quiet = self._start_fast_read(v0)
        f = float(self.current_factor(v0))
        valid = c2 >= 0
        cc = np.where(valid, c2, 0)
        # (slots, lines): sum over the word lines that are on of the column's entries
        current = np.einsum("kr,rkj->kj", masks, self._h[:, cc]) * (f * (biased[cc] & valid))
        window = None if quiet else BiasWindow(t0, step_s, masks, np.where(biased, v0, 0.0))
        flips = self._window_flips(window, t0 + n * step_s)
        cells = None
        if flips is not None and v0 != 0:
            cells = self.traps.cell[flips.ids]
            di = (
                -f
                * float(self.rtn_amplitude(v0))
                * self._g_h[cells]
                * flips.sign
                * self.traps.amp0[flips.ids]
                * biased[cells % self.cols]
            )
            j = window.read_of(flips.times)
            frac = (t0 + (j + 1) * step_s - flips.times) / step_s
            if flat and n > 1:
                current[:, 0] += self._flip_changes(masks, cols, cells, j, di, frac)
                cells = None
        if cells is not None:
            # per flipped cell u: the change it shows in slot k is the sum of its flips in
            # earlier slots plus the part of slot k after a flip in it; a slot's line sees
            # cell u if it is u's bit line and u's word line is on in that slot
            uniq, u = np.unique(cells, return_inverse=True)
            m = uniq.size
            later = np.bincount((j + 1) * m + u, weights=di, minlength=(n + 1) * m)
            change = np.cumsum(later.reshape(n + 1, m)[:n], axis=0)
            change += np.bincount(j * m + u, weights=di * frac, minlength=n * m).reshape(n, m)
            ur, uc = np.divmod(uniq, self.cols)
            seen = (c2[:, :, None] == uc[None, None, :]) & masks[:, ur][:, None, :]
            current += np.einsum("ku,kju->kj", change, seen)
        off = self.params.conductance.access_off_current_a
        if off:
            current += ((off * np.sign(v0)) * (self.rows - masks.sum(axis=1)))[:, None] * (
                biased[cc] & valid
            )
        self.clock.advance(n * step_s)
        return current[:, 0] if flat else current

    def _flip_changes(self, masks, cols, cells, j, di, frac) -> np.ndarray:
        """Per slot of a one-line-per-slot sequence, the change its bit line shows from the
        flips (cell ``cells``, in slot ``j``, current step ``di``, ``frac`` of slot ``j``
        after the flip): each flip counts in the later slots that read its cell's bit line
        with its word line on, and by ``frac`` in its own slot. Sparse in (flip, slot of its
        bit line) pairs: the same sums as the dense (slots, cells) form."""
        n = cols.size
        order = np.argsort(cols, kind="stable")  # slots grouped by the bit line they read
        ptr = np.searchsorted(cols[order], np.arange(self.cols + 1))
        rows_f, cols_f = np.divmod(cells, self.cols)
        ok = (cols_f < self.cols) & (ptr[np.minimum(cols_f + 1, self.cols)] > ptr[cols_f])
        start, count = ptr[cols_f], ptr[cols_f + 1] - ptr[cols_f]
        count = np.where(ok, count, 0)
        flip = np.repeat(np.arange(cells.size), count)
        offs = np.arange(flip.size) - np.repeat(np.cumsum(count) - count, count)
        slot = order[start[flip] + offs]
        w = np.where(slot == j[flip], frac[flip], (slot > j[flip]).astype(np.float64))
        w *= masks[slot, rows_f[flip]]
        return np.bincount(slot, weights=di[flip] * w, minlength=n)

    def _start_fast_read(self, v0: float) -> tuple[float, bool]:
        """A whole-array read at ``v0`` starts now: unless it is quiet
        (:meth:`~.trap_queue.TrapPopulation.quiet_at`), the event queue's bound covers ``v0``
        and the traps are advanced to now; the cached read matrix is brought up to date.
        Returns (now, quiet)."""
        quiet = self.traps.quiet_at(v0)
        t0 = self.clock.now_s
        if not quiet:
            if abs(v0) > self.traps.bound_v:
                self.traps_to(t0)
                self.traps.raise_bound(abs(v0), t0)
            self.traps_to(t0)
        self._ensure_h(v0, t0)
        return t0, quiet

    def _window_flips(self, window: BiasWindow | None, t1: float) -> Flips | None:
        """The trap flips during a whole-array read ``window`` that ends at ``t1`` (None:
        none, or no window: a quiet read, which leaves the traps alone)."""
        if window is None:
            return None
        self.traps.open_window(window)
        flips = self.traps_to(t1, window)
        return flips if flips.ids.size else None

    def vmm(self, x: np.ndarray, bits: int, volts: float, aperture_s: float, noise: bool = True):
        """One vector-matrix product, bit-serial: see :meth:`vmm_batch`. Returns (cols,)."""
        return self.vmm_batch(np.asarray(x)[None, :], bits, volts, aperture_s, noise)[0]

    def vmm_batch(
        self, x: np.ndarray, bits: int, volts: float, aperture_s: float, noise: bool = True
    ) -> np.ndarray:
        """Successive vector-matrix products of unsigned integer inputs ``x`` (shape (n, rows),
        values < 2**bits) with the array, each bit-serial: bit plane b of input o drives the
        word lines for one reading of ``aperture_s``, and the bit-line currents are
        shift-and-added, ``y_o = sum_b 2**b I_ob`` (A), ideally ``f(V) * (x_o @ G)``.

        Exact without forming each reading: the readings are linear in their word-line
        patterns (so ``sum_b 2**b I_ob`` needs one product with ``x_o``), their independent
        Gaussian read noises sum to one Gaussian of variance ``sum_b 4**b sigma_ob**2``
        (linear in ``sum_b 4**b x_ob``), and a trap that flips during reading (o, b) changes
        the part of that reading after the flip and every later reading whose word line is
        on. Traps stay exact within and between the products. Returns (n, cols).
        """
        x = np.asarray(x)
        if (
            x.ndim != 2
            or x.shape[1] != self.rows
            or not np.issubdtype(x.dtype, np.integer)
            or np.any(x < 0)
            or np.any(x >= 2**bits)
        ):
            raise ValueError(f"inputs must be (n, {self.rows}) integers in [0, 2**{bits})")
        n = x.shape[0]
        small = x.astype(np.min_scalar_type(max(2**bits - 1, 1)))  # bit planes in few bytes
        x = x.astype(np.int64)
        shifts = np.arange(bits)
        bit_of = shifts.astype(small.dtype)[None, :, None]
        planes = ((small[:, None, :] >> bit_of) & 1).astype(bool)  # (n, bits, rows)
        v0 = float(volts)
        if (
            abs(v0) > self.params.traps.kinetics_bound_max_v
            or self.params.conductance.wire_resistance_ohm > 0
        ):
            readings = self.read_bitline_sequence(
                planes.reshape(n * bits, self.rows), v0, aperture_s, noise
            )
            return np.einsum("b,obc->oc", 2.0**shifts, readings.reshape(n, bits, self.cols))
        t0, quiet = self._start_fast_read(v0)
        t1 = t0 + n * bits * aperture_s
        f = float(self.current_factor(v0))
        xf = x.astype(np.float64)
        # noise weights sum_b 4^b x_ob (integers, exact in float64); the noise variance needs
        # no float64 precision: its product runs in float32
        if bits <= 16:
            x4 = _noise_weights(bits)[small]
        else:
            x4 = np.einsum("b,obr->or", 4.0**shifts, planes).astype(np.float32)
        if n == 1:
            # One input: numpy's own single-threaded loops. A threaded BLAS matvec waits for
            # its second thread: on a loaded 2-core machine ~24 ms instead of ~0.2 ms; idle,
            # it saves ~0.1 ms. (Many inputs: BLAS, whose GEMM is several times faster.)
            current = np.einsum("r,rc->c", xf[0], self._h)[None, :]
            lin4 = np.einsum("r,rc->c", x4[0], self._h32)[None, :]
        else:
            current = xf @ self._h
            lin4 = x4 @ self._h32
        current *= f
        window = BiasWindow(
            t0, aperture_s, planes.reshape(n * bits, self.rows), np.full(self.cols, v0)
        )
        flips = self._window_flips(None if quiet else window, t1)
        fast = flips is not None and flips.grouped and flips.cells is not None
        if fast and v0 != 0 and "numba" in sys.modules:
            corr = np.zeros((n, self.cols))
            _kernels.vmm_flip_corrections(
                flips.ids, flips.times, flips.sign, flips.cells, flips.amps,
                self._g_h, x, xf, t0, aperture_s, bits, self.cols,
                -f * float(self.rtn_amplitude(v0)), corr,
            )  # fmt: skip
            current += corr
        elif flips is not None and v0 != 0:
            cells = self.traps.cell[flips.ids]
            rows, cols = np.divmod(cells, self.cols)
            delta = (
                -f
                * float(self.rtn_amplitude(v0))
                * self._g_h[cells]  # the G behind _h
                * flips.sign
                * self.traps.amp0[flips.ids]
            )
            r = window.read_of(flips.times)
            o, b = np.divmod(r, bits)
            frac = (t0 + (r + 1) * aperture_s - flips.times) / aperture_s
            xo = x[o, rows]
            # Within product o: the bits above b fully, bit b for the part after the flip.
            partial = ((xo >> (b + 1)) << (b + 1)) + ((xo >> b) & 1) * (2.0**b) * frac
            # Products after o see the whole change. A trap's flips alternate in sign, so in
            # its time-ordered list flips 2k and 2k+1 cancel from product o_{2k+1} on: flip 2k
            # covers (o_2k, o_2k+1], flip 2k+1 nothing more, an unpaired last flip the rest.
            if flips.grouped:
                order = np.arange(flips.ids.size)
            else:
                order = np.lexsort((flips.times, flips.ids))
            sid = flips.ids[order]
            first = np.concatenate([[True], sid[1:] != sid[:-1]])
            rank = np.arange(sid.size) - np.maximum.accumulate(
                np.where(first, np.arange(sid.size), 0)
            )
            has_next = np.concatenate([sid[1:] == sid[:-1], [False]])
            end = np.full(sid.size, n - 1)
            end[has_next] = o[order[1:]][has_next[:-1]]
            end = np.where(rank % 2 == 0, end, o[order])  # odd rank: empty range
            span = np.empty(o.size, dtype=np.int64)
            span[order] = end - o[order]
            owner = np.repeat(np.arange(o.size), span)
            later = np.arange(owner.size) - np.repeat(np.cumsum(span) - span, span) + o[owner] + 1
            keys = np.concatenate([o * self.cols + cols, later * self.cols + cols[owner]])
            vals = np.concatenate([delta * partial, delta[owner] * xf[later, rows[owner]]])
            current += np.bincount(keys, weights=vals, minlength=n * self.cols).reshape(n, -1)
        if self.params.conductance.access_off_current_a:
            n_off = ((2**bits - 1) * self.rows - x.sum(axis=1)).astype(np.float64)
            current += (self.params.conductance.access_off_current_a * np.sign(v0)) * n_off[:, None]
        if noise:
            p = self.params.read_noise
            var = 4 * BOLTZMANN * p.temperature_k * np.abs(lin4)
            if p.shot_noise:
                var += 2 * ELEMENTARY_CHARGE * abs(f) * np.abs(lin4)
            var += p.instrument_noise_a_per_rthz**2 * float(np.sum(4.0**shifts))
            sigma = np.sqrt(var / (2.0 * aperture_s))
            current += sigma * standard_normal_f32(self.rng, current.size).reshape(current.shape)
        self.clock.advance(n * bits * aperture_s)
        return current

    def _row_mask(self, rows_on) -> np.ndarray:
        arr = np.asarray(rows_on)
        if arr.dtype == bool:
            if arr.shape != (self.rows,):
                raise ValueError(f"word-line mask must have {self.rows} entries, got {arr.shape}")
            return arr
        mask = np.zeros(self.rows, dtype=bool)
        idx = np.atleast_1d(arr).astype(np.int64)
        if idx.size and (idx.min() < 0 or idx.max() >= self.rows):
            raise IndexError(f"row index out of range 0..{self.rows - 1}: {idx.tolist()}")
        mask[idx] = True
        return mask

    def acquire(
        self,
        rows_on,
        cols,
        volts,
        n: int,
        interval_s: float,
        aperture_s: float,
        noise: bool = True,
    ) -> np.ndarray:
        """``n`` readings, ``interval_s`` apart, of bit lines ``cols`` at ``volts`` with word
        lines ``rows_on`` on; each reading averages ``aperture_s`` exactly (RTN, IV).

        Returns float32 currents (A), shape (len(cols), n). The clock advances by
        ``n * interval_s``.
        """
        rows = np.flatnonzero(self._row_mask(rows_on))
        cols = np.atleast_1d(np.asarray(cols, dtype=np.int64))
        v_col = np.broadcast_to(np.asarray(volts, dtype=np.float64), cols.shape).copy()
        if not 0 < aperture_s <= interval_s:
            raise ValueError(
                f"aperture {aperture_s!r} s must be > 0 and <= interval {interval_s!r} s"
            )
        if n < 1:
            raise ValueError(f"number of readings must be >= 1, got {n}")
        t0 = self.clock.now_s
        self.traps_to(t0)
        cells = self._cells(rows, cols)  # row-major: cell k -> column index k % len(cols)
        col_of = np.tile(np.arange(cols.size), rows.size)
        v_cell = v_col[col_of]
        g = self.conductance(t0, cells)
        wire = self.params.conductance.wire_resistance_ohm
        if wire > 0 and rows.size:
            v_cell = self._wire_drop(rows, g, v_col, wire)
        i0 = g * self.current_factor(v_cell)
        ids, slot = self.traps.traps_of(cells)
        v_trap = v_cell[slot]
        lam_c = self.traps.capture_rate(ids, v_trap)
        lam_e = self.traps.emission_rate(ids, v_trap)
        weight = -i0[slot] * self.rtn_amplitude(v_trap) * self.traps.amp0[ids]
        base = np.bincount(col_of, weights=i0, minlength=cols.size)
        window = TraceWindow(n, interval_s, aperture_s)
        sigma = None
        if noise:
            g_col = np.bincount(col_of, weights=g, minlength=cols.size)
            sigma = self.noise_sigma(base, g_col, aperture_s)
        trace, state_end = simulate_traps(
            self.traps.state[ids],
            lam_c,
            lam_e,
            weight,
            col_of[slot],
            base,
            window,
            self.rng,
            noise_sigma=sigma,
        )
        t1 = t0 + window.duration_s
        # every other trap was idle meanwhile: advance them (exactly, jumping long idles),
        # then put the explicitly simulated ones back into the queue from t1
        self.traps.suspend(ids)
        self.traps_to(t1)
        self.traps.set_states(ids, state_end, t1)
        self._recompute_modulation(np.unique(cells))  # only these cells' traps changed here
        self._refresh_h(cells)
        if self.params.conductance.access_off_current_a:
            trace += np.float32(
                self.params.conductance.access_off_current_a * (self.rows - rows.size)
            ) * np.sign(v_col)[:, None].astype(np.float32)
        self.clock.advance(window.duration_s)
        return trace

    def _wire_drop(self, rows, g, v_col, r_seg) -> np.ndarray:
        """Cell voltages with bit-line resistance ``r_seg`` per row pitch.

        The driver sits one pitch before row 0; node k (the k-th conducting row) connects to
        node k-1 through ``r_seg * (rows[k] - rows[k-1])``. Kirchhoff's current law at every
        node, ``(V[k-1] - V[k]) / R[k] - (V[k] - V[k+1]) / R[k+1] = G[k] f(V[k])``, is solved by
        Newton's method with a tridiagonal Jacobian (Thomas algorithm, vectorised over columns).
        """
        nr, nc = rows.size, v_col.size
        g2 = g.reshape(nr, nc)
        seg = r_seg * np.diff(np.concatenate([[-1], rows])).astype(np.float64)
        cond = 1.0 / seg  # conductance of the segment feeding node k
        c_next = np.concatenate([cond[1:], [0.0]])  # segment to node k+1 (none after the last)
        v_nl2 = self.params.conductance.nonlinearity_v**2
        v = np.broadcast_to(v_col, (nr, nc)).astype(np.float64)
        for _ in range(50):
            v_prev = np.vstack([v_col[None, :], v[:-1]])
            v_next = np.vstack([v[1:], np.zeros((1, nc))])
            i_cell = g2 * v * (1 + v * v / v_nl2)
            resid = cond[:, None] * (v_prev - v) - c_next[:, None] * (v - v_next) - i_cell
            resid[-1] = cond[-1] * (v_prev[-1] - v[-1]) - i_cell[-1]
            diag = -cond[:, None] - c_next[:, None] - g2 * (1 + 3 * v * v / v_nl2)
            lower = cond[1:, None] * np.ones((1, nc))  # d resid[k] / d v[k-1]
            upper = c_next[:-1, None] * np.ones((1, nc))  # d resid[k] / d v[k+1]
            dv = _solve_tridiagonal(lower, diag, upper, -resid)
            v = v + dv
            if np.max(np.abs(dv)) <= 1e-12 * max(1.0, float(np.max(np.abs(v_col)))):
                break
        return v.ravel()


@functools.cache
def _noise_weights(bits: int) -> np.ndarray:
    """Per input value v < 2**bits, ``sum_b 4**b bit_b(v)`` as float32 (a lookup table)."""
    b = np.arange(bits)
    planes = (np.arange(2**bits) >> b[:, None]) & 1
    return np.einsum("b,bv->v", 4.0**b, planes).astype(np.float32)


def _solve_tridiagonal(lower, diag, upper, rhs):
    """Solve tridiagonal systems (one per column) by the Thomas algorithm."""
    n = diag.shape[0]
    c = np.empty_like(diag)
    d = np.empty_like(rhs)
    c[0] = (upper[0] / diag[0]) if n > 1 else 0.0
    d[0] = rhs[0] / diag[0]
    for k in range(1, n):
        denom = diag[k] - lower[k - 1] * c[k - 1]
        if k < n - 1:
            c[k] = upper[k] / denom
        d[k] = (rhs[k] - lower[k - 1] * d[k - 1]) / denom
    x = np.empty_like(rhs)
    x[-1] = d[-1]
    for k in range(n - 2, -1, -1):
        x[k] = d[k] - c[k] * x[k + 1]
    return x
