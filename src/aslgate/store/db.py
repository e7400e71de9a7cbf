"""The results store: SQLite by default, any SQLAlchemy URL via --db or ASLGATE_DB; migrated by Alembic."""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from alembic import command
from alembic.config import Config
from inspect_ai.log import read_eval_log
from sqlalchemy import create_engine, select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from aslgate.errors import UserError
from aslgate.evidence import LogSummary, log_summary, task_counts, unread_log
from aslgate.metrics import MetricRow, TaskCounts
from aslgate.store.models import DeterminationRecord, EvalLogRecord, MetricRecord, PublishedRecord, Run
from aslgate.suite import SuiteError
from aslgate.suites import metric_rows, suite_of

DEFAULT_DB = "sqlite:///aslgate.db"
MIGRATIONS = Path(__file__).parent / "migrations"


class StoreError(UserError, RuntimeError):
    """The database cannot be used (unreachable, bad URL); one line for the user."""


@dataclass
class IngestOutcome:
    """What happened to one log on ingest."""

    path: str
    status: Literal["ingested", "rederived", "duplicate", "error"]
    detail: str = ""
    metrics: int = 0
    counts: TaskCounts | None = None  # scored / errored / unscored samples of a readable log
    summary: LogSummary | None = None  # what the log says (read once, here), for the card


def resolve_url(url: str | None) -> str:
    """--db, else ASLGATE_DB, else a SQLite file in the current directory; bare paths become SQLite URLs."""
    url = url or os.environ.get("ASLGATE_DB") or DEFAULT_DB
    return url if "://" in url else f"sqlite:///{Path(url).resolve()}"


def _file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


_ROW = (
    "model",
    "metric",
    "k",
    "n",
    "estimate",
    "low",
    "high",
    "errored",
    "unscored",
)  # the columns a metric row and record share


def _first(s: Session, table: type[Any], /, **equal: Any) -> Any:
    """The first record of `table` whose columns equal the given values, or None."""
    return s.scalars(select(table).filter_by(**equal)).first()


def _record(r: MetricRow, log_id: int | None = None, derivation: int | None = None) -> MetricRecord:
    rec = MetricRecord(**{c: getattr(r, c) for c in _ROW}, sample_ids=r.sample_ids, derivation=derivation)
    if log_id is not None:
        rec.log_id = log_id
    return rec


