"""Image generation, live: a grid of images filling in as they are decoded, the histogram of
the latents against N(0, 1), and controls for the sampling bias and sampling time that
re-tune the next samples while generation runs.

The view does not know where images come from. An *image source* is a callable

    ``source(controls, should_stop) -> Iterator[(images (k, H, W) in [0, 1], latents (k, d))]``

that reads ``controls`` (a :class:`SamplingControls`, safe to read from any thread) before
every batch, so a change in the GUI takes effect at the next batch. Sources:

* :func:`bench_source` - the generation engine (:mod:`ftjlab.vae.engine`) on the connected
  bench, through the controller and the drivers (so through the safety guard), on any bench:
  in-process simulated, ``ftjlab sim-server`` over TCP, or real. Latents: RTN acquired
  through the SMU buffers at the sampling bias and time, a replayed run, or software;
  decoder: measured maps of ``vae-program`` runs, in-array VMMs on the bench, or software.
  The bench ends safe (outputs off, matrix open) when the generation ends, however it ends;
* :func:`toy_source` - a self-contained stand-in (Gaussian latents whose spread follows the
  controls, blob images), for tests of the view.

A generation is recorded like a procedure run (:mod:`ftjlab.store`): one file per run,
procedure ``vae-generation``, streams ``images`` (k, H, W), ``latents`` (k, d) and
``sampling`` (per image: bias V, sampling interval s, aperture s, cells per latent, batch,
instrument s per image), status ``completed`` / ``aborted`` / ``failed``. The run browser
shows such runs in :class:`GenerationRunView`.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyqtgraph as pg
from PyQt6.QtCore import QRectF, pyqtSignal
from PyQt6.QtWidgets import (
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from ftjlab.gui.liveview import LiveView, si
from ftjlab.gui.views import VIEWS
from ftjlab.gui.worker import Job, JobOutcome, Post
from ftjlab.vae.engine import SETTINGS_COLUMNS, SETTINGS_UNITS

ImageSource = Callable[["SamplingControls", Callable[[], bool]], Iterator[tuple[np.ndarray,
                                                                                np.ndarray]]]
SourceFactory = Callable[[Any], ImageSource]


class SamplingControls:
    """Sampling bias and sampling time, set by the GUI thread and read by the worker."""

    def __init__(self, bias_v: float = 0.8, sampling_time_s: float = 4e-3) -> None:
        self._lock = threading.Lock()
        self._bias_v = float(bias_v)
        self._time_s = float(sampling_time_s)
        self.version = 0

    def set(self, bias_v: float | None = None, sampling_time_s: float | None = None) -> None:
        with self._lock:
            if bias_v is not None:
                self._bias_v = float(bias_v)
            if sampling_time_s is not None:
                self._time_s = float(sampling_time_s)
            self.version += 1

    def snapshot(self) -> tuple[float, float, int]:
        """(bias V, sampling time s, version) as one consistent read."""
        with self._lock:
            return self._bias_v, self._time_s, self.version


# ---------------------------------------------------------------------------------- sources


def toy_source(seed: int = 0, side: int = 28, dim: int = 16, batch: int = 20,
               delay_s: float = 0.0) -> SourceFactory:
    """A stand-in source: latents N(0, s^2) with s growing with bias x time, images made of
    Gaussian blobs placed by the latents, ``delay_s`` per batch. Needs no bench."""

    def factory(session: Any) -> ImageSource:
        rng = np.random.default_rng(seed)
        yy, xx = np.mgrid[0:side, 0:side] / (side - 1)

        def source(controls: SamplingControls, should_stop: Callable[[], bool]):
            while not should_stop():
                bias, t, _ = controls.snapshot()
                spread = math.sqrt(max(bias, 1e-3) / 0.8) * (t / 4e-3) ** 0.1
                z = rng.standard_normal((batch, dim)) * spread
                cx = 0.5 + 0.18 * np.tanh(z[:, 0:1, None])
                cy = 0.5 + 0.18 * np.tanh(z[:, 1:2, None])
                r = 0.12 + 0.05 * np.tanh(z[:, 2:3, None])
                img = np.exp(-((xx - cx) ** 2 + (yy - cy) ** 2) / (2 * r**2))
                ring = np.exp(-((np.hypot(xx - cx, yy - cy) - 2 * r) ** 2) / 0.002)
                images = np.clip(img + 0.6 * ring * (z[:, 3:4, None] > 0), 0, 1)
                if delay_s:
                    time.sleep(delay_s)
                yield images.astype(np.float32), z, (bias, t)

        return source

    return factory


class _ControlsSettings:
    """The GUI's controls as the engine's per-batch settings."""

    def __init__(self, controls: SamplingControls, cells_per_latent: int) -> None:
        self.controls, self.cells_per_latent = controls, cells_per_latent

    def snapshot(self):
        from ftjlab.vae.engine import SamplingSettings

        bias, t, _ = self.controls.snapshot()
        return SamplingSettings(bias, t, None, self.cells_per_latent)


def bench_source(
    latent_source: str = "bench-rtn",
    decoder_mode: str = "software",
    maps_from: str = "",
    replay_from: str = "",
    batch: int = 20,
    cells_per_latent: int = 4,
    model: Any = None,
    in_array_layers: list[int] | None = None,
    seed: int = 0,
) -> SourceFactory:
    """The generation engine on the session's bench (see the module docstring).

    Raises :class:`~ftjlab.errors.BadInput` (nothing recorded) when there is no bench, the
    maps are missing or do not fit the bench array, or the choices are unknown.
    """
    from ftjlab.errors import BadInput

    def factory(session: Any) -> ImageSource:
        if session is None:
            raise BadInput("generation runs on a bench: connect one first")
        from ftjlab.controller import ArrayController
        from ftjlab.vae.bench import build_engine, load_maps, load_pair_signs

        controller = ArrayController(session)
        maps = load_maps(maps_from) if maps_from and decoder_mode != "software" else {}
        if decoder_mode != "software" and not maps:
            raise BadInput(f"{decoder_mode} decoding needs the measured maps of every load: "
                           "give the vae-program run files")

        def source(controls: SamplingControls, should_stop: Callable[[], bool]):
            engine = build_engine(
                controller, latent_source=latent_source, decoder_mode=decoder_mode, maps=maps,
                settings=_ControlsSettings(controls, cells_per_latent),
                replay_path=replay_from or None, model=model, in_array_layers=in_array_layers,
                max_cells_per_latent=cells_per_latent, seed=seed, batch=batch,
                signs=load_pair_signs(maps_from) if maps else None,
            )
            try:
                for b in engine.batches(1 << 62, should_stop):
                    yield b.images, b.latents, b.settings_rows()
            finally:
                controller.safe_state()

        return source

    factory.__qualname__ = f"bench_source({latent_source}, {decoder_mode})"
    return factory


def default_source() -> SourceFactory:
    """Bench RTN latents, software decoder (needs no measured maps)."""
    return bench_source()


# -------------------------------------------------------------------------------------- job

RUN_NAME = "vae-generation"


def _settings_rows(settings: Any, k: int) -> np.ndarray:
    """Per-image settings (k, 6) from a source's (k, 6) rows or a (bias, time) pair (NaN for
    what a source does not say)."""
    rows = np.asarray(settings, dtype=np.float64)
    if rows.ndim == 2 and rows.shape[1] == 6:
        return rows
    out = np.full((k, 6), np.nan)
    out[:, :2] = rows.ravel()[:2]
    return out


@dataclass
class GenerationJob(Job):
    """Generate ``n`` images from ``factory(session)`` into a run file in ``out_dir``,
    posting ``("images", (images, latents, bias, time))`` per batch and ``("progress", %)``."""

    n: int = 100
    factory: SourceFactory | None = None
    controls: SamplingControls | None = None
    out_dir: Path = Path("runs")
    kind: str = "generation"

    def run(self, session: Any, post: Post, stop: threading.Event) -> JobOutcome:
        from ftjlab.runner import RunOutcome
        from ftjlab.store import RunWriter, StreamSpec

        t0 = time.perf_counter()
        controls = self.controls or SamplingControls()
        factory = self.factory or default_source()
        source = factory(session)  # BadInput here: refused, nothing recorded
        bias0, time0, _ = controls.snapshot()
        params = {"images": self.n, "source": getattr(factory, "__qualname__", str(factory)),
                  "sampling_bias_v": bias0, "sampling_time_s": time0}
        post("begin", (RUN_NAME, params, 0.0))
        writer: RunWriter | None = None
        done, status, error = 0, "completed", ""
        try:
            for batch in source(controls, stop.is_set):
                images, latents = np.asarray(batch[0]), np.asarray(batch[1])
                rows = _settings_rows(batch[2] if len(batch) > 2 else controls.snapshot()[:2],
                                      len(images))
                bias, t = float(rows[0, 0]), float(rows[0, 1])
                k = min(len(images), self.n - done)
                if writer is None:  # shapes are known at the first batch
                    writer = RunWriter.create(
                        self.out_dir, RUN_NAME, params,
                        session.snapshot() if session is not None else {}, {
                            "images": StreamSpec(np.float32, "1", images.shape[1:]),
                            "latents": StreamSpec(np.float64, "1", latents.shape[1:]),
                            "sampling": StreamSpec(np.float64, SETTINGS_UNITS, (6,),
                                                   {"columns": SETTINGS_COLUMNS}),
                        }, units={"sampling_bias_v": "V", "sampling_time_s": "s"})
                writer.append("images", images[:k])
                writer.append("latents", latents[:k])
                writer.append("sampling", rows[:k])
                post("images", (images[:k], latents[:k], bias, t, float(rows[0, 5])))
                done += k
                post("progress", 100.0 * done / self.n)
                if done >= self.n or stop.is_set():
                    break
            if done < self.n:
                status, error = "aborted", "stopped at a safe point"
        except Exception as exc:  # the run fails, its images stay
            status, error = "failed", f"{type(exc).__name__}: {exc}"
            if writer is None:
                raise
        finally:
            if writer is not None:
                writer.finish(status, error, attrs={"images_generated": done})
        wall = time.perf_counter() - t0
        run = RunOutcome(writer.path, writer.run_id, status, error, {}, wall) if writer else None
        if run is not None:
            post("status", run)
        return JobOutcome(status, error, run, wall)


# ------------------------------------------------------------------------------------- views


class Gallery:
    """Images placed on a ``grid`` x ``grid`` mosaic as they come (wrapping around) and the
    running histogram and moments of their latents."""

    EDGES = np.linspace(-4, 4, 61)

    def __init__(self, grid: int = 10) -> None:
        self.grid = grid
        self.clear()

    def clear(self) -> None:
        self.images_shown = 0
        self.mosaic: np.ndarray | None = None
        self.side: tuple[int, int] = (28, 28)
        self.latent_counts = np.zeros(self.EDGES.size - 1, dtype=np.int64)
        self.latent_n = 0
        self.latent_sum = 0.0
        self.latent_sum2 = 0.0

    def add_images(self, images: np.ndarray) -> None:
        images = np.asarray(images, dtype=np.float32)
        if images.ndim == 2:
            images = images[None]
        h, w = images.shape[1:3]
        g = self.grid
        if self.mosaic is None or self.side != (h, w):
            self.side = (h, w)
            self.mosaic = np.full((g * (h + 2), g * (w + 2)), np.nan, dtype=np.float32)
        for img in images:
            r, c = divmod(self.images_shown % (g * g), g)
            self.mosaic[r * (h + 2) + 1 : r * (h + 2) + 1 + h,
                        c * (w + 2) + 1 : c * (w + 2) + 1 + w] = img
            self.images_shown += 1

    def add_latents(self, latents: np.ndarray) -> None:
        z = np.asarray(latents, dtype=np.float64).ravel()
        self.latent_counts += np.histogram(z, bins=self.EDGES)[0]
        self.latent_n += z.size
        self.latent_sum += float(z.sum())
        self.latent_sum2 += float((z**2).sum())

    def moments(self) -> tuple[float, float]:
        """Mean and standard deviation of every latent value so far."""
        if not self.latent_n:
            return float("nan"), float("nan")
        mean = self.latent_sum / self.latent_n
        return mean, math.sqrt(max(self.latent_sum2 / self.latent_n - mean**2, 0.0))

    def filled_tiles(self) -> int:
        return min(self.images_shown, self.grid * self.grid)


class GalleryPlots:
    """The image grid and the latent histogram against N(0, 1), in a GraphicsLayoutWidget."""

    def __init__(self, graphics: pg.GraphicsLayoutWidget) -> None:
        self.grid_plot = graphics.addPlot(row=0, col=0, title="generated images")
        self.grid_plot.hideAxis("left")
        self.grid_plot.hideAxis("bottom")
        self.grid_plot.invertY(True)
        self.grid_plot.setAspectLocked(True)
        self.image = pg.ImageItem(axisOrder="row-major")
        self.grid_plot.addItem(self.image)
        self.hist_plot = graphics.addPlot(row=0, col=1, title="latents vs N(0, 1)")
        self.hist_plot.setLabel("bottom", "z")
        self.hist_plot.setLabel("left", "density")
        self.hist_plot.getAxis("left").enableAutoSIPrefix(False)
        self.hist_plot.addLegend(offset=(5, 5))
        graphics.ci.layout.setColumnStretchFactor(0, 3)
        graphics.ci.layout.setColumnStretchFactor(1, 2)
        edges = Gallery.EDGES
        self.bars = pg.BarGraphItem(x0=edges[:-1], width=np.diff(edges),
                                    height=np.zeros(edges.size - 1), brush="#7fa7d9", pen=None,
                                    name="RTN latents")
        self.hist_plot.addItem(self.bars)
        z = np.linspace(-4, 4, 200)
        self.hist_plot.plot(z, np.exp(-z**2 / 2) / math.sqrt(2 * math.pi),
                            pen=pg.mkPen("#d62728", width=2), name="N(0, 1)")

    def draw(self, gallery: Gallery) -> None:
        if gallery.mosaic is not None:
            shown = np.nan_to_num(gallery.mosaic, nan=0.15)
            self.image.setImage(shown, levels=(0, 1), autoLevels=False)
            self.image.setRect(QRectF(0, 0, shown.shape[1], shown.shape[0]))
        if gallery.latent_n:
            density = gallery.latent_counts / (gallery.latent_n * np.diff(Gallery.EDGES))
            self.bars.setOpts(height=density)


class GenerationView(QWidget):
    """Live generation: image grid, latent histogram vs N(0, 1), the sampling controls."""

    generate_requested = pyqtSignal(int)
    stop_requested = pyqtSignal()

    def __init__(self, grid: int = 10, max_bias_v: float = 1.5,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.gallery = Gallery(grid)
        self.controls = SamplingControls()
        self.dirty = False
        self.frames = 0
        #: (images, sampling bias V, sampling time s, instrument s per image) of every batch
        self.batch_settings: list[tuple[int, float, float, float]] = []
        self.run_path: Path | None = None

        layout = QVBoxLayout(self)
        layout.setContentsMargins(2, 2, 2, 2)
        self.caption = QLabel("<b>generation</b> · idle")
        layout.addWidget(self.caption)
        row = QHBoxLayout()
        layout.addLayout(row, 1)
        self.graphics = pg.GraphicsLayoutWidget()
        row.addWidget(self.graphics, 3)
        self.plots = GalleryPlots(self.graphics)

        side = QVBoxLayout()
        row.addLayout(side, 1)
        form = QFormLayout()
        side.addLayout(form)
        self.bias = QDoubleSpinBox()
        self.bias.setObjectName("gen-bias")
        self.bias.setDecimals(3)
        self.bias.setRange(0.05, max_bias_v)
        self.bias.setSingleStep(0.05)
        self.bias.setSuffix(" V")
        self.bias.setValue(min(0.8, max_bias_v))
        self.time = QDoubleSpinBox()
        self.time.setObjectName("gen-time")
        self.time.setDecimals(2)
        self.time.setRange(0.05, 1000.0)
        self.time.setSingleStep(0.5)
        self.time.setSuffix(" ms")
        self.time.setValue(4.0)
        self.count = QSpinBox()
        self.count.setRange(1, 100_000)
        self.count.setValue(grid * grid)
        self.latent_source = QComboBox()
        self.latent_source.setObjectName("gen-latents")
        self.latent_source.addItems(["bench-rtn", "replay", "software"])
        self.decoder_mode = QComboBox()
        self.decoder_mode.setObjectName("gen-decoder")
        self.decoder_mode.addItems(["software", "measured-map", "in-array"])
        self.maps_from = QLineEdit()
        self.maps_from.setObjectName("gen-maps")
        self.maps_from.setPlaceholderText("vae-program run files, comma-separated")
        self.replay_from = QLineEdit()
        self.replay_from.setObjectName("gen-replay")
        self.replay_from.setPlaceholderText("run file whose latents to replay")
        self.cells = QSpinBox()
        self.cells.setObjectName("gen-cells")
        self.cells.setRange(1, 16)
        self.cells.setValue(4)
        form.addRow("Latents", self.latent_source)
        form.addRow("Decoder", self.decoder_mode)
        form.addRow("Maps", self.maps_from)
        form.addRow("Replay", self.replay_from)
        form.addRow("Cells / latent", self.cells)
        form.addRow("Sampling bias", self.bias)
        form.addRow("Sampling time", self.time)
        form.addRow("Images", self.count)
        self.bias.valueChanged.connect(self._controls_changed)
        self.time.valueChanged.connect(self._controls_changed)
        self._controls_changed()
        self.start_button = QPushButton("Generate")
        self.start_button.setObjectName("gen-start")
        self.stop_button = QPushButton("Stop")
        self.start_button.clicked.connect(lambda: self.generate_requested.emit(self.count.value()))
        self.stop_button.clicked.connect(self.stop_requested.emit)
        side.addWidget(self.start_button)
        side.addWidget(self.stop_button)
        self.note = QLabel(
            "Bias and time re-tune the instruments from the next batch while generating. "
            "Latents: RTN through the SMU buffers (cells summed per dimension), a replayed "
            "run, or software; decoder: measured maps of vae-program runs, in-array VMMs on "
            "the bench, or software. Each generation is recorded as a run, every image with "
            "its instrument settings."
        )
        self.note.setWordWrap(True)
        side.addWidget(self.note)
        self.stats = QLabel("")
        self.stats.setWordWrap(True)
        side.addWidget(self.stats)
        side.addStretch(1)

    def _controls_changed(self, *_: Any) -> None:
        self.controls.set(self.bias.value(), self.time.value() * 1e-3)

    def source_factory(self, batch: int = 20) -> SourceFactory:
        """The bench source for the chosen latent source, decoder and files."""
        return bench_source(
            latent_source=self.latent_source.currentText(),
            decoder_mode=self.decoder_mode.currentText(),
            maps_from=self.maps_from.text().strip(),
            replay_from=self.replay_from.text().strip(),
            batch=batch,
            cells_per_latent=self.cells.value(),
        )

    # ------------------------------------------------------------------ protocol
    @property
    def images_shown(self) -> int:
        return self.gallery.images_shown

    def filled_tiles(self) -> int:
        """How many grid tiles hold an image."""
        return self.gallery.filled_tiles()

    def begin(self) -> None:
        self.gallery.clear()
        self.batch_settings = []
        self.run_path = None
        self.caption.setText("<b>generation</b> · running")
        self.dirty = True

    def add(self, images: np.ndarray, latents: np.ndarray, bias_v: float, time_s: float,
            instrument_s_per_image: float = float("nan")) -> None:
        """A batch of decoded images and their latents (GUI thread)."""
        self.gallery.add_images(images)
        self.gallery.add_latents(latents)
        self.batch_settings.append((len(images), float(bias_v), float(time_s),
                                    float(instrument_s_per_image)))
        self.dirty = True

    def finish(self, status: str, error: str = "", path: Path | None = None) -> None:
        self.run_path = path
        where = f" → {path.name}" if path is not None else ""
        self.caption.setText(f"<b>generation</b> · {status}" + (f": {error}" if error else "")
                             + where)
        self.dirty = True

    def redraw(self, force: bool = False) -> bool:
        if not (self.dirty or force):
            return False
        self.dirty = False
        self.plots.draw(self.gallery)
        if self.gallery.latent_n:
            mean, std = self.gallery.moments()
            last = self.batch_settings[-1] if self.batch_settings else None
            tail = (f"\nlast batch: {last[0]} images at {last[1]:.3g} V, {si(last[2], 's')}"
                    if last else "")
            if last and math.isfinite(last[3]):
                tail += f"\ninstrument time per image: {si(last[3], 's')}"
            self.stats.setText(f"{self.gallery.images_shown} images · {self.gallery.latent_n:,} "
                               f"latent values: mean {mean:+.3f}, std {std:.3f}{tail}")
        self.frames += 1
        return True


class GenerationRunView(LiveView):
    """A recorded generation (run browser): its images and latents."""

    procedure = RUN_NAME
    streams = ("images", "latents", "sampling")

    def __init__(self, procedure: str | None = None, parent: QWidget | None = None) -> None:
        super().__init__(procedure, parent)
        self.gallery = Gallery()
        self.plots = GalleryPlots(self.graphics)
        self.settings: list[np.ndarray] = []

    def clear(self) -> None:
        self.gallery.clear()
        self.settings = []

    def feed(self, stream: str, block: np.ndarray) -> None:
        if stream == "images":
            self.gallery.add_images(block)
        elif stream == "latents":
            self.gallery.add_latents(block)
        elif stream == "sampling":
            self.settings.append(np.atleast_2d(block))
        self.dirty = True

    def draw(self) -> None:
        self.plots.draw(self.gallery)
        mean, std = self.gallery.moments()
        text = f"{self.gallery.images_shown} images · latents mean {mean:+.3f}, std {std:.3f}"
        if self.settings:
            s = np.concatenate(self.settings)
            text += (f" · bias {s[:, 0].min():.3g}..{s[:, 0].max():.3g} V, sampling time "
                     f"{si(s[:, 1].min(), 's')}..{si(s[:, 1].max(), 's')}")
        self.stats.setText(text)


VIEWS[RUN_NAME] = GenerationRunView
