"""A campaign file: which dies, which procedures with which parameters, where to write.

::

    bench = "sim-wafer.toml"        # optional: a path (relative to this file) or a shipped
                                    # bench name; --bench overrides; default sim-wafer.toml
    out = "wafer-07"                # output folder (relative to this file)

    [wafer]                         # the map set up on the prober
    diameter_mm = 60
    die_um = [5000, 5000]           # die (index) size x, y
    edge_um = 0                     # edge exclusion
    select = "all"                  # all | good | good+ugly (the map's dies, route order)
    dies = [[5, 5], [6, 5]]         # or an explicit list of [column, row] (instead of select)
    max_dies = 100                  # optional: the first N dies of the selection

    [[procedures]]
    name = "conductance-map"
    parameters = { nplc = 0.1 }

    [[procedures]]
    name = "rtn-acquisition"
    parameters = { readings = 2000, row = 0, col = 0 }
    per_die = { "5,5" = { bias_v = 0.9 } }   # overrides for single dies ("col,row")

Loading checks everything that needs no instrument: unknown keys, types, unknown
procedures, parameter values against their ranges, dies outside the wafer map. Errors are
:class:`~ftjlab.errors.BadInput` naming ``<file>:<dotted.key>``.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ftjlab.errors import BadInput

from .wafermap import WaferMap

Die = tuple[int, int]
_TOP = ("bench", "out", "description", "wafer", "procedures")
_WAFER = ("diameter_mm", "die_um", "edge_um", "select", "dies", "max_dies")
_PROC = ("name", "parameters", "per_die")
SELECTIONS = {"all": "a", "good": "g", "good+ugly": "u"}
DEFAULT_BENCH = "sim-wafer.toml"


@dataclass(frozen=True)
class ProcedureStep:
    """One procedure of the campaign with its parameters (text values, as ``--set``)."""

    name: str
    parameters: Mapping[str, str]
    per_die: Mapping[Die, Mapping[str, str]] = field(default_factory=dict)

    def settings(self, die: Die) -> dict[str, str]:
        """The parameters for ``die`` (campaign-wide ones, then the die's overrides)."""
        return {**self.parameters, **self.per_die.get(die, {})}


@dataclass(frozen=True)
class Campaign:
    """A validated campaign file."""

    source: str
    out: Path
    bench: str | None
    wafer: WaferMap
    selection: str
    dies: tuple[Die, ...]
    procedures: tuple[ProcedureStep, ...]
    description: str = ""
    raw: Mapping[str, Any] = field(default_factory=dict, repr=False)

    def fingerprint(self) -> dict[str, Any]:
        """What must not change between a run and its resumption (JSON-ready)."""
        return {
            "wafer": {
                "diameter_um": self.wafer.diameter_um,
                "die_um": list(self.wafer.die_um),
                "edge_um": self.wafer.edge_um,
            },
            "dies": [list(d) for d in self.dies],
            "procedures": [
                {
                    "name": p.name,
                    "parameters": dict(p.parameters),
                    "per_die": {f"{c},{r}": dict(v) for (c, r), v in p.per_die.items()},
                }
                for p in self.procedures
            ],
        }


def _fail(source: str, key: str, problem: str) -> BadInput:
    return BadInput(f"{source}:{key}: {problem}")


def _number(source: str, key: str, value: Any, positive: bool = True) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise _fail(source, key, f"expected a number, got {type(value).__name__} {value!r}")
    if value != value or value in (float("inf"), float("-inf")):
        raise _fail(source, key, f"must be finite, got {value!r}")
    if positive and value <= 0:
        raise _fail(source, key, f"must be > 0, got {value!r}")
    if value < 0:
        raise _fail(source, key, f"must be >= 0, got {value!r}")
    return float(value)


def _die(source: str, key: str, value: Any) -> Die:
    if (
        not isinstance(value, list)
        or len(value) != 2
        or not all(isinstance(v, int) and not isinstance(v, bool) for v in value)
    ):
        raise _fail(source, key, f"a die is [column, row] (two integers), got {value!r}")
    return int(value[0]), int(value[1])


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def parse_campaign(data: Mapping[str, Any], source: str, base: Path) -> Campaign:
    """Validate a TOML-parsed campaign; ``base`` resolves relative paths."""
    from ftjlab.procedures import PROCEDURES, build

    unknown = sorted(set(data) - set(_TOP))
    if unknown:
        raise _fail(source, unknown[0], f"unknown key (known: {', '.join(_TOP)})")
    for key in ("out", "wafer", "procedures"):
        if key not in data:
            raise _fail(source, key, "missing")
    if not isinstance(data["out"], str) or not data["out"].strip():
        raise _fail(source, "out", "expected a folder name")
    out = (base / data["out"]).expanduser()
    bench = data.get("bench")
    if bench is not None and not isinstance(bench, str):
        raise _fail(source, "bench", "expected a path")
    wafer_t = data["wafer"]
    if not isinstance(wafer_t, dict):
        raise _fail(source, "wafer", "expected a table")
    unknown = sorted(set(wafer_t) - set(_WAFER))
    if unknown:
        raise _fail(source, f"wafer.{unknown[0]}", f"unknown key (known: {', '.join(_WAFER)})")
    for key in ("diameter_mm", "die_um"):
        if key not in wafer_t:
            raise _fail(source, f"wafer.{key}", "missing")
    diameter = _number(source, "wafer.diameter_mm", wafer_t["diameter_mm"])
    die_um = wafer_t["die_um"]
    if not isinstance(die_um, list) or len(die_um) != 2:
        raise _fail(source, "wafer.die_um", "expected [x, y] in micrometres")
    size = tuple(_number(source, "wafer.die_um", v) for v in die_um)
    edge = _number(source, "wafer.edge_um", wafer_t.get("edge_um", 0.0), positive=False)
    wafer = WaferMap(diameter * 1000.0, (size[0], size[1]), edge)
    select = wafer_t.get("select", "all")
    if select not in SELECTIONS:
        raise _fail(
            source, "wafer.select", f"expected one of {', '.join(SELECTIONS)}, got {select!r}"
        )
    if "dies" in wafer_t:
        if not isinstance(wafer_t["dies"], list) or not wafer_t["dies"]:
            raise _fail(source, "wafer.dies", "expected a non-empty list of [column, row]")
        dies = [_die(source, f"wafer.dies[{i}]", d) for i, d in enumerate(wafer_t["dies"])]
        for i, d in enumerate(dies):
            if wafer.category(*d) == "off":
                raise _fail(
                    source,
                    f"wafer.dies[{i}]",
                    f"die {list(d)} is outside the wafer map ({wafer.columns} x "
                    f"{wafer.rows} grid of a {diameter:g} mm round wafer)",
                )
            if d in dies[:i]:
                raise _fail(source, f"wafer.dies[{i}]", f"die {list(d)} is listed twice")
    else:
        dies = wafer.dies(SELECTIONS[select])
    if "max_dies" in wafer_t:
        n = wafer_t["max_dies"]
        if isinstance(n, bool) or not isinstance(n, int) or n < 1:
            raise _fail(source, "wafer.max_dies", f"expected an integer >= 1, got {n!r}")
        dies = dies[:n]
    if not dies:
        raise _fail(source, "wafer", "selects no die")
    steps = data["procedures"]
    if not isinstance(steps, list) or not steps:
        raise _fail(source, "procedures", "expected at least one [[procedures]] entry")
    procedures = []
    for i, entry in enumerate(steps):
        key = f"procedures[{i}]"
        if not isinstance(entry, dict):
            raise _fail(source, key, "expected a table")
        unknown = sorted(set(entry) - set(_PROC))
        if unknown:
            raise _fail(source, f"{key}.{unknown[0]}", f"unknown key (known: {', '.join(_PROC)})")
        name = entry.get("name")
        if name not in PROCEDURES:
            raise _fail(
                source,
                f"{key}.name",
                f"unknown procedure {name!r} (known: {', '.join(PROCEDURES)})",
            )
        params = entry.get("parameters", {})
        if not isinstance(params, dict):
            raise _fail(source, f"{key}.parameters", "expected a table")
        params = {k: _text(v) for k, v in params.items()}
        per_die: dict[Die, dict[str, str]] = {}
        for die_key, overrides in dict(entry.get("per_die", {})).items():
            dkey = f"{key}.per_die.{die_key}"
            try:
                col, row = (int(v) for v in str(die_key).split(","))
            except ValueError:
                raise _fail(source, dkey, 'die keys are "column,row"') from None
            if (col, row) not in dies:
                raise _fail(source, dkey, f"die [{col}, {row}] is not one of the campaign's dies")
            if not isinstance(overrides, dict):
                raise _fail(source, dkey, "expected a table of parameters")
            per_die[(col, row)] = {k: _text(v) for k, v in overrides.items()}
        step = ProcedureStep(name, params, per_die)
        for die in [None, *per_die]:
            settings = step.settings(die) if die else dict(params)
            where = f"{key}.per_die.{die[0]},{die[1]}" if die else f"{key}.parameters"
            try:
                build(PROCEDURES[name], settings)
            except BadInput as exc:
                raise _fail(source, where, str(exc)) from None
        procedures.append(step)
    return Campaign(
        source,
        out,
        bench,
        wafer,
        select,
        tuple(dies),
        tuple(procedures),
        str(data.get("description", "")),
        dict(data),
    )


def load_campaign(path: str | Path) -> Campaign:
    """Read and validate a campaign file (BadInput naming the field on any problem)."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise BadInput(f"{p}: no such campaign file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise BadInput(f"{p}: cannot read the campaign file ({exc})") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise BadInput(f"{p}: not valid TOML ({exc})") from None
    return parse_campaign(data, str(p), p.parent)


def resolve_bench(campaign: Campaign, override: str | None) -> Path:
    """The bench file: ``--bench``, else the campaign's ``bench`` (a path relative to the
    campaign file, or the name of a shipped bench), else the shipped ``sim-wafer.toml``."""
    import importlib.resources

    if override:
        return Path(override)
    name = campaign.bench or DEFAULT_BENCH
    local = Path(campaign.source).parent / name
    if local.exists():
        return local
    shipped = Path(str(importlib.resources.files("ftjlab.data.benches") / name))
    if shipped.exists():
        return shipped
    raise BadInput(
        f"{campaign.source}:bench: no bench file {name!r} (next to the campaign "
        "file or shipped in ftjlab/data/benches)"
    )
