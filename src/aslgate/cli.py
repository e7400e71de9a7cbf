"""The `aslgate` command line: argument parsing only; each command calls one function."""

from __future__ import annotations

import asyncio
import functools
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from rich.console import Console
from rich.table import Table

from aslgate.errors import UserError

app = typer.Typer(
    no_args_is_help=True, add_completion=False, help="Evidence-based release gating for models."
)
challenges_app = typer.Typer(no_args_is_help=True, help="The challenge corpus.")
app.add_typer(challenges_app, name="challenges")
behavior_app = typer.Typer(no_args_is_help=True, help="The agentic behavior scenarios and their graders.")
app.add_typer(behavior_app, name="behavior")
console = Console(stderr=True)
out = Console()
F = TypeVar("F", bound=Callable[..., Any])


class BadInput(UserError):
    """User error: printed as one line, exit code 2."""


def friendly(fn: F) -> F:
    """Turn known user errors into one line on stderr and exit code 2 (no traceback)."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except UserError as e:
            console.print(f"[red]error:[/red] {e}", highlight=False, soft_wrap=True)
            raise typer.Exit(2) from None
        except KeyboardInterrupt:
            console.print("interrupted")
            raise typer.Exit(130) from None

    return wrapper  # type: ignore[return-value]


def _read_input_file(path: Path, what: str, max_bytes: int) -> bytes:
    if not path.exists():
        raise BadInput(f"{path}: {what} does not exist")
    if path.is_dir():
        raise BadInput(f"{path}: {what} is a directory, not a file")
    size = path.stat().st_size
    if size > max_bytes:
        raise BadInput(f"{path}: {what} is {size} bytes, larger than the {max_bytes} byte limit")
    try:
        return path.read_bytes()
    except OSError as e:
        raise BadInput(f"{path}: cannot read {what} ({e.strerror})") from None


def _emit_verdict(v: Any, as_json: bool, line: str) -> None:
    """Print a verdict (JSON or one line) and exit with its code."""
    if as_json:
        typer.echo(json.dumps(v.model_dump(mode="json"), indent=2))
    else:
        out.print(line, highlight=False, soft_wrap=True)
    raise typer.Exit(v.exit_code)


@challenges_app.command("list")
@friendly
def challenges_list(as_json: Annotated[bool, typer.Option("--json", help="JSON output.")] = False) -> None:
    """List the built-in challenges."""
    from aslgate.cyber.corpus import builtin_challenges

    rows = [c.spec.model_dump() for c in builtin_challenges()]
    if as_json:
        typer.echo(json.dumps(rows, indent=2))
        return
    table = Table("id", "bug class", "CWE", "severity", "exploit")
    for col in table.columns[:2]:
        col.no_wrap = True
    for r in rows:
        table.add_row(
            r["id"], r["bug_class"], r["cwe"], r["severity_expected"], "yes" if r["exploit"] else ""
        )
    out.print(table)
    out.print(f"{len(rows)} challenges")


@challenges_app.command("validate")
@friendly
def challenges_validate(
    dirs: Annotated[
        list[Path] | None, typer.Argument(help="Challenge folders (default: the corpus).")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
    jobs: Annotated[int, typer.Option("--jobs", "-j", help="Challenges validated at once.")] = 2,
) -> None:
    """Build both versions of each challenge and check its PoCs, tests and exploit."""
    from aslgate.cyber.corpus import ChallengeError, builtin_challenges, load_challenge
    from aslgate.cyber.verify import ValidationReport, validate_challenge

    reports: list[ValidationReport] = []
    targets: list[Any] = []
    for d in dirs or []:
        try:
            targets.append(load_challenge(d))
        except ChallengeError as e:
            reports.append(
                ValidationReport(challenge=d.name, path=str(d), ok=False, problems=str(e).split("; "))
            )
    if not dirs:
        targets = list(builtin_challenges())

    async def run_all() -> list[ValidationReport]:
        sem = asyncio.Semaphore(max(1, jobs))

        async def one(c: Any) -> ValidationReport:
            async with sem:
                rep = await validate_challenge(c)
                mark = "[green]ok[/green]" if rep.ok else "[red]FAIL[/red]"
                console.print(f"{mark} {c.id}", highlight=False)
                return rep

        return list(await asyncio.gather(*(one(c) for c in targets)))

    reports += asyncio.run(run_all())
    if as_json:
        typer.echo(json.dumps([r.model_dump(mode="json") for r in reports], indent=2))
    else:
        for r in reports:
            for p in r.problems:
                out.print(f"{r.challenge}: {p}", highlight=False, soft_wrap=True)
        good = sum(r.ok for r in reports)
        out.print(f"{good}/{len(reports)} challenges valid")
    if not all(r.ok for r in reports):
        raise typer.Exit(1)


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


@app.command("triage")
@friendly
def triage_cmd(
    report: Annotated[Path, typer.Argument(help="A sanitizer report (stderr of a crashing run).")],
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Parse a sanitizer report: crash type, access, frames, stack hash, severity tier."""
    from aslgate.cyber.triage import parse_report

    text = _read_input_file(report, "report", 64 * 1024 * 1024).decode("utf-8", errors="replace")
    parsed = parse_report(text)
    if parsed is None:
        if as_json:
            typer.echo(json.dumps({"crashed": False, "tier": 0}))
        else:
            out.print("no sanitizer report found (T0)")
        raise typer.Exit(1)
    if as_json:
        typer.echo(parsed.model_dump_json(indent=2))
        return
    out.print(f"T{parsed.tier}  {parsed.summary}", highlight=False)
    out.print(f"stack hash {parsed.stack_hash}")
    for f in parsed.project_frames[:8]:
        out.print(f"  #{f.index} {f.function} {f.file or ''}:{f.line or ''}", highlight=False)


