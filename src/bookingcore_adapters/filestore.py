"""A :class:`~bookingcore.ports.DocumentStore` and :class:`~bookingcore.ports.FileStore`
on the local file system (documents in development; imports' uploaded files).

.. versionadded:: 0.3
.. versionchanged:: 0.4 :meth:`FileSystemDocumentStore.delete` (a ``FileStore``).
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path, PurePosixPath

from bookingcore.errors import NotFoundError, ValidationError

__all__ = ["FileSystemDocumentStore"]


class FileSystemDocumentStore:
    """Keeps each document's file under ``root``, at its key's relative path.

    Files are written to a temporary name and renamed into place, so a reader
    never sees half a file. A key that is absolute or climbs out of ``root``
    (``..``) is refused. It is also a :class:`~bookingcore.ports.FileStore`
    (``BookingCore(import_files=...)``).

    .. versionadded:: 0.3
    .. versionchanged:: 0.4 :meth:`delete` and :meth:`path`.
    """

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self._root = Path(root).resolve()
        self._root.mkdir(parents=True, exist_ok=True)

    def _path(self, key: str) -> Path:
        relative = PurePosixPath(key)
        if not key or relative.is_absolute() or ".." in relative.parts:
            msg = f"{key!r} is not a relative path inside the store"
            raise ValidationError.single("key", msg, "invalid")
        return self._root.joinpath(*relative.parts)

    def put(self, key: str, content: bytes, *, media_type: str) -> str:
        """Write ``content`` to ``root/key``; returns the file's path."""
        del media_type  # the file name's extension says it
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=path.parent, delete=False) as handle:
            handle.write(content)
            temporary = Path(handle.name)
        temporary.replace(path)
        return str(path)

    def get(self, key: str) -> bytes:
        """The content of ``root/key``.

        Raises:
            NotFoundError: there is no such file.
        """
        path = self._path(key)
        if not path.is_file():
            raise NotFoundError("document file", key)
        return path.read_bytes()

    def path(self, key: str) -> Path:
        """Where ``key``'s file is (or would be): for a host reading it in place.

        Raises:
            ValidationError: on ``key`` when it is absolute or climbs out of ``root``.

        .. versionadded:: 0.4
        """
        return self._path(key)

    def delete(self, key: str) -> bool:
        """Delete ``root/key``; True when a file was deleted, False when there was none
        (never written, or deleted already, by this process or another).

        .. versionadded:: 0.4
        """
        try:
            self._path(key).unlink()
        except FileNotFoundError:
            return False
        return True
