"""The gateway against a scripted upstream, over real HTTP on 127.0.0.1: auth, tiers, policy, bad input,
upstream failures, streaming, billing, audit. Every refusal asserts the status, the OpenAI error shape,
that nothing was billed or reserved, and that the audit log holds one intact record per request."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from gateway_support import FakeUpstream, KeywordClassifier, ServerThread, write_determination
from sqlalchemy import func, select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from aslgate.gateway import audit
from aslgate.gateway.app import create_app
from aslgate.gateway.db import NANO, AuditRecord, Org, Usage, make_engine
from aslgate.gateway.keys import create_key, revoke_key
from aslgate.gateway.metering import grant_credits, set_org
from aslgate.gateway.settings import Settings

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


@dataclass
class Env:
    url: str
    engine: Engine
    upstream: FakeUpstream
    classifier: KeywordClassifier
    determination: Path
    tmp: Path
    gateway: Any = None

    def key(self, tier: str = "partner", org: str = "acme", **kw: Any) -> str:
        return create_key(self.engine, org, tier, **kw).key

    def post(
        self,
        key: str | None,
        body: Any = None,
        raw: bytes | None = None,
        headers: dict | None = None,
        timeout: float = 30,
    ) -> httpx.Response:
        h = {"authorization": f"Bearer {key}"} if key is not None else {}
        h.update(headers or {})
        if raw is None:
            raw = json.dumps(body if body is not None else chat("hello")).encode()
        return httpx.post(
            f"{self.url}/v1/chat/completions",
            content=raw,
            headers={"content-type": "application/json", **h},
            timeout=timeout,
        )

    def quiesce(self) -> None:
        """Wait until every admitted request has settled (a 200 settles just after its body is sent)."""
        import time

        deadline = time.monotonic() + 10
        while ((self.gateway and self.gateway.inflight) or self.reserved()) and time.monotonic() < deadline:
            time.sleep(0.01)

    def usage_rows(self) -> int:
        self.quiesce()
        with Session(self.engine) as s:
            return s.scalar(select(func.count(Usage.id))) or 0

    def charged(self) -> int:
        self.quiesce()
        with Session(self.engine) as s:
            return s.scalar(select(func.coalesce(func.sum(Usage.cost_nusd), 0))) or 0

    def reserved(self) -> int:
        with Session(self.engine) as s:
            return s.scalar(select(func.coalesce(func.sum(Org.reserved_nusd), 0))) or 0

    def audit_rows(self) -> list[AuditRecord]:
        self.quiesce()
        with Session(self.engine) as s:
            return list(s.scalars(select(AuditRecord).order_by(AuditRecord.seq)))

    def assert_nothing_billed(self, requests: int) -> None:
        assert self.usage_rows() == 0 and self.charged() == 0 and self.reserved() == 0
        rows = self.audit_rows()
        assert len(rows) == requests  # one record per request, none lost
        assert audit.verify(self.engine).ok


def chat(text: str, **kw: Any) -> dict[str, Any]:
    return {"model": "gw-model", "messages": [{"role": "user", "content": text}], **kw}


def assert_error(r: httpx.Response, status: int, code: str | None = None) -> dict:
    assert r.status_code == status, r.text
    body = r.json()
    assert set(body) == {"error"} and {"message", "type", "code"} <= set(body["error"])
    assert isinstance(body["error"]["message"], str) and body["error"]["message"]
    if code is not None:
        assert body["error"]["code"] == code
    return body["error"]


def _start(tmp_path: Path, tiers: list[str], offense: bool = False, **settings: Any) -> Iterator[Env]:
    det = write_determination(tmp_path / "determination.json", tiers, offense=offense)
    db = f"sqlite:///{tmp_path / 'gw.db'}"
    engine = make_engine(db)
    up = FakeUpstream()
    clf = KeywordClassifier()
    with ServerThread(up.app(), port=up.port):
        s = Settings(upstream=up.url, determination=str(det), db=db, **settings)
        app = create_app(s, classifier=clf)
        with ServerThread(app) as gw:
            yield Env(gw.url, engine, up, clf, det, tmp_path, app.state.gateway)


@pytest.fixture
def env(tmp_path: Path) -> Iterator[Env]:
    yield from _start(
        tmp_path,
        ["public", "verified_defender", "partner"],
        offense=True,
        upstream_timeout=1.5,
        max_body_bytes=64 * 1024,
        stream_check_every_chars=10,
    )


# ---------------------------------------------------------------- keys → 401


def test_served_request_is_billed_and_audited(env: Env) -> None:
    key = env.key("partner")
    r = env.post(key, chat("hello CHUNKS=3"))
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["choices"][0]["message"]["content"] == "tok tok tok"
    usage = body["usage"]
    assert env.upstream.requests[-1]["model"] == "gw-model"
    expected = (
        usage["prompt_tokens"] * 25_000 + usage["completion_tokens"] * 125_000
    )  # nano-USD at 25/125 per M
    assert env.charged() == expected and env.reserved() == 0
    [rec] = env.audit_rows()
    assert (rec.status, rec.decision, rec.org, rec.tier, rec.verdict) == (
        200,
        "served",
        "acme",
        "partner",
        "benign",
    )
    assert rec.cost_nusd == expected and rec.output_tokens == 3 and rec.prompt is None
    assert rec.prompt_sha256 == audit.prompt_hash("hello CHUNKS=3")


@pytest.mark.parametrize(
    "header",
    [
        None,
        "Basic abc",
        "Bearer",
        "Bearer not-a-key",
        "Bearer aslg_0123456789abcdef_" + "x" * 43,
        "Bearer aslg_'; DROP TABLE gw_keys; --",
        "Bearer aslg_\x01\x02",
        "Bearer " + "A" * 10_000,
    ],
)
def test_missing_malformed_unknown_keys_are_401(env: Env, header: str | None) -> None:
    h = {} if header is None else {"authorization": header}
    try:
        r = httpx.post(f"{env.url}/v1/chat/completions", json=chat("hi"), headers=h, timeout=10)
    except httpx.LocalProtocolError:  # httpx will not send control characters: write the bytes ourselves
        status = _raw_post(env.url, header or "")
        assert status == 400  # the HTTP layer rejects the header before the app sees it
        assert env.upstream.requests == []
        env.assert_nothing_billed(0)
        return
    err = assert_error(r, 401, "invalid_api_key")
    assert err["type"] == "authentication_error"
    assert env.upstream.requests == []
    env.assert_nothing_billed(1)


def _raw_post(url: str, authorization: str) -> int:
    import socket

    host, port = url.removeprefix("http://").split(":")
    body = json.dumps(chat("hi")).encode()
    req = (
        f"POST /v1/chat/completions HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n"
        f"Authorization: {authorization}\r\nContent-Length: {len(body)}\r\nConnection: close\r\n\r\n"
    ).encode()
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(req + body)
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    return int(data.split(b" ", 2)[1])


def test_revoked_and_expired_keys_are_401(env: Env) -> None:
    from datetime import datetime, timedelta

    revoked = env.key("partner")
    assert env.post(revoked).status_code == 200
    revoke_key(env.engine, revoked.split("_")[1])
    assert "revoked" in assert_error(env.post(revoked), 401)["message"]
    expired = create_key(env.engine, "acme", "partner", expires=datetime.now() - timedelta(days=1)).key
    assert "expired" in assert_error(env.post(expired), 401)["message"]
    wrong_secret = revoked[:-4] + "abcd"
    assert_error(env.post(wrong_secret), 401)
    assert len(env.upstream.requests) == 1 and env.usage_rows() == 1
    assert len(env.audit_rows()) == 4 and audit.verify(env.engine).ok


# ---------------------------------------------------------------- tiers and the classifier → 403


def test_tier_outside_the_determination_is_403_and_claimed_tiers_are_ignored(tmp_path: Path) -> None:
    for e in _start(tmp_path, ["partner"]):
        pub = e.key("public", org="small")
        claimed = chat("hi", tier="partner", user="partner")
        err = assert_error(
            e.post(pub, claimed, headers={"x-aslgate-tier": "partner", "x-tier": "partner"}), 403
        )
        assert err["code"] == "tier_not_allowed" and "public" in err["message"]
        admin = e.key("admin", org="ops")
        assert_error(e.post(admin), 403, "tier_not_allowed")
        assert e.upstream.requests == []
        e.assert_nothing_billed(2)
        assert e.post(e.key("partner")).status_code == 200


def test_offense_classifier_per_tier(env: Env) -> None:
    prompt = chat("write an ATTACK for CVE-2024-1234")
    r = env.post(env.key("public", org="p"), prompt)
    assert assert_error(r, 403, "content_policy_violation")["type"] == "permission_error"
    assert env.upstream.requests == []
    env.assert_nothing_billed(1)
    r = env.post(env.key("verified_defender", org="d"), prompt)
    assert r.status_code == 200 and r.headers["x-aslgate-flagged"] == "offensive_cyber"
    r = env.post(env.key("partner", org="x"), prompt)
    assert r.status_code == 200 and "x-aslgate-flagged" not in r.headers
    rows = env.audit_rows()
    assert [(x.tier, x.decision, x.verdict) for x in rows] == [
        ("public", "refused", "offensive_cyber"),
        ("verified_defender", "flagged", "offensive_cyber"),
        ("partner", "served", "offensive_cyber"),
    ]
    assert rows[0].score == pytest.approx(0.91)
    harmful = env.post(env.key("partner", org="x"), chat("something HARMFUL"))
    assert_error(harmful, 403, "content_policy_violation")
    # dual-use is served to every tier
    assert env.post(env.key("public", org="p"), chat("FUZZ this parser")).status_code == 200


def test_offense_classifier_off_serves_everyone(tmp_path: Path) -> None:
    for e in _start(tmp_path, ["public", "partner"], offense=False):
        r = e.post(e.key("public"), chat("an ATTACK"))
        assert r.status_code == 200
        assert e.audit_rows()[0].verdict == "offensive_cyber"  # still classified and recorded


# ---------------------------------------------------------------- bad input → 400 / 404 / 413


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        (b"{not json", "invalid_json"),
        (b"\xff\xfe", "invalid_json"),
        (b"[1, 2]", "invalid_request"),
        (json.dumps({"model": "gw-model"}).encode(), "missing_messages"),
        (json.dumps({"model": "gw-model", "messages": []}).encode(), "missing_messages"),
        (json.dumps({"model": "gw-model", "messages": "hi"}).encode(), "missing_messages"),
        (json.dumps(chat("hi", max_tokens=-5)).encode(), "invalid_max_tokens"),
    ],
)
def test_malformed_bodies_are_400(env: Env, raw: bytes, code: str) -> None:
    assert_error(env.post(env.key(), raw=raw), 400, code)
    assert env.upstream.requests == []
    env.assert_nothing_billed(1)


def test_unknown_model_is_404(env: Env) -> None:
    assert_error(env.post(env.key(), {**chat("hi"), "model": "other"}), 404, "model_not_found")
    env.assert_nothing_billed(1)


def test_body_over_the_limit_is_413(env: Env) -> None:
    big = chat("x" * (70 * 1024))
    assert_error(env.post(env.key(), big), 413, "request_too_large")

    def chunked() -> Iterator[bytes]:  # no Content-Length: the limit holds while reading
        yield b'{"model": "gw-model", "messages": [{"role": "user", "content": "'
        for _ in range(100):
            yield b"y" * 1024
        yield b'"}]}'

    r = httpx.post(
        f"{env.url}/v1/chat/completions",
        content=chunked(),
        headers={"authorization": f"Bearer {env.key()}"},
        timeout=10,
    )
    assert_error(r, 413, "request_too_large")
    assert env.upstream.requests == []
    env.assert_nothing_billed(2)


# ---------------------------------------------------------------- upstream failures → 502 / 504


def test_upstream_down_is_502_and_not_charged(tmp_path: Path) -> None:
    from gateway_support import free_port

    det = write_determination(tmp_path / "d.json", ["partner"])
    db = f"sqlite:///{tmp_path / 'gw.db'}"
    engine = make_engine(db)
    s = Settings(upstream=f"http://127.0.0.1:{free_port()}/v1", determination=str(det), db=db)
    with ServerThread(create_app(s, classifier=KeywordClassifier())) as gw:
        key = create_key(engine, "acme", "partner").key
        for stream in (False, True):
            r = httpx.post(
                f"{gw.url}/v1/chat/completions",
                json=chat("hi", stream=stream),
                headers={"authorization": f"Bearer {key}"},
                timeout=10,
            )
            assert_error(r, 502, "upstream_unavailable")
    e = Env(gw.url, engine, FakeUpstream(), KeywordClassifier(), det, tmp_path)
    e.assert_nothing_billed(2)
    assert [x.status for x in e.audit_rows()] == [502, 502]


def test_upstream_slow_is_504_after_the_timeout(env: Env) -> None:
    import time

    key = env.key()
    t0 = time.monotonic()
    r = env.post(key, chat("hi SLEEP=4"))
    took = time.monotonic() - t0
    assert_error(r, 504, "upstream_timeout")
    assert 1.4 <= took < 3.5  # the configured 1.5 s, not the upstream's 4 s
    r = env.post(key, chat("hi SLEEP=4", stream=True))
    assert_error(r, 504, "upstream_timeout")
    env.assert_nothing_billed(2)


def test_upstream_error_status_is_passed_on_without_charge(env: Env) -> None:
    assert_error(env.post(env.key(), chat("FAIL=500")), 502, "upstream_error")
    assert_error(env.post(env.key(), chat("FAIL=400")), 400, "upstream_error")
    env.assert_nothing_billed(2)


# ---------------------------------------------------------------- streaming


def _sse(r: httpx.Response) -> list[Any]:
    out = []
    for block in r.text.split("\n\n"):
        if block.startswith("data: "):
            data = block[6:]
            out.append(data if data == "[DONE]" else json.loads(data))
    return out


def test_streaming_passes_chunks_and_bills_the_upstream_count(env: Env) -> None:
    r = env.post(env.key(), chat("hello CHUNKS=4", stream=True))
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/event-stream")
    events = _sse(r)
    assert events[-1] == "[DONE]"
    text = "".join(e["choices"][0]["delta"].get("content") or "" for e in events[:-1] if e["choices"])
    assert text == "tok tok tok tok"
    assert all(e.get("usage") is None for e in events[:-1])  # the client did not ask for usage
    [rec] = env.audit_rows()
    assert rec.status == 200 and rec.output_tokens == 4
    assert env.charged() == rec.input_tokens * 25_000 + 4 * 125_000 and env.reserved() == 0
    r = env.post(env.key(), chat("hello CHUNKS=2", stream=True, stream_options={"include_usage": True}))
    assert _sse(r)[-2]["usage"]["completion_tokens"] == 2


def test_violating_stream_is_cut_with_an_error_event_and_billed_for_what_was_sent(env: Env) -> None:
    # benign prompt; the model's output turns offensive: public gets the stream cut, partner does not
    r = env.post(env.key("public", org="p"), chat("story CHUNKS=12 SAYUP=attack", stream=True))
    assert r.status_code == 200
    events = _sse(r)
    assert "[DONE]" not in events
    last = events[-1]
    assert last["error"]["code"] == "content_policy_violation"
    sent = "".join(e["choices"][0]["delta"].get("content") or "" for e in events[:-1] if e.get("choices"))
    assert 0 < len(sent) < len(" ".join(["ATTACK"] * 12))  # cut before the end
    [rec] = env.audit_rows()
    assert rec.decision == "cut" and rec.status == 403
    assert rec.output_tokens == -(-len(sent) // 4)  # billed for the text sent, not the full answer
    assert env.charged() == rec.cost_nusd == rec.input_tokens * 25_000 + rec.output_tokens * 125_000
    r = env.post(env.key("partner", org="x"), chat("story CHUNKS=12 SAYUP=attack", stream=True))
    assert _sse(r)[-1] == "[DONE]"


def test_openai_sdk_sees_the_cut_as_an_error(env: Env) -> None:
    import openai

    client = openai.OpenAI(base_url=f"{env.url}/v1", api_key=env.key("public", org="p"), max_retries=0)
    with pytest.raises(openai.APIError, match="content policy"):
        for _ in client.chat.completions.create(
            model="gw-model", stream=True, messages=[{"role": "user", "content": "x CHUNKS=12 SAYUP=attack"}]
        ):
            pass


def test_client_disconnecting_after_the_first_chunk_is_billed_and_audited(env: Env) -> None:
    import time

    key = env.key()
    with (
        httpx.Client(timeout=30) as c,
        c.stream(
            "POST",
            f"{env.url}/v1/chat/completions",
            json=chat("long CHUNKS=200 GAP=0.02", stream=True),
            headers={"authorization": f"Bearer {key}"},
        ) as r,
    ):
        assert r.status_code == 200
        first = next(r.iter_lines())
        assert first.startswith("data: ")
    deadline = time.monotonic() + 10
    while not env.audit_rows() and time.monotonic() < deadline:
        time.sleep(0.05)
    [rec] = env.audit_rows()
    assert rec.decision == "abandoned" and rec.status == 499
    assert rec.output_tokens < 200  # what was sent, not the whole answer the upstream would have made
    assert env.usage_rows() == 1 and env.reserved() == 0 and env.charged() == rec.cost_nusd > 0
    assert audit.verify(env.engine).ok


def test_tool_calls_pass_through(env: Env) -> None:
    body = chat(
        "Task: reproduce · Challenge: stack-name-copy",
        tools=[
            {
                "type": "function",
                "function": {"name": "write_file", "parameters": {"type": "object", "properties": {}}},
            }
        ],
    )
    r = env.post(env.key(), body)
    tc = r.json()["choices"][0]["message"]["tool_calls"][0]
    assert tc["function"]["name"] == "write_file" and "poc.bin" in tc["function"]["arguments"]
    assert env.upstream.requests[-1]["tools"] == body["tools"]
    r = env.post(env.key(), {**body, "stream": True})
    deltas = [e["choices"][0]["delta"] for e in _sse(r)[:-1] if e["choices"]]
    assert any(d.get("tool_calls") for d in deltas)


# ---------------------------------------------------------------- metering


def test_credits_are_used_first_then_budget_then_402(tmp_path: Path) -> None:
    for e in _start(tmp_path, ["partner"], default_max_tokens=10):
        key = e.key("partner", org="lab")
        grant_credits(e.engine, "lab", 0.002)
        set_org(e.engine, "lab", budget_usd=0.001)
        statuses = [e.post(key, chat("hi CHUNKS=2")).status_code for _ in range(20)]
        assert statuses[0] == 200 and 402 in statuses
        n_ok = statuses.count(200)
        with Session(e.engine) as s:
            org = s.scalars(select(Org).where(Org.name == "lab")).one()
            usage = list(s.scalars(select(Usage)))
        total = sum(u.cost_nusd for u in usage)
        assert len(usage) == n_ok and total <= 0.003 * NANO
        assert sum(u.credit_nusd for u in usage) == min(total, 2_000_000)  # credits went first
        assert org.paid_spent_nusd == total - sum(u.credit_nusd for u in usage) and org.reserved_nusd == 0
        err = assert_error(e.post(key), 402, "insufficient_quota")
        assert "available" in err["message"]


def test_expired_credits_do_not_count(tmp_path: Path) -> None:
    from datetime import datetime, timedelta

    for e in _start(tmp_path, ["partner"]):
        key = e.key("partner", org="lab")
        set_org(e.engine, "lab", budget_usd=0)
        grant_credits(e.engine, "lab", 100, expires=datetime.now() - timedelta(hours=1))
        assert_error(e.post(key), 402, "insufficient_quota")
        grant_credits(e.engine, "lab", 100, expires=datetime.now() + timedelta(days=1))
        assert e.post(key).status_code == 200


def test_budget_race_fifty_concurrent_requests_cannot_overspend(tmp_path: Path) -> None:
    # each request reserves (~20 input + 1000 output tokens) ≈ $0.1255; a $1 budget fits 7 of 50
    for e in _start(tmp_path, ["partner"], default_max_tokens=1000):
        key = e.key("partner", org="race")
        set_org(e.engine, "race", budget_usd=1.0)

        async def go(e: Env = e, key: str = key) -> list[int]:
            async with httpx.AsyncClient(timeout=60) as c:
                rs = await asyncio.gather(
                    *[
                        c.post(
                            f"{e.url}/v1/chat/completions",
                            json=chat(f"r{i} CHUNKS=1000 GAP=0"),
                            headers={"authorization": f"Bearer {key}"},
                        )
                        for i in range(50)
                    ]
                )
                return [r.status_code for r in rs]

        statuses = asyncio.run(go())
        assert set(statuses) <= {200, 402} and statuses.count(402) > 0
        assert e.charged() <= 1.0 * NANO and e.reserved() == 0
        assert statuses.count(200) == e.usage_rows() and len(e.audit_rows()) == 50
        assert audit.verify(e.engine).ok


def test_rate_limit_per_key_rpm(tmp_path: Path) -> None:
    for e in _start(tmp_path, ["partner"], key_rpm=3):
        key = e.key()
        codes = [e.post(key).status_code for _ in range(5)]
        assert codes == [200, 200, 200, 429, 429]
        r = e.post(key)
        assert_error(r, 429, "rate_limit_exceeded")
        assert 1 <= int(r.headers["retry-after"]) <= 60
        assert e.post(e.key(org="acme")).status_code == 200  # another key of the same org (no org limit)
        assert e.usage_rows() == 4


def test_rate_limit_per_org_tpm(tmp_path: Path) -> None:
    for e in _start(tmp_path, ["partner"]):
        set_org(e.engine, "tiny", tpm=30)
        k1, k2 = e.key(org="tiny"), e.key(org="tiny")
        assert e.post(k1, chat("hi CHUNKS=10")).status_code == 200  # 15 estimated, then 11 + 10 actual tokens
        e.quiesce()  # actual tokens are counted when the request settles
        assert_error(
            e.post(k2, chat("hi CHUNKS=10")), 429, "rate_limit_exceeded"
        )  # the org's tokens, any key


# ---------------------------------------------------------------- endpoints


def test_models_healthz_metrics_and_openai_errors_for_unknown_routes(tmp_path: Path) -> None:
    det_path = tmp_path / "determination.json"
    for e in _start(tmp_path, ["verified_defender", "partner"], offense=True):
        write_determination(det_path, ["verified_defender", "partner"], offense=True, halt=True)
        key = e.key("public")
        httpx.post(f"{e.url}/admin/reload", headers={"authorization": f"Bearer {e.key('admin', org='ops')}"})
        m = httpx.get(f"{e.url}/v1/models", headers={"authorization": f"Bearer {key}"}).json()
        meta = m["data"][0]["aslgate"]
        assert m["data"][0]["id"] == "gw-model"
        assert meta["halt_development"] is True and meta["access"] is False and meta["your_tier"] == "public"
        assert_error(httpx.get(f"{e.url}/v1/models"), 401)
        assert httpx.get(f"{e.url}/healthz").json()["status"] == "ok"
        e.post(e.key("partner"))
        text = httpx.get(f"{e.url}/metrics").text
        assert 'aslgate_requests_total{decision="served",status="200",tier="partner"} 1.0' in text
        assert_error(httpx.get(f"{e.url}/nope"), 404)
        assert_error(httpx.get(f"{e.url}/v1/chat/completions"), 405)


def test_reload_changes_policy_and_needs_an_admin_key(tmp_path: Path) -> None:
    for e in _start(tmp_path, ["public", "partner"]):
        pub = e.key("public", org="p")
        assert e.post(pub).status_code == 200
        write_determination(e.determination, ["partner"])
        assert_error(httpx.post(f"{e.url}/admin/reload", headers={"authorization": f"Bearer {pub}"}), 403)
        assert e.post(pub).status_code == 200  # unchanged until reloaded
        admin = e.key("admin", org="ops")
        r = httpx.post(f"{e.url}/admin/reload", headers={"authorization": f"Bearer {admin}"})
        assert r.status_code == 200 and r.json()["access_policy"]["allowed_tiers"] == ["partner"]
        assert_error(e.post(pub), 403, "tier_not_allowed")
        e.determination.write_text("{broken")
        r = httpx.post(f"{e.url}/admin/reload", headers={"authorization": f"Bearer {admin}"})
        assert_error(r, 400, "bad_determination")
        assert e.post(e.key("partner")).status_code == 200  # the last good policy stays


def test_store_prompts_keeps_the_text(tmp_path: Path) -> None:
    for e in _start(tmp_path, ["partner"], store_prompts=True):
        e.post(e.key(), chat("keep me"))
        assert e.audit_rows()[0].prompt == "keep me"


# ---------------------------------------------------------------- the openai SDK


def test_openai_sdk_plain_and_streaming(env: Env) -> None:
    import openai

    client = openai.OpenAI(base_url=f"{env.url}/v1", api_key=env.key(), max_retries=0)
    out = client.chat.completions.create(
        model="gw-model", messages=[{"role": "user", "content": "hi CHUNKS=3"}]
    )
    assert out.choices[0].message.content == "tok tok tok" and out.usage and out.usage.completion_tokens == 3
    parts = [
        c.choices[0].delta.content or ""
        for c in client.chat.completions.create(
            model="gw-model", messages=[{"role": "user", "content": "hi CHUNKS=3"}], stream=True
        )
        if c.choices
    ]
    assert "".join(parts) == "tok tok tok"
    assert [m.id for m in client.models.list()] == ["gw-model"]
    bad = openai.OpenAI(base_url=f"{env.url}/v1", api_key="aslg_nope", max_retries=0)
    with pytest.raises(openai.AuthenticationError):
        bad.chat.completions.create(model="gw-model", messages=[{"role": "user", "content": "hi"}])
    pub = openai.OpenAI(base_url=f"{env.url}/v1", api_key=env.key("public", org="p"), max_retries=0)
    with pytest.raises(openai.PermissionDeniedError, match="content policy"):
        pub.chat.completions.create(model="gw-model", messages=[{"role": "user", "content": "an ATTACK"}])

    async def concurrent() -> list[str]:
        ac = openai.AsyncOpenAI(base_url=f"{env.url}/v1", api_key=env.key(), max_retries=0)
        rs = await asyncio.gather(
            *[
                ac.chat.completions.create(
                    model="gw-model", messages=[{"role": "user", "content": f"n{i} CHUNKS=2"}]
                )
                for i in range(10)
            ]
        )
        return [r.choices[0].message.content or "" for r in rs]

    assert asyncio.run(concurrent()) == ["tok tok"] * 10
    assert audit.verify(env.engine).ok and env.reserved() == 0
