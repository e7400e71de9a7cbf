"""The gateway's command line (keys, verification workflow, credits, usage, audit verify), audit tampering,
and real `aslgate serve` processes: a rate-limit race across two servers on one database, SIGHUP reload,
and SIGTERM during 20 in-flight streams losing no billing or audit record."""

from __future__ import annotations

import asyncio
import json
import signal
import sqlite3
import time
from pathlib import Path

import httpx
import pytest
from gateway_support import FakeUpstream, GatewayProcess, ServerThread, write_determination
from sqlalchemy import text
from typer.testing import CliRunner

from aslgate.cli import app
from aslgate.gateway import audit
from aslgate.gateway.audit import Entry
from aslgate.gateway.db import make_engine
from aslgate.gateway.keys import create_key

runner = CliRunner()


def run(*args: str) -> tuple[int, str]:
    r = runner.invoke(app, list(args))
    return r.exit_code, r.output


def _db(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'gw.db'}"


# ---------------------------------------------------------------- keys and the verification workflow


def test_keys_create_list_revoke_shows_the_key_once_and_stores_only_a_hash(tmp_path: Path) -> None:
    db = _db(tmp_path)
    code, out = run("keys", "create", "--org", "acme", "--tier", "partner", "--json", "--db", db)
    assert code == 0, out
    k = json.loads(out)
    assert k["key"].startswith(f"aslg_{k['id']}_") and k["tier"] == "partner"
    raw = (tmp_path / "gw.db").read_bytes() + (tmp_path / "gw.db-wal").read_bytes()
    secret = k["key"].split("_", 2)[2]
    assert secret.encode() not in raw and k["id"].encode() in raw
    code, out = run("keys", "list", "--json", "--db", db)
    [row] = json.loads(out)
    assert row["state"] == "active" and "key" not in row and secret not in out
    assert run("keys", "revoke", k["id"], "--db", db)[0] == 0
    assert json.loads(run("keys", "list", "--json", "--db", db)[1])[0]["state"] == "revoked"
    code, out = run("keys", "create", "--org", "acme", "--tier", "root", "--db", db)
    assert code == 2 and "tier 'root'" in out
    code, out = run("keys", "create", "--org", "acme", "--tier", "public", "--expires", "soon", "--db", db)
    assert code == 2 and "--expires" in out
    assert run("keys", "revoke", "ffffffffffffffff", "--db", db)[0] == 2


def test_partner_key_needs_two_different_admins(tmp_path: Path) -> None:
    db = _db(tmp_path)
    code, out = run(
        "keys",
        "request",
        "--org",
        "lab",
        "--use-case",
        "patch triage",
        "--tier",
        "partner",
        "--json",
        "--db",
        db,
    )
    rid = json.loads(out)["request"]
    code, out = run("keys", "approve", rid, "--admin", "alice", "--json", "--db", db)
    assert code == 0 and json.loads(out) == {"request": rid, "approvals": 1, "needed": 2, "key": None}
    code, out = run("keys", "approve", rid, "--admin", "alice", "--db", db)
    assert code == 2 and "second admin" in out  # the same admin twice does not count
    assert json.loads(run("keys", "list", "--json", "--db", db)[1]) == []
    code, out = run("keys", "approve", rid, "--admin", "bob", "--json", "--db", db)
    issued = json.loads(out)
    assert code == 0 and issued["tier"] == "partner" and issued["key"].startswith("aslg_")
    assert run("keys", "approve", rid, "--admin", "carol", "--db", db)[0] == 2  # already issued
    code, out = run(
        "keys",
        "request",
        "--org",
        "d",
        "--use-case",
        "x",
        "--tier",
        "verified_defender",
        "--json",
        "--db",
        db,
    )
    rid2 = json.loads(out)["request"]
    assert json.loads(run("keys", "approve", rid2, "--admin", "alice", "--json", "--db", db)[1])["tier"] == (
        "verified_defender"
    )
    assert run("keys", "request", "--org", "d", "--use-case", "x", "--tier", "admin", "--db", db)[0] == 2
    assert run("keys", "approve", "req_nope", "--admin", "a", "--db", db)[0] == 2


