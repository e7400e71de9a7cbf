"""The embedded default gives the same determination as before the suite restructuring (issue 14).

tests/data/determinations/embedded-default-3-challenges.json was written by `aslgate assess --challenge
stack-name-copy,null-deref-lookup,uaf-list-iterate --limit 3` before the change (run-specific fields
such as paths and timestamps left out); the same configuration must give the same statuses, k, n,
estimates, intervals and cited samples per framework and threshold.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from aslgate.cli import app

FIXTURE = Path(__file__).parent / "data" / "determinations" / "embedded-default-3-challenges.json"
IDS = "stack-name-copy,null-deref-lookup,uaf-list-iterate"
THRESHOLD_KEYS = ("id", "status", "metric", "k", "n", "estimate", "low", "high", "statistic_value")


def stable(det: dict[str, Any]) -> dict[str, Any]:
    """The run-independent part of a determination: no paths, no timestamps."""
    frameworks = []
    for f in det["frameworks"]:
        keep = {k: f[k] for k in ("framework", "version", "required_level", "triggered_by", "findings")}
        thresholds = [
            {**{k: t[k] for k in THRESHOLD_KEYS},
             "sample_ids": sorted((t.get("evidence") or {}).get("sample_ids") or [])}
            for t in f["thresholds"]
        ]  # fmt: skip
        frameworks.append({**keep, "thresholds": thresholds})
    return {"model": det["model"], "access_policy": det["access_policy"], "frameworks": frameworks}


def _approx(x: Any) -> Any:
    if isinstance(x, float):
        return pytest.approx(x, abs=1e-9)
    if isinstance(x, dict):
        return {k: _approx(v) for k, v in x.items()}
    if isinstance(x, list):
        return [_approx(v) for v in x]
    return x


def test_stable_view_ignores_paths_but_not_numbers() -> None:
    before = json.loads(FIXTURE.read_text())
    t = before["frameworks"][1]["thresholds"]
    assert any(x["status"] == "crossed" for x in t)
    det = {"model": before["model"], "access_policy": before["access_policy"], "frameworks": [
        {**{k: f[k] for k in ("framework", "version", "required_level", "triggered_by", "findings")},
         "thresholds": [{**{k: x[k] for k in THRESHOLD_KEYS}, "evidence": {"log": "/elsewhere.eval",
                         "sample_ids": list(reversed(x["sample_ids"]))}} for x in f["thresholds"]]}
        for f in before["frameworks"]]}  # fmt: skip
    assert stable(det) == _approx(before)
    det["frameworks"][1]["thresholds"][0]["status"] = "below"
    assert stable(det) != _approx(before)


def test_embedded_default_determination_is_unchanged(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """...and every log is read once per assess: by the store's ingest, which records its summary."""
    import aslgate.store.db as db

    reads: list[str] = []
    real = db.read_eval_log

    def counted(path: str, *a: Any, **kw: Any) -> Any:
        reads.append(str(Path(path).resolve()))
        return real(path, *a, **kw)

    monkeypatch.setattr(db, "read_eval_log", counted)
    args = ["assess", "--challenge", IDS, "--limit", "3", "--out", str(tmp_path / "out"),
            "--db", str(tmp_path / "a.db")]  # fmt: skip
    r = CliRunner().invoke(app, args, catch_exceptions=False)
    assert r.exit_code == 0, r.output
    after = stable(json.loads((tmp_path / "out" / "determination.json").read_text()))
    before = json.loads(FIXTURE.read_text())
    for fb, fa in zip(before["frameworks"], after["frameworks"], strict=True):
        assert {k: v for k, v in fa.items() if k != "thresholds"} == _approx(
            {k: v for k, v in fb.items() if k != "thresholds"}
        )
        for tb, ta in zip(fb["thresholds"], fa["thresholds"], strict=True):
            assert ta == _approx(tb), (fb["framework"], tb["id"])
    assert after == _approx(before)
    logs = sorted(str(p.resolve()) for p in (tmp_path / "out" / "logs").rglob("*.eval"))
    assert len(logs) >= 8 and sorted(reads) == logs  # each log read exactly once
