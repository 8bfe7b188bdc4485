"""An idempotency key answers one request: reused for another kind of call, it is a conflict.

A caller's key is recognised across every operation that takes one (booking,
moving or cancelling a booking, messaging, payment intents, leads,
quotations), not only within the operation that first stored it: the same key
sent again for a different operation is ``IdempotencyConflictError`` and
writes nothing, on every backend. Retries of the first request still replay,
and another principal's identical key is still a fresh request.
"""

from __future__ import annotations

from datetime import timedelta
from uuid import uuid4

import pytest
from sqlalchemy import event
from tests._threads import at_once

from bookingcore import (
    BookingCore,
    BookingRequest,
    IdempotencyConflictError,
    Money,
    NewTraveler,
    Principal,
    StaffId,
    StaffRole,
    TravelerDetails,
)
from bookingcore.domain import Booking
from bookingcore.domain.values import SlotId
from bookingcore.services.leads import LeadRequest
from bookingcore.services.quotations import QuotationRequest
from bookingcore.testing import FakePaymentProvider, FixedClock, RecordingNotifier, SequentialIds
from bookingcore_adapters.memory import MemoryStore
from bookingcore_adapters.sql import SqlStore

ADMIN = Principal.staff(StaffId(uuid4()), StaffRole.ADMIN)


class World:
    def __init__(self, store: MemoryStore | SqlStore) -> None:
        self.clock = FixedClock()
        self.notifier = RecordingNotifier()
        self.provider = FakePaymentProvider("fake", secret="s")
        self.core = BookingCore(
            uow_factory=store.unit_of_work,
            clock=self.clock,
            ids=SequentialIds(),
            notifier=self.notifier,
            payment_providers=[self.provider],
        )
        camp = self.core.catalog.add_location("CAMP", "Base camp", principal=ADMIN)
        self.slot = self.core.catalog.create_slot(
            location_id=camp.id,
            starts_at=self.clock.now() + timedelta(days=30),
            price_per_traveler=Money("8500", "INR"),
            capacity=10,
            principal=ADMIN,
        )
        customer = self.core.customers.register("+919876543210", principal=ADMIN).customer
        self.customer_id = customer.id
        self.me = Principal.customer(customer.id)

    def request(self, name: str = "Asha") -> BookingRequest:
        return BookingRequest(self.slot.id, [NewTraveler(TravelerDetails(name), is_primary=True)])

    def book(self, principal: Principal, key: str | None = None) -> Booking:
        return self.core.bookings.book(self.request(), principal=principal, idempotency_key=key)

    def seats_held(self) -> int:
        return self.core.catalog.get_slot(self.slot.id, principal=ADMIN).seats_held


@pytest.fixture
def world(any_store: MemoryStore | SqlStore) -> World:
    return World(any_store)


def test_a_booking_key_reused_to_cancel_is_a_conflict_and_cancels_nothing(world: World) -> None:
    booking = world.book(world.me, "k-1")
    with pytest.raises(IdempotencyConflictError):
        world.core.bookings.cancel(booking.id, principal=world.me, idempotency_key="k-1")
    assert world.core.bookings.get(booking.id, principal=ADMIN).status == "pending"
    assert world.seats_held() == 1
    assert world.book(world.me, "k-1").id == booking.id  # the first request still replays


def test_a_cancel_key_reused_to_book_is_a_conflict_and_books_nothing(world: World) -> None:
    booking = world.book(world.me)
    world.core.bookings.cancel(booking.id, principal=world.me, idempotency_key="k-2")
    with pytest.raises(IdempotencyConflictError):
        world.book(world.me, "k-2")
    assert world.seats_held() == 0
    again = world.core.bookings.cancel(booking.id, principal=world.me, idempotency_key="k-2")
    assert again.status == "cancelled"


def test_a_booking_key_reused_for_a_payment_intent_is_a_conflict(world: World) -> None:
    booking = world.book(world.me, "k-3")
    with pytest.raises(IdempotencyConflictError):
        world.core.payments.create_intent(
            booking.id, "fake", principal=world.me, idempotency_key="k-3"
        )
    assert world.provider.calls == []  # the provider was never asked
    assert world.core.payments.for_booking(booking.id, principal=ADMIN) == []


