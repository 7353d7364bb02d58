"""The event-queue trap engine: the whole array's traps between and during short low-bias reads.

:class:`TrapPopulation` with its :class:`EventQueue` (the model and the other engine,
:func:`~.traps.simulate_traps`, are described in :mod:`.traps`): empty traps get candidate
events at a bounding rate ``Lam0 = lam_c(bound_v)`` and accept them with probability
``lam_c(V)/Lam0`` (thinning, exact for any piecewise-constant bias up to the bound); filled traps
get their exact emission time by integrating the piecewise-constant rate. Traps nobody touches
cost nothing until their next event.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass

import numpy as np

from . import _kernels
from .params import TrapModel
from .traps import Flips, activation, capture_rate, emission_rate, transition_probabilities

# Advances expecting more events than 1/2000 of the traps (they cost one pass over every
# trap) run trap by trap: up to this many events in plain Python (the same loop, so short
# runs do not load numba), more in compiled code (numba).
_PY_CHAIN_EVENTS = 64
_PY_CHAIN_CALLS = 500
_NO_READS = np.zeros((0, 1), dtype=bool)
_NO_VOLTS = np.zeros(1)
_FLIP_FIELDS = ("ids", "times", "sign")


class EventQueue:
    """Next-event times of many traps; pops the due ones in time cost ~ number of events.

    ``next_t`` (one time per trap) is the truth. An *epoch* holds, sorted, the traps whose
    event falls before ``epoch_end``; events rescheduled inside the epoch go to a small
    pending buffer. Entries whose time no longer equals ``next_t`` are stale and skipped.
    Building an epoch is one vectorised pass over all traps; its length adapts so that an
    epoch holds about ``target`` events, which amortises that pass over many pops.
    After :meth:`invalidate` (``next_t`` changed wholesale, e.g. by a trap-by-trap advance,
    which scans ``next_t`` itself) the epoch is rebuilt only when it is next used.
    """

    def __init__(self, next_t: np.ndarray, start_s: float, rate_sum: float, target: int = 1 << 17):
        self.next_t = next_t
        self.target = target
        self.length_s = target / max(rate_sum, 1e-300)
        self._epoch_end = start_s
        self._rebuild_from: float | None = None
        self._ep_t = np.zeros(0)
        self._ep_id = np.zeros(0, dtype=np.int64)
        self._head = 0
        self._pend_t = np.zeros(0)
        self._pend_id = np.zeros(0, dtype=np.int64)
        self.new_epoch(start_s)

    def new_epoch(self, start_s: float) -> None:
        """Collect every event before ``start_s + length`` (call once all earlier ones popped)."""
        while True:
            end = start_s + self.length_s
            ids = np.flatnonzero(self.next_t < end)
            if ids.size <= 4 * self.target or self.length_s < 1e-12:
                break
            self.length_s *= 0.25
        if ids.size < self.target // 4:
            self.length_s *= 2.0
        order = np.argsort(self.next_t[ids])  # SIMD quicksort: 3x the stable sort here
        self._ep_id = ids[order]
        self._ep_t = self.next_t[self._ep_id]
        self._head = 0
        self._pend_t = np.zeros(0)
        self._pend_id = np.zeros(0, dtype=np.int64)
        self._epoch_end = end
        self._rebuild_from = None

    def invalidate(self, start_s: float) -> None:
        """Every event up to ``start_s`` has been fired and ``next_t`` may have changed
        anywhere: the epoch is rebuilt from ``start_s`` when it is next used (not at all while
        only advances that scan ``next_t`` themselves follow; one with few due traps pops them
        from the queue and so rebuilds it)."""
        self._rebuild_from = start_s
        self._ep_t, self._ep_id, self._head = np.zeros(0), np.zeros(0, dtype=np.int64), 0
        self._pend_t, self._pend_id = np.zeros(0), np.zeros(0, dtype=np.int64)

    @property
    def valid(self) -> bool:  # the epoch is built (no invalidate() since the last build)
        return self._rebuild_from is None

    @property
    def epoch_end(self) -> float:
        """End of the current epoch (rebuilding it first if it was invalidated)."""
        if self._rebuild_from is not None:
            self.new_epoch(self._rebuild_from)
        return self._epoch_end

    def push(self, ids: np.ndarray, times: np.ndarray) -> None:
        """Set the next event of ``ids`` to ``times``."""
        self.next_t[ids] = times
        if self._rebuild_from is not None:
            return  # the rebuild collects them from next_t
        inside = times < self._epoch_end
        if np.any(inside):
            self._pend_t = np.concatenate([self._pend_t, times[inside]])
            self._pend_id = np.concatenate([self._pend_id, ids[inside]])

    def pop_due(self, t: float) -> tuple[np.ndarray, np.ndarray]:
        """Remove and return ``(ids, times)`` of the valid events with time <= t <= epoch_end."""
        if self._rebuild_from is not None:
            self.new_epoch(self._rebuild_from)
        j = self._head + int(np.searchsorted(self._ep_t[self._head :], t, side="right"))
        ids, times = self._ep_id[self._head : j], self._ep_t[self._head : j]
        self._head = j
        if self._pend_t.size:
            due = self._pend_t <= t
            if np.any(due):
                ids = np.concatenate([ids, self._pend_id[due]])
                times = np.concatenate([times, self._pend_t[due]])
                self._pend_t, self._pend_id = self._pend_t[~due], self._pend_id[~due]
        if ids.size:
            valid = self.next_t[ids] == times
            ids, times = ids[valid], times[valid]
        return ids, times


@dataclass
class BiasWindow:
    """Back-to-back reads on a NOR array: read k lasts ``[start_s + k*step_s, +step_s)``;
    during it cell (i, j) sits at ``col_volts[j]`` if word line i is on (``row_on[k, i]``),
    else at 0 V. Before and after the window every cell is idle (0 V).
    Cells are flat indices ``i * n_cols + j``."""

    start_s: float
    step_s: float
    row_on: np.ndarray  # (reads, rows) bool
    col_volts: np.ndarray  # (cols,)

    @property
    def end_s(self) -> float:
        return self.start_s + self.row_on.shape[0] * self.step_s

    def read_of(self, times: np.ndarray) -> np.ndarray:
        """Index of the read that contains each time (clipped to the window)."""
        k = ((np.asarray(times) - self.start_s) * (1.0 / self.step_s)).astype(np.int64)
        return np.clip(k, 0, self.row_on.shape[0] - 1)

    def volts_of(self, cells: np.ndarray, times: np.ndarray) -> np.ndarray:
        """Bias (V) of ``cells`` at ``times`` (which must lie inside the window)."""
        rows, cols = np.divmod(cells, self.col_volts.size)
        return np.where(self.row_on[self.read_of(times), rows], self.col_volts[cols], 0.0)

    @property
    def rows_ever_on(self) -> np.ndarray:
        """Whether each word line is on during any read of the window (computed once)."""
        if not hasattr(self, "_rows_ever_on"):
            self._rows_ever_on = self.row_on.any(axis=0)
        return self._rows_ever_on

    def ever_on(self, cells: np.ndarray) -> np.ndarray:
        """Whether each cell is biased during any read of the window."""
        rows, cols = np.divmod(cells, self.col_volts.size)
        return self.rows_ever_on[rows] & (self.col_volts[cols] != 0)


class TrapPopulation:
    """All traps of an array, grouped by cell, with exact kinetics between and during reads."""

    def __init__(
        self,
        params: TrapModel,
        n_cells: int,
        rng: np.random.Generator,
        start_s: float,
        counts: np.ndarray | None = None,
    ):
        """Draw the traps of ``n_cells`` cells (``counts`` per cell, default Poisson)."""
        self.params = params
        self.rng = rng
        area_ratio = params.cell_area_um2 / params.reference_area_um2
        if counts is None:
            counts = rng.poisson(params.traps_per_cell * area_ratio, n_cells)
        self.cell = np.repeat(np.arange(n_cells, dtype=np.int32), counts)
        self.cell_ptr = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
        n = self.cell.size
        z = rng.standard_normal((3, n))
        self.tau_c_ref = (params.tau_capture_ref_s * np.exp(params.tau_log_sigma * z[0])).astype(
            np.float32
        )
        self.tau_e_ref = (params.tau_emission_ref_s * np.exp(params.tau_log_sigma * z[1])).astype(
            np.float32
        )
        amp = params.amplitude / area_ratio * np.exp(params.amplitude_log_sigma * z[2])
        self.amp0 = np.minimum(amp, params.amplitude_cap).astype(np.float32)
        self.bound_v = params.kinetics_bound_v
        lam_c0 = self.capture_rate(np.arange(n), 0.0)
        lam_e0 = self.emission_rate(np.arange(n), 0.0)
        self.state = rng.random(n) < lam_c0 / (lam_c0 + lam_e0)  # stationary at idle
        bound = self.bound_rate(np.arange(n))
        next_t = start_s + rng.standard_exponential(n) / np.where(self.state, lam_e0, bound)
        self._rate_sum = float(np.sum(bound))
        self.queue = EventQueue(next_t, start_s, self._rate_sum)
        self._filled = np.flatnonzero(self.state)
        self._filled_unique = max(16, self._filled.size)
        self.time_s = start_s  # every event up to here has been fired
        self._draws = None  # pre-drawn exponentials and uniforms of the compiled advance
        self._draw_pos = np.zeros(2, dtype=np.int64)
        self._flip_buf = None
        self._chain_calls = 0
        self._quiet: dict[float, bool] = {}

    # -- rates ------------------------------------------------------------------------------
    def capture_rate(self, ids: np.ndarray, volts) -> np.ndarray:
        return capture_rate(self.params, self.tau_c_ref[ids].astype(np.float64), volts)

    def emission_rate(self, ids: np.ndarray, volts) -> np.ndarray:
        return emission_rate(self.params, self.tau_e_ref[ids].astype(np.float64), volts)

    def bound_rate(self, ids: np.ndarray) -> np.ndarray:
        """Thinning bound for empty traps: the capture rate at the bound bias ``bound_v``."""
        return self.capture_rate(ids, self.bound_v)

    def rtn_rel_max(self, volts: float) -> float:
        """The largest RTN of any trap at ``volts``: the std of its dI/I at its stationary
        occupancy p there, ``a0 g(V) sqrt(p (1 - p))``."""
        ids = np.arange(self.state.size)
        lam_c, lam_e = self.capture_rate(ids, volts), self.emission_rate(ids, volts)
        p = lam_c / (lam_c + lam_e)
        rel = self.amp0 * float(activation(self.params, volts)) * np.sqrt(p * (1 - p))
        return float(np.max(rel, initial=0.0))

    def quiet_at(self, volts: float) -> bool:
        """Whether whole-array reads at ``volts`` leave the traps alone: no trap's RTN there
        exceeds ``quiet_rtn_rel`` (:meth:`rtn_rel_max`). Such reads neither advance nor bias
        the traps; they see the states as last advanced (the time they take counts as idle
        for the traps, like a program pulse's)."""
        v = abs(float(volts))
        quiet = self._quiet.get(v)
        if quiet is None:
            quiet = self._quiet[v] = self.rtn_rel_max(v) <= self.params.quiet_rtn_rel
        return quiet

    def raise_bound(self, volts: float, t_s: float) -> None:
        """Whole-array reads now reach ``volts``: raise the thinning bound and redraw every
        empty trap's next candidate from ``t_s`` (exact: the process is memoryless).
        Call only when every event up to ``t_s`` has been fired."""
        self.bound_v = float(volts)
        empty = np.flatnonzero(~self.state)
        bound = self.bound_rate(empty)
        self.queue.next_t[empty] = t_s + self.rng.standard_exponential(empty.size) / bound
        self._rate_sum = float(np.sum(self.bound_rate(np.arange(self.state.size))))
        self.queue.length_s = self.queue.target / max(self._rate_sum, 1e-300)
        self.queue.invalidate(t_s)

    def traps_of(self, cells: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Trap ids of ``cells`` and, for each, the position of its cell in ``cells``."""
        lo = self.cell_ptr[cells]
        counts = self.cell_ptr[cells + 1] - lo
        slot = np.repeat(np.arange(cells.size), counts)
        first = np.concatenate([[0], np.cumsum(counts)[:-1]]).astype(np.int64)
        ids = np.arange(slot.size) + np.repeat(lo - first, counts)
        return ids, slot

    def modulation(self, n_cells: int) -> np.ndarray:
        """Per cell ``sum(a0 * state)`` (the dI/I at full activation)."""
        return np.bincount(self.cell, weights=self.amp0 * self.state, minlength=n_cells)

    @property
    def nbytes(self) -> int:
        arrays = (self.cell, self.cell_ptr, self.tau_c_ref, self.tau_e_ref, self.amp0, self.state)
        return sum(a.nbytes for a in arrays) + self.queue.next_t.nbytes

    # -- exact scheduling -------------------------------------------------------------------
    def _emission_after(self, ids, t, window: BiasWindow | None) -> np.ndarray:
        """Exact emission time of filled traps from ``t`` (>= window start), integrating the
        piecewise-constant emission rate over the reads of ``window`` and idle after it.

        ``lam_e(V) = lam_e(0) * exp(-V / emission_slope_v)``: the rate of each read is the
        idle rate times a factor that depends only on the cell's bias in that read. Reads are
        integrated a few at a time from the current one until the hazard is spent.
        """
        e = self.rng.standard_exponential(ids.size)
        lam_idle = self.emission_rate(ids, 0.0)
        if window is not None and ids.size and "numba" in sys.modules and _kernels.AVAILABLE:
            out = np.empty(ids.size)  # compiled: the same arithmetic without numpy passes
            volts = np.asarray(window.col_volts, dtype=np.float64)
            _kernels.emission_times(
                np.ascontiguousarray(t, dtype=np.float64), e, lam_idle, self.cell[ids],
                window.rows_ever_on, np.ascontiguousarray(window.row_on, dtype=bool), volts,
                np.exp(-volts / self.params.emission_slope_v), float(window.start_s),
                float(window.step_s), out,
            )  # fmt: skip
            return out
        out = t + e / lam_idle
        if window is None or ids.size == 0:
            return out
        act = np.flatnonzero(window.ever_on(self.cell[ids]) & (t < window.end_s))
        n_reads, step = window.row_on.shape[0], window.step_s
        rows, cols = np.divmod(self.cell[ids[act]], window.col_volts.size)
        on_factor = np.exp(-window.col_volts[cols] / self.params.emission_slope_v)
        cur, left, lam = t[act], e[act], lam_idle[act]
        # Most emissions come within the current read: settle those directly.
        r0 = window.read_of(cur)
        rate0 = lam * np.where(window.row_on[r0, rows], on_factor, 1.0)
        room = rate0 * (window.start_s + (r0 + 1) * step - cur)
        now = left < room
        out[act[now]] = cur[now] + left[now] / rate0[now]
        later = ~now
        act, rows, on_factor, lam = act[later], rows[later], on_factor[later], lam[later]
        left = left[later] - room[later]
        cur = window.start_s + (r0[later] + 1) * step
        look = np.arange(4)
        while act.size:
            reads = window.read_of(cur)[:, None] + look  # (traps, 4)
            valid = reads < n_reads
            reads_c = np.minimum(reads, n_reads - 1)
            seg_start = window.start_s + reads * step
            on = window.row_on[reads_c, rows[:, None]] & valid
            rate = lam[:, None] * np.where(on, on_factor[:, None], 1.0)
            dur = np.clip(seg_start + step - np.maximum(cur[:, None], seg_start), 0.0, None)
            dur[~valid] = np.inf  # after the window: idle for ever
            hazard = np.cumsum(rate * dur, axis=1)
            k = (hazard < left[:, None]).sum(axis=1)
            hit = k < look.size
            if np.any(hit):
                r = np.flatnonzero(hit)
                kh = k[hit]
                before = np.where(kh > 0, hazard[r, np.maximum(kh - 1, 0)], 0.0)
                begin = np.maximum(cur[hit], seg_start[r, kh])
                out[act[hit]] = begin + (left[hit] - before) / rate[r, kh]
            miss = ~hit
            act, rows, on_factor, lam = act[miss], rows[miss], on_factor[miss], lam[miss]
            left = left[miss] - hazard[miss, -1]
            cur = seg_start[miss, -1] + step
        return out

    def advance(self, t_to: float, window: BiasWindow | None = None) -> Flips:
        """Fire every event up to ``t_to`` (exact while every bias is <= ``bound_v``)."""
        if t_to <= self.time_s:  # every event up to time_s has been fired; later ones are later
            return Flips.none(grouped=True)
        expected = (t_to - self.time_s) * self._rate_sum
        if window is None and (
            expected > 2 * self.state.size
            or (expected > _PY_CHAIN_EVENTS and "numba" not in sys.modules)
        ):
            # a long idle, or one too long for the Python loop before anything loaded the
            # compiled one (e.g. the catch-up after quiet reads): one exact jump
            return self._jump_idle(t_to)
        # Trap by trap: the two loops give bit-identical results (a test checks): compiled
        # once numba is loaded anyway, the advance is long or the simulation runs long (many
        # advances), else Python (a short run does not load numba). The due traps come from
        # a scan of every trap when many are due, else from the event queue.
        self._chain_calls += 1
        kernel = None
        if _kernels.AVAILABLE and (
            expected > _PY_CHAIN_EVENTS
            or self._chain_calls > _PY_CHAIN_CALLS
            or "numba" in sys.modules
        ):
            kernel = _kernels.trap_chains
        elif expected <= _PY_CHAIN_EVENTS:
            kernel = _kernels.trap_chains.py_func
        if kernel is not None:
            due = None
            if expected <= self.state.size / 2000 and t_to <= self.queue.epoch_end:
                due = self.queue.pop_due(t_to)[0]
            return self._advance_chains(t_to, window, kernel, due)
        self.time_s = max(self.time_s, t_to)
        q = self.queue
        flips: list[Flips] = []
        while True:
            chunk = min(t_to, q.epoch_end)
            ids, times = q.pop_due(chunk)
            if ids.size == 0:
                if chunk >= t_to:
                    break
                q.new_epoch(chunk)
                continue
            earliest_new = self._fire(ids, times, window, chunk, flips)
            # pop_due took everything <= chunk; only rescheduled events can still be due.
            if earliest_new > chunk and chunk >= t_to:
                break
        if not flips:
            return Flips.none()
        if len(flips) == 1:
            return flips[0]
        return Flips(
            np.concatenate([f.ids for f in flips]),
            np.concatenate([f.times for f in flips]),
            np.concatenate([f.sign for f in flips]),
        )

    def _advance_chains(
        self, t_to: float, window: BiasWindow | None, kernel, due: np.ndarray | None = None
    ) -> Flips:
        """:meth:`advance` trap by trap in compiled code: the same events (candidates at the
        bound rate thinned by the bias, emissions integrated over the reads) as the
        vectorised rounds through the queue, without a numpy pass per round.

        ``due``: the traps with an event up to ``t_to``, popped from the queue (default: a
        scan of every trap). The flips come trap by trap, each trap's in time order
        (``Flips.grouped``)."""
        q = self.queue
        ids = np.flatnonzero(q.next_t <= t_to) if due is None else due
        self.time_s = max(self.time_s, t_to)
        if ids.size == 0:
            return Flips.none(grouped=True)
        touched, n = ids, self.state.size
        p = self.params
        if window is None:
            ws, step, row_on, col_volts = 0.0, 1.0, _NO_READS, _NO_VOLTS
        else:
            ws, step = float(window.start_s), float(window.step_s)
            row_on = np.ascontiguousarray(window.row_on, dtype=bool)
            col_volts = np.asarray(window.col_volts, dtype=np.float64)
        # per trap, bound rate = b_scale / tau_c_ref and idle emission rate = e_scale / tau_e_ref,
        # the same numbers as bound_rate() and emission_rate(ids, 0) (no per-trap rate arrays:
        # the loop touches each due trap's entries once, at random, so fewer bytes are faster)
        b_scale = float(capture_rate(p, 1.0, self.bound_v))
        e_scale = float(emission_rate(p, 1.0, 0.0))
        accept_scale = float(np.exp(-self.bound_v / p.capture_slope_v))
        parts = []
        while ids.size:
            if self._draws is None or self._draw_pos[0] + 64 > self._draws[0].size:
                n_draw = max(4096, 4 * ids.size)
                self._draws = (self.rng.standard_exponential(n_draw), self.rng.random(n_draw))
                self._draw_pos = np.zeros(2, dtype=np.int64)
                self._flip_buf = (
                    *(np.empty(n_draw, np.int64), np.empty(n_draw), np.empty(n_draw)),
                    *(np.empty(n_draw, np.int32), np.empty(n_draw, np.float32)),
                )
            exps, unif = self._draws
            f_ids, f_t, f_sign, f_cell, f_amp = self._flip_buf
            nf, done = kernel(
                ids,
                self.state,
                q.next_t,
                self.cell,
                self.tau_c_ref,
                self.tau_e_ref,
                b_scale,
                e_scale,
                float(t_to),
                accept_scale,
                float(p.capture_slope_v),
                ws,
                step,
                row_on,
                col_volts,
                col_volts.size,
                float(p.emission_slope_v),
                exps,
                unif,
                f_ids,
                f_t,
                f_sign,
                self._draw_pos,
                self.amp0,
                f_cell,
                f_amp,
            )
            flips = Flips(f_ids[:nf].copy(), f_t[:nf].copy(), f_sign[:nf].copy())
            flips.cells, flips.amps = f_cell[:nf].copy(), f_amp[:nf].copy()
            parts.append(flips)
            ids = ids[done:]
            if ids.size:  # ran low: fresh draws
                self._draws = None
        self._filled = np.concatenate([self._filled, touched[self.state[touched]]])
        # the touched traps' queue entries are stale now: re-enter them, or rebuild later
        if not q.valid or t_to >= q.epoch_end or q._pend_t.size + touched.size > max(4096, n):
            q.invalidate(t_to)
        else:
            q.push(touched, q.next_t[touched])
        # a trap left unfinished by one kernel call continues at the start of the next part
        if len(parts) == 1:
            parts[0].grouped = True
            return parts[0]
        flips = Flips(*(np.concatenate([getattr(f, k) for f in parts]) for k in _FLIP_FIELDS))
        flips.grouped = True
        flips.cells = np.concatenate([f.cells for f in parts])
        flips.amps = np.concatenate([f.amps for f in parts])
        return flips

    def _jump_idle(self, t_to: float) -> Flips:
        """Exact jump over a long idle (constant 0 V rates): one transition draw per trap."""
        n = self.state.size
        dt = t_to - self.time_s
        all_ids = np.arange(n)
        lam_c, lam_e = self.capture_rate(all_ids, 0.0), self.emission_rate(all_ids, 0.0)
        p01, p10 = transition_probabilities(lam_c, lam_e, dt)
        u = self.rng.random(n)
        jumped = np.where(self.state, u >= p10, u < p01)
        e = self.rng.standard_exponential(n)
        nxt = t_to + e / np.where(jumped, lam_e, self.bound_rate(all_ids))
        held = getattr(self, "_suspended", None)
        if held is not None and held.any():  # traps simulated elsewhere keep their state
            jumped[held] = self.state[held]
            nxt[held] = np.inf
        self.state = jumped
        self._filled = np.flatnonzero(self.state)
        self.queue.next_t[:] = nxt
        self.queue.invalidate(t_to)
        self.time_s = t_to
        return Flips.none(everything=True)

    def _fire(self, ids, times, window, t_limit: float, flips: list[Flips]) -> float:
        """Process due events; returns the earliest rescheduled time."""
        rng = self.rng
        filled = self.state[ids]
        bound = self.bound_rate(ids)
        # Empty traps: a candidate at the bound rate, accepted with lam_c(V) / bound
        # = exp((V - bound_v) / capture_slope_v), the same for every trap at a given bias.
        cand, tc = ids[~filled], times[~filled]
        volts = np.zeros(cand.size)
        if window is not None and cand.size:
            inside = (tc >= window.start_s) & (tc < window.end_s)
            volts[inside] = window.volts_of(self.cell[cand[inside]], tc[inside])
        ratio = np.exp((volts - self.bound_v) / self.params.capture_slope_v)
        accept = rng.random(cand.size) < ratio
        cap, tcap = cand[accept], tc[accept]
        # Filled traps: the popped time is their exact emission.
        em, tem = ids[filled], times[filled]
        # A capture usually empties again within the same read (tau_e is short at low bias):
        # resolve it here instead of another round through the queue.
        t_emit = self._emission_after(cap, tcap, window)
        quick = t_emit <= t_limit
        e_ids = np.concatenate([em, cap[quick]])
        e_t = np.concatenate([tem, t_emit[quick]])
        self.state[cap] = True
        self.state[e_ids] = False
        stay = cap[~quick]
        self._filled = np.concatenate([self._filled, stay])
        # next events: a new candidate after emissions and rejections, emission for the rest
        after = np.concatenate([e_t, tc[~accept]])
        after_ids = np.concatenate([e_ids, cand[~accept]])
        after_bound = np.concatenate(
            [bound[filled], self.bound_rate(cap[quick]), bound[~filled][~accept]]
        )
        nxt_ids = np.concatenate([after_ids, stay])
        nxt_t = np.concatenate(
            [after + rng.standard_exponential(after.size) / after_bound, t_emit[~quick]]
        )
        self.queue.push(nxt_ids, nxt_t)
        flips.append(
            Flips(
                np.concatenate([cap, e_ids]),
                np.concatenate([tcap, e_t]),
                np.concatenate([np.ones(cap.size), -np.ones(e_ids.size)]),
            )
        )
        return float(nxt_t.min()) if nxt_t.size else np.inf

    def open_window(self, window: BiasWindow) -> None:
        """A read starts: redraw the emission of filled traps whose cell becomes biased."""
        f = self._filled[self.state[self._filled]]
        if f.size > 2 * self._filled_unique:  # duplicates only cost time: compact rarely
            f = np.unique(f)
            self._filled_unique = f.size
        self._filled = f
        if f.size == 0:
            return
        hit = f[window.ever_on(self.cell[f])]
        if hit.size:
            self.queue.push(
                hit, self._emission_after(hit, np.full(hit.size, window.start_s), window)
            )

    def set_states(self, ids: np.ndarray, states: np.ndarray, t_s: float) -> None:
        """Traps simulated explicitly until ``t_s``: store their states, schedule from ``t_s``."""
        self._quiet.clear()
        if hasattr(self, "_suspended"):
            self._suspended[ids] = False
        self.state[ids] = states
        filled = ids[states]
        self._filled = np.concatenate([self._filled, filled])
        nxt = np.empty(ids.size)
        e = self.rng.standard_exponential(ids.size)
        nxt[states] = t_s + e[states] / self.emission_rate(filled, 0.0)
        empty = ids[~states]
        nxt[~states] = t_s + e[~states] / self.bound_rate(empty)
        self.queue.push(ids, nxt)

    def suspend(self, ids: np.ndarray) -> None:
        """Take traps out of the queue while they are simulated explicitly; they return with
        :meth:`set_states`. Suspended traps are left alone by :meth:`advance`."""
        self.queue.next_t[ids] = np.inf  # any queue entry of theirs is now stale
        if not hasattr(self, "_suspended"):
            self._suspended = np.zeros(self.state.size, dtype=bool)
        self._suspended[ids] = True
