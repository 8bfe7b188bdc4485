"""The automatic booking messages (seeds 001 and 004) on every backend.

A booking gets one confirmation when it is confirmed (or created confirmed),
one cancellation when it is cancelled, and its advisor one notice when it is
assigned to them: each once per event, retried when the notifier refuses, and
never again when the event is delivered again.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any
from uuid import uuid4

import pytest
from tests.integration._sources import ListSource
from tests.integration._worlds import ADMIN, INSTANT, camp_slot

from bookingcore import (
    Automations,
    BookingChanges,
    BookingCore,
    BookingId,
    BookingRequest,
    ImportSettings,
    Money,
    NewTraveler,
    NotFoundError,
    Principal,
    Settings,
    StaffId,
    TravelerDetails,
    ValidationError,
)
from bookingcore.domain import (
    BookingCreated,
    BookingStatusChanged,
    BookingUpdated,
    Channel,
    Communication,
    CommunicationType,
    DeliveryStatus,
    DomainEvent,
    FamilyChanged,
    MessageTemplate,
)
from bookingcore.domain.families import invitation_message_key
from bookingcore.domain.lifecycle import PRESETS
from bookingcore.domain.values import Actor
from bookingcore.services import QuotationRequest
from bookingcore.testing import FixedClock, RecordingNotifier, SequentialIds
from bookingcore_adapters.memory import MemoryStore
from bookingcore_adapters.sql import SqlStore

CONFIRMATION = CommunicationType.CONFIRMATION
CANCELLATION = CommunicationType.CANCELLATION
ASSIGNMENT = CommunicationType.ASSIGNMENT
FAMILY_INVITATION = CommunicationType.FAMILY_INVITATION


class World:
    def __init__(
        self,
        store: MemoryStore | SqlStore,
        *,
        lifecycle: str = "reservation",
        templates: dict[tuple[CommunicationType, Channel], MessageTemplate] | None = None,
        **options: Any,
    ) -> None:
        self.store = store
        self.clock = FixedClock()
        self.notifier = RecordingNotifier()
        self.core = BookingCore(
            uow_factory=store.unit_of_work,
            clock=self.clock,
            ids=SequentialIds(),
            settings=Settings(
                default_region="IN",
                lifecycles={**PRESETS, "instant": INSTANT},
                default_lifecycle=lifecycle,
                templates=templates or {},
            ),
            notifier=self.notifier,
            **options,
        )
        self.events: list[DomainEvent] = []
        for kind in (BookingCreated, BookingStatusChanged, BookingUpdated, FamilyChanged):
            self.core.events.subscribe(
                kind, lambda e, _: self.events.append(e), name=f"test.{kind.name}"
            )
        self.slot = camp_slot(self.core, self.clock)
        self.customer = self.core.customers.register("+919876543210", principal=ADMIN).customer

    def book(self, lifecycle: str = "instant") -> Any:
        return self.core.bookings.book(
            BookingRequest(
                self.slot.id,
                [NewTraveler(TravelerDetails("Asha"), is_primary=True)],
                customer_id=self.customer.id,
                lifecycle=lifecycle,
            ),
            principal=ADMIN,
        )

    def logged(self, booking: Any) -> list[Communication]:
        return list(self.core.communications.for_booking(booking.id, principal=ADMIN))

    def types(self, booking: Any) -> list[CommunicationType]:
        return [c.type for c in self.logged(booking)]

    def event(self, kind: type[DomainEvent]) -> Any:
        return next(e for e in reversed(self.events) if isinstance(e, kind))

    def delivery(self, event: DomainEvent, handler: str) -> DeliveryStatus:
        with self.store.unit_of_work() as uow:
            found = uow.deliveries.get(event.id, handler)
        assert found is not None
        return found.status

    def redeliver(self, event: DomainEvent, handler: str) -> None:
        """Everything a redelivery can do: the catch-up, an operator's replay, later."""
        self.core.events.run_pending()
        self.core.events.retry(event.id, handler)
        self.clock.advance(days=1)
        self.core.events.run_pending()


