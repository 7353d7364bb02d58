"""Generation modes compared on one bench, through the instruments (``ftjlab vae-eval``):
software (numpy latents, float weights) against bench RTN latents decoded from measured
maps and in-array, each scored against held-out digits on the same number of images.

Everything that touches the array goes through :func:`ftjlab.vae.bench.build_engine`
(controller, drivers, safety guard), so the same comparison runs on a simulated bench
in-process, over ``ftjlab sim-server``, or on a real bench.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ftjlab.errors import BadInput
from ftjlab.vae.generate import MODES
from ftjlab.vae.metrics import Evaluator, ImageMetrics


@dataclass
class ModeResult:
    """Images and scores of one generation mode."""

    mode: str
    metrics: ImageMetrics
    wall_s: float
    instrument_s: float
    images: np.ndarray = field(repr=False)
    fcd_ratio: float = float("nan")

    @property
    def instrument_s_per_image(self) -> float:
        return self.instrument_s / self.metrics.n


def compare_modes(
    modes: Sequence[str],
    n: int,
    seed: int = 2026,
    bench: str | Path | None = None,
    maps_from: str = "",
    bias_v: float = 0.8,
    interval_s: float = 2e-3,
    cells_per_latent: int = 4,
    in_array_layers: Sequence[int] | None = None,
    model=None,
    evaluator: Evaluator | None = None,
    echo: Callable[[str], None] = print,
    batch: int = 500,
) -> list[ModeResult]:
    """Generate ``n`` images in each mode on the bench and score them; ratios are to the
    software FCD. Hardware modes need every load's measured map: ``maps_from``
    (``vae-program`` run files), or every load is programmed and measured first."""
    from ftjlab.controller import ArrayController
    from ftjlab.session import BenchSession
    from ftjlab.vae.bench import (
        build_engine,
        decoder_mapping,
        load_maps,
        load_pair_signs,
        program_all_loads,
    )
    from ftjlab.vae.engine import SamplingSettings

    modes = list(modes)
    unknown = [m for m in modes if m not in MODES]
    if unknown or not modes:
        raise BadInput(f"modes: choose from {list(MODES)}, got {modes}")
    if n < 10:
        raise BadInput(f"n: need at least 10 images per mode, got {n}")
    evaluator = evaluator or Evaluator()
    settings = SamplingSettings(bias_v, interval_s, None, cells_per_latent)
    results: list[ModeResult] = []
    with BenchSession.open(bench, seed=seed) as session:
        c = ArrayController(session)
        try:
            model, mapping = decoder_mapping(c, 32, model)
            hardware = [m for m in modes if m != "software"]
            maps = load_maps(maps_from) if maps_from and hardware else {}
            if hardware and not maps:
                echo(f"programming {mapping.n_loads} decoder loads through the bench")
                reports = program_all_loads(c, mapping)
                maps = {k: r.measured_s for k, r in reports.items()}
                ok = np.mean([r.success_rate for r in reports.values()])
                echo(f"programmed: {100 * ok:.2f} % of cells in tolerance")
            for mode in modes:
                source = "software" if mode == "software" else "bench-rtn"
                engine = build_engine(
                    c, latent_source=source, decoder_mode=mode, maps=maps, settings=settings,
                    model=model, in_array_layers=in_array_layers,
                    max_cells_per_latent=cells_per_latent, seed=seed, batch=batch,
                    mapping=mapping, signs=load_pair_signs(maps_from) if maps_from else None,
                )
                wall = time.perf_counter()
                out = engine.run(n)
                metrics = evaluator.evaluate(out["images"])
                results.append(ModeResult(mode, metrics, time.perf_counter() - wall,
                                          out["instrument_s"], out["images"][:64]))
        finally:
            c.safe_state()
    base = next((r.metrics.fcd for r in results if r.mode == "software"), None)
    for r in results:
        if base:
            r.fcd_ratio = r.metrics.fcd / base
    return results


def format_table(results: list[ModeResult]) -> str:
    """The comparison as a text table."""
    head = (
        f"{'mode':<13} {'n':>6} {'FCD':>8} {'ratio':>6} {'conf':>6} {'H/ln10':>7} "
        f"{'classes':>7} {'prec':>6} {'recall':>6} {'instr s/img':>11} {'wall s':>7}"
    )
    lines = [head, "-" * len(head)]
    for r in results:
        m = r.metrics
        lines.append(
            f"{r.mode:<13} {m.n:>6} {m.fcd:>8.2f} {r.fcd_ratio:>6.3f} {m.confidence:>6.3f} "
            f"{m.class_entropy / np.log(10):>7.3f} {m.classes_present:>7} {m.precision:>6.3f} "
            f"{m.recall:>6.3f} {r.instrument_s_per_image:>11.3g} {r.wall_s:>7.1f}"
        )
    return "\n".join(lines)
