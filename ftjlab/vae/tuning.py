"""The RTN sampling tuning study: image quality and latent statistics over a grid of RTN
sampling bias x sampling interval, on a decoder whose loads are programmed and measured.

At each grid point ``n`` latent vectors are acquired through the bench (the engine's latent
source, :class:`ftjlab.vae.engine.BenchRTNLatents`: SMU buffer readings at the given bias
and interval, aperture half the interval), decoded (measured maps) and scored: FCD
(:class:`Evaluator`), the largest and mean Kolmogorov-Smirnov statistic of the latents
against N(0, 1) and their largest lag-1 autocorrelation
(:func:`ftjlab.rtn.latent.latent_quality`). Generation degrades where the latents stop being
independent Gaussians: sampling faster than the RTN correlation time (correlated successive
latents) or biases where the traps' statistics become two-level-like. The tuned point is
the lowest FCD among the points whose latents have |lag-1| <= 0.1 in every dimension (a low
FCD from correlated latents is not a sampler: successive images repeat each other).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ftjlab.errors import BadInput
from ftjlab.vae.metrics import Evaluator

#: the tuned point must have latents this independent: largest |lag-1| over the dimensions
MAX_LAG1 = 0.1


@dataclass
class TuningGrid:
    """Results of a tuning study, arrays of shape (len(biases_v), len(intervals_s))."""

    biases_v: np.ndarray
    intervals_s: np.ndarray
    n: int
    fcd: np.ndarray
    ks_max: np.ndarray
    ks_mean: np.ndarray
    lag1_max: np.ndarray
    entropy_over_ln10: np.ndarray
    instrument_s: np.ndarray
    max_lag1: float = MAX_LAG1

    @property
    def independent(self) -> np.ndarray:
        """Points whose latents are independent enough: largest |lag-1| <= ``max_lag1``."""
        return np.isfinite(self.fcd) & (self.lag1_max <= self.max_lag1)

    @property
    def best_index(self) -> tuple[int, int]:
        """The lowest FCD among the :attr:`independent` points; where none is, the point
        with the least correlated latents (then :attr:`best_is_independent` is False)."""
        if self.independent.any():
            k = int(np.argmin(np.where(self.independent, self.fcd, np.inf)))
        else:
            k = int(np.nanargmin(np.where(np.isfinite(self.fcd), self.lag1_max, np.nan)))
        i, j = np.unravel_index(k, self.fcd.shape)
        return int(i), int(j)

    @property
    def best_is_independent(self) -> bool:
        return bool(self.independent[self.best_index])

    @property
    def best(self) -> tuple[float, float]:
        """(bias, interval) of :attr:`best_index`."""
        i, j = self.best_index
        return float(self.biases_v[i]), float(self.intervals_s[j])

    def arrays(self) -> dict[str, tuple[np.ndarray, str]]:
        """Datasets for :func:`ftjlab.store.add_results` / ``RunWriter.finish``."""
        return {
            "biases_v": (self.biases_v, "V"),
            "intervals_s": (self.intervals_s, "s"),
            "fcd": (self.fcd, "1"),
            "ks_max": (self.ks_max, "1"),
            "ks_mean": (self.ks_mean, "1"),
            "lag1_max": (self.lag1_max, "1"),
            "entropy_over_ln10": (self.entropy_over_ln10, "1"),
            "instrument_s": (self.instrument_s, "s"),
        }

    def table(self) -> str:
        """One line per grid point."""
        head = (
            f"{'bias V':>7} {'interval s':>10} {'FCD':>8} {'KS max':>7} {'lag1':>6} {'H/ln10':>7}"
        )
        lines = [head, "-" * len(head)]
        best = self.best_index
        for i, v in enumerate(self.biases_v):
            for j, dt in enumerate(self.intervals_s):
                mark = "  tuned" if (i, j) == best else (
                    "" if self.independent[i, j] else f"  lag-1 > {self.max_lag1:g}")
                lines.append(
                    f"{v:>7.2f} {dt:>10.2g} {self.fcd[i, j]:>8.1f} {self.ks_max[i, j]:>7.3f} "
                    f"{self.lag1_max[i, j]:>6.2f} {self.entropy_over_ln10[i, j]:>7.3f}{mark}"
                )
        return "\n".join(lines)


def tune_sampling(
    source,
    decoder,
    biases_v: Sequence[float],
    intervals_s: Sequence[float],
    n: int = 1000,
    evaluator: Evaluator | None = None,
    cells_per_latent: int = 4,
    session=None,
    echo: Callable[[str], None] | None = None,
) -> TuningGrid:
    """Run the study with a latent ``source`` (``sample(n, settings)``, e.g.
    :class:`~ftjlab.vae.engine.BenchRTNLatents`) and a ``decoder`` (``decode(z)``, e.g.
    :class:`~ftjlab.vae.engine.MeasuredMapDecoder`); instrument time from ``session``."""
    from ftjlab.rtn.latent import latent_quality
    from ftjlab.vae.engine import SamplingSettings

    biases = np.asarray(biases_v, dtype=np.float64)
    intervals = np.asarray(intervals_s, dtype=np.float64)
    if biases.size == 0 or intervals.size == 0:
        raise BadInput("tuning grid: need at least one bias and one interval")
    if np.any(intervals <= 0) or np.any(biases == 0) or not np.all(np.isfinite(biases)):
        raise BadInput("tuning grid: intervals must be > 0 and biases finite and non-zero")
    if n < 20:
        raise BadInput(f"tuning grid: need at least 20 samples per point, got {n}")
    evaluator = evaluator or Evaluator()
    shape = (biases.size, intervals.size)
    out = {k: np.full(shape, np.nan) for k in ("fcd", "ks_max", "ks_mean", "lag1", "h", "t")}
    source.prepare()
    for i, v in enumerate(biases):
        for j, dt in enumerate(intervals):
            wall = time.perf_counter()
            t0 = session.now_s() if session is not None else 0.0
            z = source.sample(n, SamplingSettings(float(v), float(dt), None, cells_per_latent))
            t1 = session.now_s() if session is not None else 0.0
            images = decoder.decode(z)
            m = evaluator.evaluate(images, precision_recall=False)
            q = latent_quality(z)
            out["fcd"][i, j] = m.fcd
            out["ks_max"][i, j] = float(np.max(q.ks))
            out["ks_mean"][i, j] = float(np.mean(q.ks))
            out["lag1"][i, j] = float(np.max(np.abs(q.lag1)))
            out["h"][i, j] = m.class_entropy / np.log(10)
            out["t"][i, j] = t1 - t0
            if echo is not None:
                echo(
                    f"  bias {v:.2f} V, interval {dt:.2g} s: FCD {m.fcd:.1f}, KS max "
                    f"{out['ks_max'][i, j]:.3f} ({time.perf_counter() - wall:.1f} s)"
                )
    return TuningGrid(
        biases,
        intervals,
        n,
        out["fcd"],
        out["ks_max"],
        out["ks_mean"],
        out["lag1"],
        out["h"],
        out["t"],
    )


def plot_tuning(grid: TuningGrid, path: str | Path, fcd_software: float | None = None) -> Path:
    """Heatmaps of FCD and KS max over bias x interval as a PNG (matplotlib, Agg backend)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    path = Path(path)
    fig, axes = plt.subplots(1, 2, figsize=(10, 4), constrained_layout=True)
    xt = [f"{dt:.2g}" for dt in grid.intervals_s]
    yt = [f"{v:.2f}" for v in grid.biases_v]
    title_fcd = "FCD" + (f" (software {fcd_software:.1f})" if fcd_software else "")
    for ax, data, title in ((axes[0], grid.fcd, title_fcd), (axes[1], grid.ks_max, "KS max")):
        im = ax.imshow(data, cmap="magma_r", aspect="auto", origin="lower")
        ax.set_xticks(range(len(xt)), xt)
        ax.set_yticks(range(len(yt)), yt)
        ax.set_xlabel("sampling interval (s)")
        ax.set_ylabel("RTN bias (V)")
        ax.set_title(f"{title}, n = {grid.n} (darker = worse)")
        for i in range(data.shape[0]):
            for j in range(data.shape[1]):
                ax.text(j, i, f"{data[i, j]:.3g}", ha="center", va="center", color="tab:cyan")
        fig.colorbar(im, ax=ax)
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path


