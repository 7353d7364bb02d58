"""Parameters of the FTJ array physics, one frozen dataclass per model, loadable from TOML.

Every numeric field carries its unit in its name (``_s``, ``_v``, ``_siemens``, ``_a``) or is
dimensionless. Loading is strict: an unknown key, a wrong type, NaN/inf, a negative time or a
value outside a field's domain raises :class:`ParameterError` naming the dotted field path, and
nothing is built from a half-valid file.
"""

from __future__ import annotations

import math
import tomllib
import typing
from dataclasses import dataclass, field, fields, is_dataclass, replace
from pathlib import Path
from typing import Any, TypeVar

T = TypeVar("T")


class ParameterError(ValueError):
    """A parameter file or mapping is invalid; the message names the offending field."""


# Field domains, declared in the field metadata: "positive" (> 0), "nonnegative" (>= 0),
# "fraction" (0..1), "open_fraction" (0 <= x < 1).
def _num(default: float, domain: str = "positive", doc: str = "") -> Any:
    return field(default=default, metadata={"domain": domain, "doc": doc})


class _Validated:
    """Parameter dataclasses check their own fields when constructed."""

    def __post_init__(self) -> None:
        validate(self)


@dataclass(frozen=True)
class SwitchingModel(_Validated):
    """Multi-domain nucleation-limited switching (NLS, Merz-law time constant).

    Each cell holds ``domains_per_cell`` (<= 32) domains with log-normal areas and activation
    voltages. A pulse of amplitude V and width t switches a domain (toward ON for V > 0, toward
    OFF for V < 0) with probability ``1 - exp(-(t / tau(V))**beta)``, where
    ``tau(V) = tau0_s * exp((Va / |V|)**alpha)``. Successive pulses act independently (the
    single-pulse KAI/NLS form; nucleation memory between pulses is neglected [I]).
    Defaults: Deng et al. (VLSI 2020) FeFET/HZO fit (tau0 ~ 19 ns, alpha = 3, beta = 2).
    """

    domains_per_cell: int = field(default=32, metadata={"max": 32, "doc": "one bit each"})
    tau0_s: float = _num(20e-9, doc="attempt time")
    alpha: float = _num(3.0, doc="Merz exponent on Va/|V|")
    beta: float = _num(2.0, doc="KAI/Avrami exponent on t/tau")
    activation_v_mean: float = _num(3.0, doc="mean domain activation voltage of the array")
    activation_v_d2d_sigma: float = _num(0.12, "nonnegative", "cell-to-cell sigma of mean Va")
    activation_v_domain_sigma: float = _num(0.35, "nonnegative", "domain-to-domain sigma of Va")
    activation_v_min: float = _num(0.5, doc="floor of Va (a domain never has Va below this)")
    imprint_v: float = _num(0.0, "any", doc="Va(SET) = Va - imprint, Va(RESET) = Va + imprint")
    # A lumped "domain" stands for the many grains of a cell binned by activation voltage
    # (a quantile bin), so its area is close to 1/domains_per_cell: a small spread [I].
    domain_area_log_sigma: float = _num(0.15, "nonnegative", "log-normal sigma of domain areas")


@dataclass(frozen=True)
class ConductanceModel(_Validated):
    """Conductance of the switched fraction, read non-linearity, variation, stuck cells.

    Domains conduct in parallel, so G = G_off + (G_on - G_off) * s with s the switched area
    fraction (linear in s: each domain region is a tunnelling path of its own [I]).
    Read current ``I = G * V * (1 + (V / nonlinearity_v)**2)`` (tunnelling curvature).
    """

    g_on_siemens: float = _num(100e-9)
    g_off_siemens: float = _num(2e-9)
    d2d_sigma_log: float = _num(0.08, "nonnegative", "log-normal sigma of G_on, G_off per cell")
    nonlinearity_v: float = _num(1.0, doc="V_nl of I = G V (1 + (V/V_nl)^2)")
    stuck_on_fraction: float = _num(0.001, "fraction")
    stuck_off_fraction: float = _num(0.001, "fraction")
    access_off_current_a: float = _num(0.0, "nonnegative", "leakage of a cell whose WL is off")
    wire_resistance_ohm: float = _num(0.0, "nonnegative", "bit-line resistance per cell pitch")


