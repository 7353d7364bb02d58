"""Calls of the on-board switching chain (``ftjchain``) sent as raw TSP text through a 2636B's
guard on a small hand-wired bench: row A read channel, B the gate (program role, word lines),
C/D the generator's outputs. Every amplitude the script sends (``%.4f``: the SET, RESET and
saturating levels) must lie within the program limit; routes are judged by the wiring."""

from __future__ import annotations

import pytest
from ftjlab.instruments._guard_tsp import TSPSourceRules
from ftjlab.instruments.keithley2636b_chain import CHAIN_SOURCE, MAX_CHAIN_STEPS
from ftjlab.instruments.keysight81160a import Keysight81160A
from ftjlab.instruments.limits import Limits, LimitViolation, SafetyError
from ftjlab.instruments.routing import Routing
from ftjlab.instruments.safety import SafetyGuard

COLUMNS = {(1, 1): "WL0", (1, 2): "WL1", (1, 5): "BL0", (1, 6): "BL1", (1, 7): "BL2"}


def _guard(program_v: float = 3.0, columns: dict | None = None) -> SafetyGuard:
    limits = Limits(max_read_voltage_v=0.5, max_sample_voltage_v=1.0,
                    max_program_voltage_v=program_v, max_compliance_current_a=1e-3,
                    min_pulse_width_s=1e-8, max_pulse_width_s=1e-3)
    routing = Routing({"A": "smu.a", "B": "smu.b", "C": "pg.1", "D": "pg.2"},
                      columns or COLUMNS, {"smu": "2636B", "pg": "81160A"})
    guard = SafetyGuard(limits, TSPSourceRules(), roles={"a": "read", "b": "program"})
    guard.attach_routing(routing, "smu")
    SafetyGuard(limits, Keysight81160A.guard_rules).attach_routing(routing, "pg")
    routing.closed = frozenset()
    guard.check(CHAIN_SOURCE)
    return guard


def _t(items) -> str:
    return "{" + ",".join(f'"{x}"' if isinstance(x, str) else str(x) for x in items) + "}"


def _call(gates=("1B01",), cnt=(2,), rd=("1A05", "1A06"), p1=("1C05", "1C06"),
          p2=("1D05", "1D06"), vu=(1.9, 2.0), vd=(1.8, 2.1), mid=(5e-7, 5e-7), s=(0, 1),
          sat=2.5, steps=4) -> str:
    return (f'ftjchain(2, "pg", 0, {{1}}, {{"a"}}, {_t(gates)}, {_t(cnt)}, {_t(rd)}, '
            f"{_t(p1)}, {_t(p2)}, {_t(vu)}, {_t(vd)}, {_t(mid)}, {_t(s)}, {sat}, {steps})")


def test_a_legal_call_passes():  # so that every refusal below is the attempt's own
    _guard().check(_call())
    _guard().check(_call(gates=("1B01", "1B02"), cnt=(1, 1)))


@pytest.mark.parametrize("kwargs", [
    {"vu": (1.9, 3.1)},   # a SET amplitude above the 3 V program limit
    {"vd": (3.5, 2.0)},   # a RESET amplitude (sent as -3.5 V) above it
    {"sat": 3.2},         # the saturating pulse above it
])
def test_an_amplitude_above_the_program_limit_is_refused(kwargs):
    with pytest.raises(LimitViolation):
        _guard().check(_call(**kwargs))


def test_an_amplitude_that_rounds_above_the_limit_is_refused():
    # %.4f sends 0.49996 V as 0.5000 V: above a 0.49996 V limit (and the 81160A's least
    # amplitude at 1 MOhm, 0.1 Vpp, is within it)
    with pytest.raises(LimitViolation):
        _guard(0.49996).check(_call(vu=(0.49996, 0.3), vd=(0.3, 0.3), sat=0.4))
    _guard(0.5).check(_call(vu=(0.5, 0.3), vd=(0.3, 0.3), sat=0.5))


@pytest.mark.parametrize("kwargs, why", [
    ({"rd": ("1A05", "1A07")}, "one bit line"),        # cell 1 read on BL2, pulsed on BL1
    ({"p1": ("1C05", "1C05")}, "one bit line"),        # two cells on one bit line
    ({"gates": ("1B01,1B02",)}, "exactly one word line"),  # a gate route on two word lines
    ({"gates": ("1B05",)}, "exactly one word line"),   # the gate drive on a bit line
    ({"gates": ("1B01", "1B01"), "cnt": (1, 1)}, "exactly one word line"),  # one WL twice
    ({"rd": ("1C05", "1C06")}, "SMU terminal"),        # the generator as the read channel
    ({"p1": ("1A05", "1A06")}, "output 1"),            # the read SMU as the program output
    ({"p1": ("1D05", "1D06"), "p2": ("1C05", "1C06")}, "output 1"),  # outputs swapped
    ({"p1": ("1C05", "1D06")}, "one generator output"),  # cell 1's SET on the erase output
    ({"s": (0, 2)}, "states"),
    ({"steps": MAX_CHAIN_STEPS + 1}, "steps"),
    ({"steps": 0}, "steps"),
    ({"cnt": (3,)}, "cnt"),
    ({"mid": (5e-7,)}, "thresholds"),
    ({"vu": (0.0, 2.0)}, "SET amplitudes"),
    ({"sat": -2.5}, "saturating"),
])
def test_malformed_or_misrouted_calls_are_refused(kwargs, why):
    with pytest.raises(SafetyError, match=why):
        _guard().check(_call(**kwargs))


def test_a_call_with_a_computed_argument_is_refused():
    text = _call().replace(", 2.5, 4)", ", 2.5 * 2, 4)")
    with pytest.raises(SafetyError):
        _guard().check(text)


def test_the_chain_is_refused_where_a_generator_has_no_guard():
    limits = Limits(max_read_voltage_v=0.5, max_sample_voltage_v=1.0, max_program_voltage_v=3.0,
                    max_compliance_current_a=1e-3, min_pulse_width_s=1e-8,
                    max_pulse_width_s=1e-3)
    routing = Routing({"A": "smu.a", "B": "smu.b", "C": "pg.1", "D": "pg.2"}, COLUMNS,
                      {"smu": "2636B", "pg": "81160A"})
    guard = SafetyGuard(limits, TSPSourceRules(), roles={"a": "read", "b": "program"})
    guard.attach_routing(routing, "smu")
    routing.closed = frozenset()
    guard.check(CHAIN_SOURCE)
    with pytest.raises(SafetyError, match="guard"):
        guard.check(_call())
