"""What the HTTP adapters share: an httpx client they may own, and reading vendors' answers.

.. versionadded:: 0.4
"""

from __future__ import annotations

from types import TracebackType
from typing import Any, Self

import httpx

__all__ = ["OwnedClient", "json_object", "retryable_status"]


class OwnedClient:
    """An adapter over an :class:`httpx.Client`: the one given (the caller closes it),
    or one of its own, closed by :meth:`close` or at the end of a ``with`` block."""

    def __init__(self, client: httpx.Client | None) -> None:
        self._owns_client = client is None
        self._client = client if client is not None else httpx.Client()

    def close(self) -> None:
        """Close the HTTP client if this adapter created it."""
        if self._owns_client:
            self._client.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()


def json_object(response: httpx.Response) -> dict[str, Any]:
    """The answer's JSON object; empty when the body is no JSON object."""
    try:
        document = response.json()
    except ValueError:
        return {}
    return document if isinstance(document, dict) else {}


def retryable_status(status_code: int) -> bool:
    """Whether a vendor's HTTP status says "try again later": a timeout (408), too many
    requests (429) or a server error (5xx)."""
    return status_code in {408, 429} or status_code >= 500
