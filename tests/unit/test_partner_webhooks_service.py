"""core.webhooks: scheduled from booking events, delivered with retries and backoff, dead,
re-sent by staff, listed for staff and for the partner itself (memory store, fake sender)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from uuid import uuid4

import pytest
from tests.integration._partner_webhooks import ADMIN, WebhookWorld, webhook_world

from bookingcore import (
    BookingCore,
    BookingRequest,
    Money,
    NewTraveler,
    Principal,
    Settings,
    StaffId,
    StaffRole,
    TravelerDetails,
)
from bookingcore.domain import WebhookDeliveryStatus, WebhookRetryPolicy, WebhookTopic
from bookingcore.errors import NotFoundError, PermissionDeniedError, ValidationError
from bookingcore.ports import OutgoingWebhook, WebhookResponse
from bookingcore.services import WebhookSettings
from bookingcore.testing import FixedClock, RecordingWebhookSender, SequentialIds
from bookingcore_adapters.memory import MemoryStore
from bookingcore_adapters.payments import ManualProvider

RETRY = WebhookRetryPolicy(max_attempts=3, first_delay=timedelta(seconds=10), factor=2, jitter=0)


def _core(sender: RecordingWebhookSender, clock: FixedClock, **kwargs: object) -> BookingCore:
    return BookingCore(
        uow_factory=MemoryStore().unit_of_work,
        clock=clock,
        ids=SequentialIds(),
        settings=Settings(default_region="IN"),
        webhook_sender=sender,
        webhook_settings=WebhookSettings(retry=RETRY, jitter_source=lambda: 0.5),
        payment_providers=[ManualProvider()],
        **kwargs,  # type: ignore[arg-type]
    )


@pytest.fixture
def sender() -> RecordingWebhookSender:
    return RecordingWebhookSender()


@pytest.fixture
def world(sender: RecordingWebhookSender, clock: FixedClock) -> WebhookWorld:
    return webhook_world(_core(sender, clock))


class TestScheduling:
    def test_a_partner_booking_schedules_one_created_webhook_and_a_direct_one_none(
        self, world: WebhookWorld
    ) -> None:
        booking = world.book()
        page = world.core.webhooks.list(principal=ADMIN)
        assert [(d.topic, d.booking_id) for d in page.items] == [
            (WebhookTopic.BOOKING_CREATED, booking.id)
        ]
        delivery = page.items[0]
        assert delivery.webhook_id == f"msg_{delivery.id.hex}"
        assert delivery.payload["type"] == "booking.created"
        assert delivery.payload["data"]["booking"]["reference"] == booking.reference
        assert "internal_notes" not in delivery.payload["data"]["booking"]

    def test_confirm_cancel_and_pay_each_schedule_their_topic(self, world: WebhookWorld) -> None:
        core = world.core
        first, second = world.book(), world.book()
        core.bookings.transition(first.id, "confirmed", principal=ADMIN)
        core.bookings.cancel(first.id, principal=ADMIN, reason="storm")
        core.payments.record_manual_payment(
            second.id, Money("1000", "INR"), principal=ADMIN, reference="R-1"
        )
        topics = {(d.booking_id, d.topic) for d in core.webhooks.list(principal=ADMIN).items}
        assert topics == {
            (first.id, WebhookTopic.BOOKING_CREATED),
            (first.id, WebhookTopic.BOOKING_CONFIRMED),
            (first.id, WebhookTopic.BOOKING_CANCELLED),
            (second.id, WebhookTopic.BOOKING_CREATED),
            (second.id, WebhookTopic.BOOKING_PAID),
            (second.id, WebhookTopic.BOOKING_CONFIRMED),
        }

    def test_a_booking_confirmed_before_its_money_came_is_booking_paid_once_fully_paid(
        self, world: WebhookWorld
    ) -> None:
        """Staff confirm first, the money comes in two parts: the payment that covers
        the total is a booking.paid (it moves nothing, the booking is confirmed
        already); the part before it is not."""
        core = world.core
        booking = world.book()
        core.bookings.transition(booking.id, "confirmed", principal=ADMIN)
        for amount, reference in (("400", "R-1"), ("600", "R-2")):
            core.payments.record_manual_payment(
                booking.id, Money(amount, "INR"), principal=ADMIN, reference=reference
            )
        paid = [
            d
            for d in core.webhooks.list(principal=ADMIN).items
            if d.topic is WebhookTopic.BOOKING_PAID
        ]
        assert len(paid) == 1
        data = paid[0].payload["data"]
        covering = [
            p
            for p in core.payments.for_booking(booking.id, principal=ADMIN)
            if p.provider_reference == "R-2"
        ]
        assert data["payment_id"] == str(covering[0].id)
        assert data["booking"]["status"] == "confirmed"
        assert paid[0].payload["type"] == "booking.paid"

    def test_a_payment_that_moves_the_booking_is_booking_paid_once_not_twice(
        self, world: WebhookWorld
    ) -> None:
        core = world.core
        booking = world.book()
        core.payments.record_manual_payment(
            booking.id, Money("1000", "INR"), principal=ADMIN, reference="R-1"
        )
        topics = [d.topic for d in core.webhooks.list(principal=ADMIN).items]
        assert topics.count(WebhookTopic.BOOKING_PAID) == 1
        with core.context.uow_factory() as uow:
            names = [m.name for m in uow.outbox.list_unpublished(100)]
        assert "booking.paid" not in names

    def test_a_status_note_goes_to_the_partner_only_for_the_moves_it_made(
        self, world: WebhookWorld
    ) -> None:
        core = world.core
        booking = world.book()
        core.bookings.transition(
            booking.id, "confirmed", principal=ADMIN, note="confirmed after a rude call"
        )
        core.bookings.cancel(booking.id, principal=world.as_partner, reason="client asked")
        data = {d.topic: d.payload["data"] for d in core.webhooks.list(principal=ADMIN).items}
        assert data[WebhookTopic.BOOKING_CONFIRMED]["to_status"] == "confirmed"
        assert "note" not in data[WebhookTopic.BOOKING_CONFIRMED]
        assert "rude" not in repr(data)
        assert data[WebhookTopic.BOOKING_CANCELLED]["note"] == "client asked"

    def test_moving_a_booking_to_another_date_schedules_a_rescheduled_webhook(
        self, world: WebhookWorld
    ) -> None:
        """A reschedule and a slot move are both booking.rescheduled, with both departures."""
        core = world.core
        booking = world.book()
        later = core.catalog.create_slot(
            location_id=world.slot.location_id,
            starts_at=world.slot.starts_at + timedelta(days=7),
            price_per_traveler=Money("1000", "INR"),
            capacity=10,
            principal=ADMIN,
        )
        core.bookings.reschedule(booking.id, later.id, principal=world.as_partner, reason="rain")
        core.catalog.move_slot(
            later.id, later.starts_at + timedelta(hours=3), principal=ADMIN, reason="tide"
        )
        moved = [
            d.payload["data"]
            for d in reversed(core.webhooks.list(principal=ADMIN).items)
            if d.topic is WebhookTopic.BOOKING_RESCHEDULED
        ]
        assert [(m["from_slot_id"], m["to_slot_id"]) for m in moved] == [
            (str(world.slot.id), str(later.id)),
            (str(later.id), str(later.id)),
        ]
        assert moved[0]["from_starts_at"] == world.slot.starts_at.isoformat().replace("+00:00", "Z")
        assert moved[1]["to_starts_at"] == (
            later.starts_at + timedelta(hours=3)
        ).isoformat().replace("+00:00", "Z")
        assert moved[0]["note"] == "rain"  # the partner's own move
        assert "note" not in moved[1]  # staff's words stay with staff

    def test_a_direct_booking_leaves_no_trace_in_the_dispatcher(self, world: WebhookWorld) -> None:
        """Only partners' events reach the handler, so direct bookings cost no delivery record."""
        core = world.core
        customer = core.customers.register("+919811111111", principal=ADMIN).customer
        booking = core.bookings.book(
            BookingRequest(
                world.slot.id,
                [NewTraveler(TravelerDetails("Ravi"), is_primary=True)],
                customer_id=customer.id,
            ),
            principal=ADMIN,
        )
        core.bookings.transition(booking.id, "confirmed", principal=ADMIN)
        assert core.webhooks.list(principal=ADMIN).items == []
        with core.context.uow_factory() as uow:
            handlers = {
                d.handler
                for m in uow.outbox.list_unpublished(100)
                for d in uow.deliveries.list_for_event(m.id)
            }
        assert "partner_webhooks" not in handlers

    def test_only_subscribed_topics_are_scheduled(
        self, sender: RecordingWebhookSender, clock: FixedClock
    ) -> None:
        world = webhook_world(_core(sender, clock), webhook_events="booking.cancelled")
        booking = world.book()
        assert world.core.webhooks.list(principal=ADMIN).items == []
        world.core.bookings.cancel(booking.id, principal=ADMIN)
        [delivery] = world.core.webhooks.list(principal=ADMIN).items
        assert delivery.topic is WebhookTopic.BOOKING_CANCELLED

    def test_an_unknown_topic_setting_is_refused(self, world: WebhookWorld) -> None:
        with pytest.raises(ValidationError) as caught:
            world.core.partners.set_settings(
                world.partner.id, {"webhook_events": "booking.exploded"}, principal=ADMIN
            )
        assert caught.value.fields == ("settings.webhook_events",)

    def test_dispatching_an_event_again_schedules_nothing_new(self, world: WebhookWorld) -> None:
        world.book()
        with world.core.context.uow_factory() as uow:
            [message] = [m for m in uow.outbox.list_unpublished(100) if m.name == "booking.created"]
        world.core.events.retry(message.id, "partner_webhooks")
        assert len(world.core.webhooks.list(principal=ADMIN).items) == 1


