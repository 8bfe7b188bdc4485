"""MailgunNotifier against a local server that speaks Mailgun's Messages API, and Mailgun's
webhooks: signatures (good, bad, stale, replayed), each event kind read, and opens and
clicks moving a sent message forward only."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any
from uuid import uuid4

import httpx
import pytest
from tests.adapters._fake_mailgun import (
    API_KEY,
    DOMAIN,
    SIGNING_KEY,
    FakeMailgun,
    fake_mailgun,
    mailgun_signature,
    webhook_body,
)
from tests.integration._partner_webhooks import ADMIN

from bookingcore import (
    BookingCore,
    BookingRequest,
    Money,
    NewTraveler,
    Principal,
    Settings,
    TravelerDetails,
)
from bookingcore.domain import Booking
from bookingcore.domain.communications import Channel, CommunicationStatus
from bookingcore.errors import AuthenticationError, DeliveryError, ValidationError
from bookingcore.ports.messaging import Notifier, OutgoingMessage
from bookingcore.testing import FixedClock, SequentialIds
from bookingcore_adapters.email import (
    MailgunEvent,
    MailgunNotifier,
    read_mailgun_webhook,
    verify_mailgun_signature,
)
from bookingcore_adapters.memory import MemoryStore

MAILGUN = Principal.webhook("mailgun")
NOW = datetime(2026, 1, 1, 9, 0, tzinfo=UTC)
SENDER = "Trails <bookings@mg.example.com>"


@pytest.fixture
def mailgun() -> Iterator[FakeMailgun]:
    with fake_mailgun() as fake:
        yield fake


def _notifier(fake: FakeMailgun, **options: Any) -> MailgunNotifier:
    values: dict[str, Any] = {"sender": SENDER, "base_url": fake.url, "timeout": 5}
    return MailgunNotifier(DOMAIN, API_KEY, **(values | options))


def _email(**fields: Any) -> OutgoingMessage:
    values: dict[str, Any] = {
        "communication_id": uuid4(),
        "channel": Channel.EMAIL,
        "recipient": "asha@example.com",
        "body": "Your booking is confirmed.",
        "subject": "Confirmed",
    }
    return OutgoingMessage(**(values | fields))


def _booked(notifier: Notifier) -> tuple[BookingCore, Booking]:
    clock = FixedClock(NOW)
    core = BookingCore(
        uow_factory=MemoryStore().unit_of_work,
        clock=clock,
        ids=SequentialIds(),
        settings=Settings(default_region="IN", business_name="Trails"),
        notifier=notifier,
        automations=False,
    )
    camp = core.catalog.add_location("CAMP", "Base camp", principal=ADMIN)
    slot = core.catalog.create_slot(
        location_id=camp.id,
        starts_at=clock.now() + timedelta(days=3),
        price_per_traveler=Money("1000", "INR"),
        capacity=10,
        principal=ADMIN,
    )
    customer = core.customers.register(
        "+919876543210", name="Asha", email="asha@example.com", principal=ADMIN
    ).customer
    booking = core.bookings.book(
        BookingRequest(
            slot.id,
            [NewTraveler(TravelerDetails("Asha"), is_primary=True)],
            customer_id=customer.id,
        ),
        principal=ADMIN,
    )
    return core, booking


# --------------------------------------------------------------------------- sending


class TestMailgunNotifier:
    def test_posts_mailgun_s_form_with_basic_auth_and_keeps_the_id_without_brackets(
        self, mailgun: FakeMailgun
    ) -> None:
        message = _email()
        receipt = _notifier(mailgun).send(message)
        assert receipt.provider_message_id == mailgun.message_id(1)
        assert receipt.status is CommunicationStatus.SENT
        [request] = mailgun.requests
        assert request["path"] == f"/v3/{DOMAIN}/messages"
        assert request["headers"]["Content-Type"] == "application/x-www-form-urlencoded"
        assert request["headers"]["Accept"] == "application/json"
        assert request["form"] == {
            "from": SENDER,
            "to": "asha@example.com",
            "subject": "Confirmed",
            "text": "Your booking is confirmed.",
            "o:tracking": "yes",
            "o:tracking-opens": "yes",
            "o:tracking-clicks": "yes",
            "v:communication_id": str(message.communication_id),
            "h:X-Bookingcore-Communication-Id": str(message.communication_id),
        }

    def test_tracking_options_follow_the_constructor(self, mailgun: FakeMailgun) -> None:
        _notifier(mailgun, track_clicks=False, tracking=None).send(_email())
        form = mailgun.requests[0]["form"]
        assert (form["o:tracking-opens"], form["o:tracking-clicks"]) == ("yes", "no")
        assert "o:tracking" not in form

    def test_a_wrong_api_key_is_refused_and_not_retryable(self, mailgun: FakeMailgun) -> None:
        notifier = MailgunNotifier(DOMAIN, "key-wrong", sender=SENDER, base_url=mailgun.url)
        with pytest.raises(DeliveryError) as caught:
            notifier.send(_email())
        assert not caught.value.retryable
        assert caught.value.reason == "mailgun http 401: Unauthorized"

    def test_a_refused_message_is_not_retryable(self, mailgun: FakeMailgun) -> None:
        mailgun.answers.append((400, {"message": "to parameter is not a valid address"}))
        with pytest.raises(DeliveryError) as caught:
            _notifier(mailgun).send(_email(recipient="not-an-address"))
        assert not caught.value.retryable
        assert caught.value.reason == "mailgun http 400: to parameter is not a valid address"

    @pytest.mark.parametrize("code", [429, 500, 502, 503])
    def test_rate_limits_and_server_errors_are_retryable(
        self, mailgun: FakeMailgun, code: int
    ) -> None:
        mailgun.answers.append((code, {"message": "try later"}))
        with pytest.raises(DeliveryError) as caught:
            _notifier(mailgun).send(_email())
        assert caught.value.retryable
        assert caught.value.reason == f"mailgun http {code}: try later"

    def test_a_timeout_and_an_unreachable_api_are_retryable(self, mailgun: FakeMailgun) -> None:
        mailgun.delay = 1.0
        with pytest.raises(DeliveryError, match="mailgun unreachable") as caught:
            _notifier(mailgun, timeout=0.2).send(_email())
        assert caught.value.retryable
        with pytest.raises(DeliveryError) as refused:
            _notifier(mailgun, base_url="http://127.0.0.1:9").send(_email())
        assert refused.value.retryable

    def test_a_success_without_an_id_is_not_retried_blindly(self, mailgun: FakeMailgun) -> None:
        mailgun.answers.append((200, {"message": "Queued. Thank you."}))
        with pytest.raises(DeliveryError, match="no message id") as caught:
            _notifier(mailgun).send(_email())
        assert not caught.value.retryable

    def test_only_email_is_sent_and_without_a_request(self, mailgun: FakeMailgun) -> None:
        with pytest.raises(DeliveryError, match="sends email, not sms") as caught:
            _notifier(mailgun).send(_email(channel=Channel.SMS, recipient="+919876543210"))
        assert not caught.value.retryable
        assert mailgun.requests == []

    def test_the_api_key_never_shows_in_errors_logs_or_repr(
        self, mailgun: FakeMailgun, caplog: pytest.LogCaptureFixture
    ) -> None:
        mailgun.answers.append((500, "Internal Server Error"))
        notifier = _notifier(mailgun)
        with caplog.at_level(logging.DEBUG), pytest.raises(DeliveryError) as caught:
            notifier.send(_email())
        assert API_KEY not in caught.value.reason + repr(notifier) + caplog.text

    def test_a_client_passed_in_is_used_and_left_open(self, mailgun: FakeMailgun) -> None:
        with httpx.Client() as client:
            with _notifier(mailgun, client=client) as notifier:
                notifier.send(_email())
            assert not client.is_closed

    @pytest.mark.parametrize(
        ("args", "kwargs", "field"),
        [
            (("", API_KEY), {}, "domain"),
            ((DOMAIN, ""), {}, "api_key"),
            ((DOMAIN, API_KEY), {"sender": " "}, "sender"),
            ((DOMAIN, API_KEY), {"sender": "Trails bookings at mg"}, "sender"),
            ((DOMAIN, API_KEY), {"sender": "a@mg.example.com, b@mg.example.com"}, "sender"),
            ((DOMAIN, API_KEY), {"base_url": "ftp://mailgun"}, "base_url"),
            ((DOMAIN, API_KEY), {"timeout": 0}, "timeout"),
        ],
    )
    def test_a_misconfigured_notifier_is_refused(
        self, args: tuple[str, str], kwargs: dict[str, Any], field: str
    ) -> None:
        with pytest.raises(ValidationError) as caught:
            MailgunNotifier(*args, **({"sender": SENDER} | kwargs))
        assert caught.value.fields == (field,)

    def test_the_eu_region_is_a_base_url(self) -> None:
        notifier = MailgunNotifier(
            DOMAIN, API_KEY, sender=SENDER, base_url="https://api.eu.mailgun.net"
        )
        assert "https://api.eu.mailgun.net/v3/mg.example.com/messages" in repr(notifier)
        notifier.close()


# --------------------------------------------------------------------------- webhooks


class TestMailgunSignatures:
    STAMP = str(int(NOW.timestamp()))
    TOKEN = "c" * 50

    def test_a_signature_computed_independently_verifies(self) -> None:
        signature = mailgun_signature(self.STAMP, self.TOKEN)
        assert verify_mailgun_signature(SIGNING_KEY, self.STAMP, self.TOKEN, signature, now=NOW)
        assert verify_mailgun_signature(
            SIGNING_KEY, self.STAMP, self.TOKEN, signature.upper(), now=NOW
        )

    def test_another_key_token_or_timestamp_fails(self) -> None:
        signature = mailgun_signature(self.STAMP, self.TOKEN)
        assert not verify_mailgun_signature("other", self.STAMP, self.TOKEN, signature, now=NOW)
        assert not verify_mailgun_signature(SIGNING_KEY, self.STAMP, "d" * 50, signature, now=NOW)
        later = str(int(self.STAMP) + 1)
        assert not verify_mailgun_signature(SIGNING_KEY, later, self.TOKEN, signature, now=NOW)

    @pytest.mark.parametrize("signature", ["", "junk", "0" * 64])
    def test_missing_or_junk_signatures_fail(self, signature: str) -> None:
        assert not verify_mailgun_signature(SIGNING_KEY, self.STAMP, self.TOKEN, signature, now=NOW)

    def test_a_stale_or_future_timestamp_is_refused_even_when_signed(self) -> None:
        signature = mailgun_signature(self.STAMP, self.TOKEN)
        for offset in (timedelta(minutes=6), -timedelta(minutes=6)):
            assert not verify_mailgun_signature(
                SIGNING_KEY, self.STAMP, self.TOKEN, signature, now=NOW + offset
            )
        assert verify_mailgun_signature(
            SIGNING_KEY,
            self.STAMP,
            self.TOKEN,
            signature,
            now=NOW + timedelta(hours=1),
            tolerance=timedelta(hours=2),
        )

    def test_a_replayed_webhook_is_refused_once_stale_and_harmless_before(
        self, mailgun: FakeMailgun
    ) -> None:
        core, booking = _booked(_notifier(mailgun))
        sent = core.communications.send(booking.id, "confirmation", principal=ADMIN)
        body = webhook_body("opened", str(sent.provider_message_id), at=NOW.timestamp())

        def replay(now: datetime) -> CommunicationStatus:
            event = read_mailgun_webhook(SIGNING_KEY, body, now=now)
            assert event.status is not None
            assert event.provider_message_id is not None
            return core.communications.record_callback(
                event.provider_message_id, event.status, at=event.at, principal=MAILGUN
            ).status

        assert replay(NOW) is CommunicationStatus.OPENED
        assert replay(NOW + timedelta(minutes=1)) is CommunicationStatus.OPENED  # no change
        assert core.communications.get(sent.id, principal=ADMIN).opened_at == NOW
        with pytest.raises(AuthenticationError):
            replay(NOW + timedelta(hours=1))

    def test_a_forged_body_is_refused(self) -> None:
        body = webhook_body("clicked", "m@x", at=NOW.timestamp(), key="not-the-key")
        with pytest.raises(AuthenticationError):
            read_mailgun_webhook(SIGNING_KEY, body, now=NOW)


class TestMailgunEvents:
    AT = NOW.timestamp() + 0.25

    @pytest.mark.parametrize(
        ("event", "extra", "status", "reason"),
        [
            ("delivered", {}, CommunicationStatus.DELIVERED, None),
            ("opened", {}, CommunicationStatus.OPENED, None),
            ("clicked", {"url": "https://trails.example.com"}, CommunicationStatus.CLICKED, None),
            (
                "failed",
                {
                    "severity": "permanent",
                    "reason": "bounce",
                    "delivery-status": {"code": 550, "message": "No such mailbox"},
                },
                CommunicationStatus.FAILED,
                "mailgun failed (550): No such mailbox",
            ),
            (
                "failed",
                {"severity": "permanent", "reason": "suppress-bounce", "delivery-status": {}},
                CommunicationStatus.FAILED,
                "mailgun failed: suppress-bounce",
            ),
            ("failed", {"severity": "temporary", "delivery-status": {"code": 451}}, None, None),
            ("accepted", {}, None, None),
            ("complained", {}, None, None),
            ("unsubscribed", {}, None, None),
            ("something-new", {}, None, None),
        ],
    )
    def test_each_event_kind(
        self,
        event: str,
        extra: dict[str, Any],
        status: CommunicationStatus | None,
        reason: str | None,
    ) -> None:
        body = webhook_body(event, "<20261206.1.AB@mg.example.com>", at=self.AT, **extra)
        parsed = MailgunEvent.parse(body)
        assert (parsed.event, parsed.status, parsed.reason) == (event, status, reason)
        assert parsed.provider_message_id == "20261206.1.AB@mg.example.com"
        assert parsed.at == datetime.fromtimestamp(self.AT, UTC)
        assert read_mailgun_webhook(SIGNING_KEY, body, now=NOW) == parsed

    @pytest.mark.parametrize(
        ("mangle", "field"),
        [
            (lambda d: "not json", "body"),
            (lambda d: [d], "body"),
            (lambda d: {k: v for k, v in d.items() if k != "signature"}, "signature"),
            (lambda d: {k: v for k, v in d.items() if k != "event-data"}, "event-data"),
            (lambda d: d["event-data"].pop("event") and d, "event-data.event"),
            (lambda d: d["event-data"].update(timestamp="soon") or d, "event-data.timestamp"),
            (
                lambda d: d["event-data"].pop("message") and d,
                "event-data.message.headers.message-id",
            ),
            (lambda d: d["signature"].pop("token") and d, "signature.token"),
            (lambda d: d["signature"].update(timestamp=None) or d, "signature.timestamp"),
        ],
    )
    def test_a_malformed_body_names_its_field(self, mangle: Any, field: str) -> None:
        document = json.loads(webhook_body("delivered", "m@x", at=self.AT))
        mangled = mangle(document)
        body = mangled.encode() if isinstance(mangled, str) else json.dumps(mangled).encode()
        with pytest.raises(ValidationError) as caught:
            MailgunEvent.parse(body)
        assert caught.value.fields == (field,)

    def test_an_ignored_event_needs_no_message_id(self) -> None:
        document = json.loads(webhook_body("complained", "m@x", at=self.AT))
        del document["event-data"]["message"]
        parsed = MailgunEvent.parse(json.dumps(document).encode())
        assert (parsed.status, parsed.provider_message_id) == (None, None)


# --------------------------------------------------------------------------- through the core


class TestOpensAndClicks:
    def test_a_sent_message_moves_to_clicked_with_both_timestamps_in_any_order(
        self, mailgun: FakeMailgun
    ) -> None:
        core, booking = _booked(_notifier(mailgun))
        sent = core.communications.send(booking.id, "confirmation", principal=ADMIN)
        assert (sent.channel, sent.status) == (Channel.EMAIL, CommunicationStatus.SENT)
        assert sent.provider_message_id == mailgun.message_id(1)
        assert mailgun.requests[0]["form"]["v:communication_id"] == str(sent.id)
        message_id = f"<{sent.provider_message_id}>"  # as some senders spell it

        def webhook(event: str, minutes: int, **extra: Any) -> CommunicationStatus:
            at = (NOW + timedelta(minutes=minutes)).timestamp()
            event_ = read_mailgun_webhook(
                SIGNING_KEY, webhook_body(event, message_id, at=at, **extra), now=NOW
            )
            if event_.status is None:
                return core.communications.get(sent.id, principal=ADMIN).status
            assert event_.provider_message_id is not None
            return core.communications.record_callback(
                event_.provider_message_id,
                event_.status,
                at=event_.at,
                principal=MAILGUN,
                reason=event_.reason,
            ).status

        assert webhook("clicked", 3) is CommunicationStatus.CLICKED  # before the open report
        assert webhook("opened", 2) is CommunicationStatus.CLICKED
        assert webhook("delivered", 1) is CommunicationStatus.CLICKED
        assert webhook("failed", 4, severity="temporary") is CommunicationStatus.CLICKED
        assert webhook("failed", 5, severity="permanent") is CommunicationStatus.CLICKED
        logged = core.communications.get(sent.id, principal=ADMIN)
        assert (logged.delivered_at, logged.opened_at, logged.clicked_at) == (
            NOW + timedelta(minutes=1),
            NOW + timedelta(minutes=2),
            NOW + timedelta(minutes=3),
        )
        [line] = core.reports.communication_engagement(principal=ADMIN, by="channel")
        assert (line.key, line.sent, line.delivered, line.opened, line.clicked) == (
            "email",
            1,
            1,
            1,
            1,
        )
        assert (line.open_rate, line.click_rate) == (Decimal("1.0000"), Decimal("1.0000"))

    def test_a_permanent_failure_fails_a_sent_message_with_mailgun_s_reason(
        self, mailgun: FakeMailgun
    ) -> None:
        core, booking = _booked(_notifier(mailgun))
        sent = core.communications.send(booking.id, "confirmation", principal=ADMIN)
        body = webhook_body(
            "failed",
            str(sent.provider_message_id),
            at=NOW.timestamp(),
            severity="permanent",
            **{"delivery-status": {"code": 550, "message": "No such mailbox"}},
        )
        event = read_mailgun_webhook(SIGNING_KEY, body, now=NOW)
        assert event.status is CommunicationStatus.FAILED
        failed = core.communications.record_callback(
            str(event.provider_message_id), event.status, principal=MAILGUN, reason=event.reason
        )
        assert (failed.status, failed.failed_reason) == (
            CommunicationStatus.FAILED,
            "mailgun failed (550): No such mailbox",
        )