@pytest.mark.parametrize(
    "org",
    [
        "'; DROP TABLE gw_keys; --",
        'x" OR 1=1 --',
        "Robert'); DELETE FROM gw_orgs;--",
        "ünï€ødé 组织",
        "a%_\\",
    ],
)
def test_org_names_with_sql_metacharacters_round_trip(tmp_path: Path, org: str) -> None:
    db = _db(tmp_path)
    assert run("keys", "create", "--org", org, "--tier", "public", "--db", db)[0] == 0
    assert run("keys", "create", "--org", "other", "--tier", "public", "--db", db)[0] == 0
    rows = json.loads(run("keys", "list", "--org", org, "--json", "--db", db)[1])
    assert [r["org"] for r in rows] == [org]  # stored verbatim, matched exactly (no LIKE, no injection)
    assert run("credits", "grant", "--org", org, "--usd", "5", "--db", db)[0] == 0
    usage = json.loads(run("usage", "--org", org, "--json", "--db", db)[1])["orgs"]
    assert usage[0]["org"] == org and usage[0]["credits_remaining_usd"] == 5.0
    assert len(json.loads(run("keys", "list", "--json", "--db", db)[1])) == 2


@pytest.mark.parametrize(
    "org", ["evil\x1b[31m", "line\nbreak", "nul\x00", "zw\u200bsp", "x" * 10_000, "", "  "]
)
def test_org_names_with_control_characters_or_10kb_are_one_line_errors(tmp_path: Path, org: str) -> None:
    db = _db(tmp_path)
    for args in (
        ["keys", "create", "--org", org, "--tier", "public"],
        ["credits", "grant", "--org", org, "--usd", "1"],
        ["keys", "request", "--org", org, "--use-case", "u", "--tier", "partner"],
    ):
        code, out = run(*args, "--db", db)
        assert code == 2 and out.startswith("error: org") and "Traceback" not in out
    assert json.loads(run("keys", "list", "--json", "--db", db)[1]) == []


def test_credits_validation_and_usage_shows_halt_development(tmp_path: Path) -> None:
    db = _db(tmp_path)
    assert run("credits", "grant", "--org", "a", "--usd", "-1", "--db", db)[0] == 2
    assert run("credits", "grant", "--org", "a", "--usd", "nan", "--db", db)[0] == 2
    assert run("credits", "grant", "--org", "a", "--usd", "10", "--expires", "2020-01-01", "--db", db)[0] == 0
    det = write_determination(tmp_path / "d.json", ["partner"], halt=True)
    code, out = run("usage", "--json", "--determination", str(det), "--db", db)
    doc = json.loads(out)
    assert doc["halt_development"] is True and doc["orgs"][0]["credits_remaining_usd"] == 0.0
    assert doc["orgs"][0]["credits_expired_usd"] == 10.0
    code, out = run("usage", "--determination", str(det), "--db", db)
    assert code == 0 and "HALT DEVELOPMENT" in out
    assert run("usage", "--org", "nobody", "--db", db)[0] == 2


# ---------------------------------------------------------------- the audit log


def _filled(tmp_path: Path, n: int = 6) -> tuple[str, Path]:
    db = _db(tmp_path)
    engine = make_engine(db)
    from sqlalchemy.orm import Session

    for i in range(n):
        with Session(engine) as s, s.begin():
            audit.append(
                s,
                Entry(
                    request_id=f"r{i}",
                    org="acme",
                    tier="partner",
                    decision="served",
                    status=200,
                    input_tokens=10 + i,
                    output_tokens=i,
                    cost_nusd=1000 * i,
                ),
            )
    engine.dispose()
    return db, tmp_path / "gw.db"


def _tamper(path: Path, *sql: str) -> None:
    con = sqlite3.connect(path)
    con.execute("DROP TRIGGER IF EXISTS gw_audit_no_update")
    con.execute("DROP TRIGGER IF EXISTS gw_audit_no_delete")
    for s in sql:
        con.execute(s)
    con.commit()
    con.close()


def test_audit_table_refuses_update_and_delete(tmp_path: Path) -> None:
    _, path = _filled(tmp_path, 2)
    con = sqlite3.connect(path)
    for stmt in ("UPDATE gw_audit SET cost_nusd = 0", "DELETE FROM gw_audit WHERE seq = 1"):
        with pytest.raises(sqlite3.DatabaseError, match="append-only"):
            con.execute(stmt)
    con.close()


