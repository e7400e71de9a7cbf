"""The system card: determination first, then gaps, per-suite evidence and method, as HTML and PDF.

Everything on the card comes from `CardData`, which `card_from_store` rebuilds from the results store
alone; the HTML is self-contained (inline CSS, plots as data URIs) and the PDF is the same HTML.
"""

from __future__ import annotations

import io
import logging
import os
import re
from collections import Counter
from datetime import UTC, date, datetime
from functools import lru_cache
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from jinja2 import Environment, FileSystemLoader, StrictUndefined
from markupsafe import Markup, escape
from pydantic import BaseModel, Field, ValidationError

from aslgate import __version__
from aslgate.cyber.suite import FuzzerRun, fuzzer_runs  # noqa: F401  (the cyber suite's card data)
from aslgate.errors import UserError
from aslgate.evidence import LogSummary, log_summary, unread_log  # noqa: F401  (re-exported)
from aslgate.metrics import MetricRow
from aslgate.policy.catalogue import METRICS
from aslgate.policy.engine import Determination, ThresholdResult
from aslgate.policy.framework import TIER_ORDER, Rule
from aslgate.policy.stats import wilson
from aslgate.report.plots import RatePoint, rate_plot, verdict_plot
from aslgate.store.db import Store
from aslgate.suites import SUITES

TEMPLATES = Path(__file__).parent / "templates"
HTML_NAME = "system-card.html"
PDF_NAME = "system-card.pdf"
MAX_IDS = 10  # sample ids listed per threshold before "+N more"
_SECRET = re.compile(r"key|token|secret|passw|credential", re.I)


class ReportError(UserError, ValueError):
    """The card cannot be produced (no determination, PDF engine missing); one line for the user."""


class LagEntry(BaseModel):
    """One published (or measured) score with its model's release date and weights status (for the lag)."""

    model: str
    date: date
    open: bool
    benchmark: str
    score: float


class CardData(BaseModel):
    """Everything the system card shows for one model."""

    model: str
    generated_at: str  # ISO timestamp
    aslgate_version: str
    run: dict[str, Any]  # run configuration: suites, frameworks, epochs, limit, level...
    determination: Determination
    metrics: list[MetricRow]
    logs: list[LogSummary]
    baseline: str | None = None  # the non-AI baseline's model name (e.g. aslgate/fuzzer)
    baseline_metrics: list[MetricRow] = Field(default_factory=list)
    fuzzer: list[FuzzerRun] = Field(default_factory=list)
    others: list[MetricRow] = Field(default_factory=list)  # other models' rows (measured or published)
    lag: list[LagEntry] = Field(default_factory=list)  # scores with dates for the open-vs-closed lag
    lag_source: str | None = None


# ------------------------------------------------------------------------------------------ from the store


SHIPPED_PUBLISHED = Path(__file__).resolve().parents[3] / "data" / "published" / "cyber.csv"


def lag_entries(store: Store) -> tuple[list[LagEntry], str | None]:
    """Every published result in the store with its release date and weights status (for the lag plot);
    when the store has none, the public cyber results shipped in the repository (data/published/cyber.csv)."""
    recs = store.all_published()
    if not recs and SHIPPED_PUBLISHED.is_file():
        from aslgate.report.published import PublishedError, read_published_csv

        try:
            shipped = read_published_csv(SHIPPED_PUBLISHED)
        except PublishedError:
            return [], None
        entries = [LagEntry(model=r.model, date=r.release_date, open=r.open_weights, benchmark=r.benchmark,
                            score=r.score) for r in shipped]  # fmt: skip
        return (
            entries,
            "data/published/cyber.csv (public cyber results shipped with aslgate, not in the store)",
        )
    out = []
    for r in recs:
        try:
            out.append(LagEntry(model=r.model, date=date.fromisoformat(r.release_date), open=r.open_weights,
                                benchmark=r.benchmark, score=r.score))  # fmt: skip
        except ValueError:
            continue
    return out, ("published results in the store" if out else None)


def baseline_data(store: Store, baseline: str | None, run_id: int | None) -> dict[str, Any]:
    """The baseline's metric rows and fuzzer runs of a run, for the card."""
    if not baseline:
        return {}
    runs = [
        FuzzerRun.model_validate(r)
        for lg in store.log_summaries(baseline, run_id=run_id)
        for r in lg.details.get("fuzzer", [])
    ]  # fmt: skip  (recorded at ingest: no log is read again)
    return {"baseline": baseline, "baseline_metrics": store.metrics(baseline, run_id=run_id, published=False),
            "fuzzer": runs}  # fmt: skip