@pytest.fixture
def world(any_store: MemoryStore | SqlStore) -> World:
    return World(any_store)


class TestConfirmation:
    def test_a_booking_created_confirmed_gets_exactly_one_confirmation(self, world: World) -> None:
        booking = world.book()
        (message,) = world.notifier.sent
        (logged,) = world.logged(booking)
        assert logged.type is CONFIRMATION
        assert logged.template_used == "confirmation.sms"
        assert message.communication_id == logged.id
        assert booking.reference in message.body
        created = world.event(BookingCreated)
        # the booking's first confirmation, whoever sends it (its group's too)
        assert logged.dedupe_key == f"confirmation:{booking.id}:1"
        world.redeliver(created, "messages.on_create")
        assert len(world.notifier.sent) == 1
        assert world.types(booking) == [CONFIRMATION]

    def test_a_pending_booking_is_confirmed_once_when_it_is_confirmed(self, world: World) -> None:
        booking = world.book("reservation")
        assert world.notifier.attempts == 0
        world.core.bookings.transition(booking.id, "confirmed", principal=ADMIN)
        assert world.types(booking) == [CONFIRMATION]
        world.redeliver(world.event(BookingStatusChanged), "messages.on_status")
        assert len(world.notifier.sent) == 1

    def test_a_refused_confirmation_is_retried_and_sent_once(self, world: World) -> None:
        world.notifier.fail_next(1)
        booking = world.book()
        (failed,) = world.logged(booking)
        assert failed.status.value == "failed"
        world.clock.advance(seconds=10)
        world.core.events.run_pending()
        (sent,) = world.logged(booking)
        assert (sent.id, sent.status.value) == (failed.id, "sent")
        assert (world.notifier.attempts, len(world.notifier.sent)) == (2, 1)
        world.redeliver(world.event(BookingCreated), "messages.on_create")
        assert len(world.notifier.sent) == 1


