"""The pulse generator's guard while an SMU script may still be setting the generator, and
how a generator output whose levels were set behind its guard comes back.

``ftjrowwv`` (run by the 2636B) sets the generator over TSP-Net. If its reply times out the
script may still be running, so whatever the host sets on the generator could be overwritten
behind the guard: the generator's guard holds what the script sets until its end is seen (its
reply, or the 2600B's ``abort`` and an answer after it). What reaches the cells is judged by
the simulated bench (the generator emulator's state and the pulses it drives).
"""

from __future__ import annotations

import inspect

import numpy as np
import pytest
from ftjlab.instruments import _guard_tsp
from ftjlab.instruments._common import InstrumentTimeoutError
from ftjlab.instruments._guard_tsp import MatrixRules, TSPSourceRules
from ftjlab.instruments._guard_tspnet import script_ended
from ftjlab.instruments.keithley2636b_scripts import (
    ROW_PROGRAM_NAME,
    ROW_PROGRAM_SOURCE,
    abort_script,
)
from ftjlab.instruments.keysight81160a import Keysight81160A
from ftjlab.instruments.limits import Limits, LimitViolation, SafetyError
from ftjlab.instruments.routing import Routing
from ftjlab.instruments.safety import SafetyGuard
from ftjlab.instruments.script_registry import RegisteredScript

from ftjlab import pulsing
from ftjlab.controller import ArrayController
from ftjlab.pulsing import PulserOutput
from ftjlab.session import BenchSession

LIMITS = Limits(max_read_voltage_v=0.5, max_sample_voltage_v=1.0, max_program_voltage_v=3.0,
                max_compliance_current_a=1e-3, min_pulse_width_s=1e-8, max_pulse_width_s=1e-3)
COLUMNS = {(1, 1): "WL0", (1, 5): "BL0", (1, 6): "BL1"}
CALL = ('ftjrowwv(2, "pg", 0, {1}, {"a"}, {"1B01"}, {2}, {"1A05","1A06"}, {"1C05","1C06"}, '
        '{"1D05","1D06"}, {1e-8,1e-8}, {1,1}, {1,1}, {1,1}, {0,0}, {0,0}, {0,0}, {0,0}, '
        '{0,0}, {0,0}, {0,0}, {0,0}, {2e-10, 0.05, 2, 5, 0.05, 0.5})')
ONBOARD = ([0], [[0]], [1e-9], [1.0], [1.0], [[0]] * 9, [1e-12, 0.05, 1.0, 1, 0.05, 0.5],
           0.2, 0.01, 1e-6)


def _bench(limits: Limits = LIMITS, model: str = "81160A", rows: dict | None = None,
           setup: bool = True) -> tuple[SafetyGuard, SafetyGuard]:
    routing = Routing(rows or {"A": "smu.a", "B": "smu.b", "C": "pg.1", "D": "pg.2"}, COLUMNS,
                      {"smu": "2636B", "pg": model})
    smu = SafetyGuard(limits, TSPSourceRules(), roles={"a": "read", "b": "program"})
    smu.attach_routing(routing, "smu")
    routing.closed = frozenset()
    smu.check(ROW_PROGRAM_SOURCE)
    pg = SafetyGuard(limits, Keysight81160A.guard_rules)
    pg.attach_routing(routing, "pg")
    if not setup:
        return smu, pg
    pg.check("*RST")
    for n in (1, 2):
        pg.check(f":OUTP{n}:LOAD 1e6;:VOLT{n}:LIM:HIGH 3;:VOLT{n}:LIM:LOW -3;:VOLT{n}:LIM ON;"
                 f":FUNC{n} PULS;:PULS:WIDT{n} 1e-7")
    pg.check(":VOLT1:HIGH 1;:VOLT1:LOW 0;:VOLT2:LOW -1;:VOLT2:HIGH 0;:OUTP1 ON;:OUTP2 ON")
    return smu, pg


