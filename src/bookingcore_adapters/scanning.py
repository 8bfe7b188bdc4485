""":class:`~bookingcore.ports.FileScanner` adapters: none, and ClamAV's clamd over TCP.

``ClamdScanner`` speaks clamd's ``INSTREAM`` command with the standard library
only: ``zINSTREAM\\0``, then the content in chunks, each preceded by its length
as 4 bytes big-endian, then a zero length; clamd answers ``stream: OK`` or
``stream: <name> FOUND`` (``... ERROR`` when it cannot scan, e.g. past its
``StreamMaxLength``).

.. versionadded:: 0.4
"""

from __future__ import annotations

import os
import socket
import struct
from collections.abc import Iterator
from pathlib import Path

from bookingcore.ports.scanning import FileScanError, ScanResult

__all__ = ["ClamdScanner", "NoScanner"]

_END = struct.pack(">I", 0)


class NoScanner:
    """Finds every file clean: the default when no scanner is wired.

    .. versionadded:: 0.4
    """

    def scan(self, content: bytes | os.PathLike[str]) -> ScanResult:
        """A clean result, always."""
        del content
        return ScanResult()


class ClamdScanner:
    """Scans with a ClamAV daemon (``clamd``) listening on TCP (``TCPSocket 3310``).

    Each scan is one connection; the file is streamed in ``chunk_size`` pieces
    (keep them under clamd's ``StreamMaxLength``), so memory does not grow with
    the file.

    Args:
        host: clamd's address.
        port: clamd's TCP port.
        timeout: seconds to wait for the connection and each read or write.
        chunk_size: bytes per ``INSTREAM`` chunk.

    .. versionadded:: 0.4
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 3310,
        *,
        timeout: float = 30.0,
        chunk_size: int = 64 * 1024,
    ) -> None:
        if chunk_size <= 0:
            msg = "chunk_size must be positive"
            raise ValueError(msg)
        self.host = host
        self.port = port
        self.timeout = timeout
        self.chunk_size = chunk_size

    def scan(self, content: bytes | os.PathLike[str]) -> ScanResult:
        """Stream ``content`` (bytes, or a local file's path) to clamd and read its verdict.

        Raises:
            FileScanError: clamd could not be reached, closed the connection,
                answered an error (``... ERROR``) or something it does not say.
        """
        where = f"clamd at {self.host}:{self.port}"
        try:
            with socket.create_connection((self.host, self.port), timeout=self.timeout) as conn:
                try:
                    conn.sendall(b"zINSTREAM\0")
                    for chunk in self._chunks(content):
                        conn.sendall(struct.pack(">I", len(chunk)) + chunk)
                    conn.sendall(_END)
                except OSError:
                    # clamd closes early on a stream past its limit: its reply says why
                    reply = _read_reply(conn)
                    if not reply:
                        raise
                else:
                    reply = _read_reply(conn)
        except OSError as exc:
            msg = f"{where} could not scan the file: {exc}"
            raise FileScanError(msg) from exc
        return _verdict(reply, where)

    def _chunks(self, content: bytes | os.PathLike[str]) -> Iterator[bytes]:
        if isinstance(content, bytes | bytearray | memoryview):
            data = bytes(content)
            for start in range(0, len(data), self.chunk_size):
                yield data[start : start + self.chunk_size]
            return
        with Path(content).open("rb") as handle:
            while chunk := handle.read(self.chunk_size):
                yield chunk


def _read_reply(conn: socket.socket) -> str:
    received = bytearray()
    try:
        while b"\0" not in received:
            data = conn.recv(4096)
            if not data:
                break
            received += data
    except OSError:
        pass
    return received.split(b"\0", 1)[0].decode("utf-8", "replace").strip()


def _verdict(reply: str, where: str) -> ScanResult:
    if not reply:
        msg = f"{where} closed the connection without a verdict"
        raise FileScanError(msg)
    _, _, verdict = reply.partition(": ")
    if verdict == "OK":
        return ScanResult()
    if verdict.endswith(" FOUND"):
        return ScanResult(threat=verdict.removesuffix(" FOUND").strip() or "unknown")
    msg = f"{where} could not scan the file: {reply}"
    raise FileScanError(msg)
