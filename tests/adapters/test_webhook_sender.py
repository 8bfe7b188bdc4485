"""Partner webhooks over real HTTP: a local endpoint verifies them with the standardwebhooks
package itself; failures (500, a timeout, a refused connection) are retried until dead, and a
re-sent webhook arrives with its first webhook-id."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import math
import socket
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from email.utils import format_datetime
from typing import Any

import httpx
import pytest
from standardwebhooks import Webhook, WebhookVerificationError
from tests.adapters._webhook_receiver import Receiver, webhook_receiver
from tests.integration._partner_webhooks import ADMIN, WebhookWorld, webhook_world

from bookingcore import BookingCore, Settings
from bookingcore._clock import SystemClock
from bookingcore.domain import SignatureScheme, WebhookDeliveryStatus, WebhookRetryPolicy
from bookingcore.domain.webhooks import SIGNATURE_HEADER, verify
from bookingcore.ports import OutgoingWebhook
from bookingcore.services import WebhookSettings
from bookingcore.testing import FixedClock
from bookingcore_adapters.memory import MemoryStore
from bookingcore_adapters.webhooks import HttpxWebhookSender, signed_headers
from bookingcore_adapters.webhooks import _httpx as httpx_sender

RETRY = WebhookRetryPolicy(max_attempts=3, first_delay=timedelta(seconds=10), factor=2, jitter=0)


@pytest.fixture
def sender() -> Iterator[HttpxWebhookSender]:
    with HttpxWebhookSender(timeout=0.5) as sender:
        yield sender


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with webhook_receiver() as receiver:
        yield receiver


def _world(
    sender: HttpxWebhookSender,
    url: str,
    clock: FixedClock | None = None,
    *,
    allow_private: bool = True,
    **settings: str,
) -> WebhookWorld:
    # The real clock (or one set to it): receivers check webhook-timestamp against theirs.
    # The local receivers listen on 127.0.0.1: a private address, allowed explicitly.
    core = BookingCore(
        uow_factory=MemoryStore().unit_of_work,
        clock=clock or SystemClock(),
        settings=Settings(default_region="IN"),
        webhook_sender=sender,
        webhook_settings=WebhookSettings(
            retry=RETRY, jitter_source=lambda: 0.5, allow_private_addresses=allow_private
        ),
    )
    return webhook_world(core, url, **settings)


def _local(url: str, secret: str, body: bytes = b"{}") -> OutgoingWebhook:
    """A webhook to a local receiver (127.0.0.1), private addresses allowed."""
    return OutgoingWebhook(
        "msg_x", url, body, datetime.now(UTC), secret, allow_private_addresses=True
    )


def _closed_port_url() -> str:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}/hooks"


class TestStandardWebhooks:
    def test_the_receiver_verifies_the_webhook_with_the_standardwebhooks_package(
        self, sender: HttpxWebhookSender, receiver: Receiver
    ) -> None:
        world = _world(sender, receiver.url)
        assert world.partner.webhook_secret is not None
        receiver.secret = world.partner.webhook_secret
        booking = world.book()
        report = world.core.webhooks.deliver_due()
        assert (report.claimed, report.delivered) == (1, 1)
        [got] = receiver.received
        assert got.verified
        assert got.payload["type"] == "booking.created"
        assert got.payload["data"]["booking"]["id"] == str(booking.id)
        [delivery] = world.core.webhooks.list(principal=ADMIN).items
        assert got.headers["webhook-id"] == delivery.webhook_id
        assert SIGNATURE_HEADER not in got.headers
        [attempt] = world.core.webhooks.attempts(delivery.id, principal=ADMIN)
        assert (attempt.status_code, attempt.succeeded, attempt.url) == (200, True, receiver.url)
        assert attempt.latency_ms >= 0

    def test_headers_verify_for_the_body_they_sign_and_not_for_another(self) -> None:
        secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
        webhook = OutgoingWebhook(
            webhook_id="msg_1",
            url="http://127.0.0.1/hooks",
            body=b'{"a":1}',
            timestamp=datetime.now(UTC),
            secret=secret,
        )
        headers = signed_headers(webhook)
        assert Webhook(secret).verify(b'{"a":1}', headers) == {"a": 1}
        with pytest.raises(WebhookVerificationError):
            Webhook(secret).verify(b'{"a":2}', headers)
        with pytest.raises(WebhookVerificationError):
            Webhook("whsec_" + "A" * 43 + "=").verify(b'{"a":1}', headers)

    def test_the_signature_is_right_with_a_standardwebhooks_whose_sign_takes_text(
        self, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """``standardwebhooks`` 1.0 and 1.1 (the extra allows >=1.0) sign
        ``f"{msg_id}.{timestamp}.{data}"``: handed the body as bytes they signed the text
        ``b'...'``, and no receiver verified. The body goes in as the text it is; the
        signature is checked here by the specification's recipe, by hand."""

        class TextOnlyWebhook:  # what those releases do
            def __init__(self, secret: str) -> None:
                self.key = base64.b64decode(secret.removeprefix("whsec_"))

            def sign(self, msg_id: str, timestamp: datetime, data: str | bytes) -> str:
                stamp = str(math.floor(timestamp.replace(tzinfo=UTC).timestamp()))
                signed = f"{msg_id}.{stamp}.{data}".encode()
                digest = hmac.new(self.key, signed, hashlib.sha256).digest()
                return f"v1,{base64.b64encode(digest).decode()}"

        monkeypatch.setattr(httpx_sender, "Webhook", TextOnlyWebhook)
        secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
        body = '{"name":"Zoë"}'.encode()
        sent_at = datetime.now(UTC).astimezone(timezone(timedelta(hours=5, minutes=30)))
        headers = signed_headers(
            OutgoingWebhook("msg_1", "http://127.0.0.1/hooks", body, sent_at, secret)
        )
        key = base64.b64decode(secret.removeprefix("whsec_"))
        signed = f"msg_1.{int(sent_at.timestamp())}.".encode() + body
        expected = base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
        assert headers["webhook-timestamp"] == str(int(sent_at.timestamp()))
        assert headers["webhook-signature"] == f"v1,{expected}"
        assert Webhook(secret).verify(body, headers) == {"name": "Zoë"}

    def test_the_bookingcore_scheme_stays_available_per_partner(
        self, sender: HttpxWebhookSender, receiver: Receiver
    ) -> None:
        receiver.require_standard = False
        world = _world(sender, receiver.url, webhook_scheme="bookingcore")
        assert world.partner.webhook_scheme() is SignatureScheme.BOOKINGCORE
        world.book()
        world.core.webhooks.deliver_due()
        [got] = receiver.received
        assert "webhook-signature" not in got.headers
        assert got.headers["webhook-id"].startswith("msg_")
        assert world.partner.webhook_secret is not None
        verify(
            world.partner.webhook_secret,
            got.body,
            got.headers[SIGNATURE_HEADER],
            now=datetime.now(UTC),
        )

    def test_both_schemes_at_once_verify_each_way(
        self, sender: HttpxWebhookSender, receiver: Receiver
    ) -> None:
        world = _world(sender, receiver.url, webhook_scheme="both")
        assert world.partner.webhook_secret is not None
        receiver.secret = world.partner.webhook_secret
        world.book()
        world.core.webhooks.deliver_due()
        [got] = receiver.received
        assert got.verified
        verify(receiver.secret, got.body, got.headers[SIGNATURE_HEADER], now=datetime.now(UTC))

    def test_a_secret_that_is_not_base64_is_refused_without_a_request(
        self, sender: HttpxWebhookSender, receiver: Receiver
    ) -> None:
        webhook = _local(receiver.url, "whsec_not-base64_!!")
        response = sender.send(webhook)
        assert (response.status_code, response.retryable) == (None, False)
        assert "webhook_secret" in (response.error or "")
        assert receiver.received == []

    @pytest.mark.parametrize(
        "url",
        [
            "http://127.0.0.1:port/hooks",
            "http://127.0.0.1/hooks\nX-Injected: 1",
            "http://[::1/hooks",  # urlsplit's own ValueError
        ],
    )
    def test_a_url_httpx_cannot_parse_is_a_final_failure_not_an_exception(
        self, sender: HttpxWebhookSender, url: str
    ) -> None:
        """A URL stored before ``webhook_url`` was checked this strictly: the port's
        promise is an answer, and trying again cannot help."""
        webhook = OutgoingWebhook(
            "msg_x", url, b"{}", datetime.now(UTC), "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
        )
        response = sender.send(webhook)
        assert (response.status_code, response.retryable) == (None, False)
        assert "URL" in (response.error or "")


