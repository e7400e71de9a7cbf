"""The eval harness as a gateway client: `aslgate eval cyber-reproduce --model openai-api/gw/gw-model` runs
through the gateway (Inspect's openai-api provider, real HTTP) against a scripted upstream that answers
with the reference agent's tool calls; the PoC is verified in the sandbox like any model's."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from gateway_support import ROOT, FakeUpstream, KeywordClassifier, ServerThread, write_determination
from sqlalchemy import text

from aslgate.gateway import audit
from aslgate.gateway.app import create_app
from aslgate.gateway.db import make_engine
from aslgate.gateway.keys import create_key
from aslgate.gateway.settings import Settings


def test_inspect_openai_api_provider_through_the_gateway(tmp_path: Path) -> None:
    det = write_determination(tmp_path / "d.json", ["verified_defender", "partner"], offense=True)
    db = f"sqlite:///{tmp_path / 'gw.db'}"
    engine = make_engine(db)
    key = create_key(engine, "cyber-lab", "verified_defender").key
    up = FakeUpstream()
    with ServerThread(up.app(), port=up.port):
        s = Settings(upstream=up.url, determination=str(det), db=db)
        with ServerThread(create_app(s, classifier=KeywordClassifier())) as gw:
            env = {
                **os.environ,
                "PYTHONPATH": str(ROOT / "src"),
                "GW_BASE_URL": f"{gw.url}/v1",
                "GW_API_KEY": key,
                "CI": "1",
            }
            r = subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "aslgate",
                    "eval",
                    "cyber-reproduce",
                    "--model",
                    "openai-api/gw/gw-model",
                    "--challenge",
                    "stack-name-copy",
                    "--log-dir",
                    str(tmp_path / "logs"),
                ],
                capture_output=True,
                text=True,
                env=env,
                timeout=600,
            )
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    assert "1.000" in r.stdout and "reproduced" in r.stdout  # the reference PoC, verified in the sandbox
    assert len(up.requests) == 2 and up.requests[0]["tools"]  # the upstream saw the task's tools
    names = {t["function"]["name"] for t in up.requests[0]["tools"]}
    assert {"bash", "write_file", "submit"} <= names
    with engine.connect() as c:
        rows = c.execute(
            text("SELECT status, decision, tier, org, input_tokens FROM gw_audit ORDER BY seq")
        ).all()
        billed = c.execute(text("SELECT count(*), sum(cost_nusd) FROM gw_usage")).one()
    assert [(x.status, x.decision, x.tier, x.org) for x in rows] == [
        (200, "served", "verified_defender", "cyber-lab")
    ] * 2
    assert billed[0] == 2 and billed[1] > 0
    assert audit.verify(engine).ok
