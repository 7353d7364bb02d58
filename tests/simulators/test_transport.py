"""Transports: in-process adapter, pyvisa-py over TCP, fault injection, record/replay."""

from __future__ import annotations

import contextlib
import json
import struct
import time
import warnings

import numpy as np
import pytest
import pyvisa
from ftjlab.simulators.bench import Bench, Wiring
from ftjlab.simulators.emulators.keithley707b import Keithley707B
from ftjlab.simulators.emulators.keithley2636b import Keithley2636B
from ftjlab.simulators.faults import FaultyEmulator
from ftjlab.simulators.instrument_server import InstrumentServer
from ftjlab.simulators.params import ArrayParams
from ftjlab.simulators.traffic import (
    RecordingAdapter,
    load_protocol,
    replay_adapter,
    replay_protocol,
)
from ftjlab.simulators.transport import Emulator, EmulatorAdapter
from ftjlab.simulators.tsp import TSPEmulator
from pymeasure.instruments import Instrument
from pyvisa import constants
from pyvisa.errors import VisaIOError

TIMEOUT_MS = 300
# a float32 whose little-endian bytes contain LF (0x0A): binary replies must be read by count
LF_FLOAT = struct.unpack("<f", b"\x0a\x00\x80\x3f")[0]


def bench_and_smu() -> tuple[Bench, Keithley2636B, Keithley707B]:
    bench = Bench(
        ArrayParams(rows=4, cols=4), Wiring.default(4, 4, {"A": "smu.a", "B": "smu.b"}), seed=1
    )
    return bench, Keithley2636B(bench), Keithley707B(bench)


def is_timeout(exc: BaseException) -> bool:
    return isinstance(exc, VisaIOError) and exc.error_code == constants.StatusCode.error_timeout


# ---------------------------------------------------------------------------- in-process


def test_emulators_satisfy_the_protocol():
    _, smu, matrix = bench_and_smu()
    assert isinstance(smu, Emulator) and isinstance(matrix, Emulator)
    assert isinstance(FaultyEmulator(smu), Emulator)


def test_adapter_reads_text_and_binary_and_times_out_when_nothing_is_pending():
    adapter = EmulatorAdapter(TSPEmulator(), timeout_ms=TIMEOUT_MS)
    inst = Instrument(adapter, "tsp", includeSCPI=False)
    assert inst.ask("print(1, 'a')") == "1.00000e+00\ta"
    with pytest.raises(VisaIOError) as err:
        adapter.read()
    assert is_timeout(err.value)
    adapter.write(f"format.data = format.REAL32 printnumber({LF_FLOAT!r}, 2)")
    block = adapter.read_bytes(4 * 2 + 3)
    assert block[:2] == b"#0" and block[-1:] == b"\n"
    assert np.frombuffer(block[2:-1], "<f4").tolist() == [pytest.approx(LF_FLOAT), 2.0]
    adapter.write("printnumber(3) printnumber(4)")
    assert adapter.read_bytes(3) == b"#0" + struct.pack("<f", 3.0)[:1]  # partial reads keep
    assert adapter.read_bytes(-1) == struct.pack("<f", 3.0)[1:] + b"\n"  # the rest buffered
    assert adapter.read_bytes(-1) == b"#0" + struct.pack("<f", 4.0) + b"\n"
    with pytest.raises(VisaIOError):
        adapter.read_bytes(10)
    adapter.write("format.data = format.ASCII print(1) print(2)")
    adapter.flush_read_buffer()
    with pytest.raises(VisaIOError):
        adapter.read()


def test_adapter_fault_no_reply_is_a_timeout_then_service_resumes():
    emu = FaultyEmulator(TSPEmulator())
    inst = Instrument(EmulatorAdapter(emu, timeout_ms=TIMEOUT_MS), "tsp", includeSCPI=False)
    emu.faults.drop_next_reply()
    with pytest.raises(VisaIOError) as err:
        inst.ask("print(1)")
    assert is_timeout(err.value)
    assert inst.ask("print(2)") == "2.00000e+00"


def test_adapter_fault_dropped_connection_until_reconnect():
    emu = FaultyEmulator(TSPEmulator())
    adapter = EmulatorAdapter(emu, timeout_ms=TIMEOUT_MS)
    emu.faults.drop_connection()
    for _ in range(2):
        with pytest.raises(VisaIOError) as err:
            adapter.write("print(1)")
        assert err.value.error_code == constants.StatusCode.error_connection_lost
    adapter.reconnect()
    adapter.write("print(1)")
    assert adapter.read() == "1.00000e+00"


