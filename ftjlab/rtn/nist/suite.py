"""Running the 15 SP 800-22 tests on one sequence, in NIST STS's report order."""

from __future__ import annotations

from collections.abc import Iterable

from ftjlab.errors import BadInput

from ._base import TestResult, as_bits
from .counts import block_frequency, dft, frequency, longest_run, rank, runs
from .patterns import (
    _window_codes,
    approximate_entropy,
    linear_complexity,
    non_overlapping_template,
    overlapping_template,
    serial,
    universal,
)
from .walks import cumulative_sums, random_excursions, random_excursions_variant

# ------------------------------------------------------------------------------ the suite

TESTS = (
    "frequency", "block_frequency", "cumulative_sums", "runs", "longest_run", "rank", "dft",
    "non_overlapping_template", "overlapping_template", "universal", "approximate_entropy",
    "random_excursions", "random_excursions_variant", "serial", "linear_complexity",
)  # fmt: skip


_PLAIN = {
    "frequency": frequency, "cumulative_sums": cumulative_sums, "runs": runs,
    "longest_run": longest_run, "rank": rank, "dft": dft, "universal": universal,
    "random_excursions": random_excursions, "random_excursions_variant": random_excursions_variant,
}  # fmt: skip


def run_suite(bits, tests: Iterable[str] | None = None, **params) -> list[TestResult]:
    """Run the SP 800-22 tests (all 15 by default, in NIST STS's report order) on one
    sequence. ``params`` override defaults: ``block_frequency_m``, ``template_m``,
    ``overlapping_m``, ``linear_complexity_m``, ``serial_m``, ``apen_m``."""
    e = as_bits(bits)
    names = tuple(tests) if tests is not None else TESTS
    unknown = sorted(set(names) - set(TESTS))
    if unknown:
        raise BadInput(f"tests: unknown SP 800-22 test(s) {unknown} (known: {list(TESTS)})")
    serial_m = int(params.get("serial_m", 16))
    apen_m = int(params.get("apen_m", 10))
    codes = None
    if {"serial", "approximate_entropy"} & set(names) and serial_m >= apen_m + 1:
        codes = _window_codes(e, serial_m, cyclic=True)
    out = []
    for name in names:
        if name == "block_frequency":
            r = block_frequency(e, int(params.get("block_frequency_m", 128)))
        elif name == "non_overlapping_template":
            r = non_overlapping_template(e, int(params.get("template_m", 9)))
        elif name == "overlapping_template":
            r = overlapping_template(e, int(params.get("overlapping_m", 9)))
        elif name == "linear_complexity":
            r = linear_complexity(e, int(params.get("linear_complexity_m", 500)))
        elif name == "serial":
            r = serial(e, serial_m, _codes=codes)
        elif name == "approximate_entropy":
            sub = None if codes is None else codes >> (serial_m - apen_m - 1)
            r = approximate_entropy(e, apen_m, _codes=sub)
        else:
            r = _PLAIN[name](e)
        out.append(r)
    return out
