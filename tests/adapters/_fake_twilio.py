"""A local Twilio Messages API for tests: ``POST /2010-04-01/Accounts/<sid>/Messages.json``
with HTTP basic auth, answered as Twilio answers (201 and the message's JSON, or Twilio's
error document: 21617 for a ``Body`` over 1600 characters)."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qs

import attrs
from tests.adapters._local_server import serve_locally

#: Twilio's limit on a message's ``Body``, in UTF-16 code units (an emoji counts as two).
BODY_LIMIT = 1600
#: What Twilio answers a longer ``Body`` with.
TOO_LONG = {
    "code": 21617,
    "message": "The concatenated message body exceeds the 1600 character limit.",
    "more_info": "https://www.twilio.com/docs/errors/21617",
    "status": 400,
}


@attrs.define
class FakeTwilio:
    """What the local Twilio saw and will answer: ``answers`` are used first, in order
    (HTTP status, JSON document); after them, each message is queued with a new sid."""

    url: str = ""
    requests: list[dict[str, Any]] = attrs.Factory(list)
    answers: list[tuple[int, dict[str, Any]]] = attrs.Factory(list)
    sids: int = 0


@contextmanager
def serve_twilio(account: str, token: str) -> Iterator[FakeTwilio]:
    """A local Twilio for ``account`` signed in with ``token``, on 127.0.0.1, until the end."""
    fake = FakeTwilio()
    expected = "Basic " + base64.b64encode(f"{account}:{token}".encode()).decode()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            form = {k: v[0] for k, v in parse_qs(body.decode()).items()}
            fake.requests.append(
                {"path": self.path, "headers": dict(self.headers.items()), "form": form}
            )
            if self.headers.get("Authorization") != expected:
                code, document = 401, {"code": 20003, "message": "Authenticate"}
            elif len(form.get("Body", "").encode("utf-16-le")) // 2 > BODY_LIMIT:
                code, document = 400, TOO_LONG
            elif fake.answers:
                code, document = fake.answers.pop(0)
            else:
                fake.sids += 1
                code = 201
                document = {"sid": f"SM{fake.sids:032d}", "status": "queued", "to": form["To"]}
            reply = json.dumps(document).encode()
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(reply)))
            self.end_headers()
            self.wfile.write(reply)

        def log_message(self, format: str, *args: Any) -> None:
            return

    with serve_locally(Handler) as url:
        fake.url = url
        yield fake
