"""Payment webhooks in any order and multiplicity end as if each event arrived once, in order.

A provider tells a payment's story as a sequence of events (``pending``,
``requires_action``, ``failed``, ``authorized``, ``captured``, ``cancelled``),
each with its own event id. The story is drawn along the moves a provider
makes, retries included (``requires_action``, ``failed`` and ``pending`` again
in any order, stopping anywhere); its events are signed in order, so the fake
provider's current state is the last event's, then delivered through
``core.payments.handle_webhook`` shuffled and with duplicates. Whatever the
delivery, the payment ends as the domain leaves it when given each event once,
in order (each telling the truth of its moment); the booking is confirmed
exactly when the payment ended captured in full; every event id is processed
once and has one inbox receipt, which every delivery of it answers with.

Events between retry statuses carry no order of their own; the service asks
the provider (``fetch_state``) for those. A provider that cannot be asked
leaves them in arrival order: that case is checked in
``tests/unit/test_payments_service.py``.
"""

from __future__ import annotations

import contextlib
import itertools
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from uuid import uuid4

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import text
from tests._sqlite import sqlite_file_store

from bookingcore import (
    BookingCore,
    BookingRequest,
    Money,
    NewTraveler,
    PaymentId,
    Principal,
    StaffId,
    StaffRole,
    TravelerDetails,
)
from bookingcore.domain import Payment, PaymentStatus
from bookingcore.errors import InvalidTransitionError
from bookingcore.testing import FakePaymentProvider, FixedClock, SequentialIds
from bookingcore_adapters.memory import MemoryStore
from bookingcore_adapters.sql import SqlStore

ADMIN = Principal.staff(StaffId(uuid4()), StaffRole.ADMIN)
_P = PaymentStatus

#: What a provider may say next about a payment, from what it said last.
_ATTEMPTS = (_P.PENDING, _P.REQUIRES_ACTION, _P.FAILED)
_NEXT: dict[PaymentStatus, tuple[PaymentStatus, ...]] = {
    _P.PENDING: (*_ATTEMPTS, _P.AUTHORIZED, _P.CAPTURED, _P.CANCELLED),
    _P.REQUIRES_ACTION: (*_ATTEMPTS, _P.AUTHORIZED, _P.CAPTURED, _P.CANCELLED),
    _P.FAILED: (*_ATTEMPTS, _P.AUTHORIZED, _P.CAPTURED, _P.CANCELLED),
    _P.AUTHORIZED: (_P.AUTHORIZED, _P.CAPTURED, _P.CANCELLED),
    _P.CAPTURED: (),
    _P.CANCELLED: (),
}


@dataclass(frozen=True)
class Event:
    """One provider event: its id, the status it reports, and for ``captured`` what was taken
    (``half`` is half the payment's amount; otherwise all of it)."""

    event_id: str
    status: PaymentStatus
    half: bool = False


@st.composite
def stories(draw: st.DrawFn) -> list[Event]:
    """A payment's story as a provider tells it, one event per step."""
    statuses: list[PaymentStatus] = []
    current = _P.PENDING
    for _ in range(draw(st.integers(1, 8))):
        choices = _NEXT[current]
        if not choices:
            break
        current = draw(st.sampled_from(choices))
        statuses.append(current)
    return [
        Event(f"evt_{n}", status, half=status is _P.CAPTURED and draw(st.booleans()))
        for n, status in enumerate(statuses)
    ]


@st.composite
def stories_and_deliveries(draw: st.DrawFn) -> tuple[list[Event], list[Event]]:
    """A story, and its events delivered each at least once, shuffled, some repeated."""
    story = draw(stories())
    repeats = draw(st.lists(st.sampled_from(story), max_size=2 * len(story)))
    return story, draw(st.permutations([*story, *repeats]))


def _reference(payment: Payment, story: list[Event]) -> Payment:
    """``payment`` as the domain leaves it after each event of ``story`` once, in order.

    An event that does not decide by itself is applied as the provider's state at
    its moment, which is what the event says.
    """
    expected = Payment(
        id=PaymentId(uuid4()),
        booking_id=payment.booking_id,
        customer_id=payment.customer_id,
        provider=payment.provider,
        amount=payment.amount,
        created_at=payment.created_at,
        updated_at=payment.updated_at,
    )
    for event in story:
        taken = _taken(payment, event)
        # The service keeps a contradicting delivery as a failed receipt; it moves nothing.
        with contextlib.suppress(InvalidTransitionError):
            if expected.decides(event.status):
                expected.apply_event(
                    event.event_id, event.status, now=payment.created_at, amount=taken
                )
            else:
                expected.apply_provider_state(
                    event.event_id, event.status, now=payment.created_at, captured=taken
                )
    return expected


def _taken(payment: Payment, event: Event) -> Money | None:
    if event.status is not _P.CAPTURED:
        return None
    return Money(payment.amount.amount / 2, payment.currency) if event.half else payment.amount


