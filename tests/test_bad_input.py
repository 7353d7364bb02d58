"""Bad input, adversarially: every case exits 2 with a message naming the field, within 10 s,
without a traceback, and without changing or adding a file.

The cases are generated: every numeric parameter of every procedure with NaN, infinities,
text and fractions; every command's options with out-of-range numbers; damaged run files
(truncated at several points, header only, junk, wrong structure, wrong attribute types) fed
to every command that reads files; bad bench files to every command that takes one; paths
that cannot be written. Most run in-process through ``ftjlab.cli.main`` (argparse errors end
in ``SystemExit(2)``); a few through a real subprocess.
"""

from __future__ import annotations

import json
import math
import os
import re
import resource
import subprocess
import sys
import time
from pathlib import Path

import h5py
import numpy as np
import pytest
from ftjlab.procedures import PROCEDURES, parameter_table

from ftjlab.cli import main
from ftjlab.store import RunWriter, StreamSpec

SIM_TOML = Path(__file__).resolve().parents[1] / "data" / "benches" / "sim.toml"
LONG = "x" * 300 + ".h5"


# ---------------------------------------------------------------------- the files


def _good_run(folder: Path, procedure: str, params: dict, streams: dict, data: dict) -> Path:
    writer = RunWriter.create(folder, procedure, params, {"seed": 1},
                              {k: StreamSpec(*v) for k, v in streams.items()})
    for name, block in data.items():
        writer.append(name, block)
    writer.finish("completed")
    return writer.path


def _with(path: Path, target: Path, edit) -> Path:
    target.write_bytes(path.read_bytes())
    with h5py.File(target, "r+") as f:
        edit(f, f["runs"][next(iter(f["runs"]))])
    return target


def _replace_attr(name, value):
    def edit(f, g):
        g.attrs[name] = value
    return edit


def _dataset_instead(which):
    def edit(f, g):
        if which == "runs":
            del f["runs"]
            f["runs"] = np.arange(3)
        else:
            run_id = g.name.rsplit("/", 1)[1]
            del f["runs"][run_id]
            f["runs"][run_id] = np.arange(3)
    return edit


