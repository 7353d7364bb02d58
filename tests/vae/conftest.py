"""Shared, expensive objects of the VAE tests, built once per session."""

from __future__ import annotations

import numpy as np
import pytest
from ftjlab.simulators.array import FTJArray
from ftjlab.simulators.params import ArrayParams, with_overrides

from ftjlab.vae.generate import ArrayDecoder
from ftjlab.vae.mapping import (
    ConductanceLevels,
    map_decoder,
    simulator_programmer,
    single_load_shape,
)
from ftjlab.vae.metrics import Evaluator
from ftjlab.vae.model import load_vae

TILE_COLS = 32


@pytest.fixture(scope="session")
def vae():
    return load_vae()


@pytest.fixture(scope="session")
def evaluator():
    return Evaluator()


@pytest.fixture(scope="session")
def programmed(vae):
    """The shipped decoder programmed by pulses with verify onto a simulated array with the
    default device physics (``ArrayParams()``), wide enough to hold the decoder in one load
    (16 + hidden word lines x 2 x 784 bit lines, 16-pair tiles with their own scales).
    The ramps verify from the true conductance plus the read-noise model (half the cost);
    the maps the decoder uses are measured by real bit-line reads."""
    shapes = [layer.weight.shape for layer in vae.layers]
    rows, cols = single_load_shape(shapes, TILE_COLS)
    params = with_overrides(ArrayParams(), rows=rows, cols=cols)
    array = FTJArray(params, np.random.default_rng(2026))
    levels = ConductanceLevels.from_model(params.conductance)
    mapping = map_decoder([layer.weight for layer in vae.layers], array.shape, levels,
                          (rows, TILE_COLS))
    programmer = simulator_programmer(array, levels=levels, verify_reads=False)
    decoder = ArrayDecoder(vae, mapping, params, programmer)
    decoder.program_all()
    return array, decoder


@pytest.fixture(scope="session")
def bench_map_file(tmp_path_factory):
    """Every decoder load's map on the shipped 32 x 32 bench, in vae-program's layout: the
    mapping's targets with 1 % multiplicative noise (a stand-in for programming every load
    through the bench, which takes the row-parallel write-verify minutes)."""
    from ftjlab.controller import ArrayController
    from ftjlab.session import BenchSession
    from ftjlab.vae.bench import decoder_mapping, write_map_file

    with BenchSession.open(seed=7) as session:
        _, mapping = decoder_mapping(ArrayController(session), 32)
    rng = np.random.default_rng(1)
    maps = {
        k: mapping.load_targets(k) * (1 + 0.01 * rng.standard_normal(mapping.array_shape))
        for k in range(mapping.n_loads)
    }
    return write_map_file(tmp_path_factory.mktemp("maps"), maps, source="targets, 1 % noise")
