"""The parameter form of a procedure, generated from its pymeasure parameters.

One field per parameter: a line edit for numbers (label with units, range in the tooltip and
the placeholder), a check box for booleans, a combo box for choices. Every edit is validated
at once by the parameter itself (type, range) plus what pymeasure lets through (empty text,
NaN, infinities); cross-parameter checks (``check()``), the bench limits and the array size
(``preflight()``, which needs only the bench config) run when the form is asked for a
runnable setting. A field that fails is marked and its reason shown under the form; nothing
starts until every field passes.
"""

from __future__ import annotations

import copy
import math
from typing import Any

from pymeasure.experiment.parameters import (
    BooleanParameter,
    FloatParameter,
    IntegerParameter,
    ListParameter,
    Parameter,
)
from PyQt6.QtCore import pyqtSignal
from PyQt6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFormLayout,
    QLabel,
    QLineEdit,
    QVBoxLayout,
    QWidget,
)

from ftjlab.errors import BadInput

_BAD_STYLE = "QLineEdit { background: #ffd9d9; }"


def _bounds(p: Parameter) -> str:
    lo, hi = getattr(p, "minimum", None), getattr(p, "maximum", None)
    units = f" {p.units}" if getattr(p, "units", None) else ""
    if lo is not None and hi is not None:
        return f"{lo:g} .. {hi:g}{units}"
    if lo is not None:
        return f">= {lo:g}{units}"
    if hi is not None:
        return f"<= {hi:g}{units}"
    return units.strip()


def check_text(name: str, p: Parameter, text: str) -> str | None:
    """Why ``text`` is not a valid value of parameter ``p`` (None if it is)."""
    text = text.strip()
    if text == "":
        return f"{name}: empty (expected {_kind(p)}{', ' + _bounds(p) if _bounds(p) else ''})"
    probe = copy.copy(p)  # the class attribute stays untouched
    try:
        probe.value = text
    except (ValueError, TypeError) as exc:
        reason = str(exc)
        if "non-float" in reason or "non-integer" in reason or "string value" in reason:
            reason = f"{text!r} is not {_kind(p)}"
        elif "above the maximum" in reason or "below the minimum" in reason:
            reason = f"{text} is outside {_bounds(p)}"
        return f"{name}: {reason}"
    value = probe.value
    if isinstance(value, float) and not math.isfinite(value):
        return f"{name}: {text!r} is not a finite number"
    return None


def _default_text(p: Parameter) -> str:
    """The default as the form shows it."""
    if p.default is None:
        return ""
    if isinstance(p, BooleanParameter):
        return "true" if p.default else "false"
    if isinstance(p.default, float):
        return f"{p.default:g}"
    return str(p.default)


def _kind(p: Parameter) -> str:
    if isinstance(p, IntegerParameter):
        return "an integer"
    if isinstance(p, FloatParameter):
        return "a number"
    if isinstance(p, BooleanParameter):
        return "true or false"
    return "a value"