class TestMessagesThatCannotBeSent:
    """A message no retry can send is logged failed, with the reason, and its event is
    handled: the dispatcher neither retries it nor gives up on it."""

    LONG_SMS = MessageTemplate("confirmation.sms", "Booking $reference. " + "x" * 1600)

    def test_a_confirmation_too_long_for_sms_is_logged_failed_not_retried(
        self, any_store: MemoryStore | SqlStore
    ) -> None:
        world = World(any_store, templates={(CONFIRMATION, Channel.SMS): self.LONG_SMS})
        booking = world.book()
        (failed,) = world.logged(booking)
        assert (failed.type, failed.status.value, failed.retryable) == (
            CONFIRMATION,
            "failed",
            False,
        )
        assert failed.failed_reason is not None
        assert "an SMS carries at most 1600 characters" in failed.failed_reason
        created = world.event(BookingCreated)
        assert world.delivery(created, "messages.on_create") is DeliveryStatus.DONE
        world.redeliver(created, "messages.on_create")
        assert world.notifier.attempts == 0
        assert [c.id for c in world.logged(booking)] == [failed.id]

    def test_a_cancellation_to_an_erased_customer_is_logged_failed_and_sent_nowhere(
        self, world: World
    ) -> None:
        booking = world.book()
        world.core.privacy.erase_customer(world.customer.id, principal=ADMIN)
        world.core.bookings.cancel(booking.id, principal=ADMIN)
        cancelled = world.event(BookingStatusChanged)
        assert world.delivery(cancelled, "messages.on_status") is DeliveryStatus.DONE
        (failed,) = [c for c in world.logged(booking) if c.type is CANCELLATION]
        assert (failed.status.value, failed.retryable) == ("failed", False)
        assert failed.failed_reason is not None
        assert "erased" in failed.failed_reason
        world.redeliver(cancelled, "messages.on_status")
        assert world.notifier.attempts == 1  # the confirmation, before the erasure

    def test_a_family_invitation_too_long_for_sms_is_logged_failed_not_retried(
        self, any_store: MemoryStore | SqlStore
    ) -> None:
        long = MessageTemplate("family_invitation.sms", "$inviter_name: " + "x" * 1600)
        world = World(any_store, templates={(FAMILY_INVITATION, Channel.SMS): long})
        invited = world.core.customers.register("+919876500009", principal=ADMIN).customer
        invitation = world.core.families.invite(
            world.customer.id, invited.phone.e164, relation="son", principal=ADMIN
        )
        invited_event = world.event(FamilyChanged)
        assert world.delivery(invited_event, "messages.family_invitation") is DeliveryStatus.DONE
        with world.store.unit_of_work() as uow:
            failed = uow.communications.get_by_dedupe_key(invitation_message_key(invitation.id))
        assert failed is not None
        assert (failed.status.value, failed.retryable) == ("failed", False)
        assert "an SMS carries at most 1600 characters" in (failed.failed_reason or "")
        world.redeliver(invited_event, "messages.family_invitation")
        assert world.notifier.attempts == 0

    def test_a_status_may_not_send_a_message_about_something_else(
        self, any_store: MemoryStore | SqlStore
    ) -> None:
        # a family invitation's text names an inviter: a booking has none to fill in
        with pytest.raises(ValidationError) as refused:
            World(any_store, automations=Automations(messages={"confirmed": FAMILY_INVITATION}))
        assert [(e.field, e.code) for e in refused.value.errors] == [
            ("messages.confirmed", "invalid_choice")
        ]
        with any_store.unit_of_work() as uow:
            assert list(uow.outbox.list_unpublished(10)) == []

    def test_a_notifier_that_is_down_is_still_retried(self, world: World) -> None:
        world.notifier.fail_next(1, "gateway unavailable", retryable=True)
        booking = world.book()
        created = world.event(BookingCreated)
        assert world.delivery(created, "messages.on_create") is DeliveryStatus.RETRYING
        world.clock.advance(minutes=5)
        world.core.events.run_pending()
        assert world.delivery(created, "messages.on_create") is DeliveryStatus.DONE
        (sent,) = world.logged(booking)
        assert sent.status.value == "sent"


class TestVanishedSubjects:
    """An event whose booking or staff member no longer exists can never be messaged
    about: its handler is done with it (a warning names the event and the missing id),
    not retried until the dispatcher gives up."""

    @staticmethod
    def written(world: World, event: DomainEvent) -> None:
        with world.store.unit_of_work() as uow:
            uow.outbox.add(event)
            uow.commit()
        world.core.events.run_pending()

    def test_a_status_message_about_a_booking_that_no_longer_exists_is_handled(
        self, any_store: MemoryStore | SqlStore, caplog: pytest.LogCaptureFixture
    ) -> None:
        world = World(any_store, automations=Automations(push_messages=True))
        gone = BookingId(uuid4())
        cancelled = BookingStatusChanged(
            id=uuid4(),
            occurred_at=world.clock.now(),
            booking_id=gone,
            lifecycle="reservation",
            from_status="confirmed",
            to_status="cancelled",
            actor=Actor.system("test"),
        )
        with caplog.at_level(logging.WARNING, logger="bookingcore.automations"):
            self.written(world, cancelled)
        for handler in ("messages.on_status", "messages.push_on_status"):
            assert world.delivery(cancelled, handler) is DeliveryStatus.DONE
        warned = [r.getMessage() for r in caplog.records if r.name == "bookingcore.automations"]
        assert len(warned) == 2
        assert all(str(cancelled.id) in w and str(gone) in w for w in warned)
        assert world.notifier.attempts == 0

    def test_a_notice_to_a_staff_member_who_no_longer_exists_is_handled(
        self, world: World, caplog: pytest.LogCaptureFixture
    ) -> None:
        booking = world.book()
        gone = StaffId(uuid4())
        assigned = BookingUpdated(
            id=uuid4(),
            occurred_at=world.clock.now(),
            booking_id=booking.id,
            fields=("assignee_id",),
            actor=ADMIN.actor,
            assignee_id=gone,
        )
        with caplog.at_level(logging.WARNING, logger="bookingcore.automations"):
            self.written(world, assigned)
        assert world.delivery(assigned, "messages.to_assignee") is DeliveryStatus.DONE
        (warned,) = [r.getMessage() for r in caplog.records if r.name == "bookingcore.automations"]
        assert str(assigned.id) in warned
        assert str(gone) in warned
        assert world.types(booking) == [CONFIRMATION]


