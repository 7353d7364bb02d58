"""Bench limits bound to drivers: checks happen before anything leaves the process.

Every refusal is asserted with an ``expected_protocol`` whose communication list holds only what
was allowed before it: if a refused command were written, the protocol adapter would fail.
"""

import pytest
from ftjlab.instruments import (
    Keithley707B,
    Keithley2450,
    Keithley2636B,
    Keysight33500B,
    Keysight81160A,
    LimitViolation,
    SafetyError,
    UncheckedCommandError,
)
from pymeasure.adapters import ProtocolAdapter
from pymeasure.test import expected_protocol

# ---------------------------------------------------------------------------------- 2636B


def test_property_violation_sends_nothing(limits):
    with expected_protocol(Keithley2636B, [], limits=limits) as smu:
        with pytest.raises(LimitViolation) as info:
            smu.smua.source_voltage = 0.5  # default role "read": max 0.3 V
        assert info.value.limit == "max_read_voltage_v"
        assert info.value.value == 0.5
        with pytest.raises(LimitViolation, match="max_compliance_current_a"):
            smu.smub.current_limit = 0.01


def test_role_given_at_construction_allows_sampling_bias(limits):
    with expected_protocol(
        Keithley2636B, [("smua.source.levelv = 0.8", None)], limits=limits,
        roles={"a": "sample"},
    ) as smu:
        smu.smua.source_voltage = 0.8
        with pytest.raises(LimitViolation, match="max_read_voltage_v"):
            smu.smub.source_voltage = 0.8
        assert smu.safety.role("a") == "sample"


def test_apply_voltage_fails_before_the_first_write(limits):
    with expected_protocol(Keithley2636B, [], limits=limits) as smu:
        with pytest.raises(LimitViolation):
            smu.smua.apply_voltage(0.8, current_limit=1e-6)
        with pytest.raises(LimitViolation):
            smu.smua.apply_voltage(0.1, current_limit=1.0)


@pytest.mark.parametrize(
    ("message", "error"),
    [
        ("smua.source.levelv = 5", LimitViolation),
        ("smua.source.levelv=-0.31", LimitViolation),
        ("smub.source.limitv = 0.5", LimitViolation),
        ("smua.source.leveli = 0.01", LimitViolation),
        ("smua.trigger.source.limiti = 0.1", LimitViolation),
        ("smua.trigger.source.listv({0.1, 0.2, 5})", LimitViolation),
        ("smua.trigger.source.linearv(0, 5, 11)", LimitViolation),
        ("smua.trigger.source.logv(0.01, 2, 11, 0)", LimitViolation),
        ("smua.source.levelv = 0.1 smub.source.levelv = 5", LimitViolation),
        ("smua.source.levelv = x", UncheckedCommandError),
        ("smua.source.levelv = 0.1 + 5", UncheckedCommandError),
        ("smua.source.levelv = 0\n+ 5", UncheckedCommandError),
        ("smua.source.levelv = 0 and 5", UncheckedCommandError),
        ("smua.source.levelv = 0x10", UncheckedCommandError),
        ("smua.source.levelv = 1 .. 0", UncheckedCommandError),
        ("s = smua.source s.levelv = 5", UncheckedCommandError),
        ("local k = smua k.source.levelv = 5", UncheckedCommandError),
        ('smua.source["levelv"] = 5', UncheckedCommandError),
        ("smua.source.levelv, smub.source.levelv = 0.1, 5", UncheckedCommandError),
        ("loadstring('smua.source.levelv = 5')()", UncheckedCommandError),
        ("setup.recall(1)", UncheckedCommandError),
        ("smua.trigger.source.listv(mylist)", UncheckedCommandError),
        ("smua.trigger.initiate()", UncheckedCommandError),
        ("smua.source.output = 1", UncheckedCommandError),
        ("smua.source.output = smua.OUTPUT_ON", UncheckedCommandError),
        ("smua.source.output = on", UncheckedCommandError),
        ("myscript()", UncheckedCommandError),  # stored before the limits were bound
        ("myscript.run()", UncheckedCommandError),
        ("function f() reset() end", UncheckedCommandError),
        ("function f() smua.source.levelv = 0.1 end", UncheckedCommandError),
    ],
)
def test_raw_tsp_writes_are_checked(limits, message, error):
    with expected_protocol(Keithley2636B, [], limits=limits) as smu, pytest.raises(error):
        smu.write(message)


