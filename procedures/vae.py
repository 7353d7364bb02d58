"""In-loop VAE generation on the bench (issue 6): program the shipped decoder into the array
and generate digits from RTN latents, through :class:`~ftjlab.controller.ArrayController`.

* ``vae-program`` maps the decoder onto array-sized *loads* (:func:`ftjlab.vae.mapping.map_decoder`)
  and programs the chosen loads by the controller's write-verify, one after the other; after
  each load the conductance map of its cells is measured with ``read_map``. Per load it
  stores targets, final write-verify values, pulses and the measured map.
* ``vae-generate`` acquires RTN latents on the bench (``acquire_rtn``, one cell at a time,
  ``cells_per_latent`` cells summed per latent dimension), decodes them in measured-map mode
  from the measured maps of *every* load, and scores the images against software generation
  on the same number of samples (FCD ratio, class entropy). The maps come from earlier
  ``vae-program`` runs (``maps_from``: their files), or, with ``maps_from = none``, every
  load is programmed and measured in this run first (long: see below). Images go to a
  stream, the PNG grid to ``png_dir`` (default ``runs``, the CLI's default run folder).

Units: the controller works in chord conductance ``I / V`` at the read bias (``f(V) = 1 +
(V / V_nl)^2`` above the low-field conductance); the mapping's levels are low-field device
conductances. Targets are sent as ``G * f(read_v)`` and measured maps are divided by
``f(read_v)`` before they become weights.

Duration: the controller programs cell by cell with a verify read after each pulse (about
30 ms per cell on the in-process simulated bench), so the shipped 16->64->784 decoder on a
32 x 32 array (100 loads, ~100,000 cells) takes about 50 minutes to program there, and far
longer on a real bench. Hence the defaults: ``vae-program`` programs one load; ``max_rows``
programs only the first word lines of each load (for quick checks).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path
from typing import ClassVar

import numpy as np
from pymeasure.experiment import FloatParameter, IntegerParameter, Parameter

from ftjlab.errors import BadInput
from ftjlab.store import StreamSpec, read_dataset
from ftjlab.vae.mapping import (
    ConductanceLevels,
    DecoderMapping,
    ProgramReport,
    map_decoder,
)

from .base import FTJProcedure

READ_BIAS_V = 0.2
SAMPLING_BIAS_V = 0.8
TILE_COLS = 32
SECONDS_PER_CELL = 0.03  # write-verify on the in-process simulated bench (measured)


def chord_factor(controller, read_v: float) -> float:
    """Chord conductance at ``read_v`` over the low-field conductance: ``1 + (V / V_nl)^2``."""
    v_nl = controller.session.config.array.conductance.nonlinearity_v
    return 1.0 + (read_v / v_nl) ** 2


def decoder_mapping(controller, n_levels: int) -> tuple[object, DecoderMapping]:
    """The shipped VAE and its mapping onto the controller's array (tiles of at most 32 bit
    lines, loads the size of the array)."""
    from ftjlab.vae.model import load_vae

    model = load_vae()
    params = controller.session.config.array
    levels = ConductanceLevels.from_model(params.conductance, n_levels=n_levels)
    rows, cols = controller.rows, controller.cols
    mapping = map_decoder(
        [layer.weight for layer in model.layers],
        (rows, cols),
        levels,
        (rows, min(cols, TILE_COLS)),
    )
    return model, mapping


def program_load_on_bench(
    controller,
    mapping: DecoderMapping,
    load: int,
    tolerance_rel: float,
    read_v: float,
    max_rows: int = 0,
    on_cell: Callable | None = None,
    should_stop: Callable[[], bool] = lambda: False,
) -> tuple[ProgramReport, np.ndarray]:
    """Program one load through the controller's write-verify and measure its map
    (``max_rows``: only the first word lines of the load, 0 = all).

    Returns the report in device units (targets, measured map with NaN outside the load,
    pulses) and the write-verify's final values (chord units at ``read_v``)."""
    c = controller
    f = chord_factor(c, read_v)
    targets = mapping.load_targets(load)
    if max_rows:
        used = np.flatnonzero(np.isfinite(targets).any(axis=1))
        targets[used[max_rows:]] = np.nan
    g_range = c.conductance_range(read_v)
    report = c.write_verify(
        targets * f,
        tolerance_rel,
        g_range,
        read_v,
        0.1,
        1e-6,
        on_cell=on_cell,
        should_stop=should_stop,
    )
    finite = np.isfinite(targets)
    rows = [int(r) for r in np.flatnonzero(finite.any(axis=1))]
    cols = [int(k) for k in np.flatnonzero(finite.any(axis=0))]
    measured = np.full(targets.shape, np.nan)
    if rows and not should_stop():
        chord = c.read_map(read_v, 1.0, rows=rows, cols=cols)
        chord = np.asarray(chord)
        if chord.shape == (len(rows), len(cols)):
            measured[np.ix_(rows, cols)] = chord / f
        else:  # a full-array map
            measured[np.ix_(rows, cols)] = chord[np.ix_(rows, cols)] / f
    measured[~finite] = np.nan
    tol = tolerance_rel * (g_range[1] - g_range[0]) / f
    ok = ~finite | (np.abs(measured - targets) <= tol)
    return ProgramReport(targets, measured, ok, report.pulses, tol), report.final_s