class TestCancellation:
    def test_a_cancel_sends_exactly_one_cancellation(self, world: World) -> None:
        booking = world.book()
        world.core.bookings.cancel(booking.id, principal=ADMIN, reason="changed plans")
        assert world.types(booking) == [CONFIRMATION, CANCELLATION]
        assert "cancelled" in world.notifier.sent[-1].body
        world.redeliver(world.event(BookingStatusChanged), "messages.on_status")
        assert len(world.notifier.sent) == 2
        assert world.types(booking) == [CONFIRMATION, CANCELLATION]

    def test_a_called_off_slot_sends_its_own_cancellation_and_no_second_one(
        self, world: World
    ) -> None:
        booking = world.book()
        world.core.catalog.cancel_slot(world.slot.id, principal=ADMIN, reason="storm")
        assert world.types(booking) == [CONFIRMATION, CANCELLATION]
        (cancellation,) = [c for c in world.logged(booking) if c.type is CANCELLATION]
        assert cancellation.dedupe_key == f"slot_cancelled:{world.slot.id}:{booking.id}"

    def test_a_retry_of_a_called_off_slot_does_not_resend_a_message_that_failed_for_good(
        self, world: World
    ) -> None:
        world.book()
        other = world.core.customers.register("+919876500003", principal=ADMIN).customer
        world.core.bookings.book(
            BookingRequest(
                world.slot.id,
                [NewTraveler(TravelerDetails("Ravi"), is_primary=True)],
                customer_id=other.id,
                lifecycle="instant",
            ),
            principal=ADMIN,
        )
        # the first cancellation: the gateway is down; the second: it answered without
        # an id, so it may have taken the message (final, never sent again)
        world.notifier.fail_next(1, "gateway unavailable", retryable=True)
        world.notifier.fail_next(1, "accepted without a message id", retryable=False)
        world.core.catalog.cancel_slot(world.slot.id, principal=ADMIN, reason="storm")
        assert world.notifier.attempts == 4
        world.clock.advance(minutes=5)
        world.core.events.run_pending()
        recipients = [m.communication_id for m in world.notifier.sent]
        assert len(recipients) == len(set(recipients)) == 3  # 2 confirmations, 1 retried
        assert world.notifier.attempts == 5
        world.clock.advance(days=1)
        world.core.events.run_pending()
        assert world.notifier.attempts == 5

    def test_a_called_off_slot_messages_an_erased_customer_nowhere(self, world: World) -> None:
        booking = world.book()
        world.core.privacy.erase_customer(world.customer.id, principal=ADMIN)
        world.core.catalog.cancel_slot(world.slot.id, principal=ADMIN, reason="storm")
        (failed,) = [c for c in world.logged(booking) if c.type is CANCELLATION]
        assert (failed.status.value, failed.retryable) == ("failed", False)
        assert "erased" in (failed.failed_reason or "")
        world.clock.advance(days=1)
        world.core.events.run_pending()
        assert world.notifier.attempts == 1  # the confirmation, before the erasure


