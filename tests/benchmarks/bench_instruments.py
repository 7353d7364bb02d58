"""Instrument transport and emulator benchmarks (issue 3), each against a same-run baseline.

* a query round trip through pyvisa-py to ``ftjlab sim-server`` (``SimServer``, in-process
  threads) against the same round trip to a bare LF echo server on a thread;
* queries per second the in-process adapter serves, against the 20,000/s budget;
* reading a 1e5-point 2636B buffer in binary (REAL32) against reading it in ASCII, same buffer,
  same transport (pyvisa-py over TCP).
"""

from __future__ import annotations

import contextlib
import os
import socket
import statistics
import threading
import time
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path

from ftjlab.instruments import Keithley2636B
from ftjlab.simulators.server import SimServer
from ftjlab.simulators.transport import EmulatorAdapter
from pymeasure.instruments import Instrument

from ftjlab.benchmarks import BenchResult, interleaved_ratio
from ftjlab.config import build_sim_bench, load_bench_config

SEED = 2026
QUERIES_PER_BATCH = 5
BUFFER_POINTS = 100_000
IN_PROCESS_BUDGET_PER_S = 20_000.0
QUERIES_PER_WINDOW = 200


class EchoServer:
    """A minimal raw-socket server on a thread: every LF-terminated line comes back."""

    def __init__(self) -> None:
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        self._threads: list[threading.Thread] = []
        self._accept = threading.Thread(target=self._serve, daemon=True)
        self._accept.start()

    def _serve(self) -> None:
        with contextlib.suppress(OSError):
            while True:
                sock, _ = self._listener.accept()
                thread = threading.Thread(target=self._echo, args=(sock,), daemon=True)
                thread.start()
                self._threads.append(thread)

    @staticmethod
    def _echo(sock: socket.socket) -> None:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        pending = b""
        with contextlib.suppress(OSError), sock:
            while data := sock.recv(65536):
                pending += data
                if b"\n" in pending:
                    end = pending.rindex(b"\n") + 1
                    sock.sendall(pending[:end])
                    pending = pending[end:]

    @property
    def resource(self) -> str:
        return f"TCPIP0::127.0.0.1::{self.port}::SOCKET"

    def close(self) -> None:
        self._listener.close()


@contextlib.contextmanager
def _sim_server() -> Iterator[SimServer]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        with SimServer(load_bench_config(), seed=SEED) as server:
            yield server


def _open(resource: str):
    import pyvisa

    rm = pyvisa.ResourceManager("@py")
    return rm.open_resource(resource, read_termination="\n", write_termination="\n", timeout=5000)


def bench_query_round_trip_vs_echo_server(quick: bool) -> BenchResult:
    """``*IDN?`` to the sim server's 2636B through pyvisa-py, against the same query to a
    bare echo server (both servers in-process threads, both reached through pyvisa-py).

    The machine is shared, so: batches of a few queries (a batch is rarely preempted, so most
    pairs compare undisturbed round trips), many pairs with the sides alternating, and the
    median of the pair ratios; every thread of both sides (client, servers) on one CPU, so
    neither side's server thread can land alone on a CPU a busier process holds.
    """
    n, pairs, tsp_pairs = QUERIES_PER_BATCH, 201 if quick else 611, 71 if quick else 211
    with _one_cpu() as cpu:
        echo = EchoServer()
        with _sim_server() as server:
            sim, bare = _open(server.resources["smu"]), _open(echo.resource)
            try:
                assert sim.query("*IDN?").startswith("Keithley Instruments Inc., Model 2636B")
                assert bare.query("*IDN?") == "*IDN?"
                ts, tb, ratio = _alternating_ratio(
                    _queries(sim, "*IDN?", n), _queries(bare, "*IDN?", n), pairs
                )
                tsp = _alternating_ratio(
                    _queries(sim, "print(1)", n), _queries(bare, "print(1)", n), tsp_pairs
                )[2]
            finally:
                sim.close()
                bare.close()
                echo.close()
    # the figure is the median of the per-pair ratios (value = that x the echo's median): on a
    # shared machine the two medians on their own drift apart with the load
    return BenchResult(
        "instruments.query_round_trip_vs_echo", ratio * tb / n, tb / n, "s per query", 1.3,
        note=f"2636B *IDN?, median of {pairs} pair ratios of {n}-query batches, sides "
        f"alternating, on {cpu} (medians alone: {ts / tb:.2f}); TSP print(1), a Lua chunk: "
        f"{tsp:.2f}",
    )


