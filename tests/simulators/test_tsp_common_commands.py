"""IEEE 488.2 common commands on a TSP instrument, in every spelling a driver may send.

The emulator answers the upper-case, argument-free forms (``*IDN?``) without parsing; every
other form goes through the general parser, and both must behave the same.
"""

from __future__ import annotations

import pytest
from ftjlab.simulators.tsp import CODE_RUNTIME
from tsp_helpers import run

IDN = b"Keithley Instruments Inc., Model TSP, 4000001, 1.0.0\n"


@pytest.mark.parametrize("spelling", ["*IDN?", "*idn?", " *IDN?", "*IDN? ", "*IDN?\r", "*Idn?"])
def test_idn_in_every_spelling(tsp, spelling):
    assert run(tsp, spelling) == [IDN]


@pytest.mark.parametrize(
    ("command", "reply"), [("*OPC?", b"1\n"), ("*ESR?", b"0\n"), ("*STB?", b"0\n"),
                           ("*opc?", b"1\n"), ("*OPC", None), ("*WAI", None), ("*TRG", None)]
)
def test_common_queries_and_commands(tsp, command, reply):
    assert run(tsp, command) == ([reply] if reply else [])
    assert tsp.errorqueue.count == 0


def test_cls_clears_the_error_queue_and_rst_resets_format(tsp):
    run(tsp, "x = = 1")
    assert tsp.errorqueue.count == 1
    run(tsp, "*CLS")
    assert tsp.errorqueue.count == 0
    run(tsp, "format.asciiprecision = 3")
    assert run(tsp, "print(1.5)") == [b"1.50e+00\n"]
    run(tsp, "*RST")
    assert run(tsp, "print(1.5)") == [b"1.50000e+00\n"]


def test_common_command_inside_a_script_is_a_script_line(tsp):
    """Between ``loadscript`` and ``endscript`` every line belongs to the script: ``*IDN?``
    is not answered there, and the script (which is then not valid Lua) fails to compile."""
    assert run(tsp, "loadscript s1") == []
    assert run(tsp, "*IDN?") == []
    assert run(tsp, "endscript") == []
    code, message, *_ = tsp.errorqueue.next()
    assert code == -285 and "Syntax error" in message
    assert run(tsp, "*IDN?") == [IDN]


def test_unknown_common_command_is_a_lua_syntax_error(tsp):
    assert run(tsp, "*FOO") == []
    code = tsp.errorqueue.next()[0]
    assert code == -285


def test_failing_reset_is_reported_not_raised(tsp, monkeypatch):
    def broken() -> None:
        raise RuntimeError("relay driver gone")

    monkeypatch.setattr(tsp, "_reset_instrument", broken)
    tsp.write("*RST")  # must not raise into the transport
    code, message, *_ = tsp.errorqueue.next()
    assert code == CODE_RUNTIME and "relay driver gone" in message
    assert run(tsp, "*IDN?") == [IDN]