class TestDelivery:
    def test_a_due_webhook_is_sent_once_with_its_stable_id(
        self, world: WebhookWorld, sender: RecordingWebhookSender
    ) -> None:
        world.book()
        report = world.core.webhooks.deliver_due()
        assert (report.claimed, report.delivered) == (1, 1)
        assert world.core.webhooks.deliver_due().claimed == 0
        [sent] = sender.sent
        [delivery] = world.core.webhooks.list(principal=ADMIN).items
        assert sent.webhook_id == delivery.webhook_id
        assert sent.url == "https://partner.example.com/hooks"
        assert sent.secret == world.partner.webhook_secret
        assert delivery.status is WebhookDeliveryStatus.DELIVERED
        [attempt] = world.core.webhooks.attempts(delivery.id, principal=ADMIN)
        assert (attempt.number, attempt.succeeded, attempt.status_code) == (1, True, 200)

    def test_failures_back_off_exponentially_then_the_delivery_is_dead(
        self, world: WebhookWorld, sender: RecordingWebhookSender, clock: FixedClock
    ) -> None:
        world.book()
        sender.answer_next(500, None, 503)
        start = clock.now()
        assert world.core.webhooks.deliver_due().retrying == 1
        [delivery] = world.core.webhooks.list(principal=ADMIN).items
        assert delivery.next_attempt_at == start + timedelta(seconds=10)
        assert world.core.webhooks.deliver_due().claimed == 0  # not due yet
        clock.advance(timedelta(seconds=10))
        assert world.core.webhooks.deliver_due().retrying == 1
        delivery = world.core.webhooks.get(delivery.id, principal=ADMIN)
        assert delivery.next_attempt_at == clock.now() + timedelta(seconds=20)
        clock.advance(timedelta(seconds=20))
        assert world.core.webhooks.deliver_due().dead == 1
        delivery = world.core.webhooks.get(delivery.id, principal=ADMIN)
        assert delivery.status is WebhookDeliveryStatus.DEAD
        attempts = world.core.webhooks.attempts(delivery.id, principal=ADMIN)
        assert [(a.number, a.status_code, a.error) for a in attempts] == [
            (1, 500, "HTTP 500"),
            (2, None, "timed out"),
            (3, 503, "HTTP 503"),
        ]
        assert len({s.webhook_id for s in sender.sent}) == 1

    def test_410_gone_from_any_sender_is_dead_after_one_attempt(
        self, world: WebhookWorld, sender: RecordingWebhookSender
    ) -> None:
        world.book()
        sender.answer_next(410)
        report = world.core.webhooks.deliver_due()
        assert (report.dead, report.retrying) == (1, 0)
        [delivery] = world.core.webhooks.list(principal=ADMIN).items
        assert (delivery.status, delivery.failures) == (WebhookDeliveryStatus.DEAD, 1)
        assert len(sender.sent) == 1

    @pytest.mark.parametrize(
        ("asked", "waited"),
        [
            (timedelta(minutes=5), timedelta(minutes=5)),  # longer than the backoff: asked
            (timedelta(seconds=1), timedelta(seconds=10)),  # shorter: the backoff
            (timedelta(days=3), RETRY.max_delay),  # never past the policy's longest wait
        ],
    )
    def test_a_receiver_s_retry_after_is_waited_for(
        self,
        world: WebhookWorld,
        sender: RecordingWebhookSender,
        clock: FixedClock,
        asked: timedelta,
        waited: timedelta,
    ) -> None:
        def too_many(webhook: OutgoingWebhook) -> WebhookResponse:
            sender.sent.append(webhook)
            return WebhookResponse(429, 3, error="HTTP 429", retry_after=asked)

        sender.send = too_many  # type: ignore[method-assign]
        world.book()
        assert world.core.webhooks.deliver_due().retrying == 1
        [delivery] = world.core.webhooks.list(principal=ADMIN).items
        assert delivery.next_attempt_at == clock.now() + waited

    def test_staff_resend_a_dead_webhook_and_it_is_delivered(
        self, world: WebhookWorld, sender: RecordingWebhookSender, clock: FixedClock
    ) -> None:
        world.book()
        sender.answer_next(500, 500, 500)
        for _ in range(3):
            world.core.webhooks.deliver_due()
            clock.advance(timedelta(minutes=5))
        [delivery] = world.core.webhooks.list(principal=ADMIN, status="dead").items
        resent = world.core.webhooks.resend(delivery.id, principal=ADMIN)
        assert (resent.status, resent.failures) == (WebhookDeliveryStatus.PENDING, 0)
        assert world.core.webhooks.deliver_due().delivered == 1
        attempts = world.core.webhooks.attempts(delivery.id, principal=ADMIN)
        assert [a.number for a in attempts] == [1, 2, 3, 4]
        assert attempts[-1].succeeded

    def test_the_job_records_each_attempt_at_its_own_time_and_backs_off_from_it(
        self, clock: FixedClock
    ) -> None:
        """``webhooks.deliver_due`` sends its claims one after the other: each failure
        is logged when it happened, and its retry waits from then, not from the run's
        start (a slow partner's last claim would otherwise be retried at once)."""
        from bookingcore.services import JobAttempt  # noqa: PLC0415

        class SlowSender(RecordingWebhookSender):
            def send(self, webhook: OutgoingWebhook) -> WebhookResponse:
                clock.advance(timedelta(seconds=60))  # the partner's endpoint hangs
                return super().send(webhook)

        sender = SlowSender()
        world = webhook_world(_core(sender, clock))
        world.book()
        world.book()
        sender.answer_next(500, 500)
        start = clock.now()
        world.core.jobs.catalog.run(
            "webhooks.deliver_due", {}, JobAttempt("1", "webhooks.deliver_due")
        )
        deliveries = world.core.webhooks.list(principal=ADMIN).items
        failed_at = sorted(d.last_attempt_at for d in deliveries if d.last_attempt_at)
        assert failed_at == [start + timedelta(seconds=60), start + timedelta(seconds=120)]
        assert sorted(d.next_attempt_at for d in deliveries) == [
            at + timedelta(seconds=10) for at in failed_at
        ]
        started = sorted(
            attempt.started_at
            for d in deliveries
            for attempt in world.core.webhooks.attempts(d.id, principal=ADMIN)
        )
        assert started == [start, start + timedelta(seconds=60)]

    def test_a_worker_that_died_after_claiming_leaves_the_webhook_to_the_next_one(
        self, world: WebhookWorld, sender: RecordingWebhookSender, clock: FixedClock
    ) -> None:
        world.book()
        lease = world.core.webhooks.settings.lease
        with world.core.context.uow_factory() as uow:  # a worker claims, then dies
            [claimed] = uow.webhook_deliveries.claim_due(clock.now(), 10)
            claimed.claim(clock.now(), lease)
            uow.commit()
        assert world.core.webhooks.deliver_due().claimed == 0
        clock.advance(lease)
        assert world.core.webhooks.deliver_due().lost == 1  # a failed attempt: backoff
        clock.advance(world.core.webhooks.settings.retry.max_delay)
        assert world.core.webhooks.deliver_due().delivered == 1
        [sent] = sender.sent
        assert (sent.webhook_id, sent.attempt) == (claimed.webhook_id, 2)
        lost, attempt = world.core.webhooks.attempts(claimed.id, principal=ADMIN)
        assert (lost.number, lost.succeeded, attempt.number) == (1, False, 2)

    def test_claims_whose_lease_ran_out_during_a_slow_run_are_left_unsent(
        self, world: WebhookWorld, sender: RecordingWebhookSender, clock: FixedClock
    ) -> None:
        for _ in range(3):
            world.book()
        slow_send = sender.send

        def send_in_ninety_seconds(webhook: OutgoingWebhook) -> WebhookResponse:
            assert webhook.timestamp == clock.now()  # signed when sent, not when claimed
            clock.advance(timedelta(seconds=90))
            return slow_send(webhook)

        sender.send = send_in_ninety_seconds  # type: ignore[method-assign]
        report = world.core.webhooks.deliver_due()  # lease: 2 minutes
        assert (report.claimed, report.delivered, report.expired) == (3, 2, 1)
        report = world.core.webhooks.deliver_due()
        # Given back unsent: not a lost attempt, so no backoff and no failure.
        assert (report.claimed, report.delivered, report.lost) == (1, 1, 0)
        assert len({w.webhook_id for w in sender.sent}) == 3
        # Not counted as an attempt: the one given back goes out as its first attempt,
        # logged as number 1, and the delivery counts one attempt, not two.
        assert sorted(w.attempt for w in sender.sent) == [1, 1, 1]
        for delivery in world.core.webhooks.list(principal=ADMIN).items:
            logged = world.core.webhooks.attempts(delivery.id, principal=ADMIN)
            assert [a.number for a in logged] == [1]
            assert delivery.attempts == 1

    def test_a_kept_previous_secret_goes_with_each_webhook_until_it_expires(
        self, world: WebhookWorld, sender: RecordingWebhookSender, clock: FixedClock
    ) -> None:
        old_secret = world.partner.webhook_secret
        rotated = world.core.partners.rotate_webhook_secret(
            world.partner.id, principal=ADMIN, keep_previous_for=timedelta(minutes=10)
        )
        world.book()
        world.core.webhooks.deliver_due()
        clock.advance(minutes=10)
        world.book()
        world.core.webhooks.deliver_due()
        during, after = sender.sent
        assert (during.secret, during.previous_secret) == (rotated.webhook_secret, old_secret)
        assert (after.secret, after.previous_secret) == (rotated.webhook_secret, None)
        assert old_secret is not None
        assert old_secret not in repr(during)

    def test_a_claim_sent_after_the_grace_period_ended_is_signed_with_the_new_secret_only(
        self, world: WebhookWorld, sender: RecordingWebhookSender, clock: FixedClock
    ) -> None:
        world.core.partners.rotate_webhook_secret(
            world.partner.id, principal=ADMIN, keep_previous_for=timedelta(seconds=60)
        )
        for _ in range(2):
            world.book()
        slow_send = sender.send

        def send_in_ninety_seconds(webhook: OutgoingWebhook) -> WebhookResponse:
            clock.advance(timedelta(seconds=90))
            return slow_send(webhook)

        sender.send = send_in_ninety_seconds  # type: ignore[method-assign]
        assert world.core.webhooks.deliver_due().delivered == 2  # lease: 2 minutes
        first, second = sender.sent
        assert first.previous_secret is not None
        assert second.previous_secret is None  # claimed in the grace period, sent after it

    def test_the_default_policy_retries_for_the_span_the_docs_state(self) -> None:
        """docs/webhooks.md said the defaults retry for "about a day"; their seven
        waits (30 s to the 6 h cap) add up to about nine hours."""
        policy = WebhookRetryPolicy()
        waits = [policy.delay(n, 0.5) for n in range(1, policy.max_attempts)]
        total = sum(waits, timedelta())
        assert timedelta(hours=8, minutes=45) < total < timedelta(hours=9, minutes=15)
        docs = Path(__file__).resolve().parents[2] / "docs" / "webhooks.md"
        assert "8 attempts, 30 s, factor 3, capped at 6 hours, ±20 %: about nine hours" in (
            " ".join(docs.read_text(encoding="utf-8").split())
        )

    def test_jitter_spreads_the_delay_within_its_bounds(self) -> None:
        policy = WebhookRetryPolicy(first_delay=timedelta(seconds=100), factor=2, jitter=0.2)
        assert policy.delay(1, 0.0) == timedelta(seconds=80)
        assert policy.delay(1, 0.5) == timedelta(seconds=100)
        assert policy.delay(2, 1.0) == timedelta(seconds=240)
        assert policy.delay(50, 1.0) == policy.max_delay

    @pytest.mark.parametrize(
        ("fields", "field"),
        [
            ({"factor": float("nan")}, "factor"),  # every retry delay failed to compute
            ({"factor": float("inf")}, "factor"),
            ({"factor": "3"}, "factor"),
            ({"max_attempts": 2.5}, "max_attempts"),
            ({"max_attempts": True}, "max_attempts"),
            ({"first_delay": 30}, "first_delay"),  # a bare TypeError
            ({"max_delay": 3600}, "max_delay"),
            ({"jitter": float("nan")}, "jitter"),
            ({"jitter": True}, "jitter"),
        ],
    )
    def test_a_retry_policy_that_cannot_compute_a_delay_is_refused(
        self, fields: dict[str, object], field: str
    ) -> None:
        with pytest.raises(ValidationError) as caught:
            WebhookRetryPolicy(**fields)  # type: ignore[arg-type]
        assert caught.value.fields == (field,)

    @pytest.mark.parametrize(
        ("fields", "field"),
        [
            ({"lease": 120}, "lease"),  # accepted, then every run failed with a TypeError
            ({"lease": timedelta(0)}, "lease"),
            ({"batch": timedelta(minutes=1)}, "batch"),
            ({"batch": 0}, "batch"),
            ({"batch": True}, "batch"),
        ],
    )
    def test_webhook_settings_of_the_wrong_kind_are_refused(
        self, fields: dict[str, object], field: str
    ) -> None:
        with pytest.raises(ValidationError) as caught:
            WebhookSettings(**fields)  # type: ignore[arg-type]
        assert caught.value.fields == (field,)

    def test_a_partner_without_a_sender_configured_cannot_deliver(self, clock: FixedClock) -> None:
        core = BookingCore(uow_factory=MemoryStore().unit_of_work, clock=clock)
        with pytest.raises(ValidationError) as caught:
            core.webhooks.deliver_due()
        assert caught.value.fields == ("webhook_sender",)

    def test_an_inactive_partner_s_webhook_dies_without_a_request(
        self, world: WebhookWorld, sender: RecordingWebhookSender
    ) -> None:
        world.book()
        world.core.partners.set_active(world.partner.id, False, principal=ADMIN)
        assert world.core.webhooks.deliver_due().dead == 1
        assert sender.sent == []

    def test_a_topic_the_partner_unsubscribed_from_since_dies_without_a_request(
        self, world: WebhookWorld, sender: RecordingWebhookSender, clock: FixedClock
    ) -> None:
        """A failing webhook scheduled while the partner wanted the topic is not retried
        for a day after it said it wants no more of it."""
        world.book()
        sender.answer_next(503)
        assert world.core.webhooks.deliver_due().retrying == 1
        world.core.partners.set_settings(
            world.partner.id, {"webhook_events": "booking.cancelled"}, principal=ADMIN
        )
        clock.advance(timedelta(minutes=5))
        assert world.core.webhooks.deliver_due().dead == 1
        assert len(sender.sent) == 1
        [delivery] = world.core.webhooks.list(principal=ADMIN).items
        [_, attempt] = world.core.webhooks.attempts(delivery.id, principal=ADMIN)
        assert "booking.created" in (attempt.error or "")
        world.core.partners.set_settings(world.partner.id, {}, principal=ADMIN)
        world.core.webhooks.resend(delivery.id, principal=ADMIN)  # subscribed again
        assert world.core.webhooks.deliver_due().delivered == 1


