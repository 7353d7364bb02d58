"""The headless end-to-end job on the simulated bench: what ``ftjlab demo`` runs (issue 6).

1. **Bench (through the instruments)**: the shipped VAE decoder is mapped onto the 32 x 32
   bench array; the first word lines of its first load are programmed by the controller's
   write-verify and their conductance map is measured (``read_map``); RTN latents are
   acquired with ``acquire_rtn`` at the sampling bias and their statistics checked.
2. **Device model (the simulated array directly)**: programming all ~100 loads through the
   instruments would take ~50 min, so the whole decoder is programmed onto one simulated array
   that holds it in one load (pulse program-and-verify on the device physics), its map
   measured by bit-line reads; the RTN tuning study (bias x sampling interval), the
   generation at the tuned point and the software baseline run there (measured-map mode).
3. One HDF5 file (``demo`` run: images stream, maps, tuning grid, metrics) and PNG grids in
   ``out``; a summary table that says which parts ran through the instruments.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from ftjlab.store import RunWriter, StreamSpec

SAMPLING_BIAS_V = 0.8
TUNE_BIASES_V = (0.4, 0.8, 1.2)
TUNE_INTERVALS_S = (2e-5, 2e-4, 2e-3)


def run_demo(
    out: str | Path = "demo-out",
    seed: int = 2026,
    samples: int = 2000,
    quick: bool = False,
    echo: Callable[[str], None] = print,
) -> dict:
    """Run the demo; returns the figures of the summary (and ``path``, the HDF5 file).

    ``quick``: a smaller job for tests (2 word lines programmed through the instruments,
    2 x 2 tuning grid of 200 samples per point)."""
    from ftjlab.controller import ArrayController
    from ftjlab.procedures.vae import bench_rtn_latents, decoder_mapping, program_load_on_bench
    from ftjlab.rtn.latent import latent_quality
    from ftjlab.session import BenchSession
    from ftjlab.vae.images import grid, write_png
    from ftjlab.vae.latents import prepare_rtn_cells
    from ftjlab.vae.mapping import free_block
    from ftjlab.vae.metrics import Evaluator
    from ftjlab.vae.model import load_vae
    from ftjlab.vae.pipeline import RTN_ROWS, build_simulated_decoder
    from ftjlab.vae.tuning import plot_tuning, tune_sampling

    wall0 = time.perf_counter()
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    figures: dict = {}
    arrays: dict[str, tuple[np.ndarray, str]] = {}

    # ---------------------------------------------------------------- 1. the bench
    bench_rows = 2 if quick else 8
    bench_samples = 200 if quick else 500
    with BenchSession.open(seed=seed) as session:
        c = ArrayController(session)
        t0 = session.now_s()
        _, mapping = decoder_mapping(c, 32)
        echo(
            f"[instruments] bench array {c.rows}x{c.cols}: the decoder needs "
            f"{mapping.n_loads} loads; programming {bench_rows} word lines of load 0 by "
            "write-verify"
        )
        wall = time.perf_counter()
        report, _ = program_load_on_bench(c, mapping, 0, 0.02, 0.2, max_rows=bench_rows)
        done = np.isfinite(report.targets_s)
        err = (report.measured_s - report.targets_s)[done]
        step = mapping.levels.step_s
        figures["bench_cells"] = int(done.sum())
        figures["bench_success"] = report.success_rate
        figures["bench_map_error_steps"] = float(np.median(np.abs(err))) / step
        figures["bench_map_error_p95_steps"] = float(np.percentile(np.abs(err), 95)) / step
        figures["bench_pulses_per_cell"] = float(report.pulses[done].mean())
        echo(
            f"[instruments] {done.sum()} cells: {100 * report.success_rate:.1f} % in tolerance, "
            f"measured map vs target: median |error| {figures['bench_map_error_steps']:.2f}, "
            f"95th percentile {figures['bench_map_error_p95_steps']:.2f} level steps, "
            f"{figures['bench_pulses_per_cell']:.1f} pulses/cell "
            f"({time.perf_counter() - wall:.1f} s)"
        )
        arrays["bench_targets"] = (report.targets_s, "S")
        arrays["bench_measured_map"] = (report.measured_s, "S")
        arrays["bench_pulses"] = (report.pulses, "1")
        z_bench = bench_rtn_latents(c, 16, 4, bench_samples, SAMPLING_BIAS_V, 2e-3, 0.006)
        q = latent_quality(z_bench)
        figures["bench_rtn_ks_max"] = float(np.max(q.ks))
        figures["bench_rtn_lag1_max"] = float(np.max(np.abs(q.lag1)))
        arrays["bench_rtn_latents"] = (z_bench, "1")
        echo(
            f"[instruments] RTN latents at {SAMPLING_BIAS_V} V, 2 ms apart, 16 x 4 cells x "
            f"{bench_samples}: KS max {figures['bench_rtn_ks_max']:.3f}, |lag-1| max "
            f"{figures['bench_rtn_lag1_max']:.3f}"
        )
        figures["bench_instrument_s"] = session.now_s() - t0
        snapshot = session.snapshot()

    # ---------------------------------------------------------------- 2. the device model
    model = load_vae()
    wall = time.perf_counter()
    array, decoder = build_simulated_decoder(model, seed, verify_reads=False)
    reports = decoder.program_all()
    figures["model_success"] = float(np.mean([r.success_rate for r in reports]))
    echo(
        f"[device model] whole decoder on a simulated {array.rows}x{array.cols} array "
        f"(one load): {100 * figures['model_success']:.2f} % of cells in tolerance "
        f"({time.perf_counter() - wall:.1f} s)"
    )
    arrays["model_measured_map"] = (reports[0].measured_s.astype(np.float32), "S")
    r0, c0 = free_block(decoder.mapping, 0, RTN_ROWS, model.latent_dim)
    rows, cols = r0 + np.arange(RTN_ROWS), c0 + np.arange(model.latent_dim)
    prepare_rtn_cells(array, rows, cols)
    evaluator = Evaluator()
    biases = TUNE_BIASES_V[1:] if quick else TUNE_BIASES_V
    intervals = TUNE_INTERVALS_S[1:] if quick else TUNE_INTERVALS_S
    n_tune = 200 if quick else 1000
    echo(
        f"[device model] tuning RTN sampling: {len(biases)} biases x {len(intervals)} "
        f"intervals, {n_tune} images per point"
    )
    tuning = tune_sampling(
        array, decoder, rows, cols, biases, intervals, n_tune, evaluator, seed, echo
    )
    bias, interval = tuning.best
    echo(f"[device model] tuned point: {bias:.2f} V, {interval:.2g} s")
    from ftjlab.vae.latents import rtn_latents

    lat = rtn_latents(
        array, samples, rows, cols, volts=bias, interval_s=interval, aperture_s=0.5 * interval
    )
    images = decoder.decode_measured(lat.z, np.random.default_rng(seed + 1))
    soft = model.decode(np.random.default_rng(seed).standard_normal((samples, model.latent_dim)))
    hw = evaluator.evaluate(images)
    sw = evaluator.evaluate(soft)
    software_curve = evaluator.evaluate(soft[:n_tune], precision_recall=False).fcd
    png_tune = plot_tuning(tuning, out / "tuning.png", software_curve)
    png_hw = write_png(out / "generated_measured_map.png", grid(images[:64], cols=8))
    png_sw = write_png(out / "generated_software.png", grid(soft[:64], cols=8))

    # ---------------------------------------------------------------- 3. file and summary
    params = {
        "seed": seed,
        "samples": samples,
        "quick": quick,
        "tuned_bias_v": bias,
        "tuned_interval_s": interval,
    }
    writer = RunWriter.create(
        out,
        "demo",
        params,
        snapshot,
        {
            "images": StreamSpec(np.float32, "1", (28, 28), {"what": "measured-map digits"}),
            "latents": StreamSpec(np.float64, "1", (model.latent_dim,), {"what": "RTN latents"}),
        },
    )
    writer.append("images", images)
    writer.append("latents", lat.z)
    for key, value in tuning.arrays().items():
        arrays[f"tuning_{key}"] = value
    arrays["class_counts"] = (np.array(hw.class_counts), "1")
    figures.update(
        fcd=hw.fcd,
        fcd_software=sw.fcd,
        fcd_ratio=hw.fcd / sw.fcd,
        entropy_over_ln10=hw.class_entropy / math.log(10),
        classes=hw.classes_present,
        precision=hw.precision,
        recall=hw.recall,
        tuned_bias_v=bias,
        tuned_interval_s=interval,
        samples=samples,
        model_instrument_s=array.clock.now_s,
    )
    attrs = {k: v for k, v in figures.items() if isinstance(v, int | float | str)}
    attrs["through_instruments"] = (
        "write-verify + map of load 0 (first word lines), RTN latent acquisition"
    )
    attrs["on_device_model"] = (
        "programming the whole decoder, RTN tuning grid, generation at the tuned point"
    )
    writer.finish("completed", arrays=arrays, attrs=attrs)
    figures["path"] = writer.path
    figures["pngs"] = [png_hw, png_sw, png_tune]
    figures["wall_s"] = time.perf_counter() - wall0
    echo("")
    echo(tuning.table())
    echo("")
    echo(summary_table(figures))
    echo(f"file: {writer.path}")
    echo(f"PNG:  {png_hw.name}, {png_sw.name}, {png_tune.name} in {out}")
    return figures


def summary_table(f: dict) -> str:
    """The demo's figures, with where each came from."""
    rows = [
        ("instruments", "write-verify cells (load 0)", f"{f['bench_cells']}"),
        ("instruments", "cells in tolerance", f"{100 * f['bench_success']:.1f} %"),
        (
            "instruments",
            "map |error| median / p95",
            f"{f['bench_map_error_steps']:.2f} / {f['bench_map_error_p95_steps']:.2f} level steps",
        ),
        ("instruments", "RTN latents KS max", f"{f['bench_rtn_ks_max']:.3f}"),
        ("instruments", "simulated instrument time", f"{f['bench_instrument_s']:.1f} s"),
        ("device model", "decoder cells in tolerance", f"{100 * f['model_success']:.2f} %"),
        (
            "device model",
            "tuned RTN point",
            f"{f['tuned_bias_v']:.2f} V, {f['tuned_interval_s']:.2g} s",
        ),
        ("device model", f"FCD measured-map (n={f['samples']})", f"{f['fcd']:.1f}"),
        ("software", f"FCD software (n={f['samples']})", f"{f['fcd_software']:.1f}"),
        ("device model", "FCD ratio", f"{f['fcd_ratio']:.3f}"),
        ("device model", "class entropy / ln 10", f"{f['entropy_over_ln10']:.3f}"),
        ("device model", "classes present", f"{f['classes']}"),
        ("device model", "precision / recall", f"{f['precision']:.3f} / {f['recall']:.3f}"),
    ]
    w = max(len(r[1]) for r in rows)
    head = f"{'ran on':<13} {'figure':<{w}} value"
    return "\n".join([head, "-" * len(head)] + [f"{a:<13} {b:<{w}} {c}" for a, b, c in rows])
