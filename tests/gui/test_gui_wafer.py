"""The wafer-map view follows a campaign folder: dies coloured by status, then by a result."""

from __future__ import annotations

import json

import numpy as np

from ftjlab.gui.wafer import STATUS_COLOURS, WaferMapView


def _die_folder(out, die, g, status="completed", partial=False):
    name = f"c{die[0]:02d}_r{die[1]:02d}" + (".partial" if partial else "")
    folder = out / "dies" / name
    folder.mkdir(parents=True)
    if not partial:
        record = {"col": die[0], "row": die[1], "procedure": "conductance-map",
                  "status": status, "results": {"conductance_median": g}}
        (folder / "die.json").write_text(json.dumps([record]))


def test_wafer_view_colours_dies_as_they_finish(qtbot, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    dies = [[3, 3], [4, 3], [3, 4], [4, 4], [2, 3]]
    wafer = {"diameter_um": 40_000.0, "die_um": [5000.0, 5000.0], "edge_um": 0.0}
    (out / "campaign.json").write_text(json.dumps(
        {"fingerprint": {"wafer": wafer, "dies": dies, "procedures": []}}))
    view = WaferMapView(out)
    qtbot.addWidget(view)
    view.show()
    view.refresh()

    def colour(col, row):  # the image item holds (x = column, y = row, rgba)
        return tuple(int(v) for v in view.image.image[col, row])

    assert view.image.image.shape == (8, 8, 4)  # a 40 mm wafer of 5 mm dies
    assert all(colour(c, r) == STATUS_COLOURS["pending"] for c, r in dies)
    assert colour(0, 0) == STATUS_COLOURS["off"]  # not a campaign die
    _die_folder(out, (3, 3), 1e-7)
    _die_folder(out, (4, 3), 2e-7, status="failed")
    _die_folder(out, (3, 4), 3e-7)
    _die_folder(out, (4, 4), 0, partial=True)
    view.refresh()
    assert colour(3, 3) == STATUS_COLOURS["completed"]
    assert colour(4, 3) == STATUS_COLOURS["failed"]
    assert colour(4, 4) == STATUS_COLOURS["in progress"]
    assert colour(2, 3) == STATUS_COLOURS["pending"]
    assert view.summary.text() == "2 completed, 1 failed, 1 in progress, 1 pending"
    view.colour_by.setCurrentText("conductance_median")
    brightness = [np.sum(colour(*d)[:3]) for d in ((3, 3), (4, 3), (3, 4))]
    assert brightness[0] < brightness[1] < brightness[2]  # viridis: dark = low, bright = high
    assert "1e-07 .. 3e-07" in view.summary.text()
