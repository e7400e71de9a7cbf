"""Shared pieces of the command line: the app, consoles, error handling and option helpers."""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import typer
import yaml
from rich.console import Console

from aslgate.errors import UserError
from aslgate.metrics import TaskCounts

app = typer.Typer(
    no_args_is_help=True, add_completion=False, help="Evidence-based release gating for models."
)
console = Console(stderr=True, emoji=False)  # ":word:" in a message stays text


@app.callback()
def _options(
    weak_sandbox: bool = typer.Option(
        False,
        "--weak-sandbox",
        help="Run even where the strong sandbox is unavailable (no root, no sandbox user or no cgroups): "
        "recorded in every score and on the card (same as ASLGATE_WEAK_SANDBOX=1).",
    ),
) -> None:
    """Evidence-based release gating for models."""
    if weak_sandbox:
        import os

        os.environ["ASLGATE_WEAK_SANDBOX"] = "1"


out = Console(emoji=False)
F = TypeVar("F", bound=Callable[..., Any])
EXIT_INCOMPLETE = 3  # the run's evidence is incomplete: a sample errored or was not scored


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


def read_input_file(path: Path, what: str, max_bytes: int) -> bytes:
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


def emit_verdict(v: Any, as_json: bool, line: str) -> None:
    """Print a verdict (JSON or one line) and exit with its code."""
    if as_json:
        typer.echo(json.dumps(v.model_dump(mode="json"), indent=2))
    else:
        out.print(line, highlight=False, soft_wrap=True)
    raise typer.Exit(v.exit_code)


def model_args(pairs: list[str] | None) -> dict[str, Any]:
    """-M KEY=VALUE options as a dict; values are read as YAML scalars (true, 0, 1.5), as Inspect's CLI does."""
    margs: dict[str, Any] = {}
    for kv in pairs or []:
        if "=" not in kv:
            raise BadInput(f"-M {kv}: expected KEY=VALUE")
        k, v = kv.split("=", 1)
        try:
            value = yaml.safe_load(v)
        except yaml.YAMLError:
            value = v
        margs[k] = value if isinstance(value, bool | int | float) else v
    return margs


def split_values(values: list[str] | None) -> list[str]:
    """Accept repeated options and comma-separated lists alike."""
    return [x.strip() for v in values or [] for x in v.split(",") if x.strip()]


def incomplete_line(counts: list[TaskCounts], unreadable: int = 0) -> str:
    """The one line that says a run's evidence is incomplete, and how (exit code 3)."""
    samples = sum(c.samples for c in counts)
    errored = sum(c.errored for c in counts)
    unscored = sum(c.unscored for c in counts)
    tasks = sorted({c.task for c in counts if not c.complete})
    line = f"INCOMPLETE EVIDENCE (exit {EXIT_INCOMPLETE}): {errored} of {samples} samples errored, {unscored} not scored"
    if tasks:
        line += f" (in {', '.join(tasks)})"
    if unreadable:
        line += f"; {unreadable} log(s) unreadable"
    return line