def test_a_payment_intent_key_reused_to_book_is_a_conflict(world: World) -> None:
    booking = world.book(world.me)
    world.core.payments.create_intent(booking.id, "fake", principal=world.me, idempotency_key="k-4")
    with pytest.raises(IdempotencyConflictError):
        world.core.bookings.book(world.request("Ravi"), principal=world.me, idempotency_key="k-4")
    assert world.seats_held() == 1


def test_a_message_key_reused_to_move_a_booking_is_a_conflict(world: World) -> None:
    booking = world.book(world.me)
    world.core.communications.send(booking.id, "reminder", principal=ADMIN, idempotency_key="k-5")
    with pytest.raises(IdempotencyConflictError):
        world.core.bookings.transition(
            booking.id, "confirmed", principal=ADMIN, idempotency_key="k-5"
        )
    assert world.core.bookings.get(booking.id, principal=ADMIN).status == "pending"


def test_a_transition_key_reused_to_send_a_message_is_a_conflict(world: World) -> None:
    booking = world.book(world.me)
    world.core.bookings.transition(booking.id, "confirmed", principal=ADMIN, idempotency_key="k-6")
    automatic = len(world.notifier.sent)  # the automations' confirmation
    with pytest.raises(IdempotencyConflictError):
        world.core.communications.send(
            booking.id, "reminder", principal=ADMIN, idempotency_key="k-6"
        )
    assert len(world.notifier.sent) == automatic


def test_a_lead_key_reused_to_book_and_a_booking_key_reused_for_a_lead_conflict(
    world: World,
) -> None:
    world.core.leads.capture(
        LeadRequest(source="web_form"), principal=world.me, idempotency_key="k-7"
    )
    with pytest.raises(IdempotencyConflictError):
        world.book(world.me, "k-7")
    assert world.seats_held() == 0
    world.book(world.me, "k-8")
    with pytest.raises(IdempotencyConflictError):
        world.core.leads.capture(
            LeadRequest(source="web_form"), principal=world.me, idempotency_key="k-8"
        )


def test_a_quotation_key_reused_for_a_lead_is_a_conflict(world: World) -> None:
    world.core.quotations.create(
        QuotationRequest(
            customer_id=world.customer_id,
            slot_id=world.slot.id,
            travelers=2,
            valid_until=world.clock.now().date() + timedelta(days=10),
        ),
        principal=ADMIN,
        idempotency_key="k-9",
    )
    with pytest.raises(IdempotencyConflictError):
        world.core.leads.capture(
            LeadRequest(source="phone", phone="+919876543299"),
            principal=ADMIN,
            idempotency_key="k-9",
        )


def test_another_principals_identical_key_is_still_a_fresh_request(world: World) -> None:
    """Keys stay scoped to their principal: only the caller's own earlier use conflicts."""
    booking = world.book(world.me, "k-shared")
    world.core.communications.send(
        booking.id, "reminder", principal=ADMIN, idempotency_key="k-shared"
    )
    other_admin = Principal.staff(StaffId(uuid4()), StaffRole.ADMIN)
    cancelled = world.core.bookings.cancel(
        booking.id, principal=other_admin, idempotency_key="k-shared"
    )
    assert cancelled.status == "cancelled"
    _reminder, cancellation = world.notifier.sent  # the automations' cancellation message
    assert "cancelled" in cancellation.body


