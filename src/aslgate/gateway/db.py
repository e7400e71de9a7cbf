"""The gateway's tables (orgs, keys, key requests, credits, usage, rate windows, audit log) and engine.

SQLite by default (WAL, every write transaction `BEGIN IMMEDIATE`, so concurrent workers serialize on
the database lock); PostgreSQL by URL (row locks with `SELECT ... FOR UPDATE`). Money is held as
integer nano-USD (1e-9 USD) so prices like $0.15 per million tokens stay exact.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Integer,
    String,
    Text,
    UniqueConstraint,
    create_engine,
    event,
    text,
)
from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from aslgate.errors import UserError

DEFAULT_GATEWAY_DB = "sqlite:///aslgate-gateway.db"
NANO = 1_000_000_000  # nano-USD per USD


class GatewayDBError(UserError, RuntimeError):
    """The gateway database cannot be used (unreachable, bad URL); one line for the user."""


def now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)  # stored naive, always UTC


class Base(DeclarativeBase):
    pass


class Org(Base):
    __tablename__ = "gw_orgs"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(Text, unique=True)
    budget_nusd: Mapped[int | None] = mapped_column(BigInteger, nullable=True)  # paid cap; None = no cap
    paid_spent_nusd: Mapped[int] = mapped_column(BigInteger, default=0)
    reserved_nusd: Mapped[int] = mapped_column(BigInteger, default=0)
    rpm: Mapped[int | None] = mapped_column(Integer, nullable=True)
    tpm: Mapped[int | None] = mapped_column(Integer, nullable=True)
    created: Mapped[datetime] = mapped_column(DateTime, default=now)


class ApiKey(Base):
    __tablename__ = "gw_keys"
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("gw_orgs.id"))
    tier: Mapped[str] = mapped_column(String(32))
    secret_sha256: Mapped[str] = mapped_column(String(64))
    created: Mapped[datetime] = mapped_column(DateTime, default=now)
    expires: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    revoked: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    rpm: Mapped[int | None] = mapped_column(Integer, nullable=True)
    tpm: Mapped[int | None] = mapped_column(Integer, nullable=True)
    request_id: Mapped[str | None] = mapped_column(String(32), nullable=True)


class KeyRequest(Base):
    __tablename__ = "gw_key_requests"
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    org: Mapped[str] = mapped_column(Text)
    use_case: Mapped[str] = mapped_column(Text)
    tier: Mapped[str] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(16), default="pending")  # pending | issued
    created: Mapped[datetime] = mapped_column(DateTime, default=now)
    key_id: Mapped[str | None] = mapped_column(String(32), nullable=True)


class Approval(Base):
    __tablename__ = "gw_approvals"
    __table_args__ = (UniqueConstraint("request_id", "admin"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    request_id: Mapped[str] = mapped_column(ForeignKey("gw_key_requests.id"))
    admin: Mapped[str] = mapped_column(String(200))
    at: Mapped[datetime] = mapped_column(DateTime, default=now)


class Credit(Base):
    __tablename__ = "gw_credits"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("gw_orgs.id"))
    granted_nusd: Mapped[int] = mapped_column(BigInteger)
    remaining_nusd: Mapped[int] = mapped_column(BigInteger)
    expires: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    created: Mapped[datetime] = mapped_column(DateTime, default=now)


class Usage(Base):
    __tablename__ = "gw_usage"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(DateTime, default=now)
    org_id: Mapped[int] = mapped_column(ForeignKey("gw_orgs.id"))
    key_id: Mapped[str] = mapped_column(String(32))
    model: Mapped[str] = mapped_column(Text)
    input_tokens: Mapped[int] = mapped_column(Integer)
    output_tokens: Mapped[int] = mapped_column(Integer)
    cost_nusd: Mapped[int] = mapped_column(BigInteger)  # what was charged (credit + paid)
    credit_nusd: Mapped[int] = mapped_column(BigInteger)
    paid_nusd: Mapped[int] = mapped_column(BigInteger)
    unbilled_nusd: Mapped[int] = mapped_column(BigInteger, default=0)  # usage beyond the budget
    status: Mapped[int] = mapped_column(Integer)


class RateWindow(Base):
    __tablename__ = "gw_rate_windows"
    scope: Mapped[str] = mapped_column(String(64), primary_key=True)  # key:<id> | org:<id>
    window: Mapped[int] = mapped_column(BigInteger, primary_key=True)  # minute since the epoch
    requests: Mapped[int] = mapped_column(Integer, default=0)
    tokens: Mapped[int] = mapped_column(BigInteger, default=0)


class AuditRecord(Base):
    __tablename__ = "gw_audit"
    seq: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    at: Mapped[str] = mapped_column(String(40))
    request_id: Mapped[str] = mapped_column(String(64))
    key_id: Mapped[str | None] = mapped_column(String(32), nullable=True)
    org: Mapped[str | None] = mapped_column(Text, nullable=True)
    tier: Mapped[str | None] = mapped_column(String(32), nullable=True)
    model: Mapped[str | None] = mapped_column(Text, nullable=True)
    decision: Mapped[str] = mapped_column(String(32))  # served | flagged | refused | rejected | cut | error
    verdict: Mapped[str | None] = mapped_column(String(32), nullable=True)
    score: Mapped[float | None] = mapped_column(Float, nullable=True)
    prompt_sha256: Mapped[str | None] = mapped_column(String(64), nullable=True)
    prompt: Mapped[str | None] = mapped_column(Text, nullable=True)
    input_tokens: Mapped[int] = mapped_column(Integer, default=0)
    output_tokens: Mapped[int] = mapped_column(Integer, default=0)
    cost_nusd: Mapped[int] = mapped_column(BigInteger, default=0)
    latency_ms: Mapped[float] = mapped_column(Float, default=0.0)
    status: Mapped[int] = mapped_column(Integer)
    detail: Mapped[str] = mapped_column(Text, default="")
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))


class AuditHead(Base):
    """One row: the last sequence number and hash, locked while a record is appended."""

    __tablename__ = "gw_audit_head"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger, default=0)
    hash: Mapped[str] = mapped_column(String(64))


class PolicyEpoch(Base):
    """One row: bumped by POST /admin/reload so every worker reloads the determination."""

    __tablename__ = "gw_policy_epoch"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    epoch: Mapped[int] = mapped_column(Integer, default=0)
    active: Mapped[bool] = mapped_column(Boolean, default=True)


GENESIS = "0" * 64

_SQLITE_TRIGGERS = [
    "CREATE TRIGGER IF NOT EXISTS gw_audit_no_update BEFORE UPDATE ON gw_audit "
    "BEGIN SELECT RAISE(ABORT, 'gw_audit is append-only'); END",
    "CREATE TRIGGER IF NOT EXISTS gw_audit_no_delete BEFORE DELETE ON gw_audit "
    "BEGIN SELECT RAISE(ABORT, 'gw_audit is append-only'); END",
]
_PG_TRIGGERS = [
    "CREATE OR REPLACE FUNCTION gw_audit_append_only() RETURNS trigger AS $$ "
    "BEGIN RAISE EXCEPTION 'gw_audit is append-only'; END; $$ LANGUAGE plpgsql",
    "DROP TRIGGER IF EXISTS gw_audit_no_change ON gw_audit",
    "CREATE TRIGGER gw_audit_no_change BEFORE UPDATE OR DELETE ON gw_audit "
    "FOR EACH ROW EXECUTE FUNCTION gw_audit_append_only()",
]


def resolve_url(url: str | None) -> str:
    """--db, else ASLGATE_GATEWAY_DB, else a SQLite file in the current directory; paths become SQLite URLs."""
    url = url or os.environ.get("ASLGATE_GATEWAY_DB") or DEFAULT_GATEWAY_DB
    return url if "://" in url else f"sqlite:///{Path(url).resolve()}"


def _safe(url: str) -> str:
    if "@" in url and "://" in url:
        scheme, rest = url.split("://", 1)
        return f"{scheme}://***@{rest.split('@', 1)[1]}"
    return url


def make_engine(url: str | None = None, pool_size: int = 10, _tries: int = 3) -> Engine:
    """An engine with the schema created (idempotent) and the right locking for its dialect."""
    url = resolve_url(url)
    try:
        if url.startswith("sqlite"):
            path = url.removeprefix("sqlite:///")
            if path and path != ":memory:":
                Path(path).parent.mkdir(parents=True, exist_ok=True)
            engine = create_engine(url, connect_args={"timeout": 60, "check_same_thread": False})

            @event.listens_for(engine, "connect")
            def _connect(dbapi_conn: Any, _rec: Any) -> None:
                dbapi_conn.isolation_level = None  # we issue BEGIN ourselves
                cur = dbapi_conn.cursor()
                cur.execute("PRAGMA journal_mode=WAL")
                cur.execute("PRAGMA synchronous=NORMAL")
                cur.execute("PRAGMA busy_timeout=60000")
                cur.execute("PRAGMA foreign_keys=ON")
                cur.close()

            @event.listens_for(engine, "begin")
            def _begin(conn: Any) -> None:
                conn.exec_driver_sql("BEGIN IMMEDIATE")  # take the write lock up front: no lost updates

        else:
            engine = create_engine(url, pool_size=pool_size, max_overflow=pool_size, pool_pre_ping=True)
        Base.metadata.create_all(engine)
        with engine.begin() as conn:
            for stmt in _SQLITE_TRIGGERS if engine.dialect.name == "sqlite" else _PG_TRIGGERS:
                conn.execute(text(stmt))
            if conn.execute(text("SELECT count(*) FROM gw_audit_head")).scalar() == 0:
                conn.execute(AuditHead.__table__.insert().values(id=1, seq=0, hash=GENESIS))
            if conn.execute(text("SELECT count(*) FROM gw_policy_epoch")).scalar() == 0:
                conn.execute(PolicyEpoch.__table__.insert().values(id=1, epoch=0, active=True))
        return engine
    except (SQLAlchemyError, OSError, ImportError) as e:
        if (
            isinstance(e, SQLAlchemyError)
            and _tries > 0
            and ("already exists" in str(e) or "duplicate" in str(e))
        ):
            return make_engine(url, pool_size, _tries - 1)  # two workers creating the schema at once
        reason = str(getattr(e, "orig", None) or e).strip().splitlines()[0]
        raise GatewayDBError(f"cannot use gateway database {_safe(url)}: {reason}") from None