def test_audit_verify_intact(tmp_path: Path) -> None:
    db, _ = _filled(tmp_path)
    code, out = run("audit", "verify", "--db", db)
    assert code == 0 and "6 records, intact" in out


@pytest.mark.parametrize(
    ("sql", "expected"),
    [
        (["UPDATE gw_audit SET cost_nusd = 0 WHERE seq = 3"], ["record 3: modified"]),
        (["UPDATE gw_audit SET org = 'other' WHERE seq = 6"], ["record 6: modified"]),
        (["DELETE FROM gw_audit WHERE seq = 4"], ["record 4: missing (deleted)"]),
        (["DELETE FROM gw_audit WHERE seq IN (2, 3)"], ["record 2-3: missing (deleted)"]),
        (["DELETE FROM gw_audit WHERE seq = 6"], ["record 6: missing from the end (deleted)"]),
        (
            [  # swap the content of records 2 and 5 (every column but the sequence number)
                "CREATE TEMP TABLE t AS SELECT * FROM gw_audit WHERE seq IN (2, 5)",
                "DELETE FROM gw_audit WHERE seq IN (2, 5)",
                "INSERT INTO gw_audit SELECT CASE seq WHEN 2 THEN 5 ELSE 2 END, at, request_id, key_id, org, tier, model,"
                " decision, verdict, score, prompt_sha256, prompt, input_tokens, output_tokens, cost_nusd, latency_ms,"
                " status, detail, prev_hash, hash FROM t",
            ],
            [
                "record 2: holds record 5's content (reordered)",
                "record 5: holds record 2's content (reordered)",
            ],
        ),
        (
            [
                "INSERT INTO gw_audit SELECT 7, at, 'forged', key_id, org, tier, model, decision, verdict, score,"
                " prompt_sha256, prompt, input_tokens, output_tokens, cost_nusd, latency_ms, status, detail, hash, hash"
                " FROM gw_audit WHERE seq = 6"
            ],
            ["record 7: modified", "record 7: inserted after the head of the log"],
        ),
    ],
    ids=["edit-middle", "edit-last", "delete-one", "delete-two", "delete-last", "swap", "insert"],
)
def test_audit_verify_names_tampered_records(tmp_path: Path, sql: list[str], expected: list[str]) -> None:
    db, path = _filled(tmp_path)
    _tamper(path, *sql)
    code, out = run("audit", "verify", "--json", "--db", db)
    rep = json.loads(out)
    assert code == 1 and rep["ok"] is False
    assert sorted(rep["problems"]) == sorted(
        p for p in rep["problems"] if any(p.startswith(e) for e in expected)
    )
    for e in expected:
        assert any(p.startswith(e) for p in rep["problems"]), (e, rep["problems"])
    code, out = run("audit", "verify", "--db", db)
    assert code == 1 and "BROKEN record" in out


def test_audit_forged_chain_insert_in_the_middle_is_named(tmp_path: Path) -> None:
    """A forger who recomputes a valid hash for a renumbered record still breaks the next link."""
    db, path = _filled(tmp_path)
    con = sqlite3.connect(path)
    prev = con.execute("SELECT hash FROM gw_audit WHERE seq = 3").fetchone()[0]
    con.close()
    vals = {k: None for k in audit.FIELDS} | {
        "seq": 4,
        "at": "x",
        "request_id": "forged",
        "decision": "served",
        "input_tokens": 0,
        "output_tokens": 0,
        "cost_nusd": 0,
        "latency_ms": 0.0,
        "status": 200,
        "detail": "{}",
    }
    h = audit.record_hash(prev, vals)
    _tamper(
        path,
        "UPDATE gw_audit SET seq = seq + 100 WHERE seq >= 4",
        "UPDATE gw_audit SET seq = seq - 99 WHERE seq >= 104",
        "INSERT INTO gw_audit (seq, at, request_id, decision, input_tokens, output_tokens, cost_nusd, latency_ms,"
        f" status, detail, prev_hash, hash) VALUES (4, 'x', 'forged', 'served', 0, 0, 0, 0.0, 200, '{{}}', '{prev}', '{h}')",
    )
    rep = json.loads(run("audit", "verify", "--json", "--db", db)[1])
    assert not rep["ok"]
    assert any(p.startswith("record 5:") for p in rep["problems"]), rep["problems"]  # the old 4, renumbered
    assert any("inserted after the head" in p for p in rep["problems"])


