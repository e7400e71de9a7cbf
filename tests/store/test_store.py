"""Results store: ingest is idempotent and all-or-nothing; bad logs and bad URLs give clear errors."""

from __future__ import annotations

from pathlib import Path

import pytest
from inspect_ai import eval
from inspect_ai.log import read_eval_log

from aslgate.cyber.tasks import cyber_reproduce
from aslgate.evidence import metrics_from_log
from aslgate.store.db import Store, StoreError


@pytest.fixture(scope="module")
def logs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("logs")
    out = {}
    for model in ("aslgate/reference", "aslgate/null"):
        [log] = eval(cyber_reproduce(challenges=["stack-name-copy", "null-deref-lookup", "uaf-list-iterate"]),
                     model=model, log_dir=str(d), display="none")  # fmt: skip
        out[model] = Path(log.location)
    return out


def test_metrics_match_the_log(logs: dict[str, Path]) -> None:
    log = read_eval_log(str(logs["aslgate/reference"]))
    [row] = metrics_from_log(log, "x.eval")
    assert (row.metric, row.k, row.n, row.estimate) == ("cyber.reproduce.l1.success", 3, 3, 1.0)
    assert sorted(row.sample_ids) == sorted(str(s.id) for s in log.samples)
    assert row.low == pytest.approx(0.4385, abs=1e-3) and row.high == 1.0  # Wilson 3/3
    [null_row] = metrics_from_log(read_eval_log(str(logs["aslgate/null"])), "y.eval")
    assert (null_row.k, null_row.n, null_row.sample_ids) == (0, 3, [])


def test_ingest_twice_does_not_duplicate(logs: dict[str, Path], tmp_path: Path) -> None:
    store = Store(f"sqlite:///{tmp_path}/a.db")
    first = store.ingest_log(logs["aslgate/reference"])
    again = store.ingest_log(logs["aslgate/reference"])
    assert (first.status, first.metrics, again.status) == ("ingested", 1, "duplicate")
    [row] = store.metrics("aslgate/reference")
    assert (row.k, row.n) == (3, 3) and row.log == str(logs["aslgate/reference"].resolve())
    assert store.models() == ["aslgate/reference"]
    # reopening the same file runs migrations idempotently and sees the same data
    assert Store(f"sqlite:///{tmp_path}/a.db").metrics("aslgate/reference") == [row]


def test_corrupt_and_truncated_logs_are_skipped(logs: dict[str, Path], tmp_path: Path) -> None:
    store = Store(str(tmp_path / "b.db"))  # a bare path is a SQLite file
    truncated = tmp_path / "truncated.eval"
    data = logs["aslgate/null"].read_bytes()
    truncated.write_bytes(data[: len(data) // 2])
    garbage = tmp_path / "garbage.eval"
    garbage.write_bytes(b"\x00not a zip" * 100)
    for p in (truncated, garbage, tmp_path / "missing.eval"):
        r = store.ingest_log(p)
        assert r.status == "error" and "unreadable eval log" in r.detail
    assert store.logs() == []  # nothing half-written
    assert store.ingest_log(logs["aslgate/null"]).status == "ingested"
    assert len(store.logs()) == 1


def test_determinations_round_trip(tmp_path: Path) -> None:
    store = Store(f"sqlite:///{tmp_path}/c.db")
    assert store.latest_determination("m") is None
    store.save_determination("m", {"model": "m", "n": 1})
    store.save_determination("m", {"model": "m", "n": 2})
    assert store.latest_determination("m") == {"model": "m", "n": 2}


def test_unreachable_database_is_one_line() -> None:
    with pytest.raises(StoreError) as e:
        Store("postgresql+psycopg://user:secret@127.0.0.1:1/nodb")
    msg = str(e.value)
    assert "\n" not in msg and "secret" not in msg and "cannot use database" in msg
    with pytest.raises(StoreError):
        Store("sqlite:////proc/no/such/dir/x.db")


def test_ingest_and_report_commands(logs: dict[str, Path], tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from aslgate.cli import app

    runner = CliRunner()
    db = str(tmp_path / "cli.db")
    bad = tmp_path / "bad.eval"
    bad.write_bytes(b"PK\x03\x04 truncated")
    r = runner.invoke(app, ["ingest", str(logs["aslgate/null"]), str(bad), "--db", db])
    assert r.exit_code == 1 and "ingested" in r.output and "bad.eval" in r.output
    r = runner.invoke(app, ["ingest", str(logs["aslgate/null"]), "--db", db])
    assert r.exit_code == 0 and "duplicate" in r.output
    r = runner.invoke(app, ["report", "--model", "aslgate/null", "--db", db, "--out", str(tmp_path / "c")])
    assert r.exit_code == 2 and "no determination" in r.output.lower() and "Traceback" not in r.output
    r = runner.invoke(
        app, ["ingest", str(logs["aslgate/null"]), "--db", "postgresql+psycopg://u:pw@127.0.0.1:1/x"]
    )
    assert r.exit_code == 2 and "cannot use database" in r.output and "pw" not in r.output
