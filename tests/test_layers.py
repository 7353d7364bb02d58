"""The layers: outside simulators/ (and tests) nothing imports the simulator, except the code
that builds a simulated bench; per-model knowledge lives in the one model table."""

import ast
from pathlib import Path

import pytest
from ftjlab.instruments.models import MODELS
from ftjlab.simulators import emulators

from ftjlab.config import MODEL_TERMINALS, load_bench_config

ROOT = Path(__file__).resolve().parents[1]
#: the device parameter dataclasses: the schema of a bench file's [array] table, no simulator
PARAMS = "ftjlab.simulators.params"
#: (file, enclosing function or None for module level) allowed to reach the simulator: the
#: simulated-bench builder, the in-process transport to it, the sim-server command
BUILDERS = {
    ("ftjlab/config.py", "build_sim_bench"),
    ("ftjlab/config.py", None),  # only under TYPE_CHECKING (the builder's return type)
    ("ftjlab/session.py", "_connect"),
    ("ftjlab/commands/sim_server.py", "run"),
}


def _simulator_imports(path: Path):
    tree = ast.parse(path.read_text(encoding="utf-8"))
    stack: list[str] = []

    def visit(node, function):
        for child in ast.iter_child_nodes(node):
            name = function
            if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef):
                name = child.name
            if isinstance(child, ast.ImportFrom | ast.Import):
                modules = ([child.module or ""] if isinstance(child, ast.ImportFrom)
                           else [a.name for a in child.names])
                for module in modules:
                    if module.startswith("ftjlab.simulators") or (
                        isinstance(child, ast.ImportFrom) and child.level and "simulators" in
                        (module or "")
                    ):
                        stack.append((module, function, child.lineno))
            visit(child, name)

    visit(tree, None)
    return stack


def test_nothing_outside_simulators_imports_the_simulator_but_the_bench_builder():
    offenders = []
    for folder in ("ftjlab", "instruments", "procedures"):
        for path in sorted((ROOT / folder).rglob("*.py")):
            rel = path.relative_to(ROOT).as_posix()
            for module, function, line in _simulator_imports(path):
                if module == PARAMS or (rel, function) in BUILDERS:
                    continue
                offenders.append(f"{rel}:{line} imports {module} (in {function or 'module'})")
    assert offenders == []


def test_the_wiring_types_live_in_the_core():
    from ftjlab.instruments import channel_specifiers
    from ftjlab.simulators import bench

    from ftjlab import wiring

    assert bench.Wiring is wiring.Wiring and bench.Line is wiring.Line
    # One relay type: the channel-specifier parser's, named by the wiring and the bench alike.
    assert wiring.Crosspoint is channel_specifiers.Crosspoint is bench.Crosspoint
    assert wiring.Crosspoint.__module__ == "ftjlab.instruments.channel_specifiers"


@pytest.mark.parametrize("model", sorted(MODELS))
def test_one_model_table_feeds_config_session_and_emulators(model):
    spec = MODELS[model]
    assert MODEL_TERMINALS[model] == spec.channels
    assert emulators.CHANNELS[model] == spec.channels
    if spec.emulator:
        assert emulators.emulator_class(model) is spec.emulator_class()
    assert spec.driver_class().__name__ == spec.driver.partition(":")[2]


def test_every_shipped_bench_parses_with_the_model_table():
    for path in sorted((ROOT / "data" / "benches").glob("*.toml")):
        config = load_bench_config(path)
        assert all(i.model in MODELS for i in config.instruments.values()), path