def run_tuning_study(
    out: str | Path,
    biases_v: Sequence[float],
    intervals_s: Sequence[float],
    n: int = 1000,
    seed: int = 2026,
    echo: Callable[[str], None] = print,
    bench: str | Path | None = None,
    maps_from: str = "",
    cells_per_latent: int = 4,
) -> tuple[TuningGrid, Path, Path]:
    """The study through the instruments of a bench (default: the shipped simulated one):
    the decoder's measured maps from ``maps_from`` (``vae-program`` run files), or every load
    programmed by write-verify and measured now; RTN latents through the SMU buffers at every
    grid point; stored as one ``vae-tune`` run in ``out`` (tuning arrays, the software FCD on
    the same n) with the heatmap PNG next to it. Returns (grid, HDF5 path, PNG path)."""
    from ftjlab.controller import ArrayController
    from ftjlab.session import BenchSession
    from ftjlab.store import RunWriter
    from ftjlab.vae.bench import (
        build_engine,
        decoder_mapping,
        load_maps,
        load_pair_signs,
        program_all_loads,
    )

    with BenchSession.open(bench, seed=seed) as session:
        c = ArrayController(session)
        try:
            model, mapping = decoder_mapping(c, 32)
            maps = load_maps(maps_from) if maps_from else {}
            success = float("nan")
            if not maps:
                echo(f"programming {mapping.n_loads} decoder loads through the bench")
                reports = program_all_loads(c, mapping)
                maps = {k: r.measured_s for k, r in reports.items()}
                success = float(np.mean([r.success_rate for r in reports.values()]))
            engine = build_engine(c, decoder_mode="measured-map", maps=maps, model=model,
                                  max_cells_per_latent=cells_per_latent, seed=seed,
                                  mapping=mapping,
                                  signs=load_pair_signs(maps_from) if maps_from else None)
            evaluator = Evaluator()
            grid = tune_sampling(engine.source, engine.decoder, biases_v, intervals_s, n,
                                 evaluator, cells_per_latent, session, echo)
            snapshot = session.snapshot()
        finally:
            c.safe_state()
    soft = model.decode(np.random.default_rng(seed).standard_normal((n, model.latent_dim)))
    fcd_sw = evaluator.evaluate(soft, precision_recall=False).fcd
    params = {
        "biases_v": list(map(float, biases_v)),
        "intervals_s": list(map(float, intervals_s)),
        "samples": n,
        "seed": seed,
        "maps_from": maps_from or "programmed in this run",
        "cells_per_latent": cells_per_latent,
    }
    writer = RunWriter.create(out, "vae-tune", params, snapshot, {})
    arrays = grid.arrays()
    arrays["fcd_ratio"] = (grid.fcd / fcd_sw, "1")
    bias, interval = grid.best
    writer.finish(
        "completed",
        arrays=arrays,
        attrs={
            "fcd_software": fcd_sw,
            "best_bias_v": bias,
            "best_interval_s": interval,
            "programmed_in_tolerance": success,
            "through": "instruments (latents: SMU buffers; maps: write-verify + read_map)",
        },
    )
    png = plot_tuning(grid, writer.path.with_suffix(".png"), fcd_sw)
    return grid, writer.path, png
