"""Policy reports: the open-vs-closed lag (`gap`) and the cost of serving a model (`cost`)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from aslgate.cli.common import app, friendly, out, split_values


@app.command("gap")
@friendly
def gap_cmd(
    file: Annotated[
        Path, typer.Argument(help="CSV: model, date, open/closed and score columns (long or wide).")
    ],
    benchmark: Annotated[
        list[str] | None,
        typer.Option("--benchmark", "-b", help="Only these benchmarks (wide: column names)."),
    ] = None,
    columns: Annotated[
        str | None,
        typer.Option("--columns", help="Column names: model=...,date=...,open=...,score=...,benchmark=..."),
    ] = None,
    plot: Annotated[
        Path | None, typer.Option("--plot", help="Write a step plot of both frontiers (PNG).")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the whole analysis as JSON.")] = False,
    seed: Annotated[int, typer.Option("--seed", help="Bootstrap seed.")] = 0,
    bootstrap: Annotated[int, typer.Option("--bootstrap", help="Bootstrap resamples.")] = 2000,
) -> None:
    """How many months after a closed model sets a new best score an open-weights model matches it."""
    from aslgate.report.gap import SUMMARY_HEADER, gap_file, gap_plot_png, summary_rows

    report = gap_file(
        file, columns=columns, benchmarks=split_values(benchmark) or None, reps=bootstrap, seed=seed
    )
    if plot is not None:
        plot.parent.mkdir(parents=True, exist_ok=True)
        plot.write_bytes(gap_plot_png(report))
    if as_json:
        typer.echo(json.dumps(report.to_json(), indent=2))
        return
    table = Table(*SUMMARY_HEADER, title=f"open-vs-closed lag in months: {file}", title_justify="left")
    for row in summary_rows(report):
        table.add_row(*row)
    out.print(table)
    o = report.overall
    out.print(
        f"median lag over {o.n} matched frontier steps: {o.median if o.median is not None else float('nan'):.1f} "
        f"months (bootstrap 95% CI, seed {report.seed}); {o.censored} steps not yet matched "
        "(right-censored at each benchmark's last date, excluded from the median; with them entered at that "
        f"date the median is at least {o.median_with_censored or 0:.1f}); "
        f"{sum(s.open_led for g in report.benchmarks for s in g.steps)} steps an open model had reached first "
        "(negative lags)",
        highlight=False,
        soft_wrap=True,
    )
    if report.skipped:
        out.print(
            "left out: " + ", ".join(f"{v} rows with a {k}" for k, v in report.skipped.items()),
            highlight=False,
        )
    if plot is not None:
        out.print(f"plot: {plot}", highlight=False, soft_wrap=True)
