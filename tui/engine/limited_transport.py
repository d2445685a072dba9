"""The httpx transport that waits on the requests-per-minute limiter before every request.

Apart from ``tui.engine.ratelimit`` so the engine (and the workbench's first screen) does not
import httpx until the first request is made.
"""

from __future__ import annotations

import httpx

from tui.engine.ratelimit import RateLimiter


class RateLimitedTransport(httpx.AsyncBaseTransport):
    def __init__(self, limiter: RateLimiter, inner: httpx.AsyncBaseTransport | None = None) -> None:
        self.limiter = limiter
        self.inner = inner or httpx.AsyncHTTPTransport(retries=1)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        await self.limiter.acquire()
        return await self.inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self.inner.aclose()
