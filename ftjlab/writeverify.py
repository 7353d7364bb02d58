"""Write-verify programming of multi-level conductances: per-cell rule, row-parallel and
cell-serial schedules, and the report.

The per-cell rule (:class:`CellRule`) is the same in both schedules: incremental-step pulses
in both directions with a verify after each; a cell starts a little below the amplitude that
earlier cells needed for a similar level (learned as the pass goes), steps up while nothing
moves, and reverses the polarity and restarts lower on an overshoot.

- **Row-parallel** (:func:`program_rows`, what an array tester does): per iteration every
  unconverged cell of a word line gets one pulse, cells that need the same polarity and
  amplitude class together (the matrix connects just their bit lines to the pulser; cells
  that are done stay disconnected), and then the cells that were pulsed are verified in one
  on-instrument sequence. Amplitudes are rounded down to the class grid, so a cell never gets
  more than its rule asks for.
- **Cell-serial** (:func:`program_serial`): one cell at a time, a verify after every pulse
  (the reference the row-parallel schedule is checked against).

Both use only the controller's operations (:meth:`ArrayController.read_cells`,
:meth:`ArrayController.apply_pulses`, :meth:`ArrayController.pulse_pair`), so they run on any bench.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from ftjlab.errors import MeasurementFailed

if TYPE_CHECKING:
    from ftjlab.controller import ArrayController


@dataclass
class CellOutcome:
    """Result of programming one cell: final conductance (S), pulses used, success, why not."""

    row: int
    col: int
    target_s: float
    final_s: float
    pulses: int
    ok: bool
    reason: str = ""


@dataclass
class WriteVerifyReport:
    """Per-cell outcomes of a write-verify pass and the figures a researcher checks."""

    targets_s: np.ndarray
    final_s: np.ndarray
    pulses: np.ndarray
    ok: np.ndarray
    reasons: dict[tuple[int, int], str] = field(default_factory=dict)
    g_range_s: tuple[float, float] = (0.0, 0.0)

    @property
    def error_rel(self) -> np.ndarray:
        """(final - target) / (G_on - G_off) for programmed cells (NaN elsewhere)."""
        lo, hi = self.g_range_s
        return (self.final_s - self.targets_s) / (hi - lo)

    @property
    def error_sigma_rel(self) -> float:
        """RMS of the final error over every programmed cell, failures included."""
        err = self.error_rel
        return float(np.sqrt(np.nanmean(err**2)))

    @property
    def error_sigma_converged_rel(self) -> float:
        """RMS of the final error over the cells that reached their tolerance (failed cells,
        e.g. stuck devices, are listed in :meth:`failures` instead)."""
        err = self.error_rel[self.ok]
        return float(np.sqrt(np.mean(err**2))) if err.size else float("nan")

    @property
    def mean_pulses(self) -> float:
        return float(np.mean(self.pulses[np.isfinite(self.targets_s)]))

    def failures(self) -> list[str]:
        """One line per failed cell: position, target, final value, reason."""
        lines = []
        for (r, c), why in sorted(self.reasons.items()):
            lines.append(
                f"cell ({r}, {c}): target {self.targets_s[r, c] * 1e9:.2f} nS, "
                f"reached {self.final_s[r, c] * 1e9:.2f} nS: {why}"
            )
        return lines


@dataclass
class Settings:
    """Write-verify parameters (see :meth:`ArrayController.write_verify`)."""

    tol_s: float
    lo_s: float
    hi_s: float
    read_v: float
    nplc: float
    width_s: float
    v_start: float
    v_step: float
    v_max: float
    max_pulses: int


class Curves:
    """Learned program amplitudes per polarity: (level reached, volts) as cells program."""

    def __init__(self) -> None:
        self.points: dict[int, list[tuple[float, float]]] = {}

    def start(self, level: float, direction: int, v_start: float) -> float:
        """First amplitude for ``direction``: a little below what moved earlier cells to a
        similar level, or ``v_start`` before anything is known."""
        curve = self.points.get(direction, [])
        if len(curve) < 8:
            return v_start
        levels, volts = np.array(curve[-512:]).T
        near = np.abs(levels - level) < 0.15 if direction > 0 else np.ones(levels.size, bool)
        if np.count_nonzero(near) < 4:
            return v_start
        return max(v_start, float(np.percentile(volts[near], 25)))

    def learn(self, direction: int, level: float, volts: float) -> None:
        self.points.setdefault(direction, []).append((level, volts))

    def known(self, points: int = 32) -> bool:
        """Whether both polarities have learned from at least ``points`` cells."""
        return all(len(self.points.get(d, ())) >= points for d in (1, -1))


class CellRule:
    """The state of one cell under write-verify, and its next step."""

    __slots__ = (
        "amplitude",
        "applied",
        "col",
        "direction",
        "done",
        "g",
        "last_moved",
        "moved_ever",
        "n",
        "ok",
        "reason",
        "row",
        "still",
        "target",
    )

    def __init__(self, row: int, col: int, target: float) -> None:
        self.row, self.col, self.target = row, col, target
        self.g = math.nan
        self.n = 0
        self.direction = 0
        self.amplitude = 0.0
        self.applied = 0.0  # amplitude of the last pulse (the rule's, or its class)
        self.last_moved: dict[int, float] = {}
        self.still = 0
        self.moved_ever = False
        self.done = False
        self.ok = False
        self.reason = ""

    def next_pulse(self, s: Settings, curves: Curves) -> float:
        """Signed amplitude of the next pulse, or 0 when the cell is finished (``done``)."""
        if abs(self.g - self.target) <= s.tol_s:
            self.done, self.ok = True, True
            return 0.0
        if self.n >= s.max_pulses:
            self.done = True
            self.reason = (f"no convergence in {self.n} pulses "
                           "(steps coarser than the tolerance here?)")
            return 0.0
        want = 1 if self.g < self.target else -1
        if want != self.direction:
            known = self.last_moved.get(want)
            level = (self.target - s.lo_s) / (s.hi_s - s.lo_s)
            self.amplitude = (known - s.v_step) if known is not None else (
                curves.start(level, want, s.v_start)
            )
            self.direction, self.still = want, 0
        else:
            self.amplitude += s.v_step * (1 + min(self.still, 3))  # faster while nothing moves
        self.applied = self.amplitude
        if self.amplitude > s.v_max:
            self.done = True
            self.reason = (f"target not reachable with pulses up to {s.v_max} V"
                           if self.moved_ever
                           else f"stuck: no change with pulses up to {s.v_max} V")
            return 0.0
        return self.direction * self.amplitude

    def verified(self, g_new: float, s: Settings, curves: Curves) -> None:
        """Take the verify reading after a pulse of ``self.amplitude``."""
        self.n += 1
        if abs(g_new - self.g) > 0.3 * s.tol_s:
            self.last_moved[self.direction] = self.applied
            curves.learn(self.direction, (g_new - s.lo_s) / (s.hi_s - s.lo_s), self.applied)
            self.moved_ever, self.still = True, 0
        else:
            self.still += 1
        self.g = g_new

    def outcome(self) -> CellOutcome:
        return CellOutcome(self.row, self.col, self.target, self.g, self.n, self.ok, self.reason)


def amplitude_class(volts: float, grid_v: float) -> float:
    """``volts`` rounded down to the class grid (never more than the rule asked for)."""
    return math.floor(volts / grid_v + 1e-9) * grid_v


def program_rows(
    c: ArrayController,
    cells: Sequence[tuple[int, int, float]],
    s: Settings,
    curves: Curves,
    class_v: float,
    on_cell: Callable[[CellOutcome], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
    known: dict[tuple[int, int], float] | None = None,
) -> list[CellOutcome]:
    """Row-parallel write-verify of ``cells`` ``(row, col, target_s)`` (see the module
    docstring); pulses of one iteration are grouped by polarity and amplitude class
    (``class_v`` grid). ``known``: conductances (S) of cells just measured at the verify
    settings, which start from them instead of a reading of their own."""
    known = known or {}
    by_row: dict[int, list[CellRule]] = {}
    for r, col, target in cells:
        by_row.setdefault(int(r), []).append(CellRule(int(r), int(col), float(target)))
    out: list[CellOutcome] = []
    for r, rules in by_row.items():
        if should_stop is not None and should_stop():
            break
        unread = [x for x in rules if (x.row, x.col) not in known]
        g = c.read_cells(r, [x.col for x in unread], s.read_v, s.nplc) / s.read_v
        for x, value in zip(unread, g, strict=True):
            x.g = float(value)
        for x in rules:
            x.g = known.get((x.row, x.col), x.g)
        active = list(rules)
        while active:
            groups: dict[tuple[int, float], list[CellRule]] = {}
            for x in active:
                volts = x.next_pulse(s, curves)
                if x.done:
                    out.append(x.outcome())
                    if on_cell is not None:
                        on_cell(out[-1])
                    continue
                x.applied = max(amplitude_class(abs(volts), class_v), class_v)
                groups.setdefault((x.direction, round(x.applied, 9)), []).append(x)
            active = [x for x in active if not x.done]
            if not active:
                break
            if should_stop is not None and should_stop():
                for x in active:
                    x.done, x.reason = True, "stopped before it converged"
                    out.append(x.outcome())
                break
            # program and erase classes in pairs: one trigger fires both generator outputs
            ups = sorted((v, m) for (d, v), m in groups.items() if d > 0)
            downs = sorted((v, m) for (d, v), m in groups.items() if d < 0)
            for k in range(max(len(ups), len(downs))):
                up_v, up = ups[k] if k < len(ups) else (0.0, [])
                down_v, down = downs[k] if k < len(downs) else (0.0, [])
                c.pulse_pair(r, [x.col for x in up], up_v, [x.col for x in down], -down_v,
                             s.width_s)
            g = c.read_cells(r, [x.col for x in active], s.read_v, s.nplc) / s.read_v
            for x, value in zip(active, g, strict=True):
                x.verified(float(value), s, curves)
    return out


def program_serial(
    c: ArrayController,
    cells: Sequence[tuple[int, int, float]],
    s: Settings,
    curves: Curves,
    on_cell: Callable[[CellOutcome], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
    known: dict[tuple[int, int], float] | None = None,
) -> list[CellOutcome]:
    """Cell-by-cell write-verify of ``cells`` ``(row, col, target_s)`` (``known``: as for
    :func:`program_rows`)."""
    known = known or {}
    out: list[CellOutcome] = []
    for r, col, target in cells:
        if should_stop is not None and should_stop():
            break
        x = CellRule(int(r), int(col), float(target))
        x.g = known[(x.row, x.col)] if (x.row, x.col) in known else float(
            c.read_cells(x.row, [x.col], s.read_v, s.nplc)[0]) / s.read_v
        while True:
            volts = x.next_pulse(s, curves)
            if x.done:
                break
            c.apply_pulses([x.row], [x.col], volts, s.width_s)
            g = float(c.read_cells(x.row, [x.col], s.read_v, s.nplc)[0]) / s.read_v
            x.verified(g, s, curves)
        out.append(x.outcome())
        if on_cell is not None:
            on_cell(out[-1])
    return out


#: what an on-board row program's per-cell code means
_CODES = {
    1: "no convergence in {n} pulses (steps coarser than the tolerance here?)",
    2: "target not reachable with pulses up to {vmax} V",
    3: "stuck: no change with pulses up to {vmax} V",
}


#: cells one call of the on-board row program carries at most (whole word lines, in order;
#: the call stops after its time budget and the next one continues)
ONBOARD_CELLS = 64


@dataclass
class _Unit:
    """Cells of one word line not finished yet, with their program state: per cell ``fr``
    (to be read first), ``g``, ``n``, ``d``, ``a``, ``lu``, ``ld``, ``st``, ``mv``."""

    row: int
    items: list[tuple[int, float]]
    state: list[list[float]]
    started: bool = False  # the program reached this word line


def program_rows_onboard(
    c: ArrayController,
    cells: Sequence[tuple[int, int, float]],
    s: Settings,
    curves: Curves,
    class_v: float,
    on_cell: Callable[[CellOutcome], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
    budget_s: float = 0.8,
    known: dict[tuple[int, int], float] | None = None,
) -> list[CellOutcome]:
    """Row-parallel write-verify with the whole loop on the instrument
    (:meth:`ArrayController.program_rows_onboard`): the same per-cell rule and classes as
    :func:`program_rows`, word line after word line, several word lines per call (at most
    :data:`ONBOARD_CELLS` cells), one message and one reply per ``budget_s`` of instrument
    time (``known``: as for :func:`program_rows`)."""
    known = known or {}
    by_row: dict[int, list[tuple[int, float]]] = {}
    for r, col, target in cells:
        by_row.setdefault(int(r), []).append((int(col), float(target)))

    def start(r: int, col: int) -> list[float]:  # fr, g, then zeros
        g = known.get((r, col))
        return [1.0, 0.0] if g is None else [0.0, g * s.read_v]

    queue = [_Unit(r, items[k:k + 64], [start(r, col) + [0.0] * 7 for col, _ in items[k:k + 64]])
             for r, items in by_row.items() for k in range(0, len(items), 64)]
    out: list[CellOutcome] = []
    while queue:
        if should_stop is not None and should_stop():
            for u in queue:
                if u.started:
                    out.extend(_onboard_outcome(u.row, col, target, x, 9, s)
                               for (col, target), x in zip(u.items, u.state, strict=True))
            break
        batch = queue[:1]
        cells_in = len(queue[0].items)
        # more word lines per call once the start amplitudes are learned (each call starts
        # its cells from what the calls before it learned)
        for u in queue[1:] if curves.known() else ():
            if cells_in + len(u.items) > ONBOARD_CELLS:
                break
            batch.append(u)
            cells_in += len(u.items)
        results = _onboard_call(c, batch, s, curves, class_v, budget_s)
        if len(results) != cells_in:
            raise MeasurementFailed(
                f"the row program returned {len(results)} cells, not {cells_in}")
        first = 0
        for u in batch:
            left = []
            mine, first = results[first:first + len(u.items)], first + len(u.items)
            for (col, target), res, before in zip(u.items, mine, u.state, strict=True):
                g_a, n, code, d, a, lu, ld, st, mv, fr = res
                x = [fr, g_a, n, d, min(a, s.v_max), lu, ld, st, mv]
                u.started = u.started or int(code) != 9 or x[0] != before[0] or x[2] != before[2]
                if int(code) == 9:
                    left.append(((col, target), x))
                    continue
                outcome = _onboard_outcome(u.row, col, target, x, int(code), s)
                level = (outcome.final_s - s.lo_s) / (s.hi_s - s.lo_s)
                for direction, volts in ((1, lu), (-1, ld)):
                    if volts > 0:
                        curves.learn(direction, level, volts)
                out.append(outcome)
                if on_cell is not None:
                    on_cell(outcome)
            u.items, u.state = [i for i, _ in left], [x for _, x in left]
        queue = [u for u in queue if u.items]
    return out


def _onboard_call(c, batch: list[_Unit], s: Settings, curves: Curves, class_v: float,
                  budget_s: float) -> list[tuple[float, ...]]:
    targets = [t for u in batch for _, t in u.items]
    starts = {  # per target level (a few distinct ones) and polarity
        t: tuple(min(curves.start((t - s.lo_s) / (s.hi_s - s.lo_s), d, s.v_start), s.v_max)
                 for d in (1, -1))
        for t in set(targets)}
    state = [list(column) for column in zip(*(x for u in batch for x in u.state), strict=True)]
    return c.program_rows_onboard(
        [u.row for u in batch], [[col for col, _ in u.items] for u in batch],
        [t * s.read_v for t in targets], [starts[t][0] for t in targets],
        [starts[t][1] for t in targets], state,
        (s.tol_s * s.read_v, s.v_step, s.v_max, s.max_pulses, class_v, budget_s),
        s.read_v, s.nplc, s.width_s,
    )


def _onboard_outcome(row: int, col: int, target: float, x: list[float], code: int,
                     s: Settings) -> CellOutcome:
    """A cell's outcome from its on-board program state ``x`` and code."""
    reason = "" if code == 0 else (
        "stopped before it converged" if code == 9
        else _CODES[code].format(n=int(x[2]), vmax=s.v_max))
    return CellOutcome(row, col, target, x[1] / s.read_v, int(x[2]), code == 0, reason)
