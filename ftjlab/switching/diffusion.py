"""DDPM sampling with switching noise: a recorded bank, live draws through the bench, or
software noise, all scored on the same n with the project's classifier.

* :func:`load_bank` - the finite noise values of ``switching-noise`` runs (constant schedule).
* :class:`LiveNoise` - noise values drawn through the instruments while sampling: each chain
  step of the calibrated cells gives one standardised Hamming weight per unit.
* :func:`diffuse` - sample ``n`` digits with one source and score them.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass

import numpy as np

from ftjlab.errors import BadInput

from .ddpm import DDPM, BankNoise, Noise, software_noise
from .engine import Calibration, SwitchingCells
from .trng import open_constant_chain_run


def load_bank(paths: str) -> tuple[np.ndarray, dict]:
    """Noise values of ``switching-noise`` runs or noise-bank files (comma-separated; a
    ``.npz`` is read by :func:`~ftjlab.switching.noise.load_noise_bank`, ``shipped`` is the
    bank that ships with ftjlab)."""
    from ftjlab import store

    from .noise import load_noise_bank

    values, runs = [], []
    for text in (p.strip() for p in str(paths).split(",")):
        if not text:
            continue
        if text == "shipped" or text.endswith(".npz"):
            v, info = load_noise_bank(None if text == "shipped" else text)
            values.append(v)
            runs.append({"file": info["file"], "values": int(v.size), "k": int(info["k"])})
            continue
        info = open_constant_chain_run(text, field="--bank")
        if "noise" not in info.datasets:
            raise BadInput(f"--bank: run {info.run_id!r} has no noise stream")
        v = store.read_dataset(text, "noise", info.run_id)
        v = v[np.isfinite(v)]
        values.append(v.astype(np.float32))
        runs.append({"file": text, "run": info.run_id, "values": int(v.size),
                     "k": int(info.parameters.get("k", 0))})
    if not values:
        raise BadInput("--bank: no run files given")
    bank = np.concatenate(values)
    if bank.size == 0:
        raise BadInput("--bank: the runs hold no finite noise values")
    return bank, {"runs": runs, "size": int(bank.size)}


def check_bank_size(bank_size: int, needed: int, max_reuse: float) -> None:
    """A bank must cover the request with at most ``max_reuse`` uses of every value."""
    if needed > max_reuse * bank_size:
        raise BadInput(
            f"--bank: {bank_size} values are too few for this request: {needed} noise values "
            f"would use each {needed / bank_size:.0f} times (--max-reuse {max_reuse:g}); record "
            f"a bank of at least {int(np.ceil(needed / max_reuse))} values or sample fewer images")


class LiveNoise:
    """Noise values drawn through the instruments: one chain step of the cells gives one value
    per unit of ``k`` in-use cells (at p = 1/2 successive steps are independent). With
    ``balanced`` (the ``switching-noise`` default) every second cell of a unit counts OFF as 1,
    so a gap between the SET and RESET flip rates does not shift the mean.

    ``onboard`` (default: where the bench allows it, :attr:`ArrayController.onboard_rows`):
    the read SMU runs ``block_steps`` chain steps per call itself (default: ~512 cell-steps;
    pulses over TSP-Net, reads on every read channel at once, saturation; one message and
    one reply per block, see :meth:`~ftjlab.switching.engine.SwitchingCells.chain_states`);
    otherwise each step is driven from the host (``SwitchingCells.step``). The saturating
    pulse of the on-board chain has the weak pulses' width (as ``switching-noise``'s default);
    the host chain saturates at ``cells``' own width."""

    def __init__(self, cells: SwitchingCells, calibration: Calibration, k: int = 8,
                 p: float = 0.5, width_s: float = 1e-6, max_volts: float = 4.5,
                 p_tolerance: float = 0.03, balanced: bool = True,
                 onboard: bool | None = None, block_steps: int | None = None) -> None:
        from .noise import balanced_complement
        from .trng import SwitchingBitSource

        if block_steps is not None and not 1 <= block_steps <= 1000:
            raise BadInput(f"live noise: block_steps must be 1..1000, got {block_steps}")
        self.source = SwitchingBitSource(cells, calibration, p, width_s, max_volts, p_tolerance)
        self.k = k
        idx = np.flatnonzero(self.source.use)
        self.units = idx.size // k
        if self.units < 1:
            raise BadInput(f"live noise: fewer than k={k} usable cells")
        self._take = idx[: self.units * k]
        self._flip = (balanced_complement(self._take.size, k) if balanced
                      else np.zeros(self._take.size, bool)).astype(np.uint8)
        self.cells = cells
        can = cells.onboard
        if onboard and not can:
            raise BadInput("live noise: this bench cannot run the chain on board (needs a "
                           "2636B reaching the 707B over TSP-Link and the generator over "
                           "TSP-Net, both generator outputs wired)")
        self.onboard = can if onboard is None else bool(onboard)
        #: steps per round trip: ~512 cell-steps (a few s of instrument time per call)
        self.block_steps = int(block_steps or max(1, min(1000, 512 // idx.size)))
        self.width_s = float(width_s)
        self.source.start()
        self._buf = np.empty(0, np.float32)
        self.drawn = 0
        self.steps = 0
        self.calls = 0  # round trips of the on-board chain

    def _states(self, n: int) -> np.ndarray:
        """``n`` chain steps; the states of every cell after each, (n, cells)."""
        cells, src = self.cells, self.source
        if not self.onboard:
            out = np.empty((n, len(cells.cells)), np.uint8)
            for s in range(n):
                cells.step(src.set_pts, src.reset_pts, src.use)
                out[s] = cells.state
            return out
        self.calls += -(-n // self.block_steps)
        return cells.chain_states(src.set_pts.volts, src.reset_pts.volts, self.width_s,
                                  src.use, n, self.block_steps)

    def __call__(self, shape: tuple[int, ...]) -> np.ndarray:
        n = int(np.prod(shape))
        have = self._buf.size
        parts = [self._buf]
        if have < n:
            steps = -(-(n - have) // self.units)
            states = self._states(steps)
            self.steps += steps
            bits = states[:, self._take] ^ self._flip
            h = bits.reshape(steps, self.units, self.k).sum(axis=2)
            parts.append(((h - self.k / 2) / np.sqrt(self.k / 4)).astype(np.float32).ravel())
        joined = np.concatenate(parts)
        self._buf = joined[n:]
        self.drawn += n
        return joined[:n].reshape(shape)


@dataclass
class DiffusionResult:
    """Images of one noise source and their scores."""

    mode: str
    images: np.ndarray
    metrics: dict
    noise_values_per_image: int
    noise_values_used: int
    bank_size: int | None
    bank_reuse: float | None
    seconds: float

    def summary(self) -> dict:
        d = asdict(self)
        d.pop("images")
        return d


def diffuse(model: DDPM, n: int, noise: Noise, mode: str, evaluator=None,
            bank: BankNoise | None = None, precision_recall: bool = True) -> DiffusionResult:
    """``n`` digits from ``model`` with ``noise``, scored by ``evaluator`` (the project's
    classifier; none: no scores)."""
    t0 = time.perf_counter()
    images = model.sample(n, noise)
    seconds = time.perf_counter() - t0
    metrics = {}
    if evaluator is not None and n > 3:
        metrics = evaluator.evaluate(images, precision_recall=precision_recall).as_dict()
    return DiffusionResult(
        mode, images, metrics, model.noise_per_image(), model.noise_per_image() * n,
        None if bank is None else int(bank.bank.size),
        None if bank is None else float(bank.reuse), seconds)


def software(seed: int) -> Noise:
    return software_noise(seed)
