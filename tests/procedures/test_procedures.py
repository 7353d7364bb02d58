"""Every procedure end to end on the simulated bench, in-process and through the sim
server, from Python and from the CLI; HDF5 output that a reader can use."""

import numpy as np
import pytest
from ftjlab.procedures import PROCEDURES, build
from procedures_shared import open_session, settings, small

from ftjlab.cli import main
from ftjlab.runner import run_procedure
from ftjlab.store import list_runs, read_dataset


def check_file(path, name, settings):
    (info,) = list_runs(path)
    assert info.procedure == name and info.status == "completed", info.error
    for key, text in settings.items():
        assert str(info.parameters[key]) == text or float(info.parameters[key]) == float(text)
    assert info.bench["instruments"]["smu"]["idn"].startswith("Keithley Instruments Inc.")
    assert info.datasets, "no data"
    for dataset, (shape, _, _units) in info.datasets.items():
        assert all(s > 0 for s in shape), dataset
    return info


@pytest.mark.parametrize("transport", ["in-process", "tcp"])
@pytest.mark.parametrize("name", sorted(PROCEDURES))
def test_every_procedure_runs_from_python(name, transport, sim_server, tmp_path):
    session = open_session(transport, sim_server)
    try:
        procedure = build(PROCEDURES[name], settings(name, transport))
        outcome = run_procedure(procedure, session, tmp_path)
    finally:
        session.close()
    assert outcome.status == "completed", outcome.error
    check_file(outcome.path, name, settings(name, transport))
    if transport == "tcp":  # the matrix is open and every output off at the end
        assert sim_server.bench.closed() == []


@pytest.mark.parametrize("name", sorted(PROCEDURES))
def test_every_procedure_runs_from_the_cli(name, tmp_path, capsys):
    args = ["run", name, "--out", str(tmp_path), "--seed", "3", "--quiet"]
    for key, value in small(name).items():
        args += ["--set", f"{key}={value}"]
    assert main(args) == 0
    (path,) = tmp_path.glob("*.h5")
    check_file(path, name, small(name))
    assert "completed" in capsys.readouterr().out


def test_rtn_trace_in_the_file_is_what_the_smu_measured(tmp_path):
    session = open_session("in-process")
    try:
        procedure = build(PROCEDURES["rtn-acquisition"], {"readings": "30000", "block": "7000"})
        outcome = run_procedure(procedure, session, tmp_path)
        g = session.sim.array.conductance()[0, 0]
        f = session.sim.array.current_factor(0.8)
    finally:
        session.close()
    current = read_dataset(outcome.path, "current")
    time = read_dataset(outcome.path, "time")
    assert current.shape == time.shape == (30000,)
    np.testing.assert_allclose(np.diff(time), 2e-4, rtol=1e-3)  # interval across blocks
    assert np.median(current) == pytest.approx(g * f, rel=0.1)


def test_list_shows_parameters_with_units_and_ranges(capsys):
    assert main(["run", "--list"]) == 0
    text = capsys.readouterr().out
    for name in PROCEDURES:
        assert f"{name}:" in text
    assert "bias_v (V) [0.0..1.5] = 0.8: Sampling bias" in text


def test_a_tsplink_row_read_equals_cell_by_cell_reads():
    """The one-script row read (matrix as TSP-Link node) and the per-cell path agree."""
    session = open_session("in-process")
    try:
        from ftjlab.controller import ArrayController

        c = ArrayController(session)
        assert c.tsplink_node == 2
        scripted = c.read_map(0.2, 1.0, rows=[3, 4])
        c.use_sequences = False
        per_cell = c.read_map(0.2, 1.0, rows=[3, 4])
    finally:
        session.close()
    np.testing.assert_allclose(scripted, per_cell, rtol=2e-3)  # read noise at 1 NPLC
