"""A partner's webhook endpoint on 127.0.0.1 that verifies with the standardwebhooks package."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import attrs
from standardwebhooks import Webhook


@attrs.define
class Received:
    """One request as the receiver saw it."""

    headers: dict[str, str]
    body: bytes
    verified: bool
    payload: Any


@attrs.define
class Receiver:
    """What the endpoint got, and what it answers next.

    ``script`` holds the next answers: an HTTP status, ``"slow"`` (sleep
    past the sender's timeout, then 200), ``"hang"`` (sleep 5 seconds, then
    200: long enough to kill the sender meanwhile), ``"trickle"`` (200 at once,
    then a 60-byte body one byte every 0.1 s), or a status with extra response
    headers (``(429, {"Retry-After": "120"})``). Empty: 200.
    """

    url: str
    secret: str = ""
    delay: float = 0.0
    #: answer 401 to a request that does not verify (off for the bookingcore scheme)
    require_standard: bool = True
    received: list[Received] = attrs.Factory(list)
    script: list[int | str | tuple[int, dict[str, str]]] = attrs.Factory(list)
    lock: threading.Lock = attrs.Factory(threading.Lock)

    def ids(self) -> list[str]:
        with self.lock:
            return [r.headers.get("webhook-id", "") for r in self.received]


def _handler(receiver: Receiver) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            body = self.rfile.read(length)
            headers = dict(self.headers.items())
            try:
                payload = Webhook(receiver.secret).verify(body, headers)
                verified = True
            except Exception:  # any refusal (also an empty secret) is 'not verified'
                payload, verified = None, False
            with receiver.lock:
                receiver.received.append(Received(headers, body, verified, payload))
                answer = receiver.script.pop(0) if receiver.script else 200
            if receiver.delay:
                time.sleep(receiver.delay)
            extra: dict[str, str] = {}
            if isinstance(answer, tuple):
                answer, extra = answer
            if answer == "slow":
                time.sleep(1.5)
                answer = 200
            if answer == "hang":
                time.sleep(5)
                answer = 200
            if answer == "trickle":
                self._trickle()
                return
            code = int(answer)
            if receiver.require_standard and not verified and code == 200:
                code = 401
            reply = b"ok" if code < 300 else b"nope"
            try:
                self.send_response(code)
                self.send_header("Content-Type", "text/plain")
                for name, value in extra.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(reply)))
                self.end_headers()
                self.wfile.write(reply)
            except (BrokenPipeError, ConnectionResetError):
                return  # the sender is gone (it timed out, or was killed)

        def _trickle(self) -> None:
            try:
                self.send_response(200)
                self.send_header("Content-Type", "text/plain")
                self.send_header("Content-Length", "60")
                self.end_headers()
                for _ in range(60):
                    self.wfile.write(b"x")
                    self.wfile.flush()
                    time.sleep(0.1)
            except (BrokenPipeError, ConnectionResetError):
                return

        def log_message(self, format: str, *args: Any) -> None:
            return

    return Handler


@contextmanager
def webhook_receiver(secret: str = "", delay: float = 0.0) -> Iterator[Receiver]:
    """A running endpoint; set ``receiver.secret`` to the partner's once it is known."""
    receiver = Receiver(url="", secret=secret, delay=delay)
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(receiver))
    server.daemon_threads = True
    receiver.url = f"http://127.0.0.1:{server.server_address[1]}/hooks"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield receiver
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
