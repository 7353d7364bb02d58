"""The result type, input parsing and special functions shared by the SP 800-22 tests."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from ftjlab.errors import BadInput


@dataclass
class TestResult:
    """Outcome of one SP 800-22 test on one sequence.

    ``p_values`` holds one value per sub-test, named in ``labels``; ``statistic`` the test
    statistic(s) the text calls chi^2 / s_obs / V / ...; ``applicable`` is False when the
    sequence does not meet the test's preconditions (then p-values are NaN and ``note`` says
    why).
    """

    __test__ = False  # not a pytest class

    test: str
    p_values: np.ndarray
    labels: tuple[str, ...]
    statistic: np.ndarray
    applicable: bool = True
    note: str = ""
    detail: dict = field(default_factory=dict)

    @property
    def p_value(self) -> float:
        """The p-value of a single-statistic test (the first sub-test otherwise)."""
        return float(self.p_values[0])


def _result(test, p, labels=("",), statistic=np.nan, **detail) -> TestResult:
    p = np.atleast_1d(np.asarray(p, dtype=np.float64))
    return TestResult(
        test, np.clip(p, 0.0, 1.0), tuple(labels), np.atleast_1d(statistic), detail=detail
    )


def _not_applicable(test: str, labels: Sequence[str], note: str) -> TestResult:
    nan = np.full(len(labels), np.nan)
    return TestResult(test, nan, tuple(labels), nan, applicable=False, note=note)


# ------------------------------------------------------------------------------ input


def as_bits(bits, name: str = "bits") -> np.ndarray:
    """A 1-D uint8 array of 0/1 from an array of 0/1 (any int/bool dtype) or a '0'/'1' string.

    Raises :class:`BadInput` naming ``name`` for anything else (other values, NaN, empty).
    """
    if isinstance(bits, str):
        raw = np.frombuffer(bits.encode("ascii", "replace"), dtype=np.uint8)
        raw = raw[~np.isin(raw, np.frombuffer(b" \n\r\t", np.uint8))]
        if raw.size and not np.all((raw == 48) | (raw == 49)):
            raise BadInput(f"{name}: a bit string may hold only '0' and '1'")
        out = (raw - 48).astype(np.uint8)
    else:
        arr = np.asarray(bits)
        if arr.dtype == bool:
            out = arr.astype(np.uint8).ravel()
        elif np.issubdtype(arr.dtype, np.integer):
            out = arr.ravel()
            if out.size and (out.min() < 0 or out.max() > 1):
                raise BadInput(f"{name}: bits must be 0 or 1, got values in [{out.min()}, "
                               f"{out.max()}]")
            out = out.astype(np.uint8)
        elif np.issubdtype(arr.dtype, np.floating):
            out = arr.ravel()
            if not np.all(np.isfinite(out)):
                raise BadInput(f"{name}: bits contain NaN or inf")
            if out.size and not np.all((out == 0) | (out == 1)):
                raise BadInput(f"{name}: bits must be 0 or 1")
            out = out.astype(np.uint8)
        else:
            raise BadInput(f"{name}: expected an array of 0/1, got dtype {arr.dtype}")
    if out.size == 0:
        raise BadInput(f"{name}: empty bit sequence")
    return np.ascontiguousarray(out)


def _igamc(a, x):
    from scipy import special  # scipy loads on first use, not when the CLI starts

    return special.gammaincc(a, x)


def _erfc(x):
    from scipy import special

    return special.erfc(x)
