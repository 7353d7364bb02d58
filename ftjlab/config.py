"""Bench configuration: which instruments, how the matrix is wired, the array, the limits.

A bench config is a TOML file (``--bench PATH``; default: the simulated bench shipped as
``ftjlab/data/benches/sim.toml``)::

    seed = 2026                      # optional: seed of the simulated bench

    [instruments.smu]                # name -> model and VISA resource ("sim" = emulated)
    model = "2636B"
    resource = "sim"                 # or "TCPIP0::192.168.0.10::5025::SOCKET"

    [instruments.matrix]
    model = "707B"
    resource = "sim"
    cards = 6                        # 8x12 matrix cards in slots 1..cards

    [array]                          # geometry + optional physics overrides (ArrayParams)
    rows = 32
    cols = 32
    [array.traps]
    amplitude = 0.05

    [wiring]
    wl_on_threshold_v = 1.0          # a word line is on at or above this gate voltage
    [wiring.rows]                    # matrix rows A-H -> instrument terminals
    A = "smu.a"
    B = "smu.b"
    [wiring.columns]                 # slot -> array line on columns 01, 02, ... ("" = none)
    1 = ["WL0", "WL1", "WL2"]

    [limits]                         # raw table; parsed by ftjlab.instruments.safety
    max_read_voltage_v = 0.3

Loading is strict: an unknown key, a wrong type, a terminal of an undeclared instrument, a
line outside the array... raise :class:`~ftjlab.errors.BadInput` whose message starts with
``<file>:<dotted.key>:``, and nothing is built from a half-valid file.
"""

from __future__ import annotations

import importlib.resources
import math
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ftjlab.errors import BadInput
from ftjlab.instruments.models import MODELS
from ftjlab.simulators.params import ArrayParams, ParameterError, from_mapping
from ftjlab.validate import memory_cells
from ftjlab.wiring import (
    COLUMNS_PER_CARD,
    MAX_SLOTS,
    ROW_LETTERS,
    WL_ON_THRESHOLD_V,
    Line,
    Wiring,
    terminal_name,
)

if TYPE_CHECKING:
    from ftjlab.simulators.bench import Bench

#: Supported models -> their channel names (terminals are "<instrument>.<channel>").
MODEL_TERMINALS: dict[str, tuple[str, ...]] = {m: s.channels for m, s in MODELS.items()}
MATRIX_MODELS = tuple(m for m, s in MODELS.items() if s.kind == "matrix")
SIM = "sim"
_COMMON_KEYS = {"model": str, "resource": str, "timeout_ms": int}
#: Model-specific instrument keys, with their type (instruments/models.py).
_MODEL_KEYS: dict[str, dict[str, type]] = {m: dict(s.bench_keys) for m, s in MODELS.items()}
_UNKNOWN_PARAM = re.compile(r"^unknown parameter\(s\): ([\w.]+)[^(]*\(known: (.*)\)$")
_TOP_KEYS = ("description", "seed", "instruments", "array", "wiring", "limits")


@dataclass(frozen=True)
class InstrumentConfig:
    """One instrument of the bench."""

    name: str
    model: str
    resource: str
    timeout_ms: int | None = None
    options: Mapping[str, Any] = field(default_factory=dict)

    @property
    def simulated(self) -> bool:
        """True if the bench emulates this instrument (resource ``"sim"``)."""
        return self.resource == SIM

    @property
    def terminals(self) -> tuple[str, ...]:
        """Bench terminal names of this instrument, e.g. ``("smu.a", "smu.b")``."""
        return tuple(terminal_name(self.name, ch) for ch in MODEL_TERMINALS[self.model])


@dataclass(frozen=True)
class BenchConfig:
    """A validated bench config (see the module docstring for the file format)."""

    source: str
    instruments: Mapping[str, InstrumentConfig]
    wiring: Wiring
    array: ArrayParams
    limits: Mapping[str, Any]
    seed: int | None = None
    wl_on_threshold_v: float = WL_ON_THRESHOLD_V
    description: str = ""
    raw: Mapping[str, Any] = field(default_factory=dict, repr=False)

    @property
    def matrix(self) -> InstrumentConfig:
        """The switch matrix instrument."""
        return next(i for i in self.instruments.values() if i.model in MATRIX_MODELS)

    def snapshot(self) -> dict[str, Any]:
        """JSON-ready description of the bench (for run metadata)."""
        return {
            "source": self.source,
            "description": self.description,
            "seed": self.seed,
            "instruments": {
                n: {"model": i.model, "resource": i.resource, **dict(i.options)}
                for n, i in self.instruments.items()
            },
            "wiring": {
                "wl_on_threshold_v": self.wl_on_threshold_v,
                "rows": dict(self.wiring.rows),
                "columns": {f"{s}/{c:02d}": line
                            for (s, c), line in sorted(self.wiring.columns.items())},
            },
            "array": dict(self.raw.get("array", {})),
            "limits": dict(self.limits),
        }


