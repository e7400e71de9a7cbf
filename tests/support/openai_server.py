"""A scripted OpenAI-compatible HTTP server for tests: a real socket on 127.0.0.1, stdlib only.

It stands in for vLLM, llama.cpp or any OpenAI-compatible endpoint, so tests can drive Inspect's real
`openai-api` provider (and the real `openai` SDK under it) end to end, and assert what the client sent::

    with ScriptedOpenAI() as server:       # in pytest: ScriptedOpenAI.shared() (Inspect memoizes models)
        server.script([call("write_file", path="/work/poc.bin", content="..."),
                       call("submit", answer="/work/poc.bin")])
        os.environ.update(server.env("scripted"))       # SCRIPTED_BASE_URL, SCRIPTED_API_KEY
        eval(task, model="openai-api/scripted/agent")   # add model_args={"stream": True} for SSE
        assert server.chat_requests()[0].body["tools"]

Endpoints: ``POST /v1/chat/completions`` (a JSON body, or server-sent events when the request has
``"stream": true``, with ``usage`` on a last chunk when ``stream_options.include_usage``), ``GET
/v1/models``; every other path answers 404 (and is recorded: e.g. ``/v1/responses``, which most local
servers do not serve).

Which turn answers a request: the first route whose conditions hold (``model``: the request's model
name; ``contains``: a substring of the conversation's text), routes with conditions before those
without; within the route, the turn whose index is the number of assistant messages already in the
request, the last turn repeating. Each sample's conversation therefore replays the script from its
start, however many samples run at once.

Faults (``server.faults``, or per turn ``status`` / ``delay``): every chat request answers ``status``
(``always``), every n-th (``every``), the first n (``first``), or each waits ``delay`` seconds before
answering (a slow server; with a client timeout below it, a timed-out request).

Run it by hand: ``python tests/support/openai_server.py --script turns.yaml --port 8000`` (a YAML list
of turns: ``{content: TEXT}`` or ``{tool_calls: [{name: N, arguments: {...}}]}``).
"""

from __future__ import annotations

import argparse
import atexit
import itertools
import json
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

DEFAULT_API_KEY = "test-key"


@dataclass
class ToolCall:
    """One function call the scripted assistant makes."""

    name: str
    arguments: dict[str, Any] = field(default_factory=dict)


@dataclass
class Turn:
    """One scripted assistant message (text and/or tool calls), or a failure (``status`` != 200)."""

    content: str = ""
    tool_calls: list[ToolCall] = field(default_factory=list)
    status: int = 200  # anything else answers with an OpenAI-style error body
    delay: float = 0.0  # seconds to wait before answering

    @classmethod
    def parse(cls, data: dict[str, Any]) -> Turn:
        calls = [ToolCall(c["name"], dict(c.get("arguments") or {})) for c in data.get("tool_calls") or []]
        return cls(
            str(data.get("content") or ""), calls, int(data.get("status", 200)), float(data.get("delay", 0))
        )


def say(text: str) -> Turn:
    """A turn that answers with text only."""
    return Turn(content=text)


def call(name: str, /, **arguments: Any) -> Turn:
    """A turn that calls one tool with these arguments (for text as well: Turn(content, [ToolCall(...)]))."""
    return Turn(tool_calls=[ToolCall(name, arguments)])


def fail(status: int = 500, delay: float = 0.0) -> Turn:
    """A turn that answers with an HTTP error."""
    return Turn(status=status, delay=delay)


@dataclass
class Route:
    """A script and the requests it answers (no condition: every request)."""

    turns: list[Turn]
    model: str | None = None
    contains: str | None = None

    def matches(self, body: dict[str, Any]) -> bool:
        if self.model is not None and body.get("model") != self.model:
            return False
        return self.contains is None or self.contains in conversation_text(body)


@dataclass
class Faults:
    """Server-wide failures of chat requests (counted from 1 over all chat requests)."""

    status: int = 500
    always: bool = False
    every: int = 0  # every n-th request fails (0: none)
    first: int = 0  # the first n requests fail
    delay: float = 0.0  # seconds before answering each chat request

    def fails(self, n: int) -> bool:
        return self.always or (self.every > 0 and n % self.every == 0) or n <= self.first