# ------------------------------------------------------------------ the hold, at the guards
def test_until_the_call_is_seen_to_end_what_it_sets_cannot_be_set_behind_it():
    smu, pg = _bench()
    smu.check(CALL)  # sent; its reply not read yet (or timed out)
    for text in (":OUTP1 OFF;:OUTP1:LOAD 1e6;:VOLT1:HIGH 2;:OUTP1 ON",  # restating
                 ":OUTP2 OFF;:OUTP2:LOAD 1e6",
                 "*RST"):  # a reset would be overwritten by the script as well
        with pytest.raises(SafetyError, match=r"ftjrowwv\(\) on smu may still be changing"):
            pg.check(text)
    pg.check(":OUTP1 OFF;:OUTP2 OFF")  # off always passes, and stays unknown
    assert [pg.state()[n]["output"] for n in (1, 2)] == [None, None]
    pg.check(":PULS:WIDT1 2e-7")  # what the script does not set stays checkable
    routing = smu.routing
    script_routes = routing.closed
    assert {"1C05", "1D06", "1A05"} <= script_routes  # what it may leave closed
    for text in ('node[2].channel.exclusiveclose("1A06")', 'node[2].channel.close("1A06")'):
        with pytest.raises(SafetyError, match="may still be switching the matrix"):
            smu.check(text)  # its relays and these could move together
    smu.check('node[2].channel.open("allslots")')  # open passes; the script may close again
    matrix = SafetyGuard(LIMITS, MatrixRules())  # the 707B's own connection
    matrix.attach_routing(routing, "mx")
    matrix.check("reset()")
    matrix.check('channel.open("allslots")')
    with pytest.raises(SafetyError, match="may still be switching the matrix"):
        matrix.check('channel.exclusiveclose("1A06")')
    assert routing.closed == script_routes
    with pytest.raises(SafetyError, match=r"may still be switching.*abort_script"):
        smu.check(CALL)  # a second call before the first one's end was seen
    script_ended(smu, ROW_PROGRAM_NAME)
    assert pg.holders == () and routing.running == frozenset()
    pg.check(":OUTP1 OFF;:OUTP1:LOAD 1e6;:VOLT1:HIGH 2;:OUTP1 ON")
    smu.check('node[2].channel.exclusiveclose("1A06")')
    matrix.check('channel.exclusiveclose("1A05")')
    smu.check(CALL)


def test_two_tspnet_calls_in_one_message_are_refused():
    smu, pg = _bench()
    with pytest.raises(SafetyError, match="one script call over TSP-Net per message"):
        smu.check(CALL + " " + CALL)
    assert pg.holders == ()


def test_the_abort_line_passes_the_smu_guard_and_nothing_else_with_it():
    smu, _ = _bench()
    smu.check("abort")
    for text in ("abort()", "abort print(1)", "abort = 1"):
        with pytest.raises(SafetyError):
            smu.check(text)


def test_one_list_of_generator_guards_a_generator_by_its_rules_under_another_model_name():
    # the guard of a generator whose bench model is not one of ours still gets the
    # least-amplitude check of the call (0.1 Vpp at high impedance on an 81160A: above a
    # 0.1 V program limit with its 5 % margin) and the hold
    low = Limits(max_read_voltage_v=0.05, max_sample_voltage_v=0.05, max_program_voltage_v=0.1,
                 max_compliance_current_a=1e-3, min_pulse_width_s=1e-8, max_pulse_width_s=1e-3)
    call = CALL.replace("{2e-10, 0.05, 2, 5, 0.05, 0.5}", "{2e-10, 0.05, 0.1, 5, 0.05, 0.5}")
    call = call.replace("{1,1}, {1,1}, {1,1}", "{0.05,0.05}, {0.05,0.05}, {1,1}")
    smu, pg = _bench(low, model="bench-pg", rows={"A": "smu.a", "B": "smu.b"}, setup=False)
    assert [name for name, _ in smu.routing.pulse_generator_guards()] == ["pg"]
    with pytest.raises(LimitViolation):
        smu.check(call)
    smu, pg = _bench(model="bench-pg", rows={"A": "smu.a", "B": "smu.b"})
    smu.check(CALL)
    assert pg.holders == ("ftjrowwv() on smu",)


def test_the_tspnet_search_runs_once_per_script_source():
    class Counting(str):
        searches = 0

        def __contains__(self, item: object) -> bool:
            type(self).searches += 1
            return str.__contains__(self, item)

    uses = RegisteredScript("h2x", Counting("function h2x() tspnet.connect() end"), "", print,
                            "2636B")
    plain = RegisteredScript("h2y", Counting("function h2y() end"), "", print, "2636B")
    assert [_guard_tsp._uses_tspnet(s) for s in (uses, plain, uses, plain, uses)] == [
        True, False, True, False, True]
    assert Counting.searches == 2


