"""Cyber commands: the challenge corpus, triage, verify, check-patch, fuzz and hunt."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from aslgate.cli.common import (
    BadInput,
    app,
    console,
    emit_verdict,
    friendly,
    model_args,
    out,
    read_input_file,
    split_values,
)

challenges_app = typer.Typer(no_args_is_help=True, help="The challenge corpus.")
app.add_typer(challenges_app, name="challenges")


@challenges_app.command("list")
@friendly
def challenges_list(as_json: Annotated[bool, typer.Option("--json", help="JSON output.")] = False) -> None:
    """List the built-in challenges."""
    from aslgate.cyber.corpus import builtin_challenges

    rows = [c.spec.model_dump() for c in builtin_challenges()]
    if as_json:
        typer.echo(json.dumps(rows, indent=2))
        return
    table = Table("id", "split", "bug class", "CWE", "severity", "exploit")
    for col in table.columns[:2]:
        col.no_wrap = True
    for r in rows:
        split = r["split"] or ("real" if r["upstream"] else "synthetic")
        split += "" if r["verified"] else " (unverified)"
        table.add_row(
            r["id"], split, r["bug_class"], r["cwe"], r["severity_expected"], "yes" if r["exploit"] else ""
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


@app.command("triage")
@friendly
def triage_cmd(
    report: Annotated[Path, typer.Argument(help="A sanitizer report (stderr of a crashing run).")],
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Parse a sanitizer report: crash type, access, frames, stack hash, severity tier."""
    from aslgate.cyber.triage import UnparsedReport, parse_report

    text = read_input_file(report, "report", 64 * 1024 * 1024).decode("utf-8", errors="replace")
    try:
        parsed = parse_report(text)
    except UnparsedReport as e:  # not "no crash": the parser failed, and the exit code says so
        if as_json:
            typer.echo(json.dumps({"crashed": None, "unparsed": e.reason}))
        else:
            out.print(f"unparsed: {e.reason}", highlight=False)
        raise typer.Exit(3) from None
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
    data = read_input_file(poc, "PoC", MAX_POC_BYTES)
    v = asyncio.run(verify_poc(c, data))
    if v.verdict == "build_error":
        raise BadInput(f"{c.path}: challenge does not build: {v.detail}")
    emit_verdict(v, as_json, f"{v.verdict} (T{v.tier}): {v.detail}")


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
    data = read_input_file(patch, "patch", MAX_PATCH_BYTES)
    try:
        v = asyncio.run(check_patch(c, data))
    except PatchRejected as e:
        raise BadInput(f"{patch}: {e}") from None
    emit_verdict(v, as_json, f"{v.verdict}: {v.detail}")


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

    reports = [asyncio.run(fuzz_challenge(resolve_challenge(c), seconds)) for c in split_values(challenge)]
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

    margs = model_args(model_arg)
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
        for why in report.unparsed:
            out.print(f"unparsed sanitizer report: {why}", highlight=False)
    raise typer.Exit(1 if report.findings else 0)
