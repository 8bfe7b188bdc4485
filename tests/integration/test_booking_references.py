"""A booking or quotation whose random reference is drawn again is made under a fresh one,
on every store."""

from __future__ import annotations

from collections import deque
from datetime import timedelta
from uuid import UUID

import pytest

from bookingcore import (
    BookingCore,
    BookingRequest,
    CustomerDetails,
    DuplicateError,
    Money,
    NewTraveler,
    Principal,
    StaffId,
    StaffRole,
    TravelerDetails,
)
from bookingcore.domain import Booking, Quotation, Slot
from bookingcore.services import QuotationRequest
from bookingcore.testing import FixedClock, SequentialIds
from bookingcore_adapters.memory import MemoryStore
from bookingcore_adapters.sql import SqlStore

ADMIN = Principal.staff(StaffId(UUID(int=10**9)), StaffRole.ADMIN)


class RepeatingReferences(SequentialIds):
    """Sequential ids whose next references are the ones queued, then ``BK-`` and six digits."""

    def __init__(self) -> None:
        super().__init__()
        self.queued: deque[str] = deque()
        self.drawn: list[str] = []

    def new_reference(self) -> str:
        reference = self.queued.popleft() if self.queued else super().new_reference()
        self.drawn.append(reference)
        return reference


class Desk:
    def __init__(self, store: MemoryStore | SqlStore) -> None:
        self.clock = FixedClock()
        self.ids = RepeatingReferences()
        self.core = BookingCore(uow_factory=store.unit_of_work, clock=self.clock, ids=self.ids)
        camp = self.core.catalog.add_location("BASE", "Base camp", principal=ADMIN)
        self.slot: Slot = self.core.catalog.create_slot(
            location_id=camp.id,
            starts_at=self.clock.now() + timedelta(days=10),
            price_per_traveler=Money("1000", "INR"),
            capacity=5,
            principal=ADMIN,
        )

    def book(
        self, phone: str, *, external_id: str | None = None, key: str | None = None
    ) -> Booking:
        return self.core.bookings.book(
            BookingRequest(
                self.slot.id,
                [NewTraveler(TravelerDetails("Asha"), is_primary=True)],
                customer=CustomerDetails(phone),
                external_id=external_id,
            ),
            principal=ADMIN,
            idempotency_key=key,
        )

    def quote(self, phone: str, *, key: str | None = None) -> Quotation:
        customer = self.core.customers.register(phone, principal=ADMIN).customer
        return self.core.quotations.create(
            QuotationRequest(
                customer_id=customer.id,
                slot_id=self.slot.id,
                travelers=2,
                valid_until=(self.clock.now() + timedelta(days=7)).date(),
            ),
            principal=ADMIN,
            idempotency_key=key,
        )

    def seats_left(self) -> int | None:
        return self.core.catalog.get_slot(self.slot.id, principal=ADMIN).seats_left


def test_a_reference_drawn_again_books_under_the_next_one(
    any_store: MemoryStore | SqlStore,
) -> None:
    desk = Desk(any_store)
    first = desk.book("+919812300001")
    desk.ids.queued.append(first.reference)  # the next draw repeats it

    second = desk.book("+919812300002", key="k-1")

    assert second.reference != first.reference
    assert desk.ids.drawn[-2:] == [first.reference, second.reference]
    assert desk.core.bookings.get_by_reference(second.reference, principal=ADMIN).id == second.id
    assert desk.core.bookings.get_by_reference(first.reference, principal=ADMIN).id == first.id
    assert desk.seats_left() == 3  # each booking holds its seat once
    # One history entry each: the refused attempt left nothing behind.
    assert [e.to_status for e in desk.core.bookings.history(second.id, principal=ADMIN)] == [
        second.status
    ]
    # The key was claimed by the booking that was made: a retry answers it.
    assert desk.book("+919812300002", key="k-1").id == second.id
    assert desk.seats_left() == 3


def test_a_duplicate_that_is_not_the_reference_is_not_retried(
    any_store: MemoryStore | SqlStore,
) -> None:
    desk = Desk(any_store)
    desk.book("+919812300001", external_id="CRM-1")
    drawn = len(desk.ids.drawn)

    with pytest.raises(DuplicateError):
        desk.book("+919812300002", external_id="CRM-1")

    assert len(desk.ids.drawn) <= drawn + 1  # refused at once, not tried again
    assert desk.seats_left() == 4


def test_a_reference_taken_every_time_gives_up_with_the_duplicate(
    any_store: MemoryStore | SqlStore,
) -> None:
    desk = Desk(any_store)
    first = desk.book("+919812300001")
    desk.ids.queued.extend([first.reference] * 3)

    with pytest.raises(DuplicateError) as raised:
        desk.book("+919812300002")

    assert raised.value.entity == "booking"
    assert desk.ids.drawn[1:] == [first.reference] * 3  # three attempts, then the error
    assert desk.seats_left() == 4


def test_a_quotation_reference_drawn_again_is_made_under_the_next_one(
    any_store: MemoryStore | SqlStore,
) -> None:
    desk = Desk(any_store)
    first = desk.quote("+919812300001")
    # The next draw repeats the random part of the first quotation's reference.
    desk.ids.queued.append("BK-" + first.reference.removeprefix("QT-"))

    second = desk.quote("+919812300002", key="q-1")

    assert second.reference.startswith("QT-")
    assert second.reference != first.reference
    assert len(desk.ids.drawn) == 3  # the first quotation's, the repeat, a fresh one
    assert [q.id for q in desk.core.quotations.revisions(first.reference, principal=ADMIN)] == [
        first.id
    ]
    assert [q.id for q in desk.core.quotations.revisions(second.reference, principal=ADMIN)] == [
        second.id
    ]
    # The key was claimed by the quotation that was made: a retry answers it.
    assert desk.quote("+919812300002", key="q-1").id == second.id


def test_a_quotation_reference_taken_every_time_gives_up_with_the_duplicate(
    any_store: MemoryStore | SqlStore,
) -> None:
    desk = Desk(any_store)
    first = desk.quote("+919812300001")
    desk.ids.queued.extend(["BK-" + first.reference.removeprefix("QT-")] * 3)

    with pytest.raises(DuplicateError) as raised:
        desk.quote("+919812300002", key="q-2")

    assert raised.value.entity == "quotation"
    assert len(desk.ids.drawn) == 4  # three attempts, then the error
    # Nothing of the refused attempts is kept, not even the key's claim.
    desk.ids.queued.clear()
    assert desk.quote("+919812300002", key="q-2").reference != first.reference
