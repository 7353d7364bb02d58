"""The pulse generator's guard after an SMU script set the generator over TSP-Net.

``ftjrowwv`` (run by the 2636B) sets the generator's loads and levels behind the generator's
own guard. Accepting such a call makes that guard forget what the script may change, so it
refuses output-on and load changes until the host sets them again through it; the array
controller does that before its own pulses. What reaches the cells is judged by the
simulated bench (the pulses the generator emulator drives), not by the guard.
"""

from __future__ import annotations

import re

import numpy as np
import pytest
import safety_fuzz as fz
from ftjlab.instruments._guard_tsp import TSPSourceRules
from ftjlab.instruments._guard_tspnet import generator_effects, script_ended
from ftjlab.instruments.keithley2636b_scripts import ROW_PROGRAM_NAME, ROW_PROGRAM_SOURCE
from ftjlab.instruments.keysight33500b import Keysight33500B
from ftjlab.instruments.keysight81160a import Keysight81160A
from ftjlab.instruments.limits import Limits, LimitViolation, SafetyError
from ftjlab.instruments.routing import Routing
from ftjlab.instruments.safety import SafetyGuard

from ftjlab.controller import ArrayController
from ftjlab.session import BenchSession

LIMITS = Limits(max_read_voltage_v=0.5, max_sample_voltage_v=1.0, max_program_voltage_v=3.0,
                max_compliance_current_a=1e-3, min_pulse_width_s=1e-8, max_pulse_width_s=1e-3)
COLUMNS = {(1, 1): "WL0", (1, 5): "BL0", (1, 6): "BL1"}
CALL = ('ftjrowwv(2, "pg", 0, {1}, {"a"}, {"1B01"}, {2}, {"1A05","1A06"}, {"1C05","1C06"}, '
        '{"1D05","1D06"}, {1e-8,1e-8}, {1,1}, {1,1}, {1,1}, {0,0}, {0,0}, {0,0}, {0,0}, '
        '{0,0}, {0,0}, {0,0}, {0,0}, {2e-10, 0.05, 2, 5, 0.05, 0.5})')


def _bench(generator: type | None = Keysight81160A, standalone: bool = False):
    """An SMU guard (ftjrowwv uploaded) and the generator's guard on one routing, the
    generator reset and set up as at session start (1 MOhm / INF, window on)."""
    model = {Keysight81160A: "81160A", Keysight33500B: "33500B", None: "81160A"}[generator]
    routing = Routing({"A": "smu.a", "B": "smu.b", "C": "pg.1", "D": "pg.2"}, COLUMNS,
                      {"smu": "2636B", "pg": model})
    smu = SafetyGuard(LIMITS, TSPSourceRules(), roles={"a": "read", "b": "program"})
    if not standalone:
        smu.attach_routing(routing, "smu")
    routing.closed = frozenset()
    smu.check(ROW_PROGRAM_SOURCE)
    pg = None
    if generator is not None:
        pg = SafetyGuard(LIMITS, generator.guard_rules)
        if not standalone:
            pg.attach_routing(routing, "pg")
        load = "1e6" if generator is Keysight81160A else "INF"
        pg.check("*RST")
        for n in (1, 2):
            pg.check(f":OUTP{n}:LOAD {load};:VOLT{n}:LIM:HIGH 3;:VOLT{n}:LIM:LOW -3;"
                     f":VOLT{n}:LIM ON;:FUNC{n} PULS;:PULS:WIDT{n} 1e-7")
        pg.check(":VOLT1:HIGH 1;:VOLT1:LOW 0;:VOLT2:LOW -1;:VOLT2:HIGH 0;:OUTP1 ON;:OUTP2 ON")
    return smu, pg


