"""Stability of in-array generation over many sampling + VMM cycles (issue 6).

A cycle is one RTN latent vector sampled from the array and one image decoded in-array (every
decoder tile's bit-serial VMM on the resident load). Reading does not wear the cells (only
switching pulses count as endurance cycles), but time passes: programmed conductances relax
toward G_off (power-law drift of the retention model). So ``cycles`` cycles are run as
``real_cycles`` cycles that really sample and decode (in chunks, on the simulated array, with
its virtual clock advancing by their instrument time), and the rest as a clock advance by the
time they would take (instrument time per cycle measured on the real ones). FCD of the
in-array images (same n, fresh RTN latents) is measured before and after.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from ftjlab.errors import BadInput
from ftjlab.vae.latents import prepare_rtn_cells, rtn_latents
from ftjlab.vae.mapping import free_block
from ftjlab.vae.metrics import Evaluator
from ftjlab.vae.model import load_vae
from ftjlab.vae.pipeline import RTN_ROWS, build_simulated_decoder


@dataclass
class StabilityResult:
    """FCD before and after, what was run, and how far the conductances drifted."""

    cycles: int
    real_cycles: int
    fcd_start: float
    fcd_end: float
    instrument_s: float  # virtual time from the first to the last FCD measurement
    s_per_cycle: float
    g_change_rel: float  # median relative change of the programmed (ON-side) cells' G - G_off
    wall_s: float

    @property
    def fcd_change(self) -> float:
        return self.fcd_end / self.fcd_start - 1.0


def run_stability(
    cycles: int = 100_000,
    real_cycles: int = 10_000,
    n_eval: int = 2000,
    bias_v: float = 0.8,
    interval_s: float = 2e-3,
    chunk: int = 5000,
    seed: int = 2026,
    echo: Callable[[str], None] | None = None,
) -> StabilityResult:
    """Program the shipped decoder onto a simulated array (default device: drift and
    endurance active), then measure FCD, run the cycles, measure FCD again."""
    if not 0 <= real_cycles <= cycles or n_eval < 20 or chunk < 1:
        raise BadInput("stability: need 0 <= real_cycles <= cycles, n_eval >= 20, chunk >= 1")
    wall = time.perf_counter()
    model = load_vae()
    array, decoder = build_simulated_decoder(model, seed, verify_reads=False)
    decoder.program_all()
    r0, c0 = free_block(decoder.mapping, 0, RTN_ROWS, model.latent_dim)
    rows, cols = r0 + np.arange(RTN_ROWS), c0 + np.arange(model.latent_dim)
    prepare_rtn_cells(array, rows, cols)
    evaluator = Evaluator()
    g_off = array.params.conductance.g_off_siemens
    targets = decoder.reports[0].targets_s
    on = np.isfinite(targets) & (targets > 3 * g_off)

    def fcd() -> float:
        z = rtn_latents(array, n_eval, rows, cols, volts=bias_v, interval_s=interval_s).z
        return evaluator.evaluate(decoder.decode_in_array(z, array), precision_recall=False).fcd

    g0 = array.conductance()[on] - g_off
    t0 = array.clock.now_s
    fcd_start = fcd()
    t_real = array.clock.now_s
    done = 0
    while done < real_cycles:
        n = min(chunk, real_cycles - done)
        z = rtn_latents(array, max(n, 2), rows, cols, volts=bias_v, interval_s=interval_s).z
        decoder.decode_in_array(z[:n], array)
        done += n
        if echo is not None:
            echo(f"  {done} cycles, virtual time {array.clock.now_s - t0:.1f} s")
    per_cycle = (array.clock.now_s - t_real) / real_cycles if real_cycles else interval_s
    array.clock.advance((cycles - real_cycles) * per_cycle)
    fcd_end = fcd()
    g1 = array.conductance()[on] - g_off
    return StabilityResult(
        cycles,
        real_cycles,
        fcd_start,
        fcd_end,
        array.clock.now_s - t0,
        per_cycle,
        float(np.median(g1 / g0 - 1.0)),
        time.perf_counter() - wall,
    )
