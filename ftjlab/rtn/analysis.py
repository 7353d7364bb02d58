"""One call from a trace to its RTN description, and storing it next to the run.

:func:`analyze` runs the pieces of :mod:`ftjlab.rtn` in streaming passes over a
:class:`~ftjlab.rtn.source.Trace`: trap count by BIC over factorial HMMs, levels and read
noise, per-trap tau_c / tau_e / amplitude / occupancy with 95 % intervals, dwell statistics
(one trap), the Welch spectrum with its sampled-Lorentzian fit (one term per trap), the
autocorrelation and the weighted time-lag plot. :func:`store` writes it under
``/runs/<id>/analysis/<name>`` of the run file.

A one-trap fit counts as a trap only if the likelihood-ratio test against the same levels
without memory (independent readings) rejects at p = 0.001. Warnings (EM not converged,
intervals that had to fall back, HMM / spectrum / dwell estimates of tau* that disagree
beyond their errors) go into ``warnings``: printed by :meth:`RTNReport.summary` and stored
as the ``warnings`` attribute of the analysis group.
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
from .aperture import ApertureHMM
from .factorial import FactorialHMM
from .hmm import MEMORY_LR, TrapEstimate
from .source import Trace, TraceStats, as_trace
from .traps import one_trap_model, select_traps

FEW_FLIPS = 3  # fewer captures or emissions than this in the record: the trap cannot be timed

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
    lorentzians: list[spectrum.Lorentzian] = field(default_factory=list)
    acf: np.ndarray | None = None
    tlp: tuple[np.ndarray, np.ndarray] | None = None
    meta: dict = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

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
                f"{t.transitions:.0f} transitions; 95 % intervals by {t.ci_method}"
                + (f"; memory test 2 ln LR = {t.memory_lr:.4g}" if math.isfinite(t.memory_lr)
                   else "")
            )
        if self.dwell is not None:
            d = self.dwell
            lines.append(f"  Viterbi dwells: tau_c = {d.tau_c_s:.4g} s, tau_e = {d.tau_e_s:.4g} s "
                         f"({d.n_empty} + {d.n_filled} complete dwells)")
        if self.dwell_note:
            lines.append(f"  dwells: {self.dwell_note}")
        for note in self.notes:
            lines.append(f"  note: {note}")
        for lz in self.lorentzians or ([self.lorentzian] if self.lorentzian else []):
            lines.append(f"  spectrum: sampled Lorentzian S0 = {lz.s0_a2_hz:.4g} A^2/Hz, f_c = "
                         f"{lz.fc_hz:.4g} Hz (tau* = {lz.tau_star_s:.4g} s), white "
                         f"{lz.white_a2_hz:.4g} A^2/Hz")
        if self.acf is not None and self.acf.size > 1:
            lines.append(f"  autocorrelation at lag 1: {self.acf[1]:.4f}")
        for w in self.warnings:
            lines.append(f"  WARNING: {w}")
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
        if self.lorentzians:
            a["lorentzians"] = [lz.as_dict() for lz in self.lorentzians]
        a["warnings"] = list(self.warnings)
        a["ci_methods"] = [t.ci_method for t in self.traps]
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
    max_iter: int = 3000,
    tol: float = 1e-8,
) -> RTNReport:
    """Analyse one cell's trace (a :class:`Trace` or a 1-D array with ``interval_s``).

    ``traps``: "auto" (1..max_traps by BIC) or a number. ``spectrum_segment``: Welch segment
    length (None: no spectrum). ``max_iter``: cap on EM E-steps (reaching it is a
    warning)."""
    tr = as_trace(trace, interval_s or 1.0)
    if interval_s is not None and isinstance(trace, Trace):
        tr.interval_s = float(interval_s)
    tr.check(min_samples=200)
    st = tr.stats()
    # zero traps: white Gaussian noise (2 parameters)
    ll0 = -0.5 * st.n * (math.log(2 * math.pi * max(st.std, 1e-300) ** 2) + 1)
    bic0 = -2 * ll0 + 2 * math.log(st.n)
    ap = tr.aperture_s / tr.interval_s if tr.aperture_s and tr.aperture_s <= tr.interval_s \
        else None
    if traps == "auto":
        m, bic = select_traps(tr, None, max_traps, max_iter=max_iter, tol=tol,
                              baseline_bic=bic0, aperture_fraction=ap)
    elif isinstance(traps, int | np.integer) and 1 <= traps <= 4:
        if traps == 1:
            m = one_trap_model(tr, ap, max_iter=max_iter, tol=tol)
        else:
            m = FactorialHMM(int(traps)).fit(tr, max_iter=max_iter, tol=tol)
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
    white_best = bic0 <= min(v for k, v in bic.items() if k > 0)
    if not white_best:
        report.warnings.extend(getattr(m, "warnings", []))
    unresolved = [t for t in est if not t.resolved]
    if traps == "auto" and (white_best or len(unresolved) == len(est)):
        t0 = est[0] if est else None
        why = ("white Gaussian noise fits best (BIC)" if white_best else
               f"the readings show no memory from one to the next: likelihood ratio against "
               f"the same levels read independently 2 ln LR = {t0.memory_lr:.3g} < "
               f"{MEMORY_LR} (p > 0.001); no trap, or traps much faster than the "
               f"{tr.interval_s:.3g} s sampling interval")
        report.n_traps, report.traps, report.levels_a = 0, [], np.array([st.mean])
        report.base_a, report.noise_sigma_a = st.mean, st.std
        report.notes.append(f"no RTN resolved: {why}")
    elif unresolved:
        report.notes.append(f"{len(unresolved)} trap(s) without significant memory from one "
                            "reading to the next: their time constants are below what this "
                            "sampling interval resolves")
    for i, t in enumerate(report.traps):
        if t.resolved and min(t.captures, t.emissions) < FEW_FLIPS:
            report.warnings.append(
                f"trap {i} flips only {t.captures:.0f} x in and {t.emissions:.0f} x out in "
                f"the record: too few transitions to time it (its time constants are "
                f"comparable to or longer than the {tr.n * tr.interval_s:.3g} s record; "
                f"record longer)")
    best_k = report.n_traps
    if isinstance(m, ApertureHMM) and best_k == 1:
        report.notes.append(f"readings integrate over {100 * ap:.0f} % of the interval: the "
                            "one-trap model uses the exact distribution of the filled "
                            "fraction within each aperture (ApertureHMM)")
    if best_k == 1 and isinstance(m, FactorialHMM):
        _dwells(report, m, tr, est[0])
    if spectrum_segment:
        _spectrum(report, tr, spectrum_segment)
    if acf_lags:
        report.acf = spectrum.autocorrelation(tr, int(min(acf_lags, tr.n // 4)))
    if tlp_bins:
        smooth = 0.0
        span = report.stats.maximum - report.stats.minimum
        if span > 0:
            smooth = report.noise_sigma_a / (span / tlp_bins)
        report.tlp = spectrum.time_lag_plot(tr, tlp_bins, smooth=min(smooth, tlp_bins / 4))
    return report


def _tau_star(t: TrapEstimate) -> tuple[float, float]:
    """(tau*, relative standard error from the tau_c, tau_e intervals)."""
    ts = 1 / (1 / t.tau_c_s + 1 / t.tau_e_s)
    sc = math.log(t.tau_c_ci_s[1] / t.tau_c_s) / 1.96
    se = math.log(t.tau_e_ci_s[1] / t.tau_e_s) / 1.96
    wc, we = ts / t.tau_c_s, ts / t.tau_e_s  # d ln tau* / d ln tau_c, tau_e
    return ts, math.sqrt((wc * sc) ** 2 + (we * se) ** 2)


def _dwells(report: RTNReport, m, tr: Trace, t: TrapEstimate) -> None:
    """Viterbi dwell statistics of a one-trap fit, and a warning when they disagree with
    the HMM time constants beyond both errors."""
    states, lengths = m.dwells(tr)
    snr = abs(t.amplitude_a) / report.noise_sigma_a
    try:
        d = dwell_mod.dwell_analysis(states, lengths, tr.interval_s, 1, 0)
    except BadInput as exc:
        report.dwell_note = str(exc)
        return
    report.dwell = d
    if snr < 4:
        report.dwell_note = (f"SNR {snr:.2g} < 4: the Viterbi path misses short dwells, so "
                             "its dwell times are biased long; use the HMM time constants")
    for name, hmm_v, hmm_ci, dw_v, dw_ci in (
            ("tau_c", t.tau_c_s, t.tau_c_ci_s, d.tau_c_s, d.tau_c_ci_s),
            ("tau_e", t.tau_e_s, t.tau_e_ci_s, d.tau_e_s, d.tau_e_ci_s)):
        s1 = math.log(hmm_ci[1] / hmm_v) / 1.96
        s2 = math.log(dw_ci[1] / dw_v) / 1.96
        z = abs(math.log(dw_v / hmm_v)) / math.hypot(s1, s2)
        if z > 3:
            text = (f"estimators disagree: Viterbi-dwell {name} = {dw_v:.4g} s vs HMM "
                    f"{hmm_v:.4g} s ({z:.1f} combined standard errors)")
            if snr < 4:  # explained (see dwell_note): a note, not a warning
                report.notes.append(f"{text}; expected at SNR {snr:.2g} < 4 (the Viterbi "
                                    "path misses short dwells): use the HMM values")
            else:
                report.warnings.append(text)


def _spectrum(report: RTNReport, tr: Trace, segment: int) -> None:
    seg = int(min(segment, max(64, tr.n // 8)))
    f, s = spectrum.psd(tr, segment=seg)
    report.psd = (f, s)
    guesses = None
    if report.traps:
        guesses = [_tau_star(t)[0] for t in report.traps]
    try:
        lzs = spectrum.fit_sampled_lorentzians(f, s, tr.interval_s, guesses)
    except (BadInput, ValueError, RuntimeError, np.linalg.LinAlgError):
        lzs = []
    good = [lz for lz in lzs if f[1] <= lz.fc_hz <= f[-1] and lz.s0_a2_hz > lz.white_a2_hz / 10
            and lz.s0_a2_hz > 2 * lz.s0_se and lz.fc_hz > 3 * lz.fc_se]
    if not good:
        report.notes.append("no Lorentzian in the spectrum: corner outside the measured "
                            "band, or plateau not significant above the white floor")
        return
    report.lorentzians = good
    report.lorentzian = good[0]
    if len(good) < len(lzs):
        report.notes.append(f"{len(lzs) - len(good)} of the {len(lzs)} Lorentzians fitted "
                            "(one per trap) are not significant in the spectrum")
    if not report.traps:
        return
    for t in report.traps:  # each trap against the nearest Lorentzian
        ts, se_rel = _tau_star(t)
        lz = min(good, key=lambda c: abs(math.log(c.tau_star_s / ts)))
        se_sp = lz.fc_se / lz.fc_hz
        z = abs(math.log(lz.tau_star_s / ts)) / math.hypot(se_rel, se_sp)
        if z > 3 and abs(math.log(lz.tau_star_s / ts)) > 0.05:
            report.warnings.append(
                f"estimators disagree: spectrum tau* = {lz.tau_star_s:.4g} s vs HMM tau* = "
                f"{ts:.4g} s (ratio {lz.tau_star_s / ts:.3g}, {z:.1f} combined standard "
                "errors)")


def store(report: RTNReport, path: str | Path, run_id: str | None = None,
          name: str = "rtn") -> str:
    """Write the report next to its run (``/runs/<id>/analysis/<name>``)."""
    return run_store.add_results(path, name, report.arrays(), report.attrs(), run_id)