class VAEProgram(FTJProcedure):
    """Program the shipped VAE decoder's tiles (array-sized loads) by write-verify through the
    controller; measure each load's conductance map."""

    name = "vae-program"
    voltage_roles: ClassVar[dict[str, str]] = {"read_v": "read"}
    summary = "program VAE decoder loads by write-verify and measure their maps"

    first_load = IntegerParameter("First load to program", minimum=0, maximum=100_000, default=0)
    loads = IntegerParameter("Loads to program", minimum=1, maximum=100_000, default=1)
    max_rows = IntegerParameter(
        "Word lines per load at most (0 = all)", minimum=0, maximum=4096, default=0
    )
    n_levels = IntegerParameter("Conductance levels per cell", minimum=2, maximum=64, default=32)
    tolerance = FloatParameter("Tolerance", units="% of range", minimum=0.1, maximum=20, default=2)
    read_v = FloatParameter(
        "Verify read bias", units="V", minimum=0.01, maximum=1.5, default=READ_BIAS_V
    )

    def streams(self) -> dict[str, StreamSpec]:
        return {
            "cells": StreamSpec(
                np.float64,
                "1, 1, 1, S, S, 1, 1",
                (7,),
                {"columns": "load, row, col, target_s, final_s, pulses, ok (chord at read_v)"},
            )
        }

    def _loads(self) -> list[int]:
        return list(range(self.first_load, self.first_load + self.loads))

    def preflight(self) -> None:
        super().preflight()
        _, mapping = decoder_mapping(self.controller, self.n_levels)
        self._mapping = mapping
        if self.first_load + self.loads > mapping.n_loads:
            raise BadInput(
                f"vae-program: loads {self.first_load}..{self.first_load + self.loads - 1} "
                f"do not exist: the decoder needs {mapping.n_loads} loads on this "
                f"{self.controller.rows} x {self.controller.cols} array"
            )

    def _cells(self) -> int:
        mapping = getattr(self, "_mapping", None)
        if mapping is None:
            return 0
        total = 0
        for k in self._loads():
            finite = np.isfinite(mapping.load_targets(k))
            if self.max_rows:
                rows = np.flatnonzero(finite.any(axis=1))[: self.max_rows]
                total += int(finite[rows].sum())
            else:
                total += int(finite.sum())
        return total

    def estimate_s(self) -> float:
        return SECONDS_PER_CELL * self._cells()

    def execute(self) -> None:
        mapping = self._mapping
        n_total = max(self._cells(), 1)
        done = [0]
        maps, targets, finals, pulses, rates = [], [], [], [], []
        for load in self._loads():
            if self.should_stop():
                break

            def on_cell(o, load=load) -> None:
                self.record("cells", [[load, o.row, o.col, o.target_s, o.final_s, o.pulses, o.ok]])
                done[0] += 1
                self.progress(100 * done[0] / n_total)

            report, final = program_load_on_bench(
                self.controller,
                mapping,
                load,
                self.tolerance / 100,
                self.read_v,
                self.max_rows,
                on_cell,
                self.should_stop,
            )
            maps.append(report.measured_s)
            targets.append(report.targets_s)
            finals.append(final)
            pulses.append(report.pulses)
            rates.append(report.success_rate)
        done_loads = self._loads()[: len(maps)]
        self.result("loads", np.array(done_loads, dtype=np.int64), "1")
        self.result("measured_maps", np.array(maps), "S")
        self.result("targets", np.array(targets), "S")
        self.result("final_chord", np.array(finals), "S")
        self.result("pulses", np.array(pulses), "1")
        self.result("n_loads_total", mapping.n_loads)
        self.result("n_levels", self.n_levels)
        self.result("success_rate", float(np.mean(rates)) if rates else float("nan"))
        pairs = zip(maps, targets, strict=True)
        errors = np.concatenate([(m - t)[np.isfinite(t)] for m, t in pairs]) if maps else []
        span = mapping.levels.g_hi_s - mapping.levels.g_lo_s
        sigma = float(np.nanstd(errors) / span) if len(errors) else float("nan")
        self.result("map_error_sigma_pct_of_levels", 100 * sigma, "%")


