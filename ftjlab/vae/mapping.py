"""Decoder weights -> differential conductance pairs on the FTJ array.

A weight ``w`` of a tile is held by two cells, ``w = scale * (G+ - G-)``, each cell at one of
the device's ``n_levels`` conductance levels ``g_lo + k * step`` (k = 0 .. n_levels - 1; level
0 is the erased state). The tile's ``scale`` (weight units per siemens) maps its largest
|w| to the full level range, so ``w`` is quantised to ``2 * n_levels - 1`` values.

Layout: a layer's (in, out) weight matrix is cut into tiles of at most ``tile_rows`` inputs x
``tile_cols // 2`` outputs; tile inputs drive consecutive word lines, and its outputs use two
column groups, G+ on bit lines ``col0 .. col0 + k - 1`` and G- on ``col0 + k .. col0 + 2k - 1``.
Tiles are packed onto the array in shelves (each layer starts a new shelf); when the array
is full, a new *load* begins (the array is reprogrammed for it). Partial sums of tiles that
share outputs are added digitally
(each tile has its own scale), and biases are added digitally.

Programming is pluggable: a *programmer* is any callable ``programmer(targets_s) -> report``
taking a (rows, cols) map of target conductances (NaN: leave the cell alone) and returning a
:class:`ProgramReport` whose ``measured_s`` is the measured map. :func:`simulator_programmer`
programs an :class:`~ftjlab.simulators.array.FTJArray` directly by pulse-based
program-and-verify; the bench-level write-verify through the instruments plugs in the same way.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from ftjlab.errors import BadInput
from ftjlab.simulators.params import ConductanceModel, SwitchingModel

VMM_BIAS_V = 0.2


# ----------------------------------------------------------------------------------- levels
@dataclass(frozen=True)
class ConductanceLevels:
    """The conductance levels one cell holds: ``g_lo + k * step``, k = 0 .. n_levels - 1.

    ``device_range_s`` is the device's [G_off, G_on]; every level must lie inside it.
    """

    g_lo_s: float
    g_hi_s: float
    n_levels: int
    device_range_s: tuple[float, float]

    def __post_init__(self) -> None:
        lo, hi = self.device_range_s
        if not (math.isfinite(self.g_lo_s) and math.isfinite(self.g_hi_s)):
            raise BadInput(f"levels: g_lo/g_hi must be finite, got {self.g_lo_s}, {self.g_hi_s}")
        if self.n_levels < 2:
            raise BadInput(f"levels: n_levels must be >= 2, got {self.n_levels}")
        if not self.g_lo_s < self.g_hi_s:
            raise BadInput(
                f"levels: need g_lo < g_hi, got {self.g_lo_s:.3g} >= {self.g_hi_s:.3g} S"
            )
        tol = 1e-12 * hi
        if self.g_lo_s < lo - tol or self.g_hi_s > hi + tol:
            raise BadInput(
                f"levels: [{self.g_lo_s:.3g}, {self.g_hi_s:.3g}] S lies outside the device "
                f"range [G_off, G_on] = [{lo:.3g}, {hi:.3g}] S"
            )

    @property
    def step_s(self) -> float:
        return (self.g_hi_s - self.g_lo_s) / (self.n_levels - 1)

    @property
    def values_s(self) -> np.ndarray:
        return self.g_lo_s + self.step_s * np.arange(self.n_levels)

    @classmethod
    def from_model(
        cls, model: ConductanceModel, n_levels: int = 32, margin_sigma: float = 2.5
    ) -> ConductanceLevels:
        """Levels from the device's conductance model: level 0 at the nominal G_off (the erased
        state), the top level ``margin_sigma`` device-to-device sigmas below the nominal G_on so
        nearly every cell can reach it."""
        top = model.g_on_siemens * math.exp(-margin_sigma * model.d2d_sigma_log)
        return cls(
            model.g_off_siemens, top, n_levels, (model.g_off_siemens, model.g_on_siemens)
        )


# ----------------------------------------------------------------------------------- tiles
@dataclass
class Tile:
    """One block of one layer's weights, placed on the array in load ``load`` at (row0, col0).

    ``weight`` is the float block (n_in, n_out); ``q`` its signed integer levels; the cells
    hold ``g_plus = g_lo + max(q, 0) step`` and ``g_minus = g_lo + max(-q, 0) step``;
    ``scale`` converts siemens to weight units: ``w_eff = scale * sign * (G+ - G-)``, where
    ``sign`` (+1 or -1 per output) is the pair's polarity: a pair with a stuck cell may be
    flipped so that the stuck cell sits where it does least harm (see :func:`repair_targets`).
    """

    layer: int
    in_slice: slice
    out_slice: slice
    load: int
    row0: int
    col0: int
    weight: np.ndarray
    q: np.ndarray
    scale: float
    sign: np.ndarray = field(default=None)  # type: ignore[assignment]

    def __post_init__(self) -> None:
        if self.sign is None:
            self.sign = np.ones(self.weight.shape[1], dtype=np.int64)

    @property
    def n_in(self) -> int:
        return self.weight.shape[0]

    @property
    def n_out(self) -> int:
        return self.weight.shape[1]

    @property
    def rows(self) -> np.ndarray:
        """Word lines of the tile's inputs."""
        return self.row0 + np.arange(self.n_in)

    @property
    def plus_cols(self) -> np.ndarray:
        return self.col0 + np.arange(self.n_out)

    @property
    def minus_cols(self) -> np.ndarray:
        return self.col0 + self.n_out + np.arange(self.n_out)

    @property
    def cols(self) -> np.ndarray:
        return self.col0 + np.arange(2 * self.n_out)

    def targets_s(self, levels: ConductanceLevels) -> np.ndarray:
        """Target conductances (n_in, 2 n_out): [G+ | G-] (with each pair's polarity)."""
        sq = self.q * self.sign
        plus = levels.g_lo_s + np.maximum(sq, 0) * levels.step_s
        minus = levels.g_lo_s + np.maximum(-sq, 0) * levels.step_s
        return np.concatenate([plus, minus], axis=1)

    def quantised_weight(self, levels: ConductanceLevels) -> np.ndarray:
        """The weights the ideal levels represent: ``scale * q * step``."""
        return (self.scale * levels.step_s) * self.q

    def effective_weight(self, g_tile_s: np.ndarray) -> np.ndarray:
        """Weights from a measured (n_in, 2 n_out) conductance block of this tile."""
        g = np.asarray(g_tile_s, dtype=np.float64)
        return (self.scale * self.sign) * (g[:, : self.n_out] - g[:, self.n_out :])


