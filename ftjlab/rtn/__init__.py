"""RTN analysis, latent sampling and randomness quality (issue 5).

Modules:

* :mod:`~ftjlab.rtn.source` - traces from memory or run files, block by block, with checks.
* :mod:`~ftjlab.rtn.hmm` - level detection: Gaussian and factorial hidden Markov models.
* :mod:`~ftjlab.rtn.dwell` - dwell times, tau_c / tau_e with confidence intervals.
* :mod:`~ftjlab.rtn.spectrum` - power spectrum and Lorentzian fit, autocorrelation, time-lag
  plots.
* :mod:`~ftjlab.rtn.latent` - RTN samples to Gaussian latent vectors, quality metrics, tuning
  report over bias x sampling time.
* :mod:`~ftjlab.rtn.bits` - bit extraction and post-processing.
* :mod:`~ftjlab.rtn.nist` - the 15 SP 800-22 tests and the multi-sequence criteria.
* :mod:`~ftjlab.rtn.entropy` - SP 800-90B min-entropy estimates and health-test cutoffs.
"""
