"""Adversarial fuzz of the safety guards on the simulated benches: > 20,000 generated forms
(Lua syntax and comments, SCPI framing, control characters, number spellings and suffixes,
instrument-semantic sequences, the Python API surface, the adapter), and not one value
beyond a bench limit may reach an emulator. The judge reads the emulators' settings and
outputs and what the simulated array saw (:mod:`safety_fuzz`), never the guards.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest
import safety_fuzz as fz

from ftjlab.session import BenchSession

ROOT = Path(__file__).resolve().parents[2]
SIM_2450 = ROOT / "data" / "benches" / "sim-2450.toml"


def _interleave(
    rng: np.random.Generator, forms: list[str], prime: list[str], every: int
) -> list[str]:
    """Prime sequences (a valid configuration with the output on) between attacks, so that
    attacks also meet an output that is on."""
    out: list[str] = []
    for start in range(0, len(forms), every):
        if rng.random() < 0.7:
            out.extend(prime)
        out.extend(forms[start : start + every])
    return out


def _run(
    session: BenchSession, judge: fz.Judge, name: str, forms: list[str], rng: np.random.Generator
) -> tuple[int, int]:
    driver = session.instruments[name]
    use_adapter = iter((rng.random(len(forms)) < 0.15).tolist())

    def write(form: str) -> None:
        target = driver.adapter if next(use_adapter) else driver  # the adapter is guarded too
        target.write(form)

    return fz.send_all(forms, write, lambda f: judge.judge(f, session.emulators, session.sim))


def _api_surface(
    session: BenchSession, judge: fz.Judge, rng: np.random.Generator, n: int
) -> tuple[int, int]:
    """Driver properties, methods and the controller with generated values."""
    values = rng.choice(
        [5.0, 0.31, 0.9, 4.6, 20.0, -5.0, 0.2, 1e-3, 2e-3, 1e-9, 1e-2, 1.0, 1e-15, 1e9, 0.1], (n, 3)
    )
    calls = []
    for name, driver in session.instruments.items():
        model = session.config.instruments[name].model
        if model == "2636B":
            for ch in (driver.smua, driver.smub):
                calls += [
                    lambda v, ch=ch: setattr(ch, "source_voltage", v[0]),
                    lambda v, ch=ch: setattr(ch, "voltage_limit", abs(v[0])),
                    lambda v, ch=ch: setattr(ch, "current_limit", abs(v[1])),
                    lambda v, ch=ch: setattr(ch, "source_function", "current"),
                    lambda v, ch=ch: setattr(ch, "source_function", "voltage"),
                    lambda v, ch=ch: setattr(ch, "output_enabled", True),
                    lambda v, ch=ch: ch.apply_voltage(v[0], abs(v[1])),
                ]
        elif model in ("81160A", "33500B"):
            for ch in driver.channels.values():
                calls += [
                    lambda v, ch=ch: setattr(ch, "voltage_high", v[0]),
                    lambda v, ch=ch: setattr(ch, "voltage_low", -abs(v[1])),
                    lambda v, ch=ch: setattr(ch, "amplitude", abs(v[0])),
                    lambda v, ch=ch: setattr(ch, "pulse_width", abs(v[2])),
                    lambda v, ch=ch: setattr(ch, "pulse_period", abs(v[2]) * 2),
                    lambda v, ch=ch: setattr(ch, "output", True),
                    lambda v, ch=ch: setattr(ch, "output_load", 50),
                    lambda v, ch=ch: ch.configure_pulse(abs(v[0]), 0.0, abs(v[2]), 1e-3),
                ]
        elif model == "2450":
            calls += [
                lambda v, d=driver: setattr(d, "source_voltage", v[0]),
                lambda v, d=driver: setattr(d, "voltage_limit", max(abs(v[0]), 0.02)),
                lambda v, d=driver: setattr(d, "source_function", "current"),
                lambda v, d=driver: setattr(d, "output_enabled", True),
                lambda v, d=driver: d.apply_voltage(v[0], abs(v[1])),
            ]
        elif model == "707B":
            calls += [
                lambda v, d=driver: d.close(["1A01", "4C01"][int(abs(v[0])) % 2]),
                lambda v, d=driver: d.exclusive_close(
                    ["1C01", "4B01", "4A01,4C01"][int(abs(v[1]) * 1e3) % 3]
                ),
            ]
    if "smu" in session.instruments and session.config.instruments["smu"].model == "2636B":
        from ftjlab.controller import ArrayController

        controller = ArrayController(session)
        calls += [
            lambda v: controller.read_cell(1, 2, volts=abs(v[0]) + 0.31, role="program"),
            lambda v: controller.apply_pulses([1], [2], v[0] * 3, abs(v[2])),
            lambda v: controller.read_currents([1], [2], abs(v[0]), 0.01),
        ]
    picks = rng.integers(0, len(calls), n)
    accepted = refused = 0
    for i in range(n):
        try:
            calls[picks[i]](values[i])
            accepted += 1
        except Exception:
            refused += 1
        judge.judge(
            f"api call {picks[i]} with {values[i].tolist()}", session.emulators, session.sim
        )
    return accepted, refused


@pytest.mark.slow
def test_no_generated_form_puts_a_value_beyond_a_limit_into_an_emulator():
    rng = np.random.default_rng(13)
    totals = {"accepted": 0, "refused": 0}
    escapes: list[str] = []
    live = [0, 0]

    def add(result: tuple[int, int]) -> None:
        totals["accepted"] += result[0]
        totals["refused"] += result[1]

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with BenchSession.open(seed=1) as session:  # 2636B + 81160A + 707B
            judge = fz.session_judge(session)
            add(
                _run(
                    session,
                    judge,
                    "smu",
                    _interleave(rng, fz.tsp_forms(rng, 6000), fz._TSP_PRIME, 40),
                    rng,
                )
            )
            add(_run(session, judge, "matrix", fz.matrix_forms(rng, 1500), rng))
            add(
                _run(
                    session,
                    judge,
                    "pg",
                    _interleave(rng, fz.scpi_forms(rng, 4500, "81160A"), fz.GEN_PRIME_81160A, 30),
                    rng,
                )
            )
            add(_api_surface(session, judge, rng, 1500))
            escapes += judge.escapes
            live[0] += judge.live
            live[1] += judge.checks
        with BenchSession.open(SIM_2450, seed=1) as session:  # 2450 x2 + 33500B + 707B
            judge = fz.session_judge(session)
            for name in ("smu", "gate"):
                add(
                    _run(
                        session,
                        judge,
                        name,
                        _interleave(
                            rng, fz.scpi_forms(rng, 1500, "2450", 1), fz.SMU_PRIME_2450, 30
                        ),
                        rng,
                    )
                )
            add(
                _run(
                    session,
                    judge,
                    "pg",
                    _interleave(rng, fz.scpi_forms(rng, 3500, "33500B"), fz.GEN_PRIME_33500B, 30),
                    rng,
                )
            )
            add(_run(session, judge, "matrix", fz.matrix_forms(rng, 500), rng))
            add(_api_surface(session, judge, rng, 800))
            escapes += judge.escapes
            live[0] += judge.live
            live[1] += judge.checks
    forms = totals["accepted"] + totals["refused"]
    assert forms >= 20_000
    assert escapes == [], f"{len(escapes)} escapes of {forms}: {escapes[:5]}"
    # the fuzz must exercise accepted paths too, not only refusals
    assert totals["accepted"] >= 0.15 * forms, totals
    assert live[0] >= 0.3 * live[1], live  # and attacks often meet an output that is on
