"""The base of every ftjlab measurement: a pymeasure ``Procedure`` that runs on an
:class:`~ftjlab.controller.ArrayController` and records into the HDF5 run store.

A procedure declares typed, unit-carrying, range-checked parameters (pymeasure
``FloatParameter`` etc.), the streams it records (:meth:`FTJProcedure.streams`), an estimate
of its duration, and its ``execute``. While it runs it calls :meth:`record` with blocks of data
(appended to the file and flushed at once, and shown live by listeners), :meth:`progress`,
and :meth:`result` for final arrays and figures. It checks :meth:`should_stop` at safe points.
The runner (:mod:`ftjlab.runner`) owns the file, the stop flag and the safe shutdown.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any, ClassVar

import numpy as np

from ftjlab._lazy import defer, hidden

defer("pandas")  # pymeasure.experiment imports it for CSV results, which ftjlab does not use
with hidden("dask"):  # pint probes for it (0.3 s); no pint quantity here is a dask array
    from pymeasure.experiment import Procedure
    from pymeasure.experiment.parameters import Parameter

from ftjlab.errors import BadInput  # noqa: E402
from ftjlab.store import StreamSpec  # noqa: E402


class FTJProcedure(Procedure):
    """Base class of ftjlab procedures (see the module docstring)."""

    #: command-line name, e.g. ``"rtn-acquisition"``
    name: ClassVar[str] = ""
    #: one line for ``ftjlab run --list``
    summary: ClassVar[str] = ""
    #: voltage parameters and the bench-limit role that applies to each (checked before the
    #: run starts, so an out-of-limit value never reaches an instrument)
    voltage_roles: ClassVar[dict[str, str]] = {}
    #: pulse-width parameters checked against the bench's width range before the run starts
    #: (None: every parameter in seconds named ``*width*``)
    pulse_widths: ClassVar[tuple[str, ...] | None] = None

    controller: Any = None  # the ArrayController, set by the runner
    _sink: Callable[[str, Any], None] | None = None
    _stop: Callable[[], bool] | None = None

    # ------------------------------------------------------------------ declarations
    def streams(self) -> dict[str, StreamSpec]:
        """Streams recorded block by block (declared before the run starts)."""
        return {}

    def estimate_s(self) -> float:
        """Estimated instrument time of the run in seconds (before it starts)."""
        return 0.0

    def get_estimates(self) -> list[tuple[str, str]]:
        seconds = self.estimate_s()
        return [("Estimated duration", f"{seconds:.3g} s")]

    # ------------------------------------------------------------------ while running
    def record(self, stream: str, block: Any) -> None:
        """Append ``block`` to ``stream`` (flushed to disk before this returns)."""
        self.emit("record", (stream, np.asarray(block)))

    def progress(self, percent: float) -> None:
        self.emit("progress", float(percent))

    def result(self, name: str, value: Any, units: str = "") -> None:
        """A final array (stored as a dataset) or scalar/str (stored as a run attribute)."""
        self.emit("result", (name, value, units))

    def emit(self, topic: str, record: Any) -> None:
        if self._sink is not None:
            self._sink(topic, record)

    def should_stop(self) -> bool:
        return bool(self._stop is not None and self._stop())

    def shutdown(self) -> None:
        """Outputs off, matrix open (the runner does it again, whatever happened)."""
        if self.controller is not None:
            self.controller.safe_state()

    def check(self) -> None:
        """Checks across parameters, before anything is sent; raise BadInput naming them."""

    def linefreq_hz(self) -> float:
        """Mains frequency (Hz) that sets the aperture of one NPLC: the attached controller's
        (from the bench file's ``linefreq``), before that the default bench file's."""
        if self.controller is not None:
            return float(self.controller.linefreq)
        from ftjlab.config import load_bench_config

        try:
            cfg = load_bench_config(None)
        except (BadInput, OSError):
            return 60.0
        for inst in cfg.instruments.values():
            if "linefreq" in inst.options:
                return float(inst.options["linefreq"])
        return 60.0

    def preflight(self) -> None:
        """Checks against the bench (array size, wiring) once the controller is attached and
        before anything is recorded or sent; raise BadInput. Cell indices named ``row`` and
        ``col`` are checked here; override and call ``super()`` to add more."""
        c = self.controller
        for name, size in (("row", c.rows), ("col", c.cols)):
            value = getattr(self, name, None)
            if isinstance(value, int) and not 0 <= value < size:
                raise BadInput(f"{self.name}: parameter {name}={value} is outside the array "
                               f"(0..{size - 1})")

    def check_limits(self, limits: Any) -> None:
        """Every voltage parameter against its bench limit and every pulse width against the
        bench's pulse-width range, before the run starts (BadInput names the parameter and
        the limit)."""
        from ftjlab.instruments.safety import LimitViolation

        checks = [(name, lambda v, r=role: limits.check_voltage(r, v))
                  for name, role in self.voltage_roles.items()]
        checks += [(name, limits.check_pulse_width) for name in self.pulse_width_names()]
        for name, check in checks:
            value = float(getattr(self, name))
            try:
                check(value)
            except LimitViolation as exc:
                raise LimitViolation(f"{self.name}: parameter {name}={value:g}: {exc}",
                                     limit=exc.limit, value=exc.value,
                                     limit_value=exc.limit_value, role=exc.role) from None

    def pulse_width_names(self) -> tuple[str, ...]:
        """Parameters that are pulse widths: ``pulse_widths`` if the class sets it, else
        every parameter in seconds whose name contains ``width``."""
        if self.pulse_widths is not None:
            return self.pulse_widths
        return tuple(name for name, p in self._parameters.items()
                     if "width" in name and getattr(p, "units", "") == "s")


# ---------------------------------------------------------------------- parameters


def parameter_table(cls: type[FTJProcedure]) -> dict[str, Parameter]:
    """The procedure's parameters by attribute name."""
    return {k: v for k, v in vars_all(cls).items() if isinstance(v, Parameter)}