# ---------------------------------------------------------------- real `aslgate serve` processes


@pytest.fixture
def upstream() -> FakeUpstream:
    up = FakeUpstream()
    with ServerThread(up.app(), port=up.port):
        yield up


def _wait_for_minute_start() -> None:
    """Rate windows are calendar minutes: do not start a race in a minute's last seconds."""
    if time.time() % 60 > 45:
        time.sleep(61 - time.time() % 60)


def test_rate_limit_race_across_two_servers_on_one_database(tmp_path: Path, upstream: FakeUpstream) -> None:
    db = _db(tmp_path)
    det = write_determination(tmp_path / "d.json", ["partner"])
    engine = make_engine(db)
    key = create_key(engine, "race", "partner", rpm=10).key
    with GatewayProcess(upstream.url, det, db) as a, GatewayProcess(upstream.url, det, db) as b:
        _wait_for_minute_start()

        async def go() -> list[int]:
            async with httpx.AsyncClient(timeout=60) as c:
                rs = await asyncio.gather(
                    *[
                        c.post(
                            f"{(a, b)[i % 2].url}/v1/chat/completions",
                            headers={"authorization": f"Bearer {key}"},
                            json={"model": "gw-model", "messages": [{"role": "user", "content": f"n{i}"}]},
                        )
                        for i in range(40)
                    ]
                )
                return [r.status_code for r in rs]

        codes = asyncio.run(go())
    assert codes.count(200) == 10 and codes.count(429) == 30, codes
    with engine.connect() as c:
        assert c.execute(text("SELECT count(*) FROM gw_usage")).scalar() == 10
        assert c.execute(text("SELECT count(*) FROM gw_audit")).scalar() == 40
    assert audit.verify(engine).ok


def test_sighup_reloads_the_determination_without_dropping_requests(
    tmp_path: Path, upstream: FakeUpstream
) -> None:
    db = _db(tmp_path)
    det = write_determination(tmp_path / "d.json", ["public", "partner"])
    engine = make_engine(db)
    pub = create_key(engine, "p", "public").key
    with GatewayProcess(upstream.url, det, db) as gw:
        h = {"authorization": f"Bearer {pub}"}
        body = {
            "model": "gw-model",
            "messages": [{"role": "user", "content": "slow CHUNKS=20 GAP=0.05"}],
            "stream": True,
        }
        with (
            httpx.Client(timeout=30) as c,
            c.stream("POST", f"{gw.url}/v1/chat/completions", json=body, headers=h) as r,
        ):
            it = r.iter_lines()
            next(it)
            write_determination(det, ["partner"])
            assert gw.proc is not None
            gw.proc.send_signal(signal.SIGHUP)
            rest = list(it)  # the stream that started under the old policy finishes
        assert "data: [DONE]" in rest
        time.sleep(0.5)
        r = httpx.post(f"{gw.url}/v1/chat/completions", json={**body, "stream": False}, headers=h, timeout=30)
        assert r.status_code == 403 and r.json()["error"]["code"] == "tier_not_allowed"
        assert gw.proc.poll() is None  # SIGHUP did not stop the server
    with engine.connect() as c:
        assert c.execute(text("SELECT count(*) FROM gw_audit")).scalar() == 2


