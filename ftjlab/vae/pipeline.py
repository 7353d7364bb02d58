"""The VAE evaluation pipeline on the simulated array: map and program the decoder, sample RTN
latents, generate in each mode, score against held-out digits (``ftjlab vae-eval``).

The hardware steps use only the array's public operations (pulses, reads, RTN acquisition,
VMMs), so swapping the simulated array for the bench means swapping the programmer, the
latent source and the VMM call, not this flow.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from ftjlab.errors import BadInput
from ftjlab.simulators.array import FTJArray
from ftjlab.simulators.params import ArrayParams, with_overrides
from ftjlab.vae.generate import MODES, ArrayDecoder
from ftjlab.vae.latents import SAMPLING_BIAS_V, RTNLatents, prepare_rtn_cells, rtn_latents
from ftjlab.vae.mapping import (
    ConductanceLevels,
    free_block,
    map_decoder,
    simulator_programmer,
    single_load_shape,
)
from ftjlab.vae.metrics import Evaluator, ImageMetrics
from ftjlab.vae.model import VAEModel, load_vae

TILE_COLS = 32
RTN_ROWS = 16  # cells summed per latent dimension (Kirchhoff sum on one bit line)


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


def build_simulated_decoder(
    model: VAEModel,
    seed: int,
    array_shape: tuple[int, int] | None = None,
    params: ArrayParams | None = None,
    bits: int = 8,
    verify_reads: bool = True,
) -> tuple[FTJArray, ArrayDecoder]:
    """A simulated array (default device physics) and the decoder mapped onto it; the array
    shape defaults to the smallest that holds the decoder in one load."""
    shapes = [layer.weight.shape for layer in model.layers]
    if array_shape is None:
        array_shape = single_load_shape(shapes, TILE_COLS)
    rows, cols = array_shape
    params = with_overrides(params or ArrayParams(), rows=rows, cols=cols)
    array = FTJArray(params, np.random.default_rng(seed))
    levels = ConductanceLevels.from_model(params.conductance)
    tile = (rows, min(cols, TILE_COLS))
    mapping = map_decoder([layer.weight for layer in model.layers], array.shape, levels, tile)
    programmer = simulator_programmer(array, levels=levels, verify_reads=verify_reads)
    return array, ArrayDecoder(model, mapping, params, programmer, bits=bits)


def sample_rtn(
    array: FTJArray, decoder: ArrayDecoder, n: int, bias_v: float = SAMPLING_BIAS_V
) -> RTNLatents:
    """RTN latents from a free block of the resident load (or, when the array has none, from
    cells that the next load will reprogram anyway)."""
    dim = decoder.model.latent_dim
    k = min(RTN_ROWS, array.rows)
    try:
        r0, c0 = free_block(decoder.mapping, decoder.resident_load or 0, k, dim)
    except BadInput:
        if dim > array.cols:
            raise
        r0, c0 = 0, 0
        decoder.resident_load = None  # the block overwrites part of the load
    rows, cols = r0 + np.arange(k), c0 + np.arange(dim)
    prepare_rtn_cells(array, rows, cols)
    return rtn_latents(array, n, rows, cols, volts=bias_v)


def compare_modes(
    modes: list[str],
    n: int,
    seed: int = 2026,
    model: VAEModel | None = None,
    array_shape: tuple[int, int] | None = None,
    bias_v: float = SAMPLING_BIAS_V,
    bits: int = 8,
    evaluator: Evaluator | None = None,
    echo: Callable[[str], None] = print,
    verify_reads: bool = True,
) -> list[ModeResult]:
    """Generate ``n`` images in each mode and score them; ratios are to the software FCD."""
    unknown = [m for m in modes if m not in MODES]
    if unknown or not modes:
        raise BadInput(f"modes: choose from {list(MODES)}, got {modes}")
    if n < 10:
        raise BadInput(f"n: need at least 10 images per mode, got {n}")
    model = model or load_vae()
    evaluator = evaluator or Evaluator()
    results: list[ModeResult] = []
    hardware = [m for m in modes if m != "software"]
    array = decoder = None
    if hardware:
        array, decoder = build_simulated_decoder(
            model, seed, array_shape, bits=bits, verify_reads=verify_reads
        )
        echo(
            f"array {array.rows}x{array.cols}: {len(decoder.mapping.tiles)} tiles in "
            f"{decoder.mapping.n_loads} load(s)"
        )
    for mode in ["software", *hardware] if "software" in modes else hardware:
        wall = time.perf_counter()
        t0 = array.clock.now_s if array is not None else 0.0
        if mode == "software":
            z = np.random.default_rng(seed).standard_normal((n, model.latent_dim))
            images = model.decode(z)
        elif mode == "measured-map":
            if len(decoder.reports) < decoder.mapping.n_loads:
                reports = decoder.program_all()
                ok = np.mean([r.success_rate for r in reports])
                echo(f"programmed {len(reports)} load(s): {100 * ok:.2f} % of cells in tolerance")
            latents = sample_rtn(array, decoder, n, bias_v)
            images = decoder.decode_measured(latents.z, np.random.default_rng(seed + 1))
        else:
            latents = sample_rtn(array, decoder, n, bias_v)
            images = decoder.decode_in_array(latents.z, array)
        instrument = (array.clock.now_s - t0) if array is not None else 0.0
        metrics = evaluator.evaluate(images)
        results.append(
            ModeResult(mode, metrics, time.perf_counter() - wall, instrument, images[:64])
        )
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
