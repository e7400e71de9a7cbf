"""The upstream OpenAI-compatible API: one pooled httpx.AsyncClient per worker, errors as exceptions."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import httpx


class UpstreamDown(Exception):
    """The upstream refused the connection or broke it."""


class UpstreamTimeout(Exception):
    """No byte from the upstream within the configured timeout."""


class Upstream:
    """Requests beyond `max_connections` wait on a semaphore, not in httpcore's pool: the pool rescans every
    connection (a readability syscall each) for every queued request, which is quadratic under load."""

    def __init__(
        self, base_url: str, timeout: float, max_connections: int, api_key: str | None = None
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.slots = asyncio.Semaphore(max_connections)
        headers = {"authorization": f"Bearer {api_key}"} if api_key else {}
        self.client = httpx.AsyncClient(
            base_url=self.base_url,
            headers=headers,
            timeout=httpx.Timeout(timeout, connect=min(timeout, 10.0)),
            limits=httpx.Limits(max_connections=max_connections, max_keepalive_connections=max_connections),
        )

    async def aclose(self) -> None:
        await self.client.aclose()

    async def post(self, path: str, payload: dict[str, Any]) -> httpx.Response:
        try:
            async with self.slots:
                return await self.client.post(path, json=payload)
        except httpx.TimeoutException as e:
            raise UpstreamTimeout(str(e) or type(e).__name__) from None
        except httpx.HTTPError as e:
            raise UpstreamDown(str(e) or type(e).__name__) from None

    async def open_stream(self, path: str, payload: dict[str, Any]) -> httpx.Response:
        """A streamed response; it holds a slot until `close_stream`."""
        req = self.client.build_request("POST", path, json=payload, headers={"accept": "text/event-stream"})
        await self.slots.acquire()
        try:
            return await self.client.send(req, stream=True)
        except httpx.TimeoutException as e:
            self.slots.release()
            raise UpstreamTimeout(str(e) or type(e).__name__) from None
        except httpx.HTTPError as e:
            self.slots.release()
            raise UpstreamDown(str(e) or type(e).__name__) from None
        except BaseException:
            self.slots.release()
            raise

    async def close_stream(self, resp: httpx.Response) -> None:
        try:
            await resp.aclose()
        finally:
            self.slots.release()


async def sse_data(resp: httpx.Response) -> AsyncIterator[str]:
    """The `data:` payload of each server-sent event (multi-line data joined with newlines)."""
    lines: list[str] = []
    try:
        async for line in resp.aiter_lines():
            if line == "":
                if lines:
                    yield "\n".join(lines)
                    lines = []
                continue
            if line.startswith("data:"):
                v = line[5:]
                lines.append(v[1:] if v.startswith(" ") else v)
        if lines:
            yield "\n".join(lines)
    except httpx.TimeoutException as e:
        raise UpstreamTimeout(str(e) or type(e).__name__) from None
    except httpx.HTTPError as e:
        raise UpstreamDown(str(e) or type(e).__name__) from None
