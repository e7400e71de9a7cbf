"""Requests- and tokens-per-minute limits per key and per org, held in the database.

Fixed one-minute windows, one row per (scope, minute). Admission is a conditional UPDATE that counts the
request only if it stays under both limits, so every worker sharing the database sees the same counts
(PostgreSQL re-checks the WHERE clause under the row lock; SQLite serializes writers with BEGIN IMMEDIATE).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from sqlalchemy import delete, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from aslgate.gateway.db import RateWindow


@dataclass(frozen=True)
class Limit:
    scope: str  # key:<id> | org:<id>
    rpm: int | None
    tpm: int | None


class RateLimited(Exception):
    def __init__(self, scope: str, what: str, retry_after: int) -> None:
        super().__init__(f"rate limit reached for {scope.split(':')[0]} ({what} per minute)")
        self.scope, self.what, self.retry_after = scope, what, retry_after


def current_window(t: float | None = None) -> int:
    return int((time.time() if t is None else t) // 60)


def _ensure_row(session: Session, scope: str, window: int) -> None:
    dialect = session.get_bind().dialect.name
    ins = pg_insert if dialect == "postgresql" else sqlite_insert
    stmt = ins(RateWindow).values(scope=scope, window=window, requests=0, tokens=0)
    session.execute(stmt.on_conflict_do_nothing(index_elements=["scope", "window"]))


def admit(session: Session, limits: list[Limit], tokens: int, window: int) -> None:
    """Count one request of `tokens` (estimated) in each scope, or raise RateLimited (caller rolls back)."""
    retry = 60 - int(time.time() % 60)
    for lim in limits:
        if lim.rpm is None and lim.tpm is None:
            continue
        _ensure_row(session, lim.scope, window)
        cond = [RateWindow.scope == lim.scope, RateWindow.window == window]
        if lim.rpm is not None:
            cond.append(RateWindow.requests < lim.rpm)
        if lim.tpm is not None:
            cond.append(RateWindow.tokens + tokens <= lim.tpm)
        res = session.execute(
            update(RateWindow)
            .where(*cond)
            .values(requests=RateWindow.requests + 1, tokens=RateWindow.tokens + tokens)
            .execution_options(synchronize_session=False)
        )
        if res.rowcount == 0:
            row = session.get(RateWindow, (lim.scope, window))
            what = (
                "requests"
                if lim.rpm is not None and row is not None and row.requests >= lim.rpm
                else "tokens"
            )
            raise RateLimited(lim.scope, what, retry)


def add_tokens(session: Session, limits: list[Limit], tokens: int, window: int) -> None:
    """Settle the difference between the estimated and the actual tokens of an admitted request."""
    if tokens == 0:
        return
    for lim in limits:
        if lim.rpm is None and lim.tpm is None:
            continue
        session.execute(
            update(RateWindow)
            .where(RateWindow.scope == lim.scope, RateWindow.window == window)
            .values(tokens=RateWindow.tokens + tokens)
            .execution_options(synchronize_session=False)
        )


def prune(session: Session, window: int) -> None:
    session.execute(delete(RateWindow).where(RateWindow.window < window - 1))
