"""Matrix routing rules on the shipped simulated bench (rows A = smu.a read, B = smu.b gate
in the program role, C/D = pg.1/pg.2; slots 1-3 word lines, 4-6 bit lines), judged from the
emulated relays the array sees."""

from __future__ import annotations

import warnings

import pytest
from ftjlab.instruments import SafetyError, UncheckedCommandError

from ftjlab.session import BenchSession


@pytest.fixture(scope="module")
def session():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with BenchSession.open(seed=5) as opened:
            yield opened


def _closed(session) -> list[str]:
    return [f"{cp.slot}{cp.row}{cp.column:02d}" for cp in session.sim.closed()]


@pytest.mark.parametrize(
    ("channels", "why"),
    [
        ("1C01", "pulse generator pg.1 may reach bit lines only"),
        ("4B01", "smu.b in the program role (DC) may reach word lines only"),
        ("1A01", "smu.a in the read role may reach bit lines only"),
        ("4A01,4C01", "BL0 would be reached by pg.1 and smu.a"),
        ("1C01:1D01", "pulse generator pg.[12] may reach bit lines only"),
    ],
)
def test_forbidden_routes_are_refused_on_both_paths(session, channels, why):
    matrix, smu = session.instruments["matrix"], session.instruments["smu"]
    matrix.open_all()
    for send in (lambda: matrix.exclusive_close(channels),
                 lambda: smu.write(f"node[2].channel.exclusiveclose('{channels}')")):
        with pytest.raises(UncheckedCommandError, match=why.split(" (")[0]):
            send()
        assert _closed(session) == []


def test_allowed_routes_pass_and_role_changes_follow_the_routing(session):
    matrix, smu = session.instruments["matrix"], session.instruments["smu"]
    matrix.exclusive_close("1B01,4A02")  # gate on WL0, read channel on BL1
    assert _closed(session) == ["1B01", "4A02"]
    guard = smu.safety
    with pytest.raises(UncheckedCommandError, match="program role"):
        guard.set_role("a", "program")  # a DC program level would reach BL1
    assert guard.role("a") == "read"
    guard.set_role("a", "sample")  # a higher read bias on a bit line is a sampling role
    guard.set_role("a", "read")
    matrix.open_all()


def test_controller_cannot_put_a_program_level_on_a_bit_line(session):
    from ftjlab.controller import ArrayController

    controller = ArrayController(session)
    smua = session.emulators["smu"].smua.source
    with pytest.raises(SafetyError):
        controller.read_cell(3, 4, volts=2.0, role="program")
    assert not (smua.output and abs(smua.levelv) > session.limits.max_read_voltage_v)
    controller.safe_state()
    assert _closed(session) == []
