"""Attempts to get a dangerous state past the guards through their caches (ftjseq argument
forms, closed sets judged legal) and through the link between an SMU script that sets the
pulse generator over TSP-Net (``ftjrowwv``) and the generator's guard.

Each test is one attempt; it asserts the guards refuse it, or that the state they keep after
it is no more trusting than a fresh check would be.
"""

from __future__ import annotations

import pytest
from ftjlab.instruments import keithley2636b_scripts as scripts
from ftjlab.instruments._guard_tsp import TSPSourceRules
from ftjlab.instruments._guard_tspnet import generators_changed, script_ended
from ftjlab.instruments.keithley2636b_scripts import (
    ROW_PROGRAM_SOURCE,
    SEQUENCE_SOURCE,
)
from ftjlab.instruments.keysight33500b import Keysight33500B
from ftjlab.instruments.keysight81160a import Keysight81160A
from ftjlab.instruments.limits import Limits, SafetyError
from ftjlab.instruments.routing import Routing, RoutingError
from ftjlab.instruments.safety import SafetyGuard

LIMITS = Limits(max_read_voltage_v=0.5, max_sample_voltage_v=1.0, max_program_voltage_v=3.0,
                max_compliance_current_a=1e-3, min_pulse_width_s=1e-8, max_pulse_width_s=1e-3)
COLUMNS = {(1, 1): "WL0", (1, 5): "BL0", (1, 6): "BL1"}
ROWS = {"A": "smu.a", "B": "smu.b", "C": "pg.1", "D": "pg.2"}
CALL = ('ftjrowwv(2, "pg", 0, {1}, {"a"}, {"1B01"}, {2}, {"1A05","1A06"}, {"1C05","1C06"}, '
        '{"1D05","1D06"}, {1e-8,1e-8}, {1,1}, {1,1}, {1,1}, {0,0}, {0,0}, {0,0}, {0,0}, '
        '{0,0}, {0,0}, {0,0}, {0,0}, {2e-10, 0.05, 2, 5, 0.05, 0.5})')
SEQ = 'ftjseq(2, {"1B01"}, {"1A05","1A06"})'


def _generator(driver: type = Keysight81160A, load: str = "1e6") -> SafetyGuard:
    """A generator guard set up as at session start: reset, load, window on, outputs on."""
    pg = SafetyGuard(LIMITS, driver.guard_rules)
    pg.check("*RST")
    for n in (1, 2):
        pg.check(f":OUTP{n}:LOAD {load};:VOLT{n}:LIM:HIGH 3;:VOLT{n}:LIM:LOW -3;"
                 f":VOLT{n}:LIM ON;:FUNC{n} PULS;:PULS:WIDT{n} 1e-7")
    pg.check(":VOLT1:HIGH 1;:VOLT1:LOW 0;:VOLT2:LOW -1;:VOLT2:HIGH 0;:OUTP1 ON;:OUTP2 ON")
    return pg


def _bench(models: dict[str, str] | None = None, generators: dict[str, SafetyGuard] | None = None,
           rows: dict[str, str] = ROWS):
    """An SMU guard (ftjrowwv and ftjseq uploaded) and generator guards on one routing."""
    models = {"smu": "2636B", "pg": "81160A"} if models is None else models
    generators = {"pg": _generator()} if generators is None else generators
    routing = Routing(rows, COLUMNS, models)
    smu = SafetyGuard(LIMITS, TSPSourceRules(), roles={"a": "read", "b": "program"})
    smu.attach_routing(routing, "smu")
    for name, guard in generators.items():
        guard.attach_routing(routing, name)
    routing.closed = frozenset()
    smu.check(ROW_PROGRAM_SOURCE)
    smu.check(SEQUENCE_SOURCE)
    return smu, routing


