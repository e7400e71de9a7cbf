"""SQLAlchemy models of the results store: runs, eval logs, metric rows, determinations."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import JSON, Boolean, DateTime, Float, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship


def _now() -> datetime:
    return datetime.now(UTC)


class Base(DeclarativeBase):
    pass


class Run(Base):
    """One `aslgate assess` invocation."""

    __tablename__ = "runs"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)  # stable id, e.g. the output directory
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=_now)
    config: Mapped[dict] = mapped_column(JSON, default=dict)
    logs: Mapped[list[EvalLogRecord]] = relationship(back_populates="run")


class EvalLogRecord(Base):
    """An ingested Inspect eval log, identified by its content hash (re-ingesting is a no-op)."""

    __tablename__ = "eval_logs"
    id: Mapped[int] = mapped_column(primary_key=True)
    sha256: Mapped[str] = mapped_column(String(64), unique=True)
    path: Mapped[str] = mapped_column(Text)
    task: Mapped[str] = mapped_column(String(200))
    model: Mapped[str] = mapped_column(String(200), index=True)
    status: Mapped[str] = mapped_column(String(32))
    samples: Mapped[int] = mapped_column(Integer)
    created: Mapped[str] = mapped_column(String(64))  # the log's own eval.created timestamp
    task_version: Mapped[int] = mapped_column(Integer, default=0)  # the log's Task(version=...)
    summary: Mapped[dict | None] = mapped_column(JSON, nullable=True)  # evidence.LogSummary, at ingest
    derivation: Mapped[int | None] = mapped_column(Integer, nullable=True)  # the suite derivation of its rows
    ingested_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=_now)
    run_id: Mapped[int | None] = mapped_column(ForeignKey("runs.id"), nullable=True)
    run: Mapped[Run | None] = relationship(back_populates="logs")
    metrics: Mapped[list[MetricRecord]] = relationship(back_populates="log", cascade="all, delete-orphan")


class MetricRecord(Base):
    """One metric row (DESIGN.md 'Metrics') computed from one eval log."""

    __tablename__ = "metrics"
    __table_args__ = (UniqueConstraint("log_id", "model", "metric"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    log_id: Mapped[int] = mapped_column(ForeignKey("eval_logs.id"), index=True)
    model: Mapped[str] = mapped_column(String(200), index=True)
    metric: Mapped[str] = mapped_column(String(200), index=True)
    k: Mapped[int | None] = mapped_column(Integer, nullable=True)
    n: Mapped[int | None] = mapped_column(Integer, nullable=True)
    estimate: Mapped[float] = mapped_column(Float)
    low: Mapped[float] = mapped_column(Float)
    high: Mapped[float] = mapped_column(Float)
    sample_ids: Mapped[list] = mapped_column(JSON, default=list)
    errored: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    unscored: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    # the suite's derivation version the row was computed with (None: a row derived across logs, e.g. uplift)
    derivation: Mapped[int | None] = mapped_column(Integer, nullable=True)
    log: Mapped[EvalLogRecord] = relationship(back_populates="metrics")


class DeterminationRecord(Base):
    """A determination (all frameworks) for one model, as written to determination.json."""

    __tablename__ = "determinations"
    id: Mapped[int] = mapped_column(primary_key=True)
    run_id: Mapped[int | None] = mapped_column(ForeignKey("runs.id"), nullable=True)
    model: Mapped[str] = mapped_column(String(200), index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=_now)
    body: Mapped[dict] = mapped_column(JSON)


class PublishedRecord(Base):
    """A published result (system card, paper, leaderboard) for a model, with where it is printed."""

    __tablename__ = "published_results"
    __table_args__ = (
        UniqueConstraint("model", "benchmark", "source_url", name="uq_published_model_benchmark_source"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    model: Mapped[str] = mapped_column(String(200), index=True)
    developer: Mapped[str] = mapped_column(String(200))
    open_weights: Mapped[bool] = mapped_column(Boolean)
    release_date: Mapped[str] = mapped_column(String(10))
    benchmark: Mapped[str] = mapped_column(String(200))
    metric: Mapped[str] = mapped_column(String(200), index=True)
    score: Mapped[float] = mapped_column(Float)
    k: Mapped[int | None] = mapped_column(Integer, nullable=True)
    n: Mapped[int | None] = mapped_column(Integer, nullable=True)
    low: Mapped[float] = mapped_column(Float)
    high: Mapped[float] = mapped_column(Float)
    source_url: Mapped[str] = mapped_column(Text)
    file: Mapped[str] = mapped_column(Text)
    ingested_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=_now)
