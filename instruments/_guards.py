"""Shadow-state helpers shared by the guard rules of the SMUs, and the pulse generators' rules.

Every rule set is default-deny: a command is let through only if its form is one the rules
know completely (a whitelisted header or statement with plain literal arguments); anything
else is refused with an error naming the command.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Hashable
from typing import Any

from ._scpi import (
    ScpiCommand,
    ScpiParseRefusal,
    parse_message,
    token_number,
    token_switch,
    token_word,
)
from .limits import KnownStateNeededError, UncheckedCommandError
from .safety import SafetyGuard

# --------------------------------------------------------------------------- SMU shadow state

_SMU_KEYS = ("func", "levelv", "leveli", "limiti", "limitv", "output")


def smu_unknown() -> dict[str, Any]:
    """Shadow of an SMU channel nothing is known about (the output may be on)."""
    return {"func": None, "levelv": None, "leveli": None, "limiti": None, "limitv": None,
            "output": None}


def smu_after_reset() -> dict[str, Any]:
    """Shadow after a reset: output off, DC volts at 0 V / 0 A; the default limits (e.g.
    20 V / 21 V voltage limits) are not within any bench limit and count as unchecked."""
    return {"func": "voltage", "levelv": 0.0, "leveli": 0.0, "limiti": None, "limitv": None,
            "output": False}


def smu_set(
    guard: SafetyGuard, channel: Hashable, shadow: dict[str, Any], attr: str, value: float
) -> None:
    """Check a source level or limit and record it in the shadow."""
    if attr in ("levelv", "limitv"):
        guard.check_voltage(channel, value)
    else:
        guard.limits.check_compliance(value)
    shadow[attr] = float(value)


def smu_ready(
    guard: SafetyGuard, channel: Hashable, shadow: dict[str, Any], command: str,
    func: str | None = None,
) -> None:
    """Refuse unless the source (function ``func``, default the shadow's) has a checked level
    and a checked compliance: what an output that is or goes on would apply."""
    func = shadow["func"] if func is None else func
    if func is None:
        raise guard.refuse(command, "the source function is unknown; set it (or reset) first")
    level, limit = ("levelv", "limiti") if func == "voltage" else ("leveli", "limitv")
    for attr in (level, limit):
        if shadow[attr] is None:
            raise guard.refuse(
                command,
                f"{attr} of channel {channel!r} was not set with limits bound (its default "
                "is not within the bench limits); set it first",
            )
    if func == "voltage":
        guard.check_voltage(channel, shadow["levelv"])
        guard.limits.check_compliance(shadow["limiti"])
    else:
        guard.check_voltage(channel, shadow["limitv"])
        guard.limits.check_compliance(shadow["leveli"])


def smu_output_on(
    guard: SafetyGuard, channel: Hashable, shadow: dict[str, Any], command: str
) -> None:
    """Allow an output-on only if its function, level and compliance were checked."""
    smu_ready(guard, channel, shadow, command)
    shadow["output"] = True


def smu_func(
    guard: SafetyGuard, channel: Hashable, shadow: dict[str, Any], func: str, command: str
) -> None:
    """A change of the source function: with the output on, the new function's level and
    compliance (e.g. a default voltage limit) apply at once, so they must be checked. (With
    the output state not known, i.e. before anything switched it through the guard, nothing
    is known about the levels either; a bench session starts by switching outputs off.)"""
    if shadow["output"] is True and func != shadow["func"]:
        smu_ready(guard, channel, shadow, command, func)
    shadow["func"] = func


def smu_voltages(shadow: dict[str, Any]) -> list[float]:
    """Voltages programmed on the channel, as far as known (level and voltage limit)."""
    return [shadow[key] for key in ("levelv", "limitv") if shadow.get(key) is not None]


def number_arg(guard: SafetyGuard, command: ScpiCommand, index: int) -> float:
    """Argument ``index`` of a command as a plain number, or refuse the command."""
    if index >= len(command.tokens):
        raise guard.refuse(command.text, f"argument {index + 1} is missing")
    value = token_number(command.tokens[index])
    if value is None or not math.isfinite(value):
        raise guard.refuse(
            command.text,
            f"argument {command.tokens[index].text!r} is not a plain number (MIN/MAX/DEF, "
            "unit suffixes and expressions cannot be checked against the limits)",
        )
    return value


def switch_arg(guard: SafetyGuard, command: ScpiCommand, index: int = 0) -> bool:
    """Argument ``index`` as ON/OFF/1/0, or refuse."""
    value = token_switch(command.tokens[index]) if index < len(command.tokens) else None
    if value is None:
        raise guard.refuse(command.text, "expected ON, OFF, 1 or 0")
    return value


def word_arg(guard: SafetyGuard, command: ScpiCommand, index: int = 0) -> str:
    """Argument ``index`` as upper-case character data or string, or refuse."""
    value = token_word(command.tokens[index]) if index < len(command.tokens) else None
    if value is None:
        raise guard.refuse(command.text, "expected a name")
    return value


@functools.lru_cache(maxsize=2048)
def _parsed(message: str) -> tuple[ScpiCommand, ...]:
    # drivers send the same messages again and again; commands are immutable
    return tuple(parse_message(message))


def scpi_commands(guard: SafetyGuard, message: str) -> tuple[ScpiCommand, ...]:
    """The commands of a message, or refuse it if it cannot be read unambiguously."""
    try:
        return _parsed(message)
    except ScpiParseRefusal as exc:
        raise guard.refuse(exc.unit, exc.reason) from None


# ------------------------------------------------------------------- pulse generator rules

_SHAPE_NAMES = {"PULSE": "PULS", "SQUARE": "SQU", "SINUSOID": "SIN", "NOISE": "NOIS"}
#: loads at or above this are the high impedance they stand for (level error < 0.05 %)
HIGH_Z_LOAD_OHM = 1e5
#: harmless settings (trigger, arm, burst, edges checked separately, display, status)
_GENERATOR_HARMLESS = frozenset({
    "TRIG:COUN", "TRIG:SOUR", "TRIG:DEL", "TRIG:TIM", "TRIG:SLOP", "TRIG", "ARM:SOUR",
    "ARM:SLOP", "ARM:SENS", "ARM:LEV", "BURS", "BURS:MODE", "BURS:NCYC", "BURS:PHAS",
    "BURS:GATE:POL", "PULS:DEL", "FUNC:PULS:DEL", "OUTP:POL", "OUTP:SYNC", "DISP", "DISP:TEXT",
    "SYST:BEEP", "STAT:PRES", "VOLT:RANG:AUTO", "PULS:TRAN:TRA:AUTO", "ABOR",
})
_GENERATOR_COMMON = frozenset({"*CLS", "*OPC", "*WAI", "*TRG", "*ESE", "*SRE", "*IDN"})
_EDGES = frozenset({
    "PULS:TRAN", "PULS:TRAN:TRA", "PULS:TRAN:LEAD", "FUNC:PULS:TRAN", "FUNC:PULS:TRAN:LEAD",
    "FUNC:PULS:TRAN:TRA", "FUNC:PULS:TRAN:BOTH",
})


def load_factor(load_ohm: float | None) -> float | None:
    """Voltage at a high-impedance cell per programmed volt: ``(R + 50) / R`` for a load
    setting R (2 at 50 ohm), 1 for high impedance; None if the load is unknown."""
    if load_ohm is None:
        return None
    if load_ohm >= HIGH_Z_LOAD_OHM:
        return 1.0
    return (load_ohm + 50.0) / load_ohm


#: the largest volts at a high-impedance cell per programmed volt: a 1 ohm load setting
_WORST_LOAD_FACTOR = (1.0 + 50.0) / 1.0


def _window_factor(load_ohm: float) -> float:
    """The generators' level ranges scale with ``2R/(R+50)`` (their specs are into 50 ohm)."""
    if math.isinf(load_ohm) or load_ohm >= 1e30:
        return 2.0
    return 2.0 * load_ohm / (load_ohm + 50.0)


#: how a generator output whose levels the guard does not know comes back (named in refusals)
_BENCH_STATE_REMEDY = (
    "bring the generator to a known state with its driver's restore_bench_state() (*RST, "
    "then every output's high-impedance load and limit window again, through the guard)")
_RESET_REMEDY = ("set the other level first; with both levels (or the limit window) unknown, "
                 + _BENCH_STATE_REMEDY)

#: a reset sets 100 mVpp around 0 V, 50 ohm, 1 us period, 100 ns width, 5 ns edges
_RESET_SHADOW = {"high": 0.05, "low": -0.05, "width": 100e-9, "period": 1e-6, "shape": None,
                 "load": 50.0, "output": False, "lim_high": None, "lim_low": None,
                 "lim_on": False, "lead": 5e-9, "trail": 5e-9, "hold": "WIDT"}
_EDGE_PERIOD = 1.6  # period >= width + 1.6 (lead + trail) leaves every model's rule slack
_EDGE_TO_WIDTH = 0.625  # an edge at most 0.625 x the width


class PulseGeneratorRules:
    """Guard rules of the Keysight 81160A and 33500B pulse generators (default-deny).

    Tracked per channel: levels, load, shape, width, period, edges, width hold, limit window
    and output. A level is set only when the other level is known and the pair is one the
    instrument takes as sent (amplitude and window within its ranges at the load): a
    generator clips a level against the other one, which could move it past a limit.
    ``VOLT:HIGH``/``VOLT:LOW``/amplitude/offset are checked as the voltage at a
    high-impedance cell, the programmed level times ``(R + 50)/R`` for a load setting R (x2 at
    the 50 ohm default). A load change needs the output off. Only the pulse shape may be
    output (a square wave's width is its duty cycle times its period, DC has none), with a
    checked width that the instrument will not adjust: ``width + 1.6 (lead + trail) <=
    period``, edges at most 0.625 x width. ``VOLT:LIM:HIGH/LOW`` (the instrument's own window,
    which clamps later levels) are checked like levels; with the window on, levels must lie
    inside it. Duty-cycle settings and holds, coupling, tracking, combining, recalled setups,
    ``APPLy``, source impedance and everything not listed are refused. Until a ``*RST`` makes
    the state known, levels and timing cannot be set.

    :param amplitude_min_v, amplitude_max_v, window_v: the model's level ranges into 50 ohm.
    :param reset_timing: width, period and edge time after ``*RST``.
    :param load_rescales_levels: the model keeps the output and rescales the programmed levels
        when the load setting changes (33500B), instead of keeping the levels (81160A).
    :param takes_1mohm_load: the model takes a load setting of 1 MOhm as sent (81160A: up to
        1 MOhm); otherwise numbers stop at 10 kOhm and high impedance is ``INF`` (33500B: it
        clips 1e6 to 10 kOhm, a level 0.5 % higher at the cell). Default: the models that
        keep the levels on a load change.
    """

    default_roles: dict[Hashable, str]

    def __init__(
        self,
        channels: tuple[int, ...] = (1, 2),
        *,
        amplitude_min_v: float = 0.05,
        amplitude_max_v: float = 5.0,
        window_v: float = 5.0,
        load_rescales_levels: bool = False,
        reset_timing: tuple[float, float, float] = (100e-9, 1e-6, 5e-9),
        takes_1mohm_load: bool | None = None,
    ) -> None:
        self.default_roles = {channel: "program" for channel in channels}
        self.takes_1mohm_load = (not load_rescales_levels if takes_1mohm_load is None
                                 else takes_1mohm_load)
        self.amplitude_min_v = amplitude_min_v
        self.amplitude_max_v = amplitude_max_v
        self.window_v = window_v
        self.load_rescales_levels = load_rescales_levels
        width, period, edge = reset_timing
        self.reset_shadow = {**_RESET_SHADOW, "width": width, "period": period, "lead": edge,
                             "trail": edge}

    def initial_state(self) -> dict[Hashable, Any]:
        return {channel: self._unknown() for channel in self.default_roles}

    def least_amplitude_v(self, load_ohm: float) -> float:
        """The smallest ``high - low`` the guard lets through at a load setting (the model's
        minimum amplitude there, with 5 % margin: a smaller one the instrument adjusts)."""
        return 1.05 * self.amplitude_min_v * _window_factor(load_ohm)

    def takes_load(self, load_ohm: float) -> bool:
        """Whether a numeric load setting is one the model takes as sent (1 ohm..10 kOhm,
        1 MOhm where the model has it; ``INF`` is always high impedance)."""
        return (1.0 <= load_ohm <= 1e4 or load_ohm >= 1e30
                or (load_ohm == 1e6 and self.takes_1mohm_load))

    #: a guard with these rules guards a pulse generator (whatever the bench calls its model)
    pulse_generator = True

    def restate(
        self, guard: SafetyGuard, channel: Hashable, shadow: dict[str, Any],
        read: Any,
    ) -> list[tuple[str, float]]:
        """How to make an output's levels known again after something outside the guard set
        them (an SMU script over TSP-Net): the level the generator holds (``read`` queries
        it), moved away from the known other level to the least amplitude the guard takes
        where it is closer (the generator raised a smaller amplitude itself). A level is
        taken only with the other one known (the generator clips one against the other).

        :returns: ``[(driver property, value)]`` to send through the guard (none if known).
        :raises KnownStateNeededError: with both levels or the limit window state unknown.
        :raises UncheckedCommandError: with the load unknown (set it first, output off).
        """
        high, low = shadow["high"], shadow["low"]
        if (high is None and low is None) or shadow["lim_on"] is None:
            raise KnownStateNeededError(
                f"{'both levels' if shadow['lim_on'] is not None else 'the limit window'} of "
                f"generator output {channel} are unknown (set behind the guard): "
                + _BENCH_STATE_REMEDY)
        if high is not None and low is not None:
            return []
        if shadow["load"] is None:
            raise UncheckedCommandError(
                f"the load of generator output {channel} is unknown: switch the output off "
                "and set the load before restating its levels")
        least = 1.001 * self.least_amplitude_v(shadow["load"])
        if high is None:
            return [("voltage_high", max(float(read("voltage_high")), low + least))]
        return [("voltage_low", min(float(read("voltage_low")), high - least))]

    @staticmethod
    def _unknown() -> dict[str, Any]:
        return {key: None for key in _RESET_SHADOW}

    def applied_voltages(self, state: dict[Hashable, Any], channel: Hashable) -> list[float]:
        shadow = state[channel]
        # an unknown load (e.g. forgotten after an SMU script set it over TSP-Net) may be any
        # setting the guard takes: the largest factor, that of 1 ohm (51)
        factor = load_factor(shadow["load"]) or _WORST_LOAD_FACTOR
        return [shadow[key] * factor for key in ("high", "low", "lim_high", "lim_low")
                if shadow[key] is not None]

    def check(self, guard: SafetyGuard, message: str, state: dict[Hashable, Any]) -> None:
        for command in scpi_commands(guard, message):
            if command.common:
                name = command.nodes[0]
                if command.query or name in _GENERATOR_COMMON:
                    continue
                if name == "*RST":
                    for channel in state:
                        state[channel] = dict(self.reset_shadow)
                    continue
                raise guard.refuse(command.text, f"{name} cannot be checked against the limits")
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
            if command.tokens and token_switch(command.tokens[-1]) is False:
                return
            raise guard.refuse(command.text, "channel coupling/combining cannot be checked")
        if header in _GENERATOR_HARMLESS:
            return
        if head == "VOLT":
            self._check_levels(guard, command, state)
        elif header in _EDGES:
            self._check_edge(guard, command, state)
        elif pulse == "PULS:WIDT":
            shadow = self._channel(guard, command, state)
            width = number_arg(guard, command, 0)
            guard.limits.check_pulse_width(width)
            self._check_timing(guard, command, shadow, width=width)
            shadow["width"] = width
        elif pulse in ("PULS:PER", "FREQ", "PULS:FREQ"):
            shadow = self._channel(guard, command, state)
            value = number_arg(guard, command, 0)
            if value <= 0:
                raise guard.refuse(command.text, "period and frequency must be positive")
            period = value if pulse == "PULS:PER" else 1.0 / value
            if shadow["hold"] != "WIDT":
                raise guard.refuse(command.text, "the width hold is not known to be WIDT, so "
                                   "a period change could change the width")
            self._check_timing(guard, command, shadow, period=period)
            shadow["period"] = period
        elif pulse == "PULS:HOLD":
            if word_arg(guard, command) not in ("WIDT", "WIDTH"):
                raise guard.refuse(command.text, "only width hold (WIDT) keeps the width checked")
            self._channel(guard, command, state)["hold"] = "WIDT"
        elif header == "FUNC":
            shadow = self._channel(guard, command, state)
            shape = word_arg(guard, command)
            shape = _SHAPE_NAMES.get(shape, shape)
            if shadow["output"] is not False and shape != "PULS":
                raise guard.refuse(
                    command.text, "only the pulse shape may be output; switch the output off "
                    "before changing the function"
                )
            shadow["shape"] = shape
        elif head == "APPL":
            shadow = self._channel(guard, command, state)
            factor = load_factor(shadow["load"]) or 1.0
            offset = number_arg(guard, command, 2)
            amplitude = 0.0 if header == "APPL:DC" else number_arg(guard, command, 1)
            guard.check_voltage(command.channel or 1, (abs(offset) + abs(amplitude) / 2) * factor)
            raise guard.refuse(
                command.text, "APPLy switches the output on with instrument-chosen settings; "
                "set the shape, levels and width one by one"
            )
        elif head == "OUTP":
            self._check_output(guard, command, state)
        else:
            raise guard.refuse(command.text, "not a command the guard knows how to check")

    def _check_timing(
        self, guard: SafetyGuard, command: ScpiCommand, shadow: dict[str, Any],
        width: float | None = None, period: float | None = None,
        lead: float | None = None, trail: float | None = None,
    ) -> None:
        """Refuse timing the instrument would adjust (it would clip the width)."""
        width = shadow["width"] if width is None else width
        period = shadow["period"] if period is None else period
        lead = shadow["lead"] if lead is None else lead
        trail = shadow["trail"] if trail is None else trail
        if None in (width, period, lead, trail):
            raise guard.refuse(command.text, "the pulse timing is not known (reset first)")
        if width + _EDGE_PERIOD * (lead + trail) > period:
            raise guard.refuse(
                command.text, f"width {width:g} s + edges does not fit the period {period:g} s "
                "(the instrument would adjust the width)"
            )
        if max(lead, trail) > _EDGE_TO_WIDTH * width:
            raise guard.refuse(command.text, "edges longer than 0.625 x the width")

    def _check_edge(self, guard: SafetyGuard, command: ScpiCommand, state: dict) -> None:
        shadow = self._channel(guard, command, state)
        edge = number_arg(guard, command, 0)
        if not 0 < edge <= guard.limits.max_pulse_width_s:
            raise guard.refuse(command.text, f"edge {edge:g} s is not within the pulse widths")
        header = command.header
        trailing = header.endswith(("TRA", "BOTH"))
        leading = not header.endswith("TRA")
        lead = max(shadow["lead"] or 0.0, edge) if leading else None
        # with the trailing edge coupled, a leading edge sets both: keep an upper bound
        trail = max(shadow["trail"] or 0.0, edge)
        self._check_timing(guard, command, shadow, lead=lead, trail=trail)
        if leading:
            shadow["lead"] = lead
        if trailing or leading:
            shadow["trail"] = trail

    def _check_levels(self, guard: SafetyGuard, command: ScpiCommand, state: dict) -> None:
        header = command.header
        shadow = self._channel(guard, command, state)
        channel = command.channel or 1
        factor = load_factor(shadow["load"]) or 1.0
        if header in ("VOLT:LIM:HIGH", "VOLT:LIM:LOW"):
            value = number_arg(guard, command, 0)
            guard.check_voltage(channel, value * factor)
            if shadow["lim_on"] is not False:
                raise guard.refuse(command.text, "change the limit window with it switched off")
            shadow["lim_high" if header.endswith("HIGH") else "lim_low"] = value
            return
        if header == "VOLT:LIM":
            on = switch_arg(guard, command)
            if on:
                lim_high, lim_low = shadow["lim_high"], shadow["lim_low"]
                high, low = shadow["high"], shadow["low"]
                if lim_high is None or lim_low is None or high is None or low is None:
                    raise guard.refuse(command.text, "set both limit levels before enabling them")
                if not lim_low <= low < high <= lim_high:
                    raise guard.refuse(command.text, "the levels lie outside the limit window "
                                       "(the instrument would move them)")
            shadow["lim_on"] = on
            return
        if header == "VOLT:UNIT":
            if word_arg(guard, command) != "VPP":
                raise guard.refuse(command.text, "levels are checked in VPP only")
            return
        value = number_arg(guard, command, 0)
        if header in ("VOLT:HIGH", "VOLT:LOW"):
            guard.check_voltage(channel, value * factor)
        high, low = shadow["high"], shadow["low"]
        # a level replaces its own old value (clipped only against the other level): for
        # VOLT:HIGH/LOW only the other one must be known; amplitude and offset need both
        needs = (low,) if header == "VOLT:HIGH" else (high,) if header == "VOLT:LOW" else (
            high, low)
        if shadow["load"] is None:
            raise guard.refuse(
                command.text, f"the load of channel {channel} is unknown, so the volts at the "
                "cell are not known; switch the output off and set the load first")
        if None in needs or shadow["lim_on"] is None:
            unknown = ("the limit window" if shadow["lim_on"] is None
                       else "the other level" if len(needs) == 1 else "a level")
            raise guard.refuse(
                command.text, f"{unknown} of channel {channel} is unknown, so the instrument "
                f"could adjust this level; {_RESET_REMEDY}")
        if header == "VOLT:HIGH":
            high = value
        elif header == "VOLT:LOW":
            low = value
        elif header in ("VOLT", "VOLT:OFFS"):
            offset, amplitude = (
                ((high + low) / 2.0, value) if header == "VOLT" else (value, high - low)
            )
            high, low = offset + amplitude / 2.0, offset - amplitude / 2.0
        else:
            raise guard.refuse(command.text, "not a level command the guard knows")
        for level in (high, low):
            guard.check_voltage(channel, level * factor)
        scale = _window_factor(shadow["load"])
        window = self.window_v * scale
        amplitude = high - low
        if not (-window <= low and high <= window
                and self.least_amplitude_v(shadow["load"]) <= amplitude
                <= 0.98 * self.amplitude_max_v * scale):
            raise guard.refuse(
                command.text, f"levels {high:g} / {low:g} V are outside what the instrument takes "
                "as sent at this load (it would adjust them)"
            )
        if shadow["lim_on"] and not shadow["lim_low"] <= low < high <= shadow["lim_high"]:
            raise guard.refuse(command.text, "level outside the enabled limit window")
        shadow["high"], shadow["low"] = high, low

    def _check_output(self, guard: SafetyGuard, command: ScpiCommand, state: dict) -> None:
        header = command.header
        shadow = self._channel(guard, command, state)
        if header in ("OUTP:LOAD", "OUTP:IMP:EXT"):
            if shadow["output"] is not False:
                raise guard.refuse(
                    command.text, "a load change with the output on changes the levels at the "
                    "cell; switch the output off first"
                )
            token = command.tokens[0] if command.tokens else None
            if token is not None and token.kind == "chars" and token.value in ("INF", "INFINITY"):
                load = math.inf
            else:
                load = number_arg(guard, command, 0)
                if not self.takes_load(load):
                    raise guard.refuse(command.text, "load outside 1 ohm..10 kohm, "
                                       f"{'1e6 ' if self.takes_1mohm_load else ''}or INF")
            old = shadow["load"]
            if self.load_rescales_levels and shadow["high"] is not None:
                if old is None:
                    shadow["high"] = shadow["low"] = None
                else:
                    ratio = _window_factor(load) / _window_factor(old)
                    shadow["high"] *= ratio
                    shadow["low"] *= ratio
            shadow["load"] = load
            return
        if header not in ("OUTP", "OUTP:COMP"):
            raise guard.refuse(command.text, "not an output command the guard knows")
        if switch_arg(guard, command):
            self._require_output_ready(guard, command, shadow)
            shadow["output"] = True
        elif header == "OUTP":
            shadow["output"] = False

    def _require_output_ready(
        self, guard: SafetyGuard, command: ScpiCommand, shadow: dict[str, Any]
    ) -> None:
        channel = command.channel or 1
        if shadow["high"] is None or shadow["low"] is None:
            raise guard.refuse(
                command.text, f"output on before both levels of channel {channel} were set"
            )
        factor = load_factor(shadow["load"])
        if factor is None:
            raise guard.refuse(
                command.text, f"output on before the load of channel {channel} was set "
                "(the voltage at the cell depends on it)"
            )
        for level in (shadow["high"], shadow["low"]):
            guard.check_voltage(channel, level * factor)
        if shadow["shape"] != "PULS":
            raise guard.refuse(
                command.text, f"output on before the pulse shape was selected on channel "
                f"{channel} (other shapes have no checked width)"
            )
        if shadow["width"] is None:
            raise guard.refuse(
                command.text, f"output on before the pulse width of channel {channel} was set"
            )
        guard.limits.check_pulse_width(shadow["width"])
