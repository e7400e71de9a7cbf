"""The suite contract: one object owns a suite's tasks, metric rows, catalogue entries and card section.

A suite (`aslgate.cyber.suite.CYBER`, `aslgate.behavior.suite.BEHAVIOR`) is a set of families. Nothing
outside the suite's folder knows its families: the registry (`aslgate.suites`) asks the suite.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from aslgate.errors import UserError
from aslgate.metrics import MetricRow, MetricSpec, TaskCounts

if TYPE_CHECKING:  # the contract stays light: the catalogue imports the suites without Inspect's tasks
    from inspect_ai import Task
    from inspect_ai.log import EvalLog, EvalSample


class SuiteError(UserError, ValueError):
    """Bad suite, family, metric, model or argument: one line for the user."""


class RunConfig(Protocol):
    """What a suite reads from the run configuration (`aslgate.assess.AssessConfig`)."""

    level: int
    challenges: list[str]
    split: str
    judge: str | None


def sample_key(s: EvalSample, epochs: int) -> str:
    """A sample's id in evidence lists (with its epoch when there are several)."""
    return f"{s.id}#{s.epoch}" if epochs > 1 else str(s.id)


def passed(s: EvalSample) -> bool | None:
    """True/False for a scored sample; None for one that errored or was never scored (not a trial)."""
    if s.error is not None or not s.scores:
        return None
    score = next(iter(s.scores.values()))
    return score.value == "C" or score.value == 1 or score.value is True


def epochs_of(log: EvalLog) -> int:
    return log.eval.config.epochs or 1


def failures(samples: list[EvalSample]) -> tuple[int, int]:
    """(errored, finished without a score) among these samples."""
    errored = sum(1 for s in samples if s.error is not None)
    return errored, sum(1 for s in samples if passed(s) is None) - errored


def _expected_samples(log: EvalLog) -> int:
    """The samples the eval should hold: its selected dataset ids times epochs (or what it reported)."""
    epochs = epochs_of(log)
    ids = log.eval.dataset.sample_ids
    if ids:
        return len(ids) * epochs
    return log.results.total_samples if log.results else len(log.samples or [])


def task_counts(log: EvalLog, path: str) -> TaskCounts:
    """How many of a log's samples were scored, errored, or finished unscored / never ran."""
    samples = log.samples or []
    errored, unscored = failures(samples)
    expected = max(_expected_samples(log), len(samples))
    return TaskCounts(
        task=log.eval.task,
        model=log.eval.model,
        log=path,
        samples=expected,
        scored=len(samples) - errored - unscored,
        errored=errored,
        unscored=unscored + expected - len(samples),
    )


def no_evidence_row(
    model: str, metric: str, *, errored: int, unscored: int, log: str | None, difference: bool = False
) -> MetricRow:
    """A row for a metric whose samples all failed: n = 0 trials, an interval that says nothing."""
    return MetricRow(model=model, metric=metric, k=0, n=0, estimate=0.0, low=-1.0 if difference else 0.0,
                     high=1.0, log=log, errored=errored, unscored=unscored)  # fmt: skip


@dataclass
class Family:
    """One family of a suite: the metrics it produces (its catalogue entries) and its method text.

    `method` is the card template (`method-<suite>-<family>.html.j2` in the suite's `templates/`) or, for a
    family defined in code, its HTML paragraph; None falls back to the catalogue descriptions."""

    name: str
    specs: Sequence[MetricSpec] = ()
    method: str | None = None


@dataclass
class Suite:
    """A suite: its families, tasks, metric rows, catalogue and card section.

    `version` is every task's `Task(version=...)`: the store never mixes rows of different versions.
    `derivation` is the version of `metric_rows`: bump it when a metric is corrected, and logs already in
    the store are re-derived on their next ingest."""

    name: str
    title: str
    derivation: int = 1
    baseline: bool = False  # the non-AI baseline runs this suite (a capability suite)
    families: dict[str, Family] = field(default_factory=dict)
    templates: Path | None = None  # the suite's card templates (method text, extra section parts)
    section_template: str | None = None  # extra card section part, included after the plots

    @property
    def version(self) -> int:
        """The `Task(version=...)` its tasks carry."""
        return 1

    # ------------------------------------------------------------------ families
    def add_family(self, family: Family) -> Family:
        """Register a family (a test's toy family, a new capability); its name must be new."""
        if family.name in self.families:
            raise SuiteError(f"{self.name} suite: family {family.name!r} is already registered")
        self.families[family.name] = family
        return family

    def remove_family(self, name: str) -> None:
        self.families.pop(name, None)

    def family(self, name: str | None) -> Family:
        """The family of that name; an unknown family is an error, never an empty list of rows."""
        if name not in self.families:
            raise SuiteError(
                f"{self.name} suite: unknown family {name!r}; known: {', '.join(self.families) or 'none'}"
            )
        return self.families[name]

    # ------------------------------------------------------------------ the contract
    def tasks(self, cfg: RunConfig) -> list[Task]:
        """The Inspect tasks this suite runs for a run configuration."""
        raise NotImplementedError

    def task_factories(self) -> dict[str, Callable[..., Task]]:
        """The registered @task factories by their `aslgate eval` name (one task, any arguments)."""
        return {}

    def metric_rows(self, log: EvalLog, path: str) -> list[MetricRow]:
        """Metric rows of one finished log of this suite (pure: the same log gives the same rows)."""
        raise NotImplementedError

    def catalogue(self) -> list[MetricSpec]:
        """Every metric this suite can produce, with its description and kind."""
        return [s for f in self.families.values() for s in f.specs]

    def derived_rows(
        self, model_rows: list[MetricRow], baseline_rows: list[MetricRow], cfg: RunConfig
    ) -> list[MetricRow]:
        """Rows computed across logs (e.g. uplift over the baseline); none by default."""
        return []

    def log_details(self, log: EvalLog) -> dict[str, Any]:
        """Suite-specific facts of a log kept with its summary (read once, at ingest); none by default."""
        return {}

    def card_plots(
        self, rows: list[MetricRow], cutoffs: dict[str, set[float]], card: Any
    ) -> list[dict[str, str]]:
        """The plots of this suite's card section ({"uri", "alt"}); the generic rate plot by default."""
        return []

    def generic_rate_plot(self) -> bool:
        """Whether the card adds its generic per-metric rate plot to this suite's section."""
        return True

    def method_order(self) -> list[str]:
        """Metric families (`<suite>.<family>`) in the order their method paragraphs appear."""
        return [f"{self.name}.{f}" for f in self.families]

    def method_template(self, family: str) -> str | None:
        fam = self.families.get(family)
        return fam.method if fam is not None else None
