"""The bench harness's own rules: targets judged as written, ratios, one clear line for a bad flag."""
from __future__ import annotations

import pytest

from bench.common import Figure, print_figures, target_met
from bench.run import main as bench_main


@pytest.mark.parametrize("value, target, met", [
    (50_000, ">= 50,000", True), (49_999.5, ">= 50,000", False), (200, "<= 200", True), (200.1, "<= 200", False),
    (0, "< 1", True), (1, "< 1", False), (3, "> 2", True), (5, "", None)])
def test_a_target_is_judged_as_written(value, target, met):
    assert target_met(value, target) is met


def test_a_target_without_an_operator_is_an_error():
    with pytest.raises(ValueError, match="expected <=, >="):
        target_met(1, "50")


def test_the_summary_table_shows_the_ratio_to_the_baseline_and_whether_the_target_is_met(capsys):
    figs = [Figure("ingest", "records/s", 60_000, ">= 50,000", True, "redis-benchmark XADD", 240_000, "n"),
            Figure("memory", "MiB", 1500, "<= 1024", False),
            Figure("no baseline", "ms", 3.0)]
    assert figs[0].ratio == 0.25 and figs[1].ratio is None
    print_figures(figs)
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 5
    assert "60,000" in lines[2] and "| yes |" in lines[2] and "redis-benchmark XADD (240,000)" in lines[2]
    assert "0.25" in lines[2]
    assert "| NO  |" in lines[3]


def test_an_unknown_bench_name_exits_2_with_one_line(capsys):
    with pytest.raises(SystemExit) as e:
        bench_main(["--only", "no-such-bench"])
    assert e.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "unknown bench no-such-bench" in err[0] and "ingest" in err[0]
