"""`aslgate serve` and the gateway's administration: keys, credits, orgs, usage, audit."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from aslgate.cli.common import BadInput, app, friendly, out

keys_app = typer.Typer(no_args_is_help=True, help="Gateway API keys and the verification workflow.")
credits_app = typer.Typer(no_args_is_help=True, help="Gateway usage credits.")
orgs_app = typer.Typer(no_args_is_help=True, help="Gateway organisations: budgets and rate limits.")
audit_app = typer.Typer(no_args_is_help=True, help="The gateway's hash-chained audit log.")
app.add_typer(keys_app, name="keys")
app.add_typer(credits_app, name="credits")
app.add_typer(orgs_app, name="orgs")
app.add_typer(audit_app, name="audit")

DbOpt = Annotated[
    str | None,
    typer.Option("--db", help="Gateway database URL (default ASLGATE_GATEWAY_DB or ./aslgate-gateway.db)."),
]


def _date(value: str | None, what: str = "--expires") -> datetime | None:
    if value is None:
        return None
    try:
        d = datetime.fromisoformat(value)
    except ValueError:
        raise BadInput(f"{what} {value!r}: expected a date YYYY-MM-DD or an ISO date-time") from None
    return d.astimezone(UTC).replace(tzinfo=None) if d.tzinfo else d


def _engine(db: str | None):
    from aslgate.gateway.db import make_engine

    return make_engine(db)


@app.command("serve")
@friendly
def serve_cmd(
    upstream: Annotated[
        str, typer.Option("--upstream", help="OpenAI-compatible base URL, e.g. http://127.0.0.1:8000/v1.")
    ],
    determination: Annotated[Path, typer.Option("--determination", help="determination.json to enforce.")],
    db: DbOpt = None,
    host: Annotated[str, typer.Option("--host")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port")] = 8080,
    workers: Annotated[int, typer.Option("--workers", min=1, max=64)] = 1,
    model: Annotated[
        str | None, typer.Option("--model", help="Public model id (default: the determination's).")
    ] = None,
    upstream_model: Annotated[
        str | None, typer.Option("--upstream-model", help="Model name sent upstream.")
    ] = None,
    upstream_api_key: Annotated[
        str | None, typer.Option("--upstream-api-key", envvar="ASLGATE_UPSTREAM_API_KEY", show_default=False)
    ] = None,
    timeout: Annotated[
        float, typer.Option("--timeout", help="Seconds without an upstream byte -> 504.")
    ] = 60.0,
    max_body: Annotated[
        int, typer.Option("--max-body", help="Request body limit in bytes (413 above).")
    ] = 1048576,
    default_max_tokens: Annotated[int, typer.Option("--default-max-tokens")] = 4096,
    price_in: Annotated[float, typer.Option("--price-in", help="USD per million input tokens.")] = 25.0,
    price_out: Annotated[float, typer.Option("--price-out", help="USD per million output tokens.")] = 125.0,
    price: Annotated[
        list[str] | None,
        typer.Option("--price", help="Per-model price MODEL=IN/OUT (USD per million tokens)."),
    ] = None,
    key_rpm: Annotated[int | None, typer.Option("--key-rpm", help="Default requests/minute per key.")] = None,
    key_tpm: Annotated[int | None, typer.Option("--key-tpm", help="Default tokens/minute per key.")] = None,
    org_rpm: Annotated[int | None, typer.Option("--org-rpm", help="Default requests/minute per org.")] = None,
    org_tpm: Annotated[int | None, typer.Option("--org-tpm", help="Default tokens/minute per org.")] = None,
    store_prompts: Annotated[
        bool, typer.Option("--store-prompts", help="Keep prompt text in the audit log.")
    ] = False,
    classifier: Annotated[
        str | None,
        typer.Option("--classifier", help="module:factory of a classifier (default: the offline model)."),
    ] = None,
    graceful_timeout: Annotated[float, typer.Option("--graceful-timeout")] = 30.0,
    max_connections: Annotated[
        int,
        typer.Option(
            "--max-connections", min=1, help="Upstream connections per worker (more requests queue)."
        ),
    ] = 64,
) -> None:
    """Serve the model behind the determination's access policy (OpenAI-compatible API)."""
    from aslgate.gateway.server import run_server
    from aslgate.gateway.settings import Price, Settings

    prices = {}
    for item in price or []:
        name, _, pair = item.rpartition("=")
        try:
            pin, pout = (float(x) for x in pair.split("/"))
        except ValueError:
            raise BadInput(f"--price {item}: expected MODEL=IN/OUT, e.g. m=25/125") from None
        prices[name] = Price(input_per_mtok=pin, output_per_mtok=pout)
    settings = Settings(
        upstream=upstream,
        determination=str(determination),
        db=db,
        host=host,
        port=port,
        workers=workers,
        model=model,
        upstream_model=upstream_model,
        upstream_api_key=upstream_api_key,
        upstream_timeout=timeout,
        max_body_bytes=max_body,
        default_max_tokens=default_max_tokens,
        prices=prices,
        default_price=Price(input_per_mtok=price_in, output_per_mtok=price_out),
        key_rpm=key_rpm,
        key_tpm=key_tpm,
        org_rpm=org_rpm,
        org_tpm=org_tpm,
        store_prompts=store_prompts,
        classifier=classifier,
        graceful_timeout=graceful_timeout,
        max_connections=max_connections,
    )
    run_server(settings)


