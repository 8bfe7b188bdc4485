"""``python -m examples.api [--db URL] [--host H] [--port N]``: serve the example API with uvicorn.

The database (an SQLite file by default) is created and migrated on first
use. Sign-in codes are printed to the console. Tokens are signed with the
secret in ``BOOKINGCORE_API_SECRET`` when it is set (read here, when the server
starts, never at import), else with a random one: tokens then end with the
process. ``--admin-email`` with ``BOOKINGCORE_API_ADMIN_PASSWORD`` creates an
admin to sign in with at ``/api/v1/auth/login``; ``--sample-slots`` adds
two slots to book. ``BOOKINGCORE_OTEL=1`` wires an ``OpenTelemetryObserver`` (the
``otel`` extra; the process's OpenTelemetry SDK, if any, receives its spans and
metrics: see docs/observability.md).

Email goes out through Mailgun when ``BOOKINGCORE_MAILGUN_DOMAIN``,
``BOOKINGCORE_MAILGUN_API_KEY`` and ``BOOKINGCORE_MAILGUN_SENDER`` are set
(``BOOKINGCORE_MAILGUN_BASE_URL`` for the EU region); Mailgun's webhooks are
taken at ``/api/webhooks/mailgun`` when ``BOOKINGCORE_MAILGUN_SIGNING_KEY`` is.
Push notifications go out through Firebase Cloud Messaging when
``BOOKINGCORE_FCM_SERVICE_ACCOUNT`` names the service account's JSON file
(``BOOKINGCORE_FCM_BASE_URL`` and ``BOOKINGCORE_FCM_TOKEN_URI`` point it elsewhere,
such as a local fake); customers register their devices at ``/api/v1/customer/devices``.

Email goes out through an SMTP server instead when ``BOOKINGCORE_SMTP_HOST`` and
``BOOKINGCORE_SMTP_SENDER`` are set (``BOOKINGCORE_SMTP_PORT``, 587 by default;
``BOOKINGCORE_SMTP_SECURITY``: ``starttls``, the default, ``ssl`` or ``none``;
``BOOKINGCORE_SMTP_USERNAME`` and ``BOOKINGCORE_SMTP_PASSWORD``); configure one of
Mailgun and SMTP, not both. Texts (sign-in codes and the SMS channel of booking
messages) go out through Twilio when ``BOOKINGCORE_TWILIO_ACCOUNT_SID``,
``BOOKINGCORE_TWILIO_AUTH_TOKEN`` and one of ``BOOKINGCORE_TWILIO_FROM`` and
``BOOKINGCORE_TWILIO_MESSAGING_SERVICE_SID`` are set, else they are printed;
``BOOKINGCORE_TWILIO_STATUS_CALLBACK`` is the public URL of
``/api/sms/twilio/status``, sent with every text so Twilio reports deliveries there
(their signature checked with the auth token); ``BOOKINGCORE_TWILIO_BASE_URL``
points the sender elsewhere, such as a local fake.
"""

from __future__ import annotations

import argparse
import os
import secrets
import sys
import tempfile
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Literal, cast

import uvicorn

from bookingcore import BookingCore, DuplicateError, Money, Principal, SlotFilter, StaffRole
from bookingcore.ports.messaging import Notifier
from bookingcore.ports.observability import Observer
from bookingcore_adapters.email import MailgunNotifier, SmtpNotifier
from bookingcore_adapters.filestore import FileSystemDocumentStore
from bookingcore_adapters.notifications import ChannelNotifier
from bookingcore_adapters.payments import ManualProvider
from bookingcore_adapters.sms import ConsoleSmsSender, TwilioNotifier, TwilioSmsSender
from bookingcore_adapters.sql import SqlStore
from examples.api.app import build_core, create_app

#: Where uploads are streamed to and import files kept (until their retention passes).
UPLOAD_DIR = Path(tempfile.gettempdir()) / "bookingcore-uploads"

#: The embedded database the server uses unless ``--db`` names another.
DEFAULT_DATABASE = "sqlite:///bookingcore-api.sqlite3"

_SETUP = Principal.system("api-setup")