def bench_programmer(
    controller,
    tolerance_rel: float = 0.02,
    read_v: float = READ_BIAS_V,
    should_stop: Callable[[], bool] = lambda: False,
) -> Callable[[np.ndarray], ProgramReport]:
    """A programmer for :mod:`ftjlab.vae.mapping` / :class:`~ftjlab.vae.generate.ArrayDecoder`
    on the bench: ``programmer(targets_s) -> ProgramReport`` with targets and the measured map
    in low-field device units (sent to the controller's write-verify as chord conductances at
    ``read_v``; the map of the programmed cells measured with ``read_map``)."""
    c = controller

    def program(targets_s: np.ndarray) -> ProgramReport:
        targets = np.asarray(targets_s, dtype=np.float64)
        f = chord_factor(c, read_v)
        g_range = c.conductance_range(read_v)
        report = c.write_verify(
            targets * f, tolerance_rel, g_range, read_v, 0.1, 1e-6, should_stop=should_stop
        )
        finite = np.isfinite(targets)
        measured = np.full(targets.shape, np.nan)
        rows = [int(r) for r in np.flatnonzero(finite.any(axis=1))]
        cols = [int(k) for k in np.flatnonzero(finite.any(axis=0))]
        if rows:
            measured[np.ix_(rows, cols)] = c.read_map(read_v, 1.0, rows=rows, cols=cols) / f
        measured[~finite] = np.nan
        tol = tolerance_rel * (g_range[1] - g_range[0]) / f
        ok = ~finite | (np.abs(measured - targets) <= tol)
        return ProgramReport(targets, measured, ok, report.pulses, tol)

    return program


class BenchVMM:
    """The bench's bit-serial VMM (``ArrayController.vmm``) with the interface
    :meth:`~ftjlab.vae.generate.ArrayDecoder.decode_in_array` expects of an array:
    ``vmm_batch``, ``current_factor``, ``rows``, ``cols``, ``shape``."""

    def __init__(self, controller) -> None:
        self.controller = controller
        self.rows, self.cols = controller.rows, controller.cols
        self.shape = (self.rows, self.cols)

    def current_factor(self, volts: float) -> float:
        """Read current per siemens of low-field conductance: ``V (1 + (V / V_nl)^2)``."""
        return float(volts) * chord_factor(self.controller, float(volts))

    def vmm_batch(self, x: np.ndarray, bits: int, volts: float, aperture_s: float) -> np.ndarray:
        """One bench VMM per row of ``x`` ((n, rows) unsigned integers); (n, cols) in A."""
        x = np.asarray(x)
        if x.ndim != 2 or x.shape[1] != self.rows:
            raise BadInput(f"VMM inputs must have shape (n, {self.rows}), got {x.shape}")
        nplc = aperture_s * self.controller.linefreq
        return np.array([self.controller.vmm(row, bits, volts, nplc) for row in x])


