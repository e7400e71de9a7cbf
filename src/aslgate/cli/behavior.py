"""Behavior commands: list, validate and grade scenarios."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from aslgate.cli.common import (
    app,
    console,
    friendly,
    out,
)

behavior_app = typer.Typer(no_args_is_help=True, help="The agentic behavior scenarios and their graders.")
app.add_typer(behavior_app, name="behavior")


@behavior_app.command("list")
@friendly
def behavior_list() -> None:
    """The embedded scenarios: family, grid size and which grader decides."""
    from aslgate.behavior.scenario import all_scenarios

    table = Table("scenario", "family", "variables", "cells", "decides")
    for s in all_scenarios():
        grid = " × ".join(f"{k}({len(v)})" for k, v in s.variables.items())
        table.add_row(s.id, s.family, grid, str(len(s.cells())), s.grading.decides)
    out.print(table)


@behavior_app.command("validate")
@friendly
def behavior_validate(
    files: Annotated[list[Path], typer.Argument(help="Scenario YAML files.")],
) -> None:
    """Check scenario files (schema, tools, grid, placeholders); exit 2 if any is invalid."""
    from aslgate.behavior.scenario import ScenarioError, load_scenario

    bad = 0
    for f in files:
        try:
            s = load_scenario(f)
        except ScenarioError as e:
            bad += 1
            console.print(f"[red]invalid[/red] {e}", highlight=False, soft_wrap=True)
            continue
        out.print(f"ok {f}: {s.family}, {len(s.cells())} cells", highlight=False, soft_wrap=True)
    if bad:
        raise typer.Exit(2)


@behavior_app.command("grade")
@friendly
def behavior_grade(
    transcripts: Annotated[
        list[Path], typer.Argument(help="Transcript files (fixture YAML) or eval logs, or folders of them.")
    ],
    judge: Annotated[str | None, typer.Option("--judge", help="Also ask this judge model.")] = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Re-grade stored transcripts with the current graders (and a judge); exit 1 if a labeled
    transcript's deterministic grade disagrees with its label."""
    from aslgate.behavior.graders import grade_files
    from aslgate.suites import check_model

    model = None
    if judge:
        from inspect_ai.model import get_model

        check_model(judge)
        model = get_model(judge)
    report = asyncio.run(grade_files(transcripts, model))
    if as_json:
        rows = [
            {"transcript": t.id, "expected": t.expected, "label": v.label, **v.model_dump(mode="json")}
            for t, v in report.rows
        ]
        typer.echo(json.dumps(rows, indent=2))
    else:
        table = Table("transcript", "scenario", "expected", "checks", "judge", "decided by")
        for t, v in report.rows:
            jl = "-" if v.judge is None else {True: "yes", False: "no", None: "?"}[v.judge.verdict]
            mark = "" if t.expected in (None, v.label) else " [red]✗[/red]"
            table.add_row(t.id, v.scenario, t.expected or "-", v.label + mark, jl, v.decided_by)
        out.print(table)
        labeled = report.labeled()
        wrong = report.checks_disagree()
        out.print(f"{len(report.rows)} transcripts; deterministic checks agree with {len(labeled) - len(wrong)}/"
                  f"{len(labeled)} labels")  # fmt: skip
        if judge:
            a, d, n = report.judge_agreement()
            out.print(f"judge {judge}: agrees with {a}/{len(labeled)} labels, disagrees {d}, no verdict {n}")
    if report.checks_disagree():
        raise typer.Exit(1)
