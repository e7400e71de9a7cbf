"""`aslgate sandbox check`: run the containment probes on this machine (before pointing a real model at it)."""

from __future__ import annotations

import asyncio
import json

import typer
from rich.table import Table

from aslgate.cli.common import app, friendly, out, split_values

sandbox_app = typer.Typer(
    no_args_is_help=True, help="The bwrap sandbox that runs every model-supplied command."
)
app.add_typer(sandbox_app, name="sandbox")


@sandbox_app.command("check")
@friendly
def check(
    probe: list[str] = typer.Option(
        None, "--probe", help="Run only these probes (repeat or comma-separate)."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the results as JSON."),
) -> None:
    """Try every known escape and exhaustion inside the sandbox; exit 1 if any escapes."""
    from aslgate.sandbox.probes import PROBES, check_summary, run_probes

    names = split_values(probe)
    unknown = sorted(set(names) - {p[0] for p in PROBES})
    if unknown:
        from aslgate.cli.common import BadInput

        raise BadInput(
            f"--probe {', '.join(unknown)}: no such probe (known: {', '.join(p[0] for p in PROBES)})"
        )
    results = asyncio.run(run_probes(names or None))
    escaped = [r for r in results if not r.contained]
    if as_json:
        typer.echo(
            json.dumps({"host": check_summary(), "results": [r.model_dump() for r in results]}, indent=2)
        )
    else:
        table = Table(title=check_summary(), title_justify="left")
        for col in ("probe", "what was tried", "result", "evidence"):
            table.add_column(col, overflow="fold")
        for r in results:
            verdict = "[green]contained[/green]" if r.contained else "[bold red]ESCAPED[/bold red]"
            table.add_row(r.name, r.tried, verdict, r.detail)
        out.print(table)
        out.print(
            f"{len(results) - len(escaped)}/{len(results)} contained"
            + (f"; ESCAPED: {', '.join(r.name for r in escaped)}" if escaped else "")
        )
    raise typer.Exit(1 if escaped else 0)