def quantise_block(weight: np.ndarray, levels: ConductanceLevels) -> tuple[np.ndarray, float]:
    """Signed integer levels of a weight block and its scale (weight units per siemens).

    ``q = round(w / max|w| * (n_levels - 1))``, ``scale = max|w| / ((n_levels - 1) * step)``.
    """
    top = levels.n_levels - 1
    peak = float(np.max(np.abs(weight))) if weight.size else 0.0
    if peak == 0.0:
        return np.zeros(weight.shape, dtype=np.int64), 1.0 / levels.step_s
    q = np.rint(weight / peak * top).astype(np.int64)
    return q, peak / (top * levels.step_s)


def _check_weight(k: int, w: np.ndarray) -> np.ndarray:
    w = np.asarray(w)
    if w.ndim != 2 or 0 in w.shape:
        raise BadInput(f"layer {k}: weights must be a non-empty (in, out) matrix, got {w.shape}")
    if not np.issubdtype(w.dtype, np.number):
        raise BadInput(f"layer {k}: weights must be numbers, got {w.dtype}")
    if not np.all(np.isfinite(w)):
        raise BadInput(f"layer {k}: weights contain NaN or inf")
    return w.astype(np.float64)


@dataclass
class DecoderMapping:
    """Every layer's tiles, their placement in array loads, and the levels they use."""

    tiles: list[Tile]
    array_shape: tuple[int, int]
    levels: ConductanceLevels
    layer_shapes: list[tuple[int, int]]
    n_loads: int = field(init=False)

    def __post_init__(self) -> None:
        self.n_loads = 1 + max(t.load for t in self.tiles)

    def tiles_of(self, layer: int | None = None, load: int | None = None) -> list[Tile]:
        return [
            t
            for t in self.tiles
            if (layer is None or t.layer == layer) and (load is None or t.load == load)
        ]

    def load_targets(self, load: int) -> np.ndarray:
        """Target map (rows, cols) of one load: the tiles' conductances, NaN elsewhere."""
        out = np.full(self.array_shape, np.nan)
        for t in self.tiles_of(load=load):
            out[np.ix_(t.rows, t.cols)] = t.targets_s(self.levels)
        return out

    def quantised_weights(self) -> list[np.ndarray]:
        """Each layer's weights as the ideal levels hold them (quantisation only)."""
        out = [np.zeros(s) for s in self.layer_shapes]
        for t in self.tiles:
            out[t.layer][t.in_slice, t.out_slice] = t.quantised_weight(self.levels)
        return out

    def effective_weights(self, measured: Sequence[np.ndarray]) -> list[np.ndarray]:
        """Each layer's weights from the measured maps of the loads (``measured[load]``)."""
        if len(measured) != self.n_loads:
            raise BadInput(f"need {self.n_loads} measured maps (one per load), got {len(measured)}")
        out = [np.zeros(s) for s in self.layer_shapes]
        for t in self.tiles:
            g = np.asarray(measured[t.load])
            if g.shape != self.array_shape:
                raise BadInput(f"measured map {t.load} has shape {g.shape}, not {self.array_shape}")
            out[t.layer][t.in_slice, t.out_slice] = t.effective_weight(g[np.ix_(t.rows, t.cols)])
        return out


