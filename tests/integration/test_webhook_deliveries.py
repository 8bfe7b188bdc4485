"""Partner webhook deliveries on each store (memory, SQLite, PostgreSQL): a worker that
died after claiming leaves the webhook to the next one once the lease ends, with the
same webhook-id; workers running at once never send one attempt twice; a late answer
never overrides the attempt that took over; retries end dead and a re-send starts over."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from tests._threads import at_once
from tests.integration._partner_webhooks import ADMIN, WebhookWorld, webhook_world

from bookingcore import (
    BookingCore,
    BookingRequest,
    Money,
    NewTraveler,
    Principal,
    Settings,
    TravelerDetails,
)
from bookingcore.domain import WebhookDeliveryStatus, WebhookRetryPolicy, WebhookTopic
from bookingcore.domain.queries import PageRequest
from bookingcore.errors import NotFoundError, PermissionDeniedError, ValidationError
from bookingcore.ports import OutgoingWebhook, WebhookResponse
from bookingcore.services import WebhookSettings
from bookingcore.testing import FixedClock, RecordingWebhookSender
from bookingcore_adapters.memory import MemoryStore
from bookingcore_adapters.payments import ManualProvider
from bookingcore_adapters.sql import SqlStore

RETRY = WebhookRetryPolicy(max_attempts=3, first_delay=timedelta(seconds=10), factor=2, jitter=0)


def _world(
    store: MemoryStore | SqlStore,
    sender: RecordingWebhookSender,
    clock: FixedClock,
    batch: int = 10,
    url: str = "https://partner.example.com/hooks",
) -> WebhookWorld:
    core = BookingCore(
        uow_factory=store.unit_of_work,
        clock=clock,
        settings=Settings(default_region="IN"),
        webhook_sender=sender,
        webhook_settings=WebhookSettings(retry=RETRY, batch=batch, jitter_source=lambda: 0.5),
        payment_providers=[ManualProvider()],
    )
    return webhook_world(core, url)


def test_a_webhook_url_with_a_password_is_sent_as_configured_and_logged_with_it_masked(
    any_store: MemoryStore | SqlStore, clock: FixedClock, caplog: pytest.LogCaptureFixture
) -> None:
    """The attempt log, the delivery's last error and the log records show
    ``user:***@``: staff and the partner read them; only the sender gets the password."""
    url = "https://hooks:s3cr%40t-pw@partner.example.com/hooks"
    sender = RecordingWebhookSender()
    world = _world(any_store, sender, clock, url=url)
    world.book()
    lease = world.core.webhooks.settings.lease
    answers = iter(["quote", "kill", "raise"])

    def sending(webhook: OutgoingWebhook) -> WebhookResponse:
        sender.sent.append(webhook)
        step = next(answers, "ok")
        if step == "quote":  # a sender's error quoting the URL it was given
            return WebhookResponse(None, 5, error=f"connection to {webhook.url} failed")
        if step == "kill":
            raise _WorkerKilled
        if step == "raise":
            raise RuntimeError(f"cannot send to {webhook.url} (password s3cr@t-pw)")
        return WebhookResponse(200, 1)

    sender.send = sending  # type: ignore[method-assign]
    with caplog.at_level("DEBUG", logger="bookingcore"):
        assert world.core.webhooks.deliver_due().retrying == 1  # attempt 1: quoted error
        clock.advance(RETRY.first_delay)
        with pytest.raises(_WorkerKilled):
            world.core.webhooks.deliver_due()  # attempt 2: lost
        clock.advance(lease)
        assert world.core.webhooks.deliver_due().lost == 1
        clock.advance(timedelta(seconds=40))
        assert world.core.webhooks.deliver_due().dead == 1  # attempt 3: the sender raised
        [delivery] = world.core.webhooks.list(principal=ADMIN).items
        world.core.webhooks.resend(delivery.id, principal=ADMIN)
        assert world.core.webhooks.deliver_due().delivered == 1  # attempt 4
    assert {w.url for w in sender.sent} == {url}  # sent as configured
    masked = "https://hooks:***@partner.example.com/hooks"
    attempts = world.core.webhooks.attempts(delivery.id, principal=world.as_partner)
    assert [a.url for a in attempts] == [masked] * 4
    assert attempts[0].error == f"connection to {masked} failed"
    assert attempts[2].error == f"RuntimeError: cannot send to {masked} (password ***)"
    shown = [a.error or "" for a in attempts]
    shown.append(world.core.webhooks.get(delivery.id, principal=ADMIN).last_error or "")
    shown.append(caplog.text)
    for text in shown:
        assert "s3cr" not in text
    assert masked in caplog.text


def test_a_worker_killed_after_its_claim_leaves_the_webhook_to_the_next_after_the_lease(
    any_store: MemoryStore | SqlStore, clock: FixedClock
) -> None:
    sender = RecordingWebhookSender()
    world = _world(any_store, sender, clock)
    world.book()
    lease = world.core.webhooks.settings.lease
    with world.core.context.uow_factory() as uow:  # a worker claims, commits, then dies
        [claimed] = uow.webhook_deliveries.claim_due(clock.now(), 10)
        claimed.claim(clock.now(), lease)
        uow.commit()
    assert world.core.webhooks.deliver_due().claimed == 0  # its lease holds
    clock.advance(lease - timedelta(seconds=1))
    assert world.core.webhooks.deliver_due().claimed == 0
    clock.advance(timedelta(seconds=1))
    report = world.core.webhooks.deliver_due()  # the unanswered claim is a failed attempt
    assert (report.lost, report.claimed) == (1, 0)
    clock.advance(RETRY.first_delay)  # then the backoff
    assert world.core.webhooks.deliver_due().delivered == 1
    [sent] = sender.sent
    assert (sent.webhook_id, sent.attempt) == (claimed.webhook_id, 2)
    delivery = world.core.webhooks.get(claimed.id, principal=ADMIN)
    assert (delivery.status, delivery.attempts, delivery.failures) == (
        WebhookDeliveryStatus.DELIVERED,
        2,
        1,
    )
    lost, delivered = world.core.webhooks.attempts(claimed.id, principal=ADMIN)
    assert (lost.number, lost.succeeded, lost.status_code) == (1, False, None)
    assert lost.error is not None
    assert "never reported back" in lost.error
    assert (delivered.number, delivered.status_code) == (2, 200)


class _WorkerKilled(BaseException):
    """The worker process dies mid-send (SIGKILL, out of memory): nothing catches it."""


def test_a_webhook_that_kills_its_worker_every_time_ends_dead_with_each_lost_attempt_logged(
    any_store: MemoryStore | SqlStore, clock: FixedClock
) -> None:
    """Every worker that sends it dies before it writes an answer down (killed, out of
    memory on a huge answer, a crash in the sender): each claim whose lease ran out is a
    failed attempt, with the backoff after it, until it is dead after max_attempts."""
    sender = RecordingWebhookSender()
    world = _world(any_store, sender, clock)
    world.book()
    lease = world.core.webhooks.settings.lease

    def killing(webhook: OutgoingWebhook) -> WebhookResponse:
        sender.sent.append(webhook)
        raise _WorkerKilled

    sender.send = killing  # type: ignore[method-assign]

    def worker_dies() -> None:
        with pytest.raises(_WorkerKilled):
            world.core.webhooks.deliver_due()

    worker_dies()  # attempt 1
    clock.advance(lease)  # its lease runs out: attempt 1 failed, retried after 10 s
    report = world.core.webhooks.deliver_due()
    assert (report.lost, report.claimed, report.dead) == (1, 0, 0)
    clock.advance(timedelta(seconds=10))
    worker_dies()  # attempt 2
    clock.advance(lease + timedelta(seconds=19))
    assert world.core.webhooks.deliver_due().claimed == 0  # attempt 2 failed: 20 s
    clock.advance(timedelta(seconds=1))
    worker_dies()  # attempt 3, the last of max_attempts=3
    clock.advance(lease)
    report = world.core.webhooks.deliver_due()
    assert (report.lost, report.claimed, report.dead) == (1, 0, 1)
    for _ in range(5):  # long after: nothing is due any more
        clock.advance(timedelta(hours=1))
        assert world.core.webhooks.deliver_due().claimed == 0
    assert [w.attempt for w in sender.sent] == [1, 2, 3]
    [delivery] = world.core.webhooks.list(principal=ADMIN).items
    assert (delivery.status, delivery.attempts, delivery.failures) == (
        WebhookDeliveryStatus.DEAD,
        3,
        3,
    )
    assert (delivery.claimed_until, delivery.dead_at) == (None, clock.now() - timedelta(hours=5))
    assert delivery.last_error is not None
    assert "never reported back" in delivery.last_error
    attempts = world.core.webhooks.attempts(delivery.id, principal=ADMIN)
    assert [(a.number, a.succeeded, a.status_code) for a in attempts] == [
        (1, False, None),
        (2, False, None),
        (3, False, None),
    ]
    assert all(a.error is not None and "never reported back" in a.error for a in attempts)
    assert all(a.url == world.partner.webhook_url for a in attempts)
    assert attempts[1].started_at - attempts[0].started_at == lease + timedelta(seconds=10)
    # A re-send starts over with a fresh budget, as for any dead webhook.
    del sender.send
    world.core.webhooks.resend(delivery.id, principal=ADMIN)
    assert world.core.webhooks.deliver_due().delivered == 1
    assert sender.sent[-1].attempt == 4


def test_workers_at_once_send_each_webhook_once(
    any_store: MemoryStore | SqlStore, clock: FixedClock
) -> None:
    sender = RecordingWebhookSender()
    world = _world(any_store, sender, clock, batch=2)
    for _ in range(12):
        world.book()

    def work(_: int) -> int:
        delivered = 0
        while True:
            report = world.core.webhooks.deliver_due()
            delivered += report.delivered
            if report.claimed == 0:
                return delivered

    counts = at_once(3, work)
    assert all(isinstance(count, int) for count in counts), counts
    assert sum(counts) == 12
    ids = [w.webhook_id for w in sender.sent]
    assert len(ids) == len(set(ids)) == 12
    assert {w.attempt for w in sender.sent} == {1}
    page = world.core.webhooks.list(principal=ADMIN, page=PageRequest(limit=100))
    assert {(d.status, d.attempts) for d in page.items} == {(WebhookDeliveryStatus.DELIVERED, 1)}


def test_a_late_answer_is_logged_but_leaves_the_delivery_to_the_attempt_that_took_over(
    any_store: MemoryStore | SqlStore, clock: FixedClock
) -> None:
    """Worker A's send outlasts its lease; worker B logs attempt 1 as lost, claims attempt
    2 after the backoff and delivers; A's failure then comes back: it replaces the lost
    attempt 1 in the log, the delivery stays delivered."""
    sender = RecordingWebhookSender()
    world = _world(any_store, sender, clock)
    world.book()
    lease = world.core.webhooks.settings.lease
    second_worker: list[int] = []

    def hanging(webhook: OutgoingWebhook) -> WebhookResponse:
        sender.sent.append(webhook)
        if webhook.attempt == 1:
            clock.advance(lease + RETRY.first_delay)  # A hangs past its lease; B runs
            second_worker.append(world.core.webhooks.deliver_due().delivered)
            return WebhookResponse(500, 1, error="HTTP 500")
        return WebhookResponse(200, 1)

    sender.send = hanging  # type: ignore[method-assign]
    report = world.core.webhooks.deliver_due()
    assert (report.claimed, report.late) == (1, 1)
    assert second_worker == [1]
    [delivery] = world.core.webhooks.list(principal=ADMIN).items
    assert (delivery.status, delivery.attempts, delivery.failures) == (
        WebhookDeliveryStatus.DELIVERED,
        2,
        1,
    )
    attempts = world.core.webhooks.attempts(delivery.id, principal=ADMIN)
    assert [(a.number, a.status_code, a.error) for a in attempts] == [
        (1, 500, "HTTP 500"),
        (2, 200, None),
    ]
    assert len({w.webhook_id for w in sender.sent}) == 1


def test_failures_end_dead_after_max_attempts_and_a_resend_starts_over(
    any_store: MemoryStore | SqlStore, clock: FixedClock
) -> None:
    sender = RecordingWebhookSender()
    world = _world(any_store, sender, clock)
    world.book()
    sender.answer_next(500, None, 503)
    for wait in (10, 20, 0):
        world.core.webhooks.deliver_due()
        clock.advance(timedelta(seconds=wait))
    [delivery] = world.core.webhooks.list(principal=ADMIN, status="dead").items
    assert (delivery.attempts, delivery.failures, delivery.last_status_code) == (3, 3, 503)
    assert delivery.dead_at == clock.now()
    resent = world.core.webhooks.resend(delivery.id, principal=ADMIN)
    assert (resent.status, resent.failures) == (WebhookDeliveryStatus.PENDING, 0)
    assert world.core.webhooks.deliver_due().delivered == 1
    stored = world.core.webhooks.get(delivery.id, principal=ADMIN)
    assert (stored.status, stored.attempts, stored.dead_at) == (
        WebhookDeliveryStatus.DELIVERED,
        4,
        None,
    )
    attempts = world.core.webhooks.attempts(delivery.id, principal=ADMIN)
    assert [(a.number, a.status_code, a.succeeded) for a in attempts] == [
        (1, 500, False),
        (2, None, False),
        (3, 503, False),
        (4, 200, True),
    ]
    assert {w.webhook_id for w in sender.sent} == {delivery.webhook_id}


def test_a_resend_is_audited_with_who_did_it_and_a_retried_one_is_not_audited_again(
    any_store: MemoryStore | SqlStore, clock: FixedClock
) -> None:
    sender = RecordingWebhookSender()
    world = _world(any_store, sender, clock)
    world.book()
    world.core.webhooks.deliver_due()
    [delivery] = world.core.webhooks.list(principal=ADMIN).items
    clock.advance(timedelta(minutes=1))
    for _ in range(2):
        world.core.webhooks.resend(delivery.id, principal=ADMIN, idempotency_key="resend-1")
    [entry] = world.core.audit.trail("webhook_delivery", delivery.id, principal=ADMIN)
    assert entry.actor == ADMIN.actor
    assert entry.occurred_at == clock.now()
    assert (dict(entry.old_values), dict(entry.new_values)) == (
        {"status": "delivered"},
        {"status": "pending"},
    )
    assert entry.reason == "re-sent"
    assert world.core.webhooks.deliver_due().delivered == 1  # re-sent once, not twice
    assert len(sender.sent) == 2


def test_a_booking_confirmed_before_it_was_paid_sends_booking_paid_when_the_money_comes(
    any_store: MemoryStore | SqlStore, clock: FixedClock
) -> None:
    """The payment moves nothing (the booking is confirmed already), yet the partner
    subscribed to booking.paid hears of it; it went through the outbox as it is stored."""
    sender = RecordingWebhookSender()
    world = _world(any_store, sender, clock)
    booking = world.book()
    world.core.bookings.transition(booking.id, "confirmed", principal=ADMIN)
    world.core.payments.record_manual_payment(
        booking.id, Money("1000", "INR"), principal=ADMIN, reference="R-1"
    )
    world.core.webhooks.deliver_due()
    topics = sorted(w.topic or "" for w in sender.sent)
    assert topics == ["booking.confirmed", "booking.created", "booking.paid"]
    [paid] = [
        d
        for d in world.core.webhooks.list(principal=ADMIN).items
        if d.topic is WebhookTopic.BOOKING_PAID
    ]
    [payment] = world.core.payments.for_booking(booking.id, principal=ADMIN)
    assert paid.payload["data"]["payment_id"] == str(payment.id)
    assert paid.status is WebhookDeliveryStatus.DELIVERED


@pytest.mark.parametrize("limit", [-1, True, 1.5])
def test_a_limit_that_is_not_a_positive_whole_number_is_a_validation_error(
    any_store: MemoryStore | SqlStore, clock: FixedClock, limit: object
) -> None:
    """LIMIT -1 claimed every due webhook on SQLite, failed on PostgreSQL and left the
    last one out in memory."""
    sender = RecordingWebhookSender()
    world = _world(any_store, sender, clock)
    world.book()
    with pytest.raises(ValidationError) as caught:
        world.core.webhooks.deliver_due(limit=limit)  # type: ignore[arg-type]
    assert caught.value.fields == ("limit",)
    assert sender.sent == []
    assert world.core.webhooks.deliver_due(limit=1).delivered == 1


def test_a_partner_reads_only_its_own_deliveries_and_attempts(
    any_store: MemoryStore | SqlStore, clock: FixedClock
) -> None:
    sender = RecordingWebhookSender()
    world = _world(any_store, sender, clock)
    other = world.core.partners.register(
        name="Peaks",
        company_name="Peaks Pvt Ltd",
        contact_email="ops@peaks.example.com",
        allowed_location_ids=[world.slot.location_id],
        webhook_url="https://peaks.example.com/hooks",
        principal=ADMIN,
    ).partner
    mine = world.book()
    as_other = Principal.partner(other.id)
    customer = world.core.customers.register("+919800000999", principal=as_other).customer
    theirs = world.core.bookings.book(
        BookingRequest(
            world.slot.id,
            [NewTraveler(TravelerDetails("Ravi"), is_primary=True)],
            customer_id=customer.id,
        ),
        principal=as_other,
    )
    world.core.webhooks.deliver_due()
    everything = world.core.webhooks.list(principal=ADMIN).items
    assert {d.booking_id for d in everything} == {mine.id, theirs.id}
    [own] = world.core.webhooks.list(principal=world.as_partner).items
    assert own.booking_id == mine.id
    asked_for_other = world.core.webhooks.list(principal=world.as_partner, partner_id=other.id)
    assert [d.id for d in asked_for_other.items] == [own.id]
    [foreign] = [d for d in everything if d.booking_id == theirs.id]
    with pytest.raises(NotFoundError):
        world.core.webhooks.get(foreign.id, principal=world.as_partner)
    with pytest.raises(NotFoundError):
        world.core.webhooks.attempts(foreign.id, principal=world.as_partner)
    with pytest.raises(PermissionDeniedError):
        world.core.webhooks.resend(own.id, principal=world.as_partner)
    assert [a.number for a in world.core.webhooks.attempts(own.id, principal=world.as_partner)] == [
        1
    ]


def test_a_410_gone_disables_the_partners_endpoint_until_staff_enable_it(
    any_store: MemoryStore | SqlStore, clock: FixedClock
) -> None:
    """Standard Webhooks: 410 says the receiver wants no more. The delivery is dead, the
    partner's endpoint disabled (when and why kept, audited), no new webhook is scheduled
    for it, one scheduled before is dead without a request; staff enable it again."""
    sender = RecordingWebhookSender()
    world = _world(any_store, sender, clock)
    core = world.core
    world.book()
    world.book()
    sender.answer_next(410)
    assert core.webhooks.deliver_due(limit=1).dead == 1
    partner = core.partners.get(world.partner.id, principal=ADMIN)
    assert partner.webhooks_disabled
    assert partner.webhook_disabled_at == clock.now()
    assert "410 Gone" in (partner.webhook_disabled_reason or "")
    entries = core.partners.history(partner.id, principal=ADMIN).items
    [disabled] = [e for e in entries if "410" in (e.reason or "")]
    assert disabled.actor == Principal.system("webhooks").actor
    assert disabled.new_values["webhook_disabled_reason"] == partner.webhook_disabled_reason
    # the one scheduled before: dead at once, nothing sent
    clock.advance(timedelta(seconds=1))
    assert core.webhooks.deliver_due().dead == 1
    assert len(sender.sent) == 1
    dead = core.webhooks.list(principal=ADMIN, status="dead").items
    assert len(dead) == 2
    assert all(d.status is WebhookDeliveryStatus.DEAD for d in dead)
    assert any("disabled" in (d.last_error or "") for d in dead)
    # new events schedule nothing while it is disabled
    world.book()
    assert len(core.webhooks.list(principal=ADMIN).items) == 2
    # staff enable it: audited, and new events are sent again
    clock.advance(timedelta(minutes=5))
    enabled = core.partners.enable_webhooks(partner.id, principal=ADMIN)
    assert (enabled.webhooks_disabled, enabled.webhook_disabled_reason) == (False, None)
    newest = core.partners.history(partner.id, principal=ADMIN).items
    assert any(e.old_values.get("webhook_disabled_at") for e in newest)
    world.book()
    assert core.webhooks.deliver_due().delivered == 1
    assert len(sender.sent) == 2


def test_setting_the_webhook_url_again_enables_a_disabled_endpoint(
    any_store: MemoryStore | SqlStore, clock: FixedClock
) -> None:
    sender = RecordingWebhookSender()
    world = _world(any_store, sender, clock)
    world.book()
    sender.answer_next(410)
    world.core.webhooks.deliver_due()
    url = world.partner.webhook_url
    assert world.core.partners.get(world.partner.id, principal=ADMIN).webhooks_disabled
    again = world.core.partners.update(world.partner.id, principal=ADMIN, webhook_url=url)
    assert not again.webhooks_disabled
    assert again.webhook_url == url
    world.book()
    assert world.core.webhooks.deliver_due().delivered == 1


def test_a_410_from_a_url_the_partner_changed_meanwhile_leaves_the_new_one_enabled(
    any_store: MemoryStore | SqlStore, clock: FixedClock
) -> None:
    sender = RecordingWebhookSender()
    world = _world(any_store, sender, clock)
    world.book()

    def sending(webhook: OutgoingWebhook) -> WebhookResponse:
        sender.sent.append(webhook)
        world.core.partners.update(
            world.partner.id, principal=ADMIN, webhook_url="https://new.partner.example/hooks"
        )
        return WebhookResponse(410, 1, error="HTTP 410 Gone")

    sender.send = sending  # type: ignore[method-assign]
    assert world.core.webhooks.deliver_due().dead == 1
    assert not world.core.partners.get(world.partner.id, principal=ADMIN).webhooks_disabled


def test_the_cancelled_webhook_carries_the_cancellation_reason(
    any_store: MemoryStore | SqlStore, clock: FixedClock
) -> None:
    """The reason given on cancelling reaches the partner in ``data.booking``, on every
    store (the SQL adapter reads the booking back before the payload is made)."""
    sender = RecordingWebhookSender()
    world = _world(any_store, sender, clock)
    booking = world.book()
    world.core.bookings.cancel(booking.id, principal=world.as_partner, reason="Guest fell ill")
    world.core.webhooks.deliver_due()
    bodies = {w.topic: json.loads(w.body) for w in sender.sent}
    cancelled = bodies["booking.cancelled"]["data"]["booking"]
    assert cancelled["cancellation_reason"] == "Guest fell ill"
    assert cancelled["status"] == "cancelled"
    assert cancelled["cancelled_at"] is not None
    assert bodies["booking.created"]["data"]["booking"]["cancellation_reason"] is None


def test_webhooks_claimed_in_the_run_that_got_a_410_are_not_sent_after_it(
    any_store: MemoryStore | SqlStore, clock: FixedClock
) -> None:
    sender = RecordingWebhookSender()
    world = _world(any_store, sender, clock)
    for _ in range(3):
        world.book()
    sender.answer_next(410)
    report = world.core.webhooks.deliver_due()
    assert (report.claimed, report.dead) == (3, 3)
    assert len(sender.sent) == 1
    assert world.core.partners.get(world.partner.id, principal=ADMIN).webhooks_disabled
