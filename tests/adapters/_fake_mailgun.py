"""A local HTTP server that speaks Mailgun's Messages API: ``POST /v3/{domain}/messages``
with basic auth ``api``:key and a form, answered ``{"id": "<...>", "message": "Queued.
Thank you."}`` (200), or 401 with a text body for a wrong key, or whatever a test queues.

Also signs webhook bodies as Mailgun does, independently of the adapter."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qs

import attrs
from tests.adapters._local_server import serve_locally

DOMAIN = "mg.example.com"
API_KEY = "key-mailgun-api-key-never-shown"
SIGNING_KEY = "mailgun-webhook-signing-key"


@attrs.define
class FakeMailgun:
    url: str = ""
    requests: list[dict[str, Any]] = attrs.Factory(list)
    #: queued answers: (status, body) where a dict body is sent as JSON, a str as text
    answers: list[tuple[int, dict[str, Any] | str]] = attrs.Factory(list)
    #: seconds to wait before answering
    delay: float = 0.0
    sent: int = 0

    def message_id(self, number: int) -> str:
        return f"20261206110000.{number}.ABCDEF@{DOMAIN}"


@contextmanager
def fake_mailgun() -> Iterator[FakeMailgun]:
    fake = FakeMailgun()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            form = {k: v if len(v) > 1 else v[0] for k, v in parse_qs(body.decode()).items()}
            fake.requests.append(
                {"path": self.path, "headers": dict(self.headers.items()), "form": form}
            )
            if fake.delay:
                time.sleep(fake.delay)
            expected = "Basic " + base64.b64encode(f"api:{API_KEY}".encode()).decode()
            document: dict[str, Any] | str
            if self.headers.get("Authorization") != expected:
                code, document = 401, "Forbidden"
            elif self.path != f"/v3/{DOMAIN}/messages":
                code, document = 404, {"message": "Domain not found"}
            elif fake.answers:
                code, document = fake.answers.pop(0)
            else:
                fake.sent += 1
                code = 200
                document = {
                    "id": f"<{fake.message_id(fake.sent)}>",
                    "message": "Queued. Thank you.",
                }
            if isinstance(document, str):
                reply, kind = document.encode(), "text/plain"
            else:
                reply, kind = json.dumps(document).encode(), "application/json"
            self.send_response(code)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(reply)))
            self.end_headers()
            self.wfile.write(reply)

        def log_message(self, format: str, *args: Any) -> None:
            return

    with serve_locally(Handler) as url:
        fake.url = url
        yield fake


def mailgun_signature(timestamp: str, token: str, key: str = SIGNING_KEY) -> str:
    """Mailgun's webhook signature, computed here independently of the adapter."""
    return hmac.new(key.encode(), (timestamp + token).encode(), hashlib.sha256).hexdigest()


def webhook_body(
    event: str,
    message_id: str,
    *,
    at: float,
    signed_at: float | None = None,
    token: str = "a" * 50,
    key: str = SIGNING_KEY,
    **data: Any,
) -> bytes:
    """A webhook body as Mailgun posts it (JSON), signed with ``key``."""
    timestamp = str(int(signed_at if signed_at is not None else at))
    document = {
        "signature": {
            "timestamp": timestamp,
            "token": token,
            "signature": mailgun_signature(timestamp, token, key),
        },
        "event-data": {
            "id": "CPgfbmQMTCKtHW6uIWtuVe",
            "event": event,
            "timestamp": at,
            "recipient": "asha@example.com",
            "message": {"headers": {"message-id": message_id, "to": "asha@example.com"}},
            "user-variables": {},
            **data,
        },
    }
    return json.dumps(document).encode()