# ------------------------------------------------------------- restating, at the guard
def test_the_guard_plans_the_restated_level_from_the_one_the_generator_holds():
    smu, pg = _bench()
    smu.check(CALL)
    script_ended(smu, ROW_PROGRAM_NAME)
    pg.check(":OUTP1 OFF;:OUTP1:LOAD 1e6")
    # the 81160A's least amplitude is 50 mVpp into 50 ohm, x 2R / (R + 50) at a load setting
    # R (about 0.1 Vpp at 1 MOhm), +5 % margin, +0.1 %
    least = 0.05 * 2 * 1e6 / (1e6 + 50) * 1.05 * 1.001
    assert pg.restate(1, {"voltage_high": 0.02}.__getitem__) == [
        ("voltage_high", pytest.approx(least))]
    assert pg.restate(1, {"voltage_high": 1.7}.__getitem__) == [("voltage_high", 1.7)]
    pg.check(f":VOLT1:HIGH {least:.6f}")  # the plan passes the guard
    assert pg.restate(1, {}.__getitem__) == []  # both known: nothing to send


def test_pulsing_code_carries_no_safety_logic():
    source = inspect.getsource(pulsing)
    assert "safety" not in source and "guard.state" not in source
    assert not hasattr(pulsing, "_restate_levels")


# ------------------------------------------------------------------ off is only off
class _Channel:
    high_z_load = "INF"

    def __init__(self, sent: list) -> None:
        object.__setattr__(self, "sent", sent)

    def __setattr__(self, name: str, value: object) -> None:
        self.sent.append((name, value))

    def restate_levels(self) -> bool:
        self.sent.append(("restate", None))
        return False

    def configure_pulse(self, *args: float) -> None:
        self.sent.append(("configure_pulse", args))


class _Generator:
    def __init__(self) -> None:
        self.sent: list = []
        self.ch_1 = _Channel(self.sent)


def test_off_on_a_channel_set_behind_the_guard_only_switches_it_off():
    pg = _Generator()
    out = PulserOutput(pg, 1)
    out.pulses(0.5, 1e-6, 4e-6)
    out.on()
    out.levels_unknown()  # an on-board program set the generator (the output may be on)
    pg.sent.clear()
    out.off()
    out.off()
    assert pg.sent == [("output", False)]
    pg.sent.clear()
    out.on()  # prepared and restated before it goes on
    assert ("restate", None) in pg.sent and pg.sent[-1] == ("output", True)
    fresh = PulserOutput(_Generator(), 1)
    fresh.off()  # never prepared, never on: nothing to send
    assert fresh.pg.sent == []


# ------------------------------------------------------------------ on the simulated bench
@pytest.fixture
def bench():
    session = BenchSession.open(None, seed=3)
    try:
        yield session, ArrayController(session)
    finally:
        session.close()


def _times_out(driver, monkeypatch, times: int | None) -> list[str]:
    """The driver's next ``times`` reads (None: every read, raw bytes too) time out;
    returns what it writes from now on."""
    written: list[str] = []
    read, write = driver.read, driver.write
    left = [times]

    def late_read(*args, **kwargs):
        if left[0] is None or left[0] > 0:
            if left[0] is not None:
                left[0] -= 1
            raise InstrumentTimeoutError("no reply within 0 ms (injected)")
        return read(*args, **kwargs)

    if times is None:
        monkeypatch.setattr(driver, "read_bytes", late_read)

    def spy_write(command, *args, **kwargs):
        written.append(command)
        return write(command, *args, **kwargs)

    monkeypatch.setattr(driver, "read", late_read)
    monkeypatch.setattr(driver, "write", spy_write)
    return written


def test_a_timed_out_row_program_is_aborted_then_its_outputs_restate(bench, monkeypatch):
    session, c = bench
    smu = c.read.driver
    written = _times_out(smu, monkeypatch, times=1)
    with pytest.raises(InstrumentTimeoutError):
        c.program_rows_onboard(*ONBOARD)
    call = next(i for i, w in enumerate(written) if w.startswith(ROW_PROGRAM_NAME))
    assert written[call + 1] == "abort" and written[call + 2].startswith('print("ftjabort')
    assert c.pg.safety.holders == ()  # the SMU answered after the abort (late reply skipped)
    seen: list[tuple[str, float]] = []
    original = session.sim.pulse

    def spy(terminal, high_v, low_v, width_s, period_s, count):
        seen.append((terminal, round(high_v, 6)))
        return original(terminal, high_v, low_v, width_s, period_s, count)

    monkeypatch.setattr(session.sim, "pulse", spy)
    c.pulse_pair(1, [2], 0.6, [3], -0.7, 1e-6)
    assert seen == [(f"{c.pg_name}.1", 0.6), (f"{c.pg_name}.2", -0.7)]