def map_decoder(
    weights: Sequence[np.ndarray],
    array_shape: tuple[int, int],
    levels: ConductanceLevels,
    tile_shape: tuple[int, int] | None = None,
) -> DecoderMapping:
    """Quantise and tile the layers ``weights`` ((in, out) matrices) onto an array.

    ``tile_shape`` = (max inputs, max bit lines) of one tile (default: the whole array);
    outputs per tile = bit lines // 2. Raises :class:`BadInput` for bad weights or a tile that
    cannot fit the array, before anything is programmed.
    """
    rows, cols = (int(v) for v in array_shape)
    if rows < 1 or cols < 2:
        raise BadInput(
            f"array {rows} x {cols}: cannot fit any tile (a tile needs >= 1 word line and "
            "2 bit lines for one differential pair)"
        )
    t_rows, t_cols = tile_shape if tile_shape is not None else (rows, cols)
    if not (1 <= t_rows <= rows and 2 <= t_cols <= cols):
        raise BadInput(
            f"tile_shape {tile_shape}: a tile must fit the {rows} x {cols} array and hold at "
            "least one differential pair (>= 2 bit lines)"
        )
    if not weights:
        raise BadInput("decoder has no layers")
    mats = [_check_weight(k, w) for k, w in enumerate(weights)]
    for k in range(1, len(mats)):
        if mats[k].shape[0] != mats[k - 1].shape[1]:
            raise BadInput(
                f"layer {k}: {mats[k].shape[0]} inputs do not match the {mats[k - 1].shape[1]} "
                f"outputs of layer {k - 1}"
            )
    pairs = t_cols // 2
    tiles: list[Tile] = []
    load, shelf_row, shelf_h, x = 0, 0, 0, 0  # shelf packing
    for k, w in enumerate(mats):
        n_in, n_out = w.shape
        if x > 0:  # every layer starts a shelf of its own
            shelf_row, shelf_h, x = shelf_row + shelf_h, 0, 0
        for i0 in range(0, n_in, t_rows):
            for j0 in range(0, n_out, pairs):
                block = w[i0 : i0 + t_rows, j0 : j0 + pairs]
                h, wd = block.shape[0], 2 * block.shape[1]
                if x + wd > cols:  # next shelf
                    shelf_row, shelf_h, x = shelf_row + shelf_h, 0, 0
                if shelf_row + h > rows:  # next load
                    load, shelf_row, shelf_h, x = load + 1, 0, 0, 0
                q, scale = quantise_block(block, levels)
                tiles.append(
                    Tile(
                        k,
                        slice(i0, i0 + block.shape[0]),
                        slice(j0, j0 + block.shape[1]),
                        load,
                        shelf_row,
                        x,
                        block,
                        q,
                        scale,
                    )
                )
                x += wd
                shelf_h = max(shelf_h, h)
    return DecoderMapping(tiles, (rows, cols), levels, [m.shape for m in mats])