# --------------------------------------------------------------- the link to the generator guard
def test_a_forgotten_load_counts_at_its_worst_when_the_channel_changes_role():
    # The script may or may not have sent its load (it can fail before): a level known from
    # before stays at the cell times the old load's factor, up to 51 at a 1 ohm setting. A
    # role change must not take the level at factor 1 just because the load is unknown.
    pg = SafetyGuard(LIMITS, Keysight81160A.guard_rules)
    pg.check("*RST;:OUTP1:LOAD 50;:VOLT1:LOW -0.4;:VOLT1:HIGH 0")  # -0.8 V at the cell
    with pytest.raises(SafetyError):  # 0.8 V > the read limit 0.5
        pg.set_role(1, "read")
    smu, _ = _bench(generators={"pg": pg})
    smu.check(CALL)  # forgets output 1's load and high level; its low level stays known
    pg.routing.closed = frozenset()  # the matrix opened: only the levels can refuse the role
    assert pg.state()[1]["load"] is None and pg.state()[1]["low"] == -0.4
    with pytest.raises(SafetyError, match="read"):
        pg.set_role(1, "read")
    assert pg.role(1) == "program"
    # set again through the guard once the call ended: the role change is judged on what
    # is known
    script_ended(smu, "ftjrowwv")
    pg.check(":OUTP1 OFF;:OUTP1:LOAD 1e6;:VOLT1:HIGH 0")
    pg.set_role(1, "read")


@pytest.mark.parametrize("text", ["*RCL 1", "SYST:PRES", ":SYST:PRES", "*SAV 1",
                                  ":MMEM:LOAD:STAT 1,\"a\"", ":OUTP1:LOAD 50",
                                  ":OUTP1 ON", ":OUTP2 ON", ":VOLT1 1", ":VOLT1:OFFS 0"])
def test_after_the_forget_recall_preset_and_unchecked_settings_are_refused(text):
    smu, routing = _bench()
    pg = routing.guards["pg"]
    smu.check(CALL)
    with pytest.raises(SafetyError):
        pg.check(text)


def test_after_the_forget_a_reset_is_the_only_shortcut_and_leaves_the_outputs_off():
    smu, routing = _bench()
    pg = routing.guards["pg"]
    smu.check(CALL)
    with pytest.raises(SafetyError, match="may still be changing"):
        pg.check("*RST")  # the script may still set the generator after it
    script_ended(smu, "ftjrowwv")
    pg.check("*RST")  # the instrument's own known state: 50 ohm, 100 mVpp, outputs off
    state = pg.state()
    assert all(state[n]["output"] is False and state[n]["load"] == 50.0 for n in (1, 2))
    with pytest.raises(SafetyError, match="pulse shape"):
        pg.check(":OUTP1 ON")


def test_a_second_generator_forgets_too_and_a_33500b_beside_it_refuses_the_whole_call():
    first, second = _generator(), _generator()
    smu, _ = _bench({"smu": "2636B", "pg": "81160A", "pg2": "81160A"},
                    {"pg": first, "pg2": second})
    smu.check(CALL)
    for guard in (first, second):
        assert guard.state()[1]["high"] is None and guard.state()[2]["low"] is None
        with pytest.raises(SafetyError):
            guard.check(":OUTP1 ON")

    first, other = _generator(), _generator(Keysight33500B, "INF")
    smu, _ = _bench({"smu": "2636B", "pg": "81160A", "pg2": "33500B"},
                    {"pg": first, "pg2": other})
    before = (first.state(), other.state(), smu.state())
    with pytest.raises(SafetyError, match="does not take as sent"):
        smu.check(CALL)
    assert (first.state(), other.state(), smu.state()) == before  # nothing half-forgotten


def test_a_generator_missing_from_the_bench_models_does_not_skip_the_forget():
    # the generator's guard joined the routing under a name the models do not list, and its
    # rows are not on the routing (unwired crosspoints pass the routing rules)
    pg = _generator()
    rows = {"A": "smu.a", "B": "smu.b"}
    smu, _ = _bench({"smu": "2636B"}, {"pg": pg}, rows)
    smu.check(CALL)  # accepted only with the forget: the guard has a generator's rules
    assert pg.state()[1]["high"] is None and pg.state()[1]["load"] is None
    with pytest.raises(SafetyError):
        pg.check(":OUTP1 ON")
    # a bench with no generator guard at all: the script's generator is unknown to the guards
    smu, _ = _bench({"smu": "2636B"}, {}, rows)
    with pytest.raises(SafetyError, match="TSP-Net"):
        smu.check(CALL)


def test_a_generator_guard_on_another_bench_does_not_count():
    pg = _generator()
    Routing(ROWS, COLUMNS, {"pg": "81160A"}).register_guard("pg", pg)  # elsewhere
    smu, _ = _bench(generators={})
    with pytest.raises(SafetyError, match="no guard"):
        smu.check(CALL)
    assert pg.state()[1]["high"] == 1.0


@pytest.mark.parametrize("after", [" smua.source.levelv = 5", ' ftjseq(2, {"1C01"}, {"1A05"})',
                                   " smua.source.output = 1"])
