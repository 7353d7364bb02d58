import contextlib
from collections.abc import Callable, Iterator
from typing import Any

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


@contextlib.contextmanager
def _tcp_bench(seed: int, timeout_ms: int) -> Iterator[tuple[Any, Any]]:
    """The shipped simulated bench behind a sim-server, reached through pyvisa-py: yields
    ``(server, controller)``; the session is closed on the way out."""
    from ftjlab.simulators.server import SimServer

    from ftjlab.config import load_bench_config
    from ftjlab.controller import ArrayController
    from ftjlab.session import BenchSession

    with SimServer(load_bench_config(None), seed=seed) as server:
        session = BenchSession.open(None, seed=seed, timeout_ms=timeout_ms,
                                    resources=server.resources)
        try:
            yield server, ArrayController(session)
        finally:
            session.close()


@pytest.fixture
def tcp_bench() -> Callable[..., contextlib.AbstractContextManager[tuple[Any, Any]]]:
    """``tcp_bench(seed=..., timeout_ms=...)``: the shipped simulated bench behind a
    sim-server, reached through pyvisa-py, as a context manager yielding
    ``(server, controller)``."""
    return _tcp_bench


@pytest.fixture
def slow_replies_from(monkeypatch: pytest.MonkeyPatch) -> Callable[..., None]:
    """``slow_replies_from(owner, method, faults, delay_s)``: from the next call of
    ``owner.method`` on, the emulator's replies come ``delay_s`` late (that call's own reply
    included)."""

    def patch(owner: Any, method: str, faults: Any, delay_s: float) -> None:
        original = getattr(owner, method)

        def late(*args: Any) -> Any:
            faults.slow_replies(delay_s)
            return original(*args)

        monkeypatch.setattr(owner, method, late)

    return patch
