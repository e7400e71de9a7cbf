"""The gateway app: an OpenAI-compatible front for one upstream model that enforces the determination.

Every request is authenticated by its key (the tier comes from the database), checked against the
determination's access policy and the classifier, rate-limited and budget-reserved in one transaction,
forwarded through one pooled client, then settled (billing + audit record) in one transaction, whether
it finished, failed, was cut by the classifier, or was abandoned by its client.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import json
import logging
import os
import signal
import threading
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any, TypeVar

import anyio
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse
from sqlalchemy import select, text, update
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import Receive, Scope, Send

from aslgate.errors import UserError
from aslgate.gateway import audit, metering, ratelimit
from aslgate.gateway.audit import Entry
from aslgate.gateway.classifier import Classifier, Verdict
from aslgate.gateway.db import PolicyEpoch, make_engine
from aslgate.gateway.keys import AuthError, Principal, authenticate
from aslgate.gateway.logs import LOGGER, log, setup_logging
from aslgate.gateway.metering import InsufficientFunds, estimate_tokens
from aslgate.gateway.metrics import Metrics
from aslgate.gateway.policy import DeterminationError, LoadedPolicy, decide, load_determination, tier_allowed
from aslgate.gateway.ratelimit import Limit, RateLimited
from aslgate.gateway.settings import Price, Settings
from aslgate.gateway.upstream import Upstream, UpstreamDown, UpstreamTimeout, sse_data

T = TypeVar("T")
GENERATING_TIERS = ("public", "verified_defender", "partner")


class ApiError(Exception):
    """An error answered in the OpenAI shape {"error": {"message", "type", "code"}}."""

    def __init__(
        self,
        status: int,
        message: str,
        type_: str,
        code: str,
        headers: dict[str, str] | None = None,
        decision: str = "rejected",
    ) -> None:
        super().__init__(message)
        self.status, self.message, self.type, self.code = status, message, type_, code
        self.headers, self.decision = headers or {}, decision

    def body(self) -> dict[str, Any]:
        return {"error": {"message": self.message, "type": self.type, "code": self.code, "param": None}}

    def response(self) -> JSONResponse:
        return JSONResponse(self.body(), status_code=self.status, headers=self.headers)


def _bad(message: str, code: str = "invalid_request") -> ApiError:
    return ApiError(400, message, "invalid_request_error", code)


@dataclass
class Ticket:
    """An admitted request: what was reserved and counted, to be settled exactly once."""

    principal: Principal
    limits: list[Limit]
    window: int
    reserved: int
    est_input: int
    price: Price
    model: str
    entry: Entry
    started: float
    stream: bool
    settled: bool = False


def prompt_text(messages: list[dict[str, Any]]) -> str:
    """The text the classifier reads: every message's text parts, tool call arguments included."""
    parts: list[str] = []
    for m in messages:
        c = m.get("content")
        if isinstance(c, str):
            parts.append(c)
        elif isinstance(c, list):
            parts.extend(str(p.get("text", "")) for p in c if isinstance(p, dict))
        for tc in m.get("tool_calls") or []:
            if isinstance(tc, dict):
                parts.append(str((tc.get("function") or {}).get("arguments", "")))
    return "\n".join(p for p in parts if p)


def _choice_text(choices: Any, key: str) -> str:
    out: list[str] = []
    for ch in choices if isinstance(choices, list) else []:
        msg = ch.get(key) if isinstance(ch, dict) else None
        if not isinstance(msg, dict):
            continue
        if isinstance(msg.get("content"), str):
            out.append(msg["content"])
        for tc in msg.get("tool_calls") or []:
            fn = tc.get("function") if isinstance(tc, dict) else None
            if isinstance(fn, dict):
                out.append(str(fn.get("name") or ""))
                out.append(str(fn.get("arguments") or ""))
    return "".join(out)


