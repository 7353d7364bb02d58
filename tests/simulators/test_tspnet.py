"""``tspnet`` on the 2636B emulator: replies relayed from another instrument on the LAN, and an
empty read refused as the 2600B reference says (a runtime error, not a hang or a crash)."""

from __future__ import annotations

from ftjlab.simulators.bench import Bench
from ftjlab.simulators.emulators.keithley2636b import Keithley2636B
from ftjlab.simulators.params import ArrayParams

from ftjlab.wiring import Wiring


def _pair() -> tuple[Keithley2636B, Keithley2636B]:
    bench = Bench(ArrayParams(rows=4, cols=4), Wiring.default(4, 4, {"A": "smu.a"}), seed=1)
    local, remote = Keithley2636B(bench, "smu"), Keithley2636B(bench, "smu2")
    bench.lan["node2"] = remote
    return local, remote


def _errors(smu: Keithley2636B) -> list[str]:
    out = []
    while smu.errorqueue.count:
        out.append(str(smu.errorqueue.next()))
    return out


def test_tspnet_relays_a_reply_from_the_remote_instrument():
    local, _ = _pair()
    local.write('c = tspnet.connect("node2") tspnet.write(c, "print(6 * 7)")')
    local.write("print(tspnet.read(c))")
    assert local.read().strip() == b"4.20000e+01"  # the remote's print format, relayed as text
    assert _errors(local) == []


def test_an_empty_tspnet_read_is_a_runtime_error_naming_it():
    local, _ = _pair()
    local.write('c = tspnet.connect("node2")')
    local.write("x = tspnet.read(c)")
    errors = _errors(local)
    assert len(errors) == 1 and "no reply pending" in errors[0] and "-286" in errors[0]


def test_a_fault_of_the_remote_is_not_reported_as_no_reply():
    local, remote = _pair()

    def broken_read() -> bytes:
        raise RuntimeError("remote emulator bug")

    remote.read = broken_read  # type: ignore[method-assign]
    local.write('c = tspnet.connect("node2")')
    local.write("x = tspnet.read(c)")
    errors = _errors(local)
    assert len(errors) == 1 and "no reply pending" not in errors[0]
    assert "remote emulator bug" in errors[0]