class TestRotationGracePeriod:
    """While a rotated webhook secret is kept, every webhook carries a signature by each
    secret in its one ``webhook-signature`` header: a receiver holding only the old
    secret and one holding only the new both accept it. After the grace period only the
    new secret signs."""

    def test_receivers_with_either_secret_accept_until_the_old_one_expires(
        self, sender: HttpxWebhookSender, receiver: Receiver
    ) -> None:
        # A library clock that starts at the real time (the receiver checks
        # webhook-timestamp against its own, five minutes either way) and is moved by hand.
        clock = FixedClock(datetime.now(UTC))
        world = _world(sender, receiver.url, clock)
        old_secret = world.partner.webhook_secret
        assert old_secret is not None
        rotated = world.core.partners.rotate_webhook_secret(
            world.partner.id, principal=ADMIN, keep_previous_for=timedelta(minutes=2)
        )
        new_secret = rotated.webhook_secret
        assert new_secret is not None
        assert new_secret != old_secret

        receiver.secret = old_secret  # a receiver not yet switched over
        world.book()
        assert world.core.webhooks.deliver_due().delivered == 1
        [delivery] = world.core.webhooks.list(principal=ADMIN).items
        receiver.secret = new_secret  # a receiver already switched over
        world.core.webhooks.resend(delivery.id, principal=ADMIN)
        assert world.core.webhooks.deliver_due().delivered == 1
        during_old, during_new = receiver.received
        assert during_old.verified
        assert during_new.verified
        assert len(during_old.headers["webhook-signature"].split(" ")) == 2

        clock.advance(minutes=2)  # the grace period is over
        receiver.secret = old_secret
        world.book()
        report = world.core.webhooks.deliver_due()
        assert (report.delivered, report.retrying) == (0, 1)
        late = receiver.received[-1]
        assert not late.verified
        assert len(late.headers["webhook-signature"].split(" ")) == 1
        with pytest.raises(WebhookVerificationError):
            Webhook(old_secret).verify(late.body, late.headers)
        assert Webhook(new_secret).verify(late.body, late.headers)["type"] == "booking.created"
        attempts = world.core.webhooks.attempts(
            world.core.webhooks.list(principal=ADMIN).items[0].id, principal=ADMIN
        )
        assert [a.status_code for a in attempts] == [401]

        receiver.secret = new_secret
        clock.advance(seconds=10)  # the retry is due
        assert world.core.webhooks.deliver_due().delivered == 1
        assert receiver.received[-1].verified

    def test_both_schemes_carry_both_signatures_during_the_grace_period(self) -> None:
        old_secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
        new_secret = "whsec_" + "A" * 43 + "="
        now = datetime.now(UTC)
        webhook = OutgoingWebhook(
            webhook_id="msg_1",
            url="http://127.0.0.1/hooks",
            body=b'{"a":1}',
            timestamp=now,
            secret=new_secret,
            scheme=SignatureScheme.BOTH,
            previous_secret=old_secret,
        )
        assert old_secret not in repr(webhook)
        headers = signed_headers(webhook)
        signatures = headers["webhook-signature"].split(" ")
        assert len(signatures) == 2
        assert all(s.startswith("v1,") for s in signatures)
        for secret in (old_secret, new_secret):
            assert Webhook(secret).verify(b'{"a":1}', headers) == {"a": 1}
            verify(secret, b'{"a":1}', headers[SIGNATURE_HEADER], now=now)
        alone = signed_headers(
            OutgoingWebhook("msg_1", "http://127.0.0.1/hooks", b'{"a":1}', now, new_secret)
        )
        assert signatures[0] == alone["webhook-signature"]