@keys_app.command("create")
@friendly
def keys_create(
    org: Annotated[str, typer.Option("--org")],
    tier: Annotated[str, typer.Option("--tier", help="public | verified_defender | partner | admin")],
    expires: Annotated[
        str | None, typer.Option("--expires", help="YYYY-MM-DD or ISO date-time (UTC).")
    ] = None,
    rpm: Annotated[int | None, typer.Option("--rpm", help="Requests per minute for this key.")] = None,
    tpm: Annotated[int | None, typer.Option("--tpm", help="Tokens per minute for this key.")] = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
    db: DbOpt = None,
) -> None:
    """Create a key; it is printed once (only its hash is stored)."""
    from aslgate.gateway.keys import create_key

    k = create_key(_engine(db), org, tier, _date(expires), rpm=rpm, tpm=tpm)
    _print_key(k, as_json)


def _print_key(k, as_json: bool) -> None:
    if as_json:
        typer.echo(
            json.dumps(
                {
                    "key": k.key,
                    "id": k.key_id,
                    "org": k.org,
                    "tier": k.tier,
                    "expires": k.expires.isoformat() if k.expires else None,
                }
            )
        )
    else:
        out.print(f"key {k.key_id} ({k.tier}) for org {k.org!r}; shown once, store it now:", highlight=False)
        typer.echo(k.key)


@keys_app.command("list")
@friendly
def keys_list(
    org: Annotated[str | None, typer.Option("--org")] = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
    db: DbOpt = None,
) -> None:
    """List keys (ids, never secrets)."""
    from aslgate.gateway.keys import list_keys

    rows = list_keys(_engine(db), org)
    if as_json:
        typer.echo(json.dumps(rows, indent=2))
        return
    table = Table("id", "org", "tier", "state", "expires")
    for r in rows:
        table.add_row(r["id"], r["org"], r["tier"], r["state"], r["expires"] or "-")
    out.print(table)


@keys_app.command("revoke")
@friendly
def keys_revoke(
    key_id: Annotated[str, typer.Argument(help="Key id (or the key).")], db: DbOpt = None
) -> None:
    """Revoke a key: every later request with it gets 401."""
    from aslgate.gateway.keys import revoke_key

    revoke_key(_engine(db), key_id)
    out.print(f"revoked {key_id.removeprefix('aslg_').split('_')[0]}", highlight=False)


@keys_app.command("request")
@friendly
def keys_request(
    org: Annotated[str, typer.Option("--org")],
    use_case: Annotated[str, typer.Option("--use-case")],
    tier: Annotated[str, typer.Option("--tier", help="verified_defender | partner")],
    as_json: Annotated[bool, typer.Option("--json")] = False,
    db: DbOpt = None,
) -> None:
    """Ask for a verified_defender (one admin approves) or partner key (two different admins)."""
    from aslgate.gateway.keys import APPROVALS_NEEDED, request_key

    rid = request_key(_engine(db), org, use_case, tier)
    if as_json:
        typer.echo(json.dumps({"request": rid, "tier": tier, "needed": APPROVALS_NEEDED[tier]}))
    else:
        out.print(f"request {rid}: needs {APPROVALS_NEEDED[tier]} admin approval(s)", highlight=False)


@keys_app.command("requests")
@friendly
def keys_requests(as_json: Annotated[bool, typer.Option("--json")] = False, db: DbOpt = None) -> None:
    """List key requests and their approvals."""
    from aslgate.gateway.keys import list_requests

    rows = list_requests(_engine(db))
    if as_json:
        typer.echo(json.dumps(rows, indent=2))
        return
    table = Table("request", "org", "tier", "status", "approvals", "use case")
    for r in rows:
        table.add_row(
            r["id"],
            r["org"],
            r["tier"],
            r["status"],
            f"{len(r['approvals'])}/{r['needed']}",
            r["use_case"][:60],
        )
    out.print(table)


