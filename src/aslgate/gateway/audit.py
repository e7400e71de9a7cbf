"""The audit log: one append-only, hash-chained record per request and decision.

Each record's hash is SHA-256 over the previous record's hash and a canonical JSON of its own fields
(its sequence number included), so editing, deleting, inserting or reordering records breaks the chain
where it happened; a one-row head (last sequence number and hash) catches records cut from the end.
Both databases refuse UPDATE and DELETE on the table through a trigger; `verify` is for what a trigger
cannot stop (someone with the database owner's rights). Publish the head hash it prints to anchor it.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from aslgate.gateway.db import GENESIS, AuditHead, AuditRecord

FIELDS = (
    "seq",
    "at",
    "request_id",
    "key_id",
    "org",
    "tier",
    "model",
    "decision",
    "verdict",
    "score",
    "prompt_sha256",
    "prompt",
    "input_tokens",
    "output_tokens",
    "cost_nusd",
    "latency_ms",
    "status",
    "detail",
)


def prompt_hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


def record_hash(prev_hash: str, values: dict[str, Any]) -> str:
    body = json.dumps(
        {k: values.get(k) for k in FIELDS}, sort_keys=True, ensure_ascii=True, separators=(",", ":")
    )
    return hashlib.sha256(f"{prev_hash}\n{body}".encode()).hexdigest()


@dataclass
class Entry:
    """What a request leaves in the log (filled in as the request goes)."""

    request_id: str
    key_id: str | None = None
    org: str | None = None
    tier: str | None = None
    model: str | None = None
    decision: str = "rejected"
    verdict: str | None = None
    score: float | None = None
    prompt_sha256: str | None = None
    prompt: str | None = None
    input_tokens: int = 0
    output_tokens: int = 0
    cost_nusd: int = 0
    latency_ms: float = 0.0
    status: int = 0
    detail: dict[str, Any] = field(default_factory=dict)


def append(session: Session, e: Entry) -> int:
    """Append one record inside the caller's transaction (the head row lock orders concurrent writers)."""
    head = session.get(AuditHead, 1, with_for_update=True)
    assert head is not None
    values = {
        "seq": head.seq + 1,
        "at": datetime.now(UTC).isoformat(timespec="microseconds"),
        "request_id": e.request_id,
        "key_id": e.key_id,
        "org": e.org,
        "tier": e.tier,
        "model": e.model,
        "decision": e.decision,
        "verdict": e.verdict,
        "score": None if e.score is None else round(float(e.score), 6),
        "prompt_sha256": e.prompt_sha256,
        "prompt": e.prompt,
        "input_tokens": int(e.input_tokens),
        "output_tokens": int(e.output_tokens),
        "cost_nusd": int(e.cost_nusd),
        "latency_ms": round(float(e.latency_ms), 3),
        "status": int(e.status),
        "detail": json.dumps(e.detail, sort_keys=True, default=str),
    }
    h = record_hash(head.hash, values)
    session.add(AuditRecord(**values, prev_hash=head.hash, hash=h))
    head.seq, head.hash = values["seq"], h
    return values["seq"]


@dataclass
class VerifyReport:
    records: int
    head_seq: int
    head_hash: str
    problems: list[str]

    @property
    def ok(self) -> bool:
        return not self.problems


def _values(r: AuditRecord) -> dict[str, Any]:
    return {k: getattr(r, k) for k in FIELDS}


def verify(engine: Engine) -> VerifyReport:
    """Walk the chain in sequence order and name every record that does not fit."""
    problems: list[str] = []
    with Session(engine) as s:
        rows = list(s.scalars(select(AuditRecord).order_by(AuditRecord.seq)))
        head = s.get(AuditHead, 1)
    by_hash = {r.hash: r.seq for r in rows}
    prev_hash: str | None = GENESIS
    expect_seq = 1
    for r in rows:
        if r.seq > expect_seq:
            gap = f"{expect_seq}" if r.seq == expect_seq + 1 else f"{expect_seq}-{r.seq - 1}"
            problems.append(f"record {gap}: missing (deleted)")
        vals = _values(r)
        if record_hash(r.prev_hash, vals) != r.hash:
            moved = next(
                (
                    o
                    for o in by_hash.values()
                    if o != r.seq and record_hash(r.prev_hash, {**vals, "seq": o}) == r.hash
                ),
                None,
            )
            if moved is not None:
                problems.append(f"record {r.seq}: holds record {moved}'s content (reordered)")
            else:
                problems.append(f"record {r.seq}: modified (its content does not match its hash)")
            prev_hash, expect_seq = None, r.seq + 1  # the link to the next record is already named broken
            continue
        if prev_hash is not None and r.prev_hash != prev_hash and r.seq == expect_seq:
            where = by_hash.get(r.prev_hash)
            src = f"record {where}" if where is not None else "a record that is not in the log"
            problems.append(
                f"record {r.seq}: chained to {src}, not to record {r.seq - 1} (inserted or reordered)"
            )
        prev_hash, expect_seq = r.hash, r.seq + 1
    last_seq = rows[-1].seq if rows else 0
    head_seq, head_hash = (head.seq, head.hash) if head is not None else (0, GENESIS)
    if head_seq > last_seq:
        gap = f"{last_seq + 1}" if head_seq == last_seq + 1 else f"{last_seq + 1}-{head_seq}"
        problems.append(f"record {gap}: missing from the end (deleted)")
    elif head_seq < last_seq:
        extra = f"{head_seq + 1}" if last_seq == head_seq + 1 else f"{head_seq + 1}-{last_seq}"
        problems.append(f"record {extra}: inserted after the head of the log")
    elif (
        rows and head_hash != rows[-1].hash and not any(p.startswith(f"record {last_seq}:") for p in problems)
    ):
        problems.append(f"record {last_seq}: does not match the head hash (modified)")
    return VerifyReport(records=len(rows), head_seq=head_seq, head_hash=head_hash, problems=problems)
