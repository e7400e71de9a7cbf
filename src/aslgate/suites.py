"""The registry of suites (each one object: tasks, metric rows, catalogue, card section), and running
one suite task through Inspect."""

from __future__ import annotations

import inspect
import os
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from aslgate.behavior.suite import BEHAVIOR
from aslgate.cyber.suite import CYBER
from aslgate.metrics import MetricRow, MetricSpec, TaskCounts
from aslgate.suite import Suite, SuiteError, task_counts

if TYPE_CHECKING:
    from inspect_ai import Task
    from inspect_ai.log import EvalLog

__all__ = ["SUITES", "TASKS", "Suite", "SuiteError", "get_suite", "metric_rows", "register_suite"]

DEFAULT_MODEL = "aslgate/reference"
LOG_FORMAT = "eval"  # passed to Inspect (not set in the environment): the one log format we write
_REGISTRY: dict[str, Suite] = {s.name: s for s in (CYBER, BEHAVIOR)}


def register_suite(suite: Suite) -> Suite:
    """Add a suite to the registry (a new suite, or a test's toy suite); its name must be new."""
    if suite.name in _REGISTRY:
        raise SuiteError(f"suite {suite.name!r} is already registered")
    _REGISTRY[suite.name] = suite
    return suite


def unregister_suite(name: str) -> None:
    _REGISTRY.pop(name, None)


def get_suite(name: str | None) -> Suite:
    """The suite of that name; an unknown suite is an error."""
    if name not in _REGISTRY:
        raise SuiteError(f"unknown suite {name!r}; choose from: {', '.join(_REGISTRY)}")
    return _REGISTRY[name]


def suite_of(log: EvalLog) -> Suite:
    """The suite a log's task belongs to (its task metadata `suite`, set by our @task factories)."""
    return get_suite((log.eval.metadata or {}).get("suite"))


def metric_rows(log: EvalLog, path: str) -> list[MetricRow]:
    """The metric rows of one finished log, from its suite; each carries the log's task version."""
    version = log.eval.task_version
    return [r.model_copy(update={"task_version": version}) for r in suite_of(log).metric_rows(log, path)]


def catalogue() -> dict[str, MetricSpec]:
    """Every metric any registered suite can produce (a name two suites claim is an error)."""
    out: dict[str, MetricSpec] = {}
    for suite in _REGISTRY.values():
        for spec in suite.catalogue():
            if spec.name in out:
                raise SuiteError(f"metric {spec.name!r} is claimed twice (suite {suite.name})")
            out[spec.name] = spec
    return out


class _Live(Mapping[str, Any]):
    """A read-only view of the registry, recomputed on each use (a suite registered later shows)."""

    def __init__(self, build: Callable[[], Mapping[str, Any]]) -> None:
        self._build = build

    def __getitem__(self, key: str) -> Any:
        return self._build()[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._build())

    def __len__(self) -> int:
        return len(self._build())


def _task_factories() -> dict[str, Callable[..., Task]]:
    return {name: f for s in _REGISTRY.values() for name, f in s.task_factories().items()}


SUITES: Mapping[str, Suite] = _Live(lambda: _REGISTRY)
TASKS: Mapping[str, Callable[..., Task]] = _Live(_task_factories)  # `aslgate eval NAME`: one task


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
    ray: str | None = None,
    ray_storage: str | None = None,
    ray_group_size: int | None = None,
    **task_args: Any,
) -> SuiteResult:
    """Run one suite task through Inspect and summarise its log (max_retries/timeout: Inspect's, per request;
    `ray`: its samples as shards on a Ray cluster, merged into one log)."""
    from inspect_ai import eval

    if name not in TASKS:
        raise SuiteError(f"unknown task {name!r}; choose one of: {', '.join(TASKS)}")
    check_model(model, model_args)
    accepted = inspect.signature(TASKS[name]).parameters
    task_args = {k: v for k, v in task_args.items() if k in accepted}
    try:
        task = TASKS[name](**task_args)
    except (ValueError, TypeError) as e:
        raise SuiteError(f"{name}: {e}") from None
    if ray:
        from aslgate.assess import AssessConfig
        from aslgate.scale.ray_runner import run_task_on_ray

        cfg = AssessConfig(models=[model], baseline=None, epochs=epochs, limit=limit, model_args=model_args or {},
                           max_retries=max_retries, timeout=timeout, ray=ray)  # fmt: skip
        log = run_task_on_ray(name, task, task_args, cfg, str(log_dir), storage=ray_storage,
                              group_size=ray_group_size)  # fmt: skip
        return summarize_log(name, model, log)
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
