"""Bench config: the shipped benches load, errors name <file>:<key>, the sim bench builds."""

from __future__ import annotations

import copy
import re

import numpy as np
import pytest
from ftjlab.simulators.emulators.keithley707b import Keithley707B
from ftjlab.simulators.emulators.keithley2636b import Keithley2636B

from ftjlab.config import (
    build_sim_bench,
    default_bench_path,
    load_bench_config,
    parse_bench_config,
)
from ftjlab.errors import BadInput

SMALL = """
seed = 3

[instruments.smu]
model = "2636B"
resource = "sim"

[instruments.matrix]
model = "707B"
resource = "sim"
cards = 2

[array]
rows = 4
cols = 6

[array.traps]
amplitude = 0.08

[wiring]
wl_on_threshold_v = 1.2

[wiring.rows]
A = "smu.a"
B = "smu.b"

[wiring.columns]
1 = ["WL0", "WL1", "WL2", "WL3"]
2 = ["BL0", "BL1", "BL2", "", "BL3", "BL4", "BL5"]

[limits]
max_read_voltage_v = 0.3
max_sample_voltage_v = 1.2
max_program_voltage_v = 4.5
max_compliance_current_a = 1e-3
min_pulse_width_s = 1e-8
max_pulse_width_s = 1e-2
"""


def small() -> dict:
    import tomllib

    return tomllib.loads(SMALL)


def error_of(data: dict, source: str = "bench.toml") -> str:
    with pytest.raises(BadInput) as err:
        parse_bench_config(data, source)
    return str(err.value)


def test_shipped_sim_bench_loads():
    config = load_bench_config()
    assert config.source == "sim.toml"
    assert {n: i.model for n, i in config.instruments.items()} == {
        "smu": "2636B", "pg": "81160A", "matrix": "707B"}
    assert all(i.simulated for i in config.instruments.values())
    assert (config.array.rows, config.array.cols) == (32, 32)
    assert config.wiring.slots == 6
    lines = sorted(config.wiring.columns.values())
    assert len(lines) == 64 and {f"WL{i}" for i in range(32)} <= set(lines)
    assert config.wiring.rows["A"] == "smu.a" and config.wiring.rows["C"] == "pg.1"
    assert config.matrix.name == "matrix"
    assert load_bench_config(default_bench_path()).wiring.columns == config.wiring.columns


def test_shipped_limits_parse_with_the_safety_layer():
    from ftjlab.instruments.safety import Limits

    limits = Limits.from_dict(load_bench_config().limits)
    assert limits.max_read_voltage_v == 0.3


def test_template_for_a_real_bench_is_valid():
    config = load_bench_config(default_bench_path().with_name("template-real.toml"))
    assert not any(i.simulated for i in config.instruments.values())
    assert all("::" in i.resource for i in config.instruments.values())


def test_small_config_fields():
    config = parse_bench_config(small(), "bench.toml")
    assert config.seed == 3
    assert config.wl_on_threshold_v == 1.2
    assert config.array.traps.amplitude == 0.08
    assert config.wiring.columns[(2, 5)] == "BL3"  # "" leaves column 4 unconnected
    assert (2, 4) not in config.wiring.columns
    assert config.instruments["smu"].terminals == ("smu.a", "smu.b")
    snap = config.snapshot()
    assert snap["wiring"]["rows"] == {"A": "smu.a", "B": "smu.b"}
    assert snap["instruments"]["matrix"]["cards"] == 2


def test_build_sim_bench_wires_emulators_to_one_bench():
    config = parse_bench_config(small(), "bench.toml")
    bench, emulators = build_sim_bench(config)
    assert bench.seed == 3
    assert isinstance(emulators["smu"], Keithley2636B) and isinstance(emulators["matrix"],
                                                                      Keithley707B)
    assert emulators["smu"].bench is bench is emulators["matrix"].bench
    emulators["matrix"].write('channel.exclusiveclose("1B03,2A06")')  # WL2, BL4
    emulators["smu"].write("smub.source.levelv = 1.5 smub.source.output = 1 "
                           "smua.source.levelv = 0.2 smua.source.output = 1")
    emulators["smu"].write("print(smua.measure.i())")
    current = float(emulators["smu"].read())
    expected = bench.array.conductance()[2, 4] * float(bench.array.current_factor(0.2))
    assert current == pytest.approx(expected, rel=0.02)
    other, _ = build_sim_bench(config, seed=9)
    assert other.seed == 9
    assert not np.array_equal(other.array.conductance(), bench.array.conductance())


