"""The switching-noise view draws calibration points, operating points and the histogram."""

from __future__ import annotations

import numpy as np


def test_switching_noise_view_draws_a_run(qtbot):
    from ftjlab.gui.views import make_view

    view = make_view("switching-noise")
    qtbot.addWidget(view)
    assert type(view).__name__ == "SwitchingNoiseView"
    view.begin({"k": 8})
    view.feed("trials", np.array([[0, 0, 1, 1.8, 1e-6, 40, 10], [0, 0, -1, 1.9, 1e-6, 40, 30]]))
    rng = np.random.default_rng(0)
    noise = (rng.binomial(8, 0.5, size=(2000, 2)) - 4) / np.sqrt(2)
    view.feed("noise", noise)
    view.feed("settings", np.array([[0, 0.5, 16, 0.1, 8], [1, 0.5, 16, 0.2, 7]]))
    view.result("set_volts", np.array([1.85, np.nan]))
    view.result("reset_volts", np.array([-1.9, -1.95]))
    assert view.redraw()
    assert len(view.op_lines) == 3
    heights = view.hist.opts["height"]
    # the histogram is the Binomial(8, 1/2) density on its support (C(8,4)/256 at 0)
    assert abs(heights[4] / np.sqrt(2) - 70 / 256) < 0.02
    assert "4000 noise values" in view.stats.text() and "flip rate 0.469" in view.stats.text()
