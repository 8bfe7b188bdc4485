"""Where generated documents' files are kept.

.. versionadded:: 0.3
"""

from __future__ import annotations

from typing import Protocol

__all__ = ["DocumentStore"]


class DocumentStore(Protocol):
    """A place for documents' files: a directory in development, object storage in production.

    Keys are relative paths such as ``"BK-7KQ2M9XD/itinerary-v2.txt"``; writing
    a key again replaces its file (the core never does: each version has its
    own key).

    .. versionadded:: 0.3
    """

    def put(self, key: str, content: bytes, *, media_type: str) -> str:
        """Keep ``content`` under ``key``; returns where it is (a path or URL)."""

    def get(self, key: str) -> bytes:
        """The content kept under ``key``.

        Raises:
            NotFoundError: nothing is kept under ``key``.
        """
