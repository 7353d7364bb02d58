"""Live views, one per procedure, fed block by block and redrawn at most once per frame.

A view gets ``begin(params, context)`` when a run starts, ``feed(stream, block)`` for every
recorded block (from the worker's events, never by re-reading the file), ``result(name,
value, units)`` and ``finish(status, error)``; :meth:`LiveView.redraw` repaints only if
something changed since the last frame. The run browser uses the same views on a past run
(:meth:`LiveView.load_run` feeds the file's streams through the same path).

Ingest is O(block) and drawing is O(pixels): the RTN trace is decimated to a (min, max)
envelope from a pyramid (:class:`~ftjlab.gui.buffers.TraceEnvelope`), the conductance map is
kept as a colour-index image updated row by row.
"""

from __future__ import annotations

from PyQt6.QtWidgets import QWidget

from ftjlab.gui.array_views import IVView, StreamView, SwitchingView, VMMView, WriteVerifyView
from ftjlab.gui.liveview import LiveView, si
from ftjlab.gui.map_view import ConductanceImage, MapView
from ftjlab.gui.rtn_view import RTNView, fit_levels

__all__ = ["VIEWS", "ConductanceImage", "IVView", "LiveView", "MapView", "RTNView",
           "StreamView", "SwitchingView", "VMMView", "WriteVerifyView", "fit_levels",
           "make_view", "si"]

VIEWS: dict[str, type[LiveView]] = {
    cls.procedure: cls
    for cls in (RTNView, MapView, WriteVerifyView, VMMView, SwitchingView, IVView)
}


def make_view(procedure: str, parent: QWidget | None = None) -> LiveView:
    """The view for ``procedure`` (a generic stream view for procedures without one)."""
    if procedure not in VIEWS:
        import ftjlab.gui.generation  # (registers the generation run view)
        import ftjlab.gui.switching_noise  # noqa: F401  (registers the switching-noise view)
    return VIEWS.get(procedure, StreamView)(procedure, parent)