class ProcedureForm(QWidget):
    """Fields of one procedure's parameters; :meth:`settings` gives the text of each,
    :meth:`validate` the reasons it cannot start (empty when it can)."""

    changed = pyqtSignal()

    def __init__(self, procedure_cls: type, parent: QWidget | None = None) -> None:
        from ftjlab.procedures import parameter_table

        super().__init__(parent)
        self.procedure_cls = procedure_cls
        self.parameters: dict[str, Parameter] = parameter_table(procedure_cls)
        self.fields: dict[str, QWidget] = {}
        self._field_errors: dict[str, str] = {}
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        summary = QLabel(getattr(procedure_cls, "summary", ""))
        summary.setWordWrap(True)
        layout.addWidget(summary)
        form = QFormLayout()
        layout.addLayout(form)
        for name, p in self.parameters.items():
            widget = self._field(name, p)
            units = f" ({p.units})" if getattr(p, "units", None) else ""
            label = QLabel(f"{p.name}{units}")
            label.setToolTip(f"{name}: {_bounds(p)}" if _bounds(p) else name)
            form.addRow(label, widget)
            self.fields[name] = widget
        self.errors = QLabel("")
        self.errors.setWordWrap(True)
        self.errors.setObjectName("form-errors")
        self.errors.setStyleSheet("color: #b00020;")
        layout.addWidget(self.errors)
        layout.addStretch(1)

    def _field(self, name: str, p: Parameter) -> QWidget:
        if isinstance(p, BooleanParameter):
            box = QCheckBox()
            box.setChecked(bool(p.default))
            box.toggled.connect(lambda _=None: self.changed.emit())
            return box
        if isinstance(p, ListParameter):
            combo = QComboBox()
            combo.addItems([str(c) for c in p.choices])
            if p.default is not None:
                combo.setCurrentText(str(p.default))
            combo.currentTextChanged.connect(lambda _=None: self.changed.emit())
            return combo
        edit = QLineEdit(_default_text(p))
        edit.setObjectName(f"field-{name}")
        edit.setPlaceholderText(_bounds(p))
        edit.setToolTip(f"{name}: {_kind(p)}, {_bounds(p)}")
        edit.textChanged.connect(lambda _=None, n=name: self._check_field(n))
        return edit

    # ------------------------------------------------------------------ values
    def text_of(self, name: str) -> str:
        widget = self.fields[name]
        if isinstance(widget, QCheckBox):
            return "true" if widget.isChecked() else "false"
        if isinstance(widget, QComboBox):
            return widget.currentText()
        return widget.text().strip()

    def set_value(self, name: str, text: str) -> None:
        """Set a field as a user would type it (unknown names raise KeyError)."""
        widget = self.fields[name]
        if isinstance(widget, QCheckBox):
            widget.setChecked(str(text).lower() in ("1", "true", "yes", "on"))
        elif isinstance(widget, QComboBox):
            widget.setCurrentText(str(text))
        else:
            widget.setText(str(text))

    def changed_settings(self) -> dict[str, str]:
        """The fields whose text differs from the parameter's default."""
        return {name: text for name, text in self.settings().items()
                if text != _default_text(self.parameters[name])}

    def settings(self) -> dict[str, str]:
        """The text of every field (what :func:`ftjlab.procedures.build` takes)."""
        return {name: self.text_of(name) for name in self.fields}

    # ------------------------------------------------------------------ validation
    def _check_field(self, name: str) -> None:
        reason = check_text(name, self.parameters[name], self.text_of(name))
        widget = self.fields[name]
        if reason:
            self._field_errors[name] = reason
            widget.setStyleSheet(_BAD_STYLE)
            widget.setToolTip(reason)
        else:
            self._field_errors.pop(name, None)
            widget.setStyleSheet("")
            widget.setToolTip(f"{name}: {_kind(self.parameters[name])}, "
                              f"{_bounds(self.parameters[name])}")
        self.errors.setText("\n".join(self._field_errors.values()))
        self.changed.emit()

    def validate(self, session: Any = None) -> list[str]:
        """Every reason the current values cannot start (shown under the form); empty if
        they can. With a ``session``, also the bench limits and the array's size."""
        from ftjlab.procedures import build

        reasons = []
        for name, p in self.parameters.items():
            if isinstance(self.fields[name], QLineEdit):
                reason = check_text(name, p, self.text_of(name))
                if reason:
                    reasons.append(reason)
        if not reasons:
            try:
                procedure = build(self.procedure_cls, self.settings())
                if session is not None:
                    from ftjlab.controller import ArrayController

                    for name, role in procedure.voltage_roles.items():
                        try:  # the bench's safety limit, named with the field
                            session.limits.check_voltage(role, float(getattr(procedure, name)))
                        except Exception as exc:
                            reasons.append(f"{name}: {exc}")
                    if reasons:
                        self.errors.setText("\n".join(reasons))
                        return reasons
                    procedure.controller = ArrayController(session)  # config only, no I/O
                    procedure.preflight()
            except BadInput as exc:
                reasons.append(str(exc))
            except Exception as exc:  # e.g. LimitViolation from the safety layer
                reasons.append(f"{type(exc).__name__}: {exc}")
        self.errors.setText("\n".join(reasons))
        return reasons
