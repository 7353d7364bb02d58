"""In-loop VAE generation on the bench (issue 6): program the shipped decoder into the array
and generate digits from RTN latents, through :class:`~ftjlab.controller.ArrayController`.

* ``vae-program`` maps the decoder onto array-sized *loads* (:func:`ftjlab.vae.mapping.map_decoder`)
  and programs the chosen loads by the controller's write-verify, one after the other; after
  each load the conductance map of its cells is measured with ``read_map``. Per load it
  stores targets, final write-verify values, pulses and the measured map.
* ``vae-generate`` runs the generation engine (:mod:`ftjlab.vae.engine`, assembled by
  :func:`ftjlab.vae.bench.build_engine`): latents from the bench's RTN (SMU buffer readings,
  ``cells_per_latent`` cells summed per latent dimension), a replayed run or software;
  decoded from the measured maps of *every* load, in-array (bench VMMs) or in software;
  and scores the images against software generation on the same number of samples (FCD
  ratio, class entropy). The maps come from earlier ``vae-program`` runs (``maps_from``:
  their files), or, with ``maps_from = none``, every load is programmed and measured in
  this run first (long: see below). Images, latents and per-image instrument settings go
  to streams, the PNG grid to ``png_dir`` (default ``runs``, the CLI's default run folder).

Units: see :mod:`ftjlab.vae.bench` (chord conductance at the read bias on the bench, device
units in the mapping).

Duration: the controller programs cell by cell with a verify read after each pulse (about
30 ms per cell on the in-process simulated bench), so the shipped 16->64->784 decoder on a
32 x 32 array (100 loads, ~100,000 cells) takes about 50 minutes to program there, and far
longer on a real bench. Hence the defaults: ``vae-program`` programs one load; ``max_rows``
programs only the first word lines of each load (for quick checks).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import ClassVar

import numpy as np
from pymeasure.experiment import FloatParameter, IntegerParameter, Parameter

from ftjlab.errors import BadInput
from ftjlab.store import StreamSpec
from ftjlab.vae.bench import (  # noqa: F401  (re-exported: the bench helpers' old home)
    DECODER_MODES,
    LATENT_SOURCES,
    READ_BIAS_V,
    TILE_COLS,
    BenchVMM,
    bench_programmer,
    build_engine,
    chord_factor,
    decoder_mapping,
    load_maps,
    load_pair_signs,
    pair_signs,
    program_all_loads,
    program_load_on_bench,
    write_map_file,
)
from ftjlab.vae.engine import SETTINGS_COLUMNS, SETTINGS_UNITS, SamplingSettings

from .base import FTJProcedure

SAMPLING_BIAS_V = 0.8
SECONDS_PER_CELL = 0.03  # write-verify on the in-process simulated bench (measured)


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
        maps, targets, finals, pulses, rates, signs = [], [], [], [], [], []
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
                start_s=maps[-1] if maps else None,  # the array's last measured map
            )
            maps.append(report.measured_s)
            signs.append(pair_signs(mapping, load))
            targets.append(report.targets_s)
            finals.append(final)
            pulses.append(report.pulses)
            rates.append(report.success_rate)
        done_loads = self._loads()[: len(maps)]
        self.result("loads", np.array(done_loads, dtype=np.int64), "1")
        self.result("measured_maps", np.array(maps), "S")
        self.result("pair_signs", np.array(signs, dtype=np.int8), "1")
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


class VAEGenerate(FTJProcedure):
    """Digits from a latent source (bench RTN, a replayed run, software) through a decoder
    (measured maps of every load, in-array VMMs on the bench, software), every image
    recorded with the instrument settings it was taken with; scored against software."""

    name = "vae-generate"
    voltage_roles: ClassVar[dict[str, str]] = {"bias_v": "sample", "read_v": "read"}
    summary = "generate digits: bench RTN latents, decoder from measured maps, scores"

    maps_from = Parameter(
        "vae-program run files with every load's map (comma-separated; "
        "none = program every load now)",
        default="none",
    )
    latent_source = Parameter(
        "Latent source (bench-rtn, replay, software)", default="bench-rtn"
    )
    decoder_mode = Parameter(
        "Decoder (measured-map, in-array, software)", default="measured-map"
    )
    replay_from = Parameter("Run file whose latents are replayed (replay)", default="none")
    in_array_layers = Parameter(
        "Layers run in-array (comma-separated; auto = those that fit one load)", default="auto"
    )
    samples = IntegerParameter("Images", minimum=20, maximum=1_000_000, default=200)
    batch = IntegerParameter("Images per batch", minimum=1, maximum=100_000, default=200)
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
        "RTN cells summed per latent dimension", minimum=1, maximum=16, default=4
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
            "latents": StreamSpec(np.float64, "1", (16,), {"what": "latents"}),
            "sampling": StreamSpec(
                np.float64, SETTINGS_UNITS, (6,), {"columns": SETTINGS_COLUMNS}
            ),
        }

    def _choice(self, value: str, field: str, choices) -> str:
        text = str(value or "").strip().lower()
        if text not in choices:
            raise BadInput(f"vae-generate: {field} must be one of {list(choices)}, got {value!r}")
        return text

    def check(self) -> None:
        if self.nplc / self.linefreq_hz() > self.interval_s:
            raise BadInput(
                f"vae-generate: the aperture ({self.nplc} NPLC) is longer than interval_s"
            )
        self._choice(self.latent_source, "latent_source", LATENT_SOURCES)
        self._choice(self.decoder_mode, "decoder_mode", DECODER_MODES)

    def _layers(self) -> list[int] | None:
        text = str(self.in_array_layers or "").strip().lower()
        if text in ("", "auto"):
            return None
        try:
            return [int(v) for v in text.split(",") if v.strip()]
        except ValueError as exc:
            raise BadInput(
                f"vae-generate: in_array_layers must be 'auto' or layer numbers, got {text!r}"
            ) from exc

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
        self._layers()

    def estimate_s(self) -> float:
        rtn = self._model_dim() * self.cells_per_latent * self.samples * self.interval_s
        program = 0.0
        mode = str(self.decoder_mode).strip().lower()
        if (
            mode != "software"
            and not getattr(self, "_maps", None)
            and getattr(self, "_mapping", None) is not None
        ):
            program = SECONDS_PER_CELL * sum(
                int(np.isfinite(self._mapping.load_targets(k)).sum())
                for k in range(self._mapping.n_loads)
            )
        return rtn + program

    def _model_dim(self) -> int:
        model = getattr(self, "_model", None)
        return model.latent_dim if model is not None else 16

    def execute(self) -> None:
        from ftjlab.vae.images import grid, write_png
        from ftjlab.vae.metrics import Evaluator

        c = self.controller
        mapping, model = self._mapping, self._model
        mode = self._choice(self.decoder_mode, "decoder_mode", DECODER_MODES)
        source = self._choice(self.latent_source, "latent_source", LATENT_SOURCES)
        maps = dict(self._maps)
        if not maps and mode != "software":  # program every load now, through the controller
            def on_load(load, report) -> None:
                maps[load] = report.measured_s
                self.progress(10 * (load + 1) / mapping.n_loads)

            program_all_loads(c, mapping, self.tolerance / 100, self.read_v, on_load,
                              self.should_stop)
            if self.should_stop():
                return
        settings = SamplingSettings(
            self.bias_v, self.interval_s, self.nplc / c.linefreq, self.cells_per_latent
        )
        replay = str(self.replay_from or "").strip()
        engine = build_engine(
            c,
            latent_source=source,
            decoder_mode=mode,
            maps=maps,
            settings=settings,
            replay_path=None if replay.lower() in ("", "none") else replay,
            model=model,
            n_levels=self.n_levels,
            read_v=self.read_v,
            in_array_layers=self._layers(),
            tolerance_rel=self.tolerance / 100,
            max_cells_per_latent=self.cells_per_latent,
            seed=self.seed,
            batch=self.batch,
            mapping=mapping,
            signs=load_pair_signs(str(self.maps_from)) if self._maps else None,
        )
        images, z, instrument = [], [], 0.0
        for b in engine.batches(self.samples, self.should_stop):
            self.record("images", b.images)
            self.record("latents", b.latents)
            self.record("sampling", b.settings_rows())
            images.append(b.images)
            z.append(b.latents)
            instrument += b.latent_s + b.decode_s
            self.progress(10 + 60 * sum(len(i) for i in images) / self.samples)
        if not images or sum(len(i) for i in images) < 20:
            return
        images = np.concatenate(images)
        self.progress(70)
        evaluator = Evaluator()
        hw = evaluator.evaluate(images, precision_recall=False)
        soft_images = model.decode(
            np.random.default_rng(self.seed).standard_normal((len(images), model.latent_dim))
        )
        sw = evaluator.evaluate(soft_images, precision_recall=False)
        self.progress(95)
        out = Path(str(self.png_dir or "runs")).expanduser()
        out.mkdir(parents=True, exist_ok=True)
        png = write_png(
            out / f"vae-generate_{mode}_bias{self.bias_v:g}V_{len(images)}.png",
            grid(images[:64], cols=8),
        )
        self.result("fcd", hw.fcd)
        self.result("fcd_software", sw.fcd)
        self.result("fcd_ratio", hw.fcd / sw.fcd if sw.fcd > 0 else math.nan)
        self.result("class_entropy_over_ln10", hw.class_entropy / math.log(10))
        self.result("classes_present", hw.classes_present)
        self.result("confidence", hw.confidence)
        self.result("class_counts", np.array(hw.class_counts), "1")
        self.result("instrument_s_per_image", instrument / len(images), "s")
        self.result("png", str(png))
        self.result("decoder_mode", mode)
        self.result("latent_source", source)
        self.result("maps_source", "this run" if not self._maps else str(self.maps_from))
        self.progress(100)


VAE_PROCEDURES: dict[str, type[FTJProcedure]] = {cls.name: cls for cls in (VAEProgram, VAEGenerate)}