@keys_app.command("approve")
@friendly
def keys_approve(
    request: Annotated[str, typer.Argument(help="Request id (req_...).")],
    admin: Annotated[str, typer.Option("--admin", help="Name of the approving admin.")],
    expires: Annotated[str | None, typer.Option("--expires")] = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
    db: DbOpt = None,
) -> None:
    """Approve a request; the key is issued (and printed once) when enough different admins approved."""
    from aslgate.gateway.keys import approve_request

    have, needed, key = approve_request(_engine(db), request, admin, _date(expires))
    if key is None:
        if as_json:
            typer.echo(json.dumps({"request": request, "approvals": have, "needed": needed, "key": None}))
        else:
            out.print(
                f"request {request}: {have}/{needed} approvals; another admin must approve", highlight=False
            )
        return
    _print_key(key, as_json)


@credits_app.command("grant")
@friendly
def credits_grant(
    org: Annotated[str, typer.Option("--org")],
    usd: Annotated[float, typer.Option("--usd", help="Amount in USD.")],
    expires: Annotated[str | None, typer.Option("--expires")] = None,
    db: DbOpt = None,
) -> None:
    """Grant usage credits to an org (consumed before paid usage; they expire)."""
    from aslgate.gateway.metering import grant_credits

    cid = grant_credits(_engine(db), org, usd, _date(expires))
    out.print(
        f"credit {cid}: ${usd:,.2f} for {org!r}" + (f", expires {expires}" if expires else ""),
        highlight=False,
    )


@orgs_app.command("set")
@friendly
def orgs_set(
    org: Annotated[str, typer.Option("--org")],
    budget_usd: Annotated[float | None, typer.Option("--budget-usd", help="Cap on paid usage (USD).")] = None,
    no_budget: Annotated[bool, typer.Option("--no-budget", help="Remove the paid-usage cap.")] = False,
    rpm: Annotated[int | None, typer.Option("--rpm", help="Requests per minute (0: default).")] = None,
    tpm: Annotated[int | None, typer.Option("--tpm", help="Tokens per minute (0: default).")] = None,
    db: DbOpt = None,
) -> None:
    """Set an org's paid budget and rate limits (creating the org if needed)."""
    from aslgate.gateway.metering import set_org

    set_org(_engine(db), org, budget_usd, no_budget, rpm, tpm)
    out.print(f"org {org!r} updated", highlight=False)


@app.command("usage")
@friendly
def usage_cmd(
    org: Annotated[str | None, typer.Option("--org")] = None,
    determination: Annotated[
        Path | None, typer.Option("--determination", help="Show this determination's halt/tier state too.")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
    db: DbOpt = None,
) -> None:
    """Tokens, cost, credits and budget per org (and the determination's halt_development)."""
    from aslgate.gateway.metering import usage_report
    from aslgate.gateway.policy import load_determination

    rows = usage_report(_engine(db), org)
    policy = load_determination(determination) if determination else None
    if as_json:
        doc: dict = {"orgs": rows}
        if policy:
            doc["model"] = policy.model
            doc["access_policy"] = policy.access.model_dump()
            doc["halt_development"] = policy.access.halt_development
        typer.echo(json.dumps(doc, indent=2))
        return
    if policy:
        halt = "HALT DEVELOPMENT required" if policy.access.halt_development else "no development halt"
        out.print(
            f"{policy.model}: tiers {', '.join(policy.access.allowed_tiers) or 'none'}; {halt}",
            highlight=False,
        )
    table = Table(
        "org",
        "requests",
        "input tok",
        "output tok",
        "cost $",
        "credit used $",
        "paid $",
        "credits left $",
        "budget $",
    )
    for r in rows:
        table.add_row(
            r["org"],
            str(r["requests"]),
            str(r["input_tokens"]),
            str(r["output_tokens"]),
            f"{r['cost_usd']:.6f}",
            f"{r['credit_used_usd']:.6f}",
            f"{r['paid_usd']:.6f}",
            f"{r['credits_remaining_usd']:.6f}",
            "-" if r["budget_usd"] is None else f"{r['budget_usd']:.2f}",
        )
    out.print(table)


@audit_app.command("verify")
@friendly
def audit_verify(as_json: Annotated[bool, typer.Option("--json")] = False, db: DbOpt = None) -> None:
    """Check the audit chain; name every modified, deleted, inserted or reordered record (exit 1)."""
    from aslgate.gateway.audit import verify

    rep = verify(_engine(db))
    if as_json:
        typer.echo(
            json.dumps(
                {
                    "ok": rep.ok,
                    "records": rep.records,
                    "head_seq": rep.head_seq,
                    "head_hash": rep.head_hash,
                    "problems": rep.problems,
                },
                indent=2,
            )
        )
    else:
        for p in rep.problems:
            out.print(f"BROKEN {p}", highlight=False, soft_wrap=True)
        state = "intact" if rep.ok else f"{len(rep.problems)} problem(s)"
        out.print(
            f"audit log: {rep.records} records, {state}; head {rep.head_seq} {rep.head_hash}", highlight=False
        )
    raise typer.Exit(0 if rep.ok else 1)
