"""Shadow-state helpers shared by the guard rules of the SMUs and the pulse generators."""

from __future__ import annotations

from collections.abc import Hashable
from typing import Any

from ._scpi import ScpiCommand, parse_message, parse_number, parse_switch
from .safety import SafetyGuard

# --------------------------------------------------------------------------- SMU shadow state


def smu_unknown() -> dict[str, Any]:
    """Shadow of an SMU channel nothing is known about."""
    return {"func": None, "levelv": None, "leveli": None, "limiti": None, "limitv": None}


def smu_after_reset() -> dict[str, Any]:
    """Shadow after a reset: DC volts at 0 V / 0 A; the default limits are not trusted."""
    return {"func": "voltage", "levelv": 0.0, "leveli": 0.0, "limiti": None, "limitv": None}


def smu_set(
    guard: SafetyGuard, channel: Hashable, shadow: dict[str, Any], attr: str, value: float
) -> None:
    """Check a source level or limit and record it in the shadow."""
    if attr in ("levelv", "limitv"):
        guard.check_voltage(channel, value)
    else:
        guard.limits.check_compliance(value)
    shadow[attr] = float(value)


def smu_output_on(
    guard: SafetyGuard, channel: Hashable, shadow: dict[str, Any], command: str
) -> None:
    """Allow an output-on only if its function, level and compliance were checked."""
    func = shadow["func"]
    if func is None:
        raise guard.refuse(command, "the source function is unknown; set it (or reset) first")
    level, limit = ("levelv", "limiti") if func == "voltage" else ("leveli", "limitv")
    for attr in (level, limit):
        if shadow[attr] is None:
            raise guard.refuse(
                command,
                f"output on before {attr} of channel {channel!r} was set with limits bound",
            )
    if func == "voltage":
        guard.check_voltage(channel, shadow["levelv"])
    else:
        guard.check_voltage(channel, shadow["limitv"])


def smu_voltages(shadow: dict[str, Any]) -> list[float]:
    """Voltages that the channel may apply, as far as known."""
    if shadow["func"] == "current":
        return [shadow["limitv"]] if shadow["limitv"] is not None else []
    return [shadow["levelv"]] if shadow["levelv"] is not None else []


def number_arg(guard: SafetyGuard, command: ScpiCommand, index: int) -> float:
    """Argument ``index`` of a command as a plain number, or refuse the command."""
    if index >= len(command.args):
        raise guard.refuse(command.text, f"argument {index + 1} is missing")
    value = parse_number(command.args[index])
    if value is None:
        raise guard.refuse(
            command.text,
            f"argument {command.args[index]!r} is not a plain number (MIN/MAX/DEF and units "
            "cannot be checked against the limits)",
        )
    return value


# ------------------------------------------------------------------- pulse generator rules

_SHAPE_NAMES = {"PULSE": "PULS", "SQUARE": "SQU", "SINUSOID": "SIN", "NOISE": "NOIS"}