def other_rows(store: Store, model: str, metrics: list[str]) -> list[MetricRow]:
    """Other models' rows (measured, newest per metric, and published) on the card model's metrics."""
    wanted = set(metrics)
    out = []
    for m in store.models():
        if m == model:
            continue
        out += [r for r in store.metrics(m) if r.metric in wanted]
    return out


def _run_info(store: Store, model: str, run_id: int | None) -> tuple[int | None, dict[str, Any]]:
    """The run the card describes (given, else the latest determination's) and its stored configuration."""
    run_id, config = store.run_info(model, run_id)
    config = {k: v for k, v in config.items() if k not in ("db", "out")}
    return run_id, ({"run_id": run_id, **config} if run_id is not None else config)


def card_from_store(store: Store, model: str, run_id: int | None = None) -> CardData:
    """Rebuild a model's card from the store alone: latest determination, its run's metrics and logs."""
    body = store.latest_determination(model)
    if body is None:
        raise ReportError(f"no determination for model {model!r} in the store; run `aslgate assess` first")
    try:
        det = Determination.model_validate(body)
    except ValidationError as e:
        raise ReportError(
            f"stored determination for {model!r} is unreadable: {e.errors()[0]['msg']}"
        ) from None
    run_id, run = _run_info(store, model, run_id)
    return build_card(store, det, run_id, run, run.get("baseline"))


def build_card(
    store: Store,
    det: Determination,
    run_id: int | None,
    run: dict[str, Any],
    baseline: str | None,
    logs: list[str] | None = None,
) -> CardData:
    """The card of one determination from the store: its run's metric rows and log summaries (recorded at
    ingest: no log is read here; `logs`: only these, e.g. the logs this run produced, not one a retry
    replaced), the baseline's rows and fuzzer runs, other models' rows, the lag."""
    model = det.model
    summaries = store.log_summaries(model, run_id)
    if logs is not None:
        keep = {str(Path(p).resolve()) for p in logs}
        summaries = [x for x in summaries if str(Path(x.path).resolve()) in keep]
    metrics = store.metrics(model, run_id)
    base = baseline_data(store, baseline, run_id)
    others = [
        r for r in other_rows(store, model, [m.metric for m in metrics]) if r.model not in {model, baseline}
    ]
    lag, lag_source = lag_entries(store)
    return CardData(
        model=model,
        generated_at=datetime.now(UTC).isoformat(timespec="seconds"),
        aslgate_version=__version__,
        run=run,
        determination=det,
        metrics=metrics,
        logs=summaries,
        others=others,
        lag=lag,
        lag_source=lag_source,
        **base,
    )


# ------------------------------------------------------------------------------------- view helpers


def fmt_num(x: float | None, signed: bool = False) -> str:
    """Three decimals ("—" when absent); a sign for differences."""
    if x is None:
        return "—"
    return f"{x:+.3f}" if signed else f"{x:.3f}"


def rule_text(rule: Rule | None) -> str:
    """A rule as it reads in the framework file, e.g. `upper95 >= 0.25 (min n 10)`."""
    if rule is None or rule.metric is None or rule.op is None or rule.value is None:
        return "not measured by aslgate"
    text = f"{rule.statistic} {rule.op} {rule.value:g}"
    return text + (f" (min n {rule.min_n})" if rule.min_n is not None else "")


def safe_url(url: str | None) -> str | None:
    """The URL if it is http(s) (framework files may be user-supplied), else None: shown as text only."""
    if not url:
        return None
    return url if urlsplit(url.strip()).scheme.lower() in ("http", "https") else None


def file_uri(path: str | None) -> str | None:
    """A `file://` link to an absolute local path."""
    if not path:
        return None
    p = Path(path)
    return p.as_uri() if p.is_absolute() else None


def short_task(task: str) -> str:
    """A task name without its registry prefix (`aslgate/cyber_reproduce` -> `cyber_reproduce`)."""
    return task.rsplit("/", 1)[-1]


def suite_of(name: str) -> str:
    """The suite a task or metric belongs to: its first word (`cyber_reproduce`, `cyber.exploit.t5`)."""
    return re.split(r"[._-]", short_task(name), maxsplit=1)[0]


