"""Generation through the instruments: images/s and instrument time per image for bench RTN
latents + measured maps and for bench RTN latents + in-array VMM (bench bit-serial VMMs,
loads reprogrammed by write-verify), on the default bench and on the four-channel bench when
it exists; and the GUI's event-loop gaps while the Generation tab runs on a bench served by
``ftjlab sim-server``.

Rates are compared with the same engine decoding software latents with the same decoder in
the same run (the pure computing cost), so the ratio is what the instruments add. The maps
are the decoder's targets with 1 % error in vae-program's layout (programming every load
through the bench is the demo's job, timed there).
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from ftjlab.benchmarks import BenchResult

ROOT = Path(__file__).resolve().parents[2]
BENCHES = {"default": None, "four-channel": ROOT / "data" / "benches" / "sim-4ch.toml"}


def _maps(controller, root: Path) -> tuple[str, object]:
    from ftjlab.vae.bench import decoder_mapping, write_map_file

    _, mapping = decoder_mapping(controller, 32)
    rng = np.random.default_rng(1)
    maps = {k: mapping.load_targets(k) * (1 + 0.01 * rng.standard_normal(mapping.array_shape))
            for k in range(mapping.n_loads)}
    return str(write_map_file(root, maps, source="targets, 1 % error")), mapping


def _rate(engine, n: int) -> tuple[float, float]:
    """(images per wall second, instrument seconds per image)."""
    t0 = time.perf_counter()
    out = engine.run(n)
    return n / (time.perf_counter() - t0), out["instrument_s"] / n


def _bench_modes(label: str, bench: Path | None, quick: bool) -> list[BenchResult]:
    from ftjlab.controller import ArrayController
    from ftjlab.session import BenchSession
    from ftjlab.vae.bench import build_engine, load_maps
    from ftjlab.vae.engine import SamplingSettings

    if bench is not None and not bench.exists():
        return [BenchResult(f"generation.{label}.missing", 0.0, 1.0, "1", None,
                            note=f"{bench.name} does not exist yet: not measured")]
    n = 200 if quick else 1000
    n_vmm = 20 if quick else 100
    out = []
    settings = SamplingSettings(0.8, 2e-3, None, 4)
    with tempfile.TemporaryDirectory() as tmp, BenchSession.open(bench, seed=2026) as s:
        c = ArrayController(s)
        try:
            path, mapping = _maps(c, Path(tmp))
            maps = load_maps(path)
            sw = build_engine(c, latent_source="software", decoder_mode="measured-map",
                              maps=maps, settings=settings, batch=200)
            sw_rate, _ = _rate(sw, n)
            hw = build_engine(c, latent_source="bench-rtn", decoder_mode="measured-map",
                              maps=maps, settings=settings, batch=200)
            hw.source.prepare()
            rate, instr = _rate(hw, n)
            out.append(BenchResult(
                f"generation.{label}.bench_latents_measured_maps_images_per_s", rate, sw_rate,
                "images/s", None, higher_is_better=True,
                note=f"{n} images, 16 x 4 RTN cells, 2 ms interval; baseline: software "
                f"latents, same decoder; instrument time {1e3 * instr:.1f} ms/image",
                extra={"instrument_s_per_image": instr, "software_images_per_s": sw_rate}))
            vmm = build_engine(c, latent_source="bench-rtn", decoder_mode="in-array",
                               maps=maps, settings=settings, in_array_layers=[0],
                               batch=n_vmm)
            rate_v, instr_v = _rate(vmm, n_vmm)
            loads = sorted({t.load for t in mapping.tiles_of(layer=0)})
            out.append(BenchResult(
                f"generation.{label}.bench_latents_in_array_images_per_s", rate_v, sw_rate,
                "images/s", None, higher_is_better=True,
                note=f"{n_vmm} images; layer 0 as bench VMMs (loads {loads} reprogrammed by "
                f"write-verify for the batch), other layers from the maps; instrument time "
                f"{instr_v:.3g} s/image",
                extra={"instrument_s_per_image": instr_v}))
        finally:
            c.safe_state()
    return out


def bench_generation_default_bench(quick: bool) -> list[BenchResult]:
    """Bench latents + measured maps, bench latents + in-array VMM: the shipped bench."""
    return _bench_modes("default", BENCHES["default"], quick)


def bench_generation_four_channel_bench(quick: bool) -> list[BenchResult]:
    """The same on the four-channel bench (two 2636B over TSP-Link)."""
    return _bench_modes("four_channel", BENCHES["four-channel"], quick)


@contextlib.contextmanager
def _sim_server(seed: int):
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen([sys.executable, "-m", "ftjlab", "sim-server", "--seed", str(seed)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        yield json.loads(proc.stdout.readline())["resources"]
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=10)


def bench_generation_gui_event_loop(quick: bool) -> list[BenchResult]:
    """The GUI thread's event-loop gaps (p99) while the Generation tab makes images from bench
    RTN latents and measured maps on a bench served by ``ftjlab sim-server``; target 50 ms."""
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PyQt6.QtCore import QTimer
    from PyQt6.QtWidgets import QApplication

    from ftjlab.controller import ArrayController
    from ftjlab.gui.main_window import MainWindow
    from ftjlab.session import BenchSession

    app = QApplication.instance() or QApplication([])
    n = 60 if quick else 200
    with tempfile.TemporaryDirectory() as tmp, _sim_server(17) as resources:
        session = BenchSession.open(None, resources=resources)
        path, _ = _maps(ArrayController(session), Path(tmp))
        win = MainWindow(session=session, out_dir=Path(tmp) / "runs", connect=False)
        win.show()
        view = win.generation
        view.decoder_mode.setCurrentText("measured-map")
        view.maps_from.setText(path)
        view.count.setValue(n)
        ticks: list[float] = []
        timer = QTimer()
        timer.timeout.connect(lambda: ticks.append(time.perf_counter()))
        timer.start(5)
        win.generate(n)
        deadline = time.monotonic() + 600
        while (not win.outcomes or win.worker.busy) and time.monotonic() < deadline:
            app.processEvents()
            time.sleep(0.001)
        timer.stop()
        win.close()
    gaps = 1e3 * np.diff(ticks)
    p99 = float(np.percentile(gaps, 99))
    return [BenchResult("generation.gui_event_loop_gap_p99_ms", p99, 50.0, "ms", 1.0,
                        note=f"{n} images through sim-server (TCP), {gaps.size} ticks of a 5 ms "
                        f"timer; max {gaps.max():.1f} ms; target: p99 <= 50 ms")]
