"""A partner's webhook endpoint for the demo: a thread on 127.0.0.1 that verifies each
request's Standard Webhooks signature with the ``standardwebhooks`` package, as a
partner's own server would, and keeps what it verified.

It answers 200 to a request that verifies and 401 to one that does not.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import attrs
from standardwebhooks import Webhook, WebhookVerificationError

__all__ = ["PartnerEndpoint", "VerifiedWebhook", "running_partner_endpoint"]


@attrs.frozen
class VerifiedWebhook:
    """One request the endpoint got: its ``webhook-id`` and, if it verified, the payload."""

    webhook_id: str
    verified: bool
    payload: Any


@attrs.define
class PartnerEndpoint:
    """Where the endpoint listens, the partner's signing secret, and what it got.

    Set ``secret`` to the partner's ``webhook_secret`` once the partner is registered.
    """

    url: str = ""
    secret: str = ""
    received: list[VerifiedWebhook] = attrs.Factory(list)
    lock: threading.Lock = attrs.Factory(threading.Lock)

    def verify(self, body: bytes, headers: dict[str, str]) -> VerifiedWebhook:
        """Check the signature and timestamp with ``standardwebhooks``; record the outcome."""
        webhook_id = headers.get("webhook-id", "")
        try:
            payload = Webhook(self.secret).verify(body, headers)
            result = VerifiedWebhook(webhook_id, True, payload)
        except WebhookVerificationError:
            result = VerifiedWebhook(webhook_id, False, None)
        with self.lock:
            self.received.append(result)
        return result


def _handler(endpoint: PartnerEndpoint) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            headers = {key.lower(): value for key, value in self.headers.items()}
            verified = endpoint.verify(body, headers).verified
            reply = b"ok" if verified else b"bad signature"
            self.send_response(200 if verified else 401)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(len(reply)))
            self.end_headers()
            self.wfile.write(reply)

        def log_message(self, format: str, *args: Any) -> None:
            return  # keep the demo's output to the story

    return Handler


@contextmanager
def running_partner_endpoint() -> Iterator[PartnerEndpoint]:
    """A partner's endpoint on a free port of 127.0.0.1 while the block runs."""
    endpoint = PartnerEndpoint()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(endpoint))
    server.daemon_threads = True
    endpoint.url = f"http://127.0.0.1:{server.server_address[1]}/bookingcore-hooks"
    thread = threading.Thread(target=server.serve_forever, name="partner-endpoint", daemon=True)
    thread.start()
    try:
        yield endpoint
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
