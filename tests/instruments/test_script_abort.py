"""A 2636B script call whose end is not seen (its reply timed out, its send failed, a shutdown
came while it ran) is aborted, and what it still printed is read past, binary blocks included.

The simulated 2636B runs a call "still running" with ``stall_script``: it answers no read for
a while, lines sent meanwhile wait behind it, and the 2600B's ``abort`` terminates it. What
happens to the bench is judged by the emulators' state (the 707B's closed relays, the SMU's
outputs) and by what a later query reads.
"""

from __future__ import annotations

import re

import numpy as np
import pytest
from ftjlab.instruments._common import InstrumentError, InstrumentTimeoutError
from ftjlab.instruments.keithley2636b_scripts import SEQUENCE_NAME, abort_script
from ftjlab.instruments.limits import SafetyError

from ftjlab.controller import ArrayController
from ftjlab.session import BenchSession


@pytest.fixture
def bench():
    session = BenchSession.open(None, seed=11)
    try:
        controller = ArrayController(session)
        controller.read_cells(0, [5, 6], 0.2, 0.01)  # the sequence script uploaded
        yield session, controller
    finally:
        session.close()


def _spy_writes(driver, monkeypatch) -> list[str]:
    written: list[str] = []
    write = driver.write

    def spy(command, *args, **kwargs):
        written.append(command)
        return write(command, *args, **kwargs)

    monkeypatch.setattr(driver, "write", spy)
    return written


def test_a_sequence_still_running_at_its_reply_timeout_is_aborted(bench, monkeypatch):
    session, c = bench
    smu, emulator = c.read.driver, session.emulators[c.read.instrument]
    reference = c.read_cells(0, [5, 6], 0.2, 0.01)
    written = _spy_writes(smu, monkeypatch)
    emulator.stall_script(SEQUENCE_NAME, reads=1)  # outlasts the host's read
    with pytest.raises(InstrumentTimeoutError):
        c.read_cells(0, [5, 6], 0.2, 0.01)
    call = next(i for i, w in enumerate(written) if SEQUENCE_NAME + "(" in w)
    assert written[call + 1] == "abort" and written[call + 2].startswith('print("ftjabort')
    assert not emulator.script_running  # terminated on the SMU, not left to run on
    assert smu.safety.routing.running == frozenset()  # its end seen: relays may close
    assert float(smu.ask("print(1)")) == 1  # nothing of the script is read as this answer
    again = c.read_cells(0, [5, 6], 0.2, 0.01)
    np.testing.assert_allclose(again, reference, rtol=0.2)


def test_a_late_binary_reply_is_read_past_and_never_answers_a_later_query(bench, monkeypatch):
    session, c = bench
    smu, emulator = c.read.driver, session.emulators[c.read.instrument]
    read_bytes = smu.read_bytes
    late = [1]

    def times_out_once(*args, **kwargs):  # the block arrives after the host gave up
        if late[0]:
            late[0] = 0
            raise InstrumentTimeoutError("no reply within 0 ms (injected)")
        return read_bytes(*args, **kwargs)

    monkeypatch.setattr(smu, "read_bytes", times_out_once)
    with pytest.raises(InstrumentTimeoutError):
        c.read_cells(0, [5, 6], 0.2, 0.01)
    assert emulator.pending_replies == 0
    assert smu.safety.routing.running == frozenset()
    assert smu.ask("print(1)") in ("1", "1.00000e+00")
    assert np.isfinite(c.read_cells(0, [5, 6], 0.2, 0.01)).all()


def test_until_the_abort_is_answered_relays_stay_refused(bench, monkeypatch):
    _, c = bench
    smu = c.read.driver
    read_bytes = smu.read_bytes

    def silent(*args, **kwargs):
        raise InstrumentTimeoutError("no reply within 0 ms (injected)")

    monkeypatch.setattr(smu, "read_bytes", silent)
    with pytest.raises(InstrumentTimeoutError) as info:
        c.read_cells(0, [5, 6], 0.2, 0.01)
    assert "abort_script" in " ".join(getattr(info.value, "__notes__", []))
    with pytest.raises(InstrumentError, match="may still be running and printing"):
        smu.ask("print(1)")  # what comes next may be the script's output, not this answer
    routing = smu.safety.routing
    assert routing.running == frozenset({f"{SEQUENCE_NAME}() on {smu.safety.name}"})
    for attempt in (lambda: c.matrix.exclusive_close(c._xp("read", "BL", [5])),
                    lambda: smu.write(f'node[{c.tsplink_node}].channel.close("'
                                      f'{c._xp("read", "BL", [5])[0]}")')):
        with pytest.raises(SafetyError, match="may still be switching the matrix"):
            attempt()
    monkeypatch.setattr(smu, "read_bytes", read_bytes)  # the SMU answers again
    written = _spy_writes(smu, monkeypatch)
    values = c.read_cells(0, [5, 6], 0.2, 0.01)  # aborts again first, then runs
    assert written.index("abort") < next(i for i, w in enumerate(written)
                                         if SEQUENCE_NAME + "(" in w)
    assert routing.running == frozenset() and np.isfinite(values).all()


