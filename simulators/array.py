"""The FTJ NOR array: word lines gate rows, bit lines sum the currents of conducting cells.

Cell (i, j) sits at word line i and bit line j (flat index ``i * cols + j``). A cell conducts
when its word line is on; the bit-line current is the sum over conducting cells (Kirchhoff),
``I_j = sum_i f(V_j) G_ij (1 - g(V_j) m_ij)``, ``f(V) = V (1 + (V/V_nl)^2)``, with the trap
modulation ``m_ij`` of RTN, plus read noise. Program pulses reach only cells whose word line is
on. All state lives in flat numpy arrays; nothing loops over cells in Python.

This module holds the array state, conductance, programming and the trap cache; the reads
(:meth:`FTJArray.read_bitlines`, :meth:`FTJArray.acquire`, VMM) are in :mod:`.array_read`.
"""

from __future__ import annotations

import numpy as np

from .array_read import ArrayReadPath
from .clock import VirtualClock
from .fastrandom import standard_normal_f32
from .params import ArrayParams
from .switching import DomainArray
from .trap_queue import BiasWindow, Flips, TrapPopulation
from .traps import activation

_STUCK_NONE, _STUCK_ON, _STUCK_OFF = 0, 1, 2


class FTJArray(ArrayReadPath):
    """A simulated FTJ NOR array of ``rows x cols`` cells with its own virtual clock.

    Parameters
    ----------
    params: all model parameters (see :mod:`ftjlab.simulators.params`).
    rng: the bench's random generator; every random draw of the array comes from it.
    clock: the bench's virtual clock (a new one if omitted).
    """

    def __init__(
        self,
        params: ArrayParams,
        rng: np.random.Generator,
        clock: VirtualClock | None = None,
    ) -> None:
        self.params = params
        self.rng = rng
        self.clock = clock or VirtualClock()
        self.rows, self.cols = params.rows, params.cols
        n = self.rows * self.cols
        c = params.conductance
        z = standard_normal_f32(rng, 2 * n).reshape(2, n)
        self.g_on = (c.g_on_siemens * np.exp(c.d2d_sigma_log * z[0])).astype(np.float32)
        self.g_off = (c.g_off_siemens * np.exp(c.d2d_sigma_log * z[1])).astype(np.float32)
        np.minimum(self.g_off, 0.5 * self.g_on, out=self.g_off)  # keep a window in every cell
        self.domains = DomainArray(params.switching, n, rng)
        u = rng.random(n)
        self.stuck = np.zeros(n, dtype=np.int8)
        self.stuck[u < c.stuck_on_fraction] = _STUCK_ON
        self.stuck[
            (u >= c.stuck_on_fraction) & (u < c.stuck_on_fraction + c.stuck_off_fraction)
        ] = _STUCK_OFF
        if params.initial_state == "on":
            self.domains.set_all(slice(None), True)
        elif params.initial_state == "random":
            self.domains.randomise(np.arange(n), rng)
        self.domains.set_all(np.flatnonzero(self.stuck == _STUCK_ON), True)
        self.domains.set_all(np.flatnonzero(self.stuck == _STUCK_OFF), False)
        r = params.retention
        self.nu = np.maximum(
            r.drift_nu_mean + r.drift_nu_sigma * standard_normal_f32(rng, n), 0.0
        ).astype(np.float16)
        self._nu_max = float(self.nu.max()) if n else 0.0
        self.cycles = np.zeros(n, dtype=np.float32)
        self.t_prog = np.full(n, self.clock.now_s)
        self._t_prog_max = self.clock.now_s
        self.g_prog = np.empty(n, dtype=np.float32)
        self._update_g_prog(np.arange(n))
        self.traps = TrapPopulation(params.traps, n, rng, self.clock.now_s)
        self.modulation = self.traps.modulation(n).astype(np.float32)
        # Cached read matrix H = G(t_h) * (1 - g(V_h) * m), float64 (rows, cols)
        self._h = np.empty((self.rows, self.cols))
        self._g_h = np.empty(n, dtype=np.float32)  # G(t_h) of every cell, behind _h
        self._h32 = np.empty((self.rows, self.cols), dtype=np.float32)  # _h for noise only
        self._h_volts: float | None = None
        self._h_act: tuple[float | None, float] = (None, 0.0)  # (bias, activation there)
        self._h_time = -np.inf

    # ------------------------------------------------------------------ static properties
    @property
    def shape(self) -> tuple[int, int]:
        return self.rows, self.cols

    @property
    def nbytes(self) -> int:
        """Bytes of simulator state (all per-cell and per-trap arrays)."""
        per_cell = (
            self.g_on,
            self.g_off,
            self.stuck,
            self.nu,
            self.cycles,
            self.t_prog,
            self.g_prog,
            self.modulation,
            self._h,
            self._g_h,
            self._h32,
        )
        return sum(a.nbytes for a in per_cell) + self.domains.nbytes + self.traps.nbytes

    def _cells(self, rows, cols) -> np.ndarray:
        if (rows.__class__ is np.ndarray and cols.__class__ is np.ndarray
                and rows.shape == cols.shape == (1,) and rows.dtype == cols.dtype == np.int64):
            r, c = int(rows[0]), int(cols[0])  # one cell (a bit line's pulse on one word line)
            if 0 <= r < self.rows and 0 <= c < self.cols:
                return np.array([r * self.cols + c], dtype=np.int64)
        rows = np.atleast_1d(np.asarray(rows, dtype=np.int64))
        cols = np.atleast_1d(np.asarray(cols, dtype=np.int64))
        for name, idx, size in (("row", rows, self.rows), ("column", cols, self.cols)):
            if idx.size and (idx.min() < 0 or idx.max() >= size):
                raise IndexError(f"{name} index out of range 0..{size - 1}: {idx.tolist()}")
        return (rows[:, None] * self.cols + cols[None, :]).ravel()

    # ------------------------------------------------------------------ conductance
    def window_factor(self, cells) -> np.ndarray:
        """Endurance wear: fraction of the fresh memory window left after the cycles so far."""
        e = self.params.endurance
        return 1.0 / (
            1.0 + (self.cycles[cells].astype(np.float64) / e.wear_cycles) ** e.wear_exponent
        )

    def _update_g_prog(self, cells: np.ndarray, s: np.ndarray | None = None) -> None:
        """Programmed conductance of ``cells`` from their switched fraction ``s`` (default:
        the domains' present one)."""
        if s is None:
            s = self.domains.switched_fraction(cells)
        g_off = self.g_off[cells].astype(np.float64)
        span = (self.g_on[cells] - self.g_off[cells]) * self.window_factor(cells)
        self.g_prog[cells] = g_off + span * s

    def _drift(self, cells, t_s: float) -> np.ndarray:
        r = self.params.retention
        age = t_s - self.t_prog[cells]
        return np.power((age + r.drift_t0_s) / r.drift_t0_s, -self.nu[cells].astype(np.float64))

    def conductance(self, t_s: float | None = None, cells=slice(None)) -> np.ndarray:
        """True small-signal conductance (S) of cells at time ``t_s`` (default: now), no RTN.

        With the default ``cells`` the result is the (rows, cols) map.
        """
        t_s = self.clock.now_s if t_s is None else t_s
        g_off = self.g_off[cells].astype(np.float64)
        g = g_off + (self.g_prog[cells] - g_off) * self._drift(cells, t_s)
        return g.reshape(self.shape) if isinstance(cells, slice) and cells == slice(None) else g

    def switched_fraction(self) -> np.ndarray:
        """Switched (ON) area fraction of every cell, (rows, cols)."""
        return self.domains.switched_fraction().reshape(self.shape)

    def current_factor(self, volts) -> np.ndarray:
        """f(V) = V (1 + (V / V_nl)^2): read current per siemens of conductance."""
        v = np.asarray(volts, dtype=np.float64)
        return v * (1.0 + (v / self.params.conductance.nonlinearity_v) ** 2)

    def rtn_amplitude(self, volts) -> np.ndarray:
        """Bias activation g(V) of every trap's dI/I (dI/I = a0 * g(V))."""
        return activation(self.params.traps, volts)

    # ------------------------------------------------------------------ programming
    def apply_pulse(
        self,
        rows,
        cols,
        volts: float,
        width_s: float,
        count: int = 1,
        period_s: float | None = None,
    ) -> None:
        """A burst of ``count`` rectangular pulses of ``volts`` for ``width_s``, every
        ``period_s`` (default: back to back), on bit lines ``cols`` with word lines ``rows`` on.

        Only those cells see it. Within a same-polarity burst a switched domain stays switched,
        so ``count`` identical pulses switch a domain with probability ``1 - (1 - p)**count``:
        one draw, exact. The clock advances by ``(count - 1) * period_s + width_s``. The
        traps are left alone (a pulse counts as idle time for them; they are advanced by the
        next read that sees them).
        """
        period_s = width_s if period_s is None else period_s
        if not (np.isfinite(volts) and np.isfinite(width_s) and width_s > 0):
            raise ValueError(
                f"pulse needs finite volts and width > 0 s, got {volts!r}, {width_s!r}"
            )
        if count < 1 or not np.isfinite(period_s) or period_s < width_s:
            raise ValueError(
                f"burst needs count >= 1 and period >= width, got {count!r}, {period_s!r} s"
            )
        cells = self._cells(rows, cols)
        cells = cells[self.stuck[cells] == _STUCK_NONE]
        t = self.clock.now_s
        if cells.size and volts != 0:
            after, ds = self.domains.apply_pulse_fractions(
                cells, np.full(cells.size, float(volts)), width_s, self.rng, count
            )
            moving = ds != 0
            changed = cells[moving]
            self.cycles[changed] += 0.5 * np.abs(ds[moving]).astype(np.float32)
            # Programming resets the retention clock of the cells whose state moved.
            # Cells already at their target keep drifting from their own program time.
            if changed.size:
                g_now = self.conductance(t, changed)
                self._update_g_prog(changed, after[moving])
                moved = self.g_prog[changed] != g_now
                self.t_prog[changed[moved]] = t
                self._t_prog_max = t
                self._refresh_h(changed)
        self.clock.advance((count - 1) * period_s + width_s)

    def apply_bipolar_burst(
        self,
        rows,
        cols,
        v_high: float,
        width_high_s: float,
        v_low: float,
        width_low_s: float,
        count: int,
    ) -> None:
        """``count`` program/erase cycles (``v_high`` for ``width_high_s``, then ``v_low`` for
        ``width_low_s``) on bit lines ``cols`` with word lines ``rows`` on, in one exact step
        (see :meth:`DomainArray.bipolar_burst`); wear counts the switched area."""
        if not (v_high > 0 > v_low and width_high_s > 0 and width_low_s > 0 and count >= 1):
            raise ValueError("bipolar burst needs v_high > 0 > v_low, widths > 0, count >= 1")
        cells = self._cells(rows, cols)
        cells = cells[self.stuck[cells] == _STUCK_NONE]
        t = self.clock.now_s
        if cells.size:
            switched = self.domains.bipolar_burst(
                cells, v_high, width_high_s, v_low, width_low_s, int(count), self.rng
            )
            self.cycles[cells] += (0.5 * switched).astype(np.float32)
            self._update_g_prog(cells)
            self.t_prog[cells] = t + count * (width_high_s + width_low_s)
            self._t_prog_max = float(self.t_prog[cells].max())
            self._refresh_h(cells)
        self.clock.advance(count * (width_high_s + width_low_s))

    # ------------------------------------------------------------------ traps and cache
    def traps_to(self, t_s: float, window: BiasWindow | None = None) -> Flips:
        flips = self.traps.advance(t_s, window)
        if flips.everything:
            self.modulation[:] = self.traps.modulation(self.rows * self.cols)
            self._h_volts = None  # rebuilt on the next whole-array read
        elif flips.ids.size:
            # a trap that flipped back and forth left its cell as it was
            cells = np.unique(self.traps.cell[flips.changed_ids()])
            if cells.size:
                self._recompute_modulation(cells)
                self._refresh_h(cells)
        return flips

    def _recompute_modulation(self, cells: np.ndarray) -> None:
        """``modulation`` of ``cells`` (unique) from their traps' states, exactly (no drift
        from accumulating +-a0 steps in float32)."""
        ids, slot = self.traps.traps_of(cells)
        self.modulation[cells] = np.bincount(
            slot, weights=self.traps.amp0[ids] * self.traps.state[ids], minlength=cells.size
        )

    def _refresh_h(self, cells: np.ndarray) -> None:
        """Bring the cached read matrix up to date for ``cells`` after their traps flipped or
        their conductance changed: the same numbers as a rebuild (:meth:`_ensure_h`) at the
        cache's time and bias."""
        if self._h_volts is None:
            return
        if self._h_act[0] != self._h_volts:  # the activation at the cache's bias, kept
            self._h_act = (self._h_volts, float(self.rtn_amplitude(self._h_volts)))
        act = self._h_act[1]
        g = self.conductance(self._h_time, cells)
        self._g_h[cells] = g
        self._h.ravel()[cells] = g * (1.0 - act * self.modulation[cells])
        self._h32.ravel()[cells] = self._h.ravel()[cells]

    def _ensure_h(self, volts: float, t_s: float) -> None:
        stale = self._h_volts != volts
        if not stale and self._nu_max > 0:
            r = self.params.retention
            young = self._t_prog_max
            change = self._nu_max * abs(
                np.log((t_s - young + r.drift_t0_s) / (self._h_time - young + r.drift_t0_s))
            )
            stale = change > r.drift_refresh_tolerance
        if stale:
            self._h_volts, self._h_time = volts, t_s
            act = float(self.rtn_amplitude(volts))
            g = self.conductance(t_s)
            self._g_h[:] = g.ravel()
            self._h[:] = g * (1.0 - act * self.modulation.reshape(self.shape))
            self._h32[:] = self._h
