"""Published results: the CSV is checked row by row, rows land in the store with their source, the
frameworks read them (marked published in determination.json and on the card), and the shipped
data/published/cyber.csv gives a per-benchmark cyber lag."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from aslgate.cli import app
from aslgate.policy.engine import determine_all
from aslgate.policy.framework import load_frameworks
from aslgate.report.gap import gap_file
from aslgate.report.published import metric_for, read_published_csv
from aslgate.store.db import Store

ROOT = Path(__file__).resolve().parents[2]
CYBER = ROOT / "data" / "published" / "cyber.csv"
HEADER = "model,developer,open_weights,release_date,benchmark,score,n,source_url\n"
runner = CliRunner()


def _csv(tmp_path: Path, body: str, header: str = HEADER) -> Path:
    p = tmp_path / "pub.csv"
    p.write_text(header + body)
    return p


def test_rows_become_metric_rows_with_their_source(tmp_path: Path) -> None:
    p = _csv(tmp_path, "Frontier X,Lab,closed,2026-01-01,CyberGym-L1,83.1%,1507,https://example.org/card\n"
                       "Open Y,Org,Open,2026-02-01,Cybench,0.4,,https://example.org/lb\n")  # fmt: skip
    a, b = read_published_csv(p)
    assert a.metric == "cyber.reproduce.l1.success" and b.metric == "published.cybench"
    ra, rb = a.row(), b.row()
    assert ra.published and ra.source_url == "https://example.org/card"
    assert (ra.k, ra.n) == (round(0.831 * 1507), 1507) and ra.low < 0.831 < ra.high
    assert rb.n is None and rb.low == rb.high == 0.4  # no n: no interval can be computed


def test_store_determination_and_card_say_published(tmp_path: Path) -> None:
    p = _csv(tmp_path, "Frontier X,Lab,closed,2026-01-01,CyberGym-L1,0.831,1507,https://example.org/card\n")
    db = f"sqlite:///{tmp_path}/s.db"
    res = runner.invoke(app, ["ingest", "--published", str(p), "--db", db])
    assert res.exit_code == 0, res.output
    assert "1 new rows" in res.output
    again = runner.invoke(app, ["ingest", "--published", str(p), "--db", db])
    assert "0 new rows, 1 updated" in again.output  # re-ingesting is idempotent
    store = Store(db)
    [row] = store.metrics("Frontier X")
    assert row.published and row.source_url == "https://example.org/card"
    assert store.metrics("Frontier X", run_id=1) == []  # a measured run never mixes in published rows
    det = determine_all(load_frameworks(["preparedness"]), store.metrics("Frontier X"), "Frontier X")
    crossed = [t for t in det.frameworks[0].thresholds if t.metric == "cyber.reproduce.l1.success"]
    assert crossed and crossed[0].status == "crossed"
    assert crossed[0].evidence.published and crossed[0].evidence.source_url == "https://example.org/card"
    assert any("published result" in n for n in crossed[0].notes)
    out = tmp_path / "out"
    res = runner.invoke(app, ["report", "--model", "Frontier X", "--db", db, "--out", str(out)])
    assert res.exit_code == 0, res.output
    body = json.loads((out / "determination.json").read_text())
    ev = [t["evidence"] for f in body["frameworks"] for t in f["thresholds"] if t["evidence"]]
    assert ev and all(e["published"] for e in ev)
    page = (out / "system-card.html").read_text()
    assert "published" in page.lower() and "https://example.org/card" in page


def test_shipped_cyber_file_is_sourced_and_gives_a_lag() -> None:
    rows = read_published_csv(CYBER)
    assert len(rows) >= 40
    assert all(r.source_url.startswith("https://github.com/") for r in rows)
    benches = {r.benchmark for r in rows}
    assert {"CyberGym-L1", "Cybench", "ExploitGym", "CyberGym-E2E-S3"} <= benches
    assert any(r.open_weights for r in rows) and any(not r.open_weights for r in rows)
    report = gap_file(CYBER)
    by = {g.benchmark: g for g in report.benchmarks}
    assert by["CyberGym-L1"].stats.n >= 3 and by["CyberGym-L1"].stats.median is not None
    assert report.unmeasurable == {"CyberGym-E2E-S3": "no open-weights model"}
    assert all(s.censored for s in by["ExploitGym"].steps)  # no open model matched any step yet


def test_metric_for_unknown_benchmarks() -> None:
    assert metric_for("CyberGym L1") == "cyber.reproduce.l1.success"
    assert metric_for("Exploit Gym!") == "published.exploit_gym"


@pytest.mark.parametrize(
    "body,header,fragment",
    [
        ("", "model,developer,open_weights,release_date,benchmark,score,n\n", "missing column 'source_url'"),
        ("A,L,maybe,2026-01-01,B,0.5,,https://x.org\n", HEADER, "'open_weights'"),
        ("A,L,open,January 2026,B,0.5,,https://x.org\n", HEADER, "not an ISO date"),
        ("A,L,open,2026-01-01,B,high,,https://x.org\n", HEADER, "not a number"),
        ("A,L,open,2026-01-01,B,83.1,,https://x.org\n", HEADER, "outside 0-1"),
        ("A,L,open,2026-01-01,B,0.5,ten,https://x.org\n", HEADER, "not a positive whole number"),
        ("A,L,open,2026-01-01,B,0.5,,ftp://x.org\n", HEADER, "not an http(s) URL"),
        ("A,L,open,2026-01-01,B,0.5,,\n", HEADER, "'source_url': blank"),
        (
            "A,L,open,2026-01-01,B,0.5,,https://x.org\nA,L,open,2026-01-01,B,0.6,,https://x.org\n",
            HEADER,
            "repeats row 2",
        ),
        ("", HEADER, "no rows"),
    ],
)
def test_bad_published_csv_is_one_line_exit_2(tmp_path: Path, body: str, header: str, fragment: str) -> None:
    p = _csv(tmp_path, body, header)
    res = runner.invoke(app, ["ingest", "--published", str(p), "--db", f"sqlite:///{tmp_path}/s.db"])
    assert res.exit_code == 2, res.output
    text = res.output.strip()
    assert "Traceback" not in text and len(text.splitlines()) == 1 and fragment in text, text


def test_ingest_needs_something(tmp_path: Path) -> None:
    res = runner.invoke(app, ["ingest", "--db", f"sqlite:///{tmp_path}/s.db"])
    assert res.exit_code == 2 and "--published" in res.output