def test_adapter_fault_injected_errors_and_slow_replies():
    emu = FaultyEmulator(TSPEmulator())
    inst = Instrument(EmulatorAdapter(emu, timeout_ms=TIMEOUT_MS), "tsp", includeSCPI=False)
    emu.inject_error(-222, "Parameter data out of range")
    assert inst.ask("print(errorqueue.next())").split("\t")[:2] == [
        "-2.22000e+02",
        "Parameter data out of range",
    ]
    emu.faults.slow_replies(0.1)
    t0 = time.monotonic()
    assert inst.ask("print(3)") == "3.00000e+00"
    assert time.monotonic() - t0 >= 0.1
    emu.faults.slow_replies(1.0)  # slower than the timeout
    t0 = time.monotonic()
    with pytest.raises(VisaIOError) as err:
        inst.ask("print(4)")
    assert is_timeout(err.value)
    assert time.monotonic() - t0 < 0.9
    emu.faults.clear()
    assert inst.ask("print(5)") == "4.00000e+00"  # the late reply arrives first, as on a wire
    assert inst.ask("print(6)") == "5.00000e+00"


def test_fault_injection_into_an_scpi_style_error_queue():
    class Scpi:
        def __init__(self) -> None:
            self.errors: list[tuple[int, str]] = []

        def write(self, message: str) -> None: ...

        def read(self) -> bytes:
            return b""

        def reset(self) -> None: ...

        def push_error(self, code: int, detail: str = "") -> None:
            self.errors.append((code, detail))

    emu = FaultyEmulator(Scpi())
    emu.inject_error(-350, "Queue overflow")
    assert emu.emulator.errors == [(-350, "Queue overflow")]
    adapter = EmulatorAdapter(emu, timeout_ms=TIMEOUT_MS)
    with pytest.raises(VisaIOError):  # b"" means: nothing pending
        adapter.read()


# ---------------------------------------------------------------------------- record / replay


def keithley2600(adapter):
    from pymeasure.instruments.keithley import Keithley2600

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        return Keithley2600(adapter)


def keithley_session(k) -> dict:
    k.ChA.apply_voltage(compliance_current=1e-3)
    k.ChA.source_voltage = 0.2
    k.ChA.source_output = "ON"
    out = {"id": k.id, "current": k.ChA.current, "output": k.ChA.source_output}
    k.write("smua.measure.count = 3 smua.nvbuffer1.clear() smua.measure.i(smua.nvbuffer1)")
    k.write("format.data = format.REAL32 printbuffer(1, 3, smua.nvbuffer1)")
    out["block"] = k.read_bytes(3 * 4 + 3)
    out["errors"] = k.check_errors()
    return out


def test_record_then_replay_round_trip(tmp_path):
    from pymeasure.instruments.keithley import Keithley2600

    _, smu, matrix = bench_and_smu()
    matrix.write('channel.close("1B01,2A01")')
    smu.write("smub.source.levelv = 2 smub.source.output = 1")
    path = tmp_path / "session.jsonl"
    with RecordingAdapter(EmulatorAdapter(smu), path, instrument="2636B") as rec:
        recorded = keithley_session(keithley2600(rec))
    assert recorded["current"] != 0 and recorded["output"] == "ON"
    lines = path.read_text().splitlines()
    assert json.loads(lines[0])["format"] == "ftjlab-traffic"
    assert json.loads(lines[1]) == {"write": "smua.source.func=1", "read": None}
    pairs = load_protocol(path)
    assert ("*IDN?", "Keithley Instruments Inc., Model 2636B, 4420001, 4.0.4") in pairs
    assert any(isinstance(r, bytes) and r.startswith(b"#0") for _, r in pairs)
    # the same session against the recording: identical results, every pair consumed
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        with replay_protocol(Keithley2600, path) as k:
            replayed = keithley_session(k)
    assert replayed == recorded
    assert keithley_session(keithley2600(replay_adapter(path))) == recorded


def test_replay_is_strict(tmp_path):
    _, smu, _ = bench_and_smu()
    path = tmp_path / "s.jsonl"
    with RecordingAdapter(EmulatorAdapter(smu), path) as rec:
        rec.write("print(localnode.model)")
        assert rec.read() == "2636B"
    adapter = replay_adapter(path)
    with pytest.raises(AssertionError):
        adapter.write("print(localnode.serialno)")
        adapter.read()
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"write": "x", "bogus": 1}\n')
    with pytest.raises(ValueError, match=r"bad\.jsonl:1"):
        load_protocol(bad)


# ---------------------------------------------------------------------------- TCP / pyvisa-py


@pytest.fixture
def served():
    bench, smu, matrix = bench_and_smu()
    servers = [
        InstrumentServer(smu, name="smu").start(),
        InstrumentServer(matrix, name="mx").start(),
    ]
    rm = pyvisa.ResourceManager("@py")
    opened = []

    def open_(server: InstrumentServer, timeout: int = TIMEOUT_MS):
        inst = rm.open_resource(
            server.resource, read_termination="\n", write_termination="\n", timeout=timeout
        )
        opened.append(inst)
        return inst

    yield bench, servers, open_
    for inst in opened:
        with contextlib.suppress(Exception):  # some were closed by a fault already
            inst.close()
    for s in servers:
        s.stop()
    rm.close()


