"""Device-variation study: simulated arrays (parameter sets x seeds) through a procedure on
the dask engine; bad parameter sets are refused before anything runs."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest

from ftjlab.campaign.study import run_study
from ftjlab.errors import BadInput

WAFER = Path(__file__).resolve().parents[2] / "data" / "benches" / "sim-wafer.toml"


@pytest.fixture
def bench(tmp_path):
    """The wafer bench's instruments and 8 x 8 array (all cells ON), without the prober."""
    text = WAFER.read_text()
    start = text.index("[instruments.prober]")
    path = tmp_path / "array.toml"
    path.write_text(text[:start] + text[text.index("[instruments.smu]") :])
    return path


def test_study_runs_every_array_and_sees_the_parameter(tmp_path, bench):
    sets = [{"conductance.g_on_siemens": 5e-8}, {"conductance.g_on_siemens": 1e-7}]
    summary = run_study(
        bench,
        "conductance-map",
        {"nplc": "0.1"},
        sets,
        [0, 1],
        tmp_path,
        workers=2,
        processes=False,
    )
    assert summary.failed == 0 and len(summary.rows) == 4
    t = pq.read_table(summary.table).to_pydict()
    g_on = np.array(t["set.conductance.g_on_siemens"])
    median = np.array(t["g_median_s"])
    assert sorted(zip(g_on, t["seed"], strict=True)) == [(5e-8, 0), (5e-8, 1), (1e-7, 0), (1e-7, 1)]
    # all cells start ON (sim-wafer): the map median follows G_on (die spread a few %)
    assert median[g_on == 1e-7].mean() / median[g_on == 5e-8].mean() == pytest.approx(2, rel=0.05)
    # different seeds are different arrays
    assert len(set(median[g_on == 1e-7])) == 2


def test_study_refuses_a_bad_parameter_set_naming_it(tmp_path, bench):
    with pytest.raises(BadInput, match=r"set 1.*array.traps.traps_per_cell"):
        run_study(
            bench,
            "conductance-map",
            {},
            [{}, {"traps.traps_per_cell": -1}],
            [0],
            tmp_path,
            processes=False,
        )
    with pytest.raises(BadInput, match="unknown procedure"):
        run_study(bench, "no-such", {}, [{}], [0], tmp_path, processes=False)
    with pytest.raises(BadInput, match="probe station"):
        run_study(WAFER, "conductance-map", {}, [{}], [0], tmp_path / "out", processes=False)
    assert not (tmp_path / "out").exists()
