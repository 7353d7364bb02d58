"""The emulated TSP instrument's script still running (``stall_script``) and the 2600B's
``abort``: what a host would see on the wire."""

from __future__ import annotations

import pytest
from ftjlab.simulators.transport import next_reply
from ftjlab.simulators.tsp import TSPEmulator


@pytest.fixture
def tsp():
    emulator = TSPEmulator(max_script_s=2.0)
    emulator.write('function slow(x) print("done", x) end')  # an upload is never stalled
    assert not emulator.script_running
    return emulator


def test_a_running_script_answers_late_and_the_lines_behind_it_run_after_it(tsp):
    tsp.stall_script("slow", reads=2)
    tsp.write("slow(5)")
    tsp.write("print(7)")
    tsp.write("*IDN?")  # queued too, not answered ahead of the script
    assert tsp.script_running
    assert [next_reply(tsp), next_reply(tsp)] == [None, None]  # two reply timeouts
    replies = [next_reply(tsp) for _ in range(3)]
    assert replies[0] == b"done\t5.00000e+00\n" and replies[1] == b"7.00000e+00\n"
    assert replies[2].startswith(b"Keithley Instruments")
    assert not tsp.script_running and next_reply(tsp) is None


def test_abort_terminates_the_running_script_and_the_queue_runs(tsp):
    tsp.stall_script("slow", reads=1)
    tsp.write("slow(5) x = 2")
    tsp.write("print(7)")
    tsp.write("abort")
    assert not tsp.script_running
    assert next_reply(tsp) == b"7.00000e+00\n" and next_reply(tsp) is None
    tsp.write("print(x)")  # nothing after the call in its line ran
    assert next_reply(tsp) == b"nil\n"
    tsp.run_on()  # nothing running: nothing happens
    tsp.write("abort")  # without a script: nothing to stop
    assert next_reply(tsp) is None and tsp.errorqueue.count == 0
