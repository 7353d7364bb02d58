"""What the guard keeps from one check to the next (legal closed sets, ftjseq argument forms)
never lets through what a fresh check would refuse: the routes depend on the channels'
present roles, and only well-formed forms are kept."""

from __future__ import annotations

import pytest
from ftjlab.instruments._guard_tsp import TSPSourceRules
from ftjlab.instruments.keithley2636b_scripts import SEQUENCE_SOURCE
from ftjlab.instruments.limits import Limits, SafetyError
from ftjlab.instruments.routing import Routing, RoutingError
from ftjlab.instruments.safety import SafetyGuard

LIMITS = Limits(max_read_voltage_v=0.5, max_sample_voltage_v=1.0, max_program_voltage_v=3.0,
                max_compliance_current_a=1e-3, min_pulse_width_s=1e-8, max_pulse_width_s=1e-3)
COLUMNS = {(1, 1): "WL0", (1, 5): "BL0", (1, 6): "BL1"}


def _routing() -> Routing:
    return Routing({"A": "smu.a", "B": "smu.b", "C": "pg.1"}, COLUMNS,
                   {"smu": "2636B", "pg": "81160A"})


def test_a_legal_set_is_judged_again_under_another_role():
    routing = _routing()
    role = {"smu.a": "read", "smu.b": "program"}
    for terminal in role:
        routing.register_channel(terminal, lambda t=terminal: role[t])
    legal = frozenset({"1B01", "1A05"})
    routing.check(legal)
    routing.check(legal)  # kept
    role["smu.a"] = "program"
    with pytest.raises(RoutingError, match=r"smu\.a in the program role"):
        routing.check(legal)
    with pytest.raises(RoutingError, match=r"smu\.a in the program role"):
        routing.check(legal, roles={"smu.a": "program"})
    role["smu.a"] = "read"
    routing.check(legal)
    with pytest.raises(RoutingError):  # a refused set is never kept as legal
        routing.check(frozenset({"1C01"}))
    with pytest.raises(RoutingError):
        routing.check(frozenset({"1C01"}))


def _smu() -> SafetyGuard:
    guard = SafetyGuard(LIMITS, TSPSourceRules(), roles={"a": "read", "b": "program"})
    guard.attach_routing(_routing(), "smu")
    guard.routing.closed = frozenset()
    guard.check(SEQUENCE_SOURCE)
    return guard


def test_a_sequence_form_seen_before_still_has_its_routes_checked():
    call = 'ftjseq(2, {"1B01"}, {"1A05","1A06"})'
    guard = _smu()
    guard.check(call)
    guard.check(call)
    guard.routing.closed = frozenset()  # the matrix opened
    guard.set_role("b", "read")  # the gate channel on a word line in the read role
    with pytest.raises(SafetyError, match=r"smu\.b in the read role"):
        guard.check(call)


@pytest.mark.parametrize("node", ["2", "2.0", "0x2", "true", "-0", "1", "65", '"2"'])
def test_forms_equal_in_value_but_not_in_kind_are_judged_on_their_own(node):
    # 2 and 2.0 are the same Lua number; a boolean, a string or another number is not
    guard = _smu()
    guard.check('ftjseq(2, {"1B01"}, {"1A05"})')
    text = f'ftjseq({node}, {{"1B01"}}, {{"1A05"}})'
    if node in ("2", "2.0"):
        guard.check(text)
    else:
        with pytest.raises(SafetyError):
            guard.check(text)
