"""Eval log → metric rows and log summary: what a finished Inspect log says about a model.

The rows come from the log's suite (`aslgate.suites`); this module keeps the names other code imports.
"""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path
from typing import Any

from inspect_ai.log import EvalLog
from pydantic import BaseModel, Field

from aslgate.cyber.suite import uplift_rows  # noqa: F401  (assess and tests import it from here)
from aslgate.metrics import MetricRow
from aslgate.suite import no_evidence_row, sample_key, task_counts  # noqa: F401  (re-exported)
from aslgate.suite import passed as _passed  # noqa: F401  (kept for callers of the old name)
from aslgate.suites import metric_rows, suite_of


def metrics_from_log(log: EvalLog, path: str) -> list[MetricRow]:
    """Rate rows (and differences) for each metric the log's task measures; an unknown suite or family is
    an error (`aslgate.suite.SuiteError`)."""
    return metric_rows(log, path)


class LogSummary(BaseModel):
    """What one eval log says, in a line of the card: task, status, sample count, accuracy, verdicts."""

    task: str
    path: str
    model: str
    status: str
    samples: int
    accuracy: float | None
    verdicts: dict[str, int] = Field(default_factory=dict)  # verdict name -> count
    level: int | None = None  # the task's level (e.g. reproduce l1), from the task metadata
    task_version: int | None = None
    sandbox: str | None = None  # "strong" or "weak" (docs/sandbox.md), from the task metadata
    details: dict[str, Any] = Field(default_factory=dict)  # suite-specific facts (e.g. fuzzer statistics)


def log_summary(log: EvalLog, path: str) -> LogSummary:
    """Summarise a log: accuracy from the first scorer's metrics, verdicts from each sample's first score,
    and the suite's own details (computed here so that the log is read once)."""
    accuracy = None
    if log.results and log.results.scores:
        metric = log.results.scores[0].metrics.get("accuracy")
        accuracy = float(metric.value) if metric is not None else None
    verdicts: Counter[str] = Counter()
    for s in log.samples or []:
        if not s.scores:
            verdicts["error" if s.error is not None else "unscored"] += 1
            continue
        score = next(iter(s.scores.values()))
        verdicts[str(score.answer if score.answer is not None else score.value)] += 1
    level = (log.eval.metadata or {}).get("level")
    sandbox = (log.eval.metadata or {}).get("sandbox")
    try:
        details = suite_of(log).log_details(log)
    except ValueError:  # not a suite log (a hand-made or foreign log): no details
        details = {}
    return LogSummary(
        task=log.eval.task,
        path=path,
        model=log.eval.model,
        status=str(log.status),
        samples=len(log.samples or []),
        accuracy=accuracy,
        verdicts=dict(verdicts.most_common()),
        level=level if isinstance(level, int) and not isinstance(level, bool) else None,
        task_version=log.eval.task_version,
        sandbox=sandbox if sandbox in ("strong", "weak") else None,
        details=details,
    )


_INSPECT_NAME = re.compile(r"^\d{4}-\d\d-\d\dT[\d-]+_(?P<task>.+)_[A-Za-z0-9]{16,}$")


def unread_log(path: str, model: str, status: str) -> LogSummary:
    """A log the store lists but we cannot read: keep it visible, with the task from its file name."""
    m = _INSPECT_NAME.match(Path(path).stem)
    task = m["task"] if m else Path(path).stem
    return LogSummary(task=task, path=path, model=model, status=status, samples=0, accuracy=None)
