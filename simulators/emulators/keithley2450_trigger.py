"""Keithley 2450 emulator: trigger-model templates and linear sweeps, run at ``:INIT``."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..scpi import Call, ScpiError

#: Longest sweep (points x count) the emulator runs; each point is a separate bench call.
MAX_SWEEP_POINTS_TOTAL = 100_000


@dataclass
class _Model:
    """A loaded trigger-model template."""

    kind: str  # "EMPTY", "SIMPLE", "DURATION", "SWEEP"
    count: int = 0
    duration_s: float = 0.0
    delay_s: float = 0.0
    buffer: str = "defbuffer1"
    sweep: list[float] = field(default_factory=list)
    sweep_func: str = "VOLT"


class TriggerModel:
    """Mixin of :class:`~.keithley2450.Keithley2450`: loads and runs the trigger model.

    Uses the instrument's ``model``, ``_buffer``, ``_acquire``, ``interval_s``, ``level``,
    ``source_function``, ``output`` and ``_apply_source``.
    """

    model: _Model

    def _load_template(self, call: Call) -> None:
        name = str(call.args[0]).strip().upper()
        rest = call.args[1:]
        if name == "EMPTY":
            if rest:
                raise ScpiError(-108)
            self.model = _Model("EMPTY")
        elif name == "SIMPLELOOP":
            self._load_loop("SIMPLE", rest)
        elif name == "DURATIONLOOP":
            self._load_loop("DURATION", rest)
        else:
            raise ScpiError(-224, f"template {name[:20]} not available")

    def _load_loop(self, kind: str, args: list[Any]) -> None:
        if not args:
            raise ScpiError(-109)
        value = float(args[0])
        delay = float(args[1]) if len(args) > 1 else 0.0
        buf = str(args[2]).strip() if len(args) > 2 else "defbuffer1"
        self._buffer(buf)
        if kind == "SIMPLE":
            if not 1 <= value <= 268_435_455:
                raise ScpiError(-222, "count")
            self.model = _Model("SIMPLE", count=round(value), delay_s=delay, buffer=buf)
        else:
            if not 0 < value <= 100_000:
                raise ScpiError(-222, "duration")
            self.model = _Model("DURATION", duration_s=value, delay_s=delay, buffer=buf)

    def _load_sweep(self, func: str, call: Call) -> None:
        a = call.args
        start, stop, points = float(a[0]), float(a[1]), int(a[2])
        delay = float(a[3]) if len(a) > 3 else -1.0
        count = int(a[4]) if len(a) > 4 else 1
        dual = bool(a[7]) if len(a) > 7 else False
        buf = str(a[8]).strip() if len(a) > 8 else "defbuffer1"
        self._buffer(buf)
        values = list(np.linspace(start, stop, points))
        if dual:
            values = values + values[::-1]
        if len(values) * count > MAX_SWEEP_POINTS_TOTAL:
            raise ScpiError(-222, "sweep too long for the simulator")
        self.model = _Model(
            "SWEEP", count=count, delay_s=max(delay, 0.0), buffer=buf, sweep=values, sweep_func=func
        )

    def _run_model(self) -> None:
        model = self.model
        if model.kind == "EMPTY":
            return
        buf = self._buffer(model.buffer)
        if model.kind == "SIMPLE":
            self._acquire(model.count, model.delay_s, buf)
        elif model.kind == "DURATION":
            n = max(1, math.ceil(model.duration_s / self.interval_s(model.delay_s) - 1e-9))
            self._acquire(n, model.delay_s, buf)
        else:
            # The trigger model a sweep command builds starts with a Buffer Clear block for its
            # buffer (2450-901-01 Rev B, "Sweep operation": block 1), so a sweep's buffer holds
            # exactly its points, whatever single readings went there before.
            buf.clear()
            self.source_function = model.sweep_func
            self.output = True
            for _ in range(model.count):
                for v in model.sweep:
                    self.level[model.sweep_func] = float(v)
                    self._apply_source()
                    self._acquire(1, model.delay_s, buf)
