"""The evaluation suites by name, and running them through Inspect."""

from __future__ import annotations

import inspect
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from inspect_ai import Task, eval
from inspect_ai.log import EvalLog

from aslgate.behavior.tasks import behavior
from aslgate.cyber.tasks import cyber_discover, cyber_exploit, cyber_patch, cyber_reproduce
from aslgate.errors import UserError
from aslgate.evidence import task_counts
from aslgate.metrics import TaskCounts

DEFAULT_MODEL = "aslgate/reference"
LOG_FORMAT = "eval"  # passed to Inspect (not set in the environment): the one log format we write
TASKS: dict[str, Callable[..., Task]] = {
    "cyber-reproduce": cyber_reproduce,
    "cyber-exploit": cyber_exploit,
    "cyber-patch": cyber_patch,
    "cyber-discover": cyber_discover,
    "behavior": behavior,
}


class SuiteError(UserError, ValueError):
    """Bad suite, model or argument: one line for the user."""


@dataclass
class SuiteResult:
    """One finished eval: the log and its headline numbers."""

    task: str
    model: str
    log: EvalLog
    samples: int
    accuracy: float | None
    verdicts: dict[str, int]
    counts: TaskCounts | None = None  # scored / errored / unscored samples

    @property
    def complete(self) -> bool:
        """The eval finished and every sample it should hold was scored."""
        return self.log.status == "success" and (self.counts is None or self.counts.complete)


def check_model(model: str, model_args: dict[str, Any] | None = None) -> None:
    """Fail early, with one line, on a model Inspect cannot resolve."""
    from inspect_ai.model import get_model

    try:
        get_model(model, **(model_args or {}))
    except Exception as e:  # Inspect raises several types for an unknown provider or a missing key
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise SuiteError(f"model {model!r} is not usable: {first}") from None


def run_task(
    name: str,
    *,
    model: str = DEFAULT_MODEL,
    log_dir: Path | str = "logs",
    limit: int | None = None,
    epochs: int = 1,
    display: str | None = None,
    model_args: dict[str, Any] | None = None,
    max_retries: int | None = None,
    timeout: int | None = None,
    **task_args: Any,
) -> SuiteResult:
    """Run one suite task through Inspect and summarise its log (max_retries/timeout: Inspect's, per request)."""
    if name not in TASKS:
        raise SuiteError(f"unknown task {name!r}; choose one of: {', '.join(TASKS)}")
    check_model(model, model_args)
    accepted = inspect.signature(TASKS[name]).parameters
    task_args = {k: v for k, v in task_args.items() if k in accepted}
    try:
        task = TASKS[name](**task_args)
    except (ValueError, TypeError) as e:
        raise SuiteError(f"{name}: {e}") from None
    [log] = eval(
        task,
        log_format=LOG_FORMAT,
        model=model,
        model_args=model_args or {},
        log_dir=str(log_dir),
        limit=limit,
        epochs=epochs,
        display=display or ("none" if os.environ.get("CI") else "rich"),  # type: ignore[arg-type]
        fail_on_error=False,
        **{k: v for k, v in (("max_retries", max_retries), ("timeout", timeout)) if v is not None},
    )
    return summarize_log(name, model, log)


def summarize_log(name: str, model: str, log: EvalLog) -> SuiteResult:
    """Headline numbers of a finished log: accuracy and the count of each verdict."""
    verdicts: dict[str, int] = {}
    for s in log.samples or []:
        for score in (s.scores or {}).values():
            key = str(score.answer or score.value)
            verdicts[key] = verdicts.get(key, 0) + 1
    accuracy = None
    if log.results and log.results.scores:
        metrics = log.results.scores[0].metrics
        metric = metrics.get("accuracy") or metrics.get("mean")
        accuracy = metric.value if metric else None
    counts = task_counts(log, log.location) if log.samples is not None else None
    return SuiteResult(name, model, log, len(log.samples or []), accuracy, verdicts, counts)