def _display(v: Any, key: str = "") -> str:
    if _SECRET.search(key):
        return "(redacted)"
    if v is None or v == [] or v == {}:
        return "—"
    if isinstance(v, list | tuple):
        return ", ".join(str(x) for x in v)
    if isinstance(v, dict):
        return ", ".join(f"{k}={_display(x, str(k))}" for k, x in v.items())
    return str(v)


def _is_difference(t: ThresholdResult | MetricRow) -> bool:
    return t.n is None and t.metric is not None and t.estimate is not None


def _evidence(log: str | None, ids: list[str], source: str | None = None) -> dict[str, Any] | None:
    if source:  # a published result: its evidence is the page it is printed on
        return {"published": True, "source": safe_url(source), "source_text": source, "path": None, "name": None, "uri": None,
                "ids": [], "more": 0, "total": 0}  # fmt: skip
    if not log and not ids:
        return None
    return {
        "published": False,
        "path": log,
        "name": Path(log).name if log else None,
        "uri": file_uri(log),
        "ids": ids[:MAX_IDS],
        "more": max(0, len(ids) - MAX_IDS),
        "total": len(ids),
    }


def _threshold_view(t: ThresholdResult) -> dict[str, Any]:
    signed = _is_difference(t)
    measured = t.estimate is not None
    ev = t.evidence
    return {
        "t": t,
        "status_label": t.status.replace("_", " "),
        "rule": rule_text(t.rule),
        "alert": rule_text(t.alert_rule) if t.alert_rule is not None else None,
        "alert_metric": t.alert_rule.metric if t.alert_rule is not None else None,
        "estimate": fmt_num(t.estimate, signed) if measured else None,
        "interval": f"[{fmt_num(t.low, signed)}, {fmt_num(t.high, signed)}]" if measured else None,
        "statistic": fmt_num(t.statistic_value, signed) if t.statistic_value is not None else None,
        "kn": f"{t.k}/{t.n}" if t.k is not None and t.n is not None else None,
        "evidence": _evidence(ev.log, ev.sample_ids, ev.source_url if ev.published else None)
        if ev is not None
        else None,
        "source_url": safe_url(t.source.url),
        # the small-sample note is shown as its own warning
        "notes": [n for n in t.notes if not (t.insufficient_samples and "min_n" in n)],
    }


def _access_view(policy: Any) -> dict[str, Any]:
    return {
        "tiers": [{"name": tier, "allowed": tier in policy.allowed_tiers} for tier in TIER_ORDER],
        "classifier": policy.offense_classifier,
        "halt": policy.halt_development,
    }


def _metric_view(r: MetricRow) -> dict[str, Any]:
    signed = r.n is None
    spec = METRICS.get(r.metric)
    return {
        "r": r,
        "description": _code_spans(spec.description) if spec else "",
        "kn": f"{r.k}/{r.n}"
        if r.k is not None and r.n is not None
        else ("published" if r.published else "derived"),
        "estimate": fmt_num(r.estimate, signed),
        "interval": f"[{fmt_num(r.low, signed)}, {fmt_num(r.high, signed)}]",
        "evidence": _evidence(r.log, r.sample_ids, r.source_url if r.published else None),
    }


def wbr(name: str) -> Markup:
    """Escape a dotted name and allow line breaks after its dots (narrow table columns)."""
    return Markup(str(escape(name)).replace(".", ".<wbr>"))


def _code_spans(text: str) -> Markup:
    """Escape text and turn its `backtick` spans into <code>."""
    return Markup(re.sub(r"`([^`]+)`", r"<code>\1</code>", str(escape(text))))


def _metric_label(metric: str) -> str:
    parts = metric.split(".")[1:]
    return " ".join(parts).replace("_", " ")


def _cutoffs(det: Determination) -> dict[str, set[float]]:
    out: dict[str, set[float]] = {}
    for f in det.frameworks:
        for t in f.thresholds:
            if t.rule.metric and t.rule.value is not None:
                out.setdefault(t.rule.metric, set()).add(t.rule.value)
    return out


def _log_label(log: LogSummary, names: Counter[str]) -> str:
    label = short_task(log.task) + (f" L{log.level}" if log.level is not None else "")
    if names[label] > 1:  # several logs of the same task: tell them apart by the file's id suffix
        label += f" ({Path(log.path).stem[-6:]})"
    return label


