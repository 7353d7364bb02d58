"""Deferred imports of heavy third-party modules that a dependency imports eagerly.

pymeasure's ``experiment`` package imports pandas at import time for its CSV ``Results``,
which ftjlab never uses (runs go to HDF5); that import alone is a few hundred ms of every
``ftjlab run``. :func:`defer` puts a stand-in module in ``sys.modules`` that imports the real
one on the first attribute access and forwards to it from then on.

(``importlib.util.LazyLoader`` does not help here: on Python 3.11 the import statement
itself reads ``module.__spec__``, which makes a lazy module load at once.)
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
import types
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any


class _Deferred(types.ModuleType):
    """Stands in for a module until something reads one of its attributes."""

    def __getattr__(self, attr: str) -> Any:  # called only for attributes not set here
        name = self.__name__
        if sys.modules.get(name) is self:
            del sys.modules[name]
        real = importlib.import_module(name)
        return getattr(real, attr)


def defer(name: str) -> None:
    """Make ``import name`` cheap until the module is used (no-op if it is already imported
    or not installed)."""
    if name in sys.modules or importlib.util.find_spec(name) is None:
        return
    sys.modules[name] = _Deferred(name)


@contextmanager
def hidden(*names: str) -> Iterator[None]:
    """Inside the block, optional packages ``names`` look uninstalled to ``find_spec`` and
    ``import`` (a ``None`` entry in ``sys.modules``), unless already imported.

    pint (imported by ``pymeasure.experiment``) probes for dask with ``find_spec`` and then
    imports ``dask.base`` (~0.3 s) for dask-array support ftjlab does not use; dask is
    installed for the campaign scheduler. Afterwards the names import normally again.
    """
    hid = [n for n in names if n not in sys.modules]
    for n in hid:
        sys.modules[n] = None  # type: ignore[assignment]
    try:
        yield
    finally:
        for n in hid:
            if sys.modules.get(n, 0) is None:
                del sys.modules[n]
