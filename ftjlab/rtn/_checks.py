"""Input checks shared by the RTN modules."""

from __future__ import annotations

import numpy as np

from ftjlab.errors import BadInput


def as_cells(data, name: str, min_readings: int) -> np.ndarray:
    """``data`` as float64 readings of shape (cells, n); a 1-D input is one cell.

    :class:`BadInput` unless it is 1-D or 2-D with ``n >= min_readings`` and every reading is
    finite.
    """
    x = np.asarray(data, dtype=np.float64)
    if x.ndim == 1:
        x = x[None, :]
    if x.ndim != 2:
        raise BadInput(f"{name}: expected (cells, readings), got shape {x.shape}")
    if x.shape[1] < min_readings:
        raise BadInput(f"{name}: {x.shape[1]} readings per cell is too short "
                       f"(need >= {min_readings})")
    if not np.all(np.isfinite(x)):
        bad = np.flatnonzero(~np.all(np.isfinite(x), axis=1))
        raise BadInput(f"{name}: NaN/inf readings in cell(s) {bad.tolist()[:10]}")
    return x