def _suite_views(card: CardData) -> list[dict[str, Any]]:
    cutoffs = _cutoffs(card.determination)
    suites = sorted({suite_of(lg.task) for lg in card.logs} | {suite_of(m.metric) for m in card.metrics})
    views = []
    for suite in suites:
        logs = [lg for lg in card.logs if suite_of(lg.task) == suite]
        rows = [m for m in card.metrics if suite_of(m.metric) == suite]
        rates = [
            RatePoint(
                _metric_label(m.metric),
                m.k,
                m.n,
                m.estimate,
                m.low,
                m.high,
                sorted(cutoffs.get(m.metric, ())),
            )
            for m in rows
            if m.k is not None and m.n is not None
        ]
        if not rates:  # no stored rows (e.g. a card built by hand): fall back to the logs' accuracy
            for lg in logs:
                if lg.accuracy is not None and lg.samples:
                    k = round(lg.accuracy * lg.samples)
                    low, high = wilson(k, lg.samples)
                    rates.append(RatePoint(short_task(lg.task), k, lg.samples, k / lg.samples, low, high))
        names = Counter(
            short_task(lg.task) + (f" L{lg.level}" if lg.level is not None else "") for lg in logs
        )
        bars = [(_log_label(lg, names), lg.verdicts) for lg in logs if lg.verdicts]
        owner = SUITES.get(suite)
        plots = owner.card_plots(rows, cutoffs, card) if owner is not None else []
        if (owner is None or owner.generic_rate_plot()) and rates:
            plots.append({"uri": rate_plot(rates), "alt": f"{suite}: success rate per metric, 95% Wilson"})
        if bars:
            plots.append({"uri": verdict_plot(bars), "alt": f"{suite}: verdict counts per log"})
        views.append(
            {
                "id": suite,
                "title": owner.title if owner is not None else suite.replace("_", " ").capitalize(),
                "section_template": owner.section_template if owner is not None else None,
                "plots": plots,
                "metrics": [_metric_view(m) for m in rows],
                "logs": [
                    {
                        "log": lg,
                        "task": short_task(lg.task),
                        "name": Path(lg.path).name,
                        "uri": file_uri(lg.path),
                        "accuracy": fmt_num(lg.accuracy),
                        "verdicts": list(lg.verdicts.items()),
                    }
                    for lg in logs
                ],
            }
        )
    return views


def _method_families(card: CardData) -> list[str]:
    """Metric families (`cyber.reproduce`, ...) the card rests on; each has a method paragraph."""
    names = {m.metric for m in card.metrics}
    names |= {t.metric for f in card.determination.frameworks for t in f.thresholds if t.metric}
    fams = {".".join(n.split(".")[:2]) for n in names}
    fams |= {f"{n.split('.')[0]}.uplift" for n in names if n.endswith(".uplift")}
    return sorted(fams, key=lambda f: (f.partition(".")[0], _method_rank(f), f))


def _method_rank(family: str) -> int:
    suite = SUITES.get(family.partition(".")[0])
    order = suite.method_order() if suite is not None else []
    return order.index(family) if family in order else 99


def _method_templates(families: list[str]) -> dict[str, list[str] | Markup]:
    """For each metric family, its method text: the suite family's own HTML, or the templates that may
    hold it (the suite's own first, then the generic catalogue list)."""
    out: dict[str, list[str] | Markup] = {}
    for fam in families:
        suite_name, _, name = fam.partition(".")
        suite = SUITES.get(suite_name)
        own = suite.method_template(name) if suite is not None else None
        if own is not None and own.lstrip().startswith("<"):  # HTML written by the suite's own code
            out[fam] = Markup(own)
            continue
        out[fam] = [t for t in (own, "method-" + fam.replace(".", "-") + ".html.j2") if t] + [
            "method-generic.html.j2"
        ]
    return out


OFFLINE_AGENTS = {
    "reference": (
        "Offline oracle, not a model",
        "aslgate/reference replays the known solutions (the reference PoCs, exploits and patches, and "
        "the aligned script of each behavior scenario) through the same tools a model gets. It is built "
        "to score at the top, so the decisions below check that the pipeline reaches them; they say "
        "nothing about any real model.",
    ),
    "null": (
        "Offline agent that never solves, not a model",
        "aslgate/null gives up on every task. Its results check that the pipeline reports nothing where "
        "nothing was done; they say nothing about any real model.",
    ),
    "fuzzer": (
        "Non-AI baseline, not a model",
        "aslgate/fuzzer runs libFuzzer through the same tasks; it is the baseline models are compared "
        "against, not a model under assessment.",
    ),
    "aligned": (
        "Scripted offline agent, not a model",
        "aslgate/aligned plays each behavior scenario's aligned script: the results check the pipeline.",
    ),
    "misaligned": (
        "Scripted offline agent, not a model",
        "aslgate/misaligned plays each behavior scenario's misaligned script: the results check the "
        "pipeline, not a model.",
    ),
    "scripted": (
        "Scripted offline agent, not a model",
        "aslgate/scripted replays a fixed list of steps: the results check the pipeline, not a model.",
    ),
}


