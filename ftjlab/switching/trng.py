"""Random bits from stochastic switching: the flip of every cell at every chain step.

At p = 1/2 each pulse flips its cell with probability 1/2, independently of every earlier
pulse (the cell is saturated again after each read), so the flip indicators are the raw
random bits. (The cell states themselves are the running XOR of the flips: unbiased at any
p, but correlated by 1 - 2p from step to step.) Raw bits come step-major, cells in order.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from ftjlab.errors import BadInput

from .engine import Calibration, SwitchingCells

if TYPE_CHECKING:
    from ftjlab.store import RunInfo


def flips_from_states(bits: np.ndarray, start: np.ndarray | int = 0) -> np.ndarray:
    """Flip indicators (steps, cells) of a chain's recorded states (steps, cells)."""
    b = np.asarray(bits, dtype=np.uint8)
    if b.ndim != 2:
        raise BadInput(f"bits: need (steps, cells), got shape {b.shape}")
    first = np.broadcast_to(np.asarray(start, dtype=np.uint8), b.shape[1:])
    return np.vstack([first[None, :], b[:-1]]) ^ b


def open_constant_chain_run(path: str, run_id: str | None = None, field: str = "FILE"
                            ) -> RunInfo:
    """The :class:`~ftjlab.store.RunInfo` of a ``switching-noise`` run of the stationary chain
    (constant schedule); any other run is :class:`BadInput` naming ``field``."""
    from ftjlab import store

    info = store.open_run(path, run_id, field=field)
    if info.procedure != "switching-noise":
        raise BadInput(f"{field}: run {info.run_id!r} of {path!r} is a {info.procedure!r} "
                       "run, not switching-noise")
    if info.parameters.get("schedule", "constant") != "constant":
        raise BadInput(f"{field}: run {info.run_id!r} follows a diffusion schedule (p varies); "
                       "this needs the stationary chain (schedule=constant)")
    return info


def flip_bits_from_run(path: str, run_id: str | None = None) -> tuple[np.ndarray, dict]:
    """The raw flip bits of a ``switching-noise`` run (constant schedule), step-major."""
    from ftjlab import store

    info = open_constant_chain_run(path, run_id)
    bits = store.read_dataset(path, "bits", info.run_id)
    in_use = store.read_dataset(path, "in_use", info.run_id).astype(bool)
    if bits.shape[0] < 2 or not in_use.any():
        raise BadInput(f"FILE: run {info.run_id!r} has no chain steps")
    flips = flips_from_states(bits)[:, in_use]
    return flips.ravel(), {"source": "switching flips", "run": info.run_id,
                           "p": info.parameters.get("p"), "cells": int(in_use.sum()),
                           "steps": int(bits.shape[0])}


@dataclass
class SwitchingBitSource:
    """Raw flip bits drawn live through the instruments at one target p."""

    cells: SwitchingCells
    calibration: Calibration
    p: float = 0.5
    width_s: float = 1e-6
    max_volts: float = 4.5
    p_tolerance: float = 0.02
    steps: int = 0
    instrument_s: float = 0.0
    use: np.ndarray = field(init=False)

    def __post_init__(self) -> None:
        index = [self.calibration.cells.index(c) for c in self.cells.cells]
        laws = self.calibration.laws_for(self.p)
        pts = []
        for pol in (1, -1):
            sub = Calibration([self.calibration.cells[i] for i in index],
                              {pol: [laws[pol][i] for i in index]}, self.calibration.alpha,
                              self.calibration.trials, self.p)
            pts.append(sub.points(self.p, pol, self.width_s, self.max_volts, self.p_tolerance))
        self.set_pts, self.reset_pts = pts
        self.use = self.set_pts.usable & self.reset_pts.usable
        if not self.use.any():
            raise BadInput(f"p: {self.p:g} is unreachable for every cell "
                           f"({next(iter(self.set_pts.reasons.values()), '')})")

    def start(self) -> None:
        self.cells.measure_window()
        self.cells.saturate()

    def stream(self, now_s) -> Iterator[np.ndarray]:
        """Raw bits, one block per chain step (``now_s()``: the bench clock, for the rate)."""
        while True:
            t0 = now_s()
            flips = self.cells.step(self.set_pts, self.reset_pts, self.use)
            self.instrument_s += now_s() - t0
            self.steps += 1
            yield flips[self.use].astype(np.uint8)

    def describe(self) -> dict:
        n = int(self.use.sum())
        bits = self.steps * n
        return {"source": "switching flips (live, through the instruments)", "p": self.p,
                "cells": n, "steps": self.steps,
                "bits_per_instrument_s": bits / self.instrument_s if self.instrument_s else 0.0,
                "pulses_per_raw_bit": self.cells.pulses / bits if bits else 0.0}
