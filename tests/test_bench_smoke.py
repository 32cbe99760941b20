"""The report's arithmetic and layout (`python -m bench`), on made-up figures: no benchmark runs here."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from bench import report
from bench.report import Figure, Growth, Result


def test_number_reads_the_first_figure_of_a_cell() -> None:
    assert report.number("**1.46×**") == 1.46
    assert report.number("10,000 in 1.1 s") == 10_000
    assert report.number("—") != report.number("—")  # nan


@pytest.mark.parametrize(
    ("small", "big", "expected"),
    [(5.0, 5.2, "flat"), (5.0, 50.0, "~linear"), (5.0, 15.0, "sublinear"), (5.0, 900.0, "superlinear")],
)
def test_growth_reading(small: float, big: float, expected: str) -> None:
    g = Growth("questions", [10_000, 100_000], {"p95 ms": [small, big]})
    text = report.growth_markdown(g)
    assert f"p95 ms {expected}" in text
    assert f"{big / small:.2f}×" in text  # one 10× step: the ratio itself


def test_growth_per_tenfold_over_a_hundredfold_step() -> None:
    g = Growth("questions", [10_000, 1_000_000], {"build s": [1.0, 100.0]})
    assert "10.00×" in report.growth_markdown(g)


def test_render_lists_targets_and_keeps_figures_for_the_next_run(tmp_path: Path) -> None:
    figures = [
        Figure("x.ratio", "chatter: CPU per event", 140.0, " µs", "bare Bolt", 100.0, "≤ 1.5×", True, 0),
        Figure("x.mrr", "MRR", 0.31, "", "BM25", 0.33, "≥ 0.36", False, 3),
    ]
    results = [Result("x", "a benchmark", figures=figures, details="| a |\n|---|\n| 1 |"), Result("y", "y", error="E")]
    text = report.render(results, scale="small", started=datetime(2026, 1, 1, tzinfo=UTC), seconds=60.0)
    assert "1 met, 1 missed, 1 benchmarks failed" in text
    assert "| MRR | **0.310** | BM25 | 0.330 | 0.94× | ≥ 0.36 | **missed** |" in text
    assert "cores (os.cpu_count)" in text and "| scale | small |" in text
    out = tmp_path / "RESULTS.md"
    report.write(out, text)
    kept = report._previous(out)
    assert kept["scale"] == "small" and kept["figures"]["x.ratio_ratio"] == pytest.approx(1.4)


def test_detect_eval_runs_beside_its_baseline() -> None:
    from bench import detect_eval

    res = detect_eval.run("small")
    assert res["holdout"]["ours"]["f1"] > res["holdout"]["baseline"]["f1"]
