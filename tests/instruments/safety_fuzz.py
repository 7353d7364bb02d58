"""Adversarial command forms for the safety guards, and a judge that reads the emulators.

The forms are generated from templates with numpy (vectorised choices of targets, values,
number spellings, comments, separators and control characters); the judge never asks the
guard: it reads what the emulated instruments hold and what the simulated array saw (every
``Bench.source`` and ``Bench.pulse`` call is recorded), and compares it with the bench limits.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

# ----------------------------------------------------------------------------- spellings


def spell(rng: np.random.Generator, values: np.ndarray, lua: bool) -> list[str]:
    """Number spellings, some of which the other side reads differently (or not at all)."""
    kinds = rng.integers(0, 14, values.size)
    out = []
    for v, k in zip(values.tolist(), kinds.tolist(), strict=True):
        if k == 0:
            out.append(f"{v:g}")
        elif k == 1:
            out.append(f"{v:e}")
        elif k == 2:
            out.append(f"{v:.3E}")
        elif k == 3:
            out.append(f"{v}" + ("." if float(v).is_integer() and "e" not in f"{v}" else ""))
        elif k == 4:
            out.append(f"{v * 1000:g}m" if not lua else f"{v:g}--[[x]]")
        elif k == 5:
            out.append(f"{v:g}V" if not lua else f"({v:g})")
        elif k == 6:
            out.append(f"#H{int(abs(v)):X}" if not lua else f"0x{int(abs(v)):x}")
        elif k == 7:
            out.append(f" {v:g} ")
        elif k == 8:
            out.append(f"{v / 10:g}e1")
        elif k == 9:
            out.append(f"{v:g} --[==[ ]==] * 10" if lua else f"{v:g}E+0")
        elif k == 10:
            out.append(f"0.1 --[[\n]] * {v:g}" if lua else f"{v * 1e3:g} MV")
        elif k == 11:
            out.append(f"- {abs(v):g}" if lua else f"+{v:g}")
        elif k == 12:
            out.append(f"{v:g}\x00" if not lua else f"{v:g};;")
        else:
            out.append("MAX" if not lua else "1/0")
    return out


_CONTROL = ["\x01", "\x00", "\x0b", "\x0c", "\x1f", "\r", "\t", "\x7f", "\u00a0"]
_LUA_INJECT = [
    "--[[x]]",
    "--[==[x]==]",
    " ",
    "\t",
    "--[[ [[ ]] ]]",
    "--\n",
    "\r",
    "\x0b",
    "--[=[\n]=]",
    "  --[[]]  ",
]

# ---------------------------------------------------------------------------------- TSP

_TSP_TARGETS = [
    "smu{c}.source.levelv",
    "smu{c}.source.limitv",
    "smu{c}.source.leveli",
    "smu{c}.source.limiti",
    "smu{c}.source.offlimiti",
    "smu{c}.trigger.source.limitv",
    "smu{c}.trigger.source.limiti",
    "smu{c}.source.rangev",
    "smu{c}.measure.nplc",
]
_TSP_WHOLE = [
    'print("(") smu{c}.source.levelv, x_ = {v}, 1',
    "s = smu{c}.source s.levelv = {v}",
    "local k = smu{c} k.source.levelv = {v}",
    'smu{c}["source"]["levelv"] = {v}',
    'smu{c}.source["levelv"] = {v}',
    "smu{c}.source.--[[x]]levelv = {v}",
    "smu{c}.source.levelv = 0.1 --[==[ ]==] * {v}*10",
    'print("reset()") smu{c}.source.levelv = {v}',
    "smu{c}.source.levelv = 0.1\n{v}",
    "smu{c}.source.levelv = 0.1\r\nsmu{c}.source.levelv = {v}",
    "smu{c}.source.func = 0 smu{c}.source.output = 1",
    "smu{c}.source.func = smu{c}.OUTPUT_DCAMPS",
    "smu{c}.source.leveli = 1e-6 smu{c}.source.func = 0",
    "smu{c}.source.limitv = {v} smu{c}.source.func = 0",
    "smu{c}.trigger.source.listv({{0.1, {v}}}) smu{c}.trigger.initiate()",
    "smu{c}.trigger.source.linearv(0, {v}, 3) smu{c}.trigger.initiate()",
    "smu{c}.trigger.source.lineari(0, 1e-6, 3) smu{c}.trigger.initiate()",
    "function f() smu{c}.source.levelv = {v} end f()",
    "for i = 1, 1 do smu{c}.source.levelv = {v} end",
    "if true then smu{c}.source.levelv = {v} end",
    "loadscript x\nsmu{c}.source.levelv = {v}\nendscript",
    "loadandrunscript\nsmu{c}.source.levelv = {v}\nendscript",
    "x = smu{c}.source.levelv smu{c}.source.levelv = x + {v}",
    "smu{c}.source.levelv = [[{v}]]",
    "smu{c}.source.levelv = tonumber('{v}')",
    "node[2].smu{c}.source.levelv = {v}",
    "setup.recall(1) smu{c}.source.output = 1",
    "smu{c}.source.limiti = 1e-13 smu{c}.source.output = 1",
    "smu{c}.source.offlimiti = {v}",
    "smu{c}.source.levelv = 0.1;; smu{c}.source.levelv = {v}",
    "smu{c}.source.levelv = 0.1 ; smu{c}.source.output = 1",
    "*RST\nsmu{c}.source.levelv = {v}",
    "abort smu{c}.source.levelv = {v}",
    'smu{c}.source.levelv = "{v}"',
    "smu{c}.source.levelv = {v} --\\\n* 2",
    "smu{c}.source.output = smu{c}.OUTPUT_ON",
]
_TSP_PRIME = [
    "reset()",
    "smua.source.levelv = 0.2",
    "smua.source.limiti = 1e-4",
    "smua.source.output = 1",
    "smub.source.levelv = 1.5",
    "smub.source.limiti = 1e-4",
    "smub.source.output = 1",
]
_ROWS = "ABCD"
_LINES = ["01", "05", "12"]


def tsp_forms(rng: np.random.Generator, n: int) -> list[str]:
    """``n`` TSP messages (2636B): assignments with spelled values and injected comments,
    whole-statement attacks, matrix switching over TSP-Link, and priming sequences."""
    kinds = rng.integers(0, 10, n)
    values = rng.choice(
        [5.0, 0.31, 0.9, 1.3, 4.6, 20.0, 200.0, -5.0, 0.2, 0.1, 1e-3, 2e-3, 0.1, 1.5, 1e-6, -0.25],
        n,
    )
    spelled = spell(rng, values, lua=True)
    chans = rng.choice(["a", "b"], n)
    targets = rng.integers(0, len(_TSP_TARGETS), n)
    wholes = rng.integers(0, len(_TSP_WHOLE), n)
    injects = rng.integers(0, len(_LUA_INJECT), n)
    controls = rng.integers(0, len(_CONTROL), n)
    forms = []
    for i in range(n):
        c, v, k = chans[i], spelled[i], kinds[i]
        if k <= 2:
            forms.append(_TSP_TARGETS[targets[i]].format(c=c) + " = " + v)
        elif k == 3:
            target = _TSP_TARGETS[targets[i]].format(c=c)
            cut = int(rng.integers(1, len(target)))
            forms.append(target[:cut] + _LUA_INJECT[injects[i]] + target[cut:] + " = " + v)
        elif k == 4:
            target = _TSP_TARGETS[targets[i]].format(c=c)
            forms.append(target + " =" + _CONTROL[controls[i]] + v)
        elif k <= 6:
            forms.append(_TSP_WHOLE[wholes[i]].format(c=c, v=v))
        elif k == 7:
            op = rng.choice(["close", "exclusiveclose", "open"])
            slot = rng.choice(["1", "4", "5"])
            items = ",".join(
                f"{slot}{rng.choice(list(_ROWS))}{rng.choice(_LINES)}"
                for _ in range(int(rng.integers(1, 4)))
            )
            forms.append(f"node[2].channel.{op}('{items}')")
        else:
            forms.append(_TSP_PRIME[int(rng.integers(0, len(_TSP_PRIME)))])
    return forms


def matrix_forms(rng: np.random.Generator, n: int) -> list[str]:
    """``n`` 707B messages: switching lists in every spelling, slot and range forms."""
    out = []
    for _ in range(n):
        op = rng.choice(["close", "exclusiveclose", "open", "close", "exclusiveclose"])
        slot = rng.choice(["1", "3", "4", "6"])
        k = int(rng.integers(0, 6))
        if k == 0:
            items = f"slot{slot}"
        elif k == 1:
            items = f"{slot}A01:{slot}D03"
        elif k == 2:
            items = "allslots"
        else:
            items = ";".join(
                f"{slot}{rng.choice(list('ABCDabcd'))}{rng.choice(_LINES)}"
                for _ in range(int(rng.integers(1, 4)))
            )
        quote = rng.choice(['"', "'"])
        wrap = rng.choice(["{x}", " {x} ", "{x}--[[c]]", "{x}\x01"])
        out.append(wrap.format(x=f"channel.{op}({quote}{items}{quote})"))
    return out


# --------------------------------------------------------------------------------- SCPI

_GEN_HEADERS_81160A = [
    ":VOLT{n}:HIGH",
    ":SOUR:VOLT{n}:HIGH",
    ":VOLTage{n}:HIGH",
    ":volt{n}:high",
    ":VOLT{n}:LEV:IMM:HIGH",
    ":VOLT{n}:LOW",
    ":VOLT{n}",
    ":VOLT{n}:OFFS",
    ":VOLT{n}:LIM:HIGH",
    ":VOLT{n}:LIM:LOW",
    ":PULS:WIDT{n}",
    ":PULS:PER{n}",
    ":FREQ{n}",
    ":PULS:TRAN{n}",
    ":PULS:DCYC{n}",
    ":PULSe:WIDTh{n}",
    ":FUNC{n}:PULS:WIDT",
    ":OUTP{n}:LOAD",
    ":APPL{n}:PULS 1000,{v},",
    ":VOLT{n}:LIMit:STATe",
]
_GEN_HEADERS_33500B = [
    "SOUR{n}:VOLT:HIGH",
    "SOURce{n}:VOLTage:HIGH",
    "SOUR{n}:VOLT:LOW",
    "SOUR{n}:VOLT",
    "SOUR{n}:VOLT:OFFS",
    "SOUR{n}:FUNC:PULS:WIDT",
    "SOUR{n}:FUNC:PULS:PER",
    "SOUR{n}:FUNC:SQU:DCYC",
    "SOUR{n}:FUNC:PULS:DCYC",
    "OUTP{n}:LOAD",
    "SOUR{n}:FREQ",
    "SOUR{n}:VOLT:LIM:HIGH",
    "SOUR{n}:FUNC:PULS:TRAN:LEAD",
    "SOUR{n}:APPL:PULS 1000,{v},",
]
_GEN_WORDS = [
    ":FUNC{n} SQU",
    ":FUNC{n} DC",
    ":FUNC{n} PULS",
    ":OUTP{n} ON",
    ":OUTP{n} 1",
    ":OUTP{n}:LOAD INF",
    ":OUTP{n}:LOAD 50",
    ":PULS:HOLD{n} DCYC",
    ":OUTP{n}:COMP ON",
    ":VOLT{n}:LIM:STAT ON",
    ":VOLT{n}:LIM:STAT OFF",
    ":TRAC:CHAN1 ON",
    "*RCL 1",
    "*RST",
    ":OUTP{n}:IMP 5",
    ":VOLT{n}:UNIT VRMS",
    ":OUTP{n} OFF",
]
_GEN_WORDS_33500B = [
    "SOUR{n}:FUNC SQU",
    "SOUR{n}:FUNC DC",
    "SOUR{n}:FUNC PULS",
    "OUTP{n} ON",
    "OUTP{n} 1",
    "OUTP{n}:LOAD INF",
    "OUTP{n}:LOAD 50",
    "SOUR{n}:FUNC:PULS:HOLD DCYC",
    "SOUR{n}:TRAC INV",
    "SOUR{n}:COMB:FEED CH2",
    "SOUR{n}:VOLT:LIM:STAT ON",
    "*RST",
    "OUTP{n} OFF",
    "SOUR{n}:BURS:MODE GAT",
    "SOUR{n}:AM:STAT ON",
    "SOUR{n}:SWE:STAT ON",
]
_SMU_HEADERS_2450 = [
    ":SOUR:VOLT",
    ":SOURce:VOLTage:LEVel:IMMediate:AMPLitude",
    ":SOUR:VOLT:LEV",
    ":SOUR:CURR",
    ":SOUR:CURR:VLIM",
    ":SOUR:VOLT:ILIM",
    ":SOUR:SWE:VOLT:LIN 0,{v},3,0.01;:INIT",
    ":SOUR:SWE:CURR:LIN 0,1e-6,3,0.01;:INIT",
    ":SOUR:LIST:VOLT 0.1,{v}",
    ":SOUR:VOLT:RANG",
    ":sour:volt",
    "SOUR:VOLT",
]
_SMU_WORDS_2450 = [
    ":SOUR:FUNC CURR",
    ":SOUR:FUNC VOLT",
    ":OUTP ON",
    ":OUTP 1",
    ":SOUR:VOLT:PROT NONE",
    ":SOUR:VOLT:PROT PROT200",
    "*RCL 1",
    ':TRIG:LOAD "ConfigList","x"',
    ":INIT",
    "*RST",
    ":TRIG:BLOC:SOUR:STAT 3, ON",
    ":SOUR:FUNC CURR;:OUTP ON",
    ":OUTP OFF",
]
_PREFIXES = [
    "",
    "",
    "",
    "*CLS #1;",
    "*CLS;",
    ":TRIG:COUN 1\n",
    "*CLS #15abcd;",
    "\r\n",
    "*CLS #0;",
    "*CLS '",
    ":ABOR;",
]
_SEPARATORS = [";", ";:", "\n", "\r\n", " ; ", ";\x01", "\n\n"]


def scpi_forms(rng: np.random.Generator, n: int, model: str, channels: int = 2) -> list[str]:
    """``n`` SCPI messages for ``model`` ("81160A", "33500B", "2450")."""
    if model == "81160A":
        headers, words = _GEN_HEADERS_81160A, _GEN_WORDS
    elif model == "33500B":
        headers, words = _GEN_HEADERS_33500B, _GEN_WORDS_33500B
    else:
        headers, words = _SMU_HEADERS_2450, _SMU_WORDS_2450
    values = rng.choice(
        [
            9.0,
            4.6,
            5.0,
            2.3,
            2.0,
            1.0,
            0.5,
            0.31,
            0.2,
            -5.0,
            1e-9,
            50.0,
            5e-9,
            1e-6,
            100.0,
            1e-2,
            0.1,
            21.0,
        ],
        n,
    )
    spelled = spell(rng, values, lua=False)
    kinds = rng.integers(0, 8, n)
    chans = rng.integers(1, channels + 1, n)
    out = []
    for i in range(n):
        ch, v, k = int(chans[i]), spelled[i], int(kinds[i])
        units = []
        for _ in range(int(rng.integers(1, 4))):
            if k <= 3:
                h = headers[int(rng.integers(0, len(headers)))].format(n=ch, v=v)
                ws = _CONTROL[int(rng.integers(0, len(_CONTROL)))] if k == 3 else " "
                units.append(
                    h
                    + ("" if h.endswith((",", "INIT")) else ws)
                    + (v if not h.endswith("INIT") else "")
                )
            else:
                units.append(words[int(rng.integers(0, len(words)))].format(n=ch))
        sep = _SEPARATORS[int(rng.integers(0, len(_SEPARATORS)))]
        prefix = _PREFIXES[int(rng.integers(0, len(_PREFIXES)))]
        out.append(prefix + sep.join(units))
    return out


GEN_PRIME_81160A = [
    "*RST",
    ":OUTP1:LOAD 1e+06",
    ":FUNC1 PULS",
    ":VOLT1:HIGH 2",
    ":VOLT1:LOW 0",
    ":PULS:WIDT1 1e-06",
    ":OUTP1 ON",
]
GEN_PRIME_33500B = [
    "*RST",
    "OUTP1:LOAD INF",
    "SOUR1:FUNC PULS",
    "SOUR1:VOLT:HIGH 2",
    "SOUR1:VOLT:LOW 0",
    "SOUR1:FUNC:PULS:WIDT 1e-05",
    "OUTP1 ON",
]
SMU_PRIME_2450 = ["*RST", ":SOUR:VOLT 0.2", ":SOUR:VOLT:ILIM 1e-4", ":OUTP ON"]


# ---------------------------------------------------------------------------------- judge


@dataclass
class Judge:
    """Reads the emulators and the array's record; ``escapes`` lists every value beyond a
    limit that reached them (with the form that was sent just before)."""

    limits: Any
    roles: dict[str, str]  # terminal -> role at the start ("smu.a": "read"...)
    models: dict[str, str]
    rows: dict[str, str]
    columns: dict[tuple[int, int], str]
    escapes: list[str] = field(default_factory=list)
    seen: list[tuple] = field(default_factory=list)
    checks: int = 0
    live: int = 0  # checks with at least one output on (attacks met a live bench)

    def watch(self, bench: Any) -> None:
        """Record every source and pulse call the simulated array receives."""
        source, pulse = bench.source, bench.pulse

        def on_source(terminal: str, volts: float, output_on: bool) -> None:
            if output_on:
                self.seen.append(("dc", terminal, float(volts)))
            source(terminal, volts, output_on)

        def on_pulse(terminal, high_v, low_v, width_s, period_s, count) -> None:
            self.seen.append(("pulse", terminal, float(high_v), float(low_v), float(width_s)))
            pulse(terminal, high_v, low_v, width_s, period_s, count)

        bench.source, bench.pulse = on_source, on_pulse

    def _limit(self, terminal: str) -> float:
        return self.limits.max_voltage_v(self.roles.get(terminal, "program"))

    def judge(self, form: str, emulators: dict[str, Any], bench: Any) -> None:
        lim = self.limits
        bad: list[str] = []
        for record in self.seen:
            if record[0] == "dc":
                _, terminal, volts = record
                if abs(volts) > self._limit(terminal) * (1 + 1e-9):
                    bad.append(f"{terminal} sourced {volts:g} V")
            else:
                _, terminal, high, low, width = record
                if max(abs(high), abs(low)) > lim.max_program_voltage_v * (1 + 1e-9):
                    bad.append(f"{terminal} pulsed {high:g}/{low:g} V")
                if not lim.min_pulse_width_s * (1 - 1e-9) <= width <= lim.max_pulse_width_s:
                    bad.append(f"{terminal} pulse width {width:g} s")
        self.seen.clear()
        self.checks += 1
        self.live += any(_output_on(emulator) for emulator in emulators.values())
        for name, emulator in emulators.items():
            bad.extend(self._instrument(name, self.models[name], emulator))
        bad.extend(self._routing(bench))
        if bad:
            self.escapes.append(f"{form!r}: {'; '.join(bad)}")

    def _instrument(self, name: str, model: str, emu: Any) -> Iterable[str]:
        lim = self.limits
        if model == "2636B":
            for ch in ("a", "b"):
                src = getattr(emu, f"smu{ch}").source
                if not src.output:
                    continue
                role_v = self._limit(f"{name}.{ch}")
                if src.func == 1:
                    if abs(src.levelv) > role_v or src.limiti > lim.max_compliance_current_a:
                        yield f"{name}.{ch} on at {src.levelv:g} V, limiti {src.limiti:g} A"
                else:
                    if src.limitv > role_v or abs(src.leveli) > lim.max_compliance_current_a:
                        yield f"{name}.{ch} current source, limitv {src.limitv:g} V"
        elif model in ("81160A", "33500B"):
            for n, c in enumerate(emu.ch, start=1):
                if not c.output:
                    continue
                factor = (c.load + 50.0) / c.load if c.load < 1e5 else 1.0
                peak = max(abs(c.high), abs(c.low)) * factor
                if peak > lim.max_program_voltage_v * (1 + 1e-9):
                    yield f"{name}.{n} on at {c.high:g}/{c.low:g} V into {c.load:g} ohm"
                if c.function != "PULS":
                    yield f"{name}.{n} on with function {c.function}"
                elif not lim.min_pulse_width_s <= c.width <= lim.max_pulse_width_s:
                    yield f"{name}.{n} on with width {c.width:g} s"
        elif model == "2450" and emu.output:
            role_v = self._limit(f"{name}.1")
            if emu.source_function == "VOLT":
                if abs(emu.level["VOLT"]) > role_v or emu.ilim > lim.max_compliance_current_a:
                    yield f"{name} on at {emu.level['VOLT']:g} V, ILIM {emu.ilim:g} A"
            elif emu.vlim > role_v or abs(emu.level["CURR"]) > lim.max_compliance_current_a:
                yield f"{name} current source with VLIM {emu.vlim:g} V"

    def _routing(self, bench: Any) -> Iterable[str]:
        reached: dict[str, str] = {}
        for cp in bench.closed():
            terminal = self.rows.get(cp.row)
            line = self.columns.get((cp.slot, cp.column))
            if terminal is None or line is None:
                continue
            model = self.models.get(terminal.partition(".")[0], "")
            role = self.roles.get(terminal, "program")
            if model in ("81160A", "33500B") and not line.startswith("BL"):
                yield f"pulser {terminal} on {line}"
            if model in ("2636B", "2450"):
                want = "WL" if role == "program" else "BL"
                if not line.startswith(want):
                    yield f"{terminal} ({role}) on {line}"
            if reached.setdefault(line, terminal) != terminal:
                yield f"{line} reached by {reached[line]} and {terminal}"



def session_judge(session: Any) -> Judge:
    """A :class:`Judge` for a running ``BenchSession``: its limits, the guards' present
    roles, the instrument models and the wiring, watching the session's simulated bench."""
    roles = {}
    for name, driver in session.instruments.items():
        guard = getattr(driver, "safety", None)
        if guard is not None:
            for channel in guard.channels:
                roles[f"{name}.{channel}"] = guard.role(channel)
    judge = Judge(
        session.limits,
        roles,
        {n: i.model for n, i in session.config.instruments.items()},
        dict(session.config.wiring.rows),
        dict(session.config.wiring.columns),
    )
    judge.watch(session.sim)
    return judge

def _output_on(emulator: Any) -> bool:
    if any(
        getattr(emulator, f"smu{x}", None) is not None
        and getattr(emulator, f"smu{x}").source.output
        for x in "ab"
    ):
        return True
    if any(channel.output for channel in getattr(emulator, "ch", [])):
        return True
    return getattr(emulator, "output", False) is True


def send_all(
    forms: list[str], write: Callable[[str], None], judge: Callable[[str], None]
) -> tuple[int, int]:
    """Send each form (refusals and instrument errors are expected), judge after each one.

    :returns: (accepted, refused)
    """
    accepted = refused = 0
    for form in forms:
        try:
            write(form)
            accepted += 1
        except Exception:
            refused += 1
        judge(form)
    return accepted, refused