# ----------------------------------------------------------------------------------- programming
@dataclass
class ProgramReport:
    """Outcome of programming one target map: the measured map (S) and per-cell figures."""

    targets_s: np.ndarray
    measured_s: np.ndarray
    ok: np.ndarray  # within tolerance (True where no target)
    pulses: np.ndarray
    tolerance_s: float
    instrument_time_s: float = 0.0

    @property
    def error_s(self) -> np.ndarray:
        """Measured minus target at programmed cells (NaN elsewhere)."""
        return self.measured_s - self.targets_s

    @property
    def success_rate(self) -> float:
        finite = np.isfinite(self.targets_s)
        return float(np.mean(self.ok[finite])) if finite.any() else 1.0


Programmer = Callable[[np.ndarray], ProgramReport]


def validate_targets(targets_s: np.ndarray, shape: tuple[int, int], device_range_s) -> np.ndarray:
    """Check a target map before anything is programmed: its shape, and that every finite
    target lies within the device range [G_off, G_on]."""
    t = np.asarray(targets_s, dtype=np.float64)
    if t.shape != tuple(shape):
        raise BadInput(f"targets must have the array's shape {tuple(shape)}, got {t.shape}")
    if np.any(np.isinf(t)):
        raise BadInput("targets contain inf (use NaN for cells to leave alone)")
    lo, hi = device_range_s
    finite = np.isfinite(t)
    bad = finite & ((t < lo * (1 - 1e-9)) | (t > hi * (1 + 1e-9)))
    if bad.any():
        r, c = np.argwhere(bad)[0]
        raise BadInput(
            f"target {t[r, c]:.3g} S at cell ({r}, {c}) lies outside the device range "
            f"[G_off, G_on] = [{lo:.3g}, {hi:.3g}] S ({int(bad.sum())} such cells)"
        )
    return t


def expected_switched_fraction(model: SwitchingModel, volts, width_s: float) -> np.ndarray:
    """Nominal switched fraction after one pulse from the erased state (device model average
    over the activation-voltage distribution); used to start each cell's amplitude ramp."""
    v = np.atleast_1d(np.asarray(volts, dtype=np.float64))
    sigma = math.hypot(model.activation_v_d2d_sigma, model.activation_v_domain_sigma)
    u = np.linspace(-4, 4, 161)
    weight = np.exp(-0.5 * u**2)
    weight /= weight.sum()
    va = np.maximum(model.activation_v_mean + sigma * u, model.activation_v_min)
    log_tau = np.log(model.tau0_s) + (va[None, :] / v[:, None]) ** model.alpha
    p = -np.expm1(-np.exp(model.beta * (np.log(width_s) - log_tau)))
    return p @ weight


