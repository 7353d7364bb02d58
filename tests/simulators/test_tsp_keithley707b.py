"""Keithley 707B emulator: channel functions, all-or-nothing validation, rules, reset."""

from __future__ import annotations

import pytest
from ftjlab.simulators.bench import Bench, Wiring
from ftjlab.simulators.emulators.keithley707b import Keithley707B
from ftjlab.simulators.params import ArrayParams
from ftjlab.simulators.tsp import CODE_RUNTIME
from tsp_helpers import errors as pop_errors


@pytest.fixture
def matrix() -> Keithley707B:
    bench = Bench(ArrayParams(rows=4, cols=4), Wiring.default(4, 4, {"A": "smu.a"}), seed=2)
    return Keithley707B(bench)


def ask(m: Keithley707B, command: str) -> str:
    m.write(command)
    return m.read().decode().rstrip("\n")


def closed(m: Keithley707B) -> list[str]:
    return [str(p) for p in m.bench.closed()]


def test_close_open_getclose(matrix):
    assert ask(matrix, 'print(channel.getclose("allslots"))') == "nil"
    matrix.write('channel.close("1A01:1A03, 2c05")')  # ranges, lower-case rows, spaces
    assert closed(matrix) == ["1A01", "1A02", "1A03", "2C05"]
    assert ask(matrix, 'print(channel.getclose("slot2"))') == "2C05"
    assert ask(matrix, 'print(channel.getclose("1A01:1B12"))') == "1A01;1A02;1A03"
    matrix.write('channel.open("1A02")')
    assert closed(matrix) == ["1A01", "1A03", "2C05"]
    matrix.write('channel.open("slot1")')
    assert closed(matrix) == ["2C05"]
    matrix.write('channel.open("allslots")')
    assert closed(matrix) == []
    assert pop_errors(matrix) == []


def test_exclusiveclose_opens_everything_else(matrix):
    matrix.write('channel.close("1A01,1B02,2A01")')
    matrix.write('channel.exclusiveclose("1C03;2A01")')
    assert closed(matrix) == ["1C03", "2A01"]
    matrix.write('channel.close("2B01")')
    matrix.write('channel.exclusiveslotclose("1D04")')  # only slot 1 is cleared
    assert closed(matrix) == ["1D04", "2A01", "2B01"]
    assert pop_errors(matrix) == []


@pytest.mark.parametrize(
    "bad",
    [
        "1A01,1Z01",
        "1A01,1A13",
        "1A01,7A01",
        "1A01,1A1",
        "1A05:1A01",
        "1A01:2A03",
        "1A01,,1A02",
        "",
        "1A01,bogus",
    ],
)
def test_invalid_lists_switch_nothing_and_queue_an_error(matrix, bad):
    matrix.write('channel.close("2D04")')
    matrix.write(f'channel.close("{bad}")')
    assert closed(matrix) == ["2D04"]
    matrix.write(f'channel.exclusiveclose("{bad}")')
    assert closed(matrix) == ["2D04"]
    errs = pop_errors(matrix)
    assert len(errs) == 2 and all(e[0] == CODE_RUNTIME for e in errs)


def test_slots_are_refused_where_the_manual_refuses_them(matrix):
    for command in [
        'channel.close("slot1")',
        'channel.close("allslots")',
        'channel.exclusiveclose("allslots")',
        "channel.close(5)",
    ]:
        matrix.write(command)
        assert closed(matrix) == []
        assert pop_errors(matrix)[0][0] == CODE_RUNTIME


def test_connect_rule_patterns_forbidden_and_specifiers(matrix):
    assert ask(matrix, "print(channel.connectrule == channel.BREAK_BEFORE_MAKE)") == "true"
    matrix.write("channel.connectrule = channel.MAKE_BEFORE_BREAK")
    assert ask(matrix, "print(channel.connectrule)") == "2.00000e+00"
    matrix.write("channel.connectrule = 5")
    assert pop_errors(matrix)[0][0] == 1101
    matrix.write('channel.pattern.setimage("1B02,1B04", "pair")')
    matrix.write('channel.close("pair, 1C01")')
    assert closed(matrix) == ["1B02", "1B04", "1C01"]
    assert ask(matrix, 'print(channel.pattern.getimage("pair"))') == "1B02;1B04"
    matrix.write('channel.setforbidden("2H12")')
    matrix.write('channel.close("2A01,2H12")')
    assert "forbidden" in pop_errors(matrix)[0][1]
    assert "2A01" not in closed(matrix)
    assert ask(matrix, "print(channel.createspecifier(2, 3, 4))") == "2C04"


def test_reset_opens_all_and_restores_the_rule(matrix):
    matrix.write('channel.close("1A01,2B02") channel.connectrule = channel.OFF')
    matrix.write("reset()")
    assert closed(matrix) == []
    assert matrix.channel.connectrule == 1
    matrix.write('channel.close("1A01")')
    matrix.write("*RST")
    assert closed(matrix) == []
    matrix.write('channel.close("1A01")')
    matrix.write("print(1)")
    matrix.reset()  # the Emulator protocol's reset: *RST and pending output dropped
    assert closed(matrix) == [] and matrix.pending_replies == 0
    assert ask(matrix, "*IDN?").startswith("Keithley Instruments Inc., Model 707B, ")
