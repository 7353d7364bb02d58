"""Fuzz of the on-instrument array scripts (ftjseq, ftjseqn, ftjacqn) through the 2636B's
guard on the simulated benches: generated calls with random crosspoints (gate, read, pulser
and unwired rows on word and bit lines), node numbers, channel tables, counts and argument
types. Nothing beyond a limit and no forbidden route may reach an emulator (judged from the
emulators and the array's record by the fuzz judge, never the guard), and an abort in the
middle of a row leaves the bench safe within a second."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import numpy as np
import safety_fuzz as fz
from ftjlab.instruments.keithley2636b_scripts import (
    MULTI_ACQUIRE_SOURCE,
    MULTI_SEQUENCE_SOURCE,
    ROW_PROGRAM_SOURCE,
    SEQUENCE_SOURCE,
)

from ftjlab.controller import ArrayController
from ftjlab.session import BenchSession

ROOT = Path(__file__).resolve().parents[2]


def _xp(rng: np.random.Generator) -> str:
    return f"{rng.integers(1, 7)}{'ABCDEFGH'[rng.integers(0, 8)]}{rng.integers(1, 13):02d}"


def _xps(rng: np.random.Generator, k: int) -> str:
    return ",".join(_xp(rng) for _ in range(k))


def _lua(items: list[str]) -> str:
    return "{" + ",".join(f'"{x}"' for x in items) + "}"


def _nums(rng: np.random.Generator, lo: float, hi: float, m: int) -> str:
    return "{" + ",".join(f"{v:.4g}" for v in rng.uniform(lo, hi, m)) + "}"


def _forms(rng: np.random.Generator, n: int, node: int) -> list[str]:
    forms = []
    for _ in range(n):
        kind = rng.integers(0, 7)
        gates = [_xps(rng, int(rng.integers(1, 4))) for _ in range(int(rng.integers(1, 3)))]
        bls = [_xp(rng) for _ in range(int(rng.integers(1, 5)))]
        nd = int(rng.choice([node, node, 1, 2, 3, 65, 0]))
        if kind == 0:
            forms.append(f"ftjseq({nd}, {_lua(gates)}, {_lua(bls)})")
        elif kind == 1:  # the legal shape: gate row B on word lines, read row A on bit lines
            wl = f"1B{rng.integers(1, 13):02d}"
            bl = f"{rng.integers(4, 7)}A{rng.integers(1, 13):02d}"
            forms.append(f'ftjseq({node}, {{"{wl}"}}, {{"{bl}"}})')
        elif kind == 2:
            groups = [_xps(rng, int(rng.integers(1, 3))) for _ in range(2)]
            chans = _lua([str(rng.choice(["a", "b", "c"])) for _ in range(2)])
            forms.append(f"ftjseqn({nd}, {_lua(gates)}, {_lua(groups)}, {{1, 2}}, {chans})")
        elif kind == 3:
            count = int(rng.choice([10, 0, -5, 200_000, 5]))
            interval = float(rng.choice([2e-4, -1.0, 3.0, 0.0]))
            forms.append(f'ftjacqn({{1}}, {{"a"}}, {count}, {interval!r})')
        elif kind == 4:  # wrong types and expressions instead of literals
            forms.append(str(rng.choice([
                f"ftjseq(nd, {_lua(gates)}, {_lua(bls)})",
                f'ftjseq({node}, {{"1B01" .. "," .. "4B01"}}, {{"4A01"}})',
                f"ftjseq({node}, 5, {_lua(bls)})",
                'ftjacqn({1}, {"a"}, 10 * 1000000, 1e-4)',
                "ftjseq = nil",
                f"local f = ftjseq f({node}, {_lua(gates)}, {_lua(bls)})",
            ])))
        elif kind == 5:  # a redefinition with another body
            forms.append(SEQUENCE_SOURCE.replace("smua.measure.i", "smub.measure.i"))
        else:  # the on-board row program: random word lines, routes, targets and settings
            forms.append(_row_program(rng, node))
    return forms


def _row_program(rng: np.random.Generator, node: int) -> str:
    """A call of ftjrowwv on one to three word lines and one to three read channels: legal
    shapes and mistakes (a cell's program or erase crosspoint on another bit line, counts
    that do not add up, a read row that is the generator's, a channel twice or unknown,
    amplitudes beyond the limit)."""
    cnt = [int(rng.integers(1, 4)) for _ in range(int(rng.integers(1, 4)))]
    m = sum(cnt)
    rd = [f"{rng.integers(4, 7)}{rng.choice(list('AAC'))}{rng.integers(1, 13):02d}"
          for _ in range(m)]
    p1 = [x[0] + str(rng.choice(list("CCDA"))) + x[2:] for x in rd]
    p2 = [x[0] + str(rng.choice(list("DDCB"))) + x[2:] for x in rd]
    if rng.random() < 0.15:  # a pulse on a bit line the cell is not on
        k = int(rng.integers(0, m))
        p1[k] = p1[k][:2] + f"{int(p1[k][2:]) % 12 + 1:02d}"
    if rng.random() < 0.1:
        cnt[0] += 1
    vmax = float(rng.choice([3.0, 4.4, 4.6, 9.0]))
    gates = [str(rng.choice(["1B01", "1B02,1B03", "4B01", "1A01", "2B05"])) for _ in cnt]
    zeros = "{" + ",".join(["0"] * m) + "}"
    first = "{" + ",".join(str(int(x)) for x in rng.integers(0, 2, m)) + "}"
    channels = [(1, "a"), (2, "a"), (2, "b")][:int(rng.integers(1, 4))]
    if rng.random() < 0.1:  # a channel twice, or one that does not exist
        channels = [(1, "a"), (1, "a")] if rng.random() < 0.5 else [(1, "c")]
    # each cell's crosspoint for every read channel: rows A, E, F are the read rows
    reads = [x[0] + "AEF"[k] + x[2:] if x[1] == "A" else x
             for k in range(len(channels)) for x in rd]
    nodes = "{" + ",".join(str(n) for n, _ in channels) + "}"
    return (f'ftjrowwv({node}, "pg", 0, {nodes}, {_lua([c for _, c in channels])}, '
            f'{_lua(gates)}, {{{",".join(map(str, cnt))}}}, '
            f"{_lua(reads)}, {_lua(p1)}, {_lua(p2)}, "
            f"{_nums(rng, 0, 3e-8, m)}, {_nums(rng, 1, vmax * 1.2, m)}, "
            f"{_nums(rng, 1, vmax, m)}, {first}, "
            + ", ".join([zeros] * 8)
            + f", {{2e-10, 0.05, {vmax}, 5, 0.05, 0.05}})")


def _fuzz(bench: str | None, n: int, seed: int) -> None:
    session = BenchSession.open(bench, seed=seed)
    try:
        c = ArrayController(session)
        c.read_cells(0, [0, 1, 2], 0.2, 0.01)  # gate on, read channels biased, scripts loaded
        for k, volts in ((1, 2.0), (2, -2.0)):  # both generator outputs on: pulses land
            c._outs[k].pulses(volts, 1e-6, 4e-6)
            c._outs[k].on()
        smu = c.read.driver
        for source in (SEQUENCE_SOURCE, MULTI_SEQUENCE_SOURCE, MULTI_ACQUIRE_SOURCE,
                       ROW_PROGRAM_SOURCE):
            smu.write(source)
        judge = fz.session_judge(session)
        rng = np.random.default_rng(seed)
        emulator = session.emulators[c.read.instrument]

        def judged(form: str) -> None:
            judge.judge(form, session.emulators, session.sim)
            emulator.read_all()  # the scripts' printed readings: nobody reads them here

        accepted, refused = fz.send_all(_forms(rng, n, int(c.tsplink_node)), smu.write, judged)
        assert judge.escapes == []
        assert accepted > n // 20 and refused > n // 4, (accepted, refused)
    finally:
        session.close()


def test_script_calls_fuzzed_on_the_default_bench():
    _fuzz(None, 600, 21)


def test_script_calls_fuzzed_on_the_two_node_bench():
    _fuzz(str(ROOT / "data" / "benches" / "sim-4ch.toml"), 400, 22)


def test_an_abort_mid_row_leaves_the_bench_safe_within_a_second(tmp_path):
    from ftjlab.procedures import PROCEDURES, build

    from ftjlab.runner import run_procedure

    session = BenchSession.open(seed=9)
    try:
        stop = threading.Event()
        stopped_at: list[float] = []

        def listener(topic, data):
            if topic == "record" and data[0] == "cells" and not stop.is_set():
                listener.cells = getattr(listener, "cells", 0) + len(data[1])
                if listener.cells >= 5:  # a few cells of the first row are done
                    stopped_at.append(time.perf_counter())
                    stop.set()

        procedure = build(PROCEDURES["write-verify"], {"rows_used": "4", "pairs_used": "16"})
        outcome = run_procedure(procedure, session, tmp_path, listener=listener, stop=stop)
        ended = time.perf_counter()
        assert stopped_at, "never stopped"
        assert outcome.status == "aborted"
        assert ended - stopped_at[0] < 1.0
        assert listener.cells < 4 * 32  # stopped with rows left
        sim = session.sim
        assert sim.closed() == []
        assert not any(d.output_on for d in sim._drives.values())
    finally:
        session.close()
