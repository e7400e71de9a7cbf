"""The gateway on PostgreSQL (a throw-away local server from Debian's postgresql, skipped where absent):
the budget race, the rate-limit race across two `aslgate serve` processes, and the audit log's guards."""

from __future__ import annotations

import asyncio
import glob
import os
import shutil
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from gateway_support import (
    FakeUpstream,
    GatewayProcess,
    KeywordClassifier,
    ServerThread,
    free_port,
    write_determination,
)
from sqlalchemy import create_engine, text
from sqlalchemy.exc import DBAPIError

from aslgate.gateway import audit
from aslgate.gateway.app import create_app
from aslgate.gateway.db import NANO, make_engine
from aslgate.gateway.keys import create_key
from aslgate.gateway.metering import set_org
from aslgate.gateway.settings import Settings

BIN = sorted(glob.glob("/usr/lib/postgresql/*/bin"))


@pytest.fixture(scope="module")
def pg_server() -> Iterator[str]:
    if not BIN or shutil.which("runuser") is None:
        pytest.skip("PostgreSQL server binaries not installed (apt-get install postgresql)")
    pytest.importorskip("psycopg")
    bindir = BIN[-1]
    data = Path(tempfile.mkdtemp(prefix="aslgate-gw-pg-"))  # outside pytest's 0700 tree: runs as postgres
    os.chmod(data, 0o777)
    prefix = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
    port = free_port()
    subprocess.run(
        [*prefix, f"{bindir}/initdb", "-D", str(data / "db"), "-A", "trust", "-U", "aslgate"],
        check=True,
        capture_output=True,
    )
    subprocess.run(
        [
            *prefix,
            f"{bindir}/pg_ctl",
            "-D",
            str(data / "db"),
            "-w",
            "-l",
            str(data / "log"),
            "-o",
            f"-p {port} -k {data} -c listen_addresses=127.0.0.1 -c max_connections=200",
            "start",
        ],
        check=True,
        capture_output=True,
    )
    try:
        yield f"postgresql+psycopg://aslgate@127.0.0.1:{port}"
    finally:
        subprocess.run(
            [*prefix, f"{bindir}/pg_ctl", "-D", str(data / "db"), "-m", "immediate", "stop"],
            capture_output=True,
        )
        shutil.rmtree(data, ignore_errors=True)


@pytest.fixture
def pg_url(pg_server: str) -> str:
    """A fresh database per test."""
    name = f"gw_{uuid.uuid4().hex[:12]}"
    admin = create_engine(f"{pg_server}/postgres", isolation_level="AUTOCOMMIT")
    with admin.connect() as c:
        c.execute(text(f"CREATE DATABASE {name}"))
    admin.dispose()
    return f"{pg_server}/{name}"


@pytest.fixture
def upstream() -> Iterator[FakeUpstream]:
    up = FakeUpstream()
    with ServerThread(up.app(), port=up.port):
        yield up


def _chat(text_: str) -> dict:
    return {"model": "gw-model", "messages": [{"role": "user", "content": text_}]}


def test_budget_race_on_postgres(pg_url: str, upstream: FakeUpstream, tmp_path: Path) -> None:
    det = write_determination(tmp_path / "d.json", ["partner"])
    engine = make_engine(pg_url)
    key = create_key(engine, "race", "partner").key
    set_org(engine, "race", budget_usd=1.0)  # each request reserves ≈ $0.1255: 7 of 50 fit
    s = Settings(upstream=upstream.url, determination=str(det), db=pg_url, default_max_tokens=1000)
    with ServerThread(create_app(s, classifier=KeywordClassifier())) as gw:

        async def go() -> list[int]:
            async with httpx.AsyncClient(timeout=60) as c:
                rs = await asyncio.gather(
                    *[
                        c.post(
                            f"{gw.url}/v1/chat/completions",
                            json=_chat(f"r{i} CHUNKS=1000"),
                            headers={"authorization": f"Bearer {key}"},
                        )
                        for i in range(50)
                    ]
                )
                return [r.status_code for r in rs]

        codes = asyncio.run(go())
    assert set(codes) <= {200, 402} and codes.count(402) > 0
    with engine.connect() as c:
        spent = c.execute(text("SELECT coalesce(sum(cost_nusd), 0) FROM gw_usage")).scalar()
        n = c.execute(text("SELECT count(*) FROM gw_usage")).scalar()
        reserved = c.execute(text("SELECT reserved_nusd FROM gw_orgs WHERE name = 'race'")).scalar()
        audited = c.execute(text("SELECT count(*) FROM gw_audit")).scalar()
    assert spent <= 1.0 * NANO and reserved == 0 and n == codes.count(200) and audited == 50
    assert audit.verify(engine).ok


def test_rate_limit_race_across_two_servers_on_postgres(
    pg_url: str, upstream: FakeUpstream, tmp_path: Path
) -> None:
    det = write_determination(tmp_path / "d.json", ["partner"])
    engine = make_engine(pg_url)
    key = create_key(engine, "race", "partner", rpm=10).key
    with GatewayProcess(upstream.url, det, pg_url) as a, GatewayProcess(upstream.url, det, pg_url) as b:
        if time.time() % 60 > 45:
            time.sleep(61 - time.time() % 60)

        async def go() -> list[int]:
            async with httpx.AsyncClient(timeout=60) as c:
                rs = await asyncio.gather(
                    *[
                        c.post(
                            f"{(a, b)[i % 2].url}/v1/chat/completions",
                            json=_chat(f"n{i}"),
                            headers={"authorization": f"Bearer {key}"},
                        )
                        for i in range(40)
                    ]
                )
                return [r.status_code for r in rs]

        codes = asyncio.run(go())
    assert codes.count(200) == 10 and codes.count(429) == 30, codes
    rep = audit.verify(engine)
    assert rep.ok and rep.records == 40


def test_audit_on_postgres_refuses_changes_and_names_tampering(pg_url: str) -> None:
    from sqlalchemy.orm import Session

    engine = make_engine(pg_url)
    for i in range(5):
        with Session(engine) as s, s.begin():
            audit.append(s, audit.Entry(request_id=f"r{i}", decision="served", status=200, cost_nusd=i))
    with pytest.raises(DBAPIError, match="append-only"), engine.begin() as c:
        c.execute(text("UPDATE gw_audit SET cost_nusd = 0 WHERE seq = 2"))
    with pytest.raises(DBAPIError, match="append-only"), engine.begin() as c:
        c.execute(text("DELETE FROM gw_audit WHERE seq = 2"))
    assert audit.verify(engine).ok
    with engine.begin() as c:  # the database owner can drop the guard; the chain still tells
        c.execute(text("DROP TRIGGER gw_audit_no_change ON gw_audit"))
        c.execute(text("UPDATE gw_audit SET cost_nusd = 99 WHERE seq = 2"))
        c.execute(text("DELETE FROM gw_audit WHERE seq = 4"))
    problems = audit.verify(engine).problems
    assert problems == [
        "record 2: modified (its content does not match its hash)",
        "record 4: missing (deleted)",
    ]