@pytest.mark.parametrize("graceful", [30.0, 0.5], ids=["streams-finish", "streams-cut-at-timeout"])
def test_sigterm_during_twenty_streams_loses_no_billing_or_audit_record(
    tmp_path: Path, upstream: FakeUpstream, graceful: float
) -> None:
    db = _db(tmp_path)
    det = write_determination(tmp_path / "d.json", ["partner"])
    engine = make_engine(db)
    key = create_key(engine, "acme", "partner").key
    gw = GatewayProcess(upstream.url, det, db, 2, "--graceful-timeout", str(graceful))
    with gw:
        body = {
            "model": "gw-model",
            "messages": [{"role": "user", "content": "CHUNKS=30 GAP=0.1"}],
            "stream": True,
        }

        async def stream_one(
            c: httpx.AsyncClient, started: asyncio.Event, counter: list[int]
        ) -> tuple[int, bool]:
            chunks, done = 0, False
            try:
                async with c.stream(
                    "POST",
                    f"{gw.url}/v1/chat/completions",
                    json=body,
                    headers={"authorization": f"Bearer {key}"},
                ) as r:
                    async for line in r.aiter_lines():
                        if line.startswith("data: "):
                            chunks += 1
                            if chunks == 2:
                                counter[0] += 1
                                if counter[0] == 20:
                                    started.set()
                            done = done or line == "data: [DONE]"
            except httpx.HTTPError:
                pass
            return chunks, done

        async def go() -> list[tuple[int, bool]]:
            started, counter = asyncio.Event(), [0]
            async with httpx.AsyncClient(timeout=60, limits=httpx.Limits(max_connections=40)) as c:
                tasks = [asyncio.create_task(stream_one(c, started, counter)) for _ in range(20)]
                try:
                    await asyncio.wait_for(started.wait(), 90)
                except TimeoutError:
                    raise AssertionError(
                        f"only {counter[0]} of 20 streams started; {gw.log_path.read_text()[-3000:]}"
                    ) from None
                assert gw.proc is not None
                gw.proc.send_signal(signal.SIGTERM)  # all 20 are mid-stream
                gw.signalled = True
                return await asyncio.gather(*tasks)

        results = asyncio.run(go())
        rc, log = gw.stop()
    assert rc == 0, log[-2000:]
    finished = sum(1 for _, done in results if done)
    if graceful >= 30:
        assert finished == 20
    else:
        assert finished < 20  # cut at the graceful timeout
    with engine.connect() as c:
        rows = c.execute(text("SELECT status, decision, output_tokens, cost_nusd FROM gw_audit")).all()
        usage = c.execute(text("SELECT count(*), sum(cost_nusd) FROM gw_usage")).one()
        reserved = c.execute(text("SELECT sum(reserved_nusd) FROM gw_orgs")).scalar()
    assert len(rows) == 20 and usage[0] == 20 and reserved == 0  # every stream settled, none lost
    assert sum(r.cost_nusd for r in rows) == usage[1]
    assert sum(1 for r in rows if r.status == 200) == finished
    assert all(r.output_tokens > 0 for r in rows)  # each billed for what it was sent
    assert audit.verify(engine).ok
    lines = [json.loads(x) for x in log.splitlines() if x.startswith("{")]
    assert sum(1 for x in lines if x.get("msg") == "request") == 20  # structured JSON logs, one per request


def test_serve_with_bad_input_is_a_one_line_error(tmp_path: Path) -> None:
    db = _db(tmp_path)
    code, out = run(
        "serve",
        "--upstream",
        "http://127.0.0.1:9/v1",
        "--determination",
        str(tmp_path / "no.json"),
        "--db",
        db,
    )
    assert code == 2 and "determination file does not exist" in out
    bad = tmp_path / "bad.json"
    bad.write_text(
        '{"model": "m", "summary": "", "frameworks": [], "gaps": [], "access_policy": {"allowed_tiers": ["root"]}}'
    )
    code, out = run("serve", "--upstream", "http://127.0.0.1:9/v1", "--determination", str(bad), "--db", db)
    assert code == 2 and "access_policy.allowed_tiers" in out and "Traceback" not in out
    det = write_determination(tmp_path / "d.json", ["partner"])
    code, out = run(
        "serve",
        "--upstream",
        "http://127.0.0.1:9/v1",
        "--determination",
        str(det),
        "--db",
        db,
        "--classifier",
        "no_such_module:factory",
    )
    assert code == 2 and "--classifier 'no_such_module:factory'" in out
    code, out = run(
        "serve",
        "--upstream",
        "http://127.0.0.1:9/v1",
        "--determination",
        str(det),
        "--db",
        "postgresql+psycopg://u:secret@127.0.0.1:1/x",
    )
    assert code == 2 and "cannot use gateway database" in out and "secret" not in out
