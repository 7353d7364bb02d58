"""One call from a trace to its RTN description, and storing it next to the run.

:func:`analyze` runs the pieces of :mod:`ftjlab.rtn` in streaming passes over a
:class:`~ftjlab.rtn.source.Trace`: trap count by BIC over factorial HMMs, levels and read
noise, per-trap tau_c / tau_e / amplitude / occupancy with 95 % intervals, dwell statistics
(one trap), the Welch spectrum with its Lorentzian fit, the autocorrelation and the weighted
time-lag plot. :func:`store` writes it under ``/runs/<id>/analysis/<name>`` of the run file.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ftjlab import store as run_store
from ftjlab.errors import BadInput

from . import dwell as dwell_mod
from . import spectrum
from .hmm import FactorialHMM, TrapEstimate, select_traps
from .source import Trace, TraceStats, as_trace

__all__ = ["RTNReport", "analyze", "store"]


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
            f"  base level {self.base_a:.6g} A, read noise sigma {self.noise_sigma_a:.4g} A, "
            f"SNR {self.snr:.3g}; EM {'converged' if self.converged else 'NOT converged'} in "
            f"{self.iterations} iterations",
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
    if traps == "auto":
        m, bic = select_traps(tr, None, max_traps, max_iter=max_iter, tol=tol)
    elif isinstance(traps, int | np.integer) and 1 <= traps <= 4:
        m = FactorialHMM(int(traps)).fit(tr, max_iter=max_iter, tol=tol)
        bic = {int(traps): m.bic()}
    else:
        raise BadInput(f"traps: 'auto' or a number of traps within 1..4, got {traps!r}")
    best_k = m.n_traps
    est = m.traps()
    report = RTNReport(
        tr.name, tr.n, tr.interval_s, tr.stats(), best_k, bic, m.base,
        float(np.sqrt(m.variances.mean())), est, np.sort(m.means), m.converged, m.n_iter,
        meta=dict(tr.meta),
    )  # fmt: skip
    if best_k == 1:
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
            report.lorentzian = spectrum.fit_lorentzian(f, s)
        except (BadInput, ValueError, RuntimeError):
            report.lorentzian = None
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
