"""After 1e5 sampling + VMM cycles through the instruments (the resident decoder load
programmed by write-verify; drift active), the FCD of bench-latent, measured-map generation
stays within 10 % of its start on the same latents (paired, so the change is the array's and
not the spread of two FCD estimates at n = 2,000). On fresh latents two estimates differ by
up to ~25 % at this n (seeds 2026-2028: +1 %, +15 %, -23 %), so that figure only has to show
a working latent source after the cycles (a broken one gives FCD in the hundreds)."""

import pytest

from ftjlab.vae.stability import run_stability


@pytest.mark.slow
def test_fcd_stays_within_10_percent_over_1e5_cycles(bench_map_file) -> None:
    r = run_stability(cycles=100_000, real_cycles=100, n_eval=2000, chunk=50, seed=2026,
                      maps_from=str(bench_map_file))
    # the clock really advanced by 1e5 cycles' instrument time (RTN readings + VMMs)
    assert r.s_per_cycle >= 2e-3
    assert r.instrument_s >= 100_000 * r.s_per_cycle
    assert r.g_change_rel < -0.005  # drift did act on the programmed cells
    assert abs(r.fcd_change) <= 0.10, (r.fcd_start, r.fcd_end)
    assert abs(r.fcd_change_fresh) <= 0.5, (r.fcd_start, r.fcd_end_fresh)
