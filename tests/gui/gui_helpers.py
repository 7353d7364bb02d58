"""Helpers of the GUI tests: drive the window as a user would."""

from __future__ import annotations

#: the shipped bench's seed; cell (3, 7) of its array shows a strong two-level RTN
SEED = 2026
RTN_CELL = {"row": "3", "col": "7"}


def set_field(qtbot, window, name: str, text: str) -> None:
    """Type ``text`` into the form field ``name``."""
    field = window.form.fields[name]
    field.clear()
    qtbot.keyClicks(field, text)


def pick(window, procedure: str) -> None:
    """Choose ``procedure`` in the picker."""
    window.picker.setCurrentText(procedure)
    assert window.form.procedure_cls.name == procedure