def test_a_call_makes_the_generator_guard_forget_what_the_script_sets_and_nothing_else():
    smu, pg = _bench()
    before = pg.state()
    pg.check(":OUTP1 ON")  # known: accepted
    smu.check(CALL)
    after = pg.state()
    for n, level in ((1, "high"), (2, "low")):
        assert after[n]["load"] is None and after[n][level] is None
        assert after[n]["output"] is None
        kept = {k: v for k, v in before[n].items() if k not in ("load", level, "output")}
        assert {k: after[n][k] for k in kept} == kept  # width, window, shape, other level
    with pytest.raises(SafetyError, match="output on before both levels of channel 1"):
        pg.check(":OUTP1 ON")
    with pytest.raises(SafetyError, match="switch the output off first"):
        pg.check(":OUTP1:LOAD 50")
    with pytest.raises(SafetyError, match="the load of channel 1 is unknown"):
        pg.check(":VOLT1:HIGH 1.5")
    script_ended(smu, ROW_PROGRAM_NAME)  # its reply was read
    # set again through the guard: output off, load, the level the script set
    pg.check(":OUTP1 OFF;:OUTP1:LOAD 1e6;:VOLT1:HIGH 2;:OUTP1 ON")
    with pytest.raises(SafetyError):  # 4 V at the cell: above the 3 V program limit
        pg.check(":OUTP1 OFF;:OUTP1:LOAD 50;:OUTP1 ON")


def test_with_one_level_unknown_only_that_level_may_be_set():
    smu, pg = _bench()
    smu.check(CALL)
    script_ended(smu, ROW_PROGRAM_NAME)
    pg.check(":OUTP1 OFF;:OUTP1:LOAD 1e6;:OUTP2 OFF;:OUTP2:LOAD 1e6")
    for text in (":VOLT1 1", ":VOLT1:OFFS 0.5", ":VOLT1:LOW 0.2",  # need output 1's high
                 ":VOLT2:HIGH 0.5"):  # needs output 2's low
        with pytest.raises(SafetyError, match="the other level"):
            pg.check(text)
    with pytest.raises(SafetyError):  # the unknown level is checked like any other
        pg.check(":VOLT1:HIGH 3.5")
    pg.check(":VOLT1:HIGH 2.5;:VOLT1:LOW 0.2;:VOLT2:LOW -2.5;:VOLT2:HIGH -0.5")
    assert [(pg.state()[n]["high"], pg.state()[n]["low"]) for n in (1, 2)] == [
        (2.5, 0.2), (-0.5, -2.5)]


def test_a_call_is_refused_where_the_generator_would_raise_a_class_above_the_limit():
    # the 81160A's least amplitude at high impedance is 0.1 Vpp: a 0.05 V class becomes 0.1 V
    low = Limits(max_read_voltage_v=0.05, max_sample_voltage_v=0.05, max_program_voltage_v=0.1,
                 max_compliance_current_a=1e-3, min_pulse_width_s=1e-8, max_pulse_width_s=1e-3)
    routing = Routing({"A": "smu.a", "B": "smu.b", "C": "pg.1", "D": "pg.2"}, COLUMNS,
                      {"smu": "2636B", "pg": "81160A"})
    smu = SafetyGuard(low, TSPSourceRules(), roles={"a": "read", "b": "program"})
    smu.attach_routing(routing, "smu")
    SafetyGuard(low, Keysight81160A.guard_rules).attach_routing(routing, "pg")
    routing.closed = frozenset()
    smu.check(ROW_PROGRAM_SOURCE)
    call = CALL.replace("{2e-10, 0.05, 2, 5, 0.05, 0.5}", "{2e-10, 0.05, 0.1, 5, 0.05, 0.5}")
    call = call.replace("{1,1}, {1,1}, {1,1}", "{0.05,0.05}, {0.05,0.05}, {1,1}")
    with pytest.raises(LimitViolation):
        smu.check(call)


def test_a_refused_message_leaves_the_generator_guard_as_it_was():
    smu, pg = _bench()
    before = pg.state()
    with pytest.raises(SafetyError):  # the call, then a statement the guard refuses
        smu.check(CALL + " smua.source.levelv = 5")
    assert pg.state() == before


def test_a_call_is_refused_without_a_bench_whose_generators_all_have_guards():
    smu, _ = _bench(standalone=True)
    with pytest.raises(SafetyError, match="accepted only on a bench"):
        smu.check(CALL)
    smu, _ = _bench(generator=None)  # the bench's generator has no guard to tell
    with pytest.raises(SafetyError, match="pg of the bench have no guard"):
        smu.check(CALL)


def test_a_call_reaching_a_33500b_is_refused_its_1_mohm_load_is_clipped():
    # the 33500B's load numbers stop at 10 kOhm: the script's 1e6 would leave its levels
    # 0.5 % above the volts at the cell
    smu, pg = _bench(Keysight33500B)
    before = pg.state()
    with pytest.raises(SafetyError, match="does not take as sent"):
        smu.check(CALL)
    assert pg.state() == before