@dataclass
class Recorded:
    """One request as the server saw it, and what it answered."""

    method: str
    path: str
    headers: dict[str, str]
    body: dict[str, Any] | None
    status: int = 0

    @property
    def model(self) -> str | None:
        return (self.body or {}).get("model")

    @property
    def messages(self) -> list[dict[str, Any]]:
        return list((self.body or {}).get("messages") or [])

    @property
    def stream(self) -> bool:
        return bool((self.body or {}).get("stream"))

    @property
    def tool_names(self) -> list[str]:
        return [t["function"]["name"] for t in (self.body or {}).get("tools") or []]


def _text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):  # content parts
        return "\n".join(str(p.get("text", "")) for p in content if isinstance(p, dict))
    return ""


def conversation_text(body: dict[str, Any]) -> str:
    """Every message's text in a chat request, one after the other."""
    return "\n".join(_text(m.get("content")) for m in body.get("messages") or [] if isinstance(m, dict))


def _assistant_turns(body: dict[str, Any]) -> int:
    return sum(1 for m in body.get("messages") or [] if isinstance(m, dict) and m.get("role") == "assistant")


def _tokens(text: str) -> int:
    return max(1, len(text) // 4)


class ScriptedOpenAI:
    """The server: start it (or use it as a context manager), script it, read what it recorded."""

    def __init__(
        self,
        turns: Iterable[Turn] | None = None,
        *,
        models: Iterable[str] = ("scripted",),
        api_key: str | None = DEFAULT_API_KEY,
        faults: Faults | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        self.models = list(models)
        self.api_key = api_key  # None accepts any (or no) key
        self._initial_key = api_key
        self.faults = faults or Faults()
        self._routes: list[Route] = []
        self._requests: list[Recorded] = []
        self._chat_count = 0
        self._ids = itertools.count(1)
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._httpd = ThreadingHTTPServer((host, port), _handler(self))
        self._httpd.daemon_threads = True
        self._thread: threading.Thread | None = None
        if turns is not None:
            self.script(list(turns))

    # -- lifecycle ---------------------------------------------------------------------------------

    _shared: ScriptedOpenAI | None = None

    @classmethod
    def shared(cls) -> ScriptedOpenAI:
        """One server for the whole test process, reset for each use.

        Inspect memoizes model instances by name, so a second server on another port would be invisible
        to an `openai-api/scripted/...` model created earlier in the same process: tests share this one.
        """
        if cls._shared is None:
            cls._shared = cls().start()
            atexit.register(cls._shared.stop)
        cls._shared.reset()
        return cls._shared

    def start(self) -> ScriptedOpenAI:
        if self._thread is None:
            self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)
            self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()  # wakes requests sleeping in a delay
        if self._thread is not None:
            self._httpd.shutdown()
            self._thread.join(timeout=5)
            self._thread = None
        self._httpd.server_close()

    def __enter__(self) -> ScriptedOpenAI:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        return int(self._httpd.server_address[1])

    @property
    def url(self) -> str:
        """The base URL clients use (with /v1)."""
        return f"http://127.0.0.1:{self.port}/v1"

    def env(self, service: str = "scripted") -> dict[str, str]:
        """Environment for Inspect's `openai-api/<service>/<model>`: <SERVICE>_BASE_URL and _API_KEY."""
        name = service.upper().replace("-", "_")
        return {f"{name}_BASE_URL": self.url, f"{name}_API_KEY": self.api_key or "unused"}

    # -- scripting ---------------------------------------------------------------------------------

    def script(self, turns: Iterable[Turn], *, model: str | None = None, contains: str | None = None) -> None:
        """Add a route: these turns answer requests for `model` / containing `contains` (None: any)."""
        turns = list(turns)
        if not turns:
            raise ValueError("a script needs at least one turn")
        with self._lock:
            self._routes.append(Route(turns, model, contains))

    def reset(self) -> None:
        """Forget routes, recorded requests and faults."""
        with self._lock:
            self.api_key = self._initial_key
            self._routes.clear()
            self._requests.clear()
            self._chat_count = 0
            self.faults = Faults()

    @property
    def requests(self) -> list[Recorded]:
        with self._lock:
            return list(self._requests)

    def chat_requests(self, model: str | None = None) -> list[Recorded]:
        """Recorded chat completion requests (for one model name, or all)."""
        return [
            r
            for r in self.requests
            if r.path.endswith("/chat/completions") and (model is None or r.model == model)
        ]

    # -- answering (called from the handler threads) -------------------------------------------------

    def _record(self, rec: Recorded) -> None:
        with self._lock:
            self._requests.append(rec)

    def _choose(self, body: dict[str, Any]) -> tuple[int, Turn | None]:
        """(chat request number, the turn that answers it) — None when no route matches."""
        with self._lock:
            self._chat_count += 1
            n = self._chat_count
            routes = [r for r in self._routes if r.model or r.contains] + [
                r for r in self._routes if not (r.model or r.contains)
            ]
        route = next((r for r in routes if r.matches(body)), None)
        if route is None:
            return n, None
        return n, route.turns[min(_assistant_turns(body), len(route.turns) - 1)]

    def _sleep(self, seconds: float) -> bool:
        """Wait; False if the server is stopping."""
        return not (seconds > 0 and self._stopping.wait(seconds))

    def completion(self, body: dict[str, Any], turn: Turn) -> dict[str, Any]:
        """The non-streamed ChatCompletion for a turn."""
        n = next(self._ids)
        message: dict[str, Any] = {"role": "assistant", "content": turn.content or None}
        if turn.tool_calls:
            message["tool_calls"] = [
                {"id": f"call_{n}_{i}", "type": "function",
                 "function": {"name": c.name, "arguments": json.dumps(c.arguments)}}
                for i, c in enumerate(turn.tool_calls)
            ]  # fmt: skip
        elif not turn.content:
            message["content"] = ""
        return {
            "id": f"chatcmpl-{n}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": body.get("model", "scripted"),
            "choices": [{"index": 0, "message": message, "finish_reason": _finish(turn)}],
            "usage": _usage(body, turn),
        }

    def chunks(self, body: dict[str, Any], turn: Turn) -> list[dict[str, Any]]:
        """The streamed form of a turn: role, content in two pieces, each tool call in pieces, finish."""
        n = next(self._ids)
        head = {"id": f"chatcmpl-{n}", "object": "chat.completion.chunk", "created": int(time.time()),
                "model": body.get("model", "scripted")}  # fmt: skip

        def chunk(delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
            return {**head, "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}

        out = [chunk({"role": "assistant", "content": ""})]
        half = len(turn.content) // 2
        out += [chunk({"content": part}) for part in (turn.content[:half], turn.content[half:]) if part]
        for i, c in enumerate(turn.tool_calls):
            args = json.dumps(c.arguments)
            cut = len(args) // 2
            out.append(chunk({"tool_calls": [{"index": i, "id": f"call_{n}_{i}", "type": "function",
                                              "function": {"name": c.name, "arguments": ""}}]}))  # fmt: skip
            out += [
                chunk({"tool_calls": [{"index": i, "function": {"arguments": part}}]})
                for part in (args[:cut], args[cut:])
            ]
        out.append(chunk({}, _finish(turn)))
        if (body.get("stream_options") or {}).get("include_usage"):
            out.append({**head, "choices": [], "usage": _usage(body, turn)})
        return out


def _finish(turn: Turn) -> str:
    return "tool_calls" if turn.tool_calls else "stop"


def _usage(body: dict[str, Any], turn: Turn) -> dict[str, int]:
    prompt = _tokens(conversation_text(body))
    completion = _tokens(turn.content + json.dumps([c.arguments for c in turn.tool_calls]))
    return {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion}


def _error_body(status: int, message: str) -> dict[str, Any]:
    kind = "invalid_request_error" if status < 500 else "server_error"
    return {"error": {"message": message, "type": kind, "param": None, "code": None}}


def _handler(server: ScriptedOpenAI) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:  # quiet
            pass

        def _send_json(self, status: int, data: dict[str, Any], rec: Recorded) -> None:
            rec.status = status
            payload = json.dumps(data).encode()
            try:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)
            except OSError:  # the client gave up (timeout) before the answer
                self.close_connection = True

        def _send_sse(self, chunks: list[dict[str, Any]], rec: Recorded) -> None:
            rec.status = 200
            try:
                self.send_response(200)
                self.send_header("Content-Type", "text/event-stream")
                self.send_header("Cache-Control", "no-cache")
                self.send_header("Transfer-Encoding", "chunked")
                self.end_headers()
                for event in [*(json.dumps(c) for c in chunks), "[DONE]"]:
                    data = f"data: {event}\n\n".encode()
                    self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
                    self.wfile.flush()
                self.wfile.write(b"0\r\n\r\n")
            except OSError:
                self.close_connection = True

        def _start(self, body: dict[str, Any] | None) -> Recorded:
            rec = Recorded(
                self.command, self.path.split("?")[0], {k.lower(): v for k, v in self.headers.items()}, body
            )
            server._record(rec)
            return rec

        def _authorized(self, rec: Recorded) -> bool:
            if server.api_key is None or rec.headers.get("authorization") == f"Bearer {server.api_key}":
                return True
            self._send_json(401, _error_body(401, "invalid API key"), rec)
            return False

        def do_GET(self) -> None:
            rec = self._start(None)
            if not self._authorized(rec):
                return
            if rec.path.rstrip("/") == "/v1/models":
                data = [
                    {"id": m, "object": "model", "created": 0, "owned_by": "scripted"} for m in server.models
                ]
                self._send_json(200, {"object": "list", "data": data}, rec)
            else:
                self._send_json(404, _error_body(404, f"no route {rec.path}"), rec)

        def do_POST(self) -> None:
            raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            try:
                body = json.loads(raw or b"{}")
            except ValueError:
                body = None
            rec = self._start(body if isinstance(body, dict) else None)
            if not self._authorized(rec):
                return
            if rec.path.rstrip("/") != "/v1/chat/completions":
                self._send_json(404, _error_body(404, f"no route {rec.path}"), rec)
                return
            if rec.body is None or not isinstance(rec.body.get("messages"), list):
                self._send_json(400, _error_body(400, "body must be JSON with a messages list"), rec)
                return
            n, turn = server._choose(rec.body)
            faults = server.faults
            if not server._sleep(faults.delay + (turn.delay if turn else 0.0)):
                return
            if faults.fails(n):
                self._send_json(
                    faults.status, _error_body(faults.status, f"scripted failure of request {n}"), rec
                )
            elif turn is None:
                self._send_json(400, _error_body(400, f"no scripted route for model {rec.model!r}"), rec)
            elif turn.status != 200:
                self._send_json(turn.status, _error_body(turn.status, "scripted failure"), rec)
            elif rec.stream:
                self._send_sse(server.chunks(rec.body, turn), rec)
            else:
                self._send_json(200, server.completion(rec.body, turn), rec)

    return Handler


def main() -> None:
    import yaml

    p = argparse.ArgumentParser(description="Serve a scripted OpenAI-compatible API on 127.0.0.1.")
    p.add_argument("--script", required=True, help="YAML list of turns")
    p.add_argument("--port", type=int, default=8000)
    p.add_argument("--api-key", default=DEFAULT_API_KEY)
    a = p.parse_args()
    with open(a.script, encoding="utf-8") as f:
        turns = [Turn.parse(t) for t in yaml.safe_load(f)]
    server = ScriptedOpenAI(turns, api_key=a.api_key, port=a.port).start()
    print(f"serving {server.url} (Ctrl-C to stop)", flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        server.stop()


if __name__ == "__main__":
    main()