def _current(data):
    def edit(f, g):
        del g["current"]
        g["current"] = data
    return edit


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> dict[str, Path]:
    """Good run files and damaged variants of them (module-wide, read-only for the cases)."""
    d = tmp_path_factory.mktemp("bad-input-files")
    rng = np.random.default_rng(3)
    trace = (1e-6 * (1 + 0.05 * (rng.random(20_000) < 0.5))).astype(np.float32)
    good = _good_run(d, "rtn-acquisition", {"bias_v": 0.8, "interval_s": 2e-4, "readings": 20_000},
                     {"current": (np.float32, "A"), "time": (np.float64, "s")},
                     {"current": trace, "time": np.arange(20_000) * 2e-4})
    out = {"good": good}
    raw = good.read_bytes()
    for name, n in (("trunc_1k", 1024), ("trunc_10", len(raw) // 10), ("trunc_50", len(raw) // 2),
                    ("trunc_90", len(raw) * 9 // 10), ("header_only", 48), ("empty", 0)):
        out[name] = d / f"{name}.h5"
        out[name].write_bytes(raw[:n])
    out["junk"] = d / "junk.h5"
    out["junk"].write_bytes(rng.integers(0, 256, 4096, dtype=np.uint8).tobytes())
    out["text"] = d / "text.h5"
    out["text"].write_text("this is not HDF5\n")
    out["no_runs"] = d / "no_runs.h5"
    with h5py.File(out["no_runs"], "w") as f:
        f.create_group("other")
    edits = {
        "runs_dataset": _dataset_instead("runs"),
        "run_dataset": _dataset_instead("run"),
        "params_badjson": _replace_attr("parameters", "{not json"),
        "params_list": _replace_attr("parameters", "[1, 2]"),
        "params_number": _replace_attr("parameters", 5),
        "status_array": _replace_attr("status", np.arange(3)),
        "status_bogus": _replace_attr("status", "exploded"),
        "procedure_int": _replace_attr("procedure", 7),
        "bench_list": _replace_attr("bench", "[1]"),
        "units_array": _replace_attr("units", np.ones(4)),
        "committed_text": lambda f, g: g["current"].attrs.__setitem__("committed", "many"),
        "interval_text": _replace_attr("parameters", json.dumps({"interval_s": "fast"})),
        "current_text": _current(np.array([b"a", b"b"] * 600)),
        "current_3d": _current(np.ones((40, 2, 2))),
    }
    for name, edit in edits.items():
        out[name] = _with(good, d / f"{name}.h5", edit)
    # a killed writer's file (its superblock records an early end of file, so a cut copy
    # passes the size check) cut short: the data, not the structure, is damaged
    killed = d / "killed"
    killed.mkdir()
    rig = Path(__file__).with_name("crash_rig.py")
    subprocess.run([sys.executable, str(rig), str(killed), "torn", "40"], capture_output=True)
    (source,) = killed.glob("*.h5")
    for frac in (20, 50):
        data = source.read_bytes()
        out[f"killed_cut_{frac}"] = d / f"killed_cut_{frac}.h5"
        out[f"killed_cut_{frac}"].write_bytes(data[: len(data) * frac // 100])
    tuning = _good_run(d, "rtn-tuning", {}, {"points": (np.float64, "", (3,))},
                       {"points": np.ones((4, 3))})
    out["tuning_narrow"] = tuning
    out["folder"] = d / "a-folder"
    out["folder"].mkdir()
    out["missing"] = d / "missing.h5"
    out["long"] = d / LONG
    out["blocker"] = d / "blocker"
    out["blocker"].write_text("a file where a folder is expected\n")
    benches = {
        "bench_huge": (r"(?m)^rows = 32\b(.*)\ncols = 32\b", "rows = 100000\\1\ncols = 100000"),
        "bench_limit_key": (r"(?m)^\[limits\].*$", "[limits]\nmax_sample_voltage = 1.0"),
        "bench_limit_nan": (r"(?m)^max_read_voltage_v = 0.3", "max_read_voltage_v = nan"),
        "bench_toml": (r"(?m)^\[limits\]", "[limits"),
        "bench_rows0": (r"(?m)^rows = 32\b", "rows = 0"),
    }
    text = SIM_TOML.read_text()
    for name, (pattern, new) in benches.items():
        changed, n = re.subn(pattern, new, text, count=1)
        assert n == 1, name
        out[name] = d / f"{name}.toml"
        out[name].write_text(changed)
    return out


# ---------------------------------------------------------------------- the cases

#: (damaged file, token the message must contain)
FILE_FAMILIES = {
    "trunc_1k": "truncated", "trunc_10": "truncated", "trunc_50": "truncated",
    "trunc_90": "truncated", "header_only": "truncated", "empty": "HDF5", "junk": "HDF5",
    "text": "HDF5", "no_runs": "/runs", "runs_dataset": "/runs", "run_dataset": "/runs/",
    "params_badjson": "parameters", "params_list": "parameters", "params_number": "parameters",
    "status_array": "status", "status_bogus": "status", "procedure_int": "procedure",
    "bench_list": "bench", "units_array": "units", "committed_text": "committed",
    "folder": "no such file", "missing": "no such file", "long": "255",
}
FILE_COMMANDS = {
    "inspect": ["inspect", "{F}"],
    "export-npz": ["export", "{F}", "--format", "npz", "--out", "{OUT}/x.npz"],
    "export-csv": ["export", "{F}", "--format", "csv", "--out", "{OUT}/csv"],
    "rtn-analyze": ["rtn-analyze", "{F}", "--no-store"],
    "rng-test": ["rng-test", "{F}", "--no-store"],
    "rtn-tune": ["rtn-tune", "{F}", "--no-store"],
    "repair": ["repair", "{F}"],
}
#: families a command may legitimately accept (repair fixes what it can read)
ACCEPTS = {"repair": {"params_badjson", "params_list", "params_number", "status_array",
                      "status_bogus", "procedure_int", "bench_list", "units_array",
                      "committed_text", "no_runs", "runs_dataset", "run_dataset"}}

CASES: list[tuple[str, list[str], str]] = []
for family, token in FILE_FAMILIES.items():
    for cmd, argv in FILE_COMMANDS.items():
        if family not in ACCEPTS.get(cmd, ()):
            CASES.append((f"{cmd}-{family}", [a.replace("{F}", "{" + family + "}") for a in argv],
                          token))
for family, token in {"interval_text": "interval_s", "current_text": "current",
                      "current_3d": "current"}.items():
    for cmd in ("rtn-analyze", "rng-test"):
        CASES.append((f"{cmd}-{family}", [cmd, "{" + family + "}", "--no-store"], token))
CASES.append(("rtn-tune-narrow-points", ["rtn-tune", "{tuning_narrow}", "--no-store"], "points"))
for family in ("killed_cut_20", "killed_cut_50"):
    for cmd in ("export-npz", "export-csv", "rtn-analyze", "rng-test"):
        CASES.append((f"{cmd}-{family}", [a.replace("{F}", "{" + family + "}")
                                           for a in FILE_COMMANDS[cmd]], "cannot be read"))

# every numeric parameter of every procedure: NaN, infinity, text, a fraction for integers
_BAD_VALUES = {"FloatParameter": ["nan", ("-inf", "abc", "1e999")], "IntegerParameter": ["1.5"]}
for proc, cls in PROCEDURES.items():
    for i, (pname, parameter) in enumerate(parameter_table(cls).items()):
        for value in _BAD_VALUES.get(type(parameter).__name__, []):
            value = value if isinstance(value, str) else value[i % len(value)]
            CASES.append((f"run-{proc}-{pname}={value}",
                          ["run", proc, "--set", f"{pname}={value}", "--out", "{OUT}/runs"],
                          pname))

_run = ["run", "rtn-acquisition", "--out", "{OUT}/runs", "--quiet"]
CASES += [
    ("run-width-short", ["run", "write-verify", "--set", "width=1e-9", "--out", "{OUT}/r"],
     "width"),
    ("run-endurance-width", ["run", "endurance", "--set", "width=1e-9", "--out", "{OUT}/r"],
     "width"),
    ("run-erase-width", ["run", "switching-probability", "--set", "erase_width=1",
                         "--out", "{OUT}/r"], "erase_width"),
    ("run-t-stop", ["run", "switching-probability", "--set", "t_stop=0.5", "--out", "{OUT}/r"],
     "t_stop"),
    ("run-retention-width", ["run", "retention", "--set", "width=1e-9", "--out", "{OUT}/r"],
     "width"),
    ("run-rows-used", ["run", "write-verify", "--set", "rows_used=64", "--out", "{OUT}/r"],
     "rows_used"),
    ("run-pairs-used", ["run", "write-verify", "--set", "pairs_used=100", "--out", "{OUT}/r"],
     "pairs_used"),
    ("run-bias-limit", [*_run, "--set", "bias_v=1.4"], "max_sample_voltage_v"),
    ("run-row-outside", [*_run, "--set", "row=40"], "row"),
    ("run-unknown-param", [*_run, "--set", "speed=3"], "speed"),
    ("run-no-equals", [*_run, "--set", "bias_v"], "--set"),
    ("run-unknown-proc", ["run", "nonsense"], "nonsense"),
    ("run-seed-neg", [*_run, "--seed", "-1"], "--seed"),
    ("run-seed-text", [*_run, "--seed", "x"], "--seed"),
    ("run-out-under-file", ["run", "rtn-acquisition", "--out", "{blocker}/runs"], "--out"),
    ("run-out-is-file", ["run", "rtn-acquisition", "--out", "{blocker}"], "--out"),
    ("run-out-long", ["run", "rtn-acquisition", "--out", "{OUT}/" + "y" * 300], "--out"),
    ("run-resource-pair", [*_run, "--resource", "smu"], "--resource"),
    ("run-resource-unknown", [*_run, "--resource", "nope=TCPIP0::1.2.3.4::5::SOCKET"], "nope"),
    ("run-bench-missing", [*_run, "--bench", "{missing}"], "missing"),
]
for b in ("bench_huge", "bench_limit_key", "bench_limit_nan", "bench_toml", "bench_rows0"):
    token = {"bench_huge": "fit", "bench_limit_key": "max_sample_voltage",
             "bench_limit_nan": "max_read_voltage_v", "bench_toml": "TOML",
             "bench_rows0": "rows"}[b]
    for cmd in (["run", "conductance-map", "--out", "{OUT}/r"], ["gui"], ["sim-server"],
                ["rng-test", "--no-store"], ["rtn-tune", "--no-store"]):
        CASES.append((f"{cmd[0]}-{b}", [*cmd, "--bench", "{" + b + "}"], token))

# rng-test: bench numbers, post-processing, names, lengths
for opt, values in {
    "--bias-v": ["nan", "inf", "5", "-5", "abc"], "--spacing-s": ["0", "-1", "nan", "inf"],
    "--xor": ["0", "-1", "1.5", "x"], "--length": ["10", "-1", "nan"],
    "--sequences": ["0", "-1"], "--seed": ["-1", "x"], "--p": ["0", "1", "nan", "2"],
}.items():
    for v in values:
        source = ["--reference", "biased"] if opt == "--p" else ["--bench"]
        CASES.append((f"rng-test{opt}={v}", ["rng-test", *source, opt, v, "--no-store"], opt))
for v in ("xor:0", "xor:-1", "xor:x", "xor:", "foo", "vn:2"):
    CASES.append((f"rng-test--post={v}", ["rng-test", "{good}", "--post", v], "--post"))
for v in ("/runs", "/runs/x/current", "", "..", ".", "a/b", "../current", "x" * 100):
    CASES.append((f"rng-test--name={v[:12]}", ["rng-test", "{good}", "--name", v], "--name"))
    CASES.append((f"rtn-analyze--name={v[:12]}", ["rtn-analyze", "{good}", "--name", v],
                  "--name"))
    CASES.append((f"rtn-tune--name={v[:12]}", ["rtn-tune", "--bench", "--name", v], "--name"))
CASES += [
    ("rng-test-two-sources", ["rng-test", "{good}", "--bench"], "source"),
    ("rng-test-no-source", ["rng-test"], "source"),
    ("rng-test-out-file", ["rng-test", "--reference", "pcg64", "--out", "{blocker}"], "--out"),
    ("rng-test-cell", ["rng-test", "{good}", "--cell", "-1"], "--cell"),
    ("rng-test-cell-1", ["rng-test", "{good}", "--cell", "1", "--no-store"], "cell"),
    ("rng-test-dataset", ["rng-test", "{good}", "--dataset", "nope", "--no-store"], "--dataset"),
    ("rng-test-run", ["rng-test", "{good}", "--run", "nope", "--no-store"], "--run"),
]
# rtn-analyze
for opt, values in {"--traps": ["0", "9", "x"], "--max-traps": ["0", "9", "x"],
                    "--cell": ["-1", "x"], "--interval-s": ["0", "-1", "nan", "inf"]}.items():
    for v in values:
        CASES.append((f"rtn-analyze{opt}={v}", ["rtn-analyze", "{good}", opt, v, "--no-store"],
                      opt))
CASES += [
    ("rtn-analyze-dataset", ["rtn-analyze", "{good}", "--dataset", "nope", "--no-store"],
     "dataset"),
    ("rtn-analyze-run", ["rtn-analyze", "{good}", "--run", "nope", "--no-store"], "--run"),
]
# rtn-tune
for opt, values in {"--biases": ["nan", "5", "-1", "a", ","], "--times": ["0", "nan", "-1"],
                    "--dim": ["0", "-1"], "--cells-per-dim": ["0"], "--samples": ["5", "x"],
                    "--seed": ["-1"]}.items():
    for v in values:
        CASES.append((f"rtn-tune{opt}={v}", ["rtn-tune", "--bench", opt, v, "--no-store"], opt))
CASES += [
    ("rtn-tune-no-source", ["rtn-tune"], "source"),
    ("rtn-tune-out-file", ["rtn-tune", "--bench", "--out", "{blocker}"], "--out"),
    ("rtn-tune-not-tuning", ["rtn-tune", "{good}", "--no-store"], "points"),
]
# vae-eval, vae-tune, demo
for opt, values in {"--interval": ["0", "nan", "-1", "x"],
                    "--bias": ["5", "nan", "-1", "0"], "--samples": ["0", "-5", "x"],
                    "--bits": ["0", "99"], "--seed": ["-1"], "--modes": ["foo", ",", "software,x"],
                    "--model": ["{missing}", "{folder}"], "--json": ["{blocker}", "{folder}",
                                                                       "{blocker}/x.json"],
                    "--grid": ["{blocker}/g"]}.items():
    for v in values:
        CASES.append((f"vae-eval{opt}={v}", ["vae-eval", opt, v], opt))
for opt, values in {"--biases": ["5", "nan", "", "-1", "a", "0"], "--intervals": ["0", "nan", "-1"],
                    "-n": ["0", "x"], "--seed": ["-1"], "--out": ["{blocker}", "{blocker}/x"]
                    }.items():
    for v in values:
        CASES.append((f"vae-tune{opt}={v}", ["vae-tune", opt, v], "--samples" if opt == "-n"
                      else opt))
for opt, values in {"--out": ["{blocker}", "{blocker}/x", "{good}"], "--seed": ["-1", "x"],
                    "--samples": ["5", "0", "-1", "x"]}.items():
    for v in values:
        CASES.append((f"demo{opt}={v}", ["demo", opt, v], opt))
# export, inspect, repair, gui, sim-server, bench
CASES += [
    ("export-npz-exists", ["export", "{good}", "--format", "npz", "--out", "{blocker}"], "--out"),
    ("export-npz-no-folder", ["export", "{good}", "--format", "npz", "--out", "{OUT}/no/x.npz"],
     "--out"),
    ("export-npz-out-folder", ["export", "{good}", "--format", "npz", "--out", "{folder}"],
     "--out"),
    ("export-npz-out-long", ["export", "{good}", "--format", "npz", "--out", "{OUT}/" + LONG],
     "--out"),
    ("export-csv-under-file", ["export", "{good}", "--format", "csv", "--out", "{blocker}/c"],
     "--out"),
    ("export-csv-is-file", ["export", "{good}", "--format", "csv", "--out", "{blocker}"], "--out"),
    ("export-format", ["export", "{good}", "--format", "xls"], "--format"),
    ("export-run", ["export", "{good}", "--format", "npz", "--run", "nope"], "--run"),
    ("inspect-none", ["inspect"], "file"),
    ("repair-none", ["repair"], "file"),
    ("gui-seed", ["gui", "--seed", "-1"], "--seed"),
    ("gui-quit-after", ["gui", "--quit-after", "nan"], "--quit-after"),
    ("gui-quit-after-0", ["gui", "--quit-after", "0"], "--quit-after"),
    ("gui-out", ["gui", "--out", "{blocker}"], "--out"),
    ("gui-screenshots", ["gui", "--screenshots", "{blocker}/s"], "--screenshots"),
    ("gui-bench-missing", ["gui", "--bench", "{missing}"], "missing"),
    ("sim-server-host", ["sim-server", "--host", "8.8.8.8"], "--host"),
    ("sim-server-host-name", ["sim-server", "--host", "no-such-host.invalid"], "--host"),
    ("sim-server-seed", ["sim-server", "--seed", "-1"], "--seed"),
    ("bench-json", ["bench", "--json", "{blocker}/x.json"], "--json"),
    ("bench-json-folder", ["bench", "--json", "{folder}"], "--json"),
    ("unknown-command", ["frobnicate"], "frobnicate"),
    # other helpers' commands, through the same vocabulary
    ("diffuse-samples", ["diffuse", "-n", "0"], "--samples"),
    ("diffuse-modes", ["diffuse", "--modes", "foo"], "--modes"),
    ("diffuse-seed", ["diffuse", "--seed", "-1"], "--seed"),
    ("diffuse-max-reuse", ["diffuse", "--max-reuse", "-1"], "--max-reuse"),
    ("safe-bench-missing", ["safe", "--bench", "{missing}"], "missing"),
    ("safe-bench-limits", ["safe", "--bench", "{bench_limit_key}"], "max_sample_voltage"),
    ("safe-resource", ["safe", "--resource", "smu"], "--resource"),
    ("campaign-missing", ["campaign", "run", "{missing}"], "missing"),
    ("campaign-analyze-file", ["campaign", "analyze", "{blocker}"], "DIR"),
]

#: the handful run through a real process (the rest in-process)
SUBPROCESS = {"rng-test--post=xor:0", "inspect-trunc_10", "run-write-verify-width=nan",
              "gui-bench_huge"}


def _resolve(argv: list[str], files: dict[str, Path], out: Path) -> list[str]:
    resolved = []
    for a in argv:
        a = a.replace("{OUT}", str(out))
        for key, path in files.items():
            a = a.replace("{" + key + "}", str(path))
        resolved.append(a)
    return resolved


def _snapshot(*folders: Path) -> dict[str, tuple[int, int, int] | str]:
    snap = {}
    for folder in folders:
        for p in sorted(folder.rglob("*")):
            st = p.stat()  # any write changes the modification time (ns) or the size
            snap[str(p)] = (st.st_size, st.st_mtime_ns, st.st_ino) if p.is_file() else "dir"
    return snap


def _children_cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _run_in_process(argv: list[str], capsys) -> tuple[int, str]:
    try:
        code = main(argv)
    except SystemExit as exc:  # argparse
        code = exc.code
    return code, capsys.readouterr().err


def test_there_are_enough_generated_cases_across_every_command():
    assert len(CASES) >= 300
    commands = {argv[0] for _, argv, _ in CASES}
    import pkgutil

    from ftjlab import commands as package

    names = {m.name.replace("_cmd", "").replace("_", "-") for m in
             pkgutil.iter_modules(package.__path__) if not m.name.startswith("_")}
    missing = names - commands
    assert not missing, missing
    assert len({c for c, _, _ in CASES}) == len(CASES)


@pytest.mark.parametrize(("case", "argv", "token"), CASES, ids=[c for c, _, _ in CASES])
def test_bad_input_exits_2_naming_the_field(case, argv, token, files, tmp_path, capsys,
                                           monkeypatch):
    monkeypatch.chdir(tmp_path)  # default outputs (./runs, ./demo-out) would land here
    out = tmp_path / "out"
    out.mkdir()
    args = _resolve(argv, files, out)
    before = _snapshot(files["good"].parent, tmp_path)
    t0 = time.perf_counter()
    if case in SUBPROCESS:
        # a new interpreter imports the whole stack (~2 s of CPU): on a loaded CI machine the
        # wall time says little, so its CPU time is held to the 10 s (the wall time to 60 s)
        cpu0 = _children_cpu_s()
        proc = subprocess.run([sys.executable, "-m", "ftjlab", *args], capture_output=True,
                              text=True, timeout=60, env=os.environ | {"QT_QPA_PLATFORM":
                                                                       "offscreen"})
        code, err = proc.returncode, proc.stderr
        elapsed = _children_cpu_s() - cpu0
    else:
        code, err = _run_in_process(args, capsys)
        elapsed = time.perf_counter() - t0
    assert code == 2, f"exit {code}: {err[-2000:]}"
    assert "Traceback" not in err, err
    assert token in err, f"{token!r} not in: {err[-1500:]}"
    assert elapsed < 10, elapsed
    assert _snapshot(files["good"].parent, tmp_path) == before


def test_a_long_file_name_is_named_and_nothing_is_created(files, tmp_path, capsys):
    assert math.isfinite(len(LONG)) and len(LONG) > 255
    code, err = _run_in_process(["inspect", str(tmp_path / LONG)], capsys)
    assert code == 2 and "255" in err
