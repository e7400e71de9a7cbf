"""The store on PostgreSQL: a throw-away local server (Debian's postgresql), skipped where it is absent."""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from aslgate.policy.stats import rate_row
from aslgate.store.db import Store

BIN = sorted(glob.glob("/usr/lib/postgresql/*/bin"))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def pg_url() -> Iterator[str]:
    if not BIN or shutil.which("runuser") is None:
        pytest.skip("PostgreSQL server binaries not installed (apt-get install postgresql)")
    bindir = BIN[-1]
    data = Path(
        tempfile.mkdtemp(prefix="aslgate-pg-")
    )  # outside pytest's 0700 tree: the server runs as postgres
    os.chmod(data, 0o777)
    user = "postgres" if os.geteuid() == 0 else None
    prefix = ["runuser", "-u", user, "--"] if user else []
    port = _free_port()
    subprocess.run([*prefix, f"{bindir}/initdb", "-D", str(data / "db"), "-A", "trust", "-U", "aslgate"],
                   check=True, capture_output=True)  # fmt: skip
    subprocess.run([*prefix, f"{bindir}/pg_ctl", "-D", str(data / "db"), "-w", "-l", str(data / "log"),
                    "-o", f"-p {port} -k {data} -c listen_addresses=127.0.0.1", "start"],
                   check=True, capture_output=True)  # fmt: skip
    try:
        yield f"postgresql+psycopg://aslgate@127.0.0.1:{port}/postgres"
    finally:
        subprocess.run([*prefix, f"{bindir}/pg_ctl", "-D", str(data / "db"), "-m", "immediate", "stop"],
                       capture_output=True)  # fmt: skip
        shutil.rmtree(data, ignore_errors=True)


def test_postgres_round_trip(pg_url: str, tmp_path: Path) -> None:
    store = Store(pg_url)
    run = store.run("pg-run", {"x": 1})
    assert store.run("pg-run") == run  # same name, same run
    store.save_determination(
        "m", {"model": "m", "rows": [rate_row("m", "cyber.reproduce.l1.success", 2, 9).model_dump()]}
    )
    body = store.latest_determination("m")
    assert body is not None and body["rows"][0]["k"] == 2
    Store(pg_url)  # migrations are idempotent on an existing schema