class Store:
    """Runs, eval logs, metric rows and determinations."""

    def __init__(self, url: str | None = None) -> None:
        self.url = resolve_url(url)
        try:
            if self.url.startswith("sqlite:///"):
                Path(self.url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
            self.engine = create_engine(self.url)
            with self.engine.begin() as conn:
                cfg = Config()
                cfg.set_main_option("script_location", str(MIGRATIONS))
                cfg.attributes["connection"] = conn
                command.upgrade(cfg, "head")
        except (SQLAlchemyError, OSError, ImportError) as e:
            reason = str(getattr(e, "orig", None) or e).strip().splitlines()[0]
            raise StoreError(f"cannot use database {self._safe_url()}: {reason}") from None

    def _safe_url(self) -> str:
        from sqlalchemy.engine import make_url

        try:
            return make_url(self.url).render_as_string(hide_password=True)
        except Exception:  # an unparsable URL is shown as given, minus nothing secret-looking
            return self.url.split("@")[-1]

    def run(self, name: str, config: dict[str, Any] | None = None) -> int:
        """The id of the run called `name`, created if new."""
        with Session(self.engine) as s, s.begin():
            run = _first(s, Run, name=name)
            if run is None:
                run = Run(name=name, config=config or {})
                s.add(run)
                s.flush()
            return run.id

    def ingest_log(self, path: Path | str, run_id: int | None = None) -> IngestOutcome:
        """Record one eval log, its summary and the metric rows its suite derives from it, in a single
        transaction (all or nothing). A log already stored keeps its rows unless its suite's derivation
        version changed since: then its rows are derived again (status `rederived`)."""
        p = Path(path)
        try:
            digest = _file_sha256(p)
            log = read_eval_log(str(p))
        except Exception as e:  # Inspect raises many types for a corrupt or truncated log
            first = (str(e).strip().splitlines() or [type(e).__name__])[0][:200]
            return IngestOutcome(str(p), "error", f"unreadable eval log ({type(e).__name__}: {first})")
        where = str(p.resolve())
        try:
            derivation = suite_of(log).derivation
            rows = metric_rows(log, where)
        except SuiteError as e:
            return IngestOutcome(str(p), "error", f"no metric rows: {e}")
        summary = log_summary(log, where)
        counts = task_counts(log, where)
        with Session(self.engine) as s, s.begin():
            rec = _first(s, EvalLogRecord, sha256=digest)
            if rec is not None:
                if run_id is not None and rec.run_id is None:
                    rec.run_id = run_id
                stored = LogSummary.model_validate({**rec.summary, "path": rec.path}) if rec.summary else None
                if rec.summary is not None and rec.derivation == derivation:
                    return IngestOutcome(
                        str(p), "duplicate", f"already ingested as {rec.path}", summary=stored, counts=counts
                    )
                rec.metrics.clear()  # stale rows (and the cross-log rows built on them: recomputed by assess)
                s.flush()
                rec.summary = summary.model_copy(update={"path": rec.path}).model_dump(mode="json")
                rec.task_version, rec.derivation = log.eval.task_version, derivation
                rec.metrics = [
                    _record(r.model_copy(update={"log": rec.path}), derivation=derivation) for r in rows
                ]
                return IngestOutcome(str(p), "rederived", f"rows derived again (derivation {derivation})",
                                     metrics=len(rows), summary=summary.model_copy(update={"path": rec.path}),
                                     counts=counts)  # fmt: skip
            rec = EvalLogRecord(
                sha256=digest,
                path=where,
                task=log.eval.task,
                model=log.eval.model,
                status=log.status,
                samples=len(log.samples or []),
                created=str(log.eval.created),
                run_id=run_id,
                task_version=log.eval.task_version,
                summary=summary.model_dump(mode="json"),
                derivation=derivation,
            )
            rec.metrics = [_record(r, derivation=derivation) for r in rows]
            s.add(rec)
        return IngestOutcome(str(p), "ingested", metrics=len(rows), summary=summary, counts=counts)

    def add_derived(self, rows: list[MetricRow]) -> None:
        """Store rows computed across logs (e.g. uplift), attached to the log named in each row; idempotent."""
        with Session(self.engine) as s, s.begin():
            for r in rows:
                log = _first(s, EvalLogRecord, path=r.log)
                if log is None:
                    raise StoreError(f"cannot attach {r.metric}: log {r.log} is not in the store")
                old = _first(s, MetricRecord, log_id=log.id, model=r.model, metric=r.metric)
                if old is not None:
                    s.delete(old)
                    s.flush()
                s.add(_record(r, log.id))

    def metrics(
        self, model: str, run_id: int | None = None, published: bool | None = None
    ) -> list[MetricRow]:
        """The model's metric rows: from one run, or else the newest log's row for each metric, plus (by
        default when no run is given) its published rows, which stand beside measured ones."""
        with Session(self.engine) as s:
            q = (
                select(MetricRecord, EvalLogRecord)
                .join(EvalLogRecord, MetricRecord.log_id == EvalLogRecord.id)
                .where(MetricRecord.model == model)
                .order_by(EvalLogRecord.created, EvalLogRecord.id)
            )
            if run_id is not None:
                q = q.where(EvalLogRecord.run_id == run_id)
            newest: dict[str, MetricRow] = {}
            for m, log in s.execute(q):
                held = newest.get(m.metric)
                if held is not None and (held.task_version or 0) > log.task_version:
                    continue  # a newer task version wins; rows of different versions are never mixed
                newest[m.metric] = MetricRow(**{c: getattr(m, c) for c in _ROW}, log=log.path,
                                             sample_ids=list(m.sample_ids or []), task_version=log.task_version)  # fmt: skip
        rows = list(newest.values())
        if published if published is not None else run_id is None:
            rows += self.published(model)
        return sorted(rows, key=lambda r: (r.metric, r.published))

    def models(self) -> list[str]:
        with Session(self.engine) as s:
            return sorted(
                set(s.scalars(select(EvalLogRecord.model))) | set(s.scalars(select(PublishedRecord.model)))
            )

    def add_published(self, results: list[Any], file: str) -> tuple[int, int]:
        """Store published results (one transaction); a row already stored from the same source is
        updated. Returns (new, updated)."""
        new = updated = 0
        with Session(self.engine) as s, s.begin():
            for r in results:
                row = r.row()
                rec = _first(
                    s, PublishedRecord, model=r.model, benchmark=r.benchmark, source_url=r.source_url
                )
                if rec is None:
                    rec = PublishedRecord(model=r.model, benchmark=r.benchmark, source_url=r.source_url)
                    s.add(rec)
                    new += 1
                else:
                    updated += 1
                rec.developer, rec.open_weights, rec.release_date = (
                    r.developer,
                    r.open_weights,
                    r.release_date.isoformat(),
                )
                rec.metric, rec.score, rec.k, rec.n, rec.low, rec.high = (
                    row.metric,
                    row.estimate,
                    row.k,
                    row.n,
                    row.low,
                    row.high,
                )
                rec.file = file
        return new, updated

    def ingest_published(self, path: Path | str) -> tuple[int, int, list[str]]:
        """Read a published-results CSV (see aslgate.report.published) and store its rows: (new, updated,
        models)."""
        from aslgate.report.published import read_published_csv

        results = read_published_csv(path)
        new, updated = self.add_published(results, str(Path(path).resolve()))
        return new, updated, sorted({r.model for r in results})

    def published(self, model: str) -> list[MetricRow]:
        """The model's published rows (marked published, with their source URL)."""
        with Session(self.engine) as s:
            q = select(PublishedRecord).where(PublishedRecord.model == model).order_by(PublishedRecord.id)
            return [
                MetricRow(model=p.model, metric=p.metric, k=p.k, n=p.n, estimate=p.score, low=p.low, high=p.high,
                          published=True, source_url=p.source_url)
                for p in s.scalars(q)
            ]  # fmt: skip

    def logs(self, model: str | None = None, run_id: int | None = None) -> list[str]:
        """Paths of ingested logs, oldest first."""
        with Session(self.engine) as s:
            q = select(EvalLogRecord.path).order_by(EvalLogRecord.created, EvalLogRecord.id)
            if model:
                q = q.where(EvalLogRecord.model == model)
            if run_id is not None:
                q = q.where(EvalLogRecord.run_id == run_id)
            return list(s.scalars(q))

    def log_summaries(self, model: str | None = None, run_id: int | None = None) -> list[LogSummary]:
        """What each ingested log says, as recorded at ingest (oldest first); a log whose file is gone is
        shown as `missing`, one stored before summaries were recorded is read once now."""
        with Session(self.engine) as s:
            q = select(EvalLogRecord).order_by(EvalLogRecord.created, EvalLogRecord.id)
            if model:
                q = q.where(EvalLogRecord.model == model)
            if run_id is not None:
                q = q.where(EvalLogRecord.run_id == run_id)
            recs = [(r.path, r.model, r.summary) for r in s.scalars(q)]
        out = []
        for path, mod, summary in recs:
            if not Path(path).is_file():
                out.append(unread_log(path, mod, "missing"))
            elif summary is not None:
                out.append(LogSummary.model_validate({**summary, "path": path}))
            else:
                try:
                    out.append(log_summary(read_eval_log(path), path))
                except Exception:  # a corrupt or truncated log: keep it visible rather than fail
                    out.append(unread_log(path, mod, "unreadable"))
        return out

    def all_published(self) -> list[PublishedRecord]:
        """Every published result in the store (detached records, read-only); none if the table is absent."""
        try:
            with Session(self.engine, expire_on_commit=False) as s:
                recs = list(s.scalars(select(PublishedRecord)))
                s.expunge_all()
                return recs
        except SQLAlchemyError:
            return []

    def run_info(self, model: str, run_id: int | None = None) -> tuple[int | None, dict[str, Any]]:
        """The run a card describes (given, else the model's latest determination's) and its stored
        configuration ({} when unknown)."""
        try:
            with Session(self.engine) as s:
                if run_id is None:
                    q = (
                        select(DeterminationRecord.run_id)
                        .where(DeterminationRecord.model == model)
                        .order_by(DeterminationRecord.id.desc())
                        .limit(1)
                    )
                    run_id = s.scalars(q).first()
                run = s.get(Run, run_id) if run_id is not None else None
                return run_id, (dict(run.config or {}) if run is not None else {})
        except SQLAlchemyError:
            return run_id, {}

    def save_determination(self, model: str, body: dict[str, Any], run_id: int | None = None) -> None:
        with Session(self.engine) as s, s.begin():
            s.add(DeterminationRecord(model=model, body=body, run_id=run_id))

    def latest_determination(self, model: str) -> dict[str, Any] | None:
        with Session(self.engine) as s:
            q = (
                select(DeterminationRecord)
                .where(DeterminationRecord.model == model)
                .order_by(DeterminationRecord.id.desc())
            )
            rec = s.scalars(q).first()
            return dict(rec.body) if rec else None
