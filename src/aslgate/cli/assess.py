"""Running suites and assessments: eval, assess, ingest and report."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from aslgate.cli.common import (
    EXIT_INCOMPLETE,
    BadInput,
    app,
    console,
    friendly,
    incomplete_line,
    model_args,
    out,
    split_values,
)

MaxRetries = Annotated[
    int | None,
    typer.Option("--max-retries", min=0, help="Retries of a failing model request (default: Inspect's)."),
]
Timeout = Annotated[
    int | None, typer.Option("--timeout", min=1, help="Seconds a model request may take, retries included.")
]
RayAddress = Annotated[
    str | None, typer.Option("--ray", help="Run the shards on Ray: 'auto', a cluster address, or 'local'.")
]
RayStorage = Annotated[
    str | None,
    typer.Option("--ray-storage", help="Shard logs: a directory every node sees, or an fsspec URL."),
]
RayGroupSize = Annotated[int | None, typer.Option("--ray-group-size", min=1, help="Samples per Ray shard.")]


@app.command("eval")
@friendly
def eval_cmd(
    task: Annotated[str, typer.Argument(help="Suite task, e.g. cyber-reproduce.")],
    model: Annotated[
        str | None, typer.Option("--model", "-m", help="Any Inspect model (default: aslgate/reference).")
    ] = None,
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
    max_retries: MaxRetries = None,
    timeout: Timeout = None,
    ray: RayAddress = None,
    ray_storage: RayStorage = None,
    ray_group_size: RayGroupSize = None,
) -> None:
    """Run one suite task through Inspect and print its results (exit 3 if any sample errored or went unscored)."""
    from aslgate.suites import DEFAULT_MODEL, run_task

    model = model or DEFAULT_MODEL
    margs = model_args(model_arg)
    result = run_task(
        task,
        model=model,
        log_dir=log_dir,
        limit=limit,
        epochs=epochs,
        model_args=margs,
        level=level,
        challenges=split_values(challenge) or None,
        split=split,
        scenarios=split_values(scenario) or None,
        families=split_values(family) or None,
        judge=judge,
        max_retries=max_retries,
        timeout=timeout,
        ray=ray,
        ray_storage=ray_storage,
        ray_group_size=ray_group_size,
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
    if not result.complete:
        console.print(
            incomplete_line([result.counts] if result.counts else []), highlight=False, soft_wrap=True
        )
        raise typer.Exit(EXIT_INCOMPLETE)


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
        list[str] | None,
        typer.Option(
            "--framework",
            help="rsp, preparedness, fsf (current versions), rsp-2.2, fsf-2.0 (pinned) or a YAML path.",
        ),
    ] = None,
    epochs: Annotated[int | None, typer.Option("--epochs", min=1)] = None,
    limit: Annotated[int | None, typer.Option("--limit", min=1, help="At most N samples per task.")] = None,
    level: Annotated[
        int | None, typer.Option("--level", help="Information level for reproduction (0-3).")
    ] = None,
    challenge: Annotated[
        list[str] | None, typer.Option("--challenge", help="Restrict to these challenges.")
    ] = None,
    model_arg: Annotated[list[str] | None, typer.Option("-M", help="Model argument KEY=VALUE.")] = None,
    split: Annotated[str, typer.Option("--split", help="cyber: synthetic, real or all challenges.")] = "all",
    baseline: Annotated[
        str | None,
        typer.Option("--baseline", help="Non-AI baseline for uplift (default: aslgate/fuzzer), or 'none'."),
    ] = None,
    fuzz_seconds: Annotated[
        float | None, typer.Option("--fuzz-seconds", min=0.5, help="The fuzzer baseline's budget per sample.")
    ] = None,
    judge: Annotated[
        str | None, typer.Option("--judge", help="Judge model for the behavior suite (default: checks only).")
    ] = None,
    out_dir: Annotated[Path | None, typer.Option("--out", help="Output directory (default: out).")] = None,
    db: Annotated[
        str | None,
        typer.Option("--db", help="SQLAlchemy URL or SQLite path (default: ASLGATE_DB or ./aslgate.db)."),
    ] = None,
    ray: RayAddress = None,
    ray_storage: RayStorage = None,
    ray_group_size: RayGroupSize = None,
    max_retries: MaxRetries = None,
    timeout: Timeout = None,
) -> None:
    """Run the suites, determine under each framework, and write determination.json and the system card.

    Exit 3 when the evidence is incomplete (a sample errored or was not scored): run it again to retry."""
    from aslgate.assess import AssessConfig, assess

    given = {  # what was given; everything else is AssessConfig's default
        "models": split_values(model),
        "suites": split_values(suite),
        "judge": judge,
        "frameworks": split_values(framework),
        "epochs": epochs,
        "limit": limit,
        "level": level,
        "challenges": split_values(challenge),
        "split": _split(split),
        "model_args": model_args(model_arg),
        "baseline": baseline,
        "fuzz_seconds": fuzz_seconds,
        "out": out_dir,
        "db": db,
        "ray": ray,
        "ray_storage": ray_storage,
        "ray_group_size": ray_group_size,
        "max_retries": max_retries,
        "timeout": timeout,
    }
    cfg = AssessConfig(**{k: v for k, v in given.items() if v not in (None, [], {})})
    if baseline is not None and baseline.lower() == "none":
        cfg = cfg.model_copy(update={"baseline": None})
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
    if not result.complete:
        line = incomplete_line(result.counts(), unreadable=len(bad))
        console.print(f"{line}; run the same command again to retry them", highlight=False, soft_wrap=True)
        raise typer.Exit(EXIT_INCOMPLETE)


@app.command("ingest")
@friendly
def ingest_cmd(
    logs: Annotated[list[Path] | None, typer.Argument(help="Inspect .eval/.json logs.")] = None,
    published: Annotated[
        Path | None,
        typer.Option(
            "--published",
            help="CSV of published results (model, developer, open_weights, "
            "release_date, benchmark, score, n, source_url).",
        ),
    ] = None,
    db: Annotated[str | None, typer.Option("--db")] = None,
) -> None:
    """Import eval logs produced elsewhere (e.g. by `inspect eval`), or published results, into the store."""
    from aslgate.store.db import Store

    if not logs and published is None:
        raise BadInput("give eval logs to ingest, or --published FILE.csv")
    store = Store(db)
    if published is not None:
        new, updated, models = store.ingest_published(published)
        console.print(
            f"[green]published[/green] {published}: {new} new rows, {updated} updated, {len(models)} models "
            "(marked published, with their source URL)",
            highlight=False,
            soft_wrap=True,
        )
    failed = 0
    for p in logs or []:
        r = store.ingest_log(p)
        failed += r.status == "error"
        style = {"ingested": "green", "rederived": "green", "duplicate": "yellow", "error": "red"}[r.status]
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
    framework: Annotated[
        list[str] | None,
        typer.Option("--framework", help="Determine afresh from the store's rows (measured and published)."),
    ] = None,
) -> None:
    """Regenerate the system card of a model from the results store alone (published rows included)."""
    from aslgate.report.card import report_from_store
    from aslgate.store.db import Store

    files = report_from_store(Store(db), model, out_dir, frameworks=split_values(framework) or None)
    for name, p in files.items():
        out.print(f"{name}: {p}", highlight=False, soft_wrap=True)