def test_queries_and_harmless_statements_pass(limits):
    allowed = [
        "print(smua.source.levelv)",
        "print(smua.source.levelv, smub.source.levelv)",
        "smua.measure.overlappedi(smua.nvbuffer1)",
        "printbuffer(1, 10, smua.nvbuffer1.readings, smua.nvbuffer1.timestamps)",
        "smua.source.levelv = 0.25 -- a comment",
        "smua.source.output = smua.OUTPUT_OFF",
        "smub.source.output = 0",
    ]
    with expected_protocol(Keithley2636B, [(m, None) for m in allowed], limits=limits) as smu:
        for message in allowed:
            smu.write(message)


def test_output_on_needs_checked_function_level_and_limit(limits):
    with expected_protocol(
        Keithley2636B,
        [
            ("reset()", None),
            ("smua.source.levelv = 0.2", None),
            ("smua.source.limiti = 1e-06", None),
            ("smua.source.output = 1", None),
            ("smub.source.func = 0", None),
            ("smub.source.leveli = 1e-07", None),
            ("smub.source.limitv = 0.3", None),
            ("smub.source.output = smub.OUTPUT_ON", None),
        ],
        limits=limits,
    ) as smu:
        smu.reset()
        smu.smua.source_voltage = 0.2
        with pytest.raises(UncheckedCommandError, match="limiti"):
            smu.smua.output_enabled = True  # the default limit after reset is not trusted
        smu.smua.current_limit = 1e-6
        smu.smua.output_enabled = True
        smu.smub.source_function = "current"
        smu.smub.source_current = 1e-7
        with pytest.raises(UncheckedCommandError, match="limitv"):
            smu.write("smub.source.output = 1")
        smu.smub.voltage_limit = 0.3
        smu.write("smub.source.output = smub.OUTPUT_ON")


def test_a_refused_message_does_not_change_the_shadow(limits):
    with expected_protocol(Keithley2636B, [("reset()", None)], limits=limits) as smu:
        smu.reset()
        with pytest.raises(LimitViolation):
            smu.write("smua.source.limiti = 1e-06 smua.source.levelv = 0.9")
        assert smu.safety.state()["a"]["limiti"] is None
        with pytest.raises(UncheckedCommandError):
            smu.smua.output_enabled = True


def test_role_change_checks_programmed_level(limits):
    with expected_protocol(
        Keithley2636B, [("smua.source.levelv = 1", None)], limits=limits, roles={"a": "sample"}
    ) as smu:
        smu.smua.source_voltage = 1.0
        with pytest.raises(LimitViolation, match="max_read_voltage_v"):
            smu.safety.set_role("a", "read")
        assert smu.safety.role("a") == "sample"
        with smu.safety.using_role("b", "program"):
            assert smu.safety.role("b") == "program"
        assert smu.safety.role("b") == "read"
        with pytest.raises(ValueError, match="unknown voltage role"):
            smu.safety.set_role("a", "erase")
        with pytest.raises(ValueError, match="unknown channel"):
            smu.safety.set_role("c", "read")


def test_limits_bind_once_and_cannot_be_replaced(limits):
    with expected_protocol(Keithley2636B, [], limits=limits) as smu:
        guard = smu.safety
        with pytest.raises(SafetyError, match="already has bound limits"):
            smu.bind_limits(limits)
        for name, value in (("_safety", None), ("adapter", ProtocolAdapter([]))):
            with pytest.raises(AttributeError):
                setattr(smu, name, value)
        with pytest.raises(AttributeError):
            guard._limits = limits
        with pytest.raises(AttributeError):
            smu.adapter.write = print
        assert smu.safety is guard


def test_trigger_sweep_after_checked_list(limits):
    with expected_protocol(
        Keithley2636B,
        [("smua.trigger.source.listv({0.1, 0.2, 0.3})", None), ("smua.source.limiti = 1e-06", None),
         ("smua.trigger.initiate()", None)],
        limits=limits,
    ) as smu:
        smu.write("smua.trigger.source.listv({0.1, 0.2, 0.3})")
        with pytest.raises(UncheckedCommandError, match="limiti"):
            smu.write("smua.trigger.initiate()")  # the compliance of the sweep is not known
        smu.smua.current_limit = 1e-6
        smu.write("smua.trigger.initiate()")