@dataclass(frozen=True)
class RetentionModel(_Validated):
    """Power-law relaxation of the programmed (switched) conductance toward G_off.

    ``G(t) = G_off + (G_prog - G_off) * ((t - t_prog + t0) / t0) ** -nu``, nu per cell ~ N.
    """

    drift_nu_mean: float = _num(0.005, "nonnegative")
    drift_nu_sigma: float = _num(0.002, "nonnegative")
    drift_t0_s: float = _num(1.0)
    drift_refresh_tolerance: float = _num(
        1e-4, doc="relative drift change below which cached conductances are reused"
    )


@dataclass(frozen=True)
class EnduranceModel(_Validated):
    """Memory-window wear: window factor ``1 / (1 + (n / wear_cycles) ** wear_exponent)``.

    n counts full program/erase cycles: switching every domain up and back down is one cycle.
    """

    wear_cycles: float = _num(3e5)
    wear_exponent: float = _num(1.0)


@dataclass(frozen=True)
class ReadNoiseModel(_Validated):
    """Read noise of one reading integrated over an aperture T (noise bandwidth 1/(2T)).

    sigma_I^2 = (4 k T G + 2 q I + S_inst) / (2 T): thermal, shot and instrument noise.
    """

    temperature_k: float = _num(300.0)
    instrument_noise_a_per_rthz: float = _num(2e-14, "nonnegative")
    shot_noise: bool = True


@dataclass(frozen=True)
class TrapModel(_Validated):
    """Random telegraph noise from oxide traps, two-state Markov per trap.

    Per cell a Poisson number of traps with mean ``traps_per_cell * area / reference_area``.
    Time constants at bias V (log-normal spread around the medians at ``reference_bias_v``):
    ``tau_c(V) = tau_c_ref * exp(-(V - V_ref) / capture_slope_v)``,
    ``tau_e(V) = tau_e_ref * exp(+(V - V_ref) / emission_slope_v)``.
    A filled trap lowers the cell current by ``dI/I = a0 * g(V)``, with
    ``g(V) = 1 / (1 + exp(-(|V| - activation_v) / activation_width_v))``: negligible at the
    VMM bias, several % at the sampling bias (Koo 2024: trap near the top electrode [I]).
    """

    traps_per_cell: float = _num(1.5, "nonnegative")
    cell_area_um2: float = _num(1.0)
    reference_area_um2: float = _num(1.0)
    tau_capture_ref_s: float = _num(1e-3)
    tau_emission_ref_s: float = _num(1e-3)
    tau_log_sigma: float = _num(1.0, "nonnegative", "natural-log sigma of trap time constants")
    reference_bias_v: float = _num(0.8, "any")
    capture_slope_v: float = _num(0.1)
    emission_slope_v: float = _num(0.1)
    amplitude: float = _num(0.05, doc="median dI/I of a trap at full activation (ref. area)")
    amplitude_log_sigma: float = _num(0.5, "nonnegative")
    amplitude_cap: float = _num(0.5, "open_fraction", "largest dI/I one trap may have")
    activation_v: float = _num(0.6, "nonnegative")
    activation_width_v: float = _num(0.07)
    kinetics_bound_v: float = _num(
        0.2, doc="initial thinning bound of the event queue (raised when reads need it)"
    )
    kinetics_bound_max_v: float = _num(
        0.4, doc="|V| up to which whole-array reads use the event queue; above: exact paths"
    )
    quiet_rtn_rel: float = _num(
        2e-5,
        "nonnegative",
        "whole-array reads at a bias where no trap's RTN (std of dI/I at its stationary "
        "occupancy there, a0 g(V) sqrt(p (1 - p))) exceeds this leave the traps alone; 0: never",
    )


@dataclass(frozen=True)
class ArrayParams(_Validated):
    """Everything that defines a simulated FTJ NOR array."""

    rows: int = 32
    cols: int = 32
    initial_state: str = field(default="off", metadata={"choices": ("off", "on", "random")})
    switching: SwitchingModel = field(default_factory=SwitchingModel)
    conductance: ConductanceModel = field(default_factory=ConductanceModel)
    retention: RetentionModel = field(default_factory=RetentionModel)
    endurance: EnduranceModel = field(default_factory=EnduranceModel)
    read_noise: ReadNoiseModel = field(default_factory=ReadNoiseModel)
    traps: TrapModel = field(default_factory=TrapModel)


