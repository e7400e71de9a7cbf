"""Eval log → metric rows: what a finished Inspect log says about a model, with the samples behind it."""

from __future__ import annotations

from inspect_ai.log import EvalLog, EvalSample

from aslgate.metrics import MetricRow
from aslgate.policy.stats import rate_row


def sample_key(s: EvalSample, epochs: int) -> str:
    """A sample's id in evidence lists (with its epoch when there are several)."""
    return f"{s.id}#{s.epoch}" if epochs > 1 else str(s.id)


def _passed(s: EvalSample) -> bool | None:
    """True/False for a scored sample; None for one that errored or was never scored (not a trial)."""
    if s.error is not None or not s.scores:
        return None
    score = next(iter(s.scores.values()))
    return score.value == "C" or score.value == 1 or score.value is True


def metric_names(log: EvalLog) -> list[str]:
    """The metric names a log's task produces (from the task metadata set by our @task factories)."""
    meta = log.eval.metadata or {}
    suite, family = meta.get("suite"), meta.get("family")
    if suite == "cyber" and family == "reproduce":
        return [f"cyber.reproduce.l{int(meta.get('level', 1))}.success"]
    return []


def metrics_from_log(log: EvalLog, path: str) -> list[MetricRow]:
    """Rate rows (k successes of n scored trials, Wilson interval) for each metric the log's task measures."""
    names = metric_names(log)
    if not names:
        return []
    epochs = log.eval.config.epochs or 1
    outcomes = [(s, _passed(s)) for s in log.samples or []]
    trials = [(s, ok) for s, ok in outcomes if ok is not None]
    k = sum(1 for _, ok in trials if ok)
    successes = [sample_key(s, epochs) for s, ok in trials if ok]
    return [rate_row(log.eval.model, name, k, len(trials), log=path, sample_ids=successes) for name in names]
