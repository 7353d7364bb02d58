import pytest
from ftjlab.instruments import Limits

BENCH_LIMITS = {
    "max_read_voltage_v": 0.3,
    "max_sample_voltage_v": 1.2,
    "max_program_voltage_v": 4.5,
    "max_compliance_current_a": 1e-3,
    "min_pulse_width_s": 1e-8,
    "max_pulse_width_s": 1e-2,
}


@pytest.fixture
def limits_table() -> dict:
    """The [limits] table of the shipped simulated bench, as parsed from TOML."""
    return dict(BENCH_LIMITS)


@pytest.fixture
def limits() -> Limits:
    return Limits.from_dict(BENCH_LIMITS)