@contextlib.contextmanager
def _one_cpu() -> Iterator[str]:
    """Run the calling thread, and the threads it starts meanwhile, on one CPU (Linux); yields
    which ("CPU k", or "any CPU" where affinity cannot be set)."""
    getter = getattr(os, "sched_getaffinity", None)
    if getter is None:
        yield "any CPU"
        return
    before = getter(0)
    cpu = min(before)
    os.sched_setaffinity(0, {cpu})
    try:
        yield f"CPU {cpu}"
    finally:
        os.sched_setaffinity(0, before)


def _alternating_ratio(
    subject: Callable[[], object], baseline: Callable[[], object], repeats: int
) -> tuple[float, float, float]:
    """Like :func:`interleaved_ratio`, but every other pair runs the baseline first: a batch
    that follows the other one (warm caches, a thread just woken, the scheduler's view of the
    process) is not always the same side's."""
    subject()
    baseline()
    ts, tb, ratios = [], [], []
    for k in range(repeats):
        for first in ((subject, ts), (baseline, tb))[:: 1 if k % 2 == 0 else -1]:
            t0 = time.perf_counter()
            first[0]()
            first[1].append(time.perf_counter() - t0)
        ratios.append(ts[-1] / tb[-1])
    return statistics.median(ts), statistics.median(tb), statistics.median(ratios)


def _queries(resource, query: str, n: int):
    def run():
        for _ in range(n):
            resource.query(query)

    return run


def bench_in_process_queries_per_second(quick: bool) -> BenchResult:
    """``print(1)`` queries (each a Lua chunk run by the 2636B's TSP runtime) written to and
    read from the in-process ``EmulatorAdapter``; baseline = the 20,000/s budget.

    The rate is the median over many windows of a few hundred queries (a window lasts about a
    millisecond, less than the time slice the scheduler gives a process on a busy machine; a
    window of thousands measures the process's share of the CPU, which the note shows for one
    such run), as are the rates of ``*IDN?`` and of ``print(1)`` through a pymeasure
    ``Instrument``.
    """
    _, emulators = build_sim_bench(load_bench_config(), SEED)
    adapter = EmulatorAdapter(emulators["smu"])
    smu = Instrument(adapter, "2636B", includeSCPI=False)

    def query(text: str) -> str:
        adapter.write(text)
        return adapter.read()

    def rate(call: Callable[[], object], n: int) -> float:
        t0 = time.perf_counter()
        for _ in range(n):
            call()
        return n / (time.perf_counter() - t0)

    assert query("print(1)") == "1.00000e+00"
    calls = {"print": lambda: query("print(1)"), "idn": lambda: query("*IDN?"),
             "instrument": lambda: smu.ask("print(1)")}
    rates: dict[str, list[float]] = {key: [] for key in calls}
    # ~1 ms a window: pymeasure's Instrument adds ~10 us a query of its own
    window = {"print": QUERIES_PER_WINDOW, "idn": QUERIES_PER_WINDOW, "instrument": 50}
    for _ in range(31 if quick else 101):
        for key, call in calls.items():
            rates[key].append(rate(call, window[key]))
    # the same 5000 per CPU second: independent of the load, and with every cost a window's
    # median can leave out (garbage collection, cache refills) counted
    cpu0 = time.process_time()
    sustained = rate(calls["print"], 5000)
    per_cpu_s = 5000 / max(time.process_time() - cpu0, 1e-9)
    median = {key: statistics.median(r) for key, r in rates.items()}
    return BenchResult(
        "instruments.in_process_queries_per_s", median["print"], IN_PROCESS_BUDGET_PER_S,
        "queries/s (baseline = budget)", 1.0, higher_is_better=True,
        note=f"TSP print(1), median of {len(rates['print'])} windows of {QUERIES_PER_WINDOW} "
        f"(best {max(rates['print']):,.0f}/s; 5000 in a row {sustained:,.0f}/s, "
        f"{per_cpu_s:,.0f} per CPU s); *IDN? {median['idn']:,.0f}/s; via pymeasure "
        f"Instrument.ask {median['instrument']:,.0f}/s (windows of 50)",
    )


