"""Keithley 2636B dual-channel SourceMeter (TSP) emulator.

``smua``/``smub`` follow the Series 2600B reference manual for what the lab uses: source
(``func``, ``levelv``, ``leveli``, ranges, autorange, ``limiti``/``limitv``, ``compliance``,
``output``), measure (``nplc``, ranges, autorange, ``autozero``, ``count``, ``interval``,
``i()``, ``v()``, ``iv()``, ``r()``, ``p()`` and the ``overlapped*`` forms), the dedicated
reading buffers ``nvbuffer1``/``nvbuffer2`` and ``makebuffer(n)``.

Physics comes from the shared :class:`~ftjlab.simulators.bench.Bench`: channel *X* is the
bench terminal ``"<name>.X"`` (``"smu.a"``), it sources its voltage there and every reading is
``bench.measure_current`` (so RTN, read noise and Kirchhoff sums over the bit lines the matrix
connects). Timing is virtual: a reading integrates ``nplc / localnode.linefreq`` seconds;
``count`` readings are ``max(interval, minimum period)`` apart.

Compliance: in voltage mode a reading whose |I| would exceed ``limiti`` reads ``±limiti``,
carries status 0x40 and ``source.compliance`` is true; in current mode the voltage needed is
clipped at ``limitv``. On a fixed current range a reading beyond 101 % of the range reads
9.91e37 (overflow).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ftjlab.wiring import terminal_name

from ..bench import Bench
from ..tsp import TSPEmulator
from ..tsp_objects import (
    SEVERITY_INFO,
    ErrorQueue,
    NumberAttr,
    Status,
    StatusRegister,
    TSPAttrObject,
    TSPError,
    TSPObject,
    reset_attrs,
    runtime_error,
)
from . import keithley2636b_overlap as overlap

CURRENT_RANGES_A = (
    100e-12,
    1e-9,
    10e-9,
    100e-9,
    1e-6,
    10e-6,
    100e-6,
    1e-3,
    10e-3,
    100e-3,
    1.0,
    1.5,
)
VOLTAGE_RANGES_V = (0.2, 2.0, 20.0, 200.0)
OVERFLOW_READING = 9.91e37
STATUS_COMPLIANCE = 0x40
STATUS_4WIRE = 0x10
#: Dead time per reading besides the aperture: 0.001 NPLC at 60 Hz (16.7 us) + 33 us gives
#: the datasheet's ~20,000 readings/s measure-to-memory.
READING_OVERHEAD_S = 33e-6
#: Capacity of each dedicated reading buffer (the 2600B shares >100,000 readings between
#: them; [verify] the exact figure).
NVBUFFER_CAPACITY = 100_000
#: Reading-buffer overflow event (FILL_ONCE buffer full), severity 10; code [verify].
CODE_READING_OVERFLOW = 5048


def _snap(ranges: tuple[float, ...], value: float) -> float:
    """The smallest range that holds ``|value|`` (the largest if none does)."""
    v = abs(value)
    for r in ranges:
        if v <= r * 1.0000001:
            return r
    return ranges[-1]


# ---------------------------------------------------------------------------- buffers


class RecallAttribute(TSPObject):
    """``buf.readings``/``timestamps``/``statuses``/``sourcevalues``: 1-based, read-only."""

    def __init__(self, series: Any) -> None:
        self._series = series

    def _lua_index(self, index: int) -> Any:
        data = self._series()
        if data is None or not 1 <= index <= len(data):
            return None
        return float(data[index - 1])


class ReadingBuffer(TSPAttrObject):
    """A 2600B reading buffer (``smua.nvbuffer1`` or one from ``smua.makebuffer(n)``)."""

    _lua_hidden = frozenset({"store", "reset"})

    appendmode = NumberAttr(0, choices=(0, 1), integer=True)
    fillmode = NumberAttr(0, choices=(0, 1), integer=True)  # FILL_ONCE = 0, FILL_WINDOW = 1
    fillcount = NumberAttr(0, lo=0, integer=True)
    timestampresolution = NumberAttr(1e-6, lo=1e-6, hi=1.0)
    cachemode = NumberAttr(1, choices=(0, 1), integer=True)

    def _only_when_empty(self, value: float) -> None:
        if self._n:
            raise TSPError(1100, "Command unavailable: clear the buffer first")

    collecttimestamps = NumberAttr(0, choices=(0, 1), integer=True, on_set=_only_when_empty)
    collectsourcevalues = NumberAttr(0, choices=(0, 1), integer=True, on_set=_only_when_empty)

    def __init__(self, errors: ErrorQueue, capacity: int = NVBUFFER_CAPACITY,
                 settle: Any = None) -> None:
        super().__init__(errors)
        self._capacity = int(capacity)
        #: completes the overlapped measurements still running before anything is read
        self._settle = settle or (lambda: None)
        self.readings = RecallAttribute(self._readings)
        self.timestamps = RecallAttribute(self._timestamps)
        self.statuses = RecallAttribute(lambda: self._settled(self._s))
        self.sourcevalues = RecallAttribute(
            lambda: self._settled(self._src) if self.collectsourcevalues else None
        )
        self._series = self._readings
        self._clear_data()

    def _settled(self, series: np.ndarray) -> np.ndarray:
        self._settle()
        return series[: self._n]

    def _readings(self) -> np.ndarray:
        return self._settled(self._r)

    def _clear_data(self) -> None:
        self._r = np.zeros(0)
        self._t = np.zeros(0)
        self._s = np.zeros(0)
        self._src = np.zeros(0)
        self._n = 0
        self._next = 0
        self._base: float | None = None

    def _timestamps(self) -> np.ndarray | None:
        if not self.collecttimestamps:
            return None
        return self._settled(self._t) - (self._base or 0.0)

    def _lua_index(self, index: int) -> Any:
        return self.readings._lua_index(index)

    @property
    def n(self) -> int:
        """Number of readings stored."""
        self._settle()
        return self._n

    @property
    def capacity(self) -> int:
        """How many readings the buffer can hold."""
        return self._capacity

    @property
    def basetimestamp(self) -> float:
        """Virtual time (s) of the first stored reading (0 when empty)."""
        return float(self._base or 0.0)

    @property
    def next(self) -> int:
        """1-based index where the next reading goes."""
        return self._next + 1

    def clear(self) -> None:
        """Delete every reading."""
        self._clear_data()

    def clearcache(self) -> None:
        """Nothing is cached in the simulation."""

    def reset(self) -> None:
        reset_attrs(self)
        self._clear_data()

    def store(
        self, readings: np.ndarray, times: np.ndarray, statuses: np.ndarray, sources: np.ndarray
    ) -> None:
        """Add readings as the instrument would (append mode, fill mode, capacity)."""
        if not self.appendmode:
            self._clear_data()
        m = readings.size
        if m == 0:
            return
        if self._base is None:
            self._base = float(times[0])
        window = self._capacity
        if self.fillmode == 1 and self.fillcount:
            window = min(int(self.fillcount), self._capacity)
        new = (readings, times, statuses, sources)
        if self.fillmode == 0:  # FILL_ONCE: keep what fits, drop the rest
            room = window - self._n
            take = min(room, m)
            self._ensure(self._n + take)
            for dst, src in zip((self._r, self._t, self._s, self._src), new, strict=True):
                dst[self._n : self._n + take] = src[:take]
            self._n += take
            self._next = self._n
            if take < m and self._errors is not None:
                self._errors.push(CODE_READING_OVERFLOW, "Reading Overflow", SEVERITY_INFO)
            return
        # FILL_WINDOW: wrap around to index 1 after ``window`` readings
        if m > window:
            new = tuple(a[-window:] for a in new)
            start = (self._next + m - window) % window
            m = window
        else:
            start = self._next
        self._ensure(window)
        pos = (start + np.arange(m)) % window
        for dst, src in zip((self._r, self._t, self._s, self._src), new, strict=True):
            dst[pos] = src
        self._n = min(window, self._n + m)
        self._next = int((start + m) % window)

    def _ensure(self, size: int) -> None:
        if self._r.size < size:
            extra = size - self._r.size
            self._r, self._t, self._s, self._src = (
                np.concatenate([a, np.zeros(extra)]) for a in (self._r, self._t, self._s, self._src)
            )


# ---------------------------------------------------------------------------- SMU channel


class SMUSource(TSPAttrObject):
    """``smuX.source``."""

    def _apply(self, value: float) -> None:
        self._smu._apply_output()

    def _snap_v(self, value: float) -> float:
        return _snap(VOLTAGE_RANGES_V, value)

    def _snap_i(self, value: float) -> float:
        return _snap(CURRENT_RANGES_A, value)

    func = NumberAttr(1, choices=(0, 1), integer=True, after=_apply)
    levelv = NumberAttr(0.0, lo=-202.0, hi=202.0, after=_apply)
    leveli = NumberAttr(0.0, lo=-1.515, hi=1.515, after=_apply)
    rangev = NumberAttr(0.2, lo=-202.0, hi=202.0, on_set=_snap_v)
    rangei = NumberAttr(100e-9, lo=-1.515, hi=1.515, on_set=_snap_i)
    autorangev = NumberAttr(1, choices=(0, 1), integer=True)
    autorangei = NumberAttr(1, choices=(0, 1), integer=True)
    limiti = NumberAttr(0.1, lo=100e-12, hi=1.515, after=_apply)
    limitv = NumberAttr(20.0, lo=10e-3, hi=202.0, after=_apply)
    limitp = NumberAttr(1e6, lo=0.0, hi=1e6)
    output = NumberAttr(0, choices=(0, 1, 2), integer=True, after=_apply)
    offmode = NumberAttr(0, choices=(0, 1, 2), integer=True)
    offlimiti = NumberAttr(1e-3, lo=100e-12, hi=1.515)
    delay = NumberAttr(0.0, lo=-1.0, hi=1e4)
    settling = NumberAttr(0, lo=0, hi=128, integer=True)
    sink = NumberAttr(0, choices=(0, 1), integer=True)
    highc = NumberAttr(0, choices=(0, 1), integer=True)
    lowrangev = NumberAttr(0.2, lo=0.0, hi=202.0)
    lowrangei = NumberAttr(100e-12, lo=0.0, hi=1.515)

    def __init__(self, smu: SMU) -> None:
        super().__init__(smu._errors)
        self._smu = smu

    @property
    def compliance(self) -> bool:
        """True when the source is limited by its compliance setting right now."""
        return self._smu._in_compliance()


class SMUMeasure(TSPAttrObject):
    """``smuX.measure``: settings plus the measurement functions."""

    def _snap_v(self, value: float) -> float:
        return _snap(VOLTAGE_RANGES_V, value)

    def _snap_i(self, value: float) -> float:
        return _snap(CURRENT_RANGES_A, value)

    nplc = NumberAttr(1.0, lo=0.001, hi=25.0)
    rangei = NumberAttr(100e-9, lo=-1.515, hi=1.515, on_set=_snap_i)
    rangev = NumberAttr(0.2, lo=-202.0, hi=202.0, on_set=_snap_v)
    autorangei = NumberAttr(1, choices=(0, 1, 2), integer=True)
    autorangev = NumberAttr(1, choices=(0, 1, 2), integer=True)
    autozero = NumberAttr(2, choices=(0, 1, 2), integer=True)
    count = NumberAttr(1, lo=1, hi=10_000_000, integer=True)
    interval = NumberAttr(0.0, lo=0.0, hi=1.0)
    delay = NumberAttr(0.0, lo=-1.0, hi=1e4)
    lowrangei = NumberAttr(100e-12, lo=0.0, hi=1.515)
    lowrangev = NumberAttr(0.2, lo=0.0, hi=202.0)

    def __init__(self, smu: SMU) -> None:
        super().__init__(smu._errors)
        self._smu = smu
        self.filter = _Filter(smu._errors)

    def i(self, buf: Any = None) -> float:
        """Measure current (``count`` readings; returns the last, stores all in ``buf``)."""
        i, _ = self._smu._measure(ibuf=buf)
        return float(i[-1])

    def v(self, buf: Any = None) -> float:
        """Measure voltage."""
        _, v = self._smu._measure(vbuf=buf)
        return float(v[-1])

    def iv(self, ibuf: Any = None, vbuf: Any = None) -> tuple[float, float]:
        """Measure current and voltage (returns both)."""
        i, v = self._smu._measure(ibuf=ibuf, vbuf=vbuf)
        return float(i[-1]), float(v[-1])

    def r(self, buf: Any = None) -> float:
        """Measure resistance V/I."""
        i, v = self._smu._measure()
        r = v / np.where(i == 0, np.nan, i)
        self._smu._store(buf, r)
        return float(r[-1])

    def p(self, buf: Any = None) -> float:
        """Measure power V*I."""
        i, v = self._smu._measure()
        p = v * i
        self._smu._store(buf, p)
        return float(p[-1])

    # An overlapped current reading runs together with those started on other channels
    # (keithley2636b_overlap); the voltage forms complete at once.
    def overlappedi(self, buf: Any = None) -> None:
        overlap.start(self._smu, buf)

    def overlappedv(self, buf: Any = None) -> None:
        self.v(buf)

    def overlappediv(self, ibuf: Any = None, vbuf: Any = None) -> None:
        self.iv(ibuf, vbuf)


class _Filter(TSPAttrObject):
    count = NumberAttr(1, lo=1, hi=100, integer=True)
    enable = NumberAttr(0, choices=(0, 1), integer=True)
    type = NumberAttr(1, choices=(0, 1, 2), integer=True)


class SMU(TSPAttrObject):
    """One SMU channel (``smua``/``smub``) with its constants."""

    OUTPUT_DCAMPS, OUTPUT_DCVOLTS = 0, 1
    OUTPUT_OFF, OUTPUT_ON, OUTPUT_HIGH_Z = 0, 1, 2
    OUTPUT_NORMAL, OUTPUT_ZERO = 0, 1
    AUTORANGE_OFF, AUTORANGE_ON, AUTORANGE_FOLLOW_LIMIT = 0, 1, 2
    AUTOZERO_OFF, AUTOZERO_ONCE, AUTOZERO_AUTO = 0, 1, 2
    FILL_ONCE, FILL_WINDOW = 0, 1
    SENSE_LOCAL, SENSE_REMOTE, SENSE_CALA = 0, 1, 3
    DELAY_OFF, DELAY_AUTO = 0, -1
    DISABLE, ENABLE = 0, 1
    FILTER_MOVING_AVG, FILTER_REPEAT_AVG, FILTER_MEDIAN = 0, 1, 2

    sense = NumberAttr(0, choices=(0, 1, 3), integer=True)

    def __init__(self, emulator: Keithley2636B, channel: str) -> None:
        super().__init__(emulator.errorqueue)
        self._emu = emulator
        self._bench = emulator.bench
        self._terminal = terminal_name(emulator.name, channel)
        self._channel = channel
        self.source = SMUSource(self)
        self.measure = SMUMeasure(self)
        self.nvbuffer1 = ReadingBuffer(self._errors, settle=self._settle)
        self.nvbuffer2 = ReadingBuffer(self._errors, settle=self._settle)
        self._apply_output()

    def _settle(self) -> None:
        overlap.complete(self._bench)

    # -- Lua-visible functions --------------------------------------------------------------
    def reset(self) -> None:
        """Defaults: output off, 0 V, autorange, buffers emptied."""
        reset_attrs(self)
        reset_attrs(self.source)
        reset_attrs(self.measure)
        reset_attrs(self.measure.filter)
        self.nvbuffer1.reset()
        self.nvbuffer2.reset()
        self._apply_output()

    def makebuffer(self, n: Any) -> ReadingBuffer:
        """A new reading buffer that holds ``n`` readings."""
        size = int(n) if isinstance(n, int | float) and not isinstance(n, bool) else 0
        if size < 1:
            raise runtime_error("makebuffer needs a positive size")
        return ReadingBuffer(self._errors, capacity=size, settle=self._settle)

    def abort(self) -> None:
        """Drop the overlapped readings this channel has not taken yet."""
        overlap.cancel(self)

    def savebuffer(self, buf: Any = None) -> None:
        """Buffers are not saved across emulator restarts; accepted for compatibility."""

    # -- source ---------------------------------------------------------------------------
    def _apply_output(self) -> None:
        """Tell the bench what the terminal drives after any source setting changed."""
        src = self.source
        on = src.output == SMU.OUTPUT_ON
        if not on:
            self._bench.source(self._terminal, 0.0, False)
        elif src.func == SMU.OUTPUT_DCVOLTS:
            self._bench.source(self._terminal, float(src.levelv), True)
        else:
            self._bench.source(self._terminal, self._current_mode_volts()[0], True)

    def _current_mode_volts(self) -> tuple[float, bool]:
        """Voltage the current source settles at, and whether ``limitv`` clips it."""
        src = self.source
        v = self._bench.voltage_for_current(self._terminal, float(src.leveli))
        if abs(v) > src.limitv:
            return float(np.copysign(src.limitv, v if v != 0 else src.leveli)), True
        return v, False

    def _in_compliance(self) -> bool:
        src = self.source
        if src.output != SMU.OUTPUT_ON:
            return False
        if src.func == SMU.OUTPUT_DCVOLTS:
            return abs(self._bench.expected_current(self._terminal)) > src.limiti
        return self._current_mode_volts()[1]

    # -- measurement ----------------------------------------------------------------------
    def _aperture_s(self) -> float:
        return float(self.measure.nplc) / float(self._emu.localnode.linefreq)

    def _measure(self, ibuf: Any = None, vbuf: Any = None) -> tuple[np.ndarray, np.ndarray]:
        overlap.complete(self._bench)  # a channel's own readings follow what it started
        for buf in (ibuf, vbuf):
            if buf is not None and not isinstance(buf, ReadingBuffer):
                raise runtime_error("measure argument must be a reading buffer")
        src, meas = self.source, self.measure
        count = int(meas.count)
        aperture = self._aperture_s()
        dead = READING_OVERHEAD_S + (2 * aperture if meas.autozero == SMU.AUTOZERO_AUTO else 0)
        period = max(float(meas.interval), aperture + dead)
        if meas.delay > 0:
            self._bench.idle(float(meas.delay))
        on = src.output == SMU.OUTPUT_ON
        t0 = self._bench.clock.now_s
        status = np.full(count, STATUS_4WIRE if self.sense == SMU.SENSE_REMOTE else 0, float)
        if on and src.func == SMU.OUTPUT_DCAMPS:
            v_set, clipped = self._current_mode_volts()
            self._bench.source(self._terminal, v_set, True)
            raw = self._bench.measure_current(self._terminal, count, period, aperture)
            i = raw if clipped else np.full(count, float(src.leveli))
            v = np.full(count, v_set)
            if clipped:
                status += STATUS_COMPLIANCE
        else:
            i = self._bench.measure_current(self._terminal, count, period, aperture)
            v = np.full(count, float(src.levelv) if on else 0.0)
            if on:
                limit = float(src.limiti)
                over = np.abs(i) > limit
                if over.any():
                    i = np.where(over, np.copysign(limit, i), i)
                    status[over] += STATUS_COMPLIANCE
                    v_lim = self._bench.voltage_for_current(self._terminal, limit)
                    v = np.where(over, np.clip(v_lim, -abs(v[0]), abs(v[0])), v)
        if not meas.autorangei and meas.rangei:
            i = np.where(np.abs(i) > 1.01 * float(meas.rangei), OVERFLOW_READING, i)
        times = t0 + period * np.arange(count)
        source_values = v if src.func == SMU.OUTPUT_DCVOLTS else np.full(count, src.leveli)
        for buf, data in ((ibuf, i), (vbuf, v)):
            if buf is not None:
                buf.store(data, times, status, source_values)
        self._last_status = status
        return i, v

    def _store(self, buf: Any, data: np.ndarray) -> None:
        if buf is None:
            return
        if not isinstance(buf, ReadingBuffer):
            raise runtime_error("measure argument must be a reading buffer")
        t0 = self._bench.clock.now_s
        zeros = np.zeros(data.size)
        buf.store(data, np.full(data.size, t0), zeros, zeros)


class Keithley2636B(TSPEmulator):
    """The 2636B: ``smua``, ``smub`` and the TSP runtime, on a shared bench.

    Parameters
    ----------
    bench: the simulated bench; channel *X* drives terminal ``"<name>.X"``.
    name: the instrument name in the bench config (terminal prefix), default ``"smu"``.
    linefreq: power-line frequency (Hz) that sets the aperture of ``nplc``.
    max_script_s: wall-time limit of one command (runaway guard).
    """

    model = "2636B"
    serialno = "4420001"
    firmware = "4.0.4"

    def __init__(
        self, bench: Bench, name: str = "smu", linefreq: int = 60, max_script_s: float = 10.0
    ) -> None:
        self.bench, self.name = bench, name
        self._initial_linefreq = int(linefreq)
        super().__init__(bench.clock, max_script_s=max_script_s, seed=bench.seed)
        self.localnode.linefreq = self._initial_linefreq

    #: run the driver's registered array scripts natively (same results, see tsp_native)
    native_scripts = True

    def execute(self, code: str) -> bool:
        ok = super().execute(code)
        try:  # nothing runs on past the command in the simulation
            overlap.complete(self.bench)
        except Exception as exc:  # reported like any error of the command
            self._report(exc)
            ok = False
        if ok and self.native_scripts and code.startswith("function ftj"):
            from .tsp_native import install

            install(self, code)
        return ok

    def _install(self, g: Any) -> None:
        self.smua = SMU(self, "a")
        self.smub = SMU(self, "b")
        super()._install(g)
        g.smua, g.smub = self.smua, self.smub
        g.waitcomplete = lambda *_: overlap.complete(self.bench)
        from .tspnet import TSPNet

        g.tspnet = TSPNet(self.bench)

    def _make_status(self) -> Status:
        def limits(smu: SMU) -> int:
            if not smu._in_compliance():
                return 0
            return 2 if smu.source.func == SMU.OUTPUT_DCVOLTS else 1  # ILMT bit 1, VLMT bit 0

        e = self.errorqueue
        instrument = StatusRegister(
            e,
            smua=StatusRegister(e, condition=lambda: limits(self.smua)),
            smub=StatusRegister(e, condition=lambda: limits(self.smub)),
        )
        measurement = StatusRegister(e, instrument=instrument)
        return Status(e, measurement=measurement)

    def _reset_instrument(self) -> None:
        super()._reset_instrument()
        self.smua.reset()
        self.smub.reset()