def test_without_an_answer_after_the_abort_the_generator_stays_refused(bench, monkeypatch):
    session, c = bench
    smu = c.read.driver
    _times_out(smu, monkeypatch, times=None)
    with pytest.raises(InstrumentTimeoutError) as info:
        c.program_rows_onboard(*ONBOARD)
    assert "abort_script" in " ".join(getattr(info.value, "__notes__", []))
    pg = c.pg
    assert pg.safety.holders == ("ftjrowwv() on smu",)
    for attempt in (lambda: setattr(pg.ch_1, "voltage_high", 1.0),
                    lambda: pg.write(":OUTP1 OFF;:OUTP1:LOAD 1e6;:VOLT1:HIGH 1"),
                    lambda: pg.write("*RST"),
                    lambda: c.matrix.exclusive_close(c._xp("read", "BL", [5])),
                    lambda: c.apply_pulses([1], [5], 0.6, 1e-6)):
        with pytest.raises(SafetyError, match=r"may still be (changing|switching)"):
            attempt()
    pg.ch_1.output = False  # off always passes
    pg.ch_2.output = False
    assert [ch.output for ch in session.emulators[c.pg_name].ch] == [False, False]
    monkeypatch.undo()  # the SMU answers again
    abort_script(smu)
    assert pg.safety.holders == ()
    c.apply_pulses([1], [5], 0.6, 1e-6)


def test_both_levels_unknown_bring_the_generator_to_the_bench_state(bench):
    session, c = bench
    pg, emulator = c.pg, session.emulators[c.pg_name]
    out1, out2 = PulserOutput(pg, 1), PulserOutput(pg, 2)
    out2.pulses(-0.5, 1e-6, 4e-6)
    # something behind the guard set both levels and the load of output 1
    pg.safety.forget({1: ("high", "low", "load", "output")})
    emulator.write(":VOLT1:HIGH 0.4;:VOLT1:LOW 0.2")
    with pytest.raises(SafetyError, match="set the load first"):
        pg.ch_1.voltage_high = 0.6  # by hand: each error names the way on
    pg.ch_1.output = False
    pg.ch_1.output_load = 1e6
    with pytest.raises(SafetyError, match=r"both levels .*restore_bench_state\(\)"):
        pg.ch_1.voltage_high = 0.6
    out1.levels_unknown()
    out1.pulses(0.6, 1e-6, 4e-6)  # prepared: the generator is reset to the bench state
    out2.pulses(-0.5, 1e-6, 4e-6)  # the reset voided output 2's set-up: set again
    program_v = session.limits.max_program_voltage_v
    for ch, (high, low) in zip(emulator.ch, ((0.6, 0.0), (0.0, -0.5)), strict=True):
        assert (ch.load, ch.high, ch.low) == (1e6, pytest.approx(high), pytest.approx(low))
        assert (ch.limit_high, ch.limit_low, ch.limit_on) == (program_v, -program_v, True)
    shadow = pg.safety.state()
    assert [(shadow[n]["high"], shadow[n]["low"]) for n in (1, 2)] == [(0.6, 0.0), (0.0, -0.5)]
    assert np.isfinite(c.read_map(volts=0.2, nplc=0.01)).all()


def test_over_tcp_a_late_row_program_reply_is_skipped_after_the_abort(tcp_bench,
                                                                      slow_replies_from):
    """Through the sim-server and pyvisa-py: the SMU's reply to ftjrowwv comes after the
    VISA timeout (the server goes on executing meanwhile); the abort's marker is read past
    the late reply, the generator's guard ends its hold, and host pulses land as asked."""
    with tcp_bench(seed=7, timeout_ms=1000) as (server, c):
        faults = server.emulators["smu"].faults
        slow_replies_from(c.read, "program_row", faults, 1.5)  # its reply on
        with pytest.raises(InstrumentTimeoutError):
            c.program_rows_onboard(*ONBOARD)
        faults.clear()
        assert c.pg.safety.holders == () and c.pg.safety.routing.running == frozenset()
        c.pulse_pair(1, [2], 0.6, [3], -0.7, 1e-6)
        pg = server.emulators[c.pg_name]
        assert [(round(ch.high, 6), round(ch.low, 6)) for ch in pg.ch] == [(0.6, 0.0),
                                                                           (0.0, -0.7)]
        assert float(c.read.driver.ask("print(1)")) == 1  # nothing left over
