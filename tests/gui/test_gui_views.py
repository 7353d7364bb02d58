"""Buffers and views without a bench: decimation keeps every extreme, histograms count every
value, the map's tooltips name the cell, views draw what they were fed."""

from __future__ import annotations

import numpy as np
import pytest
from PyQt6.QtCore import QPointF

from ftjlab.gui.buffers import GrowingRows, RunningHistogram, TraceEnvelope, two_means_levels


def test_envelope_keeps_every_extreme_and_is_raw_when_it_fits(rng):
    env = TraceEnvelope(bin_size=64)
    data = rng.standard_normal(1_234_567).astype(np.float32)
    for start in range(0, data.size, 9_999):  # odd block size: bins straddle blocks
        env.append(data[start : start + 9_999])
    assert len(env) == data.size
    index, value = env.envelope(max_points=4000)
    assert index.size <= 4000 + 2
    assert value.max() == data.max() and value.min() == data.min()
    # every bucket's pair is the min and max of its samples
    starts = index[0::2].astype(np.int64)
    ends = np.append(starts[1:], data.size)
    for k in (0, 17, starts.size - 1):
        chunk = data[starts[k] : ends[k]]
        assert (value[2 * k], value[2 * k + 1]) == (chunk.min(), chunk.max())
    # a zoomed range that fits is shown raw
    index, value = env.envelope(500_000, 502_000, max_points=4000)
    np.testing.assert_array_equal(value, data[500_000:502_000])
    np.testing.assert_array_equal(index, np.arange(500_000, 502_000))


def test_running_histogram_counts_every_value_and_widens(rng):
    seen = GrowingRows(np.float64)
    hist = RunningHistogram(bins=50)
    for scale in (1.0, 1.0, 3.0, 1.0):  # the third block falls outside the first range
        block = scale * rng.standard_normal(10_000)
        seen.append(block)
        hist.add(block, lambda: seen.data)
    assert hist.counts.sum() == seen.n == 40_000
    expected, _ = np.histogram(seen.data, bins=50, range=(hist.lo, hist.hi))
    np.testing.assert_array_equal(hist.counts, expected)


def test_two_means_levels_of_a_telegraph(rng):
    state = rng.random(200_000) < 0.4
    x = np.where(state, 1.5e-9, 2.3e-9) + 2e-11 * rng.standard_normal(state.size)
    counts, edges = np.histogram(x, bins=160)
    lo, hi = two_means_levels(0.5 * (edges[1:] + edges[:-1]), counts)
    assert lo == pytest.approx(1.5e-9, rel=0.01) and hi == pytest.approx(2.3e-9, rel=0.01)


def test_rtn_view_redraws_a_decimated_trace_and_redecimates_a_zoom(qtbot, rng):
    from ftjlab.gui.views import RTNView

    view = RTNView()
    qtbot.addWidget(view)
    view.resize(1000, 600)
    view.show()
    view.begin({"interval_s": 1e-4, "readings": 1_200_000})
    data = rng.standard_normal(1_200_000).astype(np.float32)
    for start in range(0, data.size, 10_000):
        view.feed("current", data[start : start + 10_000])
    assert view.redraw() and not view.redraw()  # nothing changed: no second repaint
    x, y = view.curve.getData()
    assert y.size <= 2 * max(400, int(view.trace_plot.getViewBox().width())) + 2
    assert y.max() == data.max() and y.min() == data.min()
    assert view.detail_curve.getData()[1].size == view.DETAIL
    # the user zooms into 1000 readings (0.1 s): raw samples of that range are drawn
    view.trace_plot.getViewBox().setXRange(10.0, 10.1, padding=0)
    view._on_manual_range()
    view.redraw()
    x, y = view.curve.getData()
    i0 = round(x[0] / 1e-4)
    np.testing.assert_array_equal(y, data[i0 : i0 + y.size])
    assert y.size < 1100
    view.follow()
    view.redraw()
    assert view.curve.getData()[1].size < y.size * 10  # the whole run again, decimated


def test_map_view_shows_rows_as_they_arrive_with_cell_tooltips(qtbot):
    from ftjlab.gui.views import MapView

    view = MapView()
    qtbot.addWidget(view)
    view.resize(700, 600)
    view.show()
    view.begin({}, {"rows": 8, "cols": 8})
    g = np.linspace(1e-9, 9e-8, 64).reshape(8, 8)
    view.feed("rows", g[:3])
    view.redraw()
    assert view.cell_text(2, 5) == "WL2, BL5: G = 30.7 nS"
    assert view.cell_text(6, 1) == "WL6, BL1: G = not measured yet"
    assert view.image_data.index[6, 1] == 0 and view.image_data.index[2, 5] > 0
    view.feed("rows", g[3:])
    view.redraw()
    assert view.image_data.filled == 8
    assert view.bar.levels() == pytest.approx((g.min(), g.max()))
    # hovering a cell puts its description in the tooltip
    qtbot.wait(20)  # lays out the plot and fits the view range
    scene_pos = view.plot.getViewBox().mapViewToScene(QPointF(4.0, 7.0))
    view._hover(scene_pos)
    assert view.tooltip.startswith("WL7, BL4: G = ")
    assert view.graphics.toolTip() == view.tooltip


def test_every_procedure_has_a_view_that_draws_its_streams(qtbot, rng):
    from ftjlab.procedures import PROCEDURES

    from ftjlab.gui.views import make_view

    blocks = {
        "write-verify": ("cells", [[0, 1, 2e-8, 2.05e-8, 3, 1], [0, 2, 4e-8, 3e-8, 40, 0]]),
        "vmm-accuracy": ("measured", [[0.1, 0.2]]),
        "switching-probability": ("points", [[1.4, 1e-7, 0.1, 0.02]]),
        "iv-sweep": ("iv", [[0.1, 1e-9], [0.2, 2.1e-9]]),
        "rtn-tuning": ("points", [[0.6, 1e-4, 0.05, 1e-3, 2e-3, 0.4]]),
        "endurance": ("window", [[1, 9e-8, 2e-9], [10, 8.9e-8, 2.1e-9]]),
        "retention": ("conductance", [[9e-8, 8e-8]]),
    }
    for name in PROCEDURES:
        view = make_view(name)
        qtbot.addWidget(view)
        view.begin({"v_start": 1.4, "v_stop": 3.0, "v_points": 3, "t_start": 1e-7,
                    "t_stop": 1e-4, "t_points": 4})
        if name in blocks:
            stream, block = blocks[name]
            view.feed(stream, np.asarray(block, dtype=np.float64))
            if name == "vmm-accuracy":
                view.feed("ideal", np.asarray([[0.12, 0.18]]))
        view.finish("completed")
        assert view.redraw(), name
        assert "completed" in view.caption.text()


def test_generation_needs_a_bench():
    from ftjlab.errors import BadInput
    from ftjlab.gui.generation import bench_source

    with pytest.raises(BadInput, match="connect"):
        bench_source()(None)
