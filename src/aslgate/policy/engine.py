"""Policy engine: metric rows + frameworks -> determination (pure functions, no I/O)."""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Sequence
from typing import Literal

from pydantic import BaseModel, Field

from aslgate.metrics import MetricRow, TaskCounts
from aslgate.policy.framework import (
    TIER_ORDER,
    AccessPolicy,
    Framework,
    Rule,
    Safeguard,
    Source,
    Threshold,
    ThresholdKind,
)

Status = Literal["crossed", "cannot_rule_out", "alert", "below", "not_evaluated"]
STATUSES: tuple[Status, ...] = ("crossed", "cannot_rule_out", "alert", "below", "not_evaluated")
DEFAULT_MIN_N = 10
_EPS = 1e-12  # ties at the cut-off count as reaching it (>=, <=) despite float noise
_SEVERITY: dict[Status, int] = {
    "not_evaluated": 0,
    "below": 1,
    "alert": 2,
    "cannot_rule_out": 3,
    "crossed": 4,
}
_RAISES_LEVEL: frozenset[Status] = frozenset({"crossed", "cannot_rule_out"})

Index = dict[str, list[MetricRow]]


class Evidence(BaseModel):
    """Where the numbers come from: the eval log and the samples behind the metric row."""

    log: str | None = None
    sample_ids: list[str] = Field(default_factory=list)
    published: bool = False  # the row is a published number (system card, paper, leaderboard), not measured
    source_url: str | None = None  # where a published number is printed


class ThresholdResult(BaseModel):
    """One threshold's verdict for one model, with every number it rests on."""

    id: str
    name: str
    domain: str
    kind: ThresholdKind = "capability"
    level: str | None
    status: Status
    metric: str | None
    statistic: Literal["point", "upper95", "lower95"] | None = None
    statistic_value: float | None = None  # the rule's statistic (point estimate, upper or lower bound)
    estimate: float | None = None
    low: float | None = None
    high: float | None = None
    k: int | None = None
    n: int | None = None
    rule: Rule
    alert_rule: Rule | None = None
    alert_value: float | None = None  # the alert rule's statistic, when its metric was measured
    insufficient_samples: bool = False
    notes: list[str] = Field(default_factory=list)
    evidence: Evidence | None = None
    source: Source
    rationale: str | None = None


class Gap(BaseModel):
    """A threshold that could not be evaluated, and why."""

    framework: str
    threshold: str
    domain: str
    level: str | None
    reason: str


class FrameworkDetermination(BaseModel):
    """Per framework: the level the evidence requires, why, and what that level demands."""

    framework: str
    name: str
    version: str
    published: str | None = None  # the framework version's publication date (YYYY-MM-DD)
    url: str
    model: str
    required_level: str
    required_level_name: str
    required_level_index: int
    triggered_by: list[str]  # ids of thresholds crossed or not ruled out that raise the level
    # ids of thresholds crossed or not ruled out that add safeguards (or access rules) but no level:
    # findings, ongoing assessments, thresholds that require some safeguards only
    findings: list[str] = Field(default_factory=list)
    counts: dict[str, int]
    thresholds: list[ThresholdResult]
    gaps: list[Gap]
    safeguards: list[Safeguard]
    access_policy: AccessPolicy


class Determination(BaseModel):
    """The whole decision for one model (`determination.json`)."""

    model: str
    summary: str
    frameworks: list[FrameworkDetermination]
    access_policy: AccessPolicy  # the most restrictive across frameworks
    gaps: list[Gap]
    complete: bool = True  # False when any sample of any task errored or was not scored
    tasks: list[TaskCounts] = Field(default_factory=list)  # scored / errored / unscored per task


def index_rows(metrics: Iterable[MetricRow], model: str) -> Index:
    """Group one model's rows by metric name in a single pass."""
    index: defaultdict[str, list[MetricRow]] = defaultdict(list)
    for row in metrics:
        if row.model == model:
            index[row.metric].append(row)
    return dict(index)


def _holds(x: float, op: str, value: float) -> bool:
    if op == ">=":
        return x >= value - _EPS
    if op == ">":
        return x > value
    if op == "<=":
        return x <= value + _EPS
    return x < value


def _stat(row: MetricRow, statistic: str) -> float:
    return row.estimate if statistic == "point" else row.high if statistic == "upper95" else row.low


def _finite(row: MetricRow) -> bool:
    return all(math.isfinite(x) for x in (row.estimate, row.low, row.high))


