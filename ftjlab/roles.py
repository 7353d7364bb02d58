"""The roles the array controller addresses, and their implementation for each SMU family.

The controller never asks which model it drives: a bench gives it

- **measure channels** (:class:`SMURole`): source a bias on a bit line and measure its
  current: one reading, or a buffered, timed acquisition read back block by block;
- a **gate drive** (:class:`SMURole` as well): hold the selected word lines on;
- a **pulser** (:class:`~ftjlab.pulsing.PulserOutput` per generator output);
- the **matrix** (the 707B driver).

:class:`TSPChannel` implements an SMU role on a 2636B channel (``smua``/``smub``, TSP),
:class:`SCPISMU` on a 2450 (SCPI: ``:TRIG:LOAD "SimpleLoop"`` trigger model, reading buffers
read as binary blocks). Which terminal plays which role comes from the bench's wiring
(:func:`assign_roles`).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from ftjlab.errors import BadInput
from ftjlab.instruments.models import MODELS

#: seconds a 2450 needs per reading besides its aperture at the fastest settings
#: (~3,000 readings/s at 0.01 PLC)
SCPI_READING_OVERHEAD_S = 3e-4


class SMURole:
    """One SMU channel in a role (bias/measure or gate); see the module docstring.

    :ivar terminal: the bench terminal (``"smu.a"``).
    :ivar instrument: the instrument name; :ivar driver: its driver.
    :ivar linefreq: mains frequency (Hz) that sets the aperture of an NPLC.
    :ivar smu: the object of the channel's source and measure settings (the driver itself
        for a one-channel SMU).
    """

    def __init__(self, instrument: str, driver: Any, channel: str, linefreq: float) -> None:
        self.instrument, self.driver, self.channel = instrument, driver, channel
        self.smu: Any = driver
        self.terminal = f"{instrument}.{channel}"
        self.linefreq = float(linefreq)
        self._volts: float | None = None
        self._nplc: float | None = None
        self._on = False

    # -- what every model provides ---------------------------------------------------------
    guard_id: Any
    #: the model's name and its NPLC range (an aperture outside it is refused, not clipped)
    model = ""
    nplc_range: tuple[float, float] = (0.0, float("inf"))

    def _apply(self, volts: float, compliance_a: float) -> None:
        raise NotImplementedError

    def _set_level(self, volts: float) -> None:
        self.smu.source_voltage = volts

    def _output(self, on: bool) -> None:
        self.smu.output_enabled = on

    def _set_vlimit(self, volts: float) -> None:
        self.smu.voltage_limit = volts

    def _set_nplc(self, nplc: float) -> None:
        raise NotImplementedError

    def read_current(self) -> float:
        """One current reading (A) with the present settings."""
        return float(self.smu.current)

    def acquire(self, count: int, interval_s: float) -> tuple[np.ndarray, np.ndarray]:
        """``count`` readings ``interval_s`` apart into the instrument's buffer; returns
        ``(currents_a, timestamps_s)`` (timestamps from the first reading)."""
        raise NotImplementedError

    #: TSP-Link node of the channel's instrument (1: the master, or not linked)
    node = 1

    def can_sequence(self) -> bool:
        """Whether this channel runs the on-instrument read sequences (switching a matrix
        that is a TSP-Link node of its instrument)."""
        return False

    # -- shared logic ------------------------------------------------------------------------
    def aperture_s(self, nplc: float) -> float:
        return nplc / self.linefreq

    def bias(self, volts: float, nplc: float | None, role: str, compliance_a: float) -> None:
        """Source ``volts`` (checked against the ``role`` limit), set the aperture (one
        autozero for the setup), output on; writes only what changed."""
        guard = self.driver.safety
        if guard is not None and guard.role(self.guard_id) != role:
            # levels legal in both roles before the switch: 0 V, and the current source's
            # voltage limit within the new role (the session set it to the old role's)
            new_max = guard.limits.max_voltage_v(role)
            if new_max < guard.limits.max_voltage_v(guard.role(self.guard_id)):
                self._set_level(0.0)
                self._set_vlimit(max(new_max, 0.02))
            guard.set_role(self.guard_id, role)
            self._volts = None
        if self._volts is None:
            self._apply(volts, compliance_a)
            self._volts = volts
        elif self._volts != volts:
            if guard is not None:
                guard.check_voltage(self.guard_id, volts)
            self._set_level(volts)
            self._volts = volts
        if nplc is not None and self._nplc != nplc:
            lo, hi = self.nplc_range
            if not lo <= nplc <= hi:
                raise BadInput(f"nplc: {nplc:g} PLC is outside the {self.model}'s range "
                               f"{lo:g}..{hi:g} PLC ({self.terminal})")
            self._set_nplc(nplc)
            self._nplc = nplc
        if not self._on:
            self._output(True)
            self._on = True

    def forget(self) -> None:
        """After a bench shutdown: nothing known about the channel any more."""
        self._volts, self._nplc, self._on = None, None, False


class TSPChannel(SMURole):
    """A 2636B channel (``a`` or ``b``) as an SMU role."""

    model = "2636B"
    nplc_range = (0.001, 25.0)

    def __init__(self, instrument: str, driver: Any, channel: str, linefreq: float) -> None:
        super().__init__(instrument, driver, channel, linefreq)
        self.guard_id = channel
        self.smu = getattr(driver, f"smu{channel}")

    def can_sequence(self) -> bool:
        return self.channel == "a" and self.node == 1

    def sequence(self, matrix_node: int, gates: list[str], bls: list[str]) -> np.ndarray:
        """Readings (len(gates), len(bls)) of this channel at every route, one script call
        (:func:`~ftjlab.instruments.keithley2636b_scripts.measure_sequence`)."""
        from ftjlab.instruments import keithley2636b_scripts as scripts

        return scripts.measure_sequence(self.driver, matrix_node, gates, bls)

    def sequence_multi(self, matrix_node: int, gates: list[str], groups: list[str],
                       channels: list[tuple[int, str]]) -> np.ndarray:
        """Readings (gates, groups, channels), every channel one bit line per route."""
        from ftjlab.instruments import keithley2636b_scripts as scripts

        return scripts.measure_sequence_multi(self.driver, matrix_node, gates, groups, channels)

    def program_row(self, *args: Any) -> list[tuple[float, ...]]:
        """One call of the on-board row write-verify (``ftjrowwv``)."""
        from ftjlab.instruments import keithley2636b_scripts as scripts

        return scripts.program_row(self.driver, *args)

    def acquire_multi(self, channels: list[tuple[int, str]], count: int,
                      interval_s: float) -> tuple[np.ndarray, np.ndarray]:
        """``count`` readings on every channel, started together: (count, channels) each."""
        from ftjlab.instruments import keithley2636b_scripts as scripts

        return scripts.acquire_multi(self.driver, channels, count, interval_s)

    def _apply(self, volts: float, compliance_a: float) -> None:
        self.smu.apply_voltage(volts, compliance_a)

    def _set_nplc(self, nplc: float) -> None:
        self.smu.measure_nplc = nplc
        # one autozero for this setup, as a tester does (AUTO takes two more apertures for
        # every reading)
        self.smu.measure_autozero = "ONCE"

    def acquire(self, count: int, interval_s: float) -> tuple[np.ndarray, np.ndarray]:
        self.smu.measure_autozero = "OFF"
        self.smu.configure_timed_acquisition(count=count, interval_s=interval_s)
        self.smu.start_current_acquisition()
        self.driver.wait_for_completion(timeout_s=max(10.0, 3 * count * interval_s))
        current, stamps = self.smu.read_buffer(binary=True)
        return current, stamps


class SCPISMU(SMURole):
    """A 2450 as an SMU role (its one channel)."""

    guard_id = 1
    model = "2450"
    nplc_range = (0.01, 10.0)

    def __init__(self, instrument: str, driver: Any, channel: str, linefreq: float) -> None:
        super().__init__(instrument, driver, channel, linefreq)
        self._sense = False

    def _apply(self, volts: float, compliance_a: float) -> None:
        if not self._sense:
            self.driver.sense_function = "current"
            self._sense = True
        self.driver.apply_voltage(volts, compliance_a)

    def _set_nplc(self, nplc: float) -> None:
        self.driver.measure_nplc = nplc
        self.driver.measure_autozero = False

    def acquire(self, count: int, interval_s: float) -> tuple[np.ndarray, np.ndarray]:
        nplc = self._nplc if self._nplc is not None else 1.0
        delay = max(0.0, interval_s - self.aperture_s(nplc) - SCPI_READING_OVERHEAD_S)
        buf = self.driver.defbuffer1
        buf.clear()
        self.driver.load_simple_loop(count, delay)
        self.driver.start()
        self.driver.wait_for_completion(timeout_s=max(10.0, 3 * count * interval_s))
        readings, times = buf.read_data(1, count, binary=True)
        return readings, times - (times[0] if times.size else 0.0)

    def forget(self) -> None:
        super().forget()
        self._sense = False


ROLE_CLASSES: dict[str, type[SMURole]] = {"2636B": TSPChannel, "2450": SCPISMU}


@dataclass
class Roles:
    """Who plays what on one bench (see :func:`assign_roles`)."""

    reads: list[SMURole]
    gate: SMURole
    pulser: tuple[str, Any]  # (instrument name, driver)
    matrix: tuple[str, Any]


def assign_roles(config: Any, instruments: Mapping[str, Any]) -> Roles:
    """Roles from the bench's wiring: the SMU terminals on the matrix rows, in row order
    (A, B, ...): the second one drives the word lines (gate), every other one biases and
    measures bit lines (the first is the main read channel). The pulser is the first pulse
    generator, the matrix the switch matrix."""
    smus: list[SMURole] = []
    for letter in sorted(config.wiring.rows):
        terminal = config.wiring.rows[letter]
        name, _, channel = terminal.partition(".")
        inst = config.instruments[name]
        role_class = ROLE_CLASSES.get(inst.model)
        if role_class is None:
            continue
        linefreq = float(inst.options.get("linefreq", 60))
        role = role_class(name, instruments[name], channel, linefreq)
        role.node = int(inst.options.get("tsplink_node", 1))
        smus.append(role)
    if len(smus) < 2:
        raise BadInput(f"{config.source}:wiring.rows: need two SMU terminals on the matrix "
                       f"(bit-line read, word-line gate), found {[s.terminal for s in smus]}")
    pulsers = [(n, instruments[n]) for n, i in config.instruments.items()
               if MODELS[i.model].kind == "pulser"]
    matrices = [(n, instruments[n]) for n, i in config.instruments.items()
                if MODELS[i.model].kind == "matrix"]
    if not pulsers:
        raise BadInput(f"{config.source}: the bench has no pulse generator")
    return Roles([smus[0], *smus[2:]], smus[1], pulsers[0], matrices[0])


def stream_blocks(
    channel: SMURole, readings: int, interval_s: float, block: int
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Buffered acquisition in blocks of at most ``block`` readings, timestamps continued
    from block to block."""
    t_offset = 0.0
    done = 0
    while done < readings:
        n = min(block, readings - done)
        current, stamps = channel.acquire(n, interval_s)
        stamps = np.asarray(stamps) + t_offset
        t_offset = float(stamps[-1]) + interval_s if stamps.size else t_offset
        done += n
        yield current, stamps
