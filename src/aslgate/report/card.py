"""The system card: determination first, then gaps, per-suite evidence and method, as HTML and PDF.

Everything on the card comes from `CardData`, which `card_from_store` rebuilds from the results store
alone; the HTML is self-contained (inline CSS, plots as data URIs) and the PDF is the same HTML.
"""

from __future__ import annotations

import logging
import os
import re
from collections import Counter
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from inspect_ai.log import EvalLog, read_eval_log
from jinja2 import Environment, FileSystemLoader, StrictUndefined
from markupsafe import Markup, escape
from pydantic import BaseModel, Field, ValidationError
from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from aslgate import __version__
from aslgate.errors import UserError
from aslgate.metrics import MetricRow
from aslgate.policy.catalogue import METRICS
from aslgate.policy.engine import Determination, ThresholdResult
from aslgate.policy.framework import TIER_ORDER, Rule
from aslgate.policy.stats import wilson
from aslgate.report.plots import RatePoint, rate_plot, verdict_plot
from aslgate.store.db import Store
from aslgate.store.models import DeterminationRecord, Run

TEMPLATES = Path(__file__).parent / "templates"
HTML_NAME = "system-card.html"
PDF_NAME = "system-card.pdf"
MAX_IDS = 10  # sample ids listed per threshold before "+N more"
SUITE_TITLES = {"cyber": "Cyber capabilities", "behavior": "Agentic behavior"}
_FAMILY_ORDER = {"reproduce": 0, "exploit": 1, "patch": 2, "discover": 3, "uplift": 4}
_SECRET = re.compile(r"key|token|secret|passw|credential", re.I)
_INSPECT_NAME = re.compile(r"^\d{4}-\d\d-\d\dT[\d-]+_(?P<task>.+)_[A-Za-z0-9]{16,}$")


class ReportError(UserError, ValueError):
    """The card cannot be produced (no determination, PDF engine missing); one line for the user."""


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
    sandbox: str | None = None  # "strong" or "weak" (docs/sandbox.md), from the task metadata


class CardData(BaseModel):
    """Everything the system card shows for one model."""

    model: str
    generated_at: str  # ISO timestamp
    aslgate_version: str
    run: dict[str, Any]  # run configuration: suites, frameworks, epochs, limit, level...
    determination: Determination
    metrics: list[MetricRow]
    logs: list[LogSummary]


# ------------------------------------------------------------------------------------------ from logs


def log_summary(log: EvalLog, path: str) -> LogSummary:
    """Summarise a log: accuracy from the first scorer's metrics, verdicts from each sample's first score."""
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
    return LogSummary(
        task=log.eval.task,
        path=path,
        model=log.eval.model,
        status=str(log.status),
        samples=len(log.samples or []),
        accuracy=accuracy,
        verdicts=dict(verdicts.most_common()),
        level=level if isinstance(level, int) and not isinstance(level, bool) else None,
        sandbox=sandbox if sandbox in ("strong", "weak") else None,
    )


def _unread_log(path: str, model: str, status: str) -> LogSummary:
    """A log the store lists but we cannot read: keep it on the card, with the task from its file name."""
    m = _INSPECT_NAME.match(Path(path).stem)
    task = m["task"] if m else Path(path).stem
    return LogSummary(task=task, path=path, model=model, status=status, samples=0, accuracy=None)