def _rule_status(row: MetricRow, rule: Rule) -> Status:
    """crossed / cannot_rule_out / below for one row, before alerts and sample-size checks."""
    assert rule.op is not None and rule.value is not None
    if _holds(_stat(row, rule.statistic), rule.op, rule.value):
        return "crossed"
    # the bound of the 95% interval on the crossing side: upper for >=/>, lower for <=/<
    bound = row.high if rule.op in (">=", ">") else row.low
    return "cannot_rule_out" if _holds(bound, rule.op, rule.value) else "below"


def _alert(index: Index, rule: Rule | None) -> tuple[bool, float | None, list[str]]:
    if rule is None or rule.metric is None:
        return False, None, []
    assert rule.op is not None and rule.value is not None
    rows = [r for r in index.get(rule.metric, ()) if _finite(r) and not r.no_evidence]
    if not rows:
        return False, None, [f"alert metric {rule.metric} was not measured"]
    values = [_stat(r, rule.statistic) for r in rows]
    hit = [v for v in values if _holds(v, rule.op, rule.value)]
    return bool(hit), (hit or values)[0], []


def no_evidence_note(row: MetricRow) -> str:
    """Why a row with no scored sample says nothing: how many samples errored or went unscored."""
    failed = row.errored + row.unscored
    if failed == 0:
        return "no evidence: no sample was run"
    why = f"no evidence: {row.errored} of {failed} samples errored"
    return why + (f", {row.unscored} not scored" if row.unscored else "")


def evaluate_threshold(threshold: Threshold, index: Index, model: str) -> ThresholdResult:
    """Status of one threshold against one model's indexed rows (see DESIGN.md, Determination)."""
    rule = threshold.rule
    base = dict(
        id=threshold.id,
        name=threshold.name,
        domain=threshold.domain,
        kind=threshold.kind,
        level=threshold.level,
        metric=rule.metric,
        rule=rule,
        alert_rule=threshold.alert,
        source=threshold.source,
        rationale=threshold.rationale,
    )
    if rule.metric is None:
        return ThresholdResult(
            status="not_evaluated", notes=["aslgate does not measure this capability"], **base
        )
    rows = index.get(rule.metric, [])
    usable = [r for r in rows if _finite(r)]
    if not usable:
        why = (
            f"metric {rule.metric} has no finite value for model {model!r}"
            if rows
            else f"metric {rule.metric} was not measured for model {model!r}"
        )
        return ThresholdResult(status="not_evaluated", notes=[why], **base)

    min_n = rule.min_n if rule.min_n is not None else DEFAULT_MIN_N
    best: tuple[int, Status, MetricRow, bool] | None = None
    for row in usable:
        # precautionary: a row with no scored sample can never be crossed, nor ruled out
        status = "cannot_rule_out" if row.no_evidence else _rule_status(row, rule)
        small = row.n is not None and row.n < min_n and not row.no_evidence
        if small and status == "below":
            status = "cannot_rule_out"
        if best is None or _SEVERITY[status] > _SEVERITY[best[1]]:
            best = (_SEVERITY[status], status, row, small)
    assert best is not None
    _, status, row, small = best

    notes: list[str] = [no_evidence_note(row)] if row.no_evidence else []
    if (row.errored or row.unscored) and not row.no_evidence:
        notes.append(f"{row.errored} errored and {row.unscored} unscored samples are not among the n trials")
    if len(usable) > 1:
        notes.append(f"{len(usable)} rows for {rule.metric}; reporting the most severe")
    if small:
        notes.append(f"n={row.n} < min_n={min_n}: too few samples to rule the threshold out")
    if row.published:
        notes.append(f"published result, not measured by aslgate: {row.source_url}")
        if row.n is None:
            notes.append("published without a sample count: the interval is the point estimate")
    if row.n is None and not row.published:
        notes.append("derived metric: no sample count; interval supplied by the producer")
    alert_hit, alert_value, alert_notes = _alert(index, threshold.alert)
    notes += alert_notes
    if status == "below" and alert_hit:
        status = "alert"
    return ThresholdResult(
        status=status,
        statistic=rule.statistic,
        statistic_value=None if row.no_evidence else _stat(row, rule.statistic),
        estimate=row.estimate,
        low=row.low,
        high=row.high,
        k=row.k,
        n=row.n,
        alert_value=alert_value,
        insufficient_samples=small,
        notes=notes,
        evidence=Evidence(
            log=row.log, sample_ids=list(row.sample_ids), published=row.published, source_url=row.source_url
        ),
        **base,
    )


