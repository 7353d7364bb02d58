"""The second line: the instruments' own protections, programmed at session start, hold when
the software guard is bypassed; bench limits beyond the instruments are refused at load.

Behaviour of the real instruments the emulators follow:

* 81160A (81150A/81160A User's Guide, ``[:SOURce]:VOLTage[1|2]:LIMit[:STATe]``,
  ``:LIMit:HIGH/LOW``): with the limits on, a level outside them is not output; the
  instrument sets the level to the limit and reports an out-of-range error.
* 33500B (33500 Series Operating and Service Guide, ``[SOURce[1|2]:]VOLTage:LIMit:HIGH/LOW``,
  ``:LIMit:STATe``): with limits enabled the output cannot exceed them; a level outside is
  set to the limit with an error.
* 2450 (Reference Manual 2450-901-01, ``:SOURce[1]:VOLTage:PROTection[:LEVel]``):
  overvoltage protection restricts the largest voltage the instrument outputs, whatever
  level or limit is programmed; the output is clamped and ``:PROTection:TRIPped?`` says so.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import pytest
from ftjlab.instruments.safety import (
    Limits,
    LimitsConfigError,
    check_limits_for_models,
    raw_adapter,
)

from ftjlab.cli import main
from ftjlab.session import BenchSession

ROOT = Path(__file__).resolve().parents[2]
SIM_2450 = ROOT / "data" / "benches" / "sim-2450.toml"


def _record_pulses(bench) -> list[tuple[float, float, float]]:
    seen: list[tuple[float, float, float]] = []
    pulse = bench.pulse

    def on_pulse(terminal, high_v, low_v, width_s, period_s, count) -> None:
        seen.append((high_v, low_v, width_s))
        pulse(terminal, high_v, low_v, width_s, period_s, count)

    bench.pulse = on_pulse
    return seen


def _unguarded(driver):
    """The adapter behind the guard: what a bug in the software guard would let through."""
    return raw_adapter(driver.adapter)


@pytest.mark.parametrize(
    ("bench", "name", "commands"),
    [
        (None, "pg", [":FUNC1 PULS", ":PULS:WIDT1 1e-6", ":VOLT1:LOW 0", ":VOLT1:HIGH 9",
                      ":ARM:SOUR1 IMM", ":OUTP1 ON"]),
        (SIM_2450, "pg", ["SOUR1:FUNC PULS", "SOUR1:FUNC:PULS:WIDT 1e-5", "SOUR1:VOLT:LOW 0",
                          "SOUR1:VOLT:HIGH 9", "TRIG1:SOUR BUS", "SOUR1:BURS:STAT ON", "OUTP1 ON",
                          "*TRG"]),
    ],
)
def test_generators_clamp_an_over_limit_pulse_without_the_software_guard(bench, name, commands):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        session = BenchSession.open(bench, seed=3)
    with session:
        seen = _record_pulses(session.sim)
        limit = session.limits.max_program_voltage_v
        adapter = _unguarded(session.instruments[name])
        for command in commands:
            adapter.write(command)
        channel = session.emulators[name].ch[0]
        assert channel.output and channel.high == pytest.approx(limit)  # 9 V clamped
        assert seen and max(high for high, _, _ in seen) == pytest.approx(limit)
        adapter.write("SYST:ERR?")
        assert adapter.read().startswith(("-222", "-221", "+-222"))  # and reported


def test_2450_overvoltage_protection_clamps_an_over_limit_level_without_the_guard():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        session = BenchSession.open(SIM_2450, seed=3)
    with session:
        sourced: list[float] = []
        source = session.sim.source

        def on_source(terminal, volts, output_on):
            if output_on and terminal == "smu.1":
                sourced.append(volts)
            source(terminal, volts, output_on)

        session.sim.source = on_source
        protection = session.hardware_limits["smu"]["overvoltage_protection_v"]
        assert protection == 5  # the lowest level above the 4.5 V program limit
        adapter = _unguarded(session.instruments["smu"])
        for command in (":SOUR:VOLT 20", ":SOUR:VOLT:ILIM 1e-6", ":OUTP ON"):
            adapter.write(command)
        assert sourced and max(abs(v) for v in sourced) == pytest.approx(protection)
        adapter.write(":SOUR:VOLT:PROT:TRIP?")
        assert adapter.read().strip() == "1"


def test_hardware_limits_are_recorded_for_the_run_attributes():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        session = BenchSession.open(seed=3)
    with session:
        snap = session.snapshot()
        pg = snap["instruments"]["pg"]["hardware_limits"]["ch1"]
        assert pg["level_limit_on"] and pg["level_limit_high_v"] == 4.5
        assert snap["instruments"]["smu"]["hardware_limits"]["smua"]["limiti_a"] == 1e-3


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("max_read_voltage_v", 500.0, "limits.max_read_voltage_v: 500"),
        ("max_compliance_current_a", 100.0, "limits.max_compliance_current_a: 100"),
        ("min_pulse_width_s", 1e-15, "limits.min_pulse_width_s: 1e-15"),
        ("max_pulse_width_s", 1e9, "limits.max_pulse_width_s: 1e+09"),
    ],
)
def test_absurd_limits_are_refused(limits_table, key, value, message):
    with pytest.raises(LimitsConfigError, match=message.replace("+", r"\+")):
        Limits.from_dict({**limits_table, key: value})


def test_limits_beyond_the_bench_instruments_are_refused(limits_table):
    models = {"smu": "2636B", "pg": "81160A", "matrix": "707B"}
    check_limits_for_models(limits_table, models)
    with pytest.raises(LimitsConfigError, match=r"max_program_voltage_v: 12 .*pg \(81160A\)"):
        check_limits_for_models({**limits_table, "max_program_voltage_v": 12.0}, models)
    with pytest.raises(LimitsConfigError, match=r"max_compliance_current_a: 1.2 .*2450"):
        check_limits_for_models({**limits_table, "max_compliance_current_a": 1.2},
                                {"smu": "2450"})


def test_a_bench_file_with_a_500_v_limit_exits_2_naming_the_field(tmp_path, capsys):
    text = (ROOT / "data" / "benches" / "sim.toml").read_text()
    bench = tmp_path / "bad.toml"
    bench.write_text(text.replace("max_read_voltage_v = 0.3", "max_read_voltage_v = 500"))
    assert main(["run", "conductance-map", "--bench", str(bench), "--out", str(tmp_path)]) == 2
    assert "limits.max_read_voltage_v" in capsys.readouterr().err
