"""Keithley 707B emulator: channel lists that are ever-new combinations of known items.

The emulator remembers the crosspoints of each list item; these tests check that what a list
closes, and what an invalid list reports, do not depend on which items were seen before. The
expected crosspoints come from a small expansion written here (rectangle of rows x columns).
"""

from __future__ import annotations

import numpy as np
import pytest
from ftjlab.instruments.channel_specifiers import ChannelSpecifierError, parse_channel_list
from ftjlab.simulators.bench import Bench, Wiring
from ftjlab.simulators.emulators.keithley707b import Keithley707B
from ftjlab.simulators.params import ArrayParams
from ftjlab.simulators.tsp import CODE_RUNTIME

ROWS = "ABCDEFGH"


@pytest.fixture
def matrix() -> Keithley707B:
    bench = Bench(ArrayParams(rows=4, cols=4), Wiring.default(4, 4, {"A": "smu.a"}), seed=2)
    return Keithley707B(bench)


def closed(m: Keithley707B) -> set[str]:
    return {str(p) for p in m.bench.closed()}


def expand(item: str) -> set[str]:
    """Crosspoint names of one item: ``1A01`` or a range ``1A01:1C03`` (rectangle)."""
    first, _, last = item.partition(":")
    last = last or first
    slot = first[0]
    r0, r1 = ROWS.index(first[1].upper()), ROWS.index(last[1].upper())
    c0, c1 = int(first[2:]), int(last[2:])
    return {f"{slot}{ROWS[r]}{c:02d}" for r in range(r0, r1 + 1) for c in range(c0, c1 + 1)}


def random_item(rng: np.random.Generator) -> str:
    slot = int(rng.integers(1, 4))
    r0, c0 = int(rng.integers(0, 8)), int(rng.integers(1, 13))
    if rng.random() < 0.7:
        return f"{slot}{ROWS[r0]}{c0:02d}"
    r1, c1 = int(rng.integers(r0, 8)), int(rng.integers(c0, 13))
    return f"{slot}{ROWS[r0]}{c0:02d}:{slot}{ROWS[r1]}{c1:02d}"


def test_exclusiveclose_of_many_new_combinations_closes_exactly_their_crosspoints(matrix):
    rng = np.random.default_rng(707)
    for _ in range(400):
        items = [random_item(rng) for _ in range(int(rng.integers(1, 5)))]
        separator = ";" if rng.random() < 0.5 else ", "
        matrix.write(f'channel.exclusiveclose("{separator.join(items)}")')
        assert closed(matrix) == set().union(*(expand(i) for i in items))
    assert matrix.errorqueue.count == 0


@pytest.mark.parametrize(
    "bad", ["1A01,1Z01", "1A01,1A13", "1A01,,1A02", "1A01, 1A05:1A01", "1B02,1A01:2A03", "1A01;"]
)
def test_invalid_list_after_its_valid_items_were_seen_reports_the_whole_list(matrix, bad):
    """Every valid item of the list is closed once first (so it is remembered); the invalid
    list still switches nothing and its error names the list as parse_channel_list does."""
    for item in bad.replace(";", ",").split(","):
        if item.strip():
            try:
                parse_channel_list(item)
            except ChannelSpecifierError:
                continue
            matrix.write(f'channel.close("{item.strip()}")')
    before = closed(matrix)
    assert matrix.errorqueue.count == 0
    matrix.write(f'channel.exclusiveclose("{bad}")')
    assert closed(matrix) == before
    code, message, *_ = matrix.errorqueue.next()
    with pytest.raises(ChannelSpecifierError) as expected:
        parse_channel_list(",".join(i.strip() for i in bad.replace(";", ",").split(",")),
                           allow_slots=False)
    assert code == CODE_RUNTIME and str(expected.value) in message
