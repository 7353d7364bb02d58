"""Exceptions the CLI turns into exit codes (DESIGN.md section 9)."""

from __future__ import annotations


class BadInput(ValueError):  # noqa: N818 - the name is the contract of exit code 2
    """Bad input from the user (config, parameters, files): exit code 2, message names the field."""


class MeasurementFailed(RuntimeError):  # noqa: N818
    """A measurement failed or was aborted; data recorded so far is kept: exit code 1."""
