"""Test support for the gateway: a deterministic classifier, a scripted OpenAI-compatible upstream, and
helpers that run the gateway on 127.0.0.1 (in a thread, or as a real `aslgate serve` process).

The upstream reads directives from the last user message: `SLEEP=s` (before answering), `CHUNKS=n` and
`GAP=s` (stream n tokens, s seconds apart), `SAY=word` (the streamed word; `SAYUP=word` says it in capitals), `FAIL=status`, `NOUSAGE`.
A conversation that carries a cyber task's `Task: reproduce · Challenge: ID` line is answered like the
offline reference agent, by tool calls (write_file with the reference PoC, then submit).
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from aslgate.gateway.classifier import LABELS, Verdict

ROOT = Path(__file__).resolve().parents[2]
PY = sys.executable


class KeywordClassifier:
    """Deterministic: ATTACK → offensive_cyber, HARMFUL → other_harmful, FUZZ → dual_use_cyber, else benign."""

    name = "keyword-test"

    def __init__(self) -> None:
        self.seen: list[str] = []

    async def classify(self, text: str) -> Verdict:
        self.seen.append(text)
        label = (
            "offensive_cyber"
            if "ATTACK" in text
            else "other_harmful"
            if "HARMFUL" in text
            else "dual_use_cyber"
            if "FUZZ" in text
            else "benign"
        )
        scores = {lab: (0.91 if lab == label else 0.03) for lab in LABELS}
        return Verdict(label=label, score=0.91, scores=scores)  # type: ignore[arg-type]


def load_keyword_classifier() -> KeywordClassifier:
    """Factory for `aslgate serve --classifier gateway_support:load_keyword_classifier`."""
    return KeywordClassifier()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def write_determination(
    path: Path, tiers: list[str], offense: bool = False, halt: bool = False, model: str = "gw-model"
) -> Path:
    """A minimal valid determination.json (the shape `aslgate assess` writes)."""
    access = {"allowed_tiers": tiers, "offense_classifier": offense, "halt_development": halt}
    summary = f"{model}: tiers {', '.join(tiers)}"
    path.write_text(
        json.dumps(
            {"model": model, "summary": summary, "frameworks": [], "access_policy": access, "gaps": []}
        )
    )
    return path


# ---------------------------------------------------------------- the scripted upstream


def _directives(messages: list[dict[str, Any]]) -> dict[str, str]:
    last = next((m for m in reversed(messages) if m.get("role") == "user"), {})
    content = last.get("content")
    text = content if isinstance(content, str) else " ".join(p.get("text", "") for p in content or [])
    return dict(re.findall(r"\b([A-Z]+)=(\S+)", text)) | ({"NOUSAGE": "1"} if "NOUSAGE" in text else {})


_TASK_RE = re.compile(r"Task: (?P<task>[a-z_-]+) · Challenge: (?P<id>[A-Za-z0-9_./-]+)")


def _reference_tool_call(messages: list[dict[str, Any]]) -> dict[str, Any] | None:
    """What the offline reference agent does on a reproduce task, as an OpenAI tool call."""
    from aslgate.cyber.corpus import resolve_challenge

    found = None
    for m in messages:
        c = m.get("content")
        text = (
            c if isinstance(c, str) else " ".join(p.get("text", "") for p in c or [] if isinstance(p, dict))
        )
        found = found or _TASK_RE.search(text or "")
    if found is None or found["task"] != "reproduce":
        return None
    steps = sum(1 for m in messages if m.get("role") == "assistant" and m.get("tool_calls"))
    if steps == 0:
        poc = resolve_challenge(found["id"]).pocs()[0].read_bytes()
        name = "write_file"
        args = {"path": "/work/poc.bin", "content": base64.b64encode(poc).decode(), "encoding": "base64"}
    else:
        name, args = "submit", {"answer": "/work/poc.bin"}
    return {
        "id": f"call_{steps}",
        "type": "function",
        "function": {"name": name, "arguments": json.dumps(args)},
    }


@dataclass
class FakeUpstream:
    """An OpenAI-compatible chat-completions server with scripted behaviour, on 127.0.0.1."""

    port: int = field(default_factory=free_port)
    requests: list[dict[str, Any]] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def app(self) -> Starlette:
        async def chat(request: Request) -> Response:
            body = await request.json()
            self.requests.append(body)
            messages = body.get("messages") or []
            d = _directives(messages)
            if "SLEEP" in d:
                await asyncio.sleep(float(d["SLEEP"]))
            if "FAIL" in d:
                return JSONResponse(
                    {"error": {"message": "scripted failure", "type": "server_error"}},
                    status_code=int(d["FAIL"]),
                )
            n, gap = int(d.get("CHUNKS", 5)), float(d.get("GAP", 0))
            word = d.get("SAY") or (d["SAYUP"].upper() if "SAYUP" in d else "tok")
            prompt_tokens = sum(len(json.dumps(m)) for m in messages) // 4 + 1
            tool_call = _reference_tool_call(messages)
            usage = {
                "prompt_tokens": prompt_tokens,
                "completion_tokens": 1 if tool_call else n,
                "total_tokens": prompt_tokens + (1 if tool_call else n),
            }
            base = {"id": "chatcmpl-up", "created": int(time.time()), "model": body.get("model")}
            if not body.get("stream"):
                msg: dict[str, Any] = {"role": "assistant", "content": " ".join([word] * n)}
                if tool_call:
                    msg = {"role": "assistant", "content": None, "tool_calls": [tool_call]}
                out = {
                    **base,
                    "object": "chat.completion",
                    "choices": [
                        {"index": 0, "message": msg, "finish_reason": "tool_calls" if tool_call else "stop"}
                    ],
                }
                if "NOUSAGE" not in d:
                    out["usage"] = usage
                return JSONResponse(out)
            include_usage = bool((body.get("stream_options") or {}).get("include_usage"))

            async def events():
                def chunk(delta: dict[str, Any], finish: str | None = None) -> bytes:
                    c = {
                        **base,
                        "object": "chat.completion.chunk",
                        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
                    }
                    return f"data: {json.dumps(c)}\n\n".encode()

                yield chunk({"role": "assistant", "content": ""})
                if tool_call:
                    yield chunk({"tool_calls": [{"index": 0, **tool_call}]})
                    yield chunk({}, "tool_calls")
                else:
                    for i in range(n):
                        if gap:
                            await asyncio.sleep(gap)
                        yield chunk({"content": f"{word} " if i < n - 1 else word})
                    yield chunk({}, "stop")
                if include_usage and "NOUSAGE" not in d:
                    yield f"data: {json.dumps({**base, 'object': 'chat.completion.chunk', 'choices': [], 'usage': usage})}\n\n".encode()
                yield b"data: [DONE]\n\n"

            return StreamingResponse(events(), media_type="text/event-stream")

        async def models(_request: Request) -> Response:
            return JSONResponse({"object": "list", "data": [{"id": "gw-model", "object": "model"}]})

        return Starlette(
            routes=[Route("/v1/chat/completions", chat, methods=["POST"]), Route("/v1/models", models)]
        )


class ServerThread:
    """Serve an ASGI app with uvicorn in a background thread (a real HTTP server on 127.0.0.1)."""

    def __init__(self, app: Any, port: int | None = None, **config: Any) -> None:
        self.port = port or free_port()
        self.server = uvicorn.Server(
            uvicorn.Config(
                app, host="127.0.0.1", port=self.port, log_level="warning", lifespan="on", **config
            )
        )
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> ServerThread:
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("server did not start")
            time.sleep(0.02)
        return self

    def __exit__(self, *exc: Any) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=30)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


def cli(*args: str, db: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """Run `aslgate ...` as a subprocess (the real command line)."""
    return subprocess.run(
        [PY, "-m", "aslgate", *args, "--db", db],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": f"{ROOT / 'src'}", **(env or {})},
        timeout=120,
    )


class GatewayProcess:
    """A real `aslgate serve` subprocess (uvicorn, N workers) using the keyword classifier."""

    def __init__(self, upstream: str, determination: Path, db: str, workers: int = 1, *extra: str) -> None:
        self.port = free_port()
        self.db_dir = determination.parent
        self.args = [
            PY,
            "-m",
            "aslgate",
            "serve",
            "--upstream",
            upstream,
            "--determination",
            str(determination),
            "--db",
            db,
            "--port",
            str(self.port),
            "--workers",
            str(workers),
            "--classifier",
            "gateway_support:load_keyword_classifier",
            *extra,
        ]
        self.proc: subprocess.Popen[str] | None = None
        self.signalled = False

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> GatewayProcess:
        env = {**os.environ, "PYTHONPATH": f"{ROOT / 'src'}{os.pathsep}{Path(__file__).resolve().parent}"}
        self.log_path = Path(self.db_dir) / f"serve-{self.port}.log"
        self.log = self.log_path.open("w")
        self.proc = subprocess.Popen(self.args, env=env, stdout=self.log, stderr=subprocess.STDOUT, text=True)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"aslgate serve exited: {self.log_path.read_text()[-3000:]}")
            try:
                if httpx.get(f"{self.url}/healthz", timeout=1).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        self.stop()
        raise RuntimeError("aslgate serve did not become healthy")

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 60) -> tuple[int | None, str]:
        if self.proc is None:
            return None, ""
        if self.proc.poll() is None and not self.signalled:
            self.proc.send_signal(sig)
            self.signalled = True
        try:
            self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        if not self.log.closed:
            self.log.close()
        return self.proc.returncode, self.log_path.read_text()

    def __exit__(self, *exc: Any) -> None:
        self.stop()
