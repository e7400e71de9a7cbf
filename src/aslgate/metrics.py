"""The metric row: the unit of evidence every suite produces and the policy engine reads."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from pydantic import BaseModel, Field

MetricKind = Literal["rate", "difference"]


class MetricRow(BaseModel):
    """One measured metric for one model, with its interval and the samples behind it.

    Rates carry k successes of n trials; derived metrics (e.g. uplift = model - fuzzer) carry
    k = n = None and an interval computed by the producer.
    """

    model: str
    metric: str  # dotted name, e.g. "cyber.reproduce.l1.success"
    k: int | None = None
    n: int | None = None
    estimate: float
    low: float  # lower bound of the 95% interval
    high: float  # upper bound of the 95% interval
    log: str | None = None  # eval log path
    sample_ids: list[str] = Field(default_factory=list)
    # a number published by someone else (system card, paper, leaderboard), not measured by aslgate
    published: bool = False
    source_url: str | None = None  # where the published number is printed
    errored: int = 0  # samples behind this metric that errored (not among the n trials)
    unscored: int = 0  # samples behind this metric that finished without a score, or never ran
    task_version: int | None = None  # the version of the task whose log the row comes from

    @property
    def no_evidence(self) -> bool:
        """No scored trial at all (n == 0): the interval says nothing, so nothing can be crossed."""
        return self.n == 0


class TaskCounts(BaseModel):
    """How complete one eval log's evidence is: of the samples it should hold, how many were scored."""

    task: str
    model: str
    log: str | None = None
    samples: int  # the samples the eval should have run (dataset after --limit, times epochs)
    scored: int
    errored: int = 0
    unscored: int = 0  # finished without a score, or never ran (an interrupted eval)

    @property
    def complete(self) -> bool:
        return self.errored == 0 and self.unscored == 0


@dataclass(frozen=True)
class MetricSpec:
    """One known metric: its dotted name, a one-line description and its kind (bounds follow)."""

    name: str
    description: str
    kind: MetricKind

    @property
    def bounds(self) -> tuple[float, float]:
        """Closed range the estimate and any threshold value must lie in."""
        return (0.0, 1.0) if self.kind == "rate" else (-1.0, 1.0)
