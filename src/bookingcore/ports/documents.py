"""Where generated documents' files are kept.

.. versionadded:: 0.3
"""

from __future__ import annotations

from typing import Protocol

__all__ = ["DocumentStore", "FileStore"]


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


class FileStore(Protocol):
    """Files kept by key and deleted when no longer needed: uploaded import files.

    A :class:`DocumentStore` that can also delete. Keys are relative paths
    (``"4f1c...e2.import"``). :meth:`delete` is idempotent: deleting a key
    that holds nothing (never written, or deleted already, perhaps by another
    worker a moment ago) is no error. ``FileSystemDocumentStore`` implements it.

    .. versionadded:: 0.4
    """

    def put(self, key: str, content: bytes, *, media_type: str) -> str:
        """Keep ``content`` under ``key`` (replacing what was there); returns where it is."""

    def get(self, key: str) -> bytes:
        """The content kept under ``key``.

        Raises:
            NotFoundError: nothing is kept under ``key``.
        """

    def delete(self, key: str) -> bool:
        """Forget ``key``'s content; True when something was deleted, False when
        nothing was kept under it."""