def bench_buffer_read_binary_vs_ascii(quick: bool) -> BenchResult:
    """Read 1e5 readings of ``smua.nvbuffer1`` with our 2636B driver over pyvisa-py: ASCII
    against REAL32 (the speed-up is the figure; higher is better)."""
    with _sim_server() as server:
        smu = Keithley2636B(server.resources["smu"], visa_library="@py", timeout=30_000)
        try:
            a = smu.smua
            a.measure_nplc = 0.001
            a.configure_timed_acquisition(count=BUFFER_POINTS, interval_s=0.0)
            a.start_current_acquisition()
            smu.wait_for_completion()
            assert a.buffer_count == BUFFER_POINTS
            binary, _ = a.read_buffer(binary=True, timestamps=False)
            ascii_, _ = a.read_buffer(binary=False, timestamps=False)
            assert binary.size == ascii_.size == BUFFER_POINTS

            def subject():
                a.read_buffer(BUFFER_POINTS, binary=False, timestamps=False)

            def baseline():
                a.read_buffer(BUFFER_POINTS, binary=True, timestamps=False)

            t_ascii, t_binary, ratio = interleaved_ratio(subject, baseline, 3 if quick else 7)
        finally:
            smu.adapter.close()
    return BenchResult(
        "instruments.buffer_1e5_binary_speedup",
        t_ascii,
        t_binary,
        "s ASCII / s REAL32 (speed-up)",
        5.0,
        higher_is_better=True,
        note=f"pair-ratio median {ratio:.1f}; pyvisa-py over TCP, readings only",
    )


def bench_set_then_measure_vs_query(quick: bool) -> BenchResult:
    """A set-then-measure loop through pyvisa-py (Nagle on, its default): ``:SOUR:VOLT v``
    written, then ``:MEAS:CURR?`` queried, per point, against the bare ``:MEAS:CURR?`` round
    trip, both to the simulated 2450 of ``sim-2450.toml``, interleaved in one run.

    Without the server's prompt ACK the write's segment waits for a delayed ACK (~40 ms on
    Linux) before the query may leave the client: ~200x. The bound is 2x.
    """
    bench = Path(__file__).resolve().parents[2] / "data" / "benches" / "sim-2450.toml"
    n = 20
    with SimServer(load_bench_config(bench), seed=SEED) as server:
        smu = _open(server.resources["smu"])
        try:
            for command in ("*RST", ":SOUR:FUNC VOLT", ":SENS:FUNC 'CURR'", ":SENS:CURR:NPLC 0.01",
                            ":OUTP ON"):
                smu.write(command)
            assert smu.query("*OPC?") == "1"
            levels = [0.001 * (i % 50) for i in range(n)]

            def set_then_measure():
                for level in levels:
                    smu.write(f":SOUR:VOLT {level:.4f}")
                    smu.query(":MEAS:CURR?")

            ts, tb, ratio = interleaved_ratio(set_then_measure, _queries(smu, ":MEAS:CURR?", n),
                                              11 if quick else 31)
            smu.write(":OUTP OFF")
        finally:
            smu.close()
    return BenchResult(
        "instruments.set_then_measure_vs_query", ratio * tb / n, tb / n, "s per point", 2.0,
        note=f"2450 via pyvisa-py, {n} points a batch, median of pair ratios (medians alone: "
        f"{ts / tb:.2f}); set+measure {ts / n * 1e3:.2f} ms/point",
    )
