"""Running suites and assessments: eval, assess, ingest and report."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from aslgate.cli.common import (
    BadInput,
    app,
    console,
    friendly,
    model_args,
    out,
    split_values,
)


@app.command("eval")
@friendly
def eval_cmd(
    task: Annotated[str, typer.Argument(help="Suite task, e.g. cyber-reproduce.")],
    model: Annotated[str, typer.Option("--model", "-m", help="Any Inspect model, or aslgate/reference.")] = (
        "aslgate/reference"
    ),
    level: Annotated[int, typer.Option("--level", help="Information level (0-3) for reproduce.")] = 1,
    challenge: Annotated[
        list[str] | None, typer.Option("--challenge", help="Challenge id or folder.")
    ] = None,
    split: Annotated[str, typer.Option("--split", help="cyber: synthetic, real or all challenges.")] = "all",
    limit: Annotated[int | None, typer.Option("--limit", help="Run at most N samples.")] = None,
    epochs: Annotated[int, typer.Option("--epochs")] = 1,
    log_dir: Annotated[Path, typer.Option("--log-dir")] = Path("logs"),
    model_arg: Annotated[list[str] | None, typer.Option("-M", help="Model argument KEY=VALUE.")] = None,
    scenario: Annotated[
        list[str] | None, typer.Option("--scenario", help="behavior: scenario id or YAML file.")
    ] = None,
    family: Annotated[list[str] | None, typer.Option("--family", help="behavior: scenario family.")] = None,
    judge: Annotated[
        str | None, typer.Option("--judge", help="behavior: judge model (any Inspect model).")
    ] = None,
) -> None:
    """Run one suite task through Inspect and print its results."""
    from aslgate.suites import run_task

    margs = model_args(model_arg)
    result = run_task(
        task,
        model=model,
        log_dir=log_dir,
        limit=limit,
        epochs=epochs,
        model_args=margs,
        level=level,
        challenges=challenge,
        split=split,
        scenarios=split_values(scenario) or None,
        families=split_values(family) or None,
        judge=judge,
    )
    table = Table("task", "model", "samples", "accuracy", "verdicts")
    acc = "-" if result.accuracy is None else f"{result.accuracy:.3f}"
    verdicts = ", ".join(f"{k}: {v}" for k, v in sorted(result.verdicts.items()))
    table.add_row(task, model, str(result.samples), acc, verdicts)
    out.print(table)
    out.print(f"log: {result.log.location}", highlight=False, soft_wrap=True)
    if result.log.status != "success":
        err = result.log.error.message if result.log.error else result.log.status
        console.print(f"[red]eval did not finish:[/red] {err}", highlight=False)
        raise typer.Exit(1)


def _split(value: str) -> Any:
    if value not in ("synthetic", "real", "all"):
        raise BadInput(f"--split {value}: choose synthetic, real or all")
    return value


@app.command("assess")
@friendly
def assess_cmd(
    model: Annotated[
        list[str] | None,
        typer.Option("--model", "-m", help="Model(s); default: the offline reference agent."),
    ] = None,
    suite: Annotated[
        list[str] | None, typer.Option("--suite", help="Suites to run (default: cyber, behavior).")
    ] = None,
    framework: Annotated[
        list[str] | None, typer.Option("--framework", help="rsp, preparedness, fsf or a YAML path.")
    ] = None,
    epochs: Annotated[int, typer.Option("--epochs", min=1)] = 1,
    limit: Annotated[int | None, typer.Option("--limit", min=1, help="At most N samples per task.")] = None,
    level: Annotated[int, typer.Option("--level", help="Information level for reproduction (0-3).")] = 1,
    challenge: Annotated[
        list[str] | None, typer.Option("--challenge", help="Restrict to these challenges.")
    ] = None,
    model_arg: Annotated[list[str] | None, typer.Option("-M", help="Model argument KEY=VALUE.")] = None,
    split: Annotated[str, typer.Option("--split", help="cyber: synthetic, real or all challenges.")] = "all",
    baseline: Annotated[
        str, typer.Option("--baseline", help="Non-AI baseline for uplift, or 'none'.")
    ] = "aslgate/fuzzer",
    fuzz_seconds: Annotated[
        float, typer.Option("--fuzz-seconds", min=0.5, help="The fuzzer baseline's budget per sample.")
    ] = 2.0,
    judge: Annotated[
        str | None, typer.Option("--judge", help="Judge model for the behavior suite (default: checks only).")
    ] = None,
    out_dir: Annotated[Path, typer.Option("--out", help="Output directory.")] = Path("out"),
    db: Annotated[
        str | None,
        typer.Option("--db", help="SQLAlchemy URL or SQLite path (default: ASLGATE_DB or ./aslgate.db)."),
    ] = None,
) -> None:
    """Run the suites, determine under each framework, and write determination.json and the system card."""
    from aslgate.assess import DEFAULT_SUITES, AssessConfig, assess

    cfg = AssessConfig(
        models=split_values(model) or ["aslgate/reference"],
        suites=split_values(suite) or list(DEFAULT_SUITES),
        judge=judge,
        frameworks=split_values(framework) or ["rsp", "preparedness", "fsf"],
        epochs=epochs,
        limit=limit,
        level=level,
        challenges=split_values(challenge),
        split=_split(split),
        model_args=model_args(model_arg),
        baseline=None if baseline.lower() == "none" else baseline,
        fuzz_seconds=fuzz_seconds,
        out=out_dir,
        db=db,
    )
    result = assess(cfg)
    bad = [i for i in result.ingested if i.status == "error"]
    for i in bad:
        console.print(f"[red]log not ingested:[/red] {i.path}: {i.detail}", highlight=False)
    for o in result.outcomes:
        table = Table(
            "framework",
            "required level",
            "crossed / cannot rule out",
            "not evaluated",
            title=f"{o.model}",
            title_justify="left",
        )
        for f in o.determination.frameworks:
            table.add_row(
                f.name,
                f"{f.required_level} ({f.required_level_name})",
                ", ".join(f.triggered_by) or "-",
                str(sum(1 for t in f.thresholds if t.status == "not_evaluated")),
            )
        out.print(table)
        ap = o.determination.access_policy
        out.print(
            f"access: tiers {', '.join(ap.allowed_tiers) or 'none'}; offense classifier "
            f"{'on' if ap.offense_classifier else 'off'}; halt development {'yes' if ap.halt_development else 'no'}"
        )
        for name, p in o.files.items():
            out.print(f"  {name}: {p}", highlight=False, soft_wrap=True)
    if not result.complete or bad:
        console.print("[yellow]some samples did not finish; run the same command again to resume[/yellow]")
        raise typer.Exit(1)


@app.command("ingest")
@friendly
def ingest_cmd(
    logs: Annotated[list[Path], typer.Argument(help="Inspect .eval/.json logs.")],
    db: Annotated[str | None, typer.Option("--db")] = None,
) -> None:
    """Import eval logs produced elsewhere (e.g. by `inspect eval`) into the results store."""
    from aslgate.store.db import Store

    store = Store(db)
    failed = 0
    for p in logs:
        r = store.ingest_log(p)
        failed += r.status == "error"
        style = {"ingested": "green", "duplicate": "yellow", "error": "red"}[r.status]
        detail = r.detail or f"{r.metrics} metric rows"
        console.print(f"[{style}]{r.status}[/{style}] {p}: {detail}", highlight=False, soft_wrap=True)
    if failed:
        raise typer.Exit(1)


@app.command("report")
@friendly
def report_cmd(
    model: Annotated[str, typer.Option("--model", "-m")],
    out_dir: Annotated[Path, typer.Option("--out")] = Path("out"),
    db: Annotated[str | None, typer.Option("--db")] = None,
) -> None:
    """Regenerate the system card of a model from the results store alone."""
    from aslgate.report.card import card_from_store, render_system_card
    from aslgate.store.db import Store

    files = render_system_card(card_from_store(Store(db), model), out_dir)
    for name, p in files.items():
        out.print(f"{name}: {p}", highlight=False, soft_wrap=True)
