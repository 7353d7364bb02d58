"""Array parameters shared by the simulator tests."""

from ftjlab.simulators.params import ArrayParams, RetentionModel, TrapModel


def fast_trap_params(rows: int, cols: int, initial_state: str = "on") -> ArrayParams:
    """A drift-free array whose traps are fast and fully active at the 0.2 V VMM bias (many
    flips per product)."""
    fast = TrapModel(
        traps_per_cell=3.0,
        reference_bias_v=0.2,
        tau_capture_ref_s=3e-5,
        tau_emission_ref_s=2e-5,
        activation_v=0.0,
        amplitude=0.05,
        kinetics_bound_v=0.2,
    )
    no_drift = RetentionModel(drift_nu_mean=0.0, drift_nu_sigma=0.0)
    return ArrayParams(rows=rows, cols=cols, initial_state=initial_state, traps=fast,
                       retention=no_drift)