class _Checker:
    """Builds error messages ``<source>:<key>: <problem>``."""

    def __init__(self, source: str) -> None:
        self.source = source

    def fail(self, key: str, problem: str) -> BadInput:
        return BadInput(f"{self.source}:{key}: {problem}")

    def table(self, data: Any, key: str) -> dict[str, Any]:
        if not isinstance(data, dict):
            raise self.fail(key, f"expected a table, got {_kind(data)}")
        return data

    def known(self, data: Mapping[str, Any], key: str, allowed: Any) -> None:
        unknown = sorted(set(data) - set(allowed))
        if unknown:
            prefix = f"{key}." if key else ""
            raise self.fail(f"{prefix}{unknown[0]}",
                            f"unknown key (known: {', '.join(sorted(allowed))})")

    def typed(self, value: Any, kind: type, key: str) -> Any:
        if kind is int:
            if isinstance(value, bool) or not isinstance(value, int):
                raise self.fail(key, f"expected an integer, got {_kind(value)} {value!r}")
        elif kind is float:
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise self.fail(key, f"expected a number, got {_kind(value)} {value!r}")
            if not math.isfinite(value):
                raise self.fail(key, f"must be finite, got {value!r}")
            value = float(value)
        elif not isinstance(value, kind):
            raise self.fail(key, f"expected a {_KIND_NAMES.get(kind, kind.__name__)}, "
                                 f"got {_kind(value)} {value!r}")
        return value


_KIND_NAMES: dict[type, str] = {dict: "table", list: "array", str: "string", bool: "boolean",
                                int: "integer", float: "number"}


def _kind(value: Any) -> str:
    return _KIND_NAMES.get(type(value), type(value).__name__)


def parse_bench_config(data: Mapping[str, Any], source: str = "<bench config>") -> BenchConfig:
    """Validate a TOML-parsed mapping and build a :class:`BenchConfig` (BadInput on error)."""
    c = _Checker(source)
    data = c.table(dict(data), "(top level)")
    c.known(data, "", _TOP_KEYS)
    for required in ("instruments", "wiring", "limits"):
        if required not in data:
            raise c.fail(required, "missing (every bench config needs it)")
    description = c.typed(data.get("description", ""), str, "description")
    seed = data.get("seed")
    if seed is not None:
        seed = c.typed(seed, int, "seed")
        if seed < 0:
            raise c.fail("seed", f"must be >= 0, got {seed}")
    instruments = _instruments(c, data["instruments"])
    array = _array(c, data.get("array", {}))
    if array.rows * array.cols > memory_cells():
        raise c.fail("array", f"{array.rows} x {array.cols} cells do not fit in this machine's "
                     f"memory (at most {memory_cells()} simulated cells)")
    wiring, threshold = _wiring(c, data["wiring"], instruments, array)
    limits = _limits(c, data["limits"])
    return BenchConfig(
        source=source, instruments=instruments, wiring=wiring, array=array, limits=limits,
        seed=seed, wl_on_threshold_v=threshold, description=description, raw=data,
    )


def _instruments(c: _Checker, data: Any) -> dict[str, InstrumentConfig]:
    table = c.table(data, "instruments")
    if not table:
        raise c.fail("instruments", "no instruments declared")
    out: dict[str, InstrumentConfig] = {}
    for name, entry in table.items():
        key = f"instruments.{name}"
        if not name.isidentifier():
            raise c.fail(key, "instrument names must be identifiers (letters, digits, _)")
        entry = c.table(entry, key)
        if "model" not in entry:
            raise c.fail(f"{key}.model", "missing")
        model = c.typed(entry["model"], str, f"{key}.model")
        if model not in MODEL_TERMINALS:
            raise c.fail(f"{key}.model",
                         f"unknown model {model!r} (known: {', '.join(MODEL_TERMINALS)})")
        extra = _MODEL_KEYS.get(model, {})
        c.known(entry, key, {**_COMMON_KEYS, **extra})
        if "resource" not in entry:
            raise c.fail(f"{key}.resource", 'missing ("sim" or a VISA resource string)')
        resource = c.typed(entry["resource"], str, f"{key}.resource").strip()
        if resource != SIM and "::" not in resource:
            raise c.fail(f"{key}.resource",
                         f'expected "sim" or a VISA resource string, got {resource!r}')
        timeout = entry.get("timeout_ms")
        if timeout is not None:
            timeout = c.typed(timeout, int, f"{key}.timeout_ms")
            if timeout <= 0:
                raise c.fail(f"{key}.timeout_ms", f"must be > 0, got {timeout}")
        options = {k: c.typed(entry[k], kind, f"{key}.{k}") for k, kind in extra.items()
                   if k in entry}
        if "cards" in options and not 1 <= options["cards"] <= MAX_SLOTS:
            raise c.fail(f"{key}.cards", f"must be 1..{MAX_SLOTS}, got {options['cards']}")
        if "tsplink_node" in options and not 2 <= options["tsplink_node"] <= 64:
            raise c.fail(f"{key}.tsplink_node", f"must be 2..64, got {options['tsplink_node']}")
        if options.get("max_travel_um", 1.0) <= 0:
            raise c.fail(f"{key}.max_travel_um", f"must be > 0, got {options['max_travel_um']}")
        if "linefreq" in options and options["linefreq"] not in (50, 60):
            raise c.fail(f"{key}.linefreq", f"must be 50 or 60, got {options['linefreq']}")
        out[name] = InstrumentConfig(name, model, resource, timeout, options)
    matrices = [n for n, i in out.items() if i.model in MATRIX_MODELS]
    if len(matrices) != 1:
        raise c.fail("instruments",
                     f"need exactly one switch matrix ({'/'.join(MATRIX_MODELS)}), "
                     f"found {len(matrices)}")
    return out


