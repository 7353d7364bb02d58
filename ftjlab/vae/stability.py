"""Stability of in-loop generation over many sampling + VMM cycles, through the instruments.

A cycle is one RTN latent vector acquired through the SMU buffers and one bit-serial VMM on
the load resident in the array (the last one programmed). Reading does not wear the cells
(only switching pulses count as endurance cycles), but time passes: programmed conductances
relax toward G_off. So ``cycles`` cycles are run as ``real_cycles`` cycles that really
sample and compute on the bench, and the rest as a wait of the time they would take
(instrument time per cycle measured on the real ones; on a simulated bench the wait advances
its clock, on a real bench it is a real wait). FCD (bench RTN latents, measured-map decoder,
same n) is measured before and after; after the cycles the resident load's map is measured
again (``read_map``), so the second FCD sees what the cycles and the time did to it. The
second FCD decodes the *same* latents as the first (paired: the change is the array's, not
the sampling spread of two FCD estimates at n images); a third, on fresh latents, checks the
latent source after the cycles too.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ftjlab.errors import BadInput
from ftjlab.vae.engine import SamplingSettings
from ftjlab.vae.metrics import Evaluator


@dataclass
class StabilityResult:
    """FCD before and after, what was run, and how far the resident load's cells drifted."""

    cycles: int
    real_cycles: int
    fcd_start: float
    fcd_end: float  # the same latents as fcd_start, decoded from the re-measured maps
    fcd_end_fresh: float  # fresh bench latents, re-measured maps
    instrument_s: float  # session time from the first to the last FCD measurement
    s_per_cycle: float
    g_change_rel: float  # median relative change of the resident load's ON-side G - G_off
    wall_s: float

    @property
    def fcd_change(self) -> float:
        """Relative FCD change on the same latents: what the cycles did to the array."""
        return self.fcd_end / self.fcd_start - 1.0

    @property
    def fcd_change_fresh(self) -> float:
        """Relative FCD change with fresh latents (includes the spread of two FCD estimates)."""
        return self.fcd_end_fresh / self.fcd_start - 1.0


def run_stability(
    cycles: int = 100_000,
    real_cycles: int = 200,
    n_eval: int = 2000,
    bias_v: float = 0.8,
    interval_s: float = 2e-3,
    chunk: int = 100,
    seed: int = 2026,
    bench: str | Path | None = None,
    maps_from: str = "",
    echo: Callable[[str], None] | None = None,
) -> StabilityResult:
    """Program the decoder through the bench (or take the maps of ``maps_from`` and program
    only the resident load), measure FCD, run the cycles, re-measure the resident load's map,
    measure FCD again."""
    from ftjlab.controller import ArrayController
    from ftjlab.session import BenchSession
    from ftjlab.vae.bench import (
        READ_BIAS_V,
        build_engine,
        chord_factor,
        decoder_mapping,
        load_maps,
        load_pair_signs,
        program_all_loads,
        program_load_on_bench,
        set_pair_signs,
    )

    if not 0 <= real_cycles <= cycles or n_eval < 20 or chunk < 1:
        raise BadInput("stability: need 0 <= real_cycles <= cycles, n_eval >= 20, chunk >= 1")
    wall = time.perf_counter()
    evaluator = Evaluator()
    settings = SamplingSettings(bias_v, interval_s)
    with BenchSession.open(bench, seed=seed) as session:
        c = ArrayController(session)
        try:
            model, mapping = decoder_mapping(c, 32)
            maps = load_maps(maps_from) if maps_from else {}
            resident = mapping.n_loads - 1
            if not maps:
                reports = program_all_loads(c, mapping)
                maps = {k: r.measured_s for k, r in reports.items()}
            else:  # the other loads' maps from the files; the resident one programmed now
                set_pair_signs(mapping, load_pair_signs(maps_from))
                report, _ = program_load_on_bench(c, mapping, resident, 0.02, READ_BIAS_V)
                maps[resident] = report.measured_s
            engine = build_engine(c, decoder_mode="measured-map", maps=maps, model=model,
                                  settings=settings, seed=seed, batch=n_eval, mapping=mapping)
            array_decoder = engine.decoder.decoder

            def fcd(images: np.ndarray) -> float:
                return evaluator.evaluate(images, precision_recall=False).fcd

            targets = mapping.load_targets(resident)
            rows = [int(r) for r in np.flatnonzero(np.isfinite(targets).any(axis=1))]
            cols = [int(k) for k in np.flatnonzero(np.isfinite(targets).any(axis=0))]
            g_off = session.config.array.conductance.g_off_siemens
            on = np.isfinite(targets) & (targets > 3 * g_off)
            g0 = maps[resident][on] - g_off
            t0 = session.now_s()
            first = engine.run(n_eval)
            fcd_start = fcd(first["images"])
            t_real = session.now_s()
            drive = np.zeros(c.rows, dtype=np.int64)
            drive[rows] = 1
            done = 0
            while done < real_cycles:
                n = min(chunk, real_cycles - done)
                engine.source.sample(max(n, 20), settings)
                for _ in range(n):
                    c.vmm(drive, 1, READ_BIAS_V, 0.01)
                done += n
                if echo is not None:
                    echo(f"  {done} cycles, instrument time {session.now_s() - t0:.1f} s")
            per_cycle = (session.now_s() - t_real) / real_cycles if real_cycles else interval_s
            session.wait((cycles - real_cycles) * per_cycle)
            f = chord_factor(c, READ_BIAS_V)
            chord = np.asarray(c.read_map(READ_BIAS_V, 1.0, rows=rows, cols=cols))
            remeasured = np.array(maps[resident], dtype=np.float64)
            remeasured[np.ix_(rows, cols)] = chord / f
            remeasured[~np.isfinite(targets)] = np.nan
            maps[resident] = remeasured
            array_decoder.reports[resident].measured_s = remeasured
            array_decoder._maps = None
            fcd_end = fcd(engine.decoder.decode(first["latents"]))
            fcd_end_fresh = fcd(engine.run(n_eval)["images"])
            g1 = remeasured[on] - g_off
            t_end = session.now_s()
        finally:
            c.safe_state()
    return StabilityResult(
        cycles,
        real_cycles,
        fcd_start,
        fcd_end,
        fcd_end_fresh,
        t_end - t0,
        per_cycle,
        float(np.median(g1 / g0 - 1.0)) if g0.size else float("nan"),
        time.perf_counter() - wall,
    )
