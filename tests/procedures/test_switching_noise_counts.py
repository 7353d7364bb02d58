"""switching-noise: the run's flip totals (counted by the drift tracker, summed over its check
windows) are the flips in the recorded cell states."""

import numpy as np
from ftjlab.procedures import PROCEDURES, build
from procedures_shared import open_session, small

from ftjlab.runner import run_procedure
from ftjlab.store import read_dataset


def test_flip_totals_equal_the_flips_in_the_bits_stream(tmp_path):
    steps, check_every = 25, 10  # two drift checks and a window after the last one
    session = open_session("in-process")
    try:
        values = dict(small("switching-noise"), steps=str(steps), check_every=str(check_every))
        procedure = build(PROCEDURES["switching-noise"], values)
        outcome = run_procedure(procedure, session, tmp_path)
    finally:
        session.close()
    assert outcome.status == "completed", outcome.error
    r = outcome.results
    assert r["steps_done"] == steps
    assert len(read_dataset(outcome.path, "checks")) == steps // check_every
    bits = read_dataset(outcome.path, "bits").astype(np.int64)  # state after every step
    assert bits.shape[0] == steps
    before = np.vstack([np.zeros((1, bits.shape[1]), np.int64), bits[:-1]])  # started OFF
    flipped = bits != before
    # the per-step flips the settings stream recorded, cells in use at that step
    assert r["flips"] == read_dataset(outcome.path, "settings")[:, 4].sum()
    # cells of units still in use at the end were in use at every step: their totals are
    # exactly what their recorded states say
    cells = [tuple(c) for c in r["cells"].tolist()]
    kept = {cells.index(tuple(c)) for unit, alive in
            zip(r["units"].reshape(-1, procedure.k, 2),
                r["units_in_use_final"], strict=True) if alive for c in unit}
    assert kept, "no unit stayed in use: nothing to compare"
    kept = sorted(kept)
    for pi, name in ((0, "set"), (1, "reset")):
        at = before[:, kept] == pi
        np.testing.assert_array_equal(r[f"chain_{name}_trials"][kept], at.sum(axis=0))
        np.testing.assert_allclose(r[f"chain_{name}_p"][kept] * at.sum(axis=0),
                                   (at & flipped[:, kept]).sum(axis=0))
    if r["units_in_use_final"].all():  # nothing dropped: every flip is in the bits
        assert r["flips"] == int(flipped[:, np.asarray(r["in_use"], bool)].sum())
