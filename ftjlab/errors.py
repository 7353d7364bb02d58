"""Exceptions the CLI turns into exit codes (DESIGN.md section 9)."""

from __future__ import annotations


class BadInput(ValueError):
    """Bad input from the user (config, parameters, files): exit code 2, message names the field."""


class MeasurementFailed(RuntimeError):
    """A measurement failed or was aborted; data recorded so far is kept: exit code 1."""