def bench_rtn_latents(
    controller,
    dim: int,
    cells_per_latent: int,
    samples: int,
    bias_v: float,
    interval_s: float,
    nplc: float,
    progress: Callable[[int, int], None] | None = None,
) -> np.ndarray:
    """(samples, dim) standardised RTN latents acquired through the controller.

    ``dim * cells_per_latent`` cells (column-major from cell (0, 0)) are SET fully ON (the
    largest RTN current), then acquired one at a time with ``acquire_rtn``; a latent dimension
    is the sum of its cells' traces (independent traps: the digital sum has the statistics of
    the Kirchhoff sum on one bit line). ``progress(done, total)`` after each cell."""
    c = controller
    cells = [(i % c.rows, i // c.rows) for i in range(dim * cells_per_latent)]
    by_col: dict[int, list[int]] = {}
    for r, col in cells:
        by_col.setdefault(col, []).append(r)
    for col, rows in by_col.items():
        c.apply_pulses(rows, [col], 3.0, 1e-5, count=3)
    traces = np.zeros((dim, samples))
    for i, (r, col) in enumerate(cells):
        parts = [
            cur for cur, _ in c.acquire_rtn(r, col, bias_v, interval_s, nplc, samples, samples)
        ]
        traces[i % dim] += np.concatenate(parts)[:samples]
        if progress is not None:
            progress(i + 1, len(cells))
    std = traces.std(axis=1, keepdims=True)
    if np.any(std == 0):
        raise BadInput("RTN latents: a latent dimension shows no fluctuation at this bias")
    return ((traces - traces.mean(axis=1, keepdims=True)) / std).T


def write_map_file(
    out_dir: str | Path,
    maps: dict[int, np.ndarray],
    bench: dict | None = None,
    source: str = "",
) -> Path:
    """A file in ``vae-program``'s layout (datasets ``loads`` and ``measured_maps``, S) from
    maps measured elsewhere (e.g. programmed with the device model); ``source`` says how."""
    from ftjlab.store import RunWriter

    loads = sorted(maps)
    writer = RunWriter.create(out_dir, "vae-program", {"source": source}, bench or {}, {})
    writer.finish(
        "completed",
        arrays={
            "loads": (np.array(loads, dtype=np.int64), "1"),
            "measured_maps": (np.array([maps[k] for k in loads]), "S"),
        },
        attrs={"maps_source": source},
    )
    return writer.path


def load_maps(paths: str) -> dict[int, np.ndarray]:
    """Measured maps by load from ``vae-program`` run files (comma-separated paths; a later
    file overrides an earlier one for the same load)."""
    out: dict[int, np.ndarray] = {}
    for text in (p.strip() for p in paths.split(",")):
        if not text:
            continue
        if not Path(text).expanduser().exists():
            raise BadInput(f"maps_from: {text!r} does not exist")
        loads = read_dataset(text, "loads")
        maps = read_dataset(text, "measured_maps")
        for k, m in zip(np.atleast_1d(loads), maps, strict=True):
            out[int(k)] = np.asarray(m, dtype=np.float64)
    return out


class VAEGenerate(FTJProcedure):
    """Digits from RTN latents acquired on the bench, decoded in measured-map mode from the
    measured conductance maps of every decoder load; scored against software generation."""

    name = "vae-generate"
    voltage_roles: ClassVar[dict[str, str]] = {"bias_v": "sample", "read_v": "read"}
    summary = "generate digits: bench RTN latents, decoder from measured maps, scores"

    maps_from = Parameter(
        "vae-program run files with every load's map (comma-separated; "
        "none = program every load now)",
        default="none",
    )
    samples = IntegerParameter("Images", minimum=20, maximum=1_000_000, default=200)
    bias_v = FloatParameter(
        "RTN sampling bias", units="V", minimum=0.05, maximum=1.5, default=SAMPLING_BIAS_V
    )
    interval_s = FloatParameter(
        "RTN sampling interval", units="s", minimum=5e-5, maximum=1, default=2e-3
    )
    nplc = FloatParameter(
        "RTN integration time", units="NPLC", minimum=0.001, maximum=25, default=0.006
    )
    cells_per_latent = IntegerParameter(
        "RTN cells summed per latent dimension", minimum=1, maximum=64, default=4
    )
    n_levels = IntegerParameter("Conductance levels per cell", minimum=2, maximum=64, default=32)
    tolerance = FloatParameter("Tolerance", units="% of range", minimum=0.1, maximum=20, default=2)
    read_v = FloatParameter(
        "Verify / VMM read bias", units="V", minimum=0.01, maximum=1.5, default=READ_BIAS_V
    )
    seed = IntegerParameter(
        "Seed (software baseline, read noise)", minimum=0, maximum=2**31 - 1, default=2026
    )
    png_dir = Parameter("Folder of the PNG grid", default="runs")

    def streams(self) -> dict[str, StreamSpec]:
        return {
            "images": StreamSpec(np.float32, "1", (28, 28), {"what": "generated digits"}),
            "latents": StreamSpec(np.float64, "1", (16,), {"what": "standardised RTN latents"}),
        }

    def check(self) -> None:
        if self.nplc / 60 > self.interval_s:
            raise BadInput(
                f"vae-generate: the aperture ({self.nplc} NPLC) is longer than interval_s"
            )

    def preflight(self) -> None:
        super().preflight()
        c = self.controller
        self._model, self._mapping = decoder_mapping(c, self.n_levels)
        text = str(self.maps_from or "").strip()
        self._maps = load_maps("" if text.lower() == "none" else text)
        if self._maps:
            missing = [k for k in range(self._mapping.n_loads) if k not in self._maps]
            if missing:
                raise BadInput(
                    f"vae-generate: maps_from lacks the measured maps of loads {missing[:8]}"
                    f"{' ...' if len(missing) > 8 else ''} (the decoder needs "
                    f"{self._mapping.n_loads}); program them with vae-program first"
                )
            bad = [k for k, m in self._maps.items() if m.shape != (c.rows, c.cols)]
            if bad:
                raise BadInput(f"vae-generate: maps of loads {bad} are not {c.rows} x {c.cols}")
        need = self._model.latent_dim * self.cells_per_latent
        if need > c.rows * c.cols:
            raise BadInput(f"vae-generate: {need} RTN cells do not fit the array")

    def estimate_s(self) -> float:
        rtn = self._model_dim() * self.cells_per_latent * self.samples * self.interval_s
        program = 0.0
        if not getattr(self, "_maps", None) and getattr(self, "_mapping", None) is not None:
            program = SECONDS_PER_CELL * sum(
                int(np.isfinite(self._mapping.load_targets(k)).sum())
                for k in range(self._mapping.n_loads)
            )
        return rtn + program

    def _model_dim(self) -> int:
        model = getattr(self, "_model", None)
        return model.latent_dim if model is not None else 16

    def _rtn_latents(self) -> np.ndarray:
        def progress(done: int, total: int) -> None:
            if self.should_stop():
                raise InterruptedError
            self.progress(10 + 40 * done / total)

        return bench_rtn_latents(
            self.controller,
            self._model_dim(),
            self.cells_per_latent,
            self.samples,
            self.bias_v,
            self.interval_s,
            self.nplc,
            progress,
        )

    def execute(self) -> None:
        from ftjlab.vae.generate import ArrayDecoder
        from ftjlab.vae.images import grid, write_png
        from ftjlab.vae.metrics import Evaluator

        c = self.controller
        mapping, model = self._mapping, self._model
        maps = dict(self._maps)
        if not maps:  # program every load now, through the controller
            for load in range(mapping.n_loads):
                if self.should_stop():
                    return
                report, _ = program_load_on_bench(
                    c,
                    mapping,
                    load,
                    self.tolerance / 100,
                    self.read_v,
                    should_stop=self.should_stop,
                )
                maps[load] = report.measured_s
                self.progress(10 * (load + 1) / mapping.n_loads)
        try:
            z = self._rtn_latents()
        except InterruptedError:
            return
        decoder = ArrayDecoder(model, mapping, c.session.config.array, read_v=self.read_v)
        for load, m in maps.items():
            finite = np.isfinite(m)
            decoder.reports[load] = ProgramReport(
                m, m, finite | ~finite, np.zeros(m.shape, np.int64), 0.0
            )
        images = decoder.decode_measured(z, np.random.default_rng(self.seed + 1))
        for start in range(0, len(images), 1000):
            self.record("images", images[start : start + 1000])
            self.record("latents", z[start : start + 1000])
        self.progress(70)
        evaluator = Evaluator()
        hw = evaluator.evaluate(images, precision_recall=False)
        soft_images = model.decode(
            np.random.default_rng(self.seed).standard_normal((self.samples, model.latent_dim))
        )
        sw = evaluator.evaluate(soft_images, precision_recall=False)
        self.progress(95)
        out = Path(str(self.png_dir or "runs")).expanduser()
        out.mkdir(parents=True, exist_ok=True)
        png = write_png(
            out / f"vae-generate_bias{self.bias_v:g}V_{self.samples}.png", grid(images[:64], cols=8)
        )
        self.result("fcd", hw.fcd)
        self.result("fcd_software", sw.fcd)
        self.result("fcd_ratio", hw.fcd / sw.fcd if sw.fcd > 0 else math.nan)
        self.result("class_entropy_over_ln10", hw.class_entropy / math.log(10))
        self.result("classes_present", hw.classes_present)
        self.result("confidence", hw.confidence)
        self.result("class_counts", np.array(hw.class_counts), "1")
        self.result("png", str(png))
        self.result("maps_source", "this run" if not self._maps else str(self.maps_from))
        self.progress(100)


VAE_PROCEDURES: dict[str, type[FTJProcedure]] = {cls.name: cls for cls in (VAEProgram, VAEGenerate)}