class GatedStream(StreamingResponse):
    """A streaming response whose generator is always closed (its finally settles billing and audit),
    also when the client went away mid-stream."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            with anyio.CancelScope(shield=True):
                await self.body_iterator.aclose()  # type: ignore[attr-defined]


class SettledJSONResponse(JSONResponse):
    """A JSON answer whose billing settles right after its body is sent (the client does not wait for the
    transaction), in a finally: also when sending failed."""

    def __init__(self, content: Any, settle: Callable[[], Any], headers: dict[str, str]) -> None:
        super().__init__(content, headers=headers)
        self.settle = settle

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            with anyio.CancelScope(shield=True):
                await self.settle()


class Gateway:
    """Per-worker state: settings, database, classifier, the current policy, the pooled client."""

    def __init__(self, settings: Settings, classifier: Classifier, engine: Engine | None = None) -> None:
        self.settings = settings
        self.classifier = classifier
        self.engine = engine or make_engine(settings.db, pool_size=20)
        self.policy: LoadedPolicy = load_determination(settings.determination)
        self.metrics = Metrics()
        self.logger = logging.getLogger(LOGGER)
        self.upstream: Upstream | None = None
        self.epoch = self._read_epoch()
        self._sqlite_lock = threading.Lock()
        db_file = self.engine.url.database if self.engine.dialect.name == "sqlite" else None
        self._lock_fd = (
            os.open(f"{db_file}-gwlock", os.O_RDWR | os.O_CREAT, 0o600)
            if db_file and db_file != ":memory:"
            else None
        )
        self.inflight = 0  # admitted, not yet settled

    @property
    def model(self) -> str:
        return self.settings.model or self.policy.model

    # -- database work runs in threads; settlement is shielded from cancellation
    async def db(self, fn: Callable[[], T]) -> T:
        return await anyio.to_thread.run_sync(fn)

    async def db_shielded(self, fn: Callable[[], T]) -> T:
        with anyio.CancelScope(shield=True):
            return await anyio.to_thread.run_sync(fn)

    def _read_epoch(self) -> int:
        with Session(self.engine) as s:
            return int(s.scalar(select(PolicyEpoch.epoch).where(PolicyEpoch.id == 1)) or 0)

    def reload(self, source: str) -> LoadedPolicy:
        try:
            new = load_determination(self.settings.determination)
        except DeterminationError as e:
            self.metrics.reloads.labels("error").inc()
            log(self.logger, "reload failed", logging.ERROR, source=source, error=str(e))
            raise
        old, self.policy = self.policy, new
        self.metrics.reloads.labels("ok").inc()
        log(
            self.logger,
            "determination reloaded",
            source=source,
            path=new.path,
            allowed_tiers=new.access.allowed_tiers,
            offense_classifier=new.access.offense_classifier,
            halt_development=new.access.halt_development,
            previous_tiers=old.access.allowed_tiers,
        )
        return new

    def bump_epoch(self) -> int:
        with Session(self.engine) as s, s.begin():
            s.execute(update(PolicyEpoch).where(PolicyEpoch.id == 1).values(epoch=PolicyEpoch.epoch + 1))
            return int(s.scalar(select(PolicyEpoch.epoch).where(PolicyEpoch.id == 1)) or 0)

    async def poll_epoch(self) -> None:
        """Follow reloads made through another worker; prune old rate windows now and then."""
        last_prune = 0.0
        while True:
            await asyncio.sleep(self.settings.epoch_poll_seconds)
            try:
                epoch = await self.db(self._read_epoch)
                if epoch != self.epoch:
                    self.epoch = epoch
                    with contextlib.suppress(DeterminationError):
                        self.reload("epoch")
                if time.monotonic() - last_prune > 60:
                    last_prune = time.monotonic()
                    await self.db(self._prune)
            except Exception as e:  # the poller must survive a database hiccup
                log(self.logger, "epoch poll failed", logging.WARNING, error=str(e))

    def _prune(self) -> None:
        with Session(self.engine) as s, s.begin():
            ratelimit.prune(s, ratelimit.current_window())

    # -- bookkeeping
    def _limits(self, p: Principal) -> list[Limit]:
        st = self.settings
        return [
            Limit(
                f"key:{p.key_id}",
                p.key_rpm if p.key_rpm is not None else st.key_rpm,
                p.key_tpm if p.key_tpm is not None else st.key_tpm,
            ),
            Limit(
                f"org:{p.org_id}",
                p.org_rpm if p.org_rpm is not None else st.org_rpm,
                p.org_tpm if p.org_tpm is not None else st.org_tpm,
            ),
        ]

    @contextlib.contextmanager
    def _write(self) -> Iterator[None]:
        """SQLite: one writer at a time, handed over by a mutex inside this process and an flock on
        `<db>-gwlock` between worker processes; both wake the next writer at once, where SQLite's busy
        handler sleeps in growing steps (up to 100 ms) and lets one process starve the other."""
        if self.engine.dialect.name != "sqlite":
            yield
            return
        with self._sqlite_lock:
            if self._lock_fd is None:
                yield
                return
            fcntl.flock(self._lock_fd, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(self._lock_fd, fcntl.LOCK_UN)

    def _admit(self, p: Principal, limits: list[Limit], tokens: int, reserve: int) -> int:
        window = ratelimit.current_window()
        with self._write(), Session(self.engine) as s, s.begin():
            ratelimit.admit(s, limits, tokens, window)
            metering.reserve(s, p.org_id, reserve)
        return window

    def _record(self, entry: Entry) -> None:
        with self._write(), Session(self.engine) as s, s.begin():
            audit.append(s, entry)

    def _settle(self, t: Ticket, input_tokens: int, output_tokens: int) -> None:
        with self._write(), Session(self.engine) as s, s.begin():
            ratelimit.add_tokens(s, t.limits, input_tokens + output_tokens - t.est_input, t.window)
            ch = metering.settle(
                s,
                t.principal.org_id,
                t.principal.key_id,
                t.model,
                t.reserved,
                input_tokens,
                output_tokens,
                t.price,
                t.entry.status,
            )
            t.entry.input_tokens, t.entry.output_tokens, t.entry.cost_nusd = (
                input_tokens,
                output_tokens,
                ch.cost_nusd,
            )
            if ch.unbilled_nusd:
                t.entry.detail["unbilled_nusd"] = ch.unbilled_nusd
            audit.append(s, t.entry)

    def _observe(self, entry: Entry, stream: bool) -> None:
        m = self.metrics
        m.requests.labels(str(entry.status), entry.tier or "-", entry.decision).inc()
        m.latency.labels("true" if stream else "false").observe(entry.latency_ms / 1000)
        if entry.input_tokens:
            m.tokens.labels("input").inc(entry.input_tokens)
        if entry.output_tokens:
            m.tokens.labels("output").inc(entry.output_tokens)
        if entry.cost_nusd:
            m.cost.inc(entry.cost_nusd / 1e9)
        log(
            self.logger,
            "request",
            request_id=entry.request_id,
            key_id=entry.key_id,
            org=entry.org,
            tier=entry.tier,
            status=entry.status,
            decision=entry.decision,
            verdict=entry.verdict,
            score=entry.score,
            input_tokens=entry.input_tokens,
            output_tokens=entry.output_tokens,
            cost_usd=entry.cost_nusd / 1e9,
            latency_ms=round(entry.latency_ms, 2),
            stream=stream,
            **({"reason": entry.detail["reason"]} if "reason" in entry.detail else {}),
        )

    def _begin_finish(self, t: Ticket, status: int, decision: str, reason: str | None) -> bool:
        if t.settled:
            return False
        t.settled = True
        t.entry.status, t.entry.decision = status, decision
        if reason:
            t.entry.detail["reason"] = reason
        t.entry.latency_ms = (time.perf_counter() - t.started) * 1000
        return True

    def _settle_or_log(self, t: Ticket, input_tokens: int, output_tokens: int) -> None:
        try:
            self._settle(t, input_tokens, output_tokens)
        except Exception as e:  # never lose the record silently: log everything needed to replay it
            log(
                self.logger,
                "settlement failed",
                logging.ERROR,
                error=str(e),
                entry=t.entry.__dict__,
                reserved=t.reserved,
                input_tokens=input_tokens,
                output_tokens=output_tokens,
            )
            raise
        finally:
            self.metrics.inflight.dec()
            self.inflight -= 1
        self._observe(t.entry, t.stream)

    async def finish(
        self,
        t: Ticket,
        status: int,
        decision: str,
        input_tokens: int,
        output_tokens: int,
        reason: str | None = None,
    ) -> None:
        """Settle an admitted request once: billing and audit in one transaction, in a worker thread."""
        if self._begin_finish(t, status, decision, reason):
            await self.db_shielded(lambda: self._settle_or_log(t, input_tokens, output_tokens))

    def finish_now(
        self,
        t: Ticket,
        status: int,
        decision: str,
        input_tokens: int,
        output_tokens: int,
        reason: str | None = None,
    ) -> None:
        """The same, blocking, for a task being cancelled (client gone, shutdown timeout): no await can be
        trusted to complete there, and one short transaction is worth a few milliseconds of the loop."""
        if self._begin_finish(t, status, decision, reason):
            self._settle_or_log(t, input_tokens, output_tokens)

    async def reject(self, entry: Entry, err: ApiError, started: float) -> JSONResponse:
        entry.status, entry.decision = err.status, err.decision
        entry.detail["reason"] = err.message
        entry.latency_ms = (time.perf_counter() - started) * 1000
        await self.db_shielded(lambda: self._record(entry))
        self._observe(entry, False)
        return err.response()

    # -- the request path
    async def read_body(self, request: Request) -> bytes:
        limit = self.settings.max_body_bytes
        declared = request.headers.get("content-length")
        too_big = ApiError(
            413, f"request body larger than {limit} bytes", "invalid_request_error", "request_too_large"
        )
        if declared is not None and declared.isdigit() and int(declared) > limit:
            raise too_big
        chunks, size = [], 0
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit:
                raise too_big
            chunks.append(chunk)
        return b"".join(chunks)

    async def auth(self, request: Request) -> Principal:
        header = request.headers.get("authorization")

        def run() -> Principal:
            with Session(self.engine) as s:
                return authenticate(s, header)

        try:
            return await self.db(run)
        except AuthError as e:
            raise ApiError(401, str(e), "authentication_error", "invalid_api_key") from None

    async def classify(self, text: str, stage: str) -> Verdict | None:
        if not text:
            return None
        v = await self.classifier.classify(text)
        self.metrics.verdicts.labels(v.label, stage).inc()
        return v

    async def chat(self, request: Request) -> Response:
        started = time.perf_counter()
        entry = Entry(request_id=f"chatcmpl-gw-{uuid.uuid4().hex}")
        try:
            body = await self.read_body(request)
            p = await self.auth(request)
            entry.key_id, entry.org, entry.tier = p.key_id, p.org, p.tier
            try:
                payload = json.loads(body)
            except (json.JSONDecodeError, UnicodeDecodeError) as e:
                raise _bad(f"request body is not valid JSON ({e})", "invalid_json") from None
            if not isinstance(payload, dict):
                raise _bad("request body must be a JSON object")
            messages = payload.get("messages")
            if (
                not isinstance(messages, list)
                or not messages
                or not all(isinstance(m, dict) for m in messages)
            ):
                raise _bad("'messages' is required: a non-empty list of message objects", "missing_messages")
            model = payload.get("model", self.model)
            entry.model = str(model)[:500]
            if model != self.model:
                raise ApiError(
                    404,
                    f"model {str(model)[:200]!r} not found; this gateway serves {self.model!r}",
                    "invalid_request_error",
                    "model_not_found",
                )
            policy = self.policy  # this request keeps the policy it started with, across reloads
            if p.tier not in GENERATING_TIERS:
                raise ApiError(
                    403,
                    f"{p.tier} keys administer the gateway; they cannot call models",
                    "permission_error",
                    "tier_not_allowed",
                )
            if not tier_allowed(p.tier, policy.access):
                allowed = ", ".join(policy.access.allowed_tiers) or "no tier"
                raise ApiError(
                    403,
                    f"the determination for {self.model} allows {allowed}; this key is {p.tier}",
                    "permission_error",
                    "tier_not_allowed",
                    decision="refused",
                )
            text_in = prompt_text(messages)
            entry.prompt_sha256 = audit.prompt_hash(text_in)
            if self.settings.store_prompts:
                entry.prompt = text_in
            verdict = await self.classify(text_in, "request")
            if verdict is not None:
                entry.verdict, entry.score = verdict.label, verdict.score
            d = decide(p.tier, policy.access, verdict)
            if d.action == "refused":
                raise ApiError(
                    403,
                    f"request refused by the content policy: {d.reason}",
                    "permission_error",
                    "content_policy_violation",
                    decision="refused",
                )
            max_out = payload.get("max_completion_tokens", payload.get("max_tokens"))
            if max_out is None:
                max_out = self.settings.default_max_tokens
                payload["max_tokens"] = max_out
            if not isinstance(max_out, int) or isinstance(max_out, bool) or max_out <= 0:
                raise _bad("'max_tokens' must be a positive integer", "invalid_max_tokens")
            stream = bool(payload.get("stream", False))
            est_in = estimate_tokens(text_in) + 4 * len(messages) + 8
            price = self.settings.price(self.model)
            reserve = metering.cost(price, est_in, max_out)
            limits = self._limits(p)
            if not p.org_capped and all(lim.rpm is None and lim.tpm is None for lim in limits):
                reserve = (
                    0  # nothing to enforce: no budget cap, no rate limit (credits are charged on settling)
                )
            try:
                if reserve == 0 and all(lim.rpm is None and lim.tpm is None for lim in limits):
                    window = ratelimit.current_window()
                else:
                    window = await self.db(lambda: self._admit(p, limits, est_in, reserve))
            except RateLimited as e:
                raise ApiError(
                    429,
                    str(e),
                    "rate_limit_error",
                    "rate_limit_exceeded",
                    {"retry-after": str(e.retry_after)},
                ) from None
            except InsufficientFunds as e:
                raise ApiError(402, str(e), "insufficient_quota", "insufficient_quota") from None
        except ApiError as err:
            return await self.reject(entry, err, started)
        entry.decision = d.action
        self.metrics.inflight.inc()
        self.inflight += 1
        t = Ticket(p, limits, window, reserve, est_in, price, self.model, entry, started, stream)
        payload["model"] = self.settings.upstream_model or self.model
        try:
            if stream:
                return await self.stream(t, payload, policy)
            return await self.plain(t, payload, policy)
        except BaseException:
            self.finish_now(t, 500, "error", 0, 0, "internal error before the response")
            raise

    async def _upstream_error(self, t: Ticket, status: int, raw: bytes) -> JSONResponse:
        try:
            data = json.loads(raw)
            msg = str(data["error"]["message"]) if isinstance(data.get("error"), dict) else str(data)[:500]
        except (ValueError, TypeError, KeyError, AttributeError):
            msg = raw[:500].decode("utf-8", "replace")
        code = status if 400 <= status < 500 and status not in (401, 402, 403, 429) else 502
        err = ApiError(code, f"upstream returned {status}: {msg}", "upstream_error", "upstream_error")
        await self.finish(t, code, "error", 0, 0, err.message)
        return err.response()

    async def _unreachable(self, t: Ticket, e: UpstreamDown | UpstreamTimeout) -> Response:
        """502 when the upstream cannot be reached, 504 when it did not answer in time; nothing billed."""
        if isinstance(e, UpstreamTimeout):
            await self.finish(t, 504, "error", 0, 0, "upstream timed out")
            return ApiError(
                504,
                f"the upstream model did not answer within {self.settings.upstream_timeout:g} s",
                "upstream_error",
                "upstream_timeout",
            ).response()
        await self.finish(t, 502, "error", 0, 0, f"upstream unreachable: {e}")
        return ApiError(
            502, "the upstream model is unreachable", "upstream_error", "upstream_unavailable"
        ).response()

    async def plain(self, t: Ticket, payload: dict[str, Any], policy: LoadedPolicy) -> Response:
        assert self.upstream is not None
        payload.pop("stream_options", None)
        try:
            resp = await self.upstream.post("/chat/completions", payload)
        except (UpstreamDown, UpstreamTimeout) as e:
            return await self._unreachable(t, e)
        if resp.status_code != 200:
            return await self._upstream_error(t, resp.status_code, resp.content)
        try:
            data = resp.json()
            assert isinstance(data, dict)
        except (ValueError, AssertionError):
            await self.finish(
                t, 502, "error", 0, 0, "upstream answered with a body that is not a JSON object"
            )
            return ApiError(
                502, "the upstream answer was not JSON", "upstream_error", "upstream_bad_response"
            ).response()
        usage = data.get("usage") if isinstance(data.get("usage"), dict) else {}
        text_out = _choice_text(data.get("choices"), "message")
        in_tok = int(usage.get("prompt_tokens") or t.est_input)
        out_tok = int(usage.get("completion_tokens") or estimate_tokens(text_out))
        verdict = await self.classify(text_out, "response")
        d = decide(t.principal.tier, policy.access, verdict)
        if verdict is not None:
            t.entry.detail["response_verdict"] = {"label": verdict.label, "score": round(verdict.score, 6)}
        if d.action == "refused":  # withheld: only the prompt is billed
            await self.finish(t, 403, "refused", in_tok, 0, f"response withheld: {d.reason}")
            return ApiError(
                403,
                f"response withheld by the content policy: {d.reason}",
                "permission_error",
                "content_policy_violation",
            ).response()
        action = "flagged" if "flagged" in (t.entry.decision, d.action) else "served"
        headers = {"x-aslgate-request-id": t.entry.request_id}
        if action == "flagged":
            headers["x-aslgate-flagged"] = "offensive_cyber"
        return SettledJSONResponse(data, lambda: self.finish(t, 200, action, in_tok, out_tok), headers)

    async def stream(self, t: Ticket, payload: dict[str, Any], policy: LoadedPolicy) -> Response:
        assert self.upstream is not None
        client_opts = payload.get("stream_options") if isinstance(payload.get("stream_options"), dict) else {}
        wants_usage = bool(client_opts.get("include_usage"))
        payload["stream_options"] = {**client_opts, "include_usage": True}  # we bill by the upstream's count
        try:
            resp = await self.upstream.open_stream("/chat/completions", payload)
        except (UpstreamDown, UpstreamTimeout) as e:
            return await self._unreachable(t, e)
        if resp.status_code != 200:
            try:
                raw = await resp.aread()
            finally:
                await self.upstream.close_stream(resp)
            return await self._upstream_error(t, resp.status_code, raw)
        headers = {"x-aslgate-request-id": t.entry.request_id, "cache-control": "no-cache"}
        if t.entry.decision == "flagged":
            headers["x-aslgate-flagged"] = "offensive_cyber"
        return GatedStream(
            self._relay(t, resp, policy, wants_usage), media_type="text/event-stream", headers=headers
        )

    def _error_event(self, message: str, type_: str, code: str) -> bytes:
        body = {"error": {"message": message, "type": type_, "code": code, "param": None}}
        return f"data: {json.dumps(body)}\n\n".encode()

    async def _relay(
        self, t: Ticket, resp: Any, policy: LoadedPolicy, wants_usage: bool
    ) -> AsyncIterator[bytes]:
        st = self.settings
        sent: list[str] = []  # text (content + tool-call arguments) the client has received
        sent_chars, unchecked = 0, 0
        usage: dict[str, Any] | None = None
        status, decision, reason, done = 200, t.entry.decision, None, False
        try:
            async for data in sse_data(resp):
                if data.strip() == "[DONE]":
                    done = True
                    yield b"data: [DONE]\n\n"
                    break
                try:
                    obj = json.loads(data)
                except ValueError:
                    obj = None
                if isinstance(obj, dict):
                    if isinstance(obj.get("usage"), dict):
                        usage = obj["usage"]
                        if not wants_usage:
                            if not obj.get("choices"):
                                continue  # the usage-only chunk we asked for ourselves
                            obj["usage"] = None
                            data = json.dumps(obj)
                    if isinstance(obj.get("error"), dict):  # the upstream failed mid-stream
                        status, decision, reason = (
                            502,
                            "error",
                            f"upstream error event: {obj['error'].get('message')}",
                        )
                        yield f"data: {data}\n\n".encode()
                        break
                    new = _choice_text(obj.get("choices"), "delta")
                else:
                    new = ""
                if new and policy.access.offense_classifier:
                    unchecked += len(new)
                    if unchecked >= st.stream_check_every_chars:
                        unchecked = 0
                        window = ("".join(sent) + new)[-st.stream_window_chars :]
                        verdict = await self.classify(window, "stream")
                        d = decide(t.principal.tier, policy.access, verdict)
                        if verdict is not None:
                            t.entry.detail["stream_verdict"] = {
                                "label": verdict.label,
                                "score": round(verdict.score, 6),
                            }
                        if d.action == "refused":
                            status, decision, reason = 403, "cut", f"stream cut: {d.reason}"
                            yield self._error_event(
                                f"response cut by the content policy: {d.reason}",
                                "permission_error",
                                "content_policy_violation",
                            )
                            break
                        if d.action == "flagged":
                            decision = "flagged"
                yield f"data: {data}\n\n".encode()
                if new:
                    sent.append(new)
                    sent_chars += len(new)
        except UpstreamTimeout:
            status, decision, reason = 504, "error", "upstream stalled mid-stream"
            yield self._error_event(
                f"the upstream model stalled for {st.upstream_timeout:g} s",
                "upstream_error",
                "upstream_timeout",
            )
        except UpstreamDown as e:
            status, decision, reason = 502, "error", f"upstream broke the stream: {e}"
            yield self._error_event(
                "the upstream model broke the stream", "upstream_error", "upstream_unavailable"
            )
        except (GeneratorExit, asyncio.CancelledError, anyio.get_cancelled_exc_class()):
            status, decision, reason = 499, "abandoned", "client disconnected mid-stream"
            raise
        finally:
            cancelled = status == 499
            try:
                with anyio.CancelScope(shield=True):
                    assert self.upstream is not None
                    await self.upstream.close_stream(resp)
            except BaseException:  # cancelled again while closing: the connection is dropped anyway
                cancelled = True
            if not done and status == 200:
                status, decision, reason = 499, "abandoned", "stream ended before [DONE]"
            complete = done and usage is not None
            in_tok = int((usage or {}).get("prompt_tokens") or t.est_input)
            out_tok = (
                int(usage.get("completion_tokens") or 0)
                if complete and usage
                else estimate_tokens("".join(sent))
            )
            if cancelled:
                self.finish_now(t, status, decision, in_tok, out_tok, reason)
            else:
                await self.finish(t, status, decision, in_tok, out_tok, reason)


def _openai_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(StarletteHTTPException)
    async def _http(_req: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
        return ApiError(exc.status_code, str(exc.detail), "invalid_request_error", code).response()

    @app.exception_handler(Exception)
    async def _any(_req: Request, exc: Exception) -> JSONResponse:
        logging.getLogger(LOGGER).exception("internal error")
        return ApiError(500, "internal gateway error", "server_error", "internal_error").response()


def create_app(
    settings: Settings, classifier: Classifier | None = None, engine: Engine | None = None
) -> FastAPI:
    """The FastAPI app; `classifier` defaults to the one named in settings, else the offline model."""
    setup_logging(settings.log_level)
    gw = Gateway(settings, classifier if classifier is not None else load_classifier(settings), engine)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        gw.upstream = Upstream(
            settings.upstream, settings.upstream_timeout, settings.max_connections, settings.upstream_api_key
        )
        poller = asyncio.create_task(gw.poll_epoch())
        loop = asyncio.get_running_loop()
        with contextlib.suppress(NotImplementedError, RuntimeError, ValueError, AttributeError):
            loop.add_signal_handler(signal.SIGHUP, lambda: _safe_reload(gw, "SIGHUP"))
        log(
            gw.logger,
            "gateway started",
            model=gw.model,
            upstream=settings.upstream,
            allowed_tiers=gw.policy.access.allowed_tiers,
            offense_classifier=gw.policy.access.offense_classifier,
            halt_development=gw.policy.access.halt_development,
            classifier=getattr(gw.classifier, "name", "?"),
        )
        try:
            yield
        finally:
            poller.cancel()
            with contextlib.suppress(BaseException):
                await poller
            await gw.upstream.aclose()
            log(gw.logger, "gateway stopped")

    app = FastAPI(title="aslgate gateway", lifespan=lifespan, docs_url=None, redoc_url=None, openapi_url=None)
    app.state.gateway = gw
    _openai_error_handlers(app)

    @app.post("/v1/chat/completions")
    async def chat_completions(request: Request) -> Response:
        return await gw.chat(request)

    @app.get("/v1/models")
    async def models(request: Request) -> Response:
        try:
            p = await gw.auth(request)
        except ApiError as e:
            return e.response()
        pol = gw.policy
        return JSONResponse(
            {
                "object": "list",
                "data": [
                    {
                        "id": gw.model,
                        "object": "model",
                        "created": 0,
                        "owned_by": "aslgate",
                        "aslgate": {
                            "allowed_tiers": pol.access.allowed_tiers,
                            "offense_classifier": pol.access.offense_classifier,
                            "halt_development": pol.access.halt_development,
                            "your_tier": p.tier,
                            "access": tier_allowed(p.tier, pol.access),
                            "determination": pol.summary,
                        },
                    }
                ],
            }
        )

    @app.get("/healthz")
    async def healthz() -> Response:
        def ping() -> None:
            with gw.engine.connect() as c:
                c.execute(text("SELECT 1"))

        try:
            await gw.db(ping)
        except Exception as e:
            return JSONResponse({"status": "error", "db": str(e)[:200]}, status_code=503)
        return JSONResponse(
            {
                "status": "ok",
                "model": gw.model,
                "epoch": gw.epoch,
                "inflight": gw.inflight,
                "halt_development": gw.policy.access.halt_development,
            }
        )

    @app.get("/metrics")
    async def metrics() -> Response:
        return Response(gw.metrics.render(), media_type="text/plain; version=0.0.4; charset=utf-8")

    @app.post("/admin/reload")
    async def admin_reload(request: Request) -> Response:
        try:
            p = await gw.auth(request)
            if p.tier != "admin":
                raise ApiError(
                    403, "reloading the determination needs an admin key", "permission_error", "admin_only"
                )
        except ApiError as e:
            return e.response()
        try:
            new = gw.reload(f"admin:{p.key_id}")
        except DeterminationError as e:
            return ApiError(400, str(e), "invalid_request_error", "bad_determination").response()
        gw.epoch = await gw.db(gw.bump_epoch)
        return JSONResponse({"reloaded": True, "epoch": gw.epoch, "access_policy": new.access.model_dump()})

    return app


def _safe_reload(gw: Gateway, source: str) -> None:
    with contextlib.suppress(DeterminationError):
        gw.reload(source)


class ClassifierMissing(UserError, RuntimeError):
    """No classifier can be loaded (one line for the user)."""


def load_classifier(settings: Settings) -> Classifier:
    """The classifier named by `--classifier module:factory`, else the project's offline model."""
    import importlib

    spec = settings.classifier
    if spec:
        mod, _, attr = spec.partition(":")
        try:
            factory = getattr(importlib.import_module(mod), attr or "load")
        except (ImportError, AttributeError) as e:
            raise ClassifierMissing(f"--classifier {spec!r}: cannot load it ({e})") from None
        return factory()
    try:
        from aslgate.gateway.classifier import load_default_classifier  # type: ignore[attr-defined]
    except ImportError:
        raise ClassifierMissing(
            "the offline classifier is not in this checkout (aslgate.gateway.classifier.load_default_classifier "
            "is missing); pass --classifier module:factory"
        ) from None
    return load_default_classifier()


def create_app_from_env() -> FastAPI:
    """The factory uvicorn workers call (settings arrive as JSON in the environment)."""
    return create_app(Settings.from_env())
