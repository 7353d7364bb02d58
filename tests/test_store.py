"""The HDF5 run store: layout contract, block appends, status, results next to the run."""

import json

import h5py
import numpy as np
import pytest

from ftjlab.errors import BadInput
from ftjlab.store import RunWriter, StreamSpec, add_results, iter_blocks, list_runs, open_run


def make_run(tmp_path, **kw):
    return RunWriter.create(
        tmp_path,
        "rtn_acquisition",
        {"bias": 0.8, "readings": 3000, "cells": [[0, 1]]},
        {"seed": 7, "instruments": {"smu": {"model": "2636B"}}},
        {"current": StreamSpec(np.float32, "A"), "map": StreamSpec(np.float64, "S", (4,))},
        units={"bias": "V"},
        **kw,
    )


def test_layout_attributes_and_streams(tmp_path):
    run = make_run(tmp_path)
    for k in range(3):
        run.append("current", np.full(1000, k, np.float32))
    run.append("map", np.ones((2, 4)))
    run.finish("completed", arrays={"summary": (np.arange(3), "A")}, attrs={"noise_a": 1e-12})
    (info,) = list_runs(run.path)
    assert info.procedure == "rtn_acquisition" and info.status == "completed"
    assert info.parameters == {"bias": 0.8, "readings": 3000, "cells": [[0, 1]]}
    assert info.units == {"bias": "V"} and info.bench["seed"] == 7
    assert info.datasets["current"] == ((3000,), "float32", "A")
    assert info.datasets["map"] == ((2, 4), "float64", "S")
    with h5py.File(run.path, "r") as f:
        g = f["runs"][info.run_id]
        assert g.attrs["bias"] == 0.8 and g.attrs["bias.units"] == "V"
        assert json.loads(g.attrs["parameters"])["readings"] == 3000
        assert g.attrs["started"] < g.attrs["finished"]
        assert g["current"].chunks is not None and g["current"].compression == "gzip"
        assert g["current"].maxshape == (None,)
    blocks = list(iter_blocks(run.path, "current", block=700))
    assert [b.size for b in blocks] == [700, 700, 700, 700, 200]
    np.testing.assert_array_equal(np.concatenate(blocks)[999:1001], [0, 1])


def test_a_live_reader_follows_the_run(tmp_path):
    run = make_run(tmp_path)
    run.append("current", np.arange(10, dtype=np.float32))
    # in the writer's own process HDF5 wants the writer's locking setting (off, see store._open)
    with h5py.File(run.path, "r", libver="latest", swmr=True, locking=False) as reader:
        ds = reader["runs"][run.run_id]["current"]
        assert ds.shape == (10,)
        run.append("current", np.arange(5, dtype=np.float32))
        ds.refresh()
        assert ds.shape == (15,)
    assert open_run(run.path).status == "interrupted"  # still recording: not finished
    run.finish("aborted", "stopped by the user")
    info = open_run(run.path)
    assert (info.status, info.error) == ("aborted", "stopped by the user")


def test_exceptions_mark_the_run_failed_and_keep_data(tmp_path):
    with pytest.raises(RuntimeError), make_run(tmp_path) as run:
        run.append("current", np.ones(100, np.float32))
        raise RuntimeError("compliance")
    info = open_run(run.path)
    assert info.status == "failed" and "compliance" in info.error
    assert info.datasets["current"][0] == (100,)


def test_results_next_to_the_run_and_bad_inputs(tmp_path):
    run = make_run(tmp_path)
    with pytest.raises(BadInput, match="still recording"):
        add_results(run.path, "rtn_fit", {"tau_c": (np.array([1e-3]), "s")})
    with pytest.raises(KeyError, match="not declared"):
        run.append("voltage", np.ones(3))
    run.finish()
    where = add_results(run.path, "rtn_fit", {"tau_c": (np.array([1e-3]), "s")}, {"model": "hmm"})
    assert where.endswith("/analysis/rtn_fit")
    assert open_run(run.path).datasets["analysis/rtn_fit/tau_c"] == ((1,), "float64", "s")
    with pytest.raises(BadInput, match="no such file"):
        list_runs(tmp_path / "missing.h5")
    (tmp_path / "junk.h5").write_text("not hdf5")
    with pytest.raises(BadInput, match="not an HDF5 file"):
        list_runs(tmp_path / "junk.h5")
    with pytest.raises(BadInput, match="no dataset"):
        list(iter_blocks(run.path, "nope"))


def test_unwritable_output_folder_is_bad_input(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(BadInput, match="not writable"):
        RunWriter.create(blocker / "sub", "iv", {}, {}, {})


def test_blocks_under_swmr_create_no_attribute(tmp_path, monkeypatch):
    """Under SWMR HDF5 cannot always create an attribute (it fails once an object header has
    to grow: a run with many parameters lost its blocks that way), so appending blocks only
    writes the existing ``committed`` counters in place, and a reader sees every block."""
    import h5py._hl.attrs as hl_attrs

    w = make_run(tmp_path)
    created = []
    real = hl_attrs.h5a.create

    def spy(*args, **kw):
        created.append(args[1])
        return real(*args, **kw)

    monkeypatch.setattr(hl_attrs.h5a, "create", spy)
    for k in range(5):
        w.append("current", np.full(3, float(k)))
    monkeypatch.undo()
    w.finish()
    assert created == []
    with h5py.File(w.path, "r") as f:
        ds = f[w._group_name]["current"]
        assert ds.attrs["committed"] == 15 and ds.attrs["committed"].dtype == np.int64
        assert ds[:].tolist() == [float(k) for k in range(5) for _ in range(3)]
