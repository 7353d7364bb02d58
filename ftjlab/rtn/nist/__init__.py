"""NIST SP 800-22 rev1a: the 15 statistical tests, vectorised with numpy, and the
multi-sequence criteria of section 4.2.

Every test takes a sequence of bits (a numpy array of 0/1, bool, or a string of '0'/'1') and
returns a :class:`TestResult` with one p-value per sub-test (the non-overlapping template test
has 148, random excursions 8, the variant 18, serial and cumulative sums 2). A test that does
not apply to the sequence (random excursions with fewer than 500 cycles, a runs test whose
frequency prerequisite fails) says so instead of returning a number that means nothing.

Parameters default to those of NIST STS 2.1.2 for 1e6-bit sequences: block frequency M = 128,
templates of m = 9 bits (N = 8 blocks), overlapping template M = 1032, universal L from the
table in section 2.9.7, linear complexity M = 500, serial m = 16, approximate entropy m = 10.

Every test is checked against the worked examples in SP 800-22's text (tests/rtn/test_rtn_nist.py);
where the text's example is inconsistent with its own formula (sections 2.8.8 and 2.9.8) the
test follows the formula and the test file says why.

:func:`assess` turns the p-values of m sequences into the two section 4.2 criteria per sub-test
(proportion of passing sequences, uniformity of the p-values) and an overall verdict that
accounts for running ~188 sub-tests at once (see its docstring).
"""

from ._base import TestResult, as_bits
from .counts import block_frequency, dft, frequency, gf2_ranks, longest_run, rank, runs
from .patterns import (
    aperiodic_templates,
    approximate_entropy,
    linear_complexities,
    linear_complexity,
    non_overlapping_template,
    overlapping_template,
    serial,
    universal,
    universal_fn,
)
from .suite import TESTS, run_suite
from .verdict import Assessment, SetResult, assess, min_pass_count
from .walks import cumulative_sums, random_excursions, random_excursions_variant

__all__ = [
    "TESTS",
    "Assessment",
    "SetResult",
    "TestResult",
    "aperiodic_templates",
    "approximate_entropy",
    "as_bits",
    "assess",
    "block_frequency",
    "cumulative_sums",
    "dft",
    "frequency",
    "gf2_ranks",
    "linear_complexities",
    "linear_complexity",
    "longest_run",
    "min_pass_count",
    "non_overlapping_template",
    "overlapping_template",
    "random_excursions",
    "random_excursions_variant",
    "rank",
    "run_suite",
    "runs",
    "serial",
    "universal",
    "universal_fn",
]