def vars_all(cls: type) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for klass in reversed(cls.__mro__):
        out.update(vars(klass))
    return out


def describe_parameter(name: str, p: Parameter) -> str:
    """``name (units) [min..max] = default: label`` for ``ftjlab run --list``."""
    units = f" ({p.units})" if getattr(p, "units", None) else ""
    lo, hi = getattr(p, "minimum", None), getattr(p, "maximum", None)
    bounds = f" [{lo}..{hi}]" if lo is not None or hi is not None else ""
    choices = getattr(p, "choices", None)
    if choices:
        bounds = f" {{{', '.join(map(str, choices))}}}"
    default = f" = {p.default}" if p.default is not None else ""
    return f"{name}{units}{bounds}{default}: {p.name}"


def build(cls: type[FTJProcedure], settings: dict[str, str]) -> FTJProcedure:
    """An instance with ``settings`` (text values, e.g. from ``--set name=value``) applied,
    each checked by its parameter; unknown names and bad values raise BadInput."""
    table = parameter_table(cls)
    unknown = sorted(set(settings) - set(table))
    if unknown:
        raise BadInput(
            f"{cls.name}: unknown parameter(s) {unknown} (known: {', '.join(sorted(table))})"
        )
    procedure = cls()
    for key, text in settings.items():
        try:
            procedure._parameters[key].value = text
            setattr(procedure, key, procedure._parameters[key].value)
        except (ValueError, TypeError) as exc:
            raise BadInput(f"{cls.name}: parameter {key}={text!r}: {exc}") from exc
        value = getattr(procedure, key)
        if isinstance(value, float) and not math.isfinite(value):  # pymeasure lets NaN pass
            raise BadInput(f"{cls.name}: parameter {key}={text!r}: must be a finite number")
    missing = [key for key in procedure._parameters if getattr(procedure, key) is None]
    if missing:
        raise BadInput(f"{cls.name}: parameter(s) {missing} have no value")
    procedure.check()
    return procedure