class TestTurnedOff:
    def test_a_business_that_turns_messages_off_gets_none(
        self, any_store: MemoryStore | SqlStore
    ) -> None:
        quiet = World(
            any_store,
            automations=Automations(messages={}, message_on_create=False, notify_assignee=False),
        )
        booking = quiet.book()
        quiet.core.bookings.cancel(booking.id, principal=ADMIN)
        assert quiet.notifier.attempts == 0
        assert quiet.logged(booking) == []

    def test_no_message_on_creation_still_sends_the_cancellation(
        self, any_store: MemoryStore | SqlStore
    ) -> None:
        world = World(any_store, automations=Automations(message_on_create=False))
        booking = world.book()
        assert world.notifier.attempts == 0
        world.core.bookings.cancel(booking.id, principal=ADMIN)
        assert world.types(booking) == [CANCELLATION]


class TestAssignment:
    def test_the_assigned_advisor_gets_one_notice_by_email(self, world: World) -> None:
        ana = world.core.staff.add("ana@example.com", "Ana Advisor", principal=ADMIN)
        booking = world.book()
        world.core.bookings.assign(booking.id, principal=ADMIN, advisor_id=ana.id)
        notice = world.notifier.sent[-1]
        assert (notice.recipient, notice.channel.value) == ("ana@example.com", "email")
        assert notice.subject == f"Booking {booking.reference} is assigned to you"
        assert "Base camp" in notice.body
        assigned = world.event(BookingUpdated)
        assert assigned.assignee_id == ana.id
        world.redeliver(assigned, "messages.to_assignee")
        assert [m.recipient for m in world.notifier.sent].count("ana@example.com") == 1

    def test_the_notice_is_logged_as_every_message_is_and_read_by_staff_only(
        self, world: World
    ) -> None:
        ana = world.core.staff.add("ana@example.com", "Ana Advisor", principal=ADMIN)
        booking = world.book()
        world.core.bookings.assign(booking.id, principal=ADMIN, advisor_id=ana.id)
        notice = world.notifier.sent[-1]
        assert world.types(booking) == [CONFIRMATION, ASSIGNMENT]
        logged = world.logged(booking)[-1]
        assert (logged.channel.value, logged.recipient, logged.status.value) == (
            "email",
            "ana@example.com",
            "sent",
        )
        assert (logged.id, logged.subject, logged.content) == (
            notice.communication_id,
            notice.subject,
            notice.body,
        )
        assert logged.template_used == "assignment.email"
        # a notice to staff is not the customer's to read
        customer = Principal.customer(world.customer.id)
        assert ASSIGNMENT not in [
            c.type for c in world.core.communications.for_booking(booking.id, principal=customer)
        ]
        with pytest.raises(NotFoundError):
            world.core.communications.get(logged.id, principal=customer)
        exported = {
            who: [
                m["type"]
                for m in world.core.privacy.export_customer(world.customer.id, principal=who)[
                    "communications"
                ]
            ]
            for who in (ADMIN, customer)
        }
        assert exported == {ADMIN: ["confirmation", "assignment"], customer: ["confirmation"]}
        world.redeliver(world.event(BookingUpdated), "messages.to_assignee")
        assert world.types(booking) == [CONFIRMATION, ASSIGNMENT]

    def test_a_notice_refused_for_good_stays_logged_failed_and_is_not_retried(
        self, world: World
    ) -> None:
        ana = world.core.staff.add("ana@example.com", "Ana Advisor", principal=ADMIN)
        booking = world.book()
        world.notifier.fail_next(1, "550 no such mailbox", retryable=False)
        world.core.bookings.assign(booking.id, principal=ADMIN, advisor_id=ana.id)
        world.redeliver(world.event(BookingUpdated), "messages.to_assignee")
        failed = world.logged(booking)[-1]
        assert (failed.type, failed.status.value) == (ASSIGNMENT, "failed")
        assert failed.failed_reason == "550 no such mailbox"
        assert "ana@example.com" not in [m.recipient for m in world.notifier.sent]

    def test_a_refused_notice_is_retried_and_sent_once(self, world: World) -> None:
        ana = world.core.staff.add("ana@example.com", "Ana Advisor", principal=ADMIN)
        booking = world.book()
        world.notifier.fail_next(1)
        world.core.bookings.assign(booking.id, principal=ADMIN, advisor_id=ana.id)
        assert world.notifier.sent[-1].recipient != "ana@example.com"
        world.clock.advance(seconds=10)
        world.core.events.run_pending()
        (notice,) = [m for m in world.notifier.sent if m.recipient == "ana@example.com"]
        world.redeliver(world.event(BookingUpdated), "messages.to_assignee")
        again = [m for m in world.notifier.sent if m.recipient == "ana@example.com"]
        assert again == [notice]
        # the retry sent the logged notice again: one record, sent on its second attempt
        (logged,) = [c for c in world.logged(booking) if c.type is ASSIGNMENT]
        assert (logged.id, logged.status.value, logged.attempts) == (
            notice.communication_id,
            "sent",
            2,
        )

    def test_reassigning_tells_the_new_advisor_and_unassigning_tells_nobody(
        self, world: World
    ) -> None:
        ana = world.core.staff.add("ana@example.com", "Ana Advisor", principal=ADMIN)
        ben = world.core.staff.add("ben@example.com", "Ben Advisor", principal=ADMIN)
        booking = world.book()
        world.core.bookings.assign(booking.id, principal=ADMIN, advisor_id=ana.id)
        world.core.bookings.assign(booking.id, principal=ADMIN, advisor_id=ana.id)  # no change
        world.core.bookings.assign(booking.id, principal=ADMIN, advisor_id=ben.id)
        before = len(world.notifier.sent)
        world.core.bookings.update(booking.id, BookingChanges(assignee_id=None), principal=ADMIN)
        recipients = [m.recipient for m in world.notifier.sent]
        assert recipients[1:] == ["ana@example.com", "ben@example.com"]
        assert len(world.notifier.sent) == before

    def test_an_import_that_assigns_tells_the_advisor_once_and_only_when_told_to_emit(
        self, world: World
    ) -> None:
        world.core.staff.add("ana@example.com", "Ana Advisor", principal=ADMIN)
        header = ("Customer Name", "Mobile", "Dealer Code", "Booking Date", "Advisor Email")
        rows = [("Kiran Patel", "+919820011111", "CAMP", "2026-03-05T10:30", "ana@example.com")]
        world.core.imports.run_file(ListSource(header, rows), principal=ADMIN)
        assert world.notifier.attempts == 0  # an import records history, sends nothing
        more = [("Zoya Khan", "+919820022222", "CAMP", "2026-03-06T10:30", "ana@example.com")]
        job = world.core.imports.run_file(
            ListSource(header, more), principal=ADMIN, settings=ImportSettings(emit_events=True)
        )
        assert job.created == 1
        # an appointment starts PENDING: no confirmation yet, one notice to the advisor
        (notice,) = world.notifier.sent
        assert notice.recipient == "ana@example.com"
        assert "Zoya Khan" in notice.body
        created = world.event(BookingCreated)
        assert created.assignee_id is not None
        world.redeliver(created, "messages.to_assignee_on_create")
        assert len(world.notifier.sent) == 1