class TestRescheduleRetries:
    """A reschedule takes an idempotency key too: a retry neither moves again nor fails."""

    def later_slot(self, world: World, days: int = 40) -> SlotId:
        return world.core.catalog.create_slot(
            location_id=world.slot.location_id,
            starts_at=world.clock.now() + timedelta(days=days),
            price_per_traveler=Money("9000", "INR"),
            capacity=10,
            principal=ADMIN,
        ).id

    def events(self, store: MemoryStore | SqlStore) -> list[str]:
        with store.unit_of_work() as uow:
            return [m.event.name for m in uow.outbox.list_unpublished(1000)]

    def test_a_retried_reschedule_returns_the_first_result_and_moves_once(
        self, world: World, any_store: MemoryStore | SqlStore
    ) -> None:
        booking = world.book(world.me)
        later = self.later_slot(world)
        moved = world.core.bookings.reschedule(
            booking.id, later, principal=world.me, reason="later", idempotency_key="k-r"
        )
        assert not moved.replayed
        again = world.core.bookings.reschedule(
            booking.id, later, principal=world.me, reason="later", idempotency_key="k-r"
        )
        assert again.replayed
        assert again.booking.slot_id == later
        assert (again.from_slot_id, again.price_difference) == (
            world.slot.id,
            Money("500", "INR"),
        )
        assert again.booking.version == moved.booking.version
        assert world.seats_held() == 0
        assert self.events(any_store).count("booking.rescheduled") == 1

    def test_a_late_retry_does_not_undo_a_later_reschedule(self, world: World) -> None:
        booking = world.book(world.me)
        later = self.later_slot(world)
        world.core.bookings.reschedule(booking.id, later, principal=world.me, idempotency_key="k-a")
        world.core.bookings.reschedule(
            booking.id, world.slot.id, principal=world.me, idempotency_key="k-b"
        )
        late = world.core.bookings.reschedule(
            booking.id, later, principal=world.me, idempotency_key="k-a"
        )
        assert late.replayed
        assert late.booking.slot_id == world.slot.id  # still where the later change put it
        assert world.seats_held() == 1

    def test_the_key_for_another_slot_or_reason_is_a_conflict(self, world: World) -> None:
        booking = world.book(world.me)
        later, latest = self.later_slot(world), self.later_slot(world, days=50)
        world.core.bookings.reschedule(booking.id, later, principal=world.me, idempotency_key="k-r")
        with pytest.raises(IdempotencyConflictError):
            world.core.bookings.reschedule(
                booking.id, latest, principal=world.me, idempotency_key="k-r"
            )
        with pytest.raises(IdempotencyConflictError):
            world.core.bookings.reschedule(
                booking.id, later, principal=world.me, reason="other", idempotency_key="k-r"
            )
        assert world.core.bookings.get(booking.id, principal=ADMIN).slot_id == later

    def test_a_reschedule_key_is_not_reused_for_other_calls_nor_theirs_for_it(
        self, world: World
    ) -> None:
        booking = world.book(world.me, "k-booked")
        later = self.later_slot(world)
        with pytest.raises(IdempotencyConflictError):
            world.core.bookings.reschedule(
                booking.id, later, principal=world.me, idempotency_key="k-booked"
            )
        assert world.core.bookings.get(booking.id, principal=ADMIN).slot_id == world.slot.id
        world.core.bookings.reschedule(booking.id, later, principal=world.me, idempotency_key="k-r")
        with pytest.raises(IdempotencyConflictError):
            world.core.bookings.cancel(booking.id, principal=world.me, idempotency_key="k-r")
        other = Principal.staff(StaffId(uuid4()), StaffRole.ADMIN)
        back = world.core.bookings.reschedule(
            booking.id, world.slot.id, principal=other, idempotency_key="k-r"
        )
        assert not back.replayed  # another principal's identical key is a fresh request
        assert back.booking.slot_id == world.slot.id