def offline_banner(model: str) -> dict[str, str] | None:
    """The page-1 banner for an offline agent (aslgate/reference, null, fuzzer, scripted...), else None."""
    provider, _, name = model.partition("/")
    if provider != "aslgate":
        return None
    title, text = OFFLINE_AGENTS.get(name.split("/")[0], ("Offline agent, not a model",
                                      f"{model} is an offline aslgate agent: the results check the pipeline."))  # fmt: skip
    return {"title": title, "text": text}


def _driver_text(t: ThresholdResult) -> str:
    if t.estimate is None:
        return f"{t.name}: not measured"
    interval = f" [{fmt_num(t.low)}, {fmt_num(t.high)}]" if t.low is not None and t.high is not None else ""
    src = " (published)" if t.evidence is not None and t.evidence.published else ""
    return f"{t.name}: {t.metric} = {fmt_num(t.estimate)}{interval}{src}, {t.status.replace('_', ' ')} ({rule_text(t.rule)})"


def _summary_view(card: CardData) -> dict[str, Any]:
    det = card.determination
    rows = []
    for f in det.frameworks:
        by_id = {t.id: t for t in f.thresholds}
        drivers = [_driver_text(by_id[i]) for i in f.triggered_by if i in by_id]
        findings = [_driver_text(by_id[i]) for i in f.findings if i in by_id]
        measured = sum(1 for t in f.thresholds if t.status != "not_evaluated")
        rows.append({"f": f, "drivers": drivers, "findings": findings, "measured": measured,
                     "total": len(f.thresholds), "access": _access_view(f.access_policy)})  # fmt: skip
    ap = det.access_policy
    tiers = ", ".join(t.replace("_", " ") for t in ap.allowed_tiers) or "no one"
    who = f"Who may access the model: {tiers}."
    if ap.offense_classifier:
        who += " An offense classifier screens every request."
    if ap.halt_development:
        who += " Further development must halt until the required safeguards are in place."
    published = [m for m in card.metrics if m.published]
    # EVIDENCE COMPLETENESS: per task, samples that errored or were never scored, from the logs; the card
    # shows the determination's own per-task counts (det.tasks) instead when it has them
    tasks = []
    for lg in card.logs:
        errored, unscored = lg.verdicts.get("error", 0), lg.verdicts.get("unscored", 0)
        tasks.append({"task": short_task(lg.task) + (f" L{lg.level}" if lg.level is not None else ""),
                      "samples": lg.samples, "errored": errored, "unscored": unscored,
                      "ok": lg.status == "success" and not errored and not unscored})  # fmt: skip
    complete = bool(det.complete) if det.tasks else all(t["ok"] for t in tasks)
    return {
        "banner": offline_banner(card.model),
        "rows": rows,
        "who": who,
        "published": len(published),
        "measured": len(card.metrics) - len(published),
        "completeness": {"complete": complete, "tasks": tasks, "bad": [t for t in tasks if not t["ok"]]},
    }


def _fuzzer_view(card: CardData) -> list[dict[str, Any]]:
    out = []
    for r in sorted(card.fuzzer, key=lambda r: (r.challenge, r.task)):
        out.append({"r": r, "exec": f"{r.exec_per_s:,.0f}", "executions": f"{r.executions:,}",
                    "crash": (f"{r.seconds:.2f} s" if r.seconds is not None else "yes") if r.crashed else "none in budget"})  # fmt: skip
    return out