def test_a_call_refused_half_way_through_its_message_changes_no_guard(after):
    smu, routing = _bench()
    pg = routing.guards["pg"]
    before = (pg.state(), smu.state(), routing.closed)
    with pytest.raises(SafetyError):
        smu.check(CALL + after)
    with pytest.raises(SafetyError):
        smu.check(after.strip() + " " + CALL)
    assert (pg.state(), smu.state(), routing.closed) == before


def test_a_call_after_a_call_that_may_fail_still_makes_the_generator_forget():
    smu, routing = _bench()
    smu.check(SEQ + " " + CALL)
    assert routing.guards["pg"].state()[1]["high"] is None


def test_an_exception_while_a_generator_guard_forgets_leaves_the_smu_guard_unchanged(
        monkeypatch):
    # the message is not sent when the check raises: the SMU's shadow must not take its
    # effects, while a generator guard that already forgot stays the safer way
    first, second = _generator(), _generator()
    smu, _ = _bench({"smu": "2636B", "pg": "81160A", "pg2": "81160A"},
                    {"pg": first, "pg2": second})
    smu.check("smua.source.levelv = 0.4")
    before = smu.state()

    def broken(self, settings=None):
        raise RuntimeError("shadow not writable")

    monkeypatch.setattr(SafetyGuard, "forget", broken)
    with pytest.raises(RuntimeError):
        smu.check("smua.source.levelv = 0.1 " + CALL)
    monkeypatch.undo()
    assert smu.state() == before


def test_an_undeclared_tspnet_script_makes_every_generator_forget_everything():
    smu, routing = _bench()
    pg = routing.guards["pg"]
    state = smu.state()
    generators_changed(smu, "x()", "not_declared", "2636B", state)
    assert pg.state()[1]["high"] == 1.0  # nothing before the commit
    for commit in state["_commit"]:
        commit()
    assert all(v is None for ch in pg.state().values() for v in ch.values())
    with pytest.raises(SafetyError):
        pg.check(":OUTP1 OFF;:OUTP1:LOAD 1e6;:VOLT1:HIGH 1")  # the limit window is unknown


@pytest.mark.parametrize("text", [
    f"local f = ftjrowwv {CALL.replace('ftjrowwv', 'f', 1)}",
    CALL.replace("ftjrowwv(", "ftjrowwv.run(", 1),
    CALL.replace("ftjrowwv(", "script.user.scripts.ftjrowwv(", 1),
    CALL.replace("ftjrowwv(", "_G.ftjrowwv(", 1),
    CALL.replace("ftjrowwv(", "pcall(ftjrowwv, ", 1),
    'local t = tspnet', 't = tspnet.connect', 'tspnet.tsp.abort(1)', 'tspnet.reset()',
    'tspnet.write(tspnet.connect("pg"), "*RST")', "tspnet.timeout = 0",
    'node[2].tspnet.write(1, ":VOLT1:HIGH 5")', 'loadstring("tspnet.write(1, \'*RST\')")()',
    'dofile("x")', 'script.new("tspnet.reset()", "x")',
])
def test_indirect_calls_and_raw_tspnet_text_are_refused(text):
    smu, routing = _bench()
    pg = routing.guards["pg"]
    before = pg.state()
    with pytest.raises(SafetyError):
        smu.check(text)
    assert pg.state() == before


# ------------------------------------------------------------------------------- the caches
def test_a_form_kept_by_one_bench_is_routed_on_another_bench_and_role():
    smu, _ = _bench()
    smu.check(SEQ)
    # another bench: the same form, but row B (the gate) wired to a generator
    other, _ = _bench(rows={"A": "smu.a", "B": "pg.1", "C": "smu.b", "D": "pg.2"})
    with pytest.raises(SafetyError, match="may reach bit lines only"):
        other.check(SEQ)
    smu.routing.closed = frozenset()
    smu.set_role("b", "sample")
    with pytest.raises(SafetyError, match=r"smu\.b in the sample role"):
        smu.check(SEQ)


def test_the_same_text_is_judged_on_the_present_closed_set():
    smu, routing = _bench()
    text = 'node[2].channel.close("1A05")'
    smu.check(text)  # smu.a on BL0: kept as legal
    routing.closed = frozenset({"1C05"})  # the generator already on BL0
    with pytest.raises(SafetyError, match="BL0 would be reached by"):
        smu.check(text)
    routing.closed = frozenset()
    smu.check(text)


