"""API keys, organisations and the verification workflow (request → admin approvals → key).

A key is `aslg_<id>_<secret>`: the id finds the row, only the SHA-256 of the secret is stored, and the
key is shown once. A `partner` request needs two different admins; `verified_defender` needs one.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import unicodedata
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from aslgate.errors import UserError
from aslgate.gateway.db import ApiKey, Approval, KeyRequest, Org, now

TIERS = ("public", "verified_defender", "partner", "admin")
REQUESTABLE = ("verified_defender", "partner")
APPROVALS_NEEDED = {"verified_defender": 1, "partner": 2}
MAX_NAME = 200
_KEY_RE = re.compile(r"^aslg_([0-9a-f]{16})_([A-Za-z0-9_-]{43})$")


class KeyError_(UserError, ValueError):
    """Bad input to a key command (unknown org, tier, request; bad name)."""


@dataclass(frozen=True)
class Principal:
    """Who a valid key belongs to (the tier comes from the database, never from the request)."""

    key_id: str
    org_id: int
    org: str
    tier: str
    key_rpm: int | None
    key_tpm: int | None
    org_rpm: int | None
    org_tpm: int | None
    org_capped: bool = True  # the org has a paid-budget cap (admission must reserve)


@dataclass(frozen=True)
class IssuedKey:
    key: str  # shown once
    key_id: str
    org: str
    tier: str
    expires: datetime | None


def check_name(value: str, what: str = "org") -> str:
    """A printable name of at most 200 characters: no control or format characters (log injection)."""
    if not value or not value.strip():
        raise KeyError_(f"{what}: must not be empty")
    if len(value) > MAX_NAME:
        raise KeyError_(f"{what}: {len(value)} characters, longer than the {MAX_NAME} character limit")
    bad = next((c for c in value if unicodedata.category(c) in ("Cc", "Cf", "Zl", "Zp")), None)
    if bad is not None:
        raise KeyError_(f"{what}: contains the control character U+{ord(bad):04X}")
    return value


def check_tier(tier: str, allowed: tuple[str, ...] = TIERS) -> str:
    if tier not in allowed:
        raise KeyError_(f"tier {tier!r}: choose one of {', '.join(allowed)}")
    return tier


def _sha(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def org_row(session: Session, name: str, create: bool = False) -> Org:
    org = session.scalars(select(Org).where(Org.name == name)).first()
    if org is None:
        if not create:
            raise KeyError_(f"org {name!r}: no such organisation")
        org = Org(name=name, paid_spent_nusd=0, reserved_nusd=0)
        session.add(org)
        session.flush()
    return org


def _issue(
    session: Session,
    org: Org,
    tier: str,
    expires: datetime | None,
    request_id: str | None = None,
    rpm: int | None = None,
    tpm: int | None = None,
) -> IssuedKey:
    key_id = secrets.token_hex(8)
    secret = secrets.token_urlsafe(32)
    session.add(
        ApiKey(
            id=key_id,
            org_id=org.id,
            tier=tier,
            secret_sha256=_sha(secret),
            expires=expires,
            request_id=request_id,
            rpm=rpm,
            tpm=tpm,
        )
    )
    return IssuedKey(key=f"aslg_{key_id}_{secret}", key_id=key_id, org=org.name, tier=tier, expires=expires)


def create_key(
    engine: Engine,
    org: str,
    tier: str,
    expires: datetime | None = None,
    rpm: int | None = None,
    tpm: int | None = None,
) -> IssuedKey:
    check_name(org)
    check_tier(tier)
    with Session(engine) as s, s.begin():
        return _issue(s, org_row(s, org, create=True), tier, expires, rpm=rpm, tpm=tpm)


def list_keys(engine: Engine, org: str | None = None) -> list[dict]:
    with Session(engine) as s:
        q = select(ApiKey, Org.name).join(Org, Org.id == ApiKey.org_id).order_by(ApiKey.created)
        if org is not None:
            q = q.where(Org.name == org)
        t = now()
        rows = []
        for k, name in s.execute(q):
            state = "revoked" if k.revoked else "expired" if k.expires and k.expires <= t else "active"
            rows.append(
                {
                    "id": k.id,
                    "org": name,
                    "tier": k.tier,
                    "state": state,
                    "created": k.created.isoformat(),
                    "expires": k.expires.isoformat() if k.expires else None,
                    "rpm": k.rpm,
                    "tpm": k.tpm,
                }
            )
        return rows


def revoke_key(engine: Engine, key_id: str) -> None:
    with Session(engine) as s, s.begin():
        k = s.get(ApiKey, key_id.removeprefix("aslg_").split("_")[0])
        if k is None:
            raise KeyError_(f"key {key_id!r}: no such key")
        if k.revoked is None:
            k.revoked = now()


def request_key(engine: Engine, org: str, use_case: str, tier: str) -> str:
    check_name(org)
    check_tier(tier, REQUESTABLE)
    if not use_case.strip() or len(use_case) > 10_000:
        raise KeyError_("use case: give a description of at most 10,000 characters")
    rid = "req_" + secrets.token_hex(8)
    with Session(engine) as s, s.begin():
        s.add(KeyRequest(id=rid, org=org, use_case=use_case, tier=tier, status="pending"))
    return rid


def list_requests(engine: Engine) -> list[dict]:
    with Session(engine) as s:
        out = []
        for r in s.scalars(select(KeyRequest).order_by(KeyRequest.created)):
            admins = list(s.scalars(select(Approval.admin).where(Approval.request_id == r.id)))
            out.append(
                {
                    "id": r.id,
                    "org": r.org,
                    "tier": r.tier,
                    "use_case": r.use_case,
                    "status": r.status,
                    "approvals": admins,
                    "needed": APPROVALS_NEEDED[r.tier],
                    "key_id": r.key_id,
                }
            )
        return out


def approve_request(
    engine: Engine, request_id: str, admin: str, expires: datetime | None = None
) -> tuple[int, int, IssuedKey | None]:
    """Record an admin's approval; issue the key when enough different admins approved.

    Returns (approvals, needed, key-or-None)."""
    check_name(admin, "admin")
    with Session(engine) as s, s.begin():
        r = s.get(KeyRequest, request_id, with_for_update=True)
        if r is None:
            raise KeyError_(f"request {request_id!r}: no such request")
        if r.status != "pending":
            raise KeyError_(f"request {request_id}: already {r.status} (key {r.key_id})")
        admins = set(s.scalars(select(Approval.admin).where(Approval.request_id == r.id)))
        if admin in admins:
            raise KeyError_(
                f"request {request_id}: {admin!r} already approved it; a second admin must approve"
            )
        s.add(Approval(request_id=r.id, admin=admin))
        admins.add(admin)
        needed = APPROVALS_NEEDED[r.tier]
        if len(admins) < needed:
            return len(admins), needed, None
        issued = _issue(s, org_row(s, r.org, create=True), r.tier, expires, request_id=r.id)
        r.status, r.key_id = "issued", issued.key_id
        try:
            s.flush()
        except IntegrityError:  # pragma: no cover - concurrent approval by the same admin
            raise KeyError_(f"request {request_id}: concurrent approval, try again") from None
        return len(admins), needed, issued


class AuthError(Exception):
    """A key that does not authenticate (the message is safe to show the client)."""


def parse_bearer(header: str | None) -> tuple[str, str]:
    if not header:
        raise AuthError("missing API key (Authorization: Bearer aslg_...)")
    scheme, _, token = header.partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        raise AuthError("malformed Authorization header (expected: Bearer aslg_...)")
    m = _KEY_RE.match(token)
    if m is None:
        raise AuthError("malformed API key")
    return m[1], m[2]


def authenticate(session: Session, header: str | None) -> Principal:
    """The principal for an Authorization header, or AuthError (missing, malformed, unknown, revoked, expired)."""
    key_id, secret = parse_bearer(header)
    row = session.execute(
        select(ApiKey, Org).join(Org, Org.id == ApiKey.org_id).where(ApiKey.id == key_id)
    ).first()
    if row is None or not hmac.compare_digest(row[0].secret_sha256, _sha(secret)):
        raise AuthError("invalid API key")
    k, org = row
    if k.revoked is not None:
        raise AuthError("API key revoked")
    if k.expires is not None and k.expires <= now():
        raise AuthError("API key expired")
    return Principal(
        key_id=k.id,
        org_id=org.id,
        org=org.name,
        tier=k.tier,
        key_rpm=k.rpm,
        key_tpm=k.tpm,
        org_rpm=org.rpm,
        org_tpm=org.tpm,
        org_capped=org.budget_nusd is not None,
    )