def test_binary_and_byte_writes_are_guarded(limits):
    with (
        expected_protocol(Keithley2636B, [], limits=limits) as smu,
        pytest.raises(LimitViolation),
    ):
        smu.write_bytes(b"smua.source.levelv = 9\n")


def test_roles_without_limits_is_an_error():
    with pytest.raises(ValueError, match="roles given without limits"):
        Keithley2636B(ProtocolAdapter([]), roles={"a": "read"})


def test_matrix_guard_accepts_switching_only(limits):
    allowed = ['channel.exclusiveclose("1A01,4B02")', 'channel.open("allslots")',
               "channel.connectrule = channel.BREAK_BEFORE_MAKE", "reset()"]
    with expected_protocol(Keithley707B, [(m, None) for m in allowed], limits=limits) as matrix:
        for message in allowed:
            matrix.write(message)
        for bad in ("channel.setforbidden('1A01')", "x = channel", "script.run()"):
            with pytest.raises(UncheckedCommandError):
                matrix.write(bad)


def test_unknown_role_refused_before_connecting(limits):
    with pytest.raises(ValueError, match="unknown voltage role"):
        Keithley2636B(ProtocolAdapter([]), limits=limits, roles={"a": "fast"})


# ----------------------------------------------------------------------------------- 2450


@pytest.mark.parametrize(
    ("message", "error"),
    [
        (":SOUR:VOLT 0.5", LimitViolation),
        (":SOURce:VOLTage:LEVel:IMMediate:AMPLitude 5", LimitViolation),
        (":SOUR:VOLT:RANG 20;:SOUR:VOLT:LEV 5", LimitViolation),
        (":SOUR:VOLT:RANG 20;LEV 5", UncheckedCommandError),  # relative path after ';'
        (":SOUR:VOLT:ILIM 0.01", LimitViolation),
        (":SOUR:CURR 0.01", LimitViolation),
        (":SOUR:CURR:VLIM 10", LimitViolation),
        (":SOUR:SWE:VOLT:LIN 0,5,11,0.1", LimitViolation),
        (":SOUR:LIST:VOLT 0.1,0.2,5", LimitViolation),
        (":SOUR:VOLT MAX", UncheckedCommandError),
        (":SOUR:VOLT DEF", UncheckedCommandError),
        (":SOUR:VOLT:FOO 1", UncheckedCommandError),
        (":SOUR:CONF:LIST:REC \"x\",1", UncheckedCommandError),
        ("*RCL 1", UncheckedCommandError),
        (':TRIG:LOAD "ConfigList","x"', UncheckedCommandError),
        (":OUTP ON", UncheckedCommandError),
        (":TRIG:BLOC:SOUR:STAT 3, ON", UncheckedCommandError),
        (":INIT", UncheckedCommandError),
        (":SCR:RUN \"x\"", UncheckedCommandError),
    ],
)
def test_raw_scpi_writes_are_checked(limits, message, error):
    with expected_protocol(Keithley2450, [], limits=limits) as smu, pytest.raises(error):
        smu.write(message)


def test_2450_properties_and_output(limits):
    with expected_protocol(
        Keithley2450,
        [
            ("*RST;:stat:pres;:*CLS;", None),
            (":SOUR:VOLT 0.2", None),
            (":SOUR:VOLT:ILIM 1e-06", None),
            (":OUTP ON", None),
            (':TRIG:LOAD "SimpleLoop",100,0,"defbuffer1"', None),
            (":INIT", None),
        ],
        limits=limits,
    ) as smu:
        smu.reset()
        smu.source_voltage = 0.2
        with pytest.raises(LimitViolation, match="max_read_voltage_v"):
            smu.source_voltage = 0.4
        with pytest.raises(UncheckedCommandError):
            smu.output_enabled = True  # limit not yet set since the reset
        smu.current_limit = 1e-6
        smu.output_enabled = True
        smu.load_simple_loop(100)
        smu.start()


