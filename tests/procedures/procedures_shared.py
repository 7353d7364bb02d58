"""Shared settings of the procedure tests."""

from pathlib import Path

import numpy as np

from ftjlab.session import BenchSession

#: pytest's temporary folders for the files the settings need (set by the session fixture
#: in conftest.py: pytest removes them, nothing is left in the system's temp folder)
TEMP: dict[str, Path] = {}
_MAP_FILE: list[str] = []


def _vae_map_file() -> str:
    """Every VAE decoder load's map (targets, 1 % noise) in vae-program's layout, so the
    vae-generate runs stay short (programming all 100 loads takes ~50 min). Made once."""
    if _MAP_FILE:
        return _MAP_FILE[0]
    from ftjlab.procedures.vae import decoder_mapping, write_map_file

    from ftjlab.controller import ArrayController

    with BenchSession.open(seed=7) as session:
        _, mapping = decoder_mapping(ArrayController(session), 32)
    rng = np.random.default_rng(1)
    maps = {k: mapping.load_targets(k) * (1 + 0.01 * rng.standard_normal(mapping.array_shape))
            for k in range(mapping.n_loads)}
    _MAP_FILE.append(str(write_map_file(TEMP["root"] / "vae-maps", maps)))
    return _MAP_FILE[0]


_CAL_FILE: list[str] = []


def _switching_calibration_file() -> str:
    """A switching-noise run holding calibration trials of word line 0, cells 0..7, drawn from
    a known NLS law (tau0 20 ns, Va 3 V, alpha 3, beta 2), so the runs skip the calibration."""
    if _CAL_FILE:
        return _CAL_FILE[0]
    from ftjlab.procedures.switching_noise import SwitchingNoise

    from ftjlab.store import RunWriter

    rng = np.random.default_rng(2)
    rows = []
    for pol in (1, -1):
        for c in range(8):
            for t in (1e-6, 4e-6):
                for v in np.linspace(1.7, 2.2, 11):
                    p = 1 - np.exp(-((t / (20e-9 * np.exp((3.0 / v) ** 3))) ** 2))
                    rows.append((0, c, pol, v, t, 400, rng.binomial(400, p)))
    spec = SwitchingNoise().streams()["trials"]
    writer = RunWriter.create(TEMP["root"] / "switching-cal", "switching-noise", {}, {},
                              {"trials": spec})
    writer.append("trials", np.array(rows, dtype=np.float64))
    writer.finish("completed")
    _CAL_FILE.append(str(writer.path))
    return _CAL_FILE[0]


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
    "vae-generate": {"samples": "40", "cells_per_latent": "1"},  # + maps_from, png_dir
    "switching-noise": {"steps": "12", "check_every": "10", "p_tolerance": "0.2"},
}
#: through a sim server the bench's clock is wall time: short waits
OVER_TCP = {"retention": {"reads": "3", "t_first": "0.05", "t_last": "0.3"}}


def small(name: str) -> dict[str, str]:
    """The small settings of a procedure, with its files in pytest's temporary folder."""
    out = dict(SMALL[name])
    if name == "vae-generate":
        png = TEMP["root"] / "vae-png"
        png.mkdir(exist_ok=True)
        out.update(maps_from=_vae_map_file(), png_dir=str(png))
    if name == "switching-noise":
        out.update(calibration=_switching_calibration_file())
    return out


def settings(name: str, transport: str) -> dict[str, str]:
    return OVER_TCP.get(name, small(name)) if transport == "tcp" else small(name)


def open_session(transport: str, server=None) -> BenchSession:
    if transport == "in-process":
        return BenchSession.open(seed=7)
    return BenchSession.open(resources=dict(server.resources), timeout_ms=5000)
