"""The SENTIO probe station: the vendor's package drives our emulator; our driver's guard."""

from __future__ import annotations

import math

import pytest
from ftjlab.instruments import Limits
from ftjlab.instruments.mpi_sentio import ProberError, ProberTravel, SentioProber
from ftjlab.instruments.safety import UncheckedCommandError
from ftjlab.simulators.bench import Bench
from ftjlab.simulators.emulators.mpi_sentio import SentioProbeStation
from ftjlab.simulators.instrument_server import InstrumentServer
from ftjlab.simulators.params import ArrayParams
from ftjlab.simulators.transport import EmulatorAdapter

LIMITS = Limits(0.3, 1.2, 5.0, 1e-3, 1e-8, 1e-2)


def _station(seed: int = 3) -> tuple[Bench, SentioProbeStation]:
    bench = Bench(ArrayParams(rows=4, cols=4), seed=seed)
    return bench, SentioProbeStation(bench)


def _dies_on_wafer(diameter_um: float, die_um: float) -> list[tuple[int, int]]:
    """Independent count: grid cells (centred on the wafer) that overlap the disc."""
    n = math.ceil(diameter_um / die_um)
    out = []
    for r in range(n):
        for c in range(n):
            x0, y0 = (c - n / 2) * die_um, (n / 2 - r - 1) * die_um
            dx = max(x0, min(0.0, x0 + die_um))  # nearest point of the cell to the centre
            dy = max(y0, min(0.0, y0 + die_um))
            if math.hypot(dx, dy) < diameter_um / 2:
                out.append((c, r))
    return out


def test_vendor_package_drives_the_emulator_unchanged():
    sentio = pytest.importorskip("sentio_prober_control.Sentio.ProberSentio")
    enums = pytest.importorskip("sentio_prober_control.Sentio.Enumerations")
    bench, station = _station()
    with InstrumentServer(station, "127.0.0.1", 0, "prober") as server:
        prober = sentio.SentioProber.create_prober("tcpip", f"127.0.0.1:{server.port}")
        try:
            assert "26.2" in prober.status.get_version()
            prober.map.create(40)  # 40 mm round wafer
            prober.map.set_grid_params(5000, 5000, 2500, 2500, 0)
            prober.map.path.select_dies(enums.TestSelection.All)
            expected = _dies_on_wafer(40_000, 5000)
            assert prober.map.get_num_dies(enums.DieNumber.Selected) == len(expected)
            assert prober.map.get_diameter() == 40
            visited = [prober.map.step_first_die()]
            under_probes = []

            def touch() -> None:  # contact: the die's own array; separated: open probes
                prober.move_chuck_contact()
                under_probes.append((bench.array_key, id(bench.array)))
                prober.move_chuck_separation()
                assert bench.array_key == "open probes"

            touch()
            while not prober.map.end_of_route():
                visited.append(prober.map.step_next_die())
                seq, col, row = prober.map.die.get_current_index()
                assert (seq, col, row) == (len(visited) - 1, *visited[-1][:2])
                touch()
            assert sorted((c, r) for c, r, _ in visited) == sorted(expected)
            assert [key for key, _ in under_probes] == [(c, r) for c, r, _ in visited]
            assert len({array for _, array in under_probes}) == len(expected)
            prober.move_chuck_contact()
            assert station.in_contact
            with pytest.raises(Exception, match="contact"):  # SENTIO refuses to step in contact
                prober.map.step_die(*visited[0][:2], 0)
            prober.move_chuck_separation()
            assert not station.in_contact
            assert prober.map.step_die(*visited[3][:2], 0)[:2] == visited[3][:2]
            with pytest.raises(Exception, match="end of route"):
                prober.map.step_die(*visited[-1][:2], 0)
                prober.map.step_next_die()
        finally:
            prober.comm.disconnect()


def test_guard_refuses_moves_in_contact_unknown_commands_and_travel():
    _, station = _station()
    prober = SentioProber(EmulatorAdapter(station), limits=LIMITS, travel=ProberTravel(30_000))
    with pytest.raises(UncheckedCommandError, match="travel"):
        prober.create_round_map(80, (5000, 5000))  # reaches 40 mm > 30 mm travel
    prober.create_round_map(50, (5000, 5000))
    prober.select_all_dies()
    assert prober.step_die(4, 5) == (4, 5, 0)
    prober.contact()
    steps = station.steps
    for command in ("map:step_die 4, 6", "map:step_next_die", "map:create 40"):
        with pytest.raises(UncheckedCommandError, match="separated"):
            prober.command(command)
    for command in (
        "move_chuck_xy H, 0, 0",
        "move_chuck_home",
        "map:step_die 4, 6; *RST",
        "move_chuck_z Zero, 0",
    ):
        with pytest.raises(UncheckedCommandError):
            prober.command(command)
    assert station.steps == steps and station.in_contact  # nothing left the process
    assert prober.step_die(4, 6)[:2] == (4, 6)  # the driver separates before it steps
    assert not station.in_contact
    with pytest.raises(UncheckedCommandError, match="outside the wafer map"):
        prober.step_die(10, 0)
    with pytest.raises(ProberError) as err:  # on the grid but off the round wafer
        prober.step_die(0, 0)
    assert err.value.code == 8
    prober.contact()
    prober.shutdown()
    assert not station.in_contact
