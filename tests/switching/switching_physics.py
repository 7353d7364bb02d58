"""The device side of the switching tests: flip probabilities of simulated multi-domain cells,
computed from the simulator's domain parameters (not from ftjlab.switching's fitted laws)."""

from __future__ import annotations

import numpy as np
from ftjlab.simulators.params import SwitchingModel
from ftjlab.simulators.switching import DomainArray

WIDTHS_S = (1e-6, 4e-6)
#: a short DDPM-like schedule; its p_t lie between the calibration anchors
SCHEDULE_BETAS = np.linspace(0.05, 0.4, 6)
ANCHORS = (0.5, float((1 - np.sqrt(1 - 0.1)) / 2), float((1 - np.sqrt(1 - 0.35)) / 2))


class Cells:
    """``n`` simulated cells; a trial = saturated start, one pulse, "flipped" when more than
    half of the cell's area switched (the middle of its conductance window)."""

    def __init__(self, n: int, seed: int, model: SwitchingModel | None = None,
                 domains: DomainArray | None = None, index: np.ndarray | None = None) -> None:
        self.rng = np.random.default_rng(seed)
        self.d = domains if domains is not None else DomainArray(
            model or SwitchingModel(), n, self.rng)
        self.index = np.arange(n) if index is None else np.asarray(index)
        area = self.d.area[self.index].astype(np.float64)
        self.area = area / area.sum(axis=1, keepdims=True)
        self.n = n

    def flips(self, cell: int, volts: float, width_s: float, trials: int) -> np.ndarray:
        p = self.d.switching_probability(self.index[cell:cell + 1], np.array([float(volts)]),
                                         width_s)[0]
        return (self.rng.random((trials, p.size)) < p) @ self.area[cell] > 0.5

    def p_true(self, cell: int, volts: float, width_s: float, trials: int = 10_000) -> float:
        return float(self.flips(cell, volts, width_s, trials).mean())

    def calibration_table(self, polarity: int, local_repeats: int, sweep_repeats: int = 4,
                          anchors: tuple[float, ...] = (0.5,)) -> np.ndarray:
        """The trials the bench calibration records (same design: a row-parallel sweep, then
        two local rounds per cell), drawn from the device; rows as engine.TrialLog."""
        from ftjlab.switching.engine import calibration_from_trials

        rows = []
        for t in WIDTHS_S:
            for v in np.linspace(1.2, 3.0, 19):
                for j in range(self.n):
                    rows.append((0, j, polarity, v, t, sweep_repeats,
                                 int(self.flips(j, v, t, sweep_repeats).sum())))
        offsets = np.array([-0.03, -0.02, -0.01, 0.0, 0.01, 0.02, 0.03])
        for target_p in anchors:
            for scale in (2.0, 1.0):
                laws = _laws(calibration_from_trials, rows, self.n, polarity, target_p)
                reps = local_repeats // 2 if scale > 1 else local_repeats
                for t in WIDTHS_S:
                    for j, law in enumerate(laws):
                        if not law.ok:
                            continue
                        c = law.volts_for(target_p, t)
                        for v in c + scale * offsets:
                            rows.append((0, j, polarity, v, t, reps,
                                         int(self.flips(j, v, t, reps).sum())))
        return np.array(rows, dtype=np.float64)


def with_mirror(table: np.ndarray, polarity: int = 1) -> np.ndarray:
    """A trial table of ``polarity`` with its copy for the other polarity appended: the
    device model without imprint switches the same either way (RESET's law is SET's)."""
    mirrored = table.copy()
    mirrored[:, 2] = -polarity
    return np.concatenate([table, mirrored])


def _laws(fit, rows, n, polarity, target_p):
    # the other polarity is not measured here: mirror the table so the fit has both
    table = with_mirror(np.array(rows, dtype=np.float64), polarity)
    cal = fit(table, [(0, j) for j in range(n)], target_p)
    return cal.laws[polarity]