@pytest.mark.parametrize("driver, accepted", [(Keysight81160A, True), (Keysight33500B, False)])
def test_a_1_mohm_load_setting_passes_only_where_the_model_takes_it(driver, accepted):
    from ftjlab.simulators.emulators import keysight33500b, keysight81160a

    class Quiet:  # the emulator's bench: nothing is wired
        def source(self, *args): pass
        def pulse(self, *args): pass
        def idle(self, *args): pass

    model = keysight81160a.Keysight81160A if accepted else keysight33500b.Keysight33500B
    emulator = model(Quiet(), "pg")
    emulator.write(":OUTP1:LOAD 1000000")
    assert (emulator.ch[0].load == 1e6) is accepted  # the 33500B clips it to 10 kOhm
    guard = SafetyGuard(LIMITS, driver.guard_rules)
    guard.check("*RST")
    if accepted:
        guard.check(":OUTP1:LOAD 1000000")
    else:
        with pytest.raises(SafetyError, match="load outside"):
            guard.check(":OUTP1:LOAD 1000000")
        guard.check(":OUTP1:LOAD INF")


def test_the_declared_effects_cover_every_tspnet_message_of_the_script():
    # every SCPI header in the script's strings, mapped to the generator guard's settings:
    # loads, output 1 high and output 2 low only; no output, width, period, burst or
    # trigger setting is sent (so those stay as the host set them)
    headers = set(re.findall(r'(\*[A-Z]+\??|:[A-Z]+\d?(?::[A-Z]+)*)',
                             " ".join(re.findall(r'"([^"]*)"', ROW_PROGRAM_SOURCE))))
    headers -= {":"}
    assert headers == {":OUTP1:LOAD", ":OUTP2:LOAD", ":VOLT1:HIGH", ":VOLT2:LOW", "*TRG",
                       "*OPC?"}, headers
    changed = {(1, "load"), (2, "load"), (1, "high"), (2, "low")}
    effects = generator_effects(ROW_PROGRAM_NAME)
    declared = {(ch, key) for ch, keys in effects.settings.items() for key in keys}
    assert changed <= declared and effects.load_ohm == 1e6


def test_raw_tspnet_from_the_smu_is_refused():
    smu, pg = _bench()
    before = pg.state()
    for text in ('c = tspnet.connect("pg", 0)', 'tspnet.write(1, ":OUTP1:LOAD 50")',
                 'tspnet.execute(1, ":VOLT1:HIGH 5")', "tspnet.disconnect(1)"):
        with pytest.raises(SafetyError):
            smu.check(text)
    assert pg.state() == before


# ------------------------------------------------------------- end to end on the in-process bench
def _pulses_at_cells(session) -> list[tuple[str, float, float]]:
    seen: list[tuple[str, float, float]] = []
    original = session.sim.pulse

    def spy(terminal, high_v, low_v, width_s, period_s, count):
        seen.append((terminal, high_v, low_v))
        return original(terminal, high_v, low_v, width_s, period_s, count)

    session.sim.pulse = spy
    return seen


