"""Parameter files: strict loading, errors that name the field, nothing half-built."""

import dataclasses
import math

import numpy as np
import pytest
from ftjlab.simulators.array import FTJArray
from ftjlab.simulators.params import (
    ArrayParams,
    ParameterError,
    TrapModel,
    from_mapping,
    load_array_params,
    with_overrides,
)


def write(tmp_path, text: str):
    path = tmp_path / "array.toml"
    path.write_text(text)
    return path


def test_a_full_file_round_trips_into_the_dataclasses(tmp_path):
    path = write(
        tmp_path,
        """
rows = 16
cols = 8
initial_state = "random"
[traps]
tau_capture_ref_s = 2e-3
traps_per_cell = 2
[switching]
domains_per_cell = 16
""",
    )
    params = load_array_params(path)
    assert (params.rows, params.cols, params.initial_state) == (16, 8, "random")
    assert params.traps.tau_capture_ref_s == 2e-3
    assert params.traps.traps_per_cell == 2.0 and isinstance(params.traps.traps_per_cell, float)
    assert params.switching.domains_per_cell == 16
    assert params.conductance == ArrayParams().conductance  # untouched tables keep defaults
    array = FTJArray(params, np.random.default_rng(0))
    assert array.shape == (16, 8)


@pytest.mark.parametrize(
    ("text", "field", "why"),
    [
        ("rows = 8\ncolumns = 8\n", "columns", "unknown"),
        ("[traps]\ntau_capture_s = 1e-3\n", "traps.tau_capture_s", "unknown"),
        ("[trap]\ntau_capture_ref_s = 1e-3\n", "trap", "unknown"),
        ("rows = 'eight'\n", "rows", "integer"),
        ("rows = 8.5\n", "rows", "integer"),
        ("rows = 0\n", "rows", ">= 1"),
        ("[switching]\ndomains_per_cell = 64\n", "switching.domains_per_cell", "<= 32"),
        ("[traps]\ntau_capture_ref_s = '1 ms'\n", "traps.tau_capture_ref_s", "number"),
        ("[traps]\ntau_capture_ref_s = -1e-3\n", "traps.tau_capture_ref_s", "> 0"),
        ("[traps]\ntau_emission_ref_s = nan\n", "traps.tau_emission_ref_s", "finite"),
        ("[traps]\namplitude = inf\n", "traps.amplitude", "finite"),
        ("[retention]\ndrift_t0_s = 0\n", "retention.drift_t0_s", "> 0"),
        ("[conductance]\nstuck_on_fraction = 1.5\n", "conductance.stuck_on_fraction", "[0, 1]"),
        ("[read_noise]\nshot_noise = 1\n", "read_noise.shot_noise", "true/false"),
        ("initial_state = 'half'\n", "initial_state", "one of"),
        ("traps = 3\n", "traps", "table"),
        ("rows = 8\nrows = 9\n", "array.toml", "not valid TOML"),
    ],
)
def test_bad_files_name_the_field(tmp_path, text, field, why):
    with pytest.raises(ParameterError) as err:
        load_array_params(write(tmp_path, text))
    message = str(err.value)
    assert field in message and why in message


def test_missing_file_is_a_clear_error(tmp_path):
    with pytest.raises(ParameterError, match="no such parameter file"):
        load_array_params(tmp_path / "nope.toml")


def test_nothing_half_built_from_a_bad_mapping():
    """Validation runs before any object exists: a bad nested value raises from the mapping,
    not later from a half-initialised array."""
    with pytest.raises(ParameterError, match=r"traps\.capture_slope_v"):
        from_mapping(ArrayParams, {"rows": 4, "traps": {"capture_slope_v": -0.1}})
    with pytest.raises(ParameterError, match="tau_capture_ref_s"):
        TrapModel(tau_capture_ref_s=math.nan)
    with pytest.raises(ParameterError, match="tau_emission_ref_s"):
        with_overrides(TrapModel(), tau_emission_ref_s=-1.0)
    with pytest.raises(ParameterError, match="rows"):
        ArrayParams(rows=-3)  # direct construction validates too


def test_dataclasses_are_frozen():
    params = ArrayParams()
    with pytest.raises(dataclasses.FrozenInstanceError):
        params.rows = 3  # type: ignore[misc]