# ----------------------------------------------------------------------------------- loading


def _check_number(path: str, value: Any, f) -> None:
    domain = f.metadata.get("domain", "positive")
    if not math.isfinite(value):
        raise ParameterError(f"{path}: must be a finite number, got {value!r}")
    if domain == "positive" and value <= 0:
        what = "a time" if path.endswith("_s") else "a value"
        raise ParameterError(f"{path}: must be > 0 ({what}), got {value!r}")
    if domain == "nonnegative" and value < 0:
        raise ParameterError(f"{path}: must be >= 0, got {value!r}")
    if domain == "fraction" and not 0 <= value <= 1:
        raise ParameterError(f"{path}: must be within [0, 1], got {value!r}")
    if domain == "open_fraction" and not 0 < value < 1:
        raise ParameterError(f"{path}: must be within (0, 1), got {value!r}")


def validate(obj: Any, prefix: str = "") -> None:
    """Check every field of a parameter dataclass; raise ParameterError naming the field."""
    _validate_values(type(obj), {f.name: getattr(obj, f.name) for f in fields(obj)}, prefix)


def _validate_values(cls: type, values: dict[str, Any], prefix: str) -> None:
    hints = typing.get_type_hints(cls)
    for f in fields(cls):
        if f.name not in values:
            continue
        path = f"{prefix}{f.name}"
        value = values[f.name]
        kind = hints[f.name]
        if is_dataclass(kind):
            if not isinstance(value, kind):
                raise ParameterError(f"{path}: expected a table of {kind.__name__} parameters")
        elif kind is bool:
            if not isinstance(value, bool):
                raise ParameterError(f"{path}: expected true/false, got {value!r}")
        elif kind is int:
            if isinstance(value, bool) or not isinstance(value, int):
                raise ParameterError(f"{path}: expected an integer, got {value!r}")
            if value < 1:
                raise ParameterError(f"{path}: must be >= 1, got {value!r}")
            if "max" in f.metadata and value > f.metadata["max"]:
                raise ParameterError(f"{path}: must be <= {f.metadata['max']}, got {value!r}")
        elif kind is float:
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise ParameterError(f"{path}: expected a number, got {value!r}")
            _check_number(path, float(value), f)
        elif kind is str:
            if not isinstance(value, str):
                raise ParameterError(f"{path}: expected a string, got {value!r}")
            choices = f.metadata.get("choices")
            if choices and value not in choices:
                raise ParameterError(f"{path}: must be one of {list(choices)}, got {value!r}")


def from_mapping(cls: type[T], data: Any, prefix: str = "") -> T:
    """Build ``cls`` from a (TOML-parsed) mapping, strictly; missing keys take defaults."""
    if not isinstance(data, dict):
        raise ParameterError(f"{prefix.rstrip('.') or cls.__name__}: expected a table")
    hints = typing.get_type_hints(cls)
    known = {f.name for f in fields(cls)}
    unknown = sorted(set(data) - known)
    if unknown:
        names = ", ".join(f"{prefix}{k}" for k in unknown)
        raise ParameterError(f"unknown parameter(s): {names} (known: {', '.join(sorted(known))})")
    kwargs: dict[str, Any] = {}
    for name, value in data.items():
        kind = hints[name]
        if is_dataclass(kind):
            kwargs[name] = from_mapping(kind, value, f"{prefix}{name}.")
        elif kind is float and isinstance(value, int) and not isinstance(value, bool):
            kwargs[name] = float(value)
        else:
            kwargs[name] = value
    # Validate before constructing so the error names the full dotted path.
    _validate_values(cls, kwargs, prefix)
    return cls(**kwargs)


def load_array_params(path: str | Path) -> ArrayParams:
    """Read an ``ArrayParams`` TOML file (top-level keys as in the dataclass)."""
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text())
    except FileNotFoundError as exc:
        raise ParameterError(f"{path}: no such parameter file") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ParameterError(f"{path}: not valid TOML ({exc})") from exc
    return from_mapping(ArrayParams, data)


def with_overrides(params: T, **changes: Any) -> T:
    """``dataclasses.replace`` that validates the result."""
    new = replace(params, **changes)
    validate(new)
    return new