class TestOneRegistryOfKeys:
    """Every keyed request claims its key in one registry, in the unit of work of its change."""

    def test_a_refund_key_is_refused_to_other_calls_and_still_refunds_another_payment(
        self, world: World
    ) -> None:
        """Refunds keep no key of their own (their ids derive from payment and key), so
        until the registry another kind of call could take a refund's key."""
        paid = []
        for name in ("Asha", "Ravi"):
            request = world.request(name)
            booking = world.core.bookings.book(request, principal=world.me)
            intent = world.core.payments.create_intent(
                booking.id, "fake", principal=world.me, idempotency_key=f"k-pay-{name}"
            )
            reference = intent.payment.provider_reference
            assert reference is not None
            world.core.payments.handle_webhook(
                "fake", *world.provider.webhook("captured", reference)
            )
            paid.append((booking, intent.payment))
        (first, first_payment), (second, second_payment) = paid
        world.core.payments.refund(
            first_payment.id, Money("100", "INR"), principal=ADMIN, idempotency_key="k-rf"
        )
        before = world.core.bookings.get(second.id, principal=ADMIN).status
        with pytest.raises(IdempotencyConflictError):
            world.core.bookings.cancel(second.id, principal=ADMIN, idempotency_key="k-rf")
        assert world.core.bookings.get(second.id, principal=ADMIN).status == before
        # One key on two payments is still two refunds (their ids derive from the payment).
        other = world.core.payments.refund(
            second_payment.id, Money("100", "INR"), principal=ADMIN, idempotency_key="k-rf"
        )
        assert other.payment_id == second_payment.id
        assert first.id != second.id

    @pytest.mark.postgres
    @pytest.mark.parametrize("round_", range(5))
    def test_two_kinds_of_request_with_one_key_at_once_one_wins_and_nothing_half_written(
        self, pg_store: SqlStore, round_: int
    ) -> None:
        """Neither request could see the other's row before it committed: the registry's
        unique key makes the second wait for the first, then refuses it."""
        world = World(pg_store)
        booked = world.book(world.me)  # a booking to pay for
        key = f"k-race-{round_}"

        def request(i: int) -> object:
            if i == 0:
                ravi = world.request("Ravi")
                return world.core.bookings.book(ravi, principal=world.me, idempotency_key=key)
            if i == 1:
                lead = LeadRequest(source="web_form")
                return world.core.leads.capture(lead, principal=world.me, idempotency_key=key)
            return world.core.payments.create_intent(
                booked.id, "fake", principal=world.me, idempotency_key=key
            )

        results = at_once(3, request)
        won = [r for r in results if not isinstance(r, Exception)]
        assert len(won) == 1, results
        lost = [r for r in results if r is not won[0]]
        assert all(isinstance(r, IdempotencyConflictError) for r in lost), results
        stored = f"customer:{world.customer_id}:{key}"
        with pg_store.unit_of_work() as uow:
            claim = uow.idempotency_keys.get(stored)
            made = {
                "booking": uow.bookings.get_by_idempotency_key(stored),
                "lead": uow.leads.get_by_idempotency_key(stored),
                "payment": uow.payments.get_by_idempotency_key(stored),
            }
            payments = uow.payments.list_for_booking(booked.id)
        assert claim is not None
        assert {kind for kind, found in made.items() if found is not None} == {claim.operation}
        assert world.seats_held() == (2 if claim.operation == "booking" else 1)
        assert len(payments) == (1 if claim.operation == "payment" else 0)

    def test_a_first_keyed_booking_reads_no_other_kind_of_request(
        self, sql_store: SqlStore
    ) -> None:
        """One statement more than a booking without a key (its claim), where reading every
        other kind's key cost seven (SQLite) or six (PostgreSQL) more; a retry reads the
        claim and the booking it made."""
        store = SqlStore(sql_store.engine, pipeline=False)  # every statement seen by listeners
        world = World(store)
        #: The tables where the other kinds of request keep their keys.
        others = (
            "booking_lifecycle_events",
            "booking_communications",
            "payments",
            "leads",
            "quotations",
            "outbox",  # a reschedule's key, in its event's id (read back after any commit too)
        )
        runs: list[tuple[int, int, dict[str, int]]] = []
        for key in (None, "k-1", "k-1"):
            statements: list[str] = []
            principal = world.me
            if key is None:  # another customer without bookings, as world.me has none yet
                other = world.core.customers.register("+919812345678", principal=ADMIN)
                principal = Principal.customer(other.customer.id)

            def seen(*args: object, statements: list[str] = statements) -> None:
                statements.append(" ".join(str(args[2]).split()))

            event.listen(store.engine, "before_cursor_execute", seen)
            try:
                world.book(principal, key)
            finally:
                event.remove(store.engine, "before_cursor_execute", seen)
            reads = {
                table: sum(
                    1 for s in statements if s.startswith("SELECT") and f"FROM {table} " in s
                )
                for table in others
            }
            claims = sum(1 for s in statements if "idempotency_keys" in s)
            runs.append((len(statements), claims, reads))
        (plain, no_claim, plain_reads), (first, claim, first_reads), (retry, retried, _) = runs
        assert first_reads == plain_reads  # no look-up of any other kind's keys
        assert (no_claim, claim, retried) == (0, 1, 2)  # a retry: the claim and its read
        assert first - plain <= 1  # SQLite: the claim's statement, one BEGIN fewer
        assert retry <= 5