def test_a_legal_set_is_judged_again_when_another_terminal_joins_and_the_wiring_is_fixed():
    rows = {"A": "smu.a", "B": "smu2.a"}
    routing = Routing(rows, COLUMNS, {"smu": "2636B", "smu2": "2636B"})
    routing.register_channel("smu.a", lambda: "read")
    closed = frozenset({"1A05", "1B06"})
    with pytest.raises(RoutingError, match=r"role of smu2\.a is not known"):
        routing.check(closed)
    routing.register_channel("smu2.a", lambda: "read")
    routing.check(closed)  # kept as legal with smu2.a in the read role
    routing.register_channel("smu2.a", lambda: "program")
    with pytest.raises(RoutingError, match="program role"):
        routing.check(closed)
    # the wiring the kept sets were judged on cannot change behind them
    rows["B"] = "pg.1"
    with pytest.raises(TypeError):
        routing.rows["B"] = "pg.1"  # type: ignore[index]
    with pytest.raises(TypeError):
        routing.models["smu2"] = "81160A"  # type: ignore[index]
    with pytest.raises(TypeError):
        routing.columns[(1, 6)] = "WL0"  # type: ignore[index]
    with pytest.raises(RoutingError, match="program role"):
        routing.check(closed)


def test_the_caches_stay_bounded_and_a_full_cache_still_checks(monkeypatch):
    routing = Routing({"A": "smu.a"}, {(1, c): f"BL{c}" for c in range(1, 13)},
                      {"smu": "2636B"})
    role = {"r": "read"}
    routing.register_channel("smu.a", lambda: role["r"])
    for k in range(5000):  # every set distinct (by the roles as well)
        role["r"] = ("read", "sample")[k % 2]
        routing.check(frozenset({"1A01"}), roles={"smu.b": str(k)})
    assert len(routing._legal) <= 4096
    role["r"] = "program"
    with pytest.raises(RoutingError):
        routing.check(frozenset({"1A01"}))

    forms = {(float(k), ("x",), ("y",)): ("1B01,1A05",) for k in range(4096)}
    monkeypatch.setattr(scripts, "_SEQUENCE_FORMS", forms)
    smu, _ = _bench()
    smu.check('ftjseq(3, {"1B01"}, {"1A05"})')
    assert len(forms) == 4096
    smu.routing.closed = frozenset()
    smu.set_role("b", "read")
    with pytest.raises(SafetyError, match=r"smu\.b in the read role"):
        smu.check('ftjseq(3, {"1B01"}, {"1A05"})')


def test_every_registered_script_that_uses_tspnet_is_held_by_the_link():
    # whatever reaches a generator over TSP-Net: refused on a bench without generator guards
    from ftjlab.instruments import (  # noqa: F401  (their scripts registered)
        keithley2450,
        keithley2636b_chain,
        script_registry,
    )
    from ftjlab.instruments._guard_tspnet import generator_effects

    users = [s for s in script_registry._SCRIPTS.values() if "tspnet" in s.source]
    assert sorted(s.name for s in users) == ["ftjchain", "ftjrowwv"]  # reviewed ones only
    assert all(generator_effects(s.name, s.model) is not None for s in users)
    smu, _ = _bench(generators={})
    with pytest.raises(SafetyError, match="no guard"):
        smu.check(CALL)


def test_an_upload_of_the_script_with_other_generator_messages_is_refused():
    smu, routing = _bench()
    for changed in (ROW_PROGRAM_SOURCE.replace(":VOLT1:HIGH %.4f;", ":VOLT1:HIGH 9;"),
                    ROW_PROGRAM_SOURCE.replace("*TRG;*OPC?", ":OUTP1:LOAD 50;*TRG;*OPC?"),
                    ROW_PROGRAM_SOURCE.replace("ftjrowwv", "ftjrowwx", 1)):
        assert changed != ROW_PROGRAM_SOURCE
        with pytest.raises(SafetyError):
            smu.check(changed)
    assert routing.guards["pg"].state()[1]["high"] == 1.0


def test_the_declared_effects_cannot_be_narrowed_after_the_declaration():
    from ftjlab.instruments._guard_tspnet import declare_generator_effects, generator_effects

    effects = generator_effects("ftjrowwv")
    with pytest.raises(TypeError):
        effects.settings[1] = frozenset()  # type: ignore[index]
    with pytest.raises(ValueError, match="already declared differently"):
        declare_generator_effects("ftjrowwv", {1: ("load",)}, load_ohm=1e6)
    assert generator_effects("ftjrowwv") == effects