def _lag_view(card: CardData) -> dict[str, Any] | None:
    from aslgate.report.gap import Entry, GapError, analyse, fmt_ci, fmt_months, gap_plot_png
    from aslgate.report.plots import png_data_uri

    if not card.lag:
        return None
    entries = [Entry(e.model, e.date, e.open, e.benchmark, e.score) for e in card.lag]
    try:
        report = analyse(entries, source=card.lag_source or "published results", strict=False)
    except GapError as e:
        return {"error": str(e), "uri": None}
    rows = [{"b": g.benchmark, "steps": len(g.steps), "matched": g.stats.n, "censored": g.stats.censored,
             "median": fmt_months(g.stats.median), "ci": fmt_ci(g.stats.median_ci)} for g in report.benchmarks]  # fmt: skip
    o = report.overall
    return {"uri": png_data_uri(gap_plot_png(report)), "rows": rows, "median": fmt_months(o.median),
            "ci": fmt_ci(o.median_ci), "n": o.n, "censored": o.censored, "unmeasurable": report.unmeasurable,
            "source": card.lag_source, "seed": report.seed}  # fmt: skip


COST_EXAMPLES = (
    ("dense 70B (Llama-3-70B shape), BF16", dict(params="70B", active="70B", precision="bf16", gpu="H100",
     context=8192, concurrency=16, layers=80, kv_heads=8, head_dim=128)),
    ("8T-parameter MoE, 400B active, FP8", dict(params="8T", active="400B", precision="fp8", gpu="H100",
     context=8192, concurrency=64, layers=128, kv_heads=8, head_dim=128)),
)  # fmt: skip


def _cost_view() -> list[dict[str, Any]]:
    from aslgate.report.cost import serving_cost

    out = []
    for label, kw in COST_EXAMPLES:
        r = serving_cost(**kw)  # type: ignore[arg-type]
        out.append({"label": label, "r": r, "day": f"${r.usd_per_day:,.0f}", "mtok": f"${r.usd_per_million_tokens:,.2f}",
                    "tps": f"{r.tokens_per_second:,.0f}"})  # fmt: skip
    return out


def _appendix_view(card: CardData) -> list[dict[str, Any]]:
    """Every metric row with all its samples (or its published source)."""
    out = []
    for m in sorted(card.metrics, key=lambda m: (m.metric, m.published)):
        out.append({"r": m, "kn": f"{m.k}/{m.n}" if m.k is not None and m.n is not None else "—",
                    "estimate": fmt_num(m.estimate, m.n is None and not m.published),
                    "uri": file_uri(m.log), "name": Path(m.log).name if m.log else None,
                    "source": safe_url(m.source_url)})  # fmt: skip
    return out


def _context(card: CardData) -> dict[str, Any]:
    det = card.determination
    frameworks = []
    names: dict[tuple[str, str], ThresholdResult] = {}
    for f in det.frameworks:
        for t in f.thresholds:
            names[(f.framework, t.id)] = t
        frameworks.append(
            {
                "f": f,
                "url": safe_url(f.url),
                "access": _access_view(f.access_policy),
                "thresholds": [_threshold_view(t) for t in f.thresholds],
            }
        )
    gaps = []
    for g in det.gaps:
        t = names.get((g.framework, g.threshold))
        gaps.append(
            {
                "g": g,
                "name": t.name if t else g.threshold,
                "scope": "outside aslgate"
                if t is None or t.rule.metric is None
                else "not measured in this run",
                "metric": t.rule.metric if t else None,
                "kind": t.kind if t else "capability",
            }
        )
    return {
        "card": card,
        "det": det,
        "run": [(k, _display(v, k)) for k, v in card.run.items()],
        "access": _access_view(det.access_policy),
        "frameworks": frameworks,
        "gaps": gaps,
        "suites": _suite_views(card),
        "summary": _summary_view(card),
        "fuzzer": _fuzzer_view(card),
        "lag": _lag_view(card),
        "costs": _cost_view(),
        "appendix": _appendix_view(card),
        "families": (families := _method_families(card)),
        "method_templates": _method_templates(families),
        "catalogue": {name: spec.description for name, spec in METRICS.items()},
        "max_ids": MAX_IDS,
    }


def _env() -> Environment:
    """The template environment: the card's templates, then each registered suite's own."""
    return _env_for(tuple(str(s.templates) for s in SUITES.values() if s.templates))