def _arguments(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m examples.api", description=__doc__)
    parser.add_argument("--db", default=DEFAULT_DATABASE, help="SQLAlchemy URL of the database")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--admin-email", help="create this admin (password from the environment)")
    parser.add_argument(
        "--sample-slots",
        action="store_true",
        help="add a sample location with two slots to book (once), and print their ids",
    )
    return parser.parse_args(argv)


def _secret(name: str) -> bytes:
    value = os.environ.get(name)
    if value:
        return value.encode("utf-8")
    print(f"{name} is not set: using a random secret for this run", file=sys.stderr)
    return secrets.token_bytes(32)


def _mailgun() -> Notifier | None:
    """Mailgun from the environment, when its domain, API key and sender are all set."""
    domain = os.environ.get("BOOKINGCORE_MAILGUN_DOMAIN")
    api_key = os.environ.get("BOOKINGCORE_MAILGUN_API_KEY")
    sender = os.environ.get("BOOKINGCORE_MAILGUN_SENDER")
    if not (domain and api_key and sender):
        return None
    base_url = os.environ.get("BOOKINGCORE_MAILGUN_BASE_URL") or "https://api.mailgun.net"
    return MailgunNotifier(domain, api_key, sender=sender, base_url=base_url)


def _fcm() -> Notifier | None:
    """FCM from the environment, when a service account file is named."""
    path = os.environ.get("BOOKINGCORE_FCM_SERVICE_ACCOUNT")
    if not path:
        return None
    # Imported only when asked for: the push extra is optional for the example host.
    from bookingcore_adapters.push import FcmNotifier, ServiceAccount  # noqa: PLC0415

    return FcmNotifier(
        ServiceAccount.from_file(path),
        base_url=os.environ.get("BOOKINGCORE_FCM_BASE_URL") or "https://fcm.googleapis.com",
        token_uri=os.environ.get("BOOKINGCORE_FCM_TOKEN_URI") or None,
    )


def _smtp() -> Notifier | None:
    """An SMTP server from the environment, when its host and the sender are set."""
    host = os.environ.get("BOOKINGCORE_SMTP_HOST")
    sender = os.environ.get("BOOKINGCORE_SMTP_SENDER")
    if not (host and sender):
        return None
    port = os.environ.get("BOOKINGCORE_SMTP_PORT") or "587"
    if not port.isdigit():
        print(f"BOOKINGCORE_SMTP_PORT must be a port number, not {port!r}", file=sys.stderr)
        raise SystemExit(2)
    security = os.environ.get("BOOKINGCORE_SMTP_SECURITY") or "starttls"
    return SmtpNotifier(
        host,
        int(port),
        sender=sender,
        username=os.environ.get("BOOKINGCORE_SMTP_USERNAME") or None,
        password=os.environ.get("BOOKINGCORE_SMTP_PASSWORD") or None,
        security=cast("Literal['starttls', 'ssl', 'none']", security),  # SmtpNotifier checks it
    )


def _twilio() -> TwilioSmsSender | None:
    """Twilio from the environment, when the account, its auth token and a sender are set."""
    account = os.environ.get("BOOKINGCORE_TWILIO_ACCOUNT_SID")
    token = os.environ.get("BOOKINGCORE_TWILIO_AUTH_TOKEN")
    from_number = os.environ.get("BOOKINGCORE_TWILIO_FROM") or None
    service = os.environ.get("BOOKINGCORE_TWILIO_MESSAGING_SERVICE_SID") or None
    if not (account and token and (from_number or service)):
        return None
    return TwilioSmsSender(
        account,
        token,
        from_number,
        messaging_service_sid=service,
        base_url=os.environ.get("BOOKINGCORE_TWILIO_BASE_URL") or "https://api.twilio.com",
        status_callback=os.environ.get("BOOKINGCORE_TWILIO_STATUS_CALLBACK") or None,
    )


def _notifier(twilio: TwilioSmsSender | None) -> Notifier | None:
    """Email through Mailgun or SMTP, texts through Twilio and push through FCM, each
    when configured."""
    mailgun, smtp = _mailgun(), _smtp()
    if mailgun is not None and smtp is not None:
        print("configure one email provider: Mailgun or SMTP, not both", file=sys.stderr)
        raise SystemExit(2)
    channels = {
        "email": mailgun or smtp,
        "sms": None if twilio is None else TwilioNotifier(sender=twilio),
        "push": _fcm(),
    }
    wired: dict[str, Notifier] = {k: v for k, v in channels.items() if v is not None}
    return ChannelNotifier(wired) if wired else None


def _observer() -> Observer | None:
    if os.environ.get("BOOKINGCORE_OTEL") != "1":
        return None
    # Imported only when asked for: the otel extra is optional for the example host.
    from bookingcore_adapters.otel import OpenTelemetryObserver  # noqa: PLC0415

    return OpenTelemetryObserver()


def _ensure_admin(core: BookingCore, email: str) -> None:
    password = os.environ.get("BOOKINGCORE_API_ADMIN_PASSWORD")
    if not password:
        print("--admin-email needs BOOKINGCORE_API_ADMIN_PASSWORD", file=sys.stderr)
        raise SystemExit(2)
    try:
        member = core.staff.add(email, "Administrator", principal=_SETUP, role=StaffRole.ADMIN)
    except DuplicateError:
        # Said, not silent: a changed BOOKINGCORE_API_ADMIN_PASSWORD is not applied.
        print(
            f"--admin-email: {email} exists already; its password is left as it was",
            file=sys.stderr,
        )
        return
    core.staff.set_password(member.id, password, principal=_SETUP)


def _sample_slots(core: BookingCore) -> None:
    known = {loc.code: loc for loc in core.catalog.list_locations(principal=_SETUP)}
    camp = known.get("SAMPLE-BC")
    if camp is None:
        camp = core.catalog.add_location("SAMPLE-BC", "Sample base camp", principal=_SETUP)
        start = datetime.now(UTC).replace(hour=6, minute=0, second=0, microsecond=0)
        for days in (30, 60):
            core.catalog.create_slot(
                location_id=camp.id,
                starts_at=start + timedelta(days=days),
                price_per_traveler=Money("8500", "INR"),
                capacity=12,
                principal=_SETUP,
            )
    # Every run prints them, the first and the later ones: their ids are what to book.
    query = SlotFilter(location_ids=frozenset({camp.id}))
    for slot in core.catalog.list_slots(query, principal=_SETUP).items:
        seats = "unlimited seats" if slot.capacity is None else f"{slot.capacity} seats"
        amount = slot.price_per_traveler.amount
        shown = f"{amount:,.0f}" if amount == amount.to_integral_value() else f"{amount:,}"
        price = f"{shown} {slot.price_per_traveler.currency}"
        print(f"sample slot {slot.id} on {slot.starts_at:%Y-%m-%d}: {seats} at {price}")


def main(argv: Sequence[str] | None = None) -> None:
    """Migrate the database, wire the core, and serve the app until interrupted."""
    args = _arguments(argv)
    store = SqlStore(args.db)
    twilio = _twilio()
    try:
        store.migrate()
        core = build_core(
            store.unit_of_work,
            token_secret=_secret("BOOKINGCORE_API_SECRET"),
            otp_pepper=_secret("BOOKINGCORE_API_OTP_PEPPER"),
            sms=twilio or ConsoleSmsSender(stream=sys.stdout),
            payment_providers=[ManualProvider()],
            notifier=_notifier(twilio),
            observer=_observer(),
            import_files=FileSystemDocumentStore(UPLOAD_DIR),
        )
        if args.admin_email:
            _ensure_admin(core, args.admin_email)
        if args.sample_slots:
            _sample_slots(core)
        app = create_app(
            core,
            upload_dir=UPLOAD_DIR,
            mailgun_signing_key=os.environ.get("BOOKINGCORE_MAILGUN_SIGNING_KEY") or None,
            twilio_auth_token=None
            if twilio is None
            else os.environ["BOOKINGCORE_TWILIO_AUTH_TOKEN"],
            twilio_callback_url=os.environ.get("BOOKINGCORE_TWILIO_STATUS_CALLBACK") or None,
        )
        uvicorn.run(app, host=args.host, port=args.port)
    finally:
        if twilio is not None:
            twilio.close()
        store.dispose()


if __name__ == "__main__":
    main()
