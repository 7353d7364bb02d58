"""VAE generation benchmarks (issue 6): measured-map rate, in-array software overhead,
simulated instrument time per image."""

from __future__ import annotations

import time

import numpy as np
from ftjlab.simulators.array import FTJArray
from ftjlab.simulators.params import ArrayParams, with_overrides

from ftjlab.benchmarks import BenchResult, interleaved_ratio
from ftjlab.vae.generate import ArrayDecoder
from ftjlab.vae.latents import prepare_rtn_cells, rtn_latents
from ftjlab.vae.mapping import (
    ConductanceLevels,
    free_block,
    map_decoder,
    simulator_programmer,
    single_load_shape,
)
from ftjlab.vae.model import load_vae

TILE_COLS = 32
_CACHE: dict = {}


def _programmed():
    """The shipped decoder programmed (pulses + verify) on a default-physics array that holds
    it in one load; built once per benchmark run."""
    if "decoder" not in _CACHE:
        vae = load_vae()
        rows, cols = single_load_shape([la.weight.shape for la in vae.layers], TILE_COLS)
        params = with_overrides(ArrayParams(), rows=rows, cols=cols)
        array = FTJArray(params, np.random.default_rng(2026))
        levels = ConductanceLevels.from_model(params.conductance)
        mapping = map_decoder(
            [la.weight for la in vae.layers], array.shape, levels, (rows, TILE_COLS)
        )
        programmer = simulator_programmer(array, levels=levels, verify_reads=False)
        decoder = ArrayDecoder(vae, mapping, params, programmer)
        t0 = time.perf_counter()
        decoder.program_all()
        _CACHE.update(
            vae=vae, array=array, decoder=decoder, program_wall_s=time.perf_counter() - t0
        )
    return _CACHE["vae"], _CACHE["array"], _CACHE["decoder"]


def bench_measured_map_rate(quick: bool) -> list[BenchResult]:
    """Measured-map generation: images per second decoding RTN latents (read noise drawn per
    image), against the 1,000 images/s target; and end to end with the simulated RTN
    acquisition of the latents."""
    vae, array, decoder = _programmed()
    n = 2000 if quick else 5000
    r0, c0 = free_block(decoder.mapping, 0, 16, vae.latent_dim)
    rows, cols = r0 + np.arange(16), c0 + np.arange(vae.latent_dim)
    prepare_rtn_cells(array, rows, cols)
    t0 = time.perf_counter()
    latents = rtn_latents(array, n, rows, cols)
    t_rtn = time.perf_counter() - t0
    rng = np.random.default_rng(1)
    times = []
    for _ in range(3 if quick else 7):
        t0 = time.perf_counter()
        decoder.decode_measured(latents.z, rng)
        times.append(time.perf_counter() - t0)
    t_dec = float(np.median(times))
    return [
        BenchResult(
            "vae.measured_map_images_per_s",
            n / t_dec,
            1000.0,
            "images/s (baseline = target rate)",
            1.0,
            higher_is_better=True,
            note=f"{n} images, 16->{vae.layers[0].weight.shape[1]}->784, read noise per image",
        ),
        BenchResult(
            "vae.measured_map_with_rtn_images_per_s",
            n / (t_dec + t_rtn),
            1000.0,
            "images/s",
            None,
            higher_is_better=True,
            note=f"incl. simulated RTN acquisition ({latents.instrument_time_s:.2f} s "
            f"instrument time, readings {latents.interval_s * 1e3:.2f} ms apart)",
        ),
    ]


def bench_in_array_overhead(quick: bool) -> list[BenchResult]:
    """In-array decoding against the bare simulator cost of the same VMMs: every
    ``vmm_batch`` call of one decode is recorded and replayed alone as the baseline."""
    vae, array, decoder = _programmed()
    n = 256 if quick else 512
    z = np.random.default_rng(2).standard_normal((n, vae.latent_dim))
    calls = []
    original = array.vmm_batch

    def recording(x, bits, volts, aperture_s, noise=True):
        calls.append((x.copy(), bits, volts, aperture_s))
        return original(x, bits, volts, aperture_s, noise)

    array.vmm_batch = recording
    t0 = array.clock.now_s
    decoder.decode_in_array(z, array)
    instrument_s = array.clock.now_s - t0
    array.vmm_batch = original

    def subject():
        decoder.decode_in_array(z, array)

    def baseline():
        for x, bits, volts, aperture_s in calls:
            array.vmm_batch(x, bits, volts, aperture_s)

    ts, tb, ratio = interleaved_ratio(subject, baseline, 3 if quick else 7)
    # On the default 32 x 32 array the decoder needs many loads: programming dominates. What
    # a load costs is what the instruments take to program it (write-verify and the measured
    # map through the simulated bench, a load from the middle of the decoder), not the device
    # model's own pulse time.
    from ftjlab.controller import ArrayController
    from ftjlab.session import BenchSession
    from ftjlab.traffic import Meter
    from ftjlab.vae.bench import decoder_mapping, program_load_on_bench

    with BenchSession.open(seed=3) as session:
        c = ArrayController(session)
        _, mapping = decoder_mapping(c, 9)
        with Meter(session) as meter:
            program_load_on_bench(c, mapping, mapping.n_loads // 2, 0.02, 0.2)
    t_load_s = meter.result.instrument_s
    batch = 1000
    per_image_32 = instrument_s / n + mapping.n_loads * t_load_s / batch
    return [
        BenchResult(
            "vae.in_array_software_overhead",
            ts,
            tb,
            "s per decode (baseline = its VMMs alone)",
            2.0,
            note=f"ratio median {ratio:.2f}; {n} images, {len(calls)} vmm_batch calls",
        ),
        BenchResult(
            "vae.instrument_time_per_image",
            instrument_s / n,
            len(calls) and sum(x.shape[0] * b * ap for x, b, _, ap in calls) / n,
            "s/image (baseline = bit-serial readings alone)",
            None,
            note=f"one load resident ({decoder.mapping.array_shape[0]}x"
            f"{decoder.mapping.array_shape[1]}), {decoder.bits}-bit inputs, "
            f"{decoder.aperture_s * 1e6:.0f} us readings",
        ),
        BenchResult(
            "vae.instrument_time_per_image_32x32",
            per_image_32,
            instrument_s / n,
            "s/image (baseline = decoder resident)",
            None,
            note=f"{mapping.n_loads} loads reprogrammed per batch of {batch} "
            f"({t_load_s:.1f} s instrument time programming each through the bench)",
        ),
    ]
