"""The tuned RTN sampling point: the lowest FCD among the points whose latents are
independent (largest |lag-1| <= 0.1), never a low FCD from correlated latents."""

import numpy as np

from ftjlab.vae.tuning import MAX_LAG1, TuningGrid


def _grid(fcd, lag1) -> TuningGrid:
    fcd, lag1 = np.asarray(fcd, float), np.asarray(lag1, float)
    zeros = np.zeros_like(fcd)
    return TuningGrid(np.array([0.4, 0.8]), np.array([2e-4, 2e-3, 2e-2]), 1000, fcd, zeros,
                      zeros, lag1, zeros, zeros)


def test_lowest_fcd_with_correlated_latents_is_not_chosen():
    # the previous demo's case: 0.8 V / 0.2 ms had the lowest FCD with lag-1 0.53
    g = _grid([[59.5, 52.4, 53.5], [51.0, 55.9, 54.3]], [[0.16, 0.06, 0.07], [0.53, 0.15, 0.06]])
    assert MAX_LAG1 == 0.1
    assert g.best == (0.4, 2e-3) and g.best_is_independent
    assert "lag-1 > 0.1" in g.table().splitlines()[5]  # 0.8 V, 0.2 ms is flagged
    assert g.table().splitlines()[3].endswith("tuned")


def test_no_independent_point_falls_back_to_the_least_correlated():
    g = _grid([[50.0, 60.0, 70.0], [np.nan, 55.0, 65.0]], [[0.5, 0.3, 0.2], [0.01, 0.4, 0.15]])
    assert g.best == (0.8, 2e-2) and not g.best_is_independent  # NaN FCD: skipped
