"""RTN analysis, latent sampling and randomness quality (issue 5).

Modules:

* :mod:`~ftjlab.rtn.source` - traces from memory or run files, block by block, with checks
  (NaN, constant, too short -> BadInput).
* :mod:`~ftjlab.rtn.hmm` - level detection: the streamed Gaussian hidden Markov model; exact
  tau_c / tau_e from the sampled chain.
* :mod:`~ftjlab.rtn.factorial` - the factorial HMM (several independent traps).
* :mod:`~ftjlab.rtn.traps` - how many traps (BIC), and when the aperture model is used.
* :mod:`~ftjlab.rtn.em` - start values and the stopping rule of the EM fits (SQUAREM).
* :mod:`~ftjlab.rtn.information` - observed-information and batch-means intervals.
* :mod:`~ftjlab.rtn.profile` - profile-likelihood intervals of tau_c, tau_e (the check of
  the observed-information ones).
* :mod:`~ftjlab.rtn.aperture` - one trap read through apertures up to a few tau (exact
  filled-fraction distribution).
* :mod:`~ftjlab.rtn.levels` - the two-level description every caller shares (rtn-tuning,
  rtn-tune, the GUI).
* :mod:`~ftjlab.rtn.dwell` - dwell times of a decoded path with confidence intervals.
* :mod:`~ftjlab.rtn.spectrum` - Welch spectrum and (sampled, multi-trap) Lorentzian fits,
  autocorrelation, time-lag plots.
* :mod:`~ftjlab.rtn.analysis` - all of the above in one call, stored next to the run.
* :mod:`~ftjlab.rtn.latent` - RTN readings -> Gaussian latent vectors, quality against
  N(0, I), tuning report over bias x sampling time.
* :mod:`~ftjlab.rtn.latent_check` - expected KS / lag-1 of latents before use, cells per
  dimension needed, robust thinning.
* :mod:`~ftjlab.rtn.bits` - bit extraction and post-processing (von Neumann, XOR).
* :mod:`~ftjlab.rtn.nist` - the 15 SP 800-22 tests and the section 4.2 criteria.
* :mod:`~ftjlab.rtn.entropy` - SP 800-90B min-entropy estimates and health-test cutoffs.
* :mod:`~ftjlab.rtn.rng` - bit sources (simulated device, controls) and the randomness report.

Commands: ``ftjlab rtn-analyze``, ``ftjlab rng-test``, ``ftjlab rtn-tune``; benchmarks in
``tests/benchmarks/bench_rtn.py`` (``ftjlab bench rtn.``).
"""