def _determine_indexed(framework: Framework, index: Index, model: str) -> FrameworkDetermination:
    results = [evaluate_threshold(t, index, model) for t in framework.thresholds]
    hit = [(t, r) for t, r in zip(framework.thresholds, results, strict=True) if r.status in _RAISES_LEVEL]
    triggered = [r for t, r in hit if t.level is not None]
    top = max((framework.level_index(r.level) for r in triggered if r.level), default=0)
    level = framework.levels[top]
    safeguards: list[Safeguard] = []
    for lv in framework.levels[: top + 1]:
        safeguards.extend(lv.safeguards)
    findings = [t for t, _ in hit if t.level is None]
    for t, _ in hit:  # what a threshold requires beyond its level (a finding: without raising it)
        safeguards.extend(s for s in framework.required_safeguards(t) if s not in safeguards)
    access = most_restrictive([level.access, *(t.access for t, _ in hit if t.access is not None)])
    gaps = [
        Gap(framework=framework.id, threshold=r.id, domain=r.domain, level=r.level, reason=r.notes[0])
        for r in results
        if r.status == "not_evaluated"
    ]
    counts = {s: 0 for s in STATUSES}
    for r in results:
        counts[r.status] += 1
    return FrameworkDetermination(
        framework=framework.id,
        name=framework.name,
        version=framework.version,
        published=framework.published,
        url=framework.url,
        model=model,
        required_level=level.id,
        required_level_name=level.name,
        required_level_index=top,
        triggered_by=[r.id for r in triggered],
        findings=[t.id for t in findings],
        counts=counts,
        thresholds=results,
        gaps=gaps,
        safeguards=safeguards,
        access_policy=access,
    )


def determine(framework: Framework, metrics: Iterable[MetricRow], model: str) -> FrameworkDetermination:
    """The level one framework requires for `model`, given all metric rows (other models' are ignored)."""
    return _determine_indexed(framework, index_rows(metrics, model), model)


def most_restrictive(policies: Sequence[AccessPolicy]) -> AccessPolicy:
    """Intersection of allowed tiers; the classifier or a halt if any policy asks for it."""
    if not policies:
        raise ValueError("no access policies to combine")
    allowed = set(TIER_ORDER)
    for p in policies:
        allowed &= set(p.allowed_tiers)
    return AccessPolicy(
        allowed_tiers=[t for t in TIER_ORDER if t in allowed],
        offense_classifier=any(p.offense_classifier for p in policies),
        halt_development=any(p.halt_development for p in policies),
    )


def _summary(model: str, dets: list[FrameworkDetermination], access: AccessPolicy) -> str:
    parts = []
    for d in dets:
        c = d.counts
        parts.append(
            f"{d.framework} -> {d.required_level} ({c['crossed']} crossed, {c['cannot_rule_out']} cannot rule"
            f" out, {c['alert']} alert, {c['below']} below, {c['not_evaluated']} not evaluated)"
        )
    tiers = ", ".join(access.allowed_tiers) or "none"
    flags = [f"tiers: {tiers}", f"offense classifier {'on' if access.offense_classifier else 'off'}"]
    if access.halt_development:
        flags.append("HALT further development")
    return f"{model}: " + "; ".join(parts) + ". Access: " + ", ".join(flags) + "."


def determine_all(
    frameworks: Sequence[Framework],
    metrics: Iterable[MetricRow],
    model: str,
    tasks: Sequence[TaskCounts] = (),
) -> Determination:
    """Determinations under every framework, indexing the rows once, plus the combined access policy.

    `tasks` (sample counts of the eval logs behind it) makes the determination `complete` or not."""
    if not frameworks:
        raise ValueError("determine_all needs at least one framework")
    index = index_rows(metrics, model)
    dets = [_determine_indexed(f, index, model) for f in frameworks]
    access = most_restrictive([d.access_policy for d in dets])
    complete = all(t.complete for t in tasks)
    summary = _summary(model, dets, access)
    if not complete:
        errored, unscored = sum(t.errored for t in tasks), sum(t.unscored for t in tasks)
        summary = f"INCOMPLETE EVIDENCE ({errored} samples errored, {unscored} not scored). " + summary
    return Determination(
        model=model,
        summary=summary,
        frameworks=dets,
        access_policy=access,
        gaps=[g for d in dets for g in d.gaps],
        complete=complete,
        tasks=list(tasks),
    )
