"""Measurement procedures (pymeasure ``Procedure`` subclasses) that run on any bench."""

from .base import FTJProcedure, build, describe_parameter, parameter_table
from .measurements import PROCEDURES

__all__ = ["PROCEDURES", "FTJProcedure", "build", "describe_parameter", "parameter_table"]
