"""Section 4.2 criteria over many sequences: proportion passing, uniformity, overall verdict."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ftjlab.errors import BadInput

from ._base import TestResult, _igamc

# ------------------------------------------------------------------------------ assessment


@dataclass
class SetResult:
    """Section 4.2 criteria for one p-value set (one sub-test over the m sequences)."""

    test: str
    label: str
    sequences: int  # sequences to which the test applied
    passed: int  # p >= alpha
    min_pass: int  # NIST STS threshold (integer)
    histogram: np.ndarray  # C1..C10
    uniformity_p: float  # P-value_T (NaN if fewer than 55 sequences)
    proportion_ok: bool
    uniformity_ok: bool
    false_flag_probability: float  # P(flagged | H0) for this set size

    @property
    def flagged(self) -> bool:
        return not (self.proportion_ok and self.uniformity_ok)

    @property
    def name(self) -> str:
        return self.test + (f"[{self.label}]" if self.label else "")


@dataclass
class Assessment:
    """All sets, and the suite verdict (see :func:`assess`)."""

    sets: list[SetResult]
    alpha: float
    sequences: int
    flagged: int
    expected_false_flags: float
    flag_count_p: float  # P(X >= flagged) for X the number of flags of an ideal source
    worst: str  # the set with the smallest binomial tail probability
    worst_tail_p: float
    bonferroni_ok: bool
    verdict: bool
    reasons: list[str]

    def table(self) -> str:
        """A text table in the layout of NIST STS's finalAnalysisReport (flagged rows and one
        row per test; ``*`` marks a NIST flag)."""
        lines = [
            " C1  C2  C3  C4  C5  C6  C7  C8  C9 C10  P-VALUE_T  PROPORTION  TEST",
            "-" * 78,
        ]
        shown: set[str] = set()
        for s in self.sets:
            if s.flagged or s.test not in shown:
                shown.add(s.test)
                hist = " ".join(f"{int(v):3d}" for v in s.histogram)
                u = "   ----  " if math.isnan(s.uniformity_p) else f"{s.uniformity_p:9.6f}"
                prop = f"{s.passed:4d}/{s.sequences:<4d}"
                lines.append(
                    f"{hist} {u}{' *' if not s.uniformity_ok else '  '} {prop}"
                    f"{' *' if not s.proportion_ok else '  '}  {s.name}"
                )
        lines.append("-" * 78)
        lines.append(
            f"{len(self.sets)} p-value sets over {self.sequences} sequences (alpha = "
            f"{self.alpha}); NIST flags: {self.flagged} (expected for an ideal source: "
            f"{self.expected_false_flags:.2f}, P(>= {self.flagged}) = {self.flag_count_p:.3g})"
        )
        lines.append(
            f"weakest set: {self.worst} (binomial tail p = {self.worst_tail_p:.3g}, "
            f"Bonferroni limit {0.01 / max(len(self.sets), 1):.2g})"
        )
        lines.append("VERDICT: " + ("PASS" if self.verdict else "FAIL: " + "; ".join(self.reasons)))
        return "\n".join(lines)


def min_pass_count(sequences: int, alpha: float = 0.01) -> int:
    """Smallest passing count NIST STS 2.1.2 accepts: the integer part of
    m (p - 3 sqrt(p alpha / m)), p = 1 - alpha (96 for m = 100, alpha = 0.01)."""
    p_hat = 1 - alpha
    return int(sequences * (p_hat - 3 * math.sqrt(p_hat * alpha / sequences)))


def assess(
    results: Sequence[Sequence[TestResult]], alpha: float = 0.01, family_alpha: float = 0.01
) -> Assessment:
    """Section 4.2 criteria over m sequences (``results[i]`` = :func:`run_suite` of sequence
    i), for every p-value set.

    Per set, as NIST STS 2.1.2 assess computes them: the proportion of sequences with
    p >= alpha must reach :func:`min_pass_count` of the sequences the test applied to, and
    the p-values must be uniform: chi^2 over 10 bins, P-value_T = igamc(9/2, chi^2/2) >=
    1e-4 (evaluated with >= 55 sequences).

    The verdict then asks the question those flags answer for one set of a 188-set suite:
    an ideal source is flagged on ~0.7 sets per run at m = 100, so "no flag anywhere"
    would reject ideal generators about half of the time. A source passes when (1) the
    number of flagged sets is not improbable for an ideal source (P(X >= flags) >=
    ``family_alpha``, X a sum of independent per-set flag indicators with their exact
    binomial probabilities), (2) no single set's pass count is below what an ideal source
    would show at the Bonferroni level ``family_alpha / sets``, and (3) no set has
    P-value_T < 1e-4 (NIST's own uniformity limit, which is already a family-wise limit).
    """
    if not results:
        raise BadInput("results: no sequences to assess")
    from scipy import stats  # loaded on first use, not when the CLI starts

    sets: dict[tuple[str, str], list[float]] = {}
    order: list[tuple[str, str]] = []
    for seq in results:
        for r in seq:
            for label, p in zip(r.labels, r.p_values, strict=True):
                key = (r.test, label)
                if key not in sets:
                    sets[key] = []
                    order.append(key)
                if r.applicable and np.isfinite(p):
                    sets[key].append(float(p))
    out: list[SetResult] = []
    for key in order:
        p = np.asarray(sets[key])
        m = p.size
        if m == 0:
            continue
        passed = int(np.count_nonzero(p >= alpha))
        threshold = min_pass_count(m, alpha)
        hist = np.bincount(np.minimum((p * 10).astype(int), 9), minlength=10)
        if m >= 55:
            chi2 = float(np.sum((hist - m / 10) ** 2 / (m / 10)))
            u = float(_igamc(4.5, chi2 / 2))
        else:
            u = float("nan")
        # P(passed < threshold | H0): failures ~ Binomial(m, alpha)
        q_prop = float(stats.binom.sf(m - threshold, m, alpha))
        q = q_prop + (1e-4 if m >= 55 else 0.0)
        out.append(
            SetResult(
                key[0], key[1], m, passed, threshold, hist, u,
                passed >= threshold, not (u < 1e-4), q,
            )
        )  # fmt: skip
    flagged = sum(s.flagged for s in out)
    qs = np.array([s.false_flag_probability for s in out])
    expected = float(qs.sum())
    # Poisson-binomial tail P(X >= flagged) by convolution of the per-set indicators
    dist = np.zeros(len(out) + 1)
    dist[0] = 1.0
    for q in qs:
        dist[1:] = dist[1:] * (1 - q) + dist[:-1] * q
        dist[0] *= 1 - q
    tail = float(dist[flagged:].sum())
    # binomial tail of each set's failure count: P(failures >= observed | H0)
    tails = [float(stats.binom.sf(s.sequences - s.passed - 1, s.sequences, alpha)) for s in out]
    worst_i = int(np.argmin(tails))
    bonf_ok = tails[worst_i] >= family_alpha / len(out)
    uni_ok = all(s.uniformity_ok for s in out)
    reasons = []
    if tail < family_alpha:
        reasons.append(f"{flagged} flagged sets (an ideal source: {expected:.2f}, "
                       f"P = {tail:.2g})")
    if not bonf_ok:
        reasons.append(f"{out[worst_i].name}: {out[worst_i].passed}/{out[worst_i].sequences} "
                       f"passing (tail p = {tails[worst_i]:.2g})")
    if not uni_ok:
        bad = [s.name for s in out if not s.uniformity_ok]
        reasons.append(f"non-uniform p-values in {', '.join(bad[:5])}"
                       + (f" and {len(bad) - 5} more" if len(bad) > 5 else ""))
    return Assessment(
        out, alpha, len(results), flagged, expected, tail, out[worst_i].name, tails[worst_i],
        bonf_ok, not reasons, reasons,
    )  # fmt: skip