def test_pyvisa_py_query_and_binary_block_by_byte_count(served):
    bench, (smu_srv, mx_srv), open_ = served
    assert smu_srv.host == "127.0.0.1"
    assert smu_srv.resource == f"TCPIP0::127.0.0.1::{smu_srv.port}::SOCKET"
    smu, mx = open_(smu_srv), open_(mx_srv)
    assert smu.query("*IDN?").startswith("Keithley Instruments Inc., Model 2636B")
    assert mx.query("*IDN?").startswith("Keithley Instruments Inc., Model 707B")
    mx.write('channel.exclusiveclose("1B02,2A03")')
    assert mx.query('print(channel.getclose("allslots"))') == "1B02;2A03"
    smu.write(
        "smub.source.levelv = 2 smub.source.output = 1 smua.source.levelv = 0.2 "
        "smua.source.output = 1"
    )
    current = float(smu.query("print(smua.measure.i())"))
    g = bench.array.conductance()[1, 2]
    assert current == pytest.approx(g * float(bench.array.current_factor(0.2)), rel=0.02)
    smu.write(
        f"format.data = format.REAL32 format.byteorder = format.LITTLEENDIAN "
        f"printnumber({LF_FLOAT!r}, 1, 2)"
    )
    raw = smu.read_bytes(3 * 4 + 3)
    assert raw[:2] == b"#0" and raw[-1:] == b"\n"
    assert np.frombuffer(raw[2:-1], "<f4").tolist() == [pytest.approx(LF_FLOAT), 1.0, 2.0]
    smu.write("format.data = format.ASCII")
    assert smu.query("print('still in sync')") == "still in sync"


def test_pyvisa_py_fault_no_reply_times_out(served):
    _, (smu_srv, _), open_ = served
    smu = open_(smu_srv)
    smu_srv.faults.drop_next_reply()
    t0 = time.monotonic()
    with pytest.raises(VisaIOError) as err:
        smu.query("print(1)")
    assert is_timeout(err.value) and time.monotonic() - t0 < 2.0
    assert smu.query("print(2)") == "2.00000e+00"


def test_pyvisa_py_fault_dropped_connection(served):
    _, (smu_srv, _), open_ = served
    smu = open_(smu_srv)
    assert smu.query("print(1)") == "1.00000e+00"
    smu_srv.faults.drop_connection()
    t0 = time.monotonic()
    with pytest.raises((VisaIOError, OSError)):
        for _ in range(3):  # pyvisa-py sees the closed socket as timeouts, then a broken pipe
            smu.query("print(2)")
    assert time.monotonic() - t0 < 3 * TIMEOUT_MS / 1000 + 1.0
    fresh = open_(smu_srv)
    assert fresh.query("print(3)") == "3.00000e+00"


def test_pyvisa_py_fault_injected_error_and_slow_reply(served):
    _, (smu_srv, _), open_ = served
    smu = open_(smu_srv, timeout=1000)
    smu_srv.emulator.inject_error(-113, "Undefined header")
    assert smu.query("print(errorqueue.count)") == "1.00000e+00"
    assert smu.query("print(errorqueue.next())").startswith("-1.13000e+02\tUndefined header")
    smu_srv.faults.slow_replies(0.2)
    t0 = time.monotonic()
    assert smu.query("print(7)") == "7.00000e+00"
    assert time.monotonic() - t0 >= 0.2
    smu_srv.faults.slow_replies(1.5)
    t0 = time.monotonic()
    with pytest.raises(VisaIOError) as err:
        smu.query("print(8)")
    assert is_timeout(err.value) and time.monotonic() - t0 < 1.4


def test_server_survives_garbage_and_serves_several_clients(served):
    _, (smu_srv, _), open_ = served
    a, b = open_(smu_srv), open_(smu_srv)
    a.encoding = "latin-1"
    a.write_raw(b"\xff\xfe garbage ((\n")
    assert a.query("print(errorqueue.count)") == "1.00000e+00"  # after the garbage, in order
    b.encoding = "latin-1"  # the error message quotes the garbage bytes
    assert b.query("print(errorqueue.next())").startswith("-2.85000e+02\tTSP Syntax error")
    smu_srv.disconnect_clients()
    c = open_(smu_srv)
    assert c.query("print(5)") == "5.00000e+00"


def test_server_framing_keeps_lf_inside_definite_blocks():
    from ftjlab.simulators.instrument_server import split_messages

    block = b"#216" + bytes([0, 10, 10, 10, 255, 255, 0, 13, 0, 32, 13, 10, 0, 5, 0, 13])
    # LF/CR bytes inside the block are data; the message ends with the LF after it
    assert split_messages(b"DATA:DAC X," + block + b"\n*OPC?\n") == (
        [b"DATA:DAC X," + block, b"*OPC?"],
        b"",
    )
    # an incomplete block waits for the rest
    assert split_messages(b"DATA:DAC X," + block[:9]) == ([], b"DATA:DAC X," + block[:9])
    # no terminator after the block (pymeasure's write_binary_values): the block ends the
    # message, the next header starts a new one
    assert split_messages(b"A " + block + b":B 1\n") == ([b"A " + block, b":B 1"], b"")
    # a '#' inside a string is text; a CR before LF goes, unless it is block data
    assert split_messages(b"S '#2999'\r\nT\n") == ([b"S '#2999'", b"T"], b"")