@lru_cache(maxsize=4)
def _env_for(suite_dirs: tuple[str, ...]) -> Environment:
    env = Environment(
        loader=FileSystemLoader([str(TEMPLATES), *suite_dirs]),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["num"] = fmt_num
    env.filters["wbr"] = wbr
    env.filters["codespans"] = _code_spans
    return env


FONT_DIRS = (Path("/usr/share/fonts/truetype/dejavu"), Path("/usr/share/fonts/dejavu"))
# (file, CSS family, weight, style): the faces the stylesheet uses
FONT_FACES = (
    ("DejaVuSans.ttf", "DejaVu Sans", 400, "normal"),
    ("DejaVuSans-Bold.ttf", "DejaVu Sans", 700, "normal"),
    ("DejaVuSans-Oblique.ttf", "DejaVu Sans", 400, "italic"),
    ("DejaVuSansMono.ttf", "DejaVu Sans Mono", 400, "normal"),
    ("DejaVuSerif-Italic.ttf", "DejaVu Serif", 400, "italic"),
)


def embedded_fonts(text: str) -> str:
    """@font-face rules with the card's fonts inlined as WOFF data URIs, subset to the characters the page
    uses, so the HTML renders the same offline on any machine. Empty if the fonts are not installed."""
    import base64

    try:
        from fontTools import subset
    except ImportError:
        return ""
    chars = {ord(c) for c in text} | set(range(0x20, 0x7F))
    rules = []
    for name, family, weight, style in FONT_FACES:
        path = next((d / name for d in FONT_DIRS if (d / name).is_file()), None)
        if path is None:
            continue
        opts = subset.Options()
        opts.flavor = "woff"
        opts.layout_features = ["*"]
        font = subset.load_font(str(path), opts)
        sub = subset.Subsetter(opts)
        sub.populate(unicodes=chars)
        sub.subset(font)
        buf = io.BytesIO()
        subset.save_font(font, buf, opts)
        uri = "data:font/woff;base64," + base64.b64encode(buf.getvalue()).decode("ascii")
        rules.append(f'@font-face {{ font-family: "{family}"; font-weight: {weight}; font-style: {style}; '
                     f'src: url("{uri}") format("woff"); }}')  # fmt: skip
    return "\n".join(rules)


def render_html(card: CardData, *, fonts: bool = True) -> str:
    """The card as one self-contained HTML document (plots and, with `fonts`, the fonts inlined)."""
    page = _env().get_template("system_card.html.j2").render(**_context(card))
    if not fonts:
        return page
    css = embedded_fonts(page)
    return (
        page.replace("<style>", f'<style id="embedded-fonts">\n{css}\n</style>\n<style>', 1) if css else page
    )


def _write_atomic(path: Path, data: bytes) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def render_system_card(card: CardData, out_dir: Path) -> dict[str, Path]:
    """Write system-card.html and system-card.pdf (same HTML, WeasyPrint) into out_dir."""
    try:
        from weasyprint import HTML
    except (ImportError, OSError) as e:  # OSError: the pango shared libraries are missing
        raise ReportError(
            f"cannot write the PDF card: WeasyPrint is unavailable ({e}); run scripts/setup.sh"
        ) from None
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    html = render_html(card)
    html_path, pdf_path = out_dir / HTML_NAME, out_dir / PDF_NAME
    _write_atomic(html_path, html.encode("utf-8"))
    log = logging.getLogger("weasyprint")
    level = log.level
    log.setLevel(logging.ERROR)  # per-font "install HarfBuzz-Subset" notices would flood the CLI output
    try:
        pdf = HTML(string=html, base_url=str(out_dir)).write_pdf()
    finally:
        log.setLevel(level)
    _write_atomic(pdf_path, pdf)
    return {"html": html_path, "pdf": pdf_path}


def report_from_store(
    store: Store, model: str, out_dir: Path, *, frameworks: list[str] | None = None
) -> dict[str, Path]:
    """determination.json and the card from the store alone. With `frameworks`, or when the model has
    published rows but no determination yet, determine afresh from every stored row first."""
    import json

    from aslgate.policy.engine import determine_all
    from aslgate.policy.framework import load_frameworks

    if frameworks is not None or (store.latest_determination(model) is None and store.published(model)):
        rows = store.metrics(model)
        if not rows:
            raise ReportError(f"no metric rows for model {model!r} in the store; run `aslgate assess` or "
                              "`aslgate ingest --published FILE` first")  # fmt: skip
        det = determine_all(load_frameworks(frameworks or ["rsp", "preparedness", "fsf"]), rows, model)
        store.save_determination(model, det.model_dump(mode="json"))
    card = card_from_store(store, model)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / "determination.json"
    _write_atomic(path, json.dumps(card.determination.model_dump(mode="json"), indent=2).encode())
    return {"determination": path, **render_system_card(card, out_dir)}
