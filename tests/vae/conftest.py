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