def test_2450_apply_voltage_fails_before_writing(limits):
    with (
        expected_protocol(Keithley2450, [], limits=limits, roles={1: "sample"}) as smu,
        pytest.raises(LimitViolation, match="max_sample_voltage_v"),
    ):
        smu.apply_voltage(1.5, current_limit=1e-6)


# --------------------------------------------------------------------------- pulse generators


def test_pulse_level_and_width_limits_send_nothing(limits):
    with expected_protocol(Keysight81160A, [], limits=limits) as gen:
        channel = gen.channels[1]
        with pytest.raises(LimitViolation, match="max_program_voltage_v"):
            channel.voltage_high = 4.8  # the instrument allows 5 V
        with pytest.raises(LimitViolation, match="min_pulse_width_s") as info:
            channel.pulse_width = 5e-9  # the instrument allows 1.5 ns
        assert info.value.value == 5e-9
        with pytest.raises(LimitViolation, match="max_pulse_width_s"):
            channel.pulse_width = 0.1
        with pytest.raises(LimitViolation):
            gen.channels[1].configure_pulse(4.8, 0.0, 100e-9, 1e-6)


def test_amplitude_checked_against_known_offset(limits):
    with expected_protocol(
        Keysight81160A,
        [("*RST", None), (":OUTP1:LOAD 1e+06", None), (":VOLT1:HIGH 4", None),
         (":VOLT1:LOW 3", None), (":VOLT1 1", None)],
        limits=limits,
    ) as gen:
        channel = gen.channels[1]
        with pytest.raises(UncheckedCommandError, match="load of channel 1 is unknown"):
            channel.voltage_high = 1.0  # nothing known: the instrument could clip
        gen.reset()
        channel.output_load = 1e6
        channel.voltage_high = 4.0
        channel.voltage_low = 3.0
        with pytest.raises(LimitViolation, match="5 V exceeds"):
            channel.amplitude = 3.0  # offset 3.5 + 1.5 = 5 V > 4.5 V (instrument allows it)
        with pytest.raises(LimitViolation):
            channel.offset = 4.2  # 4.2 + 0.5 = 4.7 V
        channel.amplitude = 1.0  # 3.5 + 0.5 = 4 V
        assert gen.safety.state()[1]["high"] == pytest.approx(4.0)
        assert gen.safety.state()[1]["low"] == pytest.approx(3.0)


def test_generator_output_on_needs_levels_load_shape_and_width(limits):
    with expected_protocol(
        Keysight81160A,
        [
            ("*RST", None),
            (":VOLT2:HIGH 2", None),
            (":VOLT2:LOW 0", None),
            (":FUNC2 PULS", None),
            (":PULS:WIDT2 1e-07", None),
            (":OUTP2:LOAD 1e+06", None),
            (":OUTP2 1", None),
            ("*RST", None),
        ],
        limits=limits,
    ) as gen:
        channel = gen.channels[2]
        with pytest.raises(UncheckedCommandError, match="both levels"):
            channel.output = True
        gen.reset()
        channel.voltage_high = 2.0
        channel.voltage_low = 0.0
        with pytest.raises(UncheckedCommandError, match="pulse shape"):
            channel.output = True
        channel.shape = "PULS"
        channel.pulse_width = 100e-9
        with pytest.raises(LimitViolation):
            channel.voltage_high = 2.3  # x2 at 50 ohm = 4.6 V at a high-impedance cell
        channel.output_load = 1e6
        channel.output = True
        with pytest.raises(UncheckedCommandError, match="load change"):
            channel.output_load = 50
        with pytest.raises(UncheckedCommandError, match="only the pulse shape"):
            channel.shape = "SQU"
        gen.reset()
        with pytest.raises(UncheckedCommandError):
            channel.output = True


