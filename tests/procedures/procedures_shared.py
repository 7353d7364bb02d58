"""Shared settings of the procedure tests."""

import tempfile

import numpy as np

from ftjlab.session import BenchSession


def _vae_map_file() -> str:
    """Every VAE decoder load's map (targets, 1 % noise) in vae-program's layout, so the
    vae-generate runs stay short (programming all 100 loads takes ~50 min)."""
    from ftjlab.procedures.vae import decoder_mapping, write_map_file

    from ftjlab.controller import ArrayController

    with BenchSession.open(seed=7) as session:
        _, mapping = decoder_mapping(ArrayController(session), 32)
    rng = np.random.default_rng(1)
    maps = {k: mapping.load_targets(k) * (1 + 0.01 * rng.standard_normal(mapping.array_shape))
            for k in range(mapping.n_loads)}
    return str(write_map_file(tempfile.mkdtemp(prefix="ftjlab-vae-maps-"), maps))


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
    "vae-program": {"max_rows": "1"},
    "vae-generate": {"maps_from": _vae_map_file(), "samples": "40", "cells_per_latent": "1",
                     "png_dir": tempfile.mkdtemp(prefix="ftjlab-vae-png-")},
}
#: through a sim server the bench's clock is wall time: short waits
OVER_TCP = {"retention": {"reads": "3", "t_first": "0.05", "t_last": "0.3"}}


def settings(name: str, transport: str) -> dict[str, str]:
    return OVER_TCP.get(name, SMALL[name]) if transport == "tcp" else SMALL[name]


def open_session(transport: str, server=None) -> BenchSession:
    if transport == "in-process":
        return BenchSession.open(seed=7)
    return BenchSession.open(resources=dict(server.resources), timeout_ms=5000)
