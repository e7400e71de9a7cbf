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
    for b, why in report.unmeasurable.items():
        out.print(f"no lag for {b}: {why}", highlight=False, soft_wrap=True)
    if plot is not None:
        out.print(f"plot: {plot}", highlight=False, soft_wrap=True)


@app.command("cost")
@friendly
def cost_cmd(
    params: Annotated[str, typer.Option("--params", help="Total parameters: 8e12, 8T, 70B, 400B.")],
    active: Annotated[
        str | None, typer.Option("--active", help="Active parameters per token (MoE); default: all.")
    ] = None,
    precision: Annotated[str, typer.Option("--precision", help="bf16, fp8 or int4 weights.")] = "bf16",
    gpu: Annotated[str, typer.Option("--gpu", help="H100, H200, B200 or A100.")] = "H100",
    context: Annotated[int, typer.Option("--context", help="Tokens of context per sequence.")] = 8192,
    concurrency: Annotated[int, typer.Option("--concurrency", help="Sequences decoded together.")] = 16,
    layers: Annotated[
        int | None, typer.Option("--layers", help="Transformer layers (for the KV cache).")
    ] = None,
    kv_heads: Annotated[int | None, typer.Option("--kv-heads", help="KV heads per layer.")] = None,
    head_dim: Annotated[int | None, typer.Option("--head-dim", help="Dimension of each head.")] = None,
    usd_per_gpu_hour: Annotated[
        float | None, typer.Option("--usd-per-gpu-hour", help="Price (default: the GPU file's).")
    ] = None,
    utilization: Annotated[
        float, typer.Option("--utilization", help="Achieved share of peak bandwidth and compute.")
    ] = 0.5,
    max_context: Annotated[
        int | None, typer.Option("--max-context", help="The model's supported context (flags a larger one).")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """GPUs, $/day and $/million output tokens to serve a model, each step with its formula."""
    from aslgate.report.cost import format_value, serving_cost

    r = serving_cost(
        params, active, precision=precision, gpu=gpu, context=context, concurrency=concurrency, layers=layers,
        kv_heads=kv_heads, head_dim=head_dim, usd_per_gpu_hour=usd_per_gpu_hour, utilization=utilization,
        max_context=max_context,
    )  # fmt: skip
    if as_json:
        typer.echo(json.dumps(r.to_json(), indent=2))
        return
    table = Table(
        "step", "formula", "value", title=f"serving {params} ({r.precision}) on {r.gpu}", title_justify="left"
    )
    for s in r.steps:
        table.add_row(s.name, s.formula, format_value(s))
    out.print(table)
    out.print(
        f"{r.gpus_deployed} × {r.gpu}: ${r.usd_per_day:,.0f}/day, {r.tokens_per_second:,.0f} tokens/s "
        f"({r.bound} bound), ${r.usd_per_million_tokens:,.2f} per million output tokens "
        f"at ${r.usd_per_gpu_hour:g}/GPU-hour ({r.price_source})",
        highlight=False,
        soft_wrap=True,
    )
    for f in r.flags:
        out.print(f"[yellow]note:[/yellow] {f}", highlight=False, soft_wrap=True)
    for a in r.assumptions:
        out.print(f"assumes: {a}", highlight=False, soft_wrap=True)
