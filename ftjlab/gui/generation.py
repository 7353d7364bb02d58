"""Image generation, live: a grid of images filling in as they are decoded, the histogram of
the latents against N(0, 1), and controls for the sampling bias and sampling time that
re-tune the next samples while generation runs.

The view does not know where images come from. An *image source* is a callable

    ``source(controls, should_stop) -> Iterator[(images (k, H, W) in [0, 1], latents (k, d))]``

that reads ``controls`` (a :class:`SamplingControls`, safe to read from any thread) before
every batch, so a change in the GUI takes effect at the next batch. Sources:

* :func:`vae_rtn_source` - the shipped VAE (:mod:`ftjlab.vae`): latents from RTN of the
  simulated array at the sampling bias (``ftjlab.vae.latents.rtn_latents``), decoded by the
  VAE's decoder (float weights, numpy);
* :func:`toy_source` - a self-contained stand-in (Gaussian latents whose spread follows the
  controls, blob images), for tests and for benches without a simulated array.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyqtgraph as pg
from PyQt6.QtCore import QRectF, pyqtSignal
from PyQt6.QtWidgets import (
    QDoubleSpinBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from ftjlab.gui.views import si
from ftjlab.gui.worker import Job, JobOutcome, Post

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
                yield images.astype(np.float32), z

        return source

    return factory


def vae_rtn_source(rows: range | None = None, col0: int = 0, batch: int = 20,
                   prepare: bool = True) -> SourceFactory:
    """Latents from RTN of the simulated array (word lines ``rows`` on together, one bit line
    per latent dimension from ``col0``), standardised, decoded by the shipped VAE.

    Raises :class:`~ftjlab.errors.BadInput` when the bench has no simulated array or the
    VAE package is missing. ``prepare`` first SETs the sampling block fully on (largest
    current, so RTN stands above read noise): it reprograms those cells.
    """
    from ftjlab.errors import BadInput

    def factory(session: Any) -> ImageSource:
        try:
            from ftjlab.vae.latents import prepare_rtn_cells, rtn_latents
            from ftjlab.vae.model import load_vae
        except ImportError as exc:
            raise BadInput(f"generation needs the VAE package ftjlab.vae ({exc})") from exc
        if session is None or getattr(session, "sim", None) is None:
            raise BadInput("generation samples RTN latents from the simulated array; this "
                           "bench has none (connect the simulated bench)")
        array = session.sim.array
        model = load_vae()
        dim = model.latent_dim
        n_rows, n_cols = array.params.rows, array.params.cols
        if col0 + dim > n_cols:
            raise BadInput(f"the VAE needs {dim} bit lines from {col0}; the array has {n_cols}")
        block = rows if rows is not None else range(max(0, n_rows - 8), n_rows)
        cols = range(col0, col0 + dim)
        limits = session.limits

        def source(controls: SamplingControls, should_stop: Callable[[], bool]):
            if prepare:
                prepare_rtn_cells(array, list(block), list(cols))
            while not should_stop():
                bias, t, _ = controls.snapshot()
                limits.check_voltage("sample", bias)
                lat = rtn_latents(array, max(batch, 20), list(block), list(cols), volts=bias,
                                  interval_s=t)
                yield model.decode(lat.z), lat.z

        return source

    return factory


def default_source() -> SourceFactory:
    """The VAE on RTN latents when ``ftjlab.vae`` is installed, else the stand-in."""
    try:
        import ftjlab.vae.latents
        import ftjlab.vae.model  # noqa: F401
    except ImportError:
        return toy_source()
    return vae_rtn_source()


# -------------------------------------------------------------------------------------- job


@dataclass
class GenerationJob(Job):
    """Generate ``n`` images from ``factory(session)``, posting ``("images", (images,
    latents, bias, time))`` per batch and ``("progress", percent)``."""

    n: int = 100
    factory: SourceFactory | None = None
    controls: SamplingControls | None = None
    kind: str = "generation"

    def run(self, session: Any, post: Post, stop: threading.Event) -> JobOutcome:
        t0 = time.perf_counter()
        controls = self.controls or SamplingControls()
        source = (self.factory or default_source())(session)
        post("begin", ("generation", {"images": self.n}, 0.0))
        done = 0
        for images, latents in source(controls, stop.is_set):
            k = min(len(images), self.n - done)
            bias, t, _ = controls.snapshot()
            post("images", (images[:k], latents[:k], bias, t))
            done += k
            post("progress", 100.0 * done / self.n)
            if done >= self.n or stop.is_set():
                break
        status = "completed" if done >= self.n else "aborted"
        return JobOutcome(status, "" if status == "completed" else "stopped",
                          wall_s=time.perf_counter() - t0)


# ------------------------------------------------------------------------------------- view


class GenerationView(QWidget):
    """Image grid, latent histogram vs N(0, 1), and the sampling controls."""

    generate_requested = pyqtSignal(int)
    stop_requested = pyqtSignal()

    def __init__(self, grid: int = 10, max_bias_v: float = 1.5,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.grid = grid
        self.controls = SamplingControls()
        self.dirty = False
        self.frames = 0
        self.images_shown = 0
        self.latent_counts = np.zeros(60, dtype=np.int64)
        self.latent_edges = np.linspace(-4, 4, 61)
        self.latent_n = 0
        self.latent_sum = 0.0
        self.latent_sum2 = 0.0
        self.mosaic: np.ndarray | None = None
        self.side: tuple[int, int] = (28, 28)
        self.batches: list[str] = []
        #: (images, sampling bias V, sampling time s) of every batch received
        self.batch_settings: list[tuple[int, float, float]] = []

        layout = QVBoxLayout(self)
        layout.setContentsMargins(2, 2, 2, 2)
        self.caption = QLabel("<b>generation</b> · idle")
        layout.addWidget(self.caption)
        row = QHBoxLayout()
        layout.addLayout(row, 1)
        self.graphics = pg.GraphicsLayoutWidget()
        row.addWidget(self.graphics, 3)
        self.grid_plot = self.graphics.addPlot(row=0, col=0, title="generated images")
        self.grid_plot.hideAxis("left")
        self.grid_plot.hideAxis("bottom")
        self.grid_plot.invertY(True)
        self.grid_plot.setAspectLocked(True)
        self.image = pg.ImageItem(axisOrder="row-major")
        self.grid_plot.addItem(self.image)
        self.hist_plot = self.graphics.addPlot(row=0, col=1, title="latents vs N(0, 1)")
        self.hist_plot.setLabel("bottom", "z")
        self.hist_plot.setLabel("left", "density")
        self.hist_plot.getAxis("left").enableAutoSIPrefix(False)
        self.hist_plot.addLegend(offset=(5, 5))
        self.graphics.ci.layout.setColumnStretchFactor(0, 3)
        self.graphics.ci.layout.setColumnStretchFactor(1, 2)
        self.bars = pg.BarGraphItem(x0=self.latent_edges[:-1], width=np.diff(self.latent_edges),
                                    height=np.zeros(60), brush="#7fa7d9", pen=None,
                                    name="RTN latents")
        self.hist_plot.addItem(self.bars)
        z = np.linspace(-4, 4, 200)
        self.hist_plot.plot(z, np.exp(-z**2 / 2) / math.sqrt(2 * math.pi),
                            pen=pg.mkPen("#d62728", width=2), name="N(0, 1)")

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
        self.count.setRange(1, 10_000)
        self.count.setValue(grid * grid)
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
            "Bias and time apply to the next batch while generating. Latents: RTN of the "
            "simulated array at the sampling bias, standardised; decoder: the shipped VAE "
            "(float weights, numpy)."
        )
        self.note.setWordWrap(True)
        side.addWidget(self.note)
        self.stats = QLabel("")
        self.stats.setWordWrap(True)
        side.addWidget(self.stats)
        side.addStretch(1)

    def _controls_changed(self, *_: Any) -> None:
        self.controls.set(self.bias.value(), self.time.value() * 1e-3)

    # ------------------------------------------------------------------ protocol
    def begin(self) -> None:
        self.images_shown = 0
        self.latent_counts[:] = 0
        self.latent_n = 0
        self.latent_sum = self.latent_sum2 = 0.0
        self.mosaic = None
        self.batches = []
        self.batch_settings = []
        self.caption.setText("<b>generation</b> · running")
        self.dirty = True

    def add(self, images: np.ndarray, latents: np.ndarray, bias_v: float, time_s: float) -> None:
        """A batch of decoded images and their latents (GUI thread)."""
        images = np.asarray(images, dtype=np.float32)
        if images.ndim == 2:
            images = images[None]
        h, w = images.shape[1:3]
        g = self.grid
        if self.mosaic is None or self.side != (h, w):
            self.side = (h, w)
            self.mosaic = np.full((g * (h + 2), g * (w + 2)), np.nan, dtype=np.float32)
        for img in images:
            k = self.images_shown % (g * g)
            r, c = divmod(k, g)
            self.mosaic[r * (h + 2) + 1 : r * (h + 2) + 1 + h,
                        c * (w + 2) + 1 : c * (w + 2) + 1 + w] = img
            self.images_shown += 1
        z = np.asarray(latents, dtype=np.float64).ravel()
        counts, _ = np.histogram(z, bins=self.latent_edges)
        self.latent_counts += counts
        self.latent_n += z.size
        self.latent_sum += float(z.sum())
        self.latent_sum2 += float((z**2).sum())
        self.batches.append(f"{len(images)} at {bias_v:.3g} V, {si(time_s, 's')}")
        self.batch_settings.append((len(images), float(bias_v), float(time_s)))
        self.dirty = True

    def finish(self, status: str, error: str = "") -> None:
        self.caption.setText(f"<b>generation</b> · {status}" + (f": {error}" if error else ""))
        self.dirty = True

    def redraw(self, force: bool = False) -> bool:
        if not (self.dirty or force):
            return False
        self.dirty = False
        if self.mosaic is not None:
            shown = np.nan_to_num(self.mosaic, nan=0.15)
            self.image.setImage(shown, levels=(0, 1), autoLevels=False)
            self.image.setRect(QRectF(0, 0, shown.shape[1], shown.shape[0]))
        if self.latent_n:
            density = self.latent_counts / (self.latent_n * np.diff(self.latent_edges))
            self.bars.setOpts(height=density)
            mean = self.latent_sum / self.latent_n
            std = math.sqrt(max(self.latent_sum2 / self.latent_n - mean**2, 0.0))
            last = self.batches[-1] if self.batches else ""
            self.stats.setText(f"{self.images_shown} images · {self.latent_n:,} latent values: "
                               f"mean {mean:+.3f}, std {std:.3f}\nlast batch: {last}")
        self.frames += 1
        return True

    def filled_tiles(self) -> int:
        """How many grid tiles hold an image."""
        return min(self.images_shown, self.grid * self.grid)
