"""Latency the gateway adds, streaming time-to-first-token overhead, and RSS growth (bounded, 127.0.0.1 only).

A fake upstream (fixed latency; streaming with fixed gaps) runs in its own process; `aslgate serve
--workers 2` on a SQLite database sits in front of it. An open-loop load generator sends requests at a
fixed rate for a fixed count, first to the upstream directly and then through the gateway, in the same
run, and prints the latency added at p50/p99 (targets: p50 <= 1 ms, p99 <= 5 ms at 500 req/s), the
streaming TTFT overhead, and the gateway workers' RSS after 1,000 and 10,000 requests (target: within 5%).

Run: nice -n 10 .venv/bin/python benchmarks/gateway.py [--rates 200,500] [--seconds 4] [--classifier null]
The load generator shares the machine with the servers, so on 2 busy cores the figures are upper bounds.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
UPSTREAM_LATENCY = 0.020  # seconds per non-streamed answer
STREAM_CHUNKS, STREAM_GAP = 10, 0.005


# ---------------------------------------------------------------- the fake upstream (own process)


def upstream_app():
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import JSONResponse, Response, StreamingResponse
    from starlette.routing import Route

    async def chat(request: Request) -> Response:
        body = await request.json()
        usage = {"prompt_tokens": 12, "completion_tokens": STREAM_CHUNKS, "total_tokens": 12 + STREAM_CHUNKS}
        if not body.get("stream"):
            await asyncio.sleep(UPSTREAM_LATENCY)
            return JSONResponse(
                {
                    "id": "x",
                    "object": "chat.completion",
                    "model": body.get("model"),
                    "usage": usage,
                    "choices": [
                        {
                            "index": 0,
                            "finish_reason": "stop",
                            "message": {"role": "assistant", "content": "ok " * STREAM_CHUNKS},
                        }
                    ],
                }
            )

        async def events():
            for i in range(STREAM_CHUNKS):
                await asyncio.sleep(STREAM_GAP)
                c = {
                    "id": "x",
                    "object": "chat.completion.chunk",
                    "choices": [{"index": 0, "delta": {"content": f"t{i} "}}],
                }
                yield f"data: {json.dumps(c)}\n\n".encode()
            if (body.get("stream_options") or {}).get("include_usage"):
                yield f"data: {json.dumps({'id': 'x', 'choices': [], 'usage': usage})}\n\n".encode()
            yield b"data: [DONE]\n\n"

        return StreamingResponse(events(), media_type="text/event-stream")

    return Starlette(routes=[Route("/v1/chat/completions", chat, methods=["POST"])])


class NullClassifier:
    """Benign for everything, instantly: isolates the gateway's own overhead."""

    name = "null"

    async def classify(self, text: str):
        from aslgate.gateway.classifier import Verdict

        return Verdict(label="benign", score=1.0, scores={"benign": 1.0})


def load_null_classifier() -> NullClassifier:
    return NullClassifier()


# ---------------------------------------------------------------- helpers


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_up(url: str, proc: subprocess.Popen, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"server exited early ({url})")
        try:
            httpx.get(url, timeout=1)
            return
        except httpx.HTTPError:
            time.sleep(0.1)
    raise SystemExit(f"server at {url} did not come up")


def children(pid: int) -> list[int]:
    out = []
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            try:
                if (
                    int((d / "stat").read_text().rsplit(")", 1)[1].split()[1]) == pid
                    and b"resource_tracker" not in (d / "cmdline").read_bytes()
                ):
                    out.append(int(d.name))
            except (OSError, IndexError, ValueError):
                continue
    return out