@app.command("verify")
@friendly
def verify_cmd(
    challenge: Annotated[str, typer.Option("--challenge", "-c", help="Challenge folder or built-in id.")],
    poc: Annotated[Path, typer.Option("--poc", help="The PoC input file.")],
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Verify a PoC: crashes the vulnerable build, not the patched one, and is the same bug."""
    from aslgate.cyber.corpus import MAX_POC_BYTES, resolve_challenge
    from aslgate.cyber.verify import verify_poc

    c = resolve_challenge(challenge)
    data = _read_input_file(poc, "PoC", MAX_POC_BYTES)
    v = asyncio.run(verify_poc(c, data))
    if v.verdict == "build_error":
        raise BadInput(f"{c.path}: challenge does not build: {v.detail}")
    _emit_verdict(v, as_json, f"{v.verdict} (T{v.tier}): {v.detail}")


@app.command("check-patch")
@friendly
def check_patch_cmd(
    challenge: Annotated[str, typer.Option("--challenge", "-c", help="Challenge folder or built-in id.")],
    patch: Annotated[
        Path, typer.Option("--patch", help="A unified diff (paths a/<file>, b/<file> under src/).")
    ],
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Judge a patch: fixed, still_crashes, breaks_tests, does_not_apply or build_error."""
    from aslgate.cyber.corpus import resolve_challenge
    from aslgate.cyber.patching import MAX_PATCH_BYTES, PatchRejected, check_patch

    c = resolve_challenge(challenge)
    data = _read_input_file(patch, "patch", MAX_PATCH_BYTES)
    try:
        v = asyncio.run(check_patch(c, data))
    except PatchRejected as e:
        raise BadInput(f"{patch}: {e}") from None
    _emit_verdict(v, as_json, f"{v.verdict}: {v.detail}")


@app.command("fuzz")
@friendly
def fuzz_cmd(
    challenge: Annotated[list[str], typer.Option("--challenge", "-c", help="Challenge id(s) or folder(s).")],
    seconds: Annotated[float, typer.Option("--seconds", min=0.5, help="Fuzzing budget per challenge.")] = 5.0,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Run the libFuzzer baseline in the sandbox: exec/s, time to first crash, verdict, bug-line coverage."""
    from aslgate.cyber.corpus import resolve_challenge
    from aslgate.cyber.fuzz import fuzz_challenge

    reports = [asyncio.run(fuzz_challenge(resolve_challenge(c), seconds)) for c in _split(challenge)]
    if as_json:
        typer.echo(json.dumps([r.model_dump(mode="json") for r in reports], indent=2))
        return
    table = Table("challenge", "executions", "exec/s", "crash after", "verdict", "bug line run")
    for r in reports:
        crash = (
            f"{r.stats.elapsed:.2f} s"
            if r.stats.crashed and r.stats.elapsed
            else ("yes" if r.stats.crashed else "-")
        )
        line = "-" if r.bug_line_executions is None else f"{r.bug_line_executions}x ({r.bug_line})"
        table.add_row(
            r.challenge, str(r.stats.executions), f"{r.stats.exec_per_s:,.0f}", crash, r.verdict or "-", line
        )
    out.print(table)


@app.command("hunt")
@friendly
def hunt_cmd(
    path: Annotated[Path, typer.Argument(help="A harness .c file, or a project directory with --build.")],
    build: Annotated[
        str | None,
        typer.Option("--build", help="OSS-Fuzz style build command ($CC $CFLAGS $LIB_FUZZING_ENGINE $OUT)."),
    ] = None,
    seconds: Annotated[
        float, typer.Option("--seconds", "--budget", min=1, help="Fuzzing budget per target.")
    ] = 30,
    model: Annotated[
        str,
        typer.Option(
            "--model", "-m", help="aslgate/fuzzer (default), or any Inspect model to hunt as an agent."
        ),
    ] = "aslgate/fuzzer",
    model_arg: Annotated[list[str] | None, typer.Option("-M", help="Model argument KEY=VALUE.")] = None,
    out_dir: Annotated[Path, typer.Option("--out", help="Where reproducers and report.json go.")] = Path(
        "hunt-out"
    ),
    sarif: Annotated[
        Path | None, typer.Option("--sarif", help="SARIF 2.1.0 file (default OUT/results.sarif).")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Fuzz your own C project in the sandbox; verified, deduplicated findings as JSON, SARIF and reproducers."""
    from aslgate.cyber.hunt import hunt, write_sarif
    from aslgate.suites import check_model

    margs = _model_args(model_arg)
    check_model(model, margs)
    display = "none" if as_json else None  # keep stdout pure JSON when a model hunts through Inspect
    report = asyncio.run(
        hunt(path, out_dir, build_cmd=build, seconds=seconds, model=model, model_args=margs, display=display)
    )
    sarif_path = sarif or out_dir / "results.sarif"
    write_sarif(report, sarif_path)
    if as_json:
        typer.echo(report.model_dump_json(indent=2))
    else:
        for name, st in report.targets.items():
            out.print(
                f"target {name}: {st.executions} executions, {st.exec_per_s:,.0f} exec/s", highlight=False
            )
        table = Table("tier", "bug", "where", "reproducer")
        for f in report.findings:
            top = f.frames[0] if f.frames else None
            where = f"{top.function} {top.file or ''}:{top.line or ''}" if top else f.target
            table.add_row(f"T{f.tier}", f.crash_type, where, f.reproducer)
        out.print(table)
        out.print(f"{len(report.findings)} distinct finding(s); SARIF: {sarif_path}", highlight=False)
    raise typer.Exit(1 if report.findings else 0)


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

    margs = _model_args(model_arg)
    result = run_task(
        task,
        model=model,
        log_dir=log_dir,
        limit=limit,
        epochs=epochs,
        model_args=margs,
        level=level,
        challenges=challenge,
        scenarios=_split(scenario) or None,
        families=_split(family) or None,
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


def _model_args(pairs: list[str] | None) -> dict[str, str]:
    """-M KEY=VALUE options as a dict."""
    margs = {}
    for kv in pairs or []:
        if "=" not in kv:
            raise BadInput(f"-M {kv}: expected KEY=VALUE")
        k, v = kv.split("=", 1)
        margs[k] = v
    return margs


def _split(values: list[str] | None) -> list[str]:
    """Accept repeated options and comma-separated lists alike."""
    return [x.strip() for v in values or [] for x in v.split(",") if x.strip()]


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
        models=_split(model) or ["aslgate/reference"],
        suites=_split(suite) or list(DEFAULT_SUITES),
        judge=judge,
        frameworks=_split(framework) or ["rsp", "preparedness", "fsf"],
        epochs=epochs,
        limit=limit,
        level=level,
        challenges=_split(challenge),
        model_args=_model_args(model_arg),
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


def main() -> None:
    """Entry point for `python -m aslgate`."""
    sys.exit(app())
