"""Open-vs-closed lag: frontier steps, first open match (ties, not yet matched, open ahead), bootstrap
intervals, long and wide CSVs, Epoch AI's data, the plot, and one-line errors (exit 2) for bad input."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest
from typer.testing import CliRunner

from aslgate.cli import app
from aslgate.report.gap import (
    Entry,
    GapError,
    analyse,
    benchmark_gap,
    bootstrap_ci,
    frontier,
    gap_file,
    gap_plot_png,
    months,
    parse_open,
    read_gap_csv,
)

ROOT = Path(__file__).resolve().parents[2]
EPOCH = ROOT / "data" / "epoch" / "benchmarks_with_model_accessibility.csv"
runner = CliRunner()


def E(model: str, d: str, is_open: bool, score: float, bench: str = "b") -> Entry:
    return Entry(model, date.fromisoformat(d), is_open, bench, score)


def test_frontier_is_the_running_maximum() -> None:
    es = [E("a", "2023-01-01", False, 0.5), E("b", "2023-02-01", False, 0.4), E("c", "2023-03-01", False, 0.7),
          E("d", "2023-03-01", False, 0.6), E("e", "2023-04-01", False, 0.7)]  # fmt: skip
    assert [(m, s) for _, s, m in frontier(es)] == [("a", 0.5), ("c", 0.7)]  # e only ties: not a new step


def test_lags_ties_censoring_and_open_ahead() -> None:
    es = [
        E("open-old", "2022-06-01", True, 0.45),  # ahead of the first closed step
        E("c1", "2023-01-01", False, 0.40),
        E("c2", "2023-03-01", False, 0.60),
        E("o-tie", "2023-09-01", True, 0.60),  # exactly the closed score: a tie counts as a match
        E("c3", "2024-01-01", False, 0.90),  # never matched
        E("o-late", "2024-09-01", True, 0.80),
    ]
    g = benchmark_gap("b", es)
    by = {s.closed_model: s for s in g.steps}
    assert list(by) == ["c1", "c2", "c3"]
    assert by["c1"].open_model == "open-old" and by["c1"].open_led and by["c1"].lag_months < 0
    assert by["c2"].open_model == "o-tie" and by["c2"].tie and not by["c2"].censored
    assert by["c2"].lag_months == pytest.approx((date(2023, 9, 1) - date(2023, 3, 1)).days / 30.44)
    # right-censored at the benchmark's last date
    assert by["c3"].censored and by["c3"].open_model is None
    assert by["c3"].lag_months == pytest.approx(months(date(2024, 1, 1), date(2024, 9, 1)))
    assert g.stats.n == 2 and g.stats.censored == 1
    assert g.stats.median == pytest.approx((by["c1"].lag_months + by["c2"].lag_months) / 2)
    assert g.stats.median_with_censored == pytest.approx(by["c2"].lag_months)


def test_bootstrap_is_seeded_and_brackets_the_estimate() -> None:
    vals = [1.0, 2.0, 3.0, 5.0, 8.0, 13.0, 21.0]
    a = bootstrap_ci(vals, "median", seed=3)
    assert a == bootstrap_ci(vals, "median", seed=3)
    assert a is not None and a[0] <= 5.0 <= a[1] and a[0] < a[1]
    m = bootstrap_ci(vals, "mean", seed=3)
    assert m is not None and m[0] <= sum(vals) / len(vals) <= m[1]
    assert bootstrap_ci([], "mean") is None and bootstrap_ci([4.0], "median") == (4.0, 4.0)


@pytest.mark.parametrize("v,want", [("Open", True), ("CLOSED", False), ("yes", True), ("No", False),
                                    ("TRUE", True), ("false", False), ("maybe", None)])  # fmt: skip
def test_open_closed_spellings(v: str, want: bool | None) -> None:
    assert parse_open(v) is want


def test_long_csv_with_custom_column_names(tmp_path: Path) -> None:
    p = tmp_path / "long.csv"
    p.write_text(
        "who,when,weights,task,pct\n"
        "A,2023-01-01,closed,x,40%\nB,2023-06-01,Open,x,41%\nC,2023-02-01,No,y,0.3\nD,2023-04-01,YES,y,0.2\n"
    )
    r = gap_file(p, columns="model=who,date=when,open=weights,benchmark=task,score=pct")
    assert [g.benchmark for g in r.benchmarks] == ["x", "y"]
    x, y = r.benchmarks
    assert x.steps[0].open_model == "B" and x.steps[0].score == pytest.approx(0.40)
    assert y.steps[0].censored  # the open model (0.2) never reached 0.3
    assert r.overall.n == 1 and r.overall.censored == 1
    only = gap_file(p, columns="model=who,date=when,open=weights,benchmark=task,score=pct", benchmarks=["x"])
    assert [g.benchmark for g in only.benchmarks] == ["x"]


def test_wide_csv_detects_score_columns_and_skips_blank_cells(tmp_path: Path) -> None:
    p = tmp_path / "wide.csv"
    p.write_text(
        "System,Date,Open/Closed,Model size (parameters),MMLU,GPQA,MMLU Notes\n"
        "a,2023-01-01,Closed,100,0.7,,n\nb,2023-05-01,Open,70,0.72,0.3,\nc,2023-03-01,Closed,,,0.4,\n"
        ",2023-03-01,Open,,0.9,,\n"
    )
    entries, skipped = read_gap_csv(p)
    assert {e.benchmark for e in entries} == {"MMLU", "GPQA"}  # size and notes columns are not scores
    assert skipped == {"blank model": 1}
    r = analyse(entries)
    mmlu = next(g for g in r.benchmarks if g.benchmark == "MMLU")
    assert mmlu.steps[0].open_model == "b"


def test_epoch_data_gives_per_benchmark_lags() -> None:
    r = gap_file(EPOCH)
    names = {g.benchmark for g in r.benchmarks}
    assert {"MMLU", "GPQA", "BBH", "LMSys Elo"} <= names
    assert not names & {"Active Parameters", "Training compute (FLOP)", "Trust in benchmark results"}
    assert r.skipped.get("blank date") == 1
    for g in r.benchmarks:
        assert g.steps and g.stats.n + g.stats.censored == len(g.steps)
    o = r.overall
    assert o.median is not None and o.median_ci is not None and o.median_ci[0] <= o.median <= o.median_ci[1]
    assert 0 < o.median < 24  # months: the same order as Epoch's published per-benchmark range
    png = gap_plot_png(r)
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 20_000


def test_cli_json_and_plot(tmp_path: Path) -> None:
    plot = tmp_path / "gap.png"
    res = runner.invoke(app, ["gap", str(EPOCH), "--benchmark", "MMLU,GPQA", "--plot", str(plot), "--json"])
    assert res.exit_code == 0, res.output
    body = json.loads(res.output)
    assert [b["benchmark"] for b in body["benchmarks"]] == ["GPQA", "MMLU"]
    assert body["seed"] == 0 and body["overall"]["median_ci"][0] <= body["overall"]["median"]
    assert plot.read_bytes()[:4] == b"\x89PNG"


def _one_line_error(args: list[str], *fragments: str) -> None:
    res = runner.invoke(app, args)
    assert res.exit_code == 2, res.output
    text = res.output.strip()
    assert "Traceback" not in text and len(text.splitlines()) == 1, text
    for f in fragments:
        assert f in text, text


@pytest.mark.parametrize(
    "content,fragments",
    [
        ("model,date,score\na,2023-01-01,0.5\n", ["missing the open column"]),
        ("model,open,score\na,open,0.5\n", ["missing the date column"]),
        ("model,date,open,score\na,01/02/2023,open,0.5\n", ["row 2", "'date'", "not an ISO date"]),
        ("model,date,open,score\na,2023-01-01,open,high\n", ["row 2", "'score'", "not a number"]),
        ("model,date,open,score\na,2023-01-01,maybe,0.5\n", ["row 2", "not open/closed"]),
        ("model,date,open,score\na,2023-01-01,open,0.5\nb,2023-02-01,open,0.6\n", ["no closed model"]),
        ("model,date,open,benchmark,score\na,2023-01-01,closed,x,0.5\n", ["'x'", "no open-weights model"]),
        ("model,date,open,benchmark\na,2023-01-01,closed,x\n", ["no score column"]),
        ("", ["empty file"]),
    ],
)
def test_bad_input_is_one_line_exit_2(tmp_path: Path, content: str, fragments: list[str]) -> None:
    p = tmp_path / "bad.csv"
    p.write_text(content)
    _one_line_error(["gap", str(p)], str(p), *fragments)


def test_bad_arguments_are_one_line_exit_2(tmp_path: Path) -> None:
    _one_line_error(["gap", str(tmp_path / "nope.csv")], "no such file")
    _one_line_error(["gap", str(EPOCH), "--columns", "model"], "ROLE=COLUMN")
    _one_line_error(["gap", str(EPOCH), "--columns", "colour=x"], "unknown role")
    _one_line_error(["gap", str(EPOCH), "--columns", "model=Name"], "no column 'Name'")
    _one_line_error(["gap", str(EPOCH), "--benchmark", "HumanEval"], "no benchmark column 'HumanEval'")
    _one_line_error(["gap", str(EPOCH), "--bootstrap", "5"], "--bootstrap")
    with pytest.raises(GapError):
        analyse([E("a", "2023-01-01", False, 0.5)])
