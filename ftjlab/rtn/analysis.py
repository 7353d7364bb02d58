"""One call from a trace to its RTN description, and storing it next to the run.

:func:`analyze` runs the pieces of :mod:`ftjlab.rtn` in streaming passes over a
:class:`~ftjlab.rtn.source.Trace`: trap count by BIC over factorial HMMs, levels and read
noise, per-trap tau_c / tau_e / amplitude / occupancy with 95 % intervals, dwell statistics
(one trap), the Welch spectrum with its Lorentzian fit, the autocorrelation and the weighted
time-lag plot. :func:`store` writes it under ``/runs/<id>/analysis/<name>`` of the run file.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ftjlab import store as run_store
from ftjlab.errors import BadInput

from . import dwell as dwell_mod
from . import spectrum
from .hmm import MIN_MEMORY, ApertureHMM, FactorialHMM, TrapEstimate, select_traps
from .source import Trace, TraceStats, as_trace

__all__ = ["RTNReport", "analyze", "store"]

APERTURE_MODEL_MIN = 0.02  # aperture / interval above which in-between readings are modelled


@dataclass
class RTNReport:
    """Everything :func:`analyze` found (arrays for plots included)."""

    name: str
    n: int
    interval_s: float
    stats: TraceStats
    n_traps: int
    bic: dict[int, float]
    base_a: float
    noise_sigma_a: float
    traps: list[TrapEstimate]
    levels_a: np.ndarray
    converged: bool
    iterations: int
    dwell: dwell_mod.DwellReport | None = None
    dwell_note: str = ""
    psd: tuple[np.ndarray, np.ndarray] | None = None
    lorentzian: spectrum.Lorentzian | None = None
    acf: np.ndarray | None = None
    tlp: tuple[np.ndarray, np.ndarray] | None = None
    meta: dict = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    @property
    def snr(self) -> float:
        """Largest trap amplitude over the read-noise sigma."""
        if not self.traps:
            return 0.0
        return max(abs(t.amplitude_a) for t in self.traps) / self.noise_sigma_a

    def summary(self) -> str:
        lines = [
            f"RTN analysis of {self.name}: {self.n} readings every {self.interval_s:.4g} s",
            f"  traps: {self.n_traps} (BIC " + ", ".join(f"{k}: {v:.6g}" for k, v in
                                                         sorted(self.bic.items())) + ")",
            f"  base level {self.base_a:.6g} A, read noise sigma {self.noise_sigma_a:.4g} A"
            + (f", SNR {self.snr:.3g}; EM {'converged' if self.converged else 'NOT converged'}"
               f" in {self.iterations} iterations" if self.n_traps else ""),
        ]
        for i, t in enumerate(self.traps):
            lines.append(
                f"  trap {i}: dI = {t.amplitude_a:.4g} A [{t.amplitude_ci_a[0]:.4g}, "
                f"{t.amplitude_ci_a[1]:.4g}], tau_c = {t.tau_c_s:.4g} s [{t.tau_c_ci_s[0]:.4g}, "
                f"{t.tau_c_ci_s[1]:.4g}], tau_e = {t.tau_e_s:.4g} s [{t.tau_e_ci_s[0]:.4g}, "
                f"{t.tau_e_ci_s[1]:.4g}], occupancy {t.occupancy:.3f}, "
                f"{t.transitions:.0f} transitions"
            )
        if self.dwell is not None:
            d = self.dwell
            lines.append(f"  Viterbi dwells: tau_c = {d.tau_c_s:.4g} s, tau_e = {d.tau_e_s:.4g} s "
                         f"({d.n_empty} + {d.n_filled} complete dwells)")
        if self.dwell_note:
            lines.append(f"  dwells: {self.dwell_note}")
        for note in self.notes:
            lines.append(f"  note: {note}")
        if self.lorentzian is not None:
            lz = self.lorentzian
            lines.append(f"  spectrum: Lorentzian S0 = {lz.s0_a2_hz:.4g} A^2/Hz, f_c = "
                         f"{lz.fc_hz:.4g} Hz (tau* = {lz.tau_star_s:.4g} s), white "
                         f"{lz.white_a2_hz:.4g} A^2/Hz")
        if self.acf is not None and self.acf.size > 1:
            lines.append(f"  autocorrelation at lag 1: {self.acf[1]:.4f}")
        return "\n".join(lines)

    def arrays(self) -> dict[str, tuple[np.ndarray, str]]:
        out: dict[str, tuple[np.ndarray, str]] = {
            "levels": (self.levels_a, "A"),
            "tau_c": (np.array([t.tau_c_s for t in self.traps]), "s"),
            "tau_e": (np.array([t.tau_e_s for t in self.traps]), "s"),
            "tau_c_ci": (np.array([t.tau_c_ci_s for t in self.traps]).reshape(-1, 2), "s"),
            "tau_e_ci": (np.array([t.tau_e_ci_s for t in self.traps]).reshape(-1, 2), "s"),
            "amplitude": (np.array([t.amplitude_a for t in self.traps]), "A"),
            "amplitude_ci": (np.array([t.amplitude_ci_a for t in self.traps]).reshape(-1, 2),
                             "A"),
            "occupancy": (np.array([t.occupancy for t in self.traps]), ""),
        }
        if self.psd is not None:
            out["psd_f"] = (self.psd[0], "Hz")
            out["psd"] = (self.psd[1], "A^2/Hz")
        if self.acf is not None:
            out["acf"] = (self.acf, "")
            out["acf_lag"] = (np.arange(self.acf.size) * self.interval_s, "s")
        if self.tlp is not None:
            out["tlp_counts"] = (self.tlp[0], "")
            out["tlp_edges"] = (self.tlp[1], "A")
        if self.dwell is not None:
            out["dwell_empty"] = (self.dwell.empty_dwells_s, "s")
            out["dwell_filled"] = (self.dwell.filled_dwells_s, "s")
        return out

    def attrs(self) -> dict:
        a = {
            "n_traps": self.n_traps, "bic": {str(k): v for k, v in self.bic.items()},
            "interval_s": self.interval_s, "readings": self.n, "base_a": self.base_a,
            "noise_sigma_a": self.noise_sigma_a, "snr": self.snr, "converged": self.converged,
            "iterations": self.iterations, "traps": [t.as_dict() for t in self.traps],
            "source": self.meta,
        }  # fmt: skip
        if self.lorentzian is not None:
            a["lorentzian"] = self.lorentzian.as_dict()
        if self.dwell is not None:
            a["dwell"] = self.dwell.as_dict()
        if self.dwell_note:
            a["dwell_note"] = self.dwell_note
        if self.notes:
            a["notes"] = self.notes
        return a


def analyze(
    trace,
    interval_s: float | None = None,
    traps: int | str = "auto",
    max_traps: int = 2,
    spectrum_segment: int | None = 4096,
    acf_lags: int = 200,
    tlp_bins: int = 64,
    max_iter: int = 200,
    tol: float = 1e-7,
) -> RTNReport:
    """Analyse one cell's trace (a :class:`Trace` or a 1-D array with ``interval_s``).

    ``traps``: "auto" (1..max_traps by BIC) or a number. ``spectrum_segment``: Welch segment
    length (None: no spectrum)."""
    tr = as_trace(trace, interval_s or 1.0)
    if interval_s is not None and isinstance(trace, Trace):
        tr.interval_s = float(interval_s)
    tr.check(min_samples=200)
    st = tr.stats()
    # zero traps: white Gaussian noise (2 parameters)
    ll0 = -0.5 * st.n * (math.log(2 * math.pi * max(st.std, 1e-300) ** 2) + 1)
    bic0 = -2 * ll0 + 2 * math.log(st.n)
    # readings that integrate over a good part of the interval catch flips half-way: model them
    ap = tr.aperture_s / tr.interval_s if tr.aperture_s and tr.aperture_s <= tr.interval_s \
        else None
    ap = ap if ap is not None and ap >= APERTURE_MODEL_MIN else None
    if traps == "auto":
        m, bic = select_traps(tr, None, max_traps, max_iter=max_iter, tol=tol,
                              baseline_bic=bic0, aperture_fraction=ap)
    elif isinstance(traps, int | np.integer) and 1 <= traps <= 4:
        m = ApertureHMM(ap) if traps == 1 and ap else FactorialHMM(int(traps))
        m.fit(tr, max_iter=max_iter, tol=tol)
        bic = {int(traps): m.bic()}
    else:
        raise BadInput(f"traps: 'auto' or a number of traps within 1..4, got {traps!r}")
    bic = {0: bic0, **bic}
    est = m.traps()
    report = RTNReport(
        tr.name, tr.n, tr.interval_s, st, m.n_traps, bic, m.base,
        float(np.sqrt(m.variances.mean())), est,
        np.sort([m.mu_e, m.mu_f]) if isinstance(m, ApertureHMM) else np.sort(m.means),
        m.converged, m.n_iter,
        meta=dict(tr.meta),
    )  # fmt: skip
    unresolved = [t for t in est if not t.resolved]
    if traps == "auto" and (bic0 <= min(v for k, v in bic.items() if k > 0)
                            or len(unresolved) == len(est)):
        why = ("white Gaussian noise fits best (BIC)" if bic0 <= min(
            v for k, v in bic.items() if k > 0) else
            f"the two-level fit has no memory from one reading to the next (1 - P01 - P10 = "
            f"{max(t.memory for t in est):.3f} < {MIN_MEMORY}): no trap, or traps much faster "
            f"than the {tr.interval_s:.3g} s sampling interval")
        report.n_traps, report.traps, report.levels_a = 0, [], np.array([st.mean])
        report.base_a, report.noise_sigma_a = st.mean, st.std
        report.notes.append(f"no RTN resolved: {why}")
    elif unresolved:
        report.notes.append(f"{len(unresolved)} trap(s) without memory from one reading to "
                            "the next: their time constants are below what this sampling "
                            "interval resolves")
    best_k = report.n_traps
    if isinstance(m, ApertureHMM) and best_k == 1:
        report.notes.append(f"readings integrate over {100 * ap:.0f} % of the interval: the "
                            "one-trap model includes readings caught mid-flip (ApertureHMM)")
    if best_k == 1 and isinstance(m, FactorialHMM):
        # levels 0 = empty (base), 1 = filled (base + amplitude)
        states, lengths = m.dwells(tr)
        snr = abs(est[0].amplitude_a) / report.noise_sigma_a
        try:
            report.dwell = dwell_mod.dwell_analysis(states, lengths, tr.interval_s, 1, 0)
            if snr < 4:
                report.dwell_note = (f"SNR {snr:.2g} < 4: the Viterbi path misses short "
                                     "dwells, so its dwell times are biased long; use the "
                                     "HMM time constants")
        except BadInput as exc:
            report.dwell_note = str(exc)
    if spectrum_segment:
        seg = int(min(spectrum_segment, max(64, tr.n // 8)))
        f, s = spectrum.psd(tr, segment=seg)
        report.psd = (f, s)
        try:
            lz = spectrum.fit_lorentzian(f, s)
        except (BadInput, ValueError, RuntimeError, np.linalg.LinAlgError):
            lz = None
        if (lz is not None and f[1] <= lz.fc_hz <= f[-1] and lz.s0_a2_hz > lz.white_a2_hz / 10
                and lz.s0_a2_hz > 3 * lz.s0_se and lz.fc_hz > 3 * lz.fc_se):
            report.lorentzian = lz
        else:
            report.notes.append("no Lorentzian in the spectrum: corner outside the measured "
                                "band, or plateau not significant above the white floor")
    if acf_lags:
        report.acf = spectrum.autocorrelation(tr, int(min(acf_lags, tr.n // 4)))
    if tlp_bins:
        smooth = 0.0
        span = report.stats.maximum - report.stats.minimum
        if span > 0:
            smooth = report.noise_sigma_a / (span / tlp_bins)
        report.tlp = spectrum.time_lag_plot(tr, tlp_bins, smooth=min(smooth, tlp_bins / 4))
    return report


def store(report: RTNReport, path: str | Path, run_id: str | None = None,
          name: str = "rtn") -> str:
    """Write the report next to its run (``/runs/<id>/analysis/<name>``)."""
    return run_store.add_results(path, name, report.arrays(), report.attrs(), run_id)
