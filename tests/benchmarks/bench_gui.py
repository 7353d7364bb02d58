"""GUI frame-time benchmarks (issue 7), offscreen, as ratios to the frame budgets.

* a live RTN view (:class:`ftjlab.gui.views.RTNView`, 1280 x 720) holding a 1e6-point trace:
  one frame = take a 1e4-point block, redraw, repaint synchronously; budget 33 ms (30 fps);
* a conductance-map view of a 1024 x 1024 array: one frame = take 16 new rows of 1024 cells
  (or a whole new map), redraw, repaint; budget 50 ms.

Ratios are ``median frame time / budget`` (<= 1 passes). For information, the same RTN frame
drawn the naive way (the whole 1e6-point trace handed to pyqtgraph with its own peak
downsampling and clip-to-view) is measured in the same run, and the process CPU time per
frame is given beside the wall time. The machine is shared: when the frames got less than
0.7 of a core, the wall time is mostly waiting for the scheduler and the CPU median is judged.
"""

from __future__ import annotations

import os
import statistics
import time

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import numpy as np

from ftjlab.benchmarks import BenchResult, core_share

RTN_BUDGET_S = 0.033
MAP_BUDGET_S = 0.050
TRACE_POINTS = 1_000_000
BLOCK = 10_000


def _app():
    from PyQt6.QtWidgets import QApplication

    return QApplication.instance() or QApplication([])


def _telegraph(n: int, rng: np.random.Generator) -> np.ndarray:
    """An RTN-like block: two levels, ~2 ms dwell at 200 us sampling, read noise."""
    flips = rng.random(n) < 0.1
    state = np.cumsum(flips) % 2
    return (1.5e-9 + 0.8e-9 * state + 2e-11 * rng.standard_normal(n)).astype(np.float32)


def _frames(frame, count: int) -> tuple[list[float], list[float]]:
    """Wall and process CPU seconds of ``count`` frames."""
    wall, cpu = [], []
    for k in range(count):
        w0, c0 = time.perf_counter(), time.process_time()
        frame(k)
        cpu.append(time.process_time() - c0)
        wall.append(time.perf_counter() - w0)
    return wall, cpu


def _judged(wall: list[float], cpu: list[float]) -> tuple[float, str]:
    """The frame time judged against the budget: the wall median; on a busy machine (see
    :func:`~ftjlab.benchmarks.core_share`: the wall time is mostly waiting for the scheduler)
    the process CPU median, the frame's time on a free core."""
    busy, contended = core_share(sum(cpu), sum(wall))
    if not contended:
        return statistics.median(wall), ""
    return statistics.median(cpu), (f"; judged on CPU: the frames had {busy:.2f} of a core "
                                    f"(wall median {1e3 * statistics.median(wall):.1f} ms)")


def _p95(values: list[float]) -> float:
    return float(np.percentile(values, 95))


def bench_rtn_view_frame(quick: bool) -> list[BenchResult]:
    from ftjlab.gui.views import RTNView

    app = _app()
    rng = np.random.default_rng(7)
    blocks = [_telegraph(BLOCK, rng) for _ in range(16)]
    view = RTNView()
    view.resize(1280, 720)
    view.show()
    view.begin({"interval_s": 2e-4, "readings": 2 * TRACE_POINTS})
    for k in range(TRACE_POINTS // BLOCK):
        view.feed("current", blocks[k % len(blocks)])
    view.redraw(force=True)
    view.graphics.viewport().repaint()
    app.processEvents()

    def frame(k: int) -> None:
        view.feed("current", blocks[k % len(blocks)])
        view.redraw()
        view.graphics.viewport().repaint()

    count = 20 if quick else 60
    _frames(frame, 5)
    wall, cpu = _frames(frame, count)
    n = len(view.trace)

    # the naive way, same data and widget size: all points to pyqtgraph each frame
    import pyqtgraph as pg

    plot = pg.PlotWidget()
    plot.resize(1280, 720)
    plot.show()
    curve = plot.plot(pen=pg.mkPen("#3060a0", width=1))
    curve.setDownsampling(auto=True, method="peak")
    curve.setClipToView(True)
    data = np.concatenate([blocks[k % len(blocks)] for k in range(TRACE_POINTS // BLOCK)])
    app.processEvents()

    def naive(k: int) -> None:
        nonlocal data
        data = np.concatenate([data, blocks[k % len(blocks)]])
        curve.setData(np.arange(data.size) * 2e-4, data)
        plot.viewport().repaint()

    naive_wall, _ = _frames(naive, 5 if quick else 15)
    view.close()
    plot.close()
    median, how = _judged(wall, cpu)
    return [
        BenchResult(
            "gui.rtn_view_frame_1e6", median, RTN_BUDGET_S, "s per frame vs 33 ms budget", 1.0,
            note=f"trace {n:,} pts, +{BLOCK:,}/frame; p95 {1e3 * _p95(wall):.1f} ms, "
                 f"CPU median {1e3 * statistics.median(cpu):.1f} ms{how}",
            extra={"frames": count, "wall_ms": [1e3 * w for w in wall]},
        ),
        BenchResult(
            "gui.rtn_naive_full_trace_frame", statistics.median(naive_wall), RTN_BUDGET_S,
            "s per frame vs 33 ms budget", None,
            note="info: whole trace to pyqtgraph (peak downsampling, clip to view)",
        ),
    ]


def bench_map_view_frame(quick: bool) -> list[BenchResult]:
    from ftjlab.gui.views import MapView

    app = _app()
    rng = np.random.default_rng(3)
    side = 1024
    g = rng.lognormal(np.log(2e-9), 0.8, size=(side, side))
    view = MapView()
    view.resize(1100, 900)
    view.show()
    view.begin({}, {"rows": side, "cols": side})
    app.processEvents()
    rows_per_frame = 16

    def rows_frame(k: int) -> None:
        r0 = (k * rows_per_frame) % side
        if r0 == 0:
            view.begin({}, {"rows": side, "cols": side})
        view.feed("rows", g[r0 : r0 + rows_per_frame])
        view.redraw()
        view.graphics.viewport().repaint()

    def full_frame(k: int) -> None:
        view.result("conductance", g * (1.0 + 0.01 * (k % 5)), "S")
        view.redraw()
        view.graphics.viewport().repaint()

    count = 16 if quick else 48
    _frames(rows_frame, 4)
    rows_wall, rows_cpu = _frames(rows_frame, count)
    _frames(full_frame, 2)
    full_wall, full_cpu = _frames(full_frame, count // 2)
    view.close()
    (rows_s, rows_how), (full_s, full_how) = _judged(rows_wall, rows_cpu), _judged(full_wall,
                                                                                    full_cpu)
    return [
        BenchResult(
            "gui.map_view_1024_rows_frame", rows_s, MAP_BUDGET_S,
            "s per frame vs 50 ms budget", 1.0,
            note=f"1024x1024 map, +{rows_per_frame} rows/frame; p95 "
                 f"{1e3 * _p95(rows_wall):.1f} ms, CPU median "
                 f"{1e3 * statistics.median(rows_cpu):.1f} ms{rows_how}",
        ),
        BenchResult(
            "gui.map_view_1024_full_frame", full_s, MAP_BUDGET_S,
            "s per frame vs 50 ms budget", 1.0,
            note=f"whole 1024x1024 map replaced; p95 {1e3 * _p95(full_wall):.1f} ms, CPU "
                 f"median {1e3 * statistics.median(full_cpu):.1f} ms{full_how}",
        ),
    ]
