"""The headless end-to-end job: what ``ftjlab demo`` runs, every step through the instruments
(controller, drivers, wiring, safety guard) of one bench session (default: the shipped
simulated bench, in-process).

1. **Program the whole decoder**: the shipped VAE decoder is mapped onto the bench array in
   array-sized loads; every load is programmed by the controller's write-verify and its
   conductance map measured (``read_map``).
2. **Tune RTN sampling**: over a bias x sampling-interval grid, RTN latents are acquired
   through the SMU buffers, decoded from the measured maps and scored (FCD, KS, lag-1).
3. **Generate and evaluate** at the tuned point: ``samples`` images from bench RTN latents
   and the measured maps, against software generation on the same n.
4. One HDF5 file (``demo`` run: images, latents and per-image settings streams, maps, tuning
   grid, metrics) and PNG grids in ``out``; a summary whose every line ran through the
   instruments.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from ftjlab.store import RunWriter, StreamSpec

SAMPLING_BIAS_V = 0.8
TUNE_BIASES_V = (0.4, 0.8, 1.2)
TUNE_INTERVALS_S = (2e-4, 2e-3, 2e-2)
CELLS_PER_LATENT = 4


def run_demo(
    out: str | Path = "demo-out",
    seed: int = 2026,
    samples: int = 8000,
    quick: bool = False,
    bench: str | Path | None = None,
    maps_from: str = "",
    echo: Callable[[str], None] = print,
) -> dict:
    """Run the demo; returns the figures of the summary (and ``path``, the HDF5 file).

    ``quick``: a smaller tuning grid (2 x 2, 200 images per point). ``maps_from``:
    ``vae-program`` run files holding every load's map (skips step 1)."""
    from ftjlab.controller import ArrayController
    from ftjlab.rtn.latent import latent_quality
    from ftjlab.session import BenchSession
    from ftjlab.vae.bench import (
        build_engine,
        decoder_mapping,
        load_maps,
        load_pair_signs,
        program_all_loads,
    )
    from ftjlab.vae.engine import SETTINGS_COLUMNS, SETTINGS_UNITS
    from ftjlab.vae.images import grid, write_png
    from ftjlab.vae.metrics import Evaluator
    from ftjlab.vae.tuning import plot_tuning, tune_sampling

    wall0, cpu0 = time.perf_counter(), time.process_time()
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    f: dict = {}
    arrays: dict[str, tuple[np.ndarray, str]] = {}
    evaluator = Evaluator()
    with BenchSession.open(bench, seed=seed) as session:
        c = ArrayController(session)
        try:
            t_start = session.now_s()
            model, mapping = decoder_mapping(c, 32)
            cells = 2 * sum(w.weight.size for w in model.layers)
            f["loads"], f["decoder_cells"] = mapping.n_loads, cells
            # ---------------------------------------------------- 1. program the decoder
            maps = load_maps(maps_from) if maps_from else {}
            if maps:
                echo(f"[instruments] decoder maps from {maps_from}")
                f["programmed_cells"], f["success"] = 0, float("nan")
                f["map_error_steps"] = f["map_error_p95_steps"] = float("nan")
            else:
                echo(f"[instruments] programming the whole decoder ({model.architecture}, "
                     f"{cells:,} cells) in {mapping.n_loads} loads of {c.rows}x{c.cols} by "
                     "write-verify, measuring each load's map")
                wall = time.perf_counter()

                def on_load(load, report) -> None:
                    if (load + 1) % max(1, mapping.n_loads // 10) == 0:
                        echo(f"  load {load + 1}/{mapping.n_loads}: "
                             f"{100 * report.success_rate:.1f} % in tolerance "
                             f"({time.perf_counter() - wall:.0f} s)")

                reports = program_all_loads(c, mapping, on_load=on_load)
                maps = {k: r.measured_s for k, r in reports.items()}
                done = [np.isfinite(r.targets_s) for r in reports.values()]
                err = np.concatenate([np.abs(r.measured_s - r.targets_s)[d]
                                      for r, d in zip(reports.values(), done, strict=True)])
                step = mapping.levels.step_s
                f["programmed_cells"] = int(sum(d.sum() for d in done))
                f["success"] = float(np.mean([r.success_rate for r in reports.values()]))
                f["map_error_steps"] = float(np.median(err)) / step
                f["map_error_p95_steps"] = float(np.percentile(err, 95)) / step
                f["program_wall_s"] = time.perf_counter() - wall
                echo(f"[instruments] {f['programmed_cells']:,} cells: "
                     f"{100 * f['success']:.2f} % in tolerance, map |error| median "
                     f"{f['map_error_steps']:.2f} / p95 {f['map_error_p95_steps']:.2f} level "
                     f"steps ({f['program_wall_s']:.0f} s)")
            f["program_instrument_s"] = session.now_s() - t_start
            arrays["measured_maps"] = (np.array([maps[k] for k in sorted(maps)],
                                                dtype=np.float32), "S")
            # ---------------------------------------------------- 2. tune RTN sampling
            engine = build_engine(c, decoder_mode="measured-map", maps=maps, model=model,
                                  max_cells_per_latent=CELLS_PER_LATENT, seed=seed,
                                  batch=min(samples, 2000), mapping=mapping,
                                  signs=load_pair_signs(maps_from) if maps_from else None)
            biases = TUNE_BIASES_V[:2] if quick else TUNE_BIASES_V
            intervals = TUNE_INTERVALS_S[:2] if quick else TUNE_INTERVALS_S
            n_tune = 200 if quick else 1000
            echo(f"[instruments] tuning RTN sampling: {len(biases)} biases x "
                 f"{len(intervals)} intervals, {n_tune} images per point")
            t0, wall = session.now_s(), time.perf_counter()
            tuning = tune_sampling(engine.source, engine.decoder, biases, intervals, n_tune,
                                   evaluator, CELLS_PER_LATENT, session, echo)
            f["tune_instrument_s"] = session.now_s() - t0
            f["tune_wall_s"] = time.perf_counter() - wall
            bias, interval = tuning.best
            f["tuned_lag1"] = float(tuning.lag1_max[tuning.best_index])
            if tuning.best_is_independent:
                echo(f"[instruments] tuned point: {bias:.2f} V, {interval:.2g} s (the lowest "
                     f"FCD with latent |lag-1| <= {tuning.max_lag1:g})")
            else:
                echo(f"[instruments] tuned point: {bias:.2f} V, {interval:.2g} s: no grid point "
                     f"has latent |lag-1| <= {tuning.max_lag1:g}; the least correlated "
                     f"({f['tuned_lag1']:.2f}) is used")
            # ---------------------------------------------------- 3. generate
            engine.settings.set(bias_v=bias, interval_s=interval)
            t0, wall = session.now_s(), time.perf_counter()
            run = engine.run(samples)
            f["generate_instrument_s"] = session.now_s() - t0
            f["generate_wall_s"] = time.perf_counter() - wall
            snapshot = session.snapshot()
        finally:
            c.safe_state()
    wall = time.perf_counter()
    images, z = run["images"], run["latents"]
    soft = model.decode(np.random.default_rng(seed).standard_normal((samples, model.latent_dim)))
    hw, sw = evaluator.evaluate(images), evaluator.evaluate(soft)
    q = latent_quality(z)
    software_curve = evaluator.evaluate(soft[:n_tune], precision_recall=False).fcd
    png_tune = plot_tuning(tuning, out / "tuning.png", software_curve)
    png_hw = write_png(out / "generated_measured_map.png", grid(images[:64], cols=8))
    png_sw = write_png(out / "generated_software.png", grid(soft[:64], cols=8))
    f["evaluate_wall_s"] = time.perf_counter() - wall
    f.update(
        fcd=hw.fcd, fcd_software=sw.fcd, fcd_ratio=hw.fcd / sw.fcd,
        confidence=hw.confidence, entropy_over_ln10=hw.class_entropy / math.log(10),
        classes=hw.classes_present, precision=hw.precision, recall=hw.recall,
        tuned_bias_v=bias, tuned_interval_s=interval, samples=samples,
        rtn_ks_max=float(np.max(q.ks)), rtn_lag1_max=float(np.max(np.abs(q.lag1))),
        instrument_s_per_image=f["generate_instrument_s"] / samples,
    )
    # ---------------------------------------------------------------- 4. file and summary
    params = {"seed": seed, "samples": samples, "quick": quick, "tuned_bias_v": bias,
              "tuned_interval_s": interval, "maps_from": maps_from or "programmed in this run"}
    writer = RunWriter.create(out, "demo", params, snapshot, {
        "images": StreamSpec(np.float32, "1", (28, 28), {"what": "measured-map digits"}),
        "latents": StreamSpec(np.float64, "1", (model.latent_dim,), {"what": "RTN latents"}),
        "sampling": StreamSpec(np.float64, SETTINGS_UNITS, (6,), {"columns": SETTINGS_COLUMNS}),
    })
    writer.append("images", images)
    writer.append("latents", z)
    writer.append("sampling", run["settings"])
    for key, value in tuning.arrays().items():
        arrays[f"tuning_{key}"] = value
    arrays["class_counts"] = (np.array(hw.class_counts), "1")
    attrs = {k: v for k, v in f.items() if isinstance(v, int | float | str)}
    attrs["through_instruments"] = (
        "programming every decoder load (write-verify) and measuring its map (read_map), "
        "RTN tuning grid and generation (latents through the SMU buffers)"
    )
    writer.finish("completed", arrays=arrays, attrs=attrs)
    f["path"] = writer.path
    f["pngs"] = [png_hw, png_sw, png_tune]
    f["wall_s"] = time.perf_counter() - wall0
    f["cpu_s"] = time.process_time() - cpu0
    stages = ", ".join(f"{k} {f.get(k + '_wall_s', 0.0):.0f}"
                       for k in ("program", "tune", "generate", "evaluate"))
    echo(f"wall time {f['wall_s']:.0f} s (CPU {f['cpu_s']:.0f} s): {stages} s "
         f"(machine load average {os.getloadavg()[0]:.1f})")
    echo("")
    echo(tuning.table())
    echo("")
    echo(summary_table(f))
    echo(f"file: {writer.path}")
    echo(f"PNG:  {png_hw.name}, {png_sw.name}, {png_tune.name} in {out}")
    return f


def summary_table(f: dict) -> str:
    """The demo's figures; every one ran through the instruments (the software FCD is the
    reference the measured-map FCD is divided by)."""
    n = f["samples"]
    rows = [
        ("decoder cells / loads", f"{f['decoder_cells']:,} / {f['loads']}"),
        ("cells programmed (write-verify)", f"{f['programmed_cells']:,}"),
        ("cells in tolerance", f"{100 * f['success']:.2f} %"),
        ("map |error| median / p95",
         f"{f['map_error_steps']:.2f} / {f['map_error_p95_steps']:.2f} level steps"),
        ("tuned RTN point (its |lag-1| in tuning)",
         f"{f['tuned_bias_v']:.2f} V, {f['tuned_interval_s']:.2g} s ({f['tuned_lag1']:.2f})"),
        ("RTN latents KS max / |lag-1| max",
         f"{f['rtn_ks_max']:.3f} / {f['rtn_lag1_max']:.3f}"),
        (f"FCD measured-map / software (n={n})",
         f"{f['fcd']:.1f} / {f['fcd_software']:.1f} = {f['fcd_ratio']:.3f}"),
        ("confidence / class entropy over ln 10",
         f"{f['confidence']:.3f} / {f['entropy_over_ln10']:.3f}"),
        ("classes present", f"{f['classes']}"),
        ("precision / recall", f"{f['precision']:.3f} / {f['recall']:.3f}"),
        ("instrument time: program / tune / generate",
         f"{f['program_instrument_s']:.0f} / {f['tune_instrument_s']:.0f} / "
         f"{f['generate_instrument_s']:.0f} s"),
        ("instrument time per image", f"{1e3 * f['instrument_s_per_image']:.2f} ms"),
    ]
    w = max(len(r[0]) for r in rows)
    head = f"{'ran on':<12} {'figure':<{w}} value"
    return "\n".join([head, "-" * len(head)]
                     + [f"{'instruments':<12} {a:<{w}} {b}" for a, b in rows])