class PulseGeneratorRules:
    """Guard rules of the Keysight 81160A and 33500B pulse generators.

    Levels are tracked as high/low per channel: ``VOLT:HIGH``/``VOLT:LOW`` are checked directly
    (|level| <= the channel role's max), amplitude and offset only when the other one is known
    (``|offset| + amplitude/2``). Widths are checked against the pulse width range; duty-cycle
    settings are refused (they set the width indirectly). An output is switched on only after
    both levels, and the width of a pulse shape, were set with limits bound. ``*RST`` and a
    change of the output load forget the levels. Channel coupling, combining, tracking and
    recalled setups are refused.

    Both spellings of the pulse subsystem (81160A ``:PULS:WIDT1``, 33500B
    ``SOUR1:FUNC:PULS:WIDT``) are checked on both instruments.

    :param channels: the output channel numbers.
    """

    default_roles: dict[Hashable, str]

    def __init__(self, channels: tuple[int, ...] = (1, 2)):
        self.default_roles = {channel: "program" for channel in channels}

    def initial_state(self) -> dict[Hashable, Any]:
        return {channel: self._unknown() for channel in self.default_roles}

    @staticmethod
    def _unknown() -> dict[str, Any]:
        return {"high": None, "low": None, "width": None, "shape": None}

    def applied_voltages(self, state: dict[Hashable, Any], channel: Hashable) -> list[float]:
        shadow = state[channel]
        return [shadow[key] for key in ("high", "low") if shadow[key] is not None]

    def check(self, guard: SafetyGuard, message: str, state: dict[Hashable, Any]) -> None:
        for command in parse_message(message):
            if command.common:
                name = command.nodes[0]
                if name == "*RST":
                    for channel in state:
                        state[channel] = self._unknown()
                elif name == "*RCL":
                    raise guard.refuse(command.text, "a recalled setup cannot be checked")
                continue
            if command.query:
                continue
            self._check_command(guard, command, state)

    def _channel(self, guard: SafetyGuard, command: ScpiCommand, state: dict) -> dict[str, Any]:
        if command.ambiguous_channel:
            raise guard.refuse(command.text, "more than one channel suffix")
        channel = command.channel or 1
        if channel not in state:
            raise guard.refuse(command.text, f"unknown channel {channel}")
        return state[channel]

    def _check_command(self, guard: SafetyGuard, command: ScpiCommand, state: dict) -> None:
        header = command.header
        head = command.nodes[0] if command.nodes else ""
        pulse = header.removeprefix("FUNC:")
        if head in ("TRAC", "COMB") or header in ("VOLT:COUP", "FREQ:COUP"):
            if command.args and parse_switch(command.args[-1]) is False:
                return
            raise guard.refuse(command.text, "channel coupling/combining cannot be checked")
        if head == "MMEM" and "LOAD" in command.nodes:
            raise guard.refuse(command.text, "a loaded state cannot be checked")
        if head == "VOLT":
            self._check_levels(guard, command, state)
        elif pulse == "PULS:WIDT":
            shadow = self._channel(guard, command, state)
            width = number_arg(guard, command, 0)
            guard.limits.check_pulse_width(width)
            shadow["width"] = width
        elif pulse == "PULS:DCYC":
            raise guard.refuse(
                command.text, "duty-cycle settings set the width indirectly; set the width"
            )
        elif pulse == "PULS:HOLD":
            if not command.args or command.args[0].strip().upper() not in ("WIDT", "WIDTH"):
                raise guard.refuse(command.text, "only width hold (WIDT) keeps the width checked")
        elif header == "FUNC":
            shadow = self._channel(guard, command, state)
            shape = command.args[0].strip().upper() if command.args else ""
            shadow["shape"] = _SHAPE_NAMES.get(shape, shape)
        elif head == "APPL":
            self._check_apply(guard, command, state)
        elif head == "OUTP":
            self._check_output(guard, command, state)

    def _check_levels(self, guard: SafetyGuard, command: ScpiCommand, state: dict) -> None:
        header = command.header
        if header.startswith(("VOLT:LIM", "VOLT:RANG")):
            return  # hardware level limits and ranging never raise the output
        shadow = self._channel(guard, command, state)
        channel = command.channel or 1
        high, low = shadow["high"], shadow["low"]
        if header == "VOLT:UNIT":
            if not command.args or command.args[0].strip().upper() != "VPP":
                raise guard.refuse(command.text, "levels are checked in VPP only")
            return
        if header in ("VOLT:HIGH", "VOLT:LOW"):
            value = number_arg(guard, command, 0)
            guard.check_voltage(channel, value)
            shadow["high" if header == "VOLT:HIGH" else "low"] = value
            return
        if header not in ("VOLT", "VOLT:OFFS"):
            raise guard.refuse(command.text, "unrecognised level command")
        value = number_arg(guard, command, 0)
        if high is None or low is None:
            other = "offset" if header == "VOLT" else "amplitude"
            raise guard.refuse(
                command.text,
                f"the {other} is unknown, so the peak voltage cannot be checked; "
                "set the high and low levels first",
            )
        if header == "VOLT":
            offset, amplitude = (high + low) / 2.0, value
        else:
            offset, amplitude = value, high - low
        guard.check_voltage(channel, abs(offset) + abs(amplitude) / 2.0)
        shadow["high"], shadow["low"] = offset + amplitude / 2.0, offset - amplitude / 2.0

    def _check_apply(self, guard: SafetyGuard, command: ScpiCommand, state: dict) -> None:
        shadow = self._channel(guard, command, state)
        channel = command.channel or 1
        shape = command.nodes[1] if len(command.nodes) > 1 else ""
        if not shape:
            raise guard.refuse(command.text, "APPLy without a shape")
        offset = number_arg(guard, command, 2)
        amplitude = 0.0 if shape == "DC" else number_arg(guard, command, 1)
        guard.check_voltage(channel, abs(offset) + abs(amplitude) / 2.0)
        shadow["high"], shadow["low"] = offset + amplitude / 2.0, offset - amplitude / 2.0
        shadow["shape"] = _SHAPE_NAMES.get(shape, shape)
        self._require_output_ready(guard, command, shadow)  # APPLy switches the output on

    def _check_output(self, guard: SafetyGuard, command: ScpiCommand, state: dict) -> None:
        header = command.header
        if header == "OUTP:LOAD":
            shadow = self._channel(guard, command, state)
            shadow["high"] = shadow["low"] = None  # programmed levels change meaning
            return
        if header not in ("OUTP", "OUTP:COMP"):
            return
        shadow = self._channel(guard, command, state)
        switch = parse_switch(command.args[0]) if command.args else None
        if switch is None:
            raise guard.refuse(command.text, "output state must be ON/OFF/1/0")
        if switch:
            self._require_output_ready(guard, command, shadow)

    def _require_output_ready(
        self, guard: SafetyGuard, command: ScpiCommand, shadow: dict[str, Any]
    ) -> None:
        channel = command.channel or 1
        if shadow["high"] is None or shadow["low"] is None:
            raise guard.refuse(
                command.text, f"output on before both levels of channel {channel} were set"
            )
        for level in (shadow["high"], shadow["low"]):
            guard.check_voltage(channel, level)
        if shadow["shape"] in (None, "PULS") and shadow["width"] is None:
            raise guard.refuse(
                command.text, f"output on before the pulse width of channel {channel} was set"
            )
