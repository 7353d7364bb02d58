"""``ftjlab gui``: the window (bench panel, procedures, live views, generation, runs, log)."""

from __future__ import annotations

import argparse
import sys

from ftjlab.validate import arg_float, arg_int

ORDER = 5


def register(sub) -> None:
    p = sub.add_parser(
        "gui", help="open the lab window (default: the simulated bench, in-process)",
        description="Open the lab window: run and queue procedures, abort safely, watch live "
        "views, generate images, browse and export recorded runs.",
    )
    p.add_argument("--bench", metavar="PATH", help="bench config (default: the simulated bench)")
    p.add_argument("--seed", type=arg_int(lo=0, hi=2**63 - 1),
                   help="seed of a simulated bench (default: the config's)")
    p.add_argument("--out", metavar="DIR", default="runs",
                   help="folder for run files (default: ./runs)")
    p.add_argument("--quit-after", type=arg_float(lo=0, lo_open=True), metavar="S",
                   help="close the window after S s")
    p.add_argument("--sim-server", action="store_true",
                   help="serve the simulated instruments from a child `ftjlab sim-server` (TCP): "
                   "their work never stalls the window")
    p.add_argument("--screenshots", metavar="DIR",
                   help="run a short scripted tour on the simulated bench and save a PNG of "
                   "every main view into DIR (works headless, e.g. under xvfb-run)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ftjlab import validate
    from ftjlab.config import load_bench_config
    from ftjlab.gui.app import display_problem, run_app
    from ftjlab.instruments.safety import Limits

    # a bad bench file (keys, limits, an array too large) is exit 2 here, not a window
    Limits.from_dict(load_bench_config(args.bench or None).limits)
    validate.out_dir("--out", args.out, create=False)
    if args.screenshots:
        validate.out_dir("--screenshots", args.screenshots, create=False)
    if args.screenshots:
        from PyQt6.QtWidgets import QApplication

        from ftjlab.gui.screenshots import take_screenshots

        app = QApplication.instance() or QApplication(sys.argv[:1])
        print(f"platform: {app.platformName()}")
        for path in take_screenshots(args.screenshots, seed=args.seed, bench=args.bench):
            print(f"wrote {path}")
        return 0
    problem = display_problem()
    if problem:
        print(problem, file=sys.stderr)
        return 1
    from PyQt6.QtWidgets import QApplication

    app = QApplication.instance() or QApplication(sys.argv[:1])
    timer = _close_on_signals(app)  # noqa: F841 - kept alive while the window runs
    return run_app(args.bench, args.seed, args.out, args.quit_after, args.sim_server)


def _close_on_signals(app):
    """Ctrl-C / SIGTERM close the window, as its close button does: a running job stops at
    its next safe point (run ``aborted``, data kept), the bench is made safe. Python sees a
    signal only when it runs, so a timer hands it control five times a second."""
    import signal
    import threading

    from PyQt6.QtCore import QTimer

    if threading.current_thread() is not threading.main_thread():
        return None

    def on_signal(signum, frame) -> None:
        QTimer.singleShot(0, app.closeAllWindows)

    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, on_signal)
    timer = QTimer(app)
    timer.timeout.connect(lambda: None)
    timer.start(200)
    return timer