class TestAccess:
    def test_a_partner_lists_only_its_own_deliveries_and_may_not_resend(
        self, world: WebhookWorld
    ) -> None:
        world.book()
        [mine] = world.core.webhooks.list(principal=world.as_partner).items
        other = Principal.partner(uuid4())  # type: ignore[arg-type]
        assert world.core.webhooks.list(principal=other).items == []
        with pytest.raises(NotFoundError):
            world.core.webhooks.get(mine.id, principal=other)
        with pytest.raises(PermissionDeniedError):
            world.core.webhooks.resend(mine.id, principal=world.as_partner)

    def test_staff_without_partner_or_booking_rights_see_nothing(self, world: WebhookWorld) -> None:
        advisor = Principal.staff(StaffId(uuid4()), StaffRole.ADVISOR)
        with pytest.raises(PermissionDeniedError):
            world.core.webhooks.list(principal=advisor)
        with pytest.raises(PermissionDeniedError):
            world.core.webhooks.resend(uuid4(), principal=advisor)

    def test_a_pending_delivery_cannot_be_resent(self, world: WebhookWorld) -> None:
        world.book()
        [delivery] = world.core.webhooks.list(principal=ADMIN).items
        with pytest.raises(ValidationError):
            world.core.webhooks.resend(delivery.id, principal=ADMIN)
