"""One path to the array: outside ``simulators/`` and the tests, nothing reads the simulator's
objects (``session.sim``, ``FTJArray``, the simulated ``Bench``) - everything goes through the
controller and the drivers, and so through the safety guard.

An AST scan of every module of the application (``ftjlab/``, ``instruments/``,
``procedures/``, ``scripts/``). Allowed:

* ``ftjlab.simulators.params`` - the device's parameter dataclasses (configuration that a
  bench file also holds for a real array), importable anywhere;
* building the simulated bench and serving it - ``ftjlab/config.py`` (emulators),
  ``ftjlab/session.py`` (the in-process simulated bench; it owns ``session.sim``),
  ``ftjlab/commands/sim_server.py`` (``ftjlab sim-server``);
* the bench panel's read-only description of a simulated bench (``ftjlab/gui/panels.py``
  reads ``session.sim``).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SCANNED = ("ftjlab", "instruments", "procedures", "scripts")
PARAMS = "ftjlab.simulators.params"
BUILDERS = {"ftjlab/config.py", "ftjlab/session.py", "ftjlab/commands/sim_server.py"}
SIM_READERS = {"ftjlab/session.py", "ftjlab/gui/panels.py"}
SIM_OBJECTS = {"FTJArray", "Bench", "SimServer", "build_sim_bench"}


def _modules() -> list[Path]:
    out = []
    for top in SCANNED:
        for path in sorted((ROOT / top).rglob("*.py")):
            rel = path.relative_to(ROOT).as_posix()
            if rel.startswith("ftjlab/simulators/") or "/tests/" in rel:
                continue
            out.append(path)
    return out


def _simulator_module(path: Path, node: ast.ImportFrom | ast.Import) -> list[str]:
    """Names of simulator modules an import statement brings in."""
    if isinstance(node, ast.Import):
        names = [a.name for a in node.names]
    else:
        base = node.module or ""
        if node.level:  # relative: resolve against the module's package
            pkg = path.relative_to(ROOT).with_suffix("").parts[: -node.level]
            base = ".".join([*pkg, base] if base else pkg)
        names = [base] + [f"{base}.{a.name}" for a in node.names]
    hits = []
    for name in names:
        if name.startswith("ftjlab.simulators") or name.split(".")[0] == "simulators":
            hits.append(name.replace("simulators", "ftjlab.simulators", 1)
                        if name.startswith("simulators") else name)
    return hits


def violations(path: Path) -> list[str]:
    """What a module does that only the simulator path would do."""
    rel = path.relative_to(ROOT).as_posix()
    tree = ast.parse(path.read_text(), filename=rel)
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import | ast.ImportFrom):
            for name in _simulator_module(path, node):
                if name == "ftjlab.simulators" and isinstance(node, ast.ImportFrom):
                    continue  # the package itself: the imported names are checked below
                if name.startswith(PARAMS) or rel in BUILDERS:
                    continue
                out.append(f"{rel}:{node.lineno}: imports {name}")
        elif isinstance(node, ast.Attribute) and node.attr == "sim" and rel not in SIM_READERS:
            out.append(f"{rel}:{node.lineno}: reads .sim")
        elif isinstance(node, ast.Name) and node.id in SIM_OBJECTS and rel not in BUILDERS:
            out.append(f"{rel}:{node.lineno}: uses {node.id}")
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id == "getattr"
            and len(node.args) >= 2
            and isinstance(node.args[1], ast.Constant)
            and node.args[1].value == "sim"
            and rel not in SIM_READERS
        ):
            out.append(f"{rel}:{node.lineno}: reads .sim (getattr)")
    return out


def test_no_module_outside_the_simulators_reads_the_simulated_array():
    found = [v for path in _modules() for v in violations(path)]
    assert found == [], "second path to the array:\n" + "\n".join(found)


@pytest.mark.parametrize(
    ("source", "expect"),
    [
        ("x = session.sim.array\n", "reads .sim"),
        ("a = getattr(session, 'sim', None)\n", "reads .sim (getattr)"),
        ("from ftjlab.simulators.array import FTJArray\n", "imports ftjlab.simulators.array"),
        ("import ftjlab.simulators.bench\n", "imports ftjlab.simulators.bench"),
        ("from ..simulators import array\n", "imports ftjlab.simulators.array"),
        ("def f(a: FTJArray): pass\n", "uses FTJArray"),
    ],
)
def test_the_scan_finds_each_kind_of_access(tmp_path, monkeypatch, source, expect):
    """The scan itself: each kind of access in a module of the application is reported."""
    module = ROOT / "ftjlab" / "vae" / "_one_path_probe.py"
    monkeypatch.setattr(Path, "read_text", lambda self, *a, **k: source)
    assert any(expect in v for v in violations(module)), violations(module)


def test_the_allowed_uses_stay_allowed():
    """Device parameters anywhere; the bench panel's description; the session's builder."""
    for rel, source in [
        ("ftjlab/vae/x.py", "from ftjlab.simulators.params import ArrayParams\n"),
        ("ftjlab/gui/panels.py", "state = session.sim.describe()\n"),
        ("ftjlab/session.py", "from ftjlab.simulators.bench import Bench\nb = Bench()\n"),
    ]:
        path = ROOT / rel
        original = Path.read_text
        Path.read_text = lambda self, *a, _s=source, **k: _s  # type: ignore[method-assign]
        try:
            assert violations(path) == [], (rel, violations(path))
        finally:
            Path.read_text = original  # type: ignore[method-assign]