@pytest.mark.parametrize(
    ("message", "error"),
    [
        (":PULS:DCYC1 50", UncheckedCommandError),
        (":PULS:HOLD1 DCYC", UncheckedCommandError),
        (":TRAC:CHAN1 ON", UncheckedCommandError),
        (":VOLT1:HIGH MAX", UncheckedCommandError),
        (":VOLT1:UNIT VRMS", UncheckedCommandError),
        (":APPL1:PULS 1000,DEF,0", UncheckedCommandError),
        (":APPL1:PULS 1000,9,1", LimitViolation),
        (":VOLT:LOW -5", LimitViolation),  # no suffix means channel 1
        (":FUNC:PULS:WIDT 1e-9", LimitViolation),  # the other dialect's spelling
        (":VOLT3:HIGH 1", UncheckedCommandError),
        ("*RST;:VOLT1:HIGH 1;:VOLT2:LOW -4.6", LimitViolation),
    ],
)
def test_raw_81160a_writes_are_checked(limits, message, error):
    with expected_protocol(Keysight81160A, [], limits=limits) as gen, pytest.raises(error):
        gen.write(message)


@pytest.mark.parametrize(
    ("message", "error"),
    [
        ("SOUR1:APPL:DC DEF,DEF,5", LimitViolation),
        ("SOUR2:FUNC:PULS:DCYC 20", UncheckedCommandError),
        ("SOUR2:TRAC INV", UncheckedCommandError),
        ("SOUR1:COMB:FEED CH2", UncheckedCommandError),
        ("SOUR1:VOLT:OFFS 1", UncheckedCommandError),
        ("OUTP1 ON", UncheckedCommandError),
    ],
)
def test_raw_33500b_writes_are_checked(limits, message, error):
    with expected_protocol(Keysight33500B, [], limits=limits) as gen, pytest.raises(error):
        gen.write(message)


def test_33500b_load_change_rescales_levels_and_needs_the_output_off(limits):
    with expected_protocol(
        Keysight33500B,
        [
            ("*RST", None),
            ("SOUR1:VOLT:HIGH 2", None),
            ("SOUR1:VOLT:LOW 0", None),
            ("OUTP1:LOAD INF", None),
            ("SOUR2:TRAC OFF", None),
        ],
        limits=limits,
    ) as gen:
        channel = gen.channels[1]
        gen.reset()
        channel.voltage_high = 2.0
        channel.voltage_low = 0.0
        channel.output_load = "INF"  # the 33500B keeps the output: displayed levels double
        assert gen.safety.state()[1]["high"] == pytest.approx(4.0)
        with pytest.raises(UncheckedCommandError, match="pulse shape"):
            channel.output = True
        gen.write("SOUR2:TRAC OFF")


def test_every_guard_error_is_a_value_error(limits):
    with expected_protocol(Keysight33500B, [], limits=limits) as gen:
        with pytest.raises(ValueError):
            gen.write("OUTP1 ON")
        with pytest.raises(SafetyError):
            gen.write("SOUR1:VOLT:HIGH 9")


def test_unregistered_functions_and_branches_are_refused(limits):
    with expected_protocol(Keithley2636B, [], limits=limits) as smu:
        for message in (
            "function show() print(smua.source.levelv) end show()",
            "if x then smua.source.limiti = 1e-06 end",
            "for i = 1, 2 do smua.source.levelv = 0.1 end",
            "local x = 1",
        ):
            with pytest.raises(UncheckedCommandError):
                smu.write(message)


def test_tsplink_switching_passes_and_any_other_node_use_is_refused():
    from ftjlab.instruments import Keithley2636B, Limits
    from ftjlab.instruments.safety import SafetyError
    from pymeasure.test import expected_protocol

    limits = Limits.from_dict({
        "max_read_voltage_v": 0.3, "max_sample_voltage_v": 1.2, "max_program_voltage_v": 4.5,
        "max_compliance_current_a": 1e-3, "min_pulse_width_s": 1e-8, "max_pulse_width_s": 1e-2,
    })
    script = "node[2].channel.exclusiveclose('1B01,4A02') smua.measure.i(smua.nvbuffer1)"
    with expected_protocol(Keithley2636B, [(script, None)], limits=limits) as smu:
        smu.write(script)
    bad_scripts = (
        "node[2].smua.source.levelv = 5", "node[3].reset()", "x = node[2] x.smua.source.levelv = 9"
    )
    for bad in bad_scripts:  # refused (unchecked or over the limit), nothing sent
        with expected_protocol(Keithley2636B, [], limits=limits) as smu, pytest.raises(SafetyError):
            smu.write(bad)