def _groups(mask: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
    """Cover a bool (rows, cols) mask by (rows, cols) cross products: rows with the same
    column pattern share one group (a block needs one pulse call)."""
    rows = np.flatnonzero(mask.any(axis=1))
    groups: dict[bytes, list[int]] = {}
    for r, key in zip(rows, np.packbits(mask[rows], axis=1), strict=True):
        groups.setdefault(key.tobytes(), []).append(int(r))
    return [(np.array(rs), np.flatnonzero(mask[rs[0]])) for rs in groups.values()]


def read_conductance_map(array, rows: np.ndarray, read_v: float, aperture_s: float) -> np.ndarray:
    """Measure the conductance of the cells on word lines ``rows``: one reading of every bit
    line per word line (only that word line on), divided by the read factor f(V). (len(rows),
    cols) in S, with read noise; the clock advances by ``len(rows) * aperture_s``."""
    masks = np.zeros((rows.size, array.rows), dtype=bool)
    masks[np.arange(rows.size), rows] = True
    currents = array.read_bitline_sequence(masks, read_v, aperture_s)
    return currents / float(array.current_factor(read_v))


def _verify_model(array, rows: np.ndarray, read_v: float, aperture_s: float) -> np.ndarray:
    """A verify read from the array's true conductance plus the read-noise model (thermal,
    shot, instrument) of one reading per word line; the clock advances as the reads would."""
    g = array.conductance()[rows]
    f = float(array.current_factor(read_v))
    sigma = array.noise_sigma(g * f, g, aperture_s) / f
    array.clock.advance(rows.size * aperture_s)
    return g + sigma * array.rng.standard_normal(g.shape)


def program_and_verify(
    array,
    targets_s: np.ndarray,
    levels: ConductanceLevels | None = None,
    tolerance_s: float | None = None,
    read_v: float = VMM_BIAS_V,
    aperture_s: float = 2e-5,
    width_s: float = 1e-6,
    v_step: float = 0.02,
    v_max: float = 3.0,
    start_margin_v: float = 0.1,
    give_up_v: float = 0.8,
    reset_start_v: float = 1.35,
    erase_v: float = -4.0,
    erase_width_s: float = 1e-5,
    ramps: int = 7,
    verify_reads: bool = True,
) -> ProgramReport:
    """Program the finite entries of ``targets_s`` onto a simulated array by pulses with
    verify reads (incremental-step pulse programming, both polarities).

    1. Read, then erase: a strong RESET burst per group of identical rows (a tile is one
       group), on the whole target region, or only on its cells above the erased level when
       those are fewer than half.
    2. Up to ``ramps`` alternating ramps, SET first (SET, RESET, SET, ...), until every cell
       is within ``tolerance_s`` (default: 0.75 level steps). In a ramp the amplitude
       rises by ``v_step`` per step; a cell joins when the amplitude reaches its own start
       (below what the device model predicts for its level) and gets a pulse at every step
       while it is out of tolerance on that side; after each step the rows still being
       programmed are read back (verify).
    With ``verify_reads=False`` the verify reads of the ramps come from ``array.conductance()``
    plus the read-noise model (same statistics, a fraction of the simulation cost); the
    first read and the final measured map are always real bit-line reads.
    Cells whose target is the erased level are done after step 1. A cell that is still short
    of its target ``give_up_v`` above its start amplitude, or still out of tolerance 0.2 V
    above the amplitude that switches every domain (device model), is left as it is (stuck
    cells, cells whose G_on lies below the target). Every pulse goes through
    ``array.apply_pulse``, every bit-line read through ``array.read_bitline_sequence``.
    """
    device = (array.params.conductance.g_off_siemens, array.params.conductance.g_on_siemens)
    targets = validate_targets(targets_s, array.shape, device)
    if levels is None:
        levels = ConductanceLevels.from_model(array.params.conductance)
    tol = 0.75 * levels.step_s if tolerance_s is None else float(tolerance_s)
    if not tol > 0:
        raise BadInput(f"tolerance_s must be > 0, got {tolerance_s!r}")
    t_start = array.clock.now_s
    finite = np.isfinite(targets)
    pulses = np.zeros(targets.shape, dtype=np.int64)
    g = np.full(targets.shape, np.nan)
    rows_all = np.flatnonzero(finite.any(axis=1))
    if rows_all.size:
        g[rows_all] = read_conductance_map(array, rows_all, read_v, aperture_s)
    # erase: the whole target region when most of it needs it, else only the cells above the
    # erased level (a fresh array needs almost nothing)
    dirty = finite & (g > levels.g_lo_s + tol)
    if dirty.sum() > 0.5 * finite.sum():
        dirty = finite
    for rows, cols in _groups(dirty):
        array.apply_pulse(rows, cols, erase_v, erase_width_s, count=3)
        pulses[np.ix_(rows, cols)] += 3
    active = finite & (targets > levels.g_lo_s + tol)  # the erased level needs no more
    # each cell's ramp starts below the amplitude the model predicts for its level
    grid = np.arange(1.0, v_max + 1e-9, 0.01)
    frac = expected_switched_fraction(array.params.switching, grid, width_s)
    span = device[1] - device[0]
    want = np.clip((np.nan_to_num(targets) - device[0]) / span, 0.0, 1.0)
    start = np.interp(want, frac, grid) - start_margin_v
    v_full = float(grid[np.argmax(frac >= 0.995)]) if frac[-1] >= 0.995 else v_max
    v_min = max(float(grid[0]), float(start[active].min())) if active.any() else grid[0]
    verify = read_conductance_map if verify_reads else _verify_model
    rows_dirty = np.flatnonzero(dirty.any(axis=1))
    if rows_dirty.size:
        g[rows_dirty] = verify(array, rows_dirty, read_v, aperture_s)
    for ramp in range(ramps):
        sign = 1 if ramp % 2 == 0 else -1
        amplitude = v_min if sign > 0 else reset_start_v
        while amplitude <= v_max + 1e-9:
            err = g - targets
            late = amplitude > v_full + 0.2  # every domain should have switched by now
            if sign > 0:
                active &= ~((err < -tol) & (late | (amplitude > start + give_up_v)))
            else:
                active &= ~((err > tol) & late)
            need = active & ((err < -tol) if sign > 0 else (err > tol))
            if not need.any():
                break
            fire = need & (start <= amplitude) if sign > 0 else need
            for rows, cols in _groups(fire):
                array.apply_pulse(rows, cols, sign * amplitude, width_s)
                pulses[np.ix_(rows, cols)] += 1
            rows_read = np.flatnonzero(fire.any(axis=1))
            if rows_read.size:
                g[rows_read] = verify(array, rows_read, read_v, aperture_s)
            amplitude += v_step
        if not np.any(active & (np.abs(g - targets) > tol)):
            break
    measured = np.full(targets.shape, np.nan)
    rows_final = np.flatnonzero(finite.any(axis=1))
    if rows_final.size:
        measured[rows_final] = read_conductance_map(array, rows_final, read_v, aperture_s)
    measured[~finite] = np.nan
    ok = ~finite | (np.abs(measured - targets) <= tol)
    return ProgramReport(targets, measured, ok, pulses, tol, array.clock.now_s - t_start)


def simulator_programmer(array, **options) -> Programmer:
    """A programmer for a simulated array: ``programmer(targets_s) -> ProgramReport``."""

    def program(targets_s: np.ndarray) -> ProgramReport:
        return program_and_verify(array, targets_s, **options)

    return program


def repair_targets(
    mapping: DecoderMapping, load: int, report: ProgramReport, flip_margin_steps: float = 2.0
) -> np.ndarray:
    """Second-pass targets around cells that missed their target (stuck cells, cells whose
    G_on lies below their level); NaN where nothing changes.

    A pair holds ``w ~ sign * (G+ - G-)``. For every pair with a missed cell, the missed
    cell's measured value is taken as fixed and its partner is retargeted to keep the
    difference, ``G_partner = G_missed -/+ d`` clipped to [level 0, G_on]; of the two
    polarities, the one with the smaller residual is kept (a stuck-ON cell goes to the side of
    its weight's sign, where its partner can be raised to match; a stuck-OFF cell to the
    erased side). Flipping a pair updates ``tile.sign`` and retargets both columns, so a
    pair is flipped only where it clearly helps: when it cuts the pair's summed squared
    residual by more than ``flip_margin_steps`` level steps squared (0: whenever it is lower).
    """
    out = np.full(mapping.array_shape, np.nan)
    lo = mapping.levels.g_lo_s
    hi = mapping.levels.device_range_s[1]
    step = mapping.levels.step_s
    tol = report.tolerance_s
    for t in mapping.tiles_of(load=load):
        ix_p, ix_m = np.ix_(t.rows, t.plus_cols), np.ix_(t.rows, t.minus_cols)
        bad_p, bad_m = ~report.ok[ix_p], ~report.ok[ix_m]
        pairs = np.flatnonzero((bad_p | bad_m).any(axis=0))
        if pairs.size == 0:
            continue
        gp, gm = report.measured_s[ix_p], report.measured_s[ix_m]
        for j in pairs:
            d = t.q[:, j] * step  # wanted G+ - G- for polarity +1
            options = {}
            for s in (int(t.sign[j]), -int(t.sign[j])):  # kept polarity first
                want = s * d
                a = np.where(bad_p[:, j], gp[:, j], lo + np.maximum(want, 0))
                b = np.where(bad_m[:, j], gm[:, j], lo + np.maximum(-want, 0))
                a = np.where(bad_m[:, j] & ~bad_p[:, j], np.clip(b + want, lo, hi), a)
                b = np.where(bad_p[:, j] & ~bad_m[:, j], np.clip(a - want, lo, hi), b)
                options[s] = (float(np.sum((a - b - want) ** 2)), a, b)
            keep, flip = int(t.sign[j]), -int(t.sign[j])
            gain = options[keep][0] - options[flip][0]
            s = flip if gain > max(flip_margin_steps * step, 0.0) ** 2 and gain > 0 else keep
            _, a, b = options[s]
            t.sign[j] = s
            # reprogram the healthy cells whose target moved away from where they are
            move_a = ~bad_p[:, j] & (np.abs(a - gp[:, j]) > tol)
            move_b = ~bad_m[:, j] & (np.abs(b - gm[:, j]) > tol)
            out[t.rows[move_a], t.plus_cols[j]] = a[move_a]
            out[t.rows[move_b], t.minus_cols[j]] = b[move_b]
    return out


def program_load(
    mapping: DecoderMapping, load: int, programmer: Programmer, compensate: bool = True
) -> ProgramReport:
    """Program one load; with ``compensate``, a second pass repairs the pairs of cells that
    missed (see :func:`repair_targets`). Returns the merged report."""
    report = programmer(mapping.load_targets(load))
    if not compensate:
        return report
    second = repair_targets(mapping, load, report)
    redo = np.isfinite(second)
    if not redo.any():
        return report
    fix = programmer(second)
    measured = np.where(redo, fix.measured_s, report.measured_s)
    targets = np.where(redo, second, mapping.load_targets(load))  # with the new polarities
    near = np.abs(measured - targets) <= report.tolerance_s
    return ProgramReport(
        targets,
        measured,
        np.where(redo, fix.ok, report.ok & (near | ~np.isfinite(targets))),
        report.pulses + fix.pulses,
        report.tolerance_s,
        report.instrument_time_s + fix.instrument_time_s,
    )


def program_decoder(
    mapping: DecoderMapping, programmer: Programmer, compensate: bool = True
) -> list[ProgramReport]:
    """Program every load of a mapping in turn; returns one report (with its measured map)
    per load. The measured maps are what :meth:`DecoderMapping.effective_weights` needs."""
    return [program_load(mapping, k, programmer, compensate) for k in range(mapping.n_loads)]


def free_block(mapping: DecoderMapping, load: int, n_rows: int, n_cols: int) -> tuple[int, int]:
    """(row0, col0) of the first ``n_rows x n_cols`` block of a load that no tile uses (e.g.
    for the RTN sampling cells); :class:`BadInput` if there is none."""
    rows, cols = mapping.array_shape
    used = np.zeros((rows + 1, cols + 1), dtype=np.int64)
    for t in mapping.tiles_of(load=load):
        used[t.row0 + 1 : t.row0 + 1 + t.n_in, t.col0 + 1 : t.col0 + 1 + 2 * t.n_out] = 1
    area = used.cumsum(axis=0).cumsum(axis=1)  # 2-D prefix sums
    r = np.arange(rows - n_rows + 1)[:, None]
    c = np.arange(cols - n_cols + 1)[None, :]
    if r.size == 0 or c.size == 0:
        raise BadInput(f"no free {n_rows} x {n_cols} block in a {rows} x {cols} array")
    taken = area[r + n_rows, c + n_cols] - area[r, c + n_cols] - area[r + n_rows, c] + area[r, c]
    free = np.argwhere(taken == 0)
    if free.size == 0:
        raise BadInput(f"no free {n_rows} x {n_cols} block in load {load}")
    return int(free[0, 0]), int(free[0, 1])


def single_load_shape(
    layer_shapes: Sequence[tuple[int, int]], tile_cols: int = 32
) -> tuple[int, int]:
    """The smallest array that holds a decoder in one load with ``tile_cols``-wide tiles:
    one shelf per layer (rows = sum of fan-ins, bit lines = twice the widest layer, rounded
    up to whole tiles)."""
    pairs = tile_cols // 2
    rows = sum(int(n_in) for n_in, _ in layer_shapes)
    cols = max(2 * pairs * math.ceil(int(n_out) / pairs) for _, n_out in layer_shapes)
    return rows, cols
