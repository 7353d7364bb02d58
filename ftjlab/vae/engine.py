"""The generation engine: latents from a source, images from a decoder, batch after batch,
each batch with the instrument settings it was taken with. The GUI's Generation tab, the
``vae-generate`` procedure, ``ftjlab demo``, ``vae-tune`` and the stability study all use it.

Latent sources (``sample(n, settings) -> z (n, dim)``):

* :class:`BenchRTNLatents` - RTN acquired through the instruments
  (:class:`~ftjlab.rtn.bench.BenchCellReader`: SMU buffer readings at the sampling bias, one
  reading every ``interval_s``, integrating ``aperture_s``), ``cells_per_latent`` cells summed
  per latent dimension (:func:`ftjlab.rtn.latent.make_latents`); several cells at once on
  benches whose controller acquires several channels together;
* :class:`ReplayLatents` - the latents of a recorded run, replayed in order;
* :class:`GaussianLatents` - numpy N(0, I) draws (the software baseline).

Decoders (``decode(z) -> images``):

* :class:`SoftwareDecoder` - float weights;
* :class:`MeasuredMapDecoder` - the effective weights of measured conductance maps (from
  ``vae-program`` runs, or programmed in this session), the array's input quantisation and
  read-noise model (:meth:`~ftjlab.vae.generate.ArrayDecoder.decode_measured`);
* :class:`InArrayDecoder` - the chosen layers' VMMs on the bench (bit-serial
  :meth:`~ftjlab.controller.ArrayController.vmm`, loads reprogrammed through the bench when
  needed), the other layers from measured maps.

Settings are read once per batch (:class:`LiveSettings` is safe to change from another
thread), so a change takes effect from the next batch. Instrument time is the session's
clock difference (virtual on a simulated bench, wall time on a real one).
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import numpy as np

from ftjlab.errors import BadInput
from ftjlab.vae.generate import ArrayDecoder
from ftjlab.vae.mapping import ProgramReport
from ftjlab.vae.model import VAEModel

#: columns of the per-image settings recorded with every image
SETTINGS_COLUMNS = (
    "bias_v, sampling_interval_s, aperture_s, cells_per_latent, batch, instrument_s_per_image"
)
SETTINGS_UNITS = "V, s, s, 1, 1, s"


@dataclass(frozen=True)
class SamplingSettings:
    """RTN sampling operating point: bias, time between readings, integration per reading
    (default: half the interval)."""

    bias_v: float = 0.8
    interval_s: float = 2e-3
    aperture_s: float | None = None
    cells_per_latent: int = 4

    def __post_init__(self) -> None:
        if not (math.isfinite(self.bias_v) and self.bias_v != 0):
            raise BadInput(f"bias_v: must be a finite, non-zero voltage, got {self.bias_v!r}")
        if not (math.isfinite(self.interval_s) and self.interval_s > 0):
            raise BadInput(f"interval_s: must be > 0, got {self.interval_s!r}")
        if self.aperture_s is not None and not 0 < self.aperture_s <= self.interval_s:
            raise BadInput(
                f"aperture_s: must be > 0 and <= interval_s ({self.interval_s:g} s), "
                f"got {self.aperture_s!r}"
            )
        if self.cells_per_latent < 1:
            raise BadInput(f"cells_per_latent: must be >= 1, got {self.cells_per_latent!r}")

    @property
    def aperture(self) -> float:
        return self.aperture_s if self.aperture_s is not None else 0.5 * self.interval_s


class LiveSettings:
    """Sampling settings changed by one thread (the GUI) and read by another (the worker)
    once per batch."""

    def __init__(self, settings: SamplingSettings | None = None) -> None:
        self._lock = threading.Lock()
        self._settings = settings or SamplingSettings()
        self.version = 0

    def set(self, **changes) -> None:
        """Change fields (``bias_v=...``, ``interval_s=...``); checked before they apply."""
        with self._lock:
            self._settings = replace(self._settings, **changes)
            self.version += 1

    def snapshot(self) -> SamplingSettings:
        with self._lock:
            return self._settings


# ------------------------------------------------------------------------------ latents
class GaussianLatents:
    """Software latents: numpy N(0, I)."""

    kind = "software"

    def __init__(self, dim: int, seed: int = 0) -> None:
        self.dim = dim
        self.rng = np.random.default_rng(seed)

    def prepare(self) -> None:
        pass

    def sample(self, n: int, settings: SamplingSettings) -> np.ndarray:
        return self.rng.standard_normal((n, self.dim))

    def describe(self) -> dict:
        return {"latent_source": "software N(0, I)"}


class ReplayLatents:
    """The latents of a recorded run (stream ``latents``), replayed in order (wrapping)."""

    kind = "replay"

    def __init__(self, path: str | Path, dim: int, run_id: str | None = None) -> None:
        from ftjlab.store import read_dataset

        if not Path(path).expanduser().exists():
            raise BadInput(f"replay: {path!r} does not exist")
        z = np.asarray(read_dataset(str(path), "latents", run_id), dtype=np.float64)
        if z.ndim != 2 or z.shape[1] != dim or len(z) == 0:
            raise BadInput(f"replay: {path}: latents have shape {z.shape}, need (n, {dim})")
        self.path, self.dim, self.z, self.pos = str(path), dim, z, 0

    def prepare(self) -> None:
        pass

    def sample(self, n: int, settings: SamplingSettings) -> np.ndarray:
        idx = (self.pos + np.arange(n)) % len(self.z)
        self.pos = int((self.pos + n) % len(self.z))
        return self.z[idx]

    def describe(self) -> dict:
        return {"latent_source": f"replay of {self.path}", "replay_latents": len(self.z)}


class BenchRTNLatents:
    """RTN latents through the instruments: ``dim * cells_per_latent`` cells (row-major from
    ``first_cell``, or the given ``cells``) are SET fully on once, then every batch
    acquires ``n`` readings of each at the batch's settings; a latent dimension is the
    standardised sum of its cells (independent traps: closer to Gaussian)."""

    kind = "bench-rtn"

    def __init__(
        self,
        controller,
        dim: int,
        max_cells_per_latent: int = 16,
        cells: Sequence[tuple[int, int]] | None = None,
        first_cell: tuple[int, int] = (0, 0),
    ) -> None:
        from ftjlab.rtn.bench import BenchCellReader

        self.reader = BenchCellReader(controller)
        self.dim = dim
        rows, cols = controller.rows, controller.cols
        need = dim * max_cells_per_latent
        if cells is None:
            start = first_cell[0] * cols + first_cell[1]
            if start + need > rows * cols:
                raise BadInput(
                    f"RTN latents: {dim} dimensions x {max_cells_per_latent} cells = {need} "
                    f"cells from {first_cell} do not fit the {rows} x {cols} array"
                )
            # row-major: cells of one word line together (acquired together on benches
            # with several read channels)
            cells = [(i // cols, i % cols) for i in range(start, start + need)]
        self.cells = [(int(r), int(c)) for r, c in cells]
        if len(self.cells) < dim:
            raise BadInput(f"RTN latents: need at least {dim} cells, got {len(self.cells)}")
        self.prepared = False
        self.last_instrument_s = 0.0

    def prepare(self) -> None:
        if not self.prepared:
            self.reader.set_on(self.cells)
            self.prepared = True

    def sample(self, n: int, settings: SamplingSettings) -> np.ndarray:
        from ftjlab.rtn.latent import make_latents

        k = settings.cells_per_latent
        if self.dim * k > len(self.cells):
            raise BadInput(
                f"cells_per_latent: {k} x {self.dim} dimensions needs {self.dim * k} cells; "
                f"the source has {len(self.cells)}"
            )
        self.prepare()
        n_read = max(int(n), 20)
        x = self.reader.acquire_cells(
            self.cells[: self.dim * k], settings.bias_v, n_read, settings.interval_s,
            settings.aperture,
        )
        return np.asarray(make_latents(x, self.dim, k), dtype=np.float64)[:n]

    def describe(self) -> dict:
        return {
            "latent_source": "bench RTN (SMU buffer readings)",
            "rtn_cells": np.asarray(self.cells, dtype=np.int64).tolist(),
        }


# ------------------------------------------------------------------------------ decoders
class SoftwareDecoder:
    """Float weights in numpy."""

    mode = "software"

    def __init__(self, model: VAEModel) -> None:
        self.model = model

    def decode(self, z: np.ndarray) -> np.ndarray:
        return self.model.decode(z)


def array_decoder_from_maps(
    model: VAEModel, mapping, maps: dict[int, np.ndarray], params, read_v: float, **options
) -> ArrayDecoder:
    """An :class:`ArrayDecoder` holding measured maps by load (device units)."""
    missing = [k for k in range(mapping.n_loads) if k not in maps]
    if missing:
        raise BadInput(
            f"measured maps: loads {missing[:8]}{' ...' if len(missing) > 8 else ''} are "
            f"missing (the decoder needs {mapping.n_loads}); program them with vae-program"
        )
    decoder = ArrayDecoder(model, mapping, params, read_v=read_v, **options)
    for load in range(mapping.n_loads):
        m = np.asarray(maps[load], dtype=np.float64)
        if m.shape != tuple(mapping.array_shape):
            raise BadInput(f"measured map of load {load} is {m.shape}, not {mapping.array_shape}")
        decoder.reports[load] = ProgramReport(
            m, m, np.ones(m.shape, bool), np.zeros(m.shape, np.int64), 0.0
        )
    return decoder


class MeasuredMapDecoder:
    """Effective weights of measured maps, the array's input quantisation, read noise drawn
    per image."""

    mode = "measured-map"

    def __init__(self, decoder: ArrayDecoder, seed: int = 0, read_noise: bool = True) -> None:
        self.decoder = decoder
        self.rng = np.random.default_rng(seed)
        self.read_noise = read_noise

    def decode(self, z: np.ndarray) -> np.ndarray:
        return self.decoder.decode_measured(z, self.rng, self.read_noise)


class InArrayDecoder:
    """Layers ``layers`` computed by bit-serial VMMs on the bench (their loads programmed
    through the bench when not resident), the others from measured maps."""

    mode = "in-array"

    def __init__(self, decoder: ArrayDecoder, vmm_array, layers: Sequence[int] | None = None,
                 seed: int = 0) -> None:
        if decoder.programmer is None:
            raise BadInput("in-array decoding needs a bench programmer to load the layers")
        n = len(decoder.model.layers)
        self.layers = sorted({int(k) for k in (layers if layers is not None else range(n))})
        bad = [k for k in self.layers if not 0 <= k < n]
        if bad:
            raise BadInput(f"in-array layers {bad}: the decoder has layers 0..{n - 1}")
        self.decoder, self.array = decoder, vmm_array
        self.rng = np.random.default_rng(seed)

    def decode(self, z: np.ndarray) -> np.ndarray:
        return self.decoder.decode_hybrid(z, self.array, self.layers, self.rng)


# ------------------------------------------------------------------------------ engine
@dataclass
class Batch:
    """One batch of images with the settings and instrument time it was taken with."""

    index: int
    images: np.ndarray
    latents: np.ndarray
    settings: SamplingSettings
    latent_s: float  # instrument time of the latent acquisition
    decode_s: float  # instrument time of the decode (0 for software / measured maps)
    wall_s: float
    extra: dict = field(default_factory=dict)

    @property
    def instrument_s_per_image(self) -> float:
        return (self.latent_s + self.decode_s) / max(len(self.images), 1)

    def settings_rows(self) -> np.ndarray:
        """(k, 6) per-image settings, columns :data:`SETTINGS_COLUMNS`."""
        s = self.settings
        row = [s.bias_v, s.interval_s, s.aperture, s.cells_per_latent, self.index,
               self.instrument_s_per_image]
        return np.tile(np.asarray(row, dtype=np.float64), (len(self.images), 1))


class GenerationEngine:
    """Latent source + decoder, run batch by batch at the settings of the moment."""

    def __init__(
        self,
        source,
        decoder,
        settings: LiveSettings | SamplingSettings | None = None,
        session=None,
        batch: int = 64,
        check_settings: Callable[[SamplingSettings], None] | None = None,
    ) -> None:
        if batch < 1:
            raise BadInput(f"batch: must be >= 1, got {batch}")
        self.source, self.decoder, self.session, self.batch = source, decoder, session, batch
        if settings is None or isinstance(settings, SamplingSettings):
            settings = LiveSettings(settings)  # else: any object with snapshot() -> settings
        self.settings = settings
        self.check_settings = check_settings

    def _now(self) -> float:
        return float(self.session.now_s()) if self.session is not None else 0.0

    def describe(self) -> dict:
        return {"decoder_mode": self.decoder.mode, **self.source.describe()}

    def batches(
        self, n: int, should_stop: Callable[[], bool] = lambda: False
    ) -> Iterator[Batch]:
        """Batches until ``n`` images are made or ``should_stop()``."""
        self.source.prepare()
        done, index = 0, 0
        while done < n and not should_stop():
            s = self.settings.snapshot()
            if self.check_settings is not None:
                self.check_settings(s)
            k = min(self.batch, n - done)
            wall, t0 = time.perf_counter(), self._now()
            z = self.source.sample(k, s)
            t1 = self._now()
            images = self.decoder.decode(z)
            t2 = self._now()
            yield Batch(index, images, z, s, t1 - t0, t2 - t1, time.perf_counter() - wall)
            done += k
            index += 1

    def run(self, n: int, should_stop: Callable[[], bool] = lambda: False) -> dict:
        """All batches at once: images, latents, per-image settings, times."""
        parts = list(self.batches(n, should_stop))
        if not parts:
            raise BadInput("generation produced no images")
        return {
            "images": np.concatenate([b.images for b in parts]),
            "latents": np.concatenate([b.latents for b in parts]),
            "settings": np.concatenate([b.settings_rows() for b in parts]),
            "instrument_s": float(sum(b.latent_s + b.decode_s for b in parts)),
            "latent_s": float(sum(b.latent_s for b in parts)),
            "wall_s": float(sum(b.wall_s for b in parts)),
            "settings_used": [asdict(b.settings) for b in parts],
        }
