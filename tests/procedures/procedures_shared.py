"""Shared settings of the procedure tests."""

from ftjlab.session import BenchSession

#: small runs of every procedure (parameters as text, as given on the command line)
SMALL = {
    "conductance-map": {},
    "iv-sweep": {"points": "11", "v_max": "0.8"},
    "switching-probability": {"v_points": "3", "t_points": "3", "cells": "8"},
    "write-verify": {"rows_used": "2", "pairs_used": "4"},
    "rtn-acquisition": {"readings": "20000", "block": "8000"},
    "rtn-tuning": {"v_points": "2", "nplc_points": "2", "readings": "3000"},
    "vmm-accuracy": {"rows_used": "8", "pairs_used": "4", "inputs": "4"},
    "endurance": {"cycles": "2000", "checkpoints": "4", "cells": "2"},
    "retention": {"reads": "5"},
}
#: through a sim server the bench's clock is wall time: short waits
OVER_TCP = {"retention": {"reads": "3", "t_first": "0.05", "t_last": "0.3"}}


def settings(name: str, transport: str) -> dict[str, str]:
    return OVER_TCP.get(name, SMALL[name]) if transport == "tcp" else SMALL[name]


def open_session(transport: str, server=None) -> BenchSession:
    if transport == "in-process":
        return BenchSession.open(seed=7)
    return BenchSession.open(resources=dict(server.resources), timeout_ms=5000)
