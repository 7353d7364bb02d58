"""ftjlab: a lab application for ferroelectric tunnel junction (FTJ) NOR memory arrays.

Layers (see README): ``ftjlab.instruments`` (drivers), ``ftjlab.procedures``
(measurements), ``ftjlab.simulators`` (array physics and instrument emulators), and the core
in ``ftjlab`` itself (config, CLI, analysis, storage).
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("ftjlab")
except PackageNotFoundError:  # running from a source tree without installation
    __version__ = "0.0.0+unknown"