def _run_info(store: Store, model: str, run_id: int | None) -> tuple[int | None, dict[str, Any]]:
    """The run the card describes (given, else the latest determination's) and its stored configuration."""
    try:
        with Session(store.engine) as s:
            if run_id is None:
                q = (
                    select(DeterminationRecord.run_id)
                    .where(DeterminationRecord.model == model)
                    .order_by(DeterminationRecord.id.desc())
                    .limit(1)
                )
                run_id = s.scalars(q).first()
            run = s.get(Run, run_id) if run_id is not None else None
            config = dict(run.config or {}) if run is not None else {}
    except SQLAlchemyError:
        return run_id, {}
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
    logs = []
    for p in store.logs(model, run_id):
        if not Path(p).is_file():
            logs.append(_unread_log(p, model, "missing"))
            continue
        try:
            logs.append(log_summary(read_eval_log(p, header_only=False), p))
        except Exception:  # a corrupt or truncated log: keep it visible rather than fail the card
            logs.append(_unread_log(p, model, "unreadable"))
    return CardData(
        model=model,
        generated_at=datetime.now(UTC).isoformat(timespec="seconds"),
        aslgate_version=__version__,
        run=run,
        determination=det,
        metrics=store.metrics(model, run_id),
        logs=logs,
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


def _evidence(log: str | None, ids: list[str]) -> dict[str, Any] | None:
    if not log and not ids:
        return None
    return {
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
        "evidence": _evidence(ev.log, ev.sample_ids) if ev is not None else None,
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
        "kn": f"{r.k}/{r.n}" if r.k is not None and r.n is not None else "derived",
        "estimate": fmt_num(r.estimate, signed),
        "interval": f"[{fmt_num(r.low, signed)}, {fmt_num(r.high, signed)}]",
        "evidence": _evidence(r.log, r.sample_ids),
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
        plots = []
        if suite == "behavior":
            plots += _behavior_plots(rows, cutoffs)
        elif rates:
            plots.append({"uri": rate_plot(rates), "alt": f"{suite}: success rate per metric, 95% Wilson"})
        if bars:
            plots.append({"uri": verdict_plot(bars), "alt": f"{suite}: verdict counts per log"})
        views.append(
            {
                "id": suite,
                "title": SUITE_TITLES.get(suite, suite.replace("_", " ").capitalize()),
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


def _behavior_plots(rows: list[MetricRow], cutoffs: dict[str, set[float]]) -> list[dict[str, str]]:
    """One plot per behavior family: each scenario's rate under pressure and in its control cells."""
    by_family: dict[str, list[RatePoint]] = {}
    for m in rows:
        parts = m.metric.split(".")
        if m.k is None or m.n is None or len(parts) < 3:
            continue
        label = " · ".join(p.replace("_", " ") for p in parts[2:])
        by_family.setdefault(parts[1], []).append(
            RatePoint(label, m.k, m.n, m.estimate, m.low, m.high, sorted(cutoffs.get(m.metric, ())))
        )
    plots = []
    for family, points in sorted(by_family.items()):
        what = "accuracy" if family == "sandbagging" else "rate of the behaviour"
        title = f"{family.replace('_', ' ')}: {what} (95% Wilson)"
        plots.append({"uri": rate_plot(points, title=title), "alt": f"{family}: {what} per scenario and pooled, "
                      "under pressure and in the control cells"})  # fmt: skip
    return plots


def _method_families(card: CardData) -> list[str]:
    """Metric families (`cyber.reproduce`, ...) the card rests on; each has a method paragraph."""
    names = {m.metric for m in card.metrics}
    names |= {t.metric for f in card.determination.frameworks for t in f.thresholds if t.metric}
    fams = {".".join(n.split(".")[:2]) for n in names}
    fams |= {f"{n.split('.')[0]}.uplift" for n in names if n.endswith(".uplift")}
    return sorted(fams, key=lambda f: (f.partition(".")[0], _FAMILY_ORDER.get(f.partition(".")[2], 99), f))


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
        "families": _method_families(card),
        "catalogue": {name: spec.description for name, spec in METRICS.items()},
        "max_ids": MAX_IDS,
    }


@lru_cache(maxsize=1)
def _env() -> Environment:
    env = Environment(
        loader=FileSystemLoader(str(TEMPLATES)),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["num"] = fmt_num
    env.filters["wbr"] = wbr
    env.filters["codespans"] = _code_spans
    return env


def render_html(card: CardData) -> str:
    """The card as one self-contained HTML document."""
    return _env().get_template("system_card.html.j2").render(**_context(card))


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