def rss_mib(pids: list[int]) -> float:
    total = 0
    for p in pids:
        try:
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except OSError:
            pass
    return total / 1024


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU time of these processes (from /proc), to report CPU per request."""
    total = 0
    for p in pids:
        try:
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])
        except (OSError, IndexError, ValueError):
            pass
    return total / os.sysconf("SC_CLK_TCK")


def pct(xs: list[float], q: float) -> float:
    s = sorted(xs)
    return s[min(len(s) - 1, int(q * len(s)))] if s else float("nan")


class RawClient:
    """A minimal keep-alive HTTP/1.1 client on asyncio streams: the load generator must cost far less than
    what it measures (httpx's pool alone saturates a core at a few hundred requests/s here)."""

    def __init__(self, port: int, size: int = 256) -> None:
        self.port, self.size, self.opened = port, size, 0
        self.idle: asyncio.Queue[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = asyncio.Queue()

    async def _conn(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        if self.idle.empty() and self.opened < self.size:
            self.opened += 1
            return await asyncio.open_connection("127.0.0.1", self.port)
        return await self.idle.get()

    async def post(self, path: str, body: bytes, key: str | None, start: float) -> tuple[int, float | None]:
        """Status and, for a chunked (streamed) answer, the time to the first content chunk (ms)."""
        r, w = await self._conn()
        try:
            return await self._exchange(r, w, path, body, key, start)
        except BaseException:
            w.close()
            self.opened -= 1
            raise

    async def _exchange(
        self,
        r: asyncio.StreamReader,
        w: asyncio.StreamWriter,
        path: str,
        body: bytes,
        key: str | None,
        start: float,
    ) -> tuple[int, float | None]:
        auth = f"Authorization: Bearer {key}\r\n" if key else ""
        w.write(
            f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n{auth}"
            f"Content-Length: {len(body)}\r\n\r\n".encode()
            + body
        )
        head = (await r.readuntil(b"\r\n\r\n")).decode("latin-1").lower()
        status = int(head.split(" ", 2)[1])
        first = None
        if "transfer-encoding: chunked" in head:
            while True:
                size = int((await r.readuntil(b"\r\n")).strip(), 16)
                chunk = await r.readexactly(size + 2)
                if size == 0:
                    break
                if first is None and b'"content"' in chunk:
                    first = (time.perf_counter() - start) * 1000
        else:
            n = int(head.split("content-length:", 1)[1].split("\r\n", 1)[0])
            await r.readexactly(n)
        if "connection: close" in head:
            w.close()
            self.opened -= 1
        else:
            self.idle.put_nowait((r, w))
        return status, first

    async def close(self) -> None:
        while not self.idle.empty():
            _, w = self.idle.get_nowait()
            w.close()


async def load(
    url: str, key: str | None, rate: float, count: int, stream: bool = False
) -> tuple[list[float], int]:
    """Open loop: request i starts at i/rate seconds; returns latencies (ms) of successes (time to the
    last byte, or to the first token when streaming) and the error count."""
    port = int(url.rsplit(":", 1)[1])
    body = json.dumps(
        {"model": "bench", "messages": [{"role": "user", "content": "hello there"}], "stream": stream}
    ).encode()
    lat: list[float] = []
    errors = 0
    client = RawClient(port)

    async def one(i: int, t0: float) -> None:
        nonlocal errors
        await asyncio.sleep(max(0.0, t0 + i / rate - time.perf_counter()))
        start = time.perf_counter()
        try:
            status, first = await client.post("/v1/chat/completions", body, key, start)
        except (OSError, asyncio.IncompleteReadError, ValueError, IndexError):
            errors += 1
            return
        if status != 200:
            errors += 1
        elif stream:
            if first is not None:
                lat.append(first)
        else:
            lat.append((time.perf_counter() - start) * 1000)

    t0 = time.perf_counter()
    await asyncio.gather(*(one(i, t0) for i in range(count)))
    await client.close()
    return lat, errors


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rates", default="200,500")
    ap.add_argument("--seconds", type=float, default=4.0, help="seconds of load per rate (bounded count)")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--classifier", default="null", help="null (no-op, the gateway's own cost) or default")
    ap.add_argument("--rss-requests", default="1000,10000")
    args = ap.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # run the finally below: stop the servers
    env = {**os.environ, "PYTHONPATH": f"{ROOT / 'src'}{os.pathsep}{ROOT / 'benchmarks'}"}
    with tempfile.TemporaryDirectory() as tmp:
        up_port, gw_port = free_port(), free_port()
        up = subprocess.Popen(
            [
                sys.executable,
                "-c",
                f"import sys; sys.path.insert(0, {str(ROOT / 'benchmarks')!r}); "
                "import uvicorn, gateway; uvicorn.run(gateway.upstream_app(), host='127.0.0.1', "
                f"port={up_port}, log_level='warning', workers=1)",
            ],
            env=env,
        )
        det = Path(tmp) / "determination.json"
        det.write_text(
            json.dumps(
                {
                    "model": "bench",
                    "summary": "bench",
                    "frameworks": [],
                    "gaps": [],
                    "access_policy": {"allowed_tiers": ["partner"], "offense_classifier": True},
                }
            )
        )
        db = f"sqlite:///{tmp}/gw.db"
        sys.path.insert(0, str(ROOT / "src"))
        from aslgate.gateway.db import make_engine
        from aslgate.gateway.keys import create_key

        key = create_key(make_engine(db), "bench", "partner").key
        clf = ["--classifier", "gateway:load_null_classifier"] if args.classifier == "null" else []
        gw = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "aslgate",
                "serve",
                "--upstream",
                f"http://127.0.0.1:{up_port}/v1",
                "--determination",
                str(det),
                "--db",
                db,
                "--port",
                str(gw_port),
                "--workers",
                str(args.workers),
                *clf,
            ],
            env=env,
            stderr=subprocess.DEVNULL,
        )
        try:
            direct, gateway = f"http://127.0.0.1:{up_port}", f"http://127.0.0.1:{gw_port}"
            wait_up(direct + "/v1/chat/completions", up)
            wait_up(gateway + "/healthz", gw)
            marks = [int(x) for x in args.rss_requests.split(",")]
            workers = children(gw.pid)
            asyncio.run(load(gateway, key, 50, 100))  # warm-up (connections, imports)
            asyncio.run(load(direct, None, 50, 100))
            sent = 100
            asyncio.run(load(gateway, key, 300, marks[0] - sent))
            sent = marks[0]
            rss = {sent: rss_mib(workers)}
            print(
                f"upstream latency {UPSTREAM_LATENCY * 1000:.0f} ms; gateway: {args.workers} workers, SQLite, "
                f"classifier {args.classifier}; {os.cpu_count()} CPUs shared with other work"
            )
            print(
                f"{'rate':>6} {'n':>6} {'direct p50':>11} {'gw p50':>8} {'added p50':>10} {'direct p99':>11} "
                f"{'gw p99':>8} {'added p99':>10} {'errors':>7}"
            )
            cpu_rows: list[tuple[float, float, float]] = []
            for rate in (float(r) for r in args.rates.split(",")):
                n = int(rate * args.seconds)
                c0 = cpu_seconds([up.pid])
                d, de = asyncio.run(load(direct, None, rate, n))
                c1 = cpu_seconds([up.pid])
                w0 = cpu_seconds(workers)
                g, ge = asyncio.run(load(gateway, key, rate, n))
                cpu_rows.append((rate, (c1 - c0) / n * 1000, (cpu_seconds(workers) - w0) / n * 1000))
                sent += n
                print(
                    f"{rate:>6.0f} {n:>6} {pct(d, 0.5):>9.2f}ms {pct(g, 0.5):>6.2f}ms {pct(g, 0.5) - pct(d, 0.5):>8.2f}ms "
                    f"{pct(d, 0.99):>9.2f}ms {pct(g, 0.99):>6.2f}ms {pct(g, 0.99) - pct(d, 0.99):>8.2f}ms {de + ge:>7}"
                )
            for rate, up_ms, gw_ms in cpu_rows:
                print(
                    f"CPU per request at {rate:.0f} req/s: upstream {up_ms:.2f} ms, gateway workers {gw_ms:.2f} ms"
                )
            d, _ = asyncio.run(load(direct, None, 20, 60, stream=True))
            g, _ = asyncio.run(load(gateway, key, 20, 60, stream=True))
            sent += 60
            print(
                f"streaming TTFT p50: direct {pct(d, 0.5):.2f} ms, gateway {pct(g, 0.5):.2f} ms, "
                f"overhead {pct(g, 0.5) - pct(d, 0.5):.2f} ms (p99 overhead {pct(g, 0.99) - pct(d, 0.99):.2f} ms)"
            )
            for mark in marks[1:]:
                if mark > sent:
                    asyncio.run(load(gateway, key, 300, mark - sent))
                    sent = mark
                rss[sent] = rss_mib(workers)
            for n, mib in rss.items():
                print(f"RSS of the {len(workers)} gateway workers after {n:>6} requests: {mib:.1f} MiB")
            if len(rss) > 1:
                vals = list(rss.values())
                a, b = vals[0], vals[-1]
                print(f"RSS growth: {100 * (b - a) / a:+.1f}%")
        finally:
            for p in (gw, up):
                p.send_signal(signal.SIGTERM)
            for p in (gw, up):
                try:
                    p.wait(timeout=60)
                except subprocess.TimeoutExpired:
                    p.kill()


if __name__ == "__main__":
    main()
