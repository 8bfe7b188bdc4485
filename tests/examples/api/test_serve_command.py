"""``python -m examples.api``: what it sets up before serving (the server itself not started)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import socket
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from anyio.from_thread import start_blocking_portal
from tests.adapters._fake_twilio import serve_twilio
from tests.examples.api._client import ApiClient

from bookingcore import Principal
from examples.api import __main__ as serve


@pytest.fixture
def served(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """The apps ``main`` would serve; uvicorn is not started."""
    apps: list[Any] = []
    monkeypatch.setattr(serve.uvicorn, "run", lambda app, **options: apps.append(app))
    monkeypatch.setenv("BOOKINGCORE_API_SECRET", "s" * 32)
    monkeypatch.setenv("BOOKINGCORE_API_OTP_PEPPER", "p" * 32)
    return apps


def test_sample_slots_are_printed_on_every_run(
    tmp_path: Path, served: list[Any], capsys: pytest.CaptureFixture[str]
) -> None:
    """docs/api.md's "Try it" books the slot id the server prints: a second run with
    ``--sample-slots`` (the same database) prints the same two slots, adding none."""
    db = f"sqlite:///{tmp_path / 'api.sqlite3'}"
    serve.main(["--db", db, "--sample-slots"])
    first = re.findall(r"sample slot (\S+) on \S+: 12 seats at 8,500 INR", capsys.readouterr().out)
    assert len(first) == 2
    serve.main(["--db", db, "--sample-slots"])
    again = re.findall(r"sample slot (\S+) on \S+: 12 seats at 8,500 INR", capsys.readouterr().out)
    assert again == first
    assert len(served) == 2


def test_an_existing_admin_is_said_to_keep_its_password(
    tmp_path: Path,
    served: list[Any],
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """``--admin-email`` for an admin made by an earlier run leaves the password as it
    was, and says so rather than ignore a changed BOOKINGCORE_API_ADMIN_PASSWORD."""
    db = f"sqlite:///{tmp_path / 'api.sqlite3'}"
    monkeypatch.setenv("BOOKINGCORE_API_ADMIN_PASSWORD", "a long first passphrase")
    serve.main(["--db", db, "--admin-email", "admin@example.com"])
    assert "exists already" not in capsys.readouterr().err
    monkeypatch.setenv("BOOKINGCORE_API_ADMIN_PASSWORD", "a long second passphrase")
    serve.main(["--db", db, "--admin-email", "admin@example.com"])
    err = capsys.readouterr().err
    assert "admin@example.com exists already; its password is left as it was" in err


ACCOUNT = "AC" + "7" * 32
TOKEN = "twilio-token-of-the-example-host"
CALLBACK = "https://api.example.com/api/sms/twilio/status"


def _twilio_signature(params: dict[str, str], url: str = CALLBACK, token: str = TOKEN) -> str:
    """Twilio's X-Twilio-Signature, computed here as Twilio documents it."""
    data = url + "".join(key + params[key] for key in sorted(params))
    return base64.b64encode(hmac.new(token.encode(), data.encode(), hashlib.sha1).digest()).decode()


def test_texts_go_through_twilio_and_its_delivery_reports_are_checked(
    tmp_path: Path, served: list[Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """With Twilio's settings in the environment, a sign-in code is texted through
    Twilio (with the status callback URL), and the callback route checks Twilio's
    signature with the auth token (it answered 401 to everything before)."""
    answers: dict[str, Any] = {}

    def serve_a_while(app: Any, **options: Any) -> None:
        """What the running server answers (the sender is closed once it stops)."""
        with start_blocking_portal() as portal:
            client = ApiClient(app, portal)
            answers["asked"] = client.post(
                "/api/v1/customer/auth/request-otp", json={"phone": "+919812345678"}
            )
            report = {"MessageSid": "SM" + "0" * 32, "MessageStatus": "delivered"}
            path = "/api/sms/twilio/status"
            answers["forged"] = client.post(
                path, data=report, headers={"X-Twilio-Signature": "bm9wZQ=="}
            )
            answers["signed"] = client.post(
                path, data=report, headers={"X-Twilio-Signature": _twilio_signature(report)}
            )

    monkeypatch.setattr(serve.uvicorn, "run", serve_a_while)
    with serve_twilio(ACCOUNT, TOKEN) as twilio:
        for name, value in {
            "BOOKINGCORE_TWILIO_ACCOUNT_SID": ACCOUNT,
            "BOOKINGCORE_TWILIO_AUTH_TOKEN": TOKEN,
            "BOOKINGCORE_TWILIO_FROM": "+15005550006",
            "BOOKINGCORE_TWILIO_BASE_URL": twilio.url,
            "BOOKINGCORE_TWILIO_STATUS_CALLBACK": CALLBACK,
        }.items():
            monkeypatch.setenv(name, value)
        serve.main(["--db", f"sqlite:///{tmp_path / 'api.sqlite3'}"])
    assert answers["asked"].status_code == 202, answers["asked"].text
    [sent] = twilio.requests
    assert sent["path"] == f"/2010-04-01/Accounts/{ACCOUNT}/Messages.json"
    assert sent["form"]["To"] == "+919812345678"
    assert sent["form"]["StatusCallback"] == CALLBACK
    assert re.search(r"\b\d{6}\b", sent["form"]["Body"])
    assert answers["forged"].status_code == 401
    assert answers["signed"].status_code == 404  # checked and read: no message has that sid


def test_email_goes_through_the_smtp_server_configured(
    tmp_path: Path, served: list[Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """With an SMTP server in the environment, a customer's email reaches it."""
    received: list[Any] = []

    class Inbox:
        async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
            received.append(envelope)
            return "250 OK"

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = int(probe.getsockname()[1])
    controller = Controller(Inbox(), hostname="127.0.0.1", port=port)
    controller.start()
    try:
        monkeypatch.setenv("BOOKINGCORE_SMTP_HOST", "127.0.0.1")
        monkeypatch.setenv("BOOKINGCORE_SMTP_PORT", str(port))
        monkeypatch.setenv("BOOKINGCORE_SMTP_SECURITY", "none")
        monkeypatch.setenv("BOOKINGCORE_SMTP_SENDER", "Trails <bookings@example.com>")
        serve.main(["--db", f"sqlite:///{tmp_path / 'api.sqlite3'}"])
        core = served[0].state.core
        system = Principal.system("test")
        customer = core.customers.register(
            "+919812345678", name="Asha Rao", email="asha@example.com", principal=system
        ).customer
        message = core.communications.send_text(
            customer.id, "follow_up", subject="Your trek", body="See you soon", principal=system
        )
    finally:
        controller.stop()
    assert message.status.value == "sent"
    [envelope] = received
    assert envelope.rcpt_tos == ["asha@example.com"]
    assert envelope.mail_from == "bookings@example.com"


def test_one_email_provider_is_configured_not_two(
    tmp_path: Path,
    served: list[Any],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    for name, value in {
        "BOOKINGCORE_MAILGUN_DOMAIN": "mg.example.com",
        "BOOKINGCORE_MAILGUN_API_KEY": "key-123",
        "BOOKINGCORE_MAILGUN_SENDER": "bookings@example.com",
        "BOOKINGCORE_SMTP_HOST": "127.0.0.1",
        "BOOKINGCORE_SMTP_SENDER": "bookings@example.com",
    }.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(SystemExit) as stopped:
        serve.main(["--db", f"sqlite:///{tmp_path / 'api.sqlite3'}"])
    assert stopped.value.code == 2
    assert "Mailgun or SMTP, not both" in capsys.readouterr().err
    assert served == []