def _array(c: _Checker, data: Any) -> ArrayParams:
    table = c.table(data, "array")
    try:
        return from_mapping(ArrayParams, table, prefix="array.")
    except ParameterError as exc:
        text = str(exc)
        unknown = _UNKNOWN_PARAM.match(text)
        if unknown:  # "unknown parameter(s): array.x, ... (known: ...)"
            raise c.fail(unknown.group(1), f"unknown key (known: {unknown.group(2)})") from None
        if text.startswith("array."):  # "array.traps.x: problem"
            key, _, problem = text.partition(": ")
            raise c.fail(key, problem) from None
        raise BadInput(f"{c.source}:array: {text}") from None


def _wiring(c: _Checker, data: Any, instruments: Mapping[str, InstrumentConfig],
            array: ArrayParams) -> tuple[Wiring, float]:
    table = c.table(data, "wiring")
    c.known(table, "wiring", ("wl_on_threshold_v", "rows", "columns"))
    threshold = c.typed(table.get("wl_on_threshold_v", WL_ON_THRESHOLD_V), float,
                        "wiring.wl_on_threshold_v")
    if "rows" not in table:
        raise c.fail("wiring.rows", "missing (matrix rows A-H -> instrument terminals)")
    rows_t = c.table(table["rows"], "wiring.rows")
    terminals = {t: i for i in instruments.values() for t in i.terminals}
    rows: dict[str, str] = {}
    used: dict[str, str] = {}
    for letter, value in rows_t.items():
        key = f"wiring.rows.{letter}"
        if letter not in ROW_LETTERS:
            raise c.fail(key, "matrix rows are the letters A-H")
        value = c.typed(value, str, key)
        if value not in terminals:
            inst = value.partition(".")[0]
            if inst not in instruments:
                raise c.fail(key, f"terminal {value!r} names instrument {inst!r}, which is "
                                  f"not declared under [instruments]")
            known = ", ".join(instruments[inst].terminals) or "none"
            raise c.fail(key, f"{inst} ({instruments[inst].model}) has no terminal {value!r} "
                              f"(terminals: {known})")
        if value in used:
            raise c.fail(key, f"terminal {value!r} is already on row {used[value]}")
        rows[letter], used[value] = value, letter
    cards = int(next(i for i in instruments.values() if i.model in MATRIX_MODELS)
                .options.get("cards", MAX_SLOTS))
    if "columns" not in table:
        try:
            wiring = Wiring.default(array.rows, array.cols, rows)
        except ValueError as exc:
            raise c.fail("wiring.columns", f"missing, and the default layout fails: {exc}") \
                from None
        wiring.slots = cards
        _check_geometry(c, wiring, array, "wiring.columns")
        return wiring, threshold
    cols_t = c.table(table["columns"], "wiring.columns")
    columns: dict[tuple[int, int], str] = {}
    seen: dict[str, str] = {}
    for slot_key, lines in cols_t.items():
        key = f"wiring.columns.{slot_key}"
        if not slot_key.isdigit() or not 1 <= int(slot_key) <= cards:
            raise c.fail(key, f"slots are 1..{cards} (the matrix has {cards} cards)")
        if not isinstance(lines, list):
            raise c.fail(key, f"expected an array of line names, got {_kind(lines)}")
        if len(lines) > COLUMNS_PER_CARD:
            raise c.fail(key, f"a card has {COLUMNS_PER_CARD} columns, got {len(lines)} lines")
        for col, name in enumerate(lines, start=1):
            item = f"{key}[{col - 1}]"
            name = c.typed(name, str, item)
            if not name:
                continue
            try:
                line = Line.parse(name)
            except ValueError as exc:
                raise c.fail(item, str(exc)) from None
            size = array.rows if line.kind == "WL" else array.cols
            if line.index >= size:
                raise c.fail(item, f"{line} is outside the {array.rows}x{array.cols} array "
                                   f"({line.kind}0..{line.kind}{size - 1})")
            if str(line) in seen:
                raise c.fail(item, f"{line} is already wired at {seen[str(line)]}")
            seen[str(line)] = item
            columns[(int(slot_key), col)] = str(line)
    wiring = Wiring(rows=rows, columns=columns, slots=cards)
    _check_geometry(c, wiring, array, "wiring.columns")
    return wiring, threshold