def test_a_script_running_when_shutdown_starts_ends_with_outputs_off_and_relays_open(
        bench, monkeypatch):
    session, c = bench
    smu, emulator = c.read.driver, session.emulators[c.read.instrument]
    matrix = session.emulators["matrix"]
    written = _spy_writes(smu, monkeypatch)
    c.read_cells(0, [5, 6], 0.2, 0.01)
    call = next(w for w in written if SEQUENCE_NAME + "(" in w)
    monkeypatch.undo()
    assert emulator.smua.source.output == 1
    emulator.stall_script(SEQUENCE_NAME, reads=1)
    smu.write(call)  # sent (e.g. by another process): the host never reads its reply
    assert emulator.script_running
    session.shutdown()
    emulator.run_on()  # time passes: a script not aborted would switch on now
    assert not emulator.script_running
    assert matrix.channel.getclose("allslots") is None
    assert (emulator.smua.source.output, emulator.smub.source.output) == (0, 0)
    assert float(smu.ask("print(1)")) == 1  # no late reply taken as this answer


class _Stream:
    """A driver's byte stream: a script's late reply (binary) waiting, then what is printed."""

    def __init__(self, late: bytes) -> None:
        self.pending = bytearray(late)
        self.sent: list[str] = []

    def write(self, command: str) -> None:
        self.sent.append(command)
        printed = re.match(r'print\("([^"]+)"\)', command)
        if printed:
            self.pending += printed.group(1).encode() + b"\n"

    def _take(self, end: int) -> bytes:
        data = bytes(self.pending[:end])
        del self.pending[:end]
        return data

    def read(self) -> str:
        if b"\n" not in self.pending:
            raise InstrumentTimeoutError("no reply")
        return self._take(self.pending.index(b"\n") + 1).decode("latin-1").rstrip("\n")

    def read_bytes(self, count: int, break_on_termchar: bool = False) -> bytes:
        if not self.pending:
            raise InstrumentTimeoutError("no reply")
        end = len(self.pending) if count < 0 else min(count, len(self.pending))
        if break_on_termchar and b"\n" in self.pending[:end]:
            end = self.pending.index(b"\n") + 1
        return self._take(end)


def test_the_drain_reads_past_a_binary_block_with_any_bytes():
    # 60 float64 readings whose bytes hold 120 line feeds and bytes no text codec takes
    block = b"#0" + np.frombuffer(bytes([10, 0x80, 0xFF, 10, 0x41, 0xC3, 0x9F, 0x00]) * 60,
                                  "<f8").tobytes() + b"\n"
    stream = _Stream(block + b"1.00000e+00\n")  # and a late text reply after it
    assert abort_script(stream) == len(block) + 12
    assert stream.pending == bytearray() and stream.sent[0] == "abort"
    cut = _Stream(block[:100])  # a block the abort cut short: no LF before the marker
    assert abort_script(cut) == 100 and cut.pending == bytearray()
    empty = _Stream(b"")
    empty.write = lambda command: empty.sent.append(command)  # the SMU never answers
    with pytest.raises(InstrumentError):
        abort_script(empty)


def test_an_acquisition_still_running_at_its_reply_timeout_is_aborted(bench):
    from ftjlab.instruments.keithley2636b_scripts import MULTI_ACQUIRE_NAME, acquire_multi

    session, c = bench
    smu, emulator = c.read.driver, session.emulators[c.read.instrument]
    emulator.stall_script(MULTI_ACQUIRE_NAME, reads=1)
    with pytest.raises(InstrumentTimeoutError):
        acquire_multi(smu, [(1, "a")], 50, 1e-3)
    assert not emulator.script_running
    assert float(smu.ask("print(1)")) == 1
    currents, stamps = acquire_multi(smu, [(1, "a")], 50, 1e-3)
    assert currents.shape == (50, 1) and np.all(np.diff(stamps[:, 0]) > 0)


def test_ctrl_c_while_a_sequence_runs_aborts_it_before_the_interrupt_goes_on(bench, monkeypatch):
    session, c = bench
    smu, emulator = c.read.driver, session.emulators[c.read.instrument]
    read_bytes = smu.read_bytes
    pressed = [True]

    def interrupted(*args, **kwargs):
        if pressed[0]:
            pressed[0] = False
            raise KeyboardInterrupt
        return read_bytes(*args, **kwargs)

    monkeypatch.setattr(smu, "read_bytes", interrupted)
    emulator.stall_script(SEQUENCE_NAME, reads=5)
    with pytest.raises(KeyboardInterrupt):
        c.read_cells(0, [5, 6], 0.2, 0.01)
    assert not emulator.script_running and emulator.pending_replies == 0
    assert smu.safety.routing.running == frozenset()
    emulator.run_on()
    # relays stay as the read before left them (nothing opens them but the host)
    assert session.emulators["matrix"].channel.getclose("allslots") is not None
    c.safe_state()
    assert session.emulators["matrix"].channel.getclose("allslots") is None


def test_over_tcp_a_late_binary_sequence_reply_is_read_past_after_the_abort(
        monkeypatch, tcp_bench, slow_replies_from):
    """Through the sim-server and pyvisa-py: ftjseq's binary block comes after the VISA
    timeout; the abort's marker is read past it as raw bytes, and the next query reads its
    own answer."""
    with tcp_bench(seed=5, timeout_ms=300) as (server, c):
        reference = c.read_cells(0, [5, 6], 0.2, 0.01)
        faults = server.emulators["smu"].faults
        slow_replies_from(c.read, "sequence", faults, 0.5)  # its reply on
        with pytest.raises(InstrumentTimeoutError):
            c.read_cells(0, [5, 6], 0.2, 0.01)
        faults.clear()
        monkeypatch.undo()
        smu = c.read.driver
        assert smu.safety.routing.running == frozenset()
        assert float(smu.ask("print(1)")) == 1  # nothing left over
        np.testing.assert_allclose(c.read_cells(0, [5, 6], 0.2, 0.01), reference, rtol=0.2)
