"""One calibration of simulated cells shared by the switching tests (device-side draws)."""

from __future__ import annotations

import pytest
from switching_physics import ANCHORS, Cells, with_mirror

from ftjlab.switching.engine import Calibration, calibration_from_trials


@pytest.fixture(scope="session")
def calibrated() -> tuple[Cells, Calibration]:
    """16 cells of the simulated device, calibrated (SET polarity; the table is mirrored for
    RESET, which the device model makes symmetric) with the bench's trial design."""
    cells = Cells(16, seed=7)
    table = cells.calibration_table(+1, local_repeats=1300, anchors=ANCHORS)
    return cells, calibration_from_trials(with_mirror(table))