class World:
    """A core over one store, with a slot to book and a fake provider that signs webhooks."""

    def __init__(self, store: MemoryStore | SqlStore) -> None:
        self.store = store
        self.clock = FixedClock()
        self.provider = FakePaymentProvider()
        self.core = BookingCore(
            uow_factory=store.unit_of_work,
            clock=self.clock,
            ids=SequentialIds(),
            payment_providers=[self.provider],
        )
        camp = self.core.catalog.add_location("CAMP", "Base camp", principal=ADMIN)
        self.slot = self.core.catalog.create_slot(
            location_id=camp.id,
            starts_at=self.clock.now() + timedelta(days=30),
            price_per_traveler=Money("4000", "INR"),
            capacity=None,
            principal=ADMIN,
        )
        customer = self.core.customers.register("+919876543210", principal=ADMIN).customer
        self.me = Principal.customer(customer.id)
        self._runs: Iterator[int] = itertools.count()

    def inbox_rows(self) -> int:
        if isinstance(self.store, MemoryStore):
            return self.store.count("webhook_inbox")
        with self.store.engine.connect() as connection:
            return int(connection.execute(text("SELECT count(*) FROM webhook_inbox")).scalar_one())

    def check(self, story: list[Event], deliveries: list[Event]) -> None:
        run = next(self._runs)
        booking = self.core.bookings.book(
            BookingRequest(
                self.slot.id, [NewTraveler(TravelerDetails(f"Guest {run}"), is_primary=True)]
            ),
            principal=self.me,
        )
        intent = self.core.payments.create_intent(
            booking.id, "fake", principal=self.me, idempotency_key=f"pay-{run}"
        )
        payment = intent.payment
        assert payment.provider_reference is not None
        rows_before = self.inbox_rows()

        # The provider sends its events as the story happens: it is in the last one's state.
        signed = {
            event.event_id: self.provider.webhook(
                event.status,
                payment.provider_reference,
                amount=_taken(payment, event),
                event_id=f"{event.event_id}_{run}",
            )
            for event in story
        }
        answered: dict[str, set[object]] = {}
        for event in deliveries:
            receipt = self.core.payments.handle_webhook("fake", *signed[event.event_id])
            answered.setdefault(event.event_id, set()).add(receipt.id)

        expected = _reference(payment, story)
        (paid,) = self.core.payments.for_booking(booking.id, principal=ADMIN)
        assert paid.status is expected.status, [e.status.value for e in story]
        assert paid.captured_amount == expected.captured_amount
        assert paid.processed_event_ids == {
            f"{event_id}_{run}" for event_id in expected.processed_event_ids
        }

        confirmed = self.core.bookings.get(booking.id, principal=ADMIN).status == "confirmed"
        paid_in_full = paid.status is _P.CAPTURED and paid.captured_amount == booking.total
        assert confirmed is paid_in_full

        # One receipt per event id, stored once and given back to every delivery of it.
        assert all(len(ids) == 1 for ids in answered.values())
        assert self.inbox_rows() - rows_before == len(story)
        with self.store.unit_of_work() as uow:
            for event in story:
                stored = uow.webhook_inbox.get_by_event("fake", f"{event.event_id}_{run}")
                assert stored is not None
                assert answered[event.event_id] == {stored.id}


def check_any_delivery(world: World, max_examples: int) -> None:
    @settings(
        max_examples=max_examples,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow],
    )
    @given(stories_and_deliveries())
    def deliver(story_and_deliveries: tuple[list[Event], list[Event]]) -> None:
        world.check(*story_and_deliveries)

    deliver()


def test_any_delivery_of_a_story_ends_as_the_story_told_once_on_memory() -> None:
    check_any_delivery(World(MemoryStore()), max_examples=settings().max_examples)


def test_any_delivery_of_a_story_ends_as_the_story_told_once_on_sqlite(tmp_path: Path) -> None:
    store = sqlite_file_store(tmp_path / "events.db")
    try:
        check_any_delivery(World(store), max_examples=max(5, settings().max_examples // 4))
    finally:
        store.dispose()


@pytest.mark.parametrize(
    "told",
    [
        [_P.PENDING, _P.REQUIRES_ACTION, _P.FAILED, _P.REQUIRES_ACTION, _P.AUTHORIZED, _P.CAPTURED],
        [_P.REQUIRES_ACTION, _P.AUTHORIZED, _P.CANCELLED],
        [_P.REQUIRES_ACTION, _P.FAILED],
        [_P.FAILED, _P.REQUIRES_ACTION],
        [_P.REQUIRES_ACTION, _P.PENDING],
        [_P.FAILED, _P.PENDING, _P.FAILED, _P.REQUIRES_ACTION],
    ],
)
def test_a_retried_story_delivered_backwards_with_duplicates_ends_as_told(
    told: list[PaymentStatus],
) -> None:
    """A concrete worst case: every event twice, last first; retries may stop anywhere."""
    story = [Event(f"evt_{n}", status) for n, status in enumerate(told)]
    World(MemoryStore()).check(story, [*reversed(story), *reversed(story)])