@pytest.mark.parametrize(
    ("edit", "key", "words"),
    [
        (lambda d: d.update(bogus=1), "bogus", "unknown key"),
        (lambda d: d.pop("instruments"), "instruments", "missing"),
        (lambda d: d.pop("limits"), "limits", "missing"),
        (lambda d: d.update(instruments={}), "instruments", "no instruments"),
        (lambda d: d.update(seed=-1), "seed", ">= 0"),
        (lambda d: d.update(seed="x"), "seed", "integer"),
        (lambda d: d["instruments"]["smu"].update(model="2400"), "instruments.smu.model",
         "unknown model"),
        (lambda d: d["instruments"]["smu"].pop("model"), "instruments.smu.model", "missing"),
        (lambda d: d["instruments"]["smu"].update(resource=5), "instruments.smu.resource",
         "string"),
        (lambda d: d["instruments"]["smu"].update(resource="COM3"), "instruments.smu.resource",
         "VISA"),
        (lambda d: d["instruments"]["smu"].update(colour="red"), "instruments.smu.colour",
         "unknown key"),
        (lambda d: d["instruments"]["smu"].update(cards=2), "instruments.smu.cards",
         "unknown key"),
        (lambda d: d["instruments"]["smu"].update(linefreq=55), "instruments.smu.linefreq",
         "50 or 60"),
        (lambda d: d["instruments"]["matrix"].update(cards=7), "instruments.matrix.cards",
         "1..6"),
        (lambda d: d["instruments"].pop("matrix"), "instruments", "switch matrix"),
        (lambda d: d["array"].update(rows=0), "array.rows", ">= 1"),
        (lambda d: d["array"]["traps"].update(amplitude=-1.0), "array.traps.amplitude", "> 0"),
        (lambda d: d["array"].update(colour=1), "array.colour", "unknown key"),
        (lambda d: d["wiring"].update(extra=1), "wiring.extra", "unknown key"),
        (lambda d: d["wiring"].update(wl_on_threshold_v="high"), "wiring.wl_on_threshold_v",
         "number"),
        (lambda d: d["wiring"].pop("rows"), "wiring.rows", "missing"),
        (lambda d: d["wiring"]["rows"].update(J="smu.a"), "wiring.rows.J", "A-H"),
        (lambda d: d["wiring"]["rows"].update(C="pg.1"), "wiring.rows.C", "not declared"),
        (lambda d: d["wiring"]["rows"].update(C="smu.c"), "wiring.rows.C", "no terminal"),
        (lambda d: d["wiring"]["rows"].update(C="smu.a"), "wiring.rows.C", "already on row A"),
        (lambda d: d["wiring"]["columns"].update({"3": ["WL0"]}), "wiring.columns.3", "1..2"),
        (lambda d: d["wiring"]["columns"].update({"1": ["WL9"]}), "wiring.columns.1[0]",
         "outside"),
        (lambda d: d["wiring"]["columns"].update({"1": ["WL0", "WL0"]}), "wiring.columns.1[1]",
         "already wired"),
        (lambda d: d["wiring"]["columns"].update({"1": ["XL0"]}), "wiring.columns.1[0]",
         "not an array line"),
        (lambda d: d["wiring"]["columns"].update({"1": "WL0"}), "wiring.columns.1", "array"),
        (lambda d: d["wiring"]["columns"].update({"1": ["WL0"] * 13}), "wiring.columns.1",
         "12 columns"),
        (lambda d: d["limits"].update(max_read_voltage_v="0.3"), "limits.max_read_voltage_v",
         "number"),
        (lambda d: d["limits"].update(max_read_voltage_v=-1), "limits.max_read_voltage_v",
         "negative"),
        (lambda d: d["limits"].update(pulse=[2, 1]), "limits.pulse", "larger than max"),
        (lambda d: d.update(limits={}), "limits", "empty"),
    ],
)
def test_errors_name_the_file_and_the_field(edit, key, words):
    data = copy.deepcopy(small())
    edit(data)
    message = error_of(data)
    assert message.startswith(f"bench.toml:{key}"), message
    assert re.search(re.escape(words), message), message


def test_file_errors_name_the_file(tmp_path):
    with pytest.raises(BadInput, match="no such bench config file"):
        load_bench_config(tmp_path / "missing.toml")
    bad = tmp_path / "broken.toml"
    bad.write_text("seed = = 1\n")
    with pytest.raises(BadInput, match=r"broken\.toml: not valid TOML"):
        load_bench_config(bad)
    typo = tmp_path / "typo.toml"
    typo.write_text(SMALL.replace("[wiring.rows]", "[wiring.row]"))
    with pytest.raises(BadInput, match=r"typo\.toml:wiring\.row: unknown key"):
        load_bench_config(typo)


def test_missing_columns_take_the_default_layout():
    data = small()
    del data["wiring"]["columns"]
    data["instruments"]["matrix"]["cards"] = 6
    config = parse_bench_config(data)
    assert config.wiring.columns[(1, 1)] == "WL0" and config.wiring.columns[(2, 1)] == "BL0"


def test_cli_reports_config_errors_with_exit_code_2(tmp_path, capsys):
    from ftjlab.cli import main

    bad = tmp_path / "bad.toml"
    bad.write_text(SMALL.replace('model = "2636B"', 'model = "9999"'))
    assert main(["sim-server", "--bench", str(bad)]) == 2
    assert "bad.toml:instruments.smu.model" in capsys.readouterr().err


def test_shipped_sim2450_bench_loads_and_builds():
    from ftjlab.config import build_sim_bench

    config = load_bench_config(default_bench_path().with_name("sim-2450.toml"))
    assert {n: i.model for n, i in config.instruments.items()} == {
        "smu": "2450", "gate": "2450", "pg": "33500B", "matrix": "707B"}
    assert config.wiring.rows == {"A": "smu.1", "B": "gate.1", "C": "pg.1", "D": "pg.2"}
    assert config.wiring.columns == load_bench_config().wiring.columns
    _, emulators = build_sim_bench(config, seed=1)
    assert set(emulators) == {"smu", "gate", "pg", "matrix"}