def _check_geometry(c: _Checker, wiring: Wiring, array: ArrayParams, key: str) -> None:
    try:
        wiring.validate(array.rows, array.cols)
    except ValueError as exc:
        raise c.fail(key, str(exc)) from None


def _limits(c: _Checker, data: Any) -> dict[str, Any]:
    table = c.table(data, "limits")
    if not table:
        raise c.fail("limits", "empty (every bench needs its safety limits)")
    for name, value in table.items():
        key = f"limits.{name}"
        if isinstance(value, list):
            if len(value) != 2:
                raise c.fail(key, f"a range needs [min, max], got {len(value)} values")
            lo, hi = (c.typed(v, float, key) for v in value)
            if lo > hi:
                raise c.fail(key, f"min {lo:g} is larger than max {hi:g}")
        else:
            v = c.typed(value, float, key)
            if v < 0:
                raise c.fail(key, f"must not be negative, got {v:g}")
    from ftjlab.instruments.safety import Limits  # strict: known keys, finite, consistent

    try:
        Limits.from_dict(table)
    except BadInput as exc:
        raise BadInput(f"{c.source}:{exc}") from None
    return dict(table)


def default_bench_path() -> Path:
    """The shipped simulated bench config (``ftjlab/data/benches/sim.toml``)."""
    return Path(str(importlib.resources.files("ftjlab.data.benches") / "sim.toml"))


def load_bench_config(path: str | Path | None = None) -> BenchConfig:
    """Read and validate a bench config; ``None`` loads the shipped simulated bench."""
    if path is None:
        resource = importlib.resources.files("ftjlab.data.benches") / "sim.toml"
        text, source = resource.read_text(encoding="utf-8"), "sim.toml"
    else:
        p = Path(path)
        source = str(p)
        try:
            text = p.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise BadInput(f"{source}: no such bench config file") from None
        except (OSError, UnicodeDecodeError) as exc:
            raise BadInput(f"{source}: cannot read the bench config ({exc})") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise BadInput(f"{source}: not valid TOML ({exc})") from None
    return parse_bench_config(data, source)


def build_sim_bench(config: BenchConfig, seed: int | None = None,
                    **emulator_options: Any) -> tuple[Bench, dict[str, Any]]:
    """Build the simulated bench of ``config`` and an emulator for every ``"sim"`` instrument.

    ``seed`` overrides the config's; with neither, the bench draws one and records it in
    ``bench.seed``. ``emulator_options`` (e.g. ``max_script_s``) go to the TSP emulators.
    Returns ``(bench, {instrument name: emulator})``.
    """
    from ftjlab.simulators.bench import Bench
    from ftjlab.simulators.emulators import create_emulator, emulator_class
    from ftjlab.simulators.tsp import TSPEmulator

    bench = Bench(config.array, config.wiring, seed=seed if seed is not None else config.seed,
                  wl_on_threshold_v=config.wl_on_threshold_v)
    emulators: dict[str, Any] = {}
    for name, inst in config.instruments.items():
        if not inst.simulated:
            continue
        keys = MODELS[inst.model].emulator_keys
        options = {k: v for k, v in inst.options.items() if k in keys}
        try:
            cls = emulator_class(inst.model)
        except (KeyError, ImportError) as exc:
            raise BadInput(f"{config.source}:instruments.{name}.model: no emulator for "
                           f"{inst.model} ({exc})") from None
        if issubclass(cls, TSPEmulator):
            options.update(emulator_options)
        emulators[name] = create_emulator(inst.model, bench, name, **options)
    bench.lan.update(emulators)  # TSP-Net: instruments reach each other by name
    # TSP-Link: a TSP instrument with `tsplink_node` is reachable from the others' scripts as
    # node[N] (the master runs e.g. node[2].channel.exclusiveclose(...) itself)
    nodes = {int(inst.options["tsplink_node"]): emulators[name]
             for name, inst in config.instruments.items()
             if "tsplink_node" in inst.options and name in emulators}
    for emulator in emulators.values():
        if nodes and isinstance(emulator, TSPEmulator):
            emulator.link_nodes({n: e for n, e in nodes.items() if e is not emulator})
    return bench, emulators