class TestOneConfirmationOnEveryPath:
    """Each path that makes or moves a booking confirms it once (no second message
    from another handler, a second event, or a retry)."""

    def confirmations(self, world: World, booking: Any) -> list[Communication]:
        return [c for c in world.logged(booking) if c.type is CONFIRMATION]

    def test_an_accepted_waiting_list_offer_is_confirmed_once(
        self, any_store: MemoryStore | SqlStore
    ) -> None:
        world = World(any_store, lifecycle="instant")
        small = world.core.catalog.create_slot(
            location_id=world.slot.location_id,
            starts_at=world.clock.now() + timedelta(days=20),
            price_per_traveler=Money("8500", "INR"),
            capacity=1,
            principal=ADMIN,
        )
        first = world.core.bookings.book(
            BookingRequest(
                small.id,
                [NewTraveler(TravelerDetails("Asha"), is_primary=True)],
                customer_id=world.customer.id,
            ),
            principal=ADMIN,
        )
        waiting = world.core.customers.register("+919876500002", principal=ADMIN).customer
        entry = world.core.waitlists.join(small.id, principal=ADMIN, customer_id=waiting.id)
        world.core.bookings.cancel(first.id, principal=ADMIN)
        before = len(world.notifier.sent)  # confirmation, cancellation, the offer
        accepted = world.core.waitlists.accept(
            entry.id, [NewTraveler(TravelerDetails("Ravi"), is_primary=True)], principal=ADMIN
        )
        assert accepted.status == "confirmed"
        (confirmation,) = self.confirmations(world, accepted)
        assert confirmation.dedupe_key == f"confirmation:{accepted.id}:1"
        world.redeliver(world.event(BookingCreated), "messages.on_create")
        assert len(world.notifier.sent) == before + 1

    def test_an_approved_quotation_is_confirmed_once_when_it_is_paid(
        self, any_store: MemoryStore | SqlStore
    ) -> None:
        world = World(any_store)
        quotation = world.core.quotations.create(
            QuotationRequest(
                customer_id=world.customer.id,
                slot_id=world.slot.id,
                travelers=1,
                valid_until=world.clock.now().date() + timedelta(days=5),
            ),
            principal=ADMIN,
        )
        world.core.quotations.send(quotation.id, principal=ADMIN)
        booking = world.core.quotations.approve(
            quotation.id, [NewTraveler(TravelerDetails("Asha"), is_primary=True)], principal=ADMIN
        )
        assert self.confirmations(world, booking) == []  # travel confirms when paid
        world.core.payments.record_manual_payment(
            booking.id, booking.total, principal=ADMIN, reference="cash-1"
        )
        assert world.core.bookings.get(booking.id, principal=ADMIN).status == "payment_confirmed"
        (confirmation,) = self.confirmations(world, booking)
        assert confirmation.dedupe_key == f"confirmation:{booking.id}:1"
        world.redeliver(world.event(BookingStatusChanged), "messages.on_status")
        assert len(self.confirmations(world, booking)) == 1
        texts = [m for m in world.notifier.sent if m.communication_id == confirmation.id]
        assert len(texts) == 1

    def test_an_import_of_confirmed_bookings_confirms_each_once(self, world: World) -> None:
        header = ("Customer Name", "Mobile", "Dealer Code", "Booking Date", "Status", "External Id")
        rows = [
            ("Kiran Patel", "+919820011111", "CAMP", "2026-03-05T10:30", "ASSIGNED", "X-1"),
            ("Zoya Khan", "+919820022222", "CAMP", "2026-03-06T10:30", "ASSIGNED", "X-2"),
        ]
        loud = ImportSettings(emit_events=True)
        run = world.core.imports.run_file
        job = run(ListSource(header, rows), principal=ADMIN, settings=loud)
        assert job.created == 2
        assert len(world.notifier.sent) == 2
        again = run(ListSource(header, rows), principal=ADMIN, settings=loud)
        assert (again.created, again.updated) == (0, 0)
        world.core.events.run_pending()
        assert len(world.notifier.sent) == 2
        assert [m.recipient for m in world.notifier.sent] == ["+919820011111", "+919820022222"]

    def test_a_moved_departure_sends_its_notice_and_no_second_confirmation(
        self, world: World
    ) -> None:
        booking = world.book("reservation")
        world.core.bookings.transition(booking.id, "confirmed", principal=ADMIN)
        world.core.catalog.move_slot(
            world.slot.id,
            world.slot.starts_at + timedelta(hours=3),
            principal=ADMIN,
            reason="a later bus",
        )
        world.core.events.run_pending()
        assert world.types(booking) == [CONFIRMATION, CommunicationType.SCHEDULE_CHANGE]