class TestFailures:
    def test_500_timeout_and_500_again_are_retried_with_backoff_then_dead(
        self, sender: HttpxWebhookSender, receiver: Receiver
    ) -> None:
        world = _world(sender, receiver.url)
        assert world.partner.webhook_secret is not None
        receiver.secret = world.partner.webhook_secret
        receiver.script = [500, "slow", 503]
        world.book()
        now = datetime.now(UTC)
        webhooks = world.core.webhooks
        assert webhooks.deliver_due(now).retrying == 1
        assert webhooks.deliver_due(now + timedelta(seconds=9)).claimed == 0
        assert webhooks.deliver_due(now + timedelta(seconds=10)).retrying == 1
        assert webhooks.deliver_due(now + timedelta(seconds=30)).dead == 1
        [delivery] = webhooks.list(principal=ADMIN).items
        assert delivery.status is WebhookDeliveryStatus.DEAD
        attempts = webhooks.attempts(delivery.id, principal=ADMIN)
        assert [a.status_code for a in attempts] == [500, None, 503]
        assert attempts[1].error == "timed out after 0.5s"
        assert attempts[1].latency_ms >= 400
        assert attempts[2].error == "HTTP 503 Service Unavailable"
        assert len(set(receiver.ids())) == 1
        assert all(r.verified for r in receiver.received)

        resent = webhooks.resend(delivery.id, principal=ADMIN)
        assert resent.status is WebhookDeliveryStatus.PENDING
        assert webhooks.deliver_due().delivered == 1
        assert receiver.ids() == [delivery.webhook_id] * 4
        assert webhooks.get(delivery.id, principal=ADMIN).status is WebhookDeliveryStatus.DELIVERED

    def test_a_refused_connection_is_retried(self, sender: HttpxWebhookSender) -> None:
        world = _world(sender, _closed_port_url())
        world.book()
        report = world.core.webhooks.deliver_due()
        assert report.retrying == 1
        [delivery] = world.core.webhooks.list(principal=ADMIN).items
        [attempt] = world.core.webhooks.attempts(delivery.id, principal=ADMIN)
        assert attempt.status_code is None
        assert (attempt.error or "").startswith("connection failed")

    def test_410_gone_is_dead_at_once_without_a_retry(
        self, sender: HttpxWebhookSender, receiver: Receiver
    ) -> None:
        """Standard Webhooks: 410 says the receiver wants no more webhooks from us."""
        world = _world(sender, receiver.url)
        assert world.partner.webhook_secret is not None
        receiver.secret = world.partner.webhook_secret
        receiver.script = [410]
        world.book()
        assert world.core.webhooks.deliver_due().dead == 1
        [delivery] = world.core.webhooks.list(principal=ADMIN).items
        assert (delivery.status, delivery.attempts) == (WebhookDeliveryStatus.DEAD, 1)
        [attempt] = world.core.webhooks.attempts(delivery.id, principal=ADMIN)
        assert (attempt.status_code, attempt.error) == (410, "HTTP 410 Gone")

    @pytest.mark.parametrize("code", [429, 503])
    def test_retry_after_in_seconds_puts_the_next_attempt_off_that_long(
        self, sender: HttpxWebhookSender, receiver: Receiver, code: int
    ) -> None:
        world = _world(sender, receiver.url)
        assert world.partner.webhook_secret is not None
        receiver.secret = world.partner.webhook_secret
        receiver.script = [(code, {"Retry-After": "120"})]
        world.book()
        now = datetime.now(UTC)
        assert world.core.webhooks.deliver_due(now).retrying == 1
        [delivery] = world.core.webhooks.list(principal=ADMIN).items
        assert delivery.next_attempt_at == now + timedelta(seconds=120)  # backoff: 10 s
        assert world.core.webhooks.deliver_due(now + timedelta(seconds=119)).claimed == 0
        assert world.core.webhooks.deliver_due(now + timedelta(seconds=120)).delivered == 1

    def test_retry_after_as_an_http_date_is_read_too(self, sender: HttpxWebhookSender) -> None:
        with webhook_receiver() as receiver:
            later = datetime.now(UTC) + timedelta(minutes=10)
            receiver.script = [(429, {"Retry-After": format_datetime(later, usegmt=True)})]
            secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
            receiver.secret = secret
            response = sender.send(_local(receiver.url, secret))
        assert (response.status_code, response.retryable) == (429, True)
        assert response.retry_after is not None
        assert timedelta(minutes=9) < response.retry_after <= timedelta(minutes=10)

    @pytest.mark.parametrize("value", ["soon", "-5", "", "1.5"])
    def test_a_retry_after_that_does_not_parse_is_ignored(
        self, sender: HttpxWebhookSender, value: str
    ) -> None:
        with webhook_receiver() as receiver:
            receiver.script = [(429, {"Retry-After": value})]
            secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
            receiver.secret = secret
            response = sender.send(_local(receiver.url, secret))
        assert (response.status_code, response.retry_after) == (429, None)

    def test_an_enormous_retry_after_is_read_as_a_day(self, sender: HttpxWebhookSender) -> None:
        with webhook_receiver() as receiver:
            receiver.script = [(503, {"Retry-After": "9" * 30})]
            secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
            receiver.secret = secret
            response = sender.send(_local(receiver.url, secret))
        assert (response.status_code, response.retry_after) == (503, timedelta(days=1))

    def test_an_answer_whose_body_trickles_in_does_not_hold_the_sender_past_its_timeout(
        self, sender: HttpxWebhookSender
    ) -> None:
        """Each byte came within the per-read timeout, so the sender waited for the whole
        body (6 s here, hours for a hostile endpoint), past its claim's lease. The status
        is what counts; the body is read for the log's excerpt only, within the timeout."""
        with webhook_receiver() as receiver:
            receiver.script = ["trickle"]
            secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
            started = time.monotonic()
            response = sender.send(_local(receiver.url, secret))
            took = time.monotonic() - started
        assert response.status_code == 200
        assert response.succeeded
        assert took < 2.5  # the sender's timeout is 0.5 s
        assert (response.response_excerpt or "").startswith("x")

    def test_the_body_is_the_same_bytes_on_every_attempt(
        self, sender: HttpxWebhookSender, receiver: Receiver
    ) -> None:
        world = _world(sender, receiver.url)
        assert world.partner.webhook_secret is not None
        receiver.secret = world.partner.webhook_secret
        receiver.script = [500]
        world.book()
        now = datetime.now(UTC)
        world.core.webhooks.deliver_due(now)
        world.core.webhooks.deliver_due(now + timedelta(seconds=10))
        first, second = receiver.received
        assert first.body == second.body
        assert json.loads(first.body) == second.payload


