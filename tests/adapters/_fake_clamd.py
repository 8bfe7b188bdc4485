"""A local clamd that speaks the INSTREAM protocol over TCP, for the scanner tests.

It reads ``zINSTREAM\\0``, then chunks (4-byte big-endian length, then the bytes)
until a zero length, and answers ``stream: OK\\0`` or, when the content holds
:data:`SIGNATURE`, ``stream: Eicar-Test-Signature FOUND\\0``; past ``max_length``
bytes it answers ``INSTREAM size limit exceeded. ERROR\\0`` and hangs up, as clamd does.
"""

from __future__ import annotations

import socket
import socketserver
import struct
import threading
from collections.abc import Iterator
from contextlib import contextmanager

import attrs

#: What the fake treats as malware (the start of the EICAR test file).
SIGNATURE = b"X5O!P%@AP[4\\PZX54(P^)7CC)7}$EICAR"


@attrs.define
class FakeClamd:
    """What the fake received: each connection's command and chunk lengths."""

    host: str = "127.0.0.1"
    port: int = 0
    max_length: int = 1024 * 1024
    commands: list[bytes] = attrs.field(factory=list)
    chunk_sizes: list[list[int]] = attrs.field(factory=list)
    contents: list[bytes] = attrs.field(factory=list)


def _read_exactly(conn: socket.socket, count: int) -> bytes:
    data = bytearray()
    while len(data) < count:
        got = conn.recv(count - len(data))
        if not got:
            raise ConnectionError("client hung up")
        data += got
    return bytes(data)


@contextmanager
def fake_clamd(*, max_length: int = 1024 * 1024) -> Iterator[FakeClamd]:
    """A fake clamd on a free port of 127.0.0.1, served in a thread while in the block."""
    state = FakeClamd(max_length=max_length)

    class Handler(socketserver.BaseRequestHandler):
        def handle(self) -> None:
            conn: socket.socket = self.request
            command = bytearray()
            while not command.endswith(b"\0"):
                command += _read_exactly(conn, 1)
            state.commands.append(bytes(command))
            if bytes(command) != b"zINSTREAM\0":
                conn.sendall(b"UNKNOWN COMMAND\0")
                return
            sizes: list[int] = []
            content = bytearray()
            state.chunk_sizes.append(sizes)
            while True:
                (size,) = struct.unpack(">I", _read_exactly(conn, 4))
                sizes.append(size)
                if size == 0:
                    break
                content += _read_exactly(conn, size)
                if len(content) > state.max_length:
                    conn.sendall(b"INSTREAM size limit exceeded. ERROR\0")
                    return
            state.contents.append(bytes(content))
            if SIGNATURE in content:
                conn.sendall(b"stream: Eicar-Test-Signature FOUND\0")
            else:
                conn.sendall(b"stream: OK\0")

    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    state.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)
