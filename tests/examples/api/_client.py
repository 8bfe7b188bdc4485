"""A blocking HTTP client of an ASGI app, and reading sign-in codes, for the API tests."""

from __future__ import annotations

import re
from typing import Any

import httpx
from fastapi import FastAPI

from bookingcore_adapters.sms import ConsoleSmsSender


class ApiClient:
    """A blocking face on ``httpx.AsyncClient(transport=ASGITransport(app))``.

    Requests run on an event loop in a portal thread, so tests stay plain
    functions; a server error is answered (500 problem), not raised.
    """

    def __init__(self, app: FastAPI, portal: Any, *, client_ip: str = "127.0.0.1") -> None:
        self._portal = portal
        transport = httpx.ASGITransport(
            app=app, raise_app_exceptions=False, client=(client_ip, 123)
        )
        self._client = httpx.AsyncClient(transport=transport, base_url="http://testserver")

    def request(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        """Send one request and wait for its answer."""
        response: httpx.Response = self._portal.call(
            lambda: self._client.request(method, url, **kwargs)
        )
        return response

    def get(self, url: str, **kwargs: Any) -> httpx.Response:
        """GET ``url``."""
        return self.request("GET", url, **kwargs)

    def post(self, url: str, **kwargs: Any) -> httpx.Response:
        """POST ``url``."""
        return self.request("POST", url, **kwargs)

    def walk(
        self, url: str, headers: dict[str, str], limit: int = 2, **params: str
    ) -> list[dict[str, Any]]:
        """Every item of a paged list: GET ``url`` a ``limit`` at a time, following
        each page's ``next`` link to the last page (whose ``next_cursor`` is null).
        Every page answers 200 and holds at most ``limit`` items."""
        answer = self.get(url, params={**params, "limit": str(limit)}, headers=headers)
        items: list[dict[str, Any]] = []
        while True:
            assert answer.status_code == 200, answer.text
            page = answer.json()
            assert len(page["items"]) <= limit, page
            items += page["items"]
            if page["next"] is None:
                assert page["next_cursor"] is None
                return items
            answer = self.get(page["next"], headers=headers)

    def put(self, url: str, **kwargs: Any) -> httpx.Response:
        """PUT ``url``."""
        return self.request("PUT", url, **kwargs)

    def patch(self, url: str, **kwargs: Any) -> httpx.Response:
        """PATCH ``url``."""
        return self.request("PATCH", url, **kwargs)

    def delete(self, url: str, **kwargs: Any) -> httpx.Response:
        """DELETE ``url``."""
        return self.request("DELETE", url, **kwargs)

    def close(self) -> None:
        """Close the underlying client."""
        self._portal.call(self._client.aclose)


def last_code(sms: ConsoleSmsSender) -> str:
    """The code of the last text sent."""
    found = re.search(r"\b(\d{6})\b", sms.sent[-1][1])
    assert found is not None
    return found.group(1)


class CountedBody:
    """A request body of ``count`` chunks sent one by one, counting how many the app pulled."""

    def __init__(self, chunk: bytes, count: int, *, first: bytes = b"") -> None:
        self.chunk, self.count, self.first = chunk, count, first
        self.pulled = 0

    @property
    def size(self) -> int:
        """The whole body's length, had it all been read."""
        return len(self.first) + len(self.chunk) * self.count

    async def __aiter__(self) -> Any:
        if self.first:
            self.pulled += 1
            yield self.first
        for _ in range(self.count):
            self.pulled += 1
            yield self.chunk
