"""Prices, credits, budgets and settlement: reserve-then-settle, each step one locked transaction.

Admission reserves the most a request can cost (its estimated input plus its output limit) against
the org's unexpired credits plus its remaining paid budget, under the org row's lock; settlement
releases the reservation and charges the actual tokens (credits first, soonest-expiring first, then
paid usage), never more than the org can pay, so concurrent requests cannot overspend.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from aslgate.gateway.db import NANO, Credit, Org, Usage, now
from aslgate.gateway.keys import KeyError_, check_name, org_row
from aslgate.gateway.settings import Price


class InsufficientFunds(Exception):
    def __init__(self, needed: int, available: int) -> None:
        super().__init__(
            f"insufficient credits or budget: this request may cost ${needed / NANO:.6f}, "
            f"${max(available, 0) / NANO:.6f} available"
        )
        self.needed, self.available = needed, available


@dataclass(frozen=True)
class Charge:
    cost_nusd: int
    credit_nusd: int
    paid_nusd: int
    unbilled_nusd: int


def estimate_tokens(text: str) -> int:
    """Tokenizer-free estimate, about 4 characters a token (used when the upstream reports no usage)."""
    return math.ceil(len(text) / 4) if text else 0


def cost(price: Price, input_tokens: int, output_tokens: int) -> int:
    return input_tokens * price.input_nusd + output_tokens * price.output_nusd


def _credits(session: Session, org_id: int, lock: bool) -> list[Credit]:
    q = (
        select(Credit)
        .where(Credit.org_id == org_id, Credit.remaining_nusd > 0)
        .where((Credit.expires.is_(None)) | (Credit.expires > now()))
        .order_by(Credit.expires.is_(None), Credit.expires, Credit.id)
    )
    return list(session.scalars(q.with_for_update() if lock else q))


def available(
    session: Session, org: Org, lock: bool = True, credits: list[Credit] | None = None
) -> int | None:
    """Credits + remaining paid budget - reservations; None when the paid budget is uncapped."""
    if org.budget_nusd is None:
        return None
    credit = sum(
        c.remaining_nusd for c in (credits if credits is not None else _credits(session, org.id, lock))
    )
    return credit + org.budget_nusd - org.paid_spent_nusd - org.reserved_nusd


def lock_org(session: Session, org_id: int) -> Org:
    org = session.get(Org, org_id, with_for_update=True, populate_existing=True)
    assert org is not None
    return org


def reserve(session: Session, org_id: int, amount: int) -> None:
    """Reserve `amount` or raise InsufficientFunds (inside the admission transaction)."""
    org = lock_org(session, org_id)
    avail = available(session, org)
    if avail is not None and amount > avail:
        raise InsufficientFunds(amount, avail)
    org.reserved_nusd += amount


def settle(
    session: Session,
    org_id: int,
    key_id: str,
    model: str,
    reserved: int,
    input_tokens: int,
    output_tokens: int,
    price: Price,
    status: int,
) -> Charge:
    """Release the reservation and charge the actual usage (inside the settlement transaction)."""
    org = lock_org(session, org_id)
    org.reserved_nusd = max(0, org.reserved_nusd - reserved)
    actual = cost(price, input_tokens, output_tokens)
    credits = _credits(session, org.id, lock=True) if actual else []
    avail = available(session, org, credits=credits)
    charged = actual if avail is None else max(0, min(actual, avail))
    left, from_credit = charged, 0
    for c in credits:
        if left <= 0:
            break
        take = min(c.remaining_nusd, left)
        c.remaining_nusd -= take
        left -= take
        from_credit += take
    org.paid_spent_nusd += left
    ch = Charge(cost_nusd=charged, credit_nusd=from_credit, paid_nusd=left, unbilled_nusd=actual - charged)
    if input_tokens or output_tokens:
        session.add(
            Usage(
                org_id=org.id,
                key_id=key_id,
                model=model,
                input_tokens=input_tokens,
                output_tokens=output_tokens,
                cost_nusd=ch.cost_nusd,
                credit_nusd=ch.credit_nusd,
                paid_nusd=ch.paid_nusd,
                unbilled_nusd=ch.unbilled_nusd,
                status=status,
            )
        )
    return ch


def grant_credits(engine: Engine, org: str, usd: float, expires: datetime | None = None) -> int:
    check_name(org)
    if not math.isfinite(usd) or usd <= 0:
        raise KeyError_(f"--usd {usd}: must be a positive amount")
    amount = round(usd * NANO)
    with Session(engine) as s, s.begin():
        o = org_row(s, org, create=True)
        c = Credit(org_id=o.id, granted_nusd=amount, remaining_nusd=amount, expires=expires)
        s.add(c)
        s.flush()
        return c.id


def set_org(
    engine: Engine,
    org: str,
    budget_usd: float | None = None,
    no_budget: bool = False,
    rpm: int | None = None,
    tpm: int | None = None,
) -> None:
    check_name(org)
    with Session(engine) as s, s.begin():
        o = org_row(s, org, create=True)
        if budget_usd is not None:
            if not math.isfinite(budget_usd) or budget_usd < 0:
                raise KeyError_(f"--budget-usd {budget_usd}: must be zero or positive")
            o.budget_nusd = round(budget_usd * NANO)
        if no_budget:
            o.budget_nusd = None
        if rpm is not None:
            o.rpm = rpm if rpm > 0 else None
        if tpm is not None:
            o.tpm = tpm if tpm > 0 else None


def usage_report(engine: Engine, org: str | None = None) -> list[dict]:
    """Per org: tokens, cost (credit and paid), remaining credits, budget, reservations."""
    with Session(engine) as s:
        q = select(Org).order_by(Org.name)
        if org is not None:
            q = q.where(Org.name == org)
        orgs = list(s.scalars(q))
        if org is not None and not orgs:
            raise KeyError_(f"org {org!r}: no such organisation")
        out = []
        t = now()
        for o in orgs:
            agg = s.execute(
                select(
                    func.count(Usage.id),
                    func.coalesce(func.sum(Usage.input_tokens), 0),
                    func.coalesce(func.sum(Usage.output_tokens), 0),
                    func.coalesce(func.sum(Usage.cost_nusd), 0),
                    func.coalesce(func.sum(Usage.credit_nusd), 0),
                    func.coalesce(func.sum(Usage.paid_nusd), 0),
                    func.coalesce(func.sum(Usage.unbilled_nusd), 0),
                ).where(Usage.org_id == o.id)
            ).one()
            credits = list(s.scalars(select(Credit).where(Credit.org_id == o.id)))
            live = sum(c.remaining_nusd for c in credits if c.expires is None or c.expires > t)
            expired = sum(c.remaining_nusd for c in credits if c.expires is not None and c.expires <= t)
            out.append(
                {
                    "org": o.name,
                    "requests": agg[0],
                    "input_tokens": int(agg[1]),
                    "output_tokens": int(agg[2]),
                    "cost_usd": int(agg[3]) / NANO,
                    "credit_used_usd": int(agg[4]) / NANO,
                    "paid_usd": int(agg[5]) / NANO,
                    "unbilled_usd": int(agg[6]) / NANO,
                    "credits_remaining_usd": live / NANO,
                    "credits_expired_usd": expired / NANO,
                    "budget_usd": None if o.budget_nusd is None else o.budget_nusd / NANO,
                    "reserved_usd": o.reserved_nusd / NANO,
                    "rpm": o.rpm,
                    "tpm": o.tpm,
                }
            )
        return out