def test_onboard_write_verify_then_host_pulses_through_the_generator_driver():
    """The normal procedures: write-verify with the on-SMU program, then pulses driven from
    here through the generator's own driver (lower, negative and paired amplitudes than the
    program left); each lands at the asked volts, and the bench judge sees no escape."""
    session = BenchSession.open(None, seed=3)
    try:
        c = ArrayController(session)
        lo, hi = c.conductance_range()
        targets = np.full((c.rows, c.cols), np.nan)
        targets[0, :4] = [lo + 0.8 * (hi - lo), lo + 0.2 * (hi - lo)] * 2
        judge = fz.session_judge(session)
        c.program_rows_onboard([0], [[0]], [1e-9], [1.0], [1.0], [[0]] * 9,
                               [1e-12, 0.05, 1.0, 1, 0.05, 0.5], 0.2, 0.01, 1e-6)  # set-up
        settings_before = [{k: v for k, v in vars(ch).items() if k not in ("high", "low",
                                                                            "load")}
                           for ch in session.emulators[c.pg_name].ch]
        report = c.write_verify(targets, 0.05, onboard=True, max_pulses=8)
        assert c.onboard_rows and report.pulses.sum() > 0
        shadow = c.pg.safety.state()
        assert shadow[1]["high"] is None and shadow[2]["low"] is None
        pg = session.emulators[c.pg_name]
        for ch, before in zip(pg.ch, settings_before, strict=True):  # what the program kept
            assert {k: v for k, v in vars(ch).items() if k not in ("high", "low", "load")} \
                == before
        seen = _pulses_at_cells(session)
        c.apply_pulses([1], [5], 0.6, 1e-6)  # below what the program left on output 1
        c.apply_pulses([1], [6], -0.7, 1e-6)  # output 1 inverted
        c.pulse_pair(2, [7], 0.8, [8], -0.9, 1e-6)
        assert [ch.load for ch in pg.ch] == [1e6, 1e6]
        fired = [(t, round(h, 6), round(low, 6)) for t, h, low in seen]
        # (terminal, level during the pulse, resting level)
        assert fired == [(f"{c.pg_name}.1", 0.6, 0.0), (f"{c.pg_name}.1", -0.7, 0.0),
                         (f"{c.pg_name}.1", 0.8, 0.0), (f"{c.pg_name}.2", -0.9, 0.0)], fired
        judge.judge("host pulses after ftjrowwv", session.emulators, session.sim)
        assert judge.escapes == []
        report = c.write_verify(targets, 0.05, onboard=True, max_pulses=8)  # and back again
        assert report.ok[0, :4].sum() >= 3
    finally:
        session.close()


def test_host_pulses_after_the_program_left_less_than_the_least_amplitude_the_guard_takes():
    # a 0.05 V class at high impedance: the generator raises it to its 0.1 Vpp minimum,
    # below the guard's 5 % margin; the output sets a level the guard takes before its own
    session = BenchSession.open(None, seed=3)
    try:
        c = ArrayController(session)
        c.program_rows_onboard([0], [[0, 1]], [1e-3, -1e-3], [0.05, 0.05], [0.05, 0.05],
                               [[0, 0]] * 9, [1e-12, 0.05, 0.3, 1, 0.05, 0.5], 0.2, 0.01, 1e-6)
        pg = session.emulators[c.pg_name]
        assert 0.09 < pg.ch[0].high < 0.105 and 0.09 < -pg.ch[1].low < 0.105
        seen = _pulses_at_cells(session)
        c.pulse_pair(1, [2], 0.3, [3], -0.4, 1e-6)
        assert [(t, round(h, 6)) for t, h, _ in seen] == [(f"{c.pg_name}.1", 0.3),
                                                         (f"{c.pg_name}.2", -0.4)]
    finally:
        session.close()


def test_the_33500b_bench_has_no_tspnet_path():
    """sim-2450.toml (2450 SMUs, a 33500B): no on-SMU program reaches the generator, so its
    guard is the only way to it; the 2450's guard refuses TSP text."""
    from ftjlab.data import benches

    session = BenchSession.open(f"{benches.__path__[0]}/sim-2450.toml", seed=3)
    try:
        c = ArrayController(session)
        assert not c.onboard_rows
        with pytest.raises(SafetyError):
            c.read.driver.write('tspnet.write(tspnet.connect("pg"), "OUTP1:LOAD 50")')
    finally:
        session.close()


def test_a_2636b_with_a_33500b_programs_rows_host_driven(tmp_path):
    """A 2636B reaching a 33500B over TSP-Net: the guard refuses the on-SMU program (the
    33500B clips its 1 MOhm load), so write-verify runs host-driven instead of failing."""
    from pathlib import Path

    from ftjlab.data import benches

    text = Path(benches.__path__[0], "sim.toml").read_text().replace('model = "81160A"',
                                                                    'model = "33500B"')
    bench = tmp_path / "sim-2636b-33500b.toml"
    bench.write_text(text)
    session = BenchSession.open(str(bench), seed=3)
    try:
        c = ArrayController(session)
        assert c.pulser_address() is not None and not c.onboard_rows
        lo, hi = c.conductance_range()
        targets = np.full((c.rows, c.cols), np.nan)
        targets[0, :4] = [lo + 0.8 * (hi - lo), lo + 0.2 * (hi - lo)] * 2
        report = c.write_verify(targets, 0.05, onboard=True, max_pulses=12)
        assert report.pulses[0, :4].sum() > 0 and report.ok[0, :4].sum() >= 3
    finally:
        session.close()