class _Resolver:
    """Answers ``getaddrinfo`` from a script: each lookup of a name takes the next
    answer (the last one repeats), as a DNS server rebinding a name would."""

    def __init__(self, *answers: list[str]) -> None:
        self.answers = list(answers)
        self.asked: list[str] = []

    def __call__(self, host: str, port: object, *args: object, **kwargs: object) -> list[Any]:
        self.asked.append(host)
        if not self.answers:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        answer = self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]
        infos: list[Any] = []
        for address in answer:
            family = socket.AF_INET6 if ":" in address else socket.AF_INET
            infos.append((family, socket.SOCK_STREAM, 6, "", (address, port)))
        return infos


SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"


class TestPrivateAddresses:
    """Server-side request forgery: unless the host allows it, no webhook goes to a
    loopback, private, link-local or other non-public address, whatever the URL's
    host name resolves to, and the request goes to the address that was checked."""

    @pytest.mark.parametrize(
        "url",
        [
            "http://169.254.169.254/latest/meta-data/",
            "http://127.0.0.1:9/hooks",
            "http://[::1]:9/hooks",
            "https://10.0.0.7/hooks",
            "http://[fd00::7]/hooks",
            "http://127.1:9/hooks",
        ],
    )
    def test_a_non_public_address_in_the_url_fails_for_good_without_a_request(
        self, url: str
    ) -> None:
        seen: list[httpx.Request] = []
        client = httpx.Client(transport=httpx.MockTransport(lambda r: seen.append(r) or _ok()))
        with HttpxWebhookSender(timeout=0.5, client=client) as sender:
            response = sender.send(OutgoingWebhook("msg_x", url, b"{}", datetime.now(UTC), SECRET))
        assert (response.status_code, response.retryable, seen) == (None, False, [])
        assert "not a public address" in (response.error or "")

    def test_a_name_that_resolves_to_loopback_is_refused_and_the_receiver_gets_nothing(
        self, sender: HttpxWebhookSender, receiver: Receiver
    ) -> None:
        url = receiver.url.replace("127.0.0.1", "localhost")
        response = sender.send(OutgoingWebhook("msg_x", url, b"{}", datetime.now(UTC), SECRET))
        assert (response.status_code, response.retryable) == (None, False)
        assert "localhost resolves to" in (response.error or "")
        assert receiver.received == []

    def test_one_private_address_among_public_ones_is_enough_to_refuse(
        self, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setattr(socket, "getaddrinfo", _Resolver(["93.184.215.14", "10.0.0.7"]))
        seen: list[httpx.Request] = []
        client = httpx.Client(transport=httpx.MockTransport(lambda r: seen.append(r) or _ok()))
        with HttpxWebhookSender(timeout=0.5, client=client) as sender:
            webhook = OutgoingWebhook(
                "msg_x", "https://hooks.partner.example/in", b"{}", datetime.now(UTC), SECRET
            )
            response = sender.send(webhook)
        assert (response.retryable, seen) == (False, [])
        assert "10.0.0.7" in (response.error or "")

    def test_the_request_goes_to_the_address_checked_not_to_a_second_lookup(
        self, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """DNS rebinding: the name answers a public address to the check and loopback
        to any later lookup. The request is made to the checked address, with the
        URL's host in ``Host`` and as the TLS server name (the certificate is checked
        against it), and its basic-auth credentials."""
        resolver = _Resolver(["93.184.215.14"], ["127.0.0.1"])
        monkeypatch.setattr(socket, "getaddrinfo", resolver)
        seen: list[httpx.Request] = []
        client = httpx.Client(transport=httpx.MockTransport(lambda r: seen.append(r) or _ok()))
        with HttpxWebhookSender(timeout=0.5, client=client) as sender:
            url = "https://user:pw@hooks.partner.example:8443/in?x=1"
            response = sender.send(OutgoingWebhook("msg_x", url, b"{}", datetime.now(UTC), SECRET))
        assert response.status_code == 200
        [request] = seen
        assert resolver.asked == ["hooks.partner.example"]
        assert (request.url.host, request.url.port) == ("93.184.215.14", 8443)
        assert (request.url.path, request.url.query) == ("/in", b"x=1")
        assert request.headers["Host"] == "hooks.partner.example:8443"
        assert request.extensions["sni_hostname"] == "hooks.partner.example"
        expected = "Basic " + base64.b64encode(b"user:pw").decode()
        assert request.headers["Authorization"] == expected

    def test_a_name_that_does_not_resolve_is_retried(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setattr(socket, "getaddrinfo", _Resolver())
        with HttpxWebhookSender(timeout=0.5) as sender:
            webhook = OutgoingWebhook(
                "msg_x", "https://gone.partner.example/in", b"{}", datetime.now(UTC), SECRET
            )
            response = sender.send(webhook)
        assert (response.status_code, response.retryable) == (None, True)
        assert (response.error or "").startswith("could not resolve gone.partner.example")

    def test_a_partner_whose_name_resolves_to_a_private_address_gets_a_dead_webhook(
        self, monkeypatch: pytest.MonkeyPatch, sender: HttpxWebhookSender
    ) -> None:
        """Through the core: the name passed the check when it was set (it is no IP
        address); at send time it resolves to the metadata service: dead at once, logged."""
        world = _world(sender, "http://metadata.partner.example/hooks", allow_private=False)
        monkeypatch.setattr(socket, "getaddrinfo", _Resolver(["169.254.169.254"]))
        world.book()
        report = world.core.webhooks.deliver_due()
        assert (report.claimed, report.dead) == (1, 1)
        [delivery] = world.core.webhooks.list(principal=ADMIN).items
        [attempt] = world.core.webhooks.attempts(delivery.id, principal=ADMIN)
        assert attempt.status_code is None
        assert "169.254.169.254" in (attempt.error or "")

    def test_a_host_that_allows_private_addresses_sends_to_them(
        self, sender: HttpxWebhookSender, receiver: Receiver
    ) -> None:
        world = _world(sender, receiver.url, allow_private=True)
        assert world.partner.webhook_secret is not None
        receiver.secret = world.partner.webhook_secret
        world.book()
        assert world.core.webhooks.deliver_due().delivered == 1
        assert len(receiver.received) == 1


def _ok() -> httpx.Response:
    return httpx.Response(200, text="ok")
