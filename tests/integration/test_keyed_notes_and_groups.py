"""Advisor notes and groups take an idempotency key: a retry returns what the first call made.

The key's claim remembers the id of the note or group it made, so a retry after
a timeout gets that note or group back and writes nothing more (one audit
entry), on every backend. The same key for a different note or group, or for
another kind of operation, is ``IdempotencyConflictError``.
"""

from __future__ import annotations

from datetime import timedelta
from uuid import uuid4

import pytest

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
from bookingcore.domain.audit import AuditAction
from bookingcore.domain.groups import BookingGroup
from bookingcore.errors import DuplicateError
from bookingcore.testing import FixedClock, RecordingNotifier, SequentialIds
from bookingcore_adapters.memory import MemoryStore
from bookingcore_adapters.sql import SqlStore

ADMIN = Principal.staff(StaffId(uuid4()), StaffRole.ADMIN)


class World:
    def __init__(self, store: MemoryStore | SqlStore) -> None:
        self.store = store
        self.clock = FixedClock()
        self.core = BookingCore(
            uow_factory=store.unit_of_work,
            clock=self.clock,
            ids=SequentialIds(),
            notifier=RecordingNotifier(),
        )
        camp = self.core.catalog.add_location("CAMP", "Base camp", principal=ADMIN)
        slot = self.core.catalog.create_slot(
            location_id=camp.id,
            starts_at=self.clock.now() + timedelta(days=30),
            price_per_traveler=Money("8500", "INR"),
            capacity=10,
            principal=ADMIN,
        )
        customer = self.core.customers.register("+919876543210", principal=ADMIN).customer
        self.customer_id = customer.id
        traveler = NewTraveler(TravelerDetails("Asha"), is_primary=True)
        request = BookingRequest(slot.id, [traveler], customer_id=customer.id)
        self.booking = self.core.bookings.book(request, principal=ADMIN)

    def note(self, text: str, key: str | None = "n-1"):  # type: ignore[no-untyped-def]
        return self.core.bookings.add_note(
            self.booking.id, text, principal=ADMIN, idempotency_key=key
        )

    def notes_audited(self) -> int:
        trail = self.core.bookings.audit_trail(self.booking.id, principal=ADMIN)
        return sum(1 for e in trail if e.action is AuditAction.NOTE_ADDED)

    def group(
        self, reference: str = "OFFSITE", key: str | None = "g-1", **fields: object
    ) -> BookingGroup:
        return self.core.groups.create(
            reference,
            organizer_id=self.customer_id,
            principal=ADMIN,
            idempotency_key=key,
            **fields,  # type: ignore[arg-type]
        )

    def groups_audited(self, group: BookingGroup) -> int:
        with self.store.unit_of_work() as uow:
            return len(uow.audit.list_for("booking group", group.id))


@pytest.fixture
def world(any_store: MemoryStore | SqlStore) -> World:
    return World(any_store)


def test_a_retried_note_returns_the_first_note_and_writes_nothing_more(world: World) -> None:
    first = world.note("Called about the visa")
    world.clock.advance(timedelta(minutes=1))
    again = world.note("Called about the visa")
    assert again == first
    assert world.notes_audited() == 1
    assert world.core.bookings.notes(world.booking.id, principal=ADMIN) == [first]


def test_a_note_key_reused_for_another_text_is_a_conflict(world: World) -> None:
    world.note("Called about the visa")
    with pytest.raises(IdempotencyConflictError):
        world.note("Asked for a window seat")
    assert world.notes_audited() == 1
    world.note("Asked for a window seat", key=None)  # without a key, a note is a new note
    assert world.notes_audited() == 2


def test_a_note_key_reused_for_another_kind_of_call_is_a_conflict(world: World) -> None:
    world.note("Called about the visa", key="k-1")
    with pytest.raises(IdempotencyConflictError):
        world.group(key="k-1")
    with pytest.raises(IdempotencyConflictError):
        world.core.bookings.cancel(world.booking.id, principal=ADMIN, idempotency_key="k-1")
    assert world.core.bookings.get(world.booking.id, principal=ADMIN).status == "pending"


def test_a_retried_group_creation_returns_the_group_and_writes_nothing_more(
    world: World,
) -> None:
    first = world.group("offsite", group_name="Acme offsite", total_participants=6)
    world.clock.advance(timedelta(minutes=1))
    again = world.group("OFFSITE", group_name="Acme offsite", total_participants=6)
    assert again == first
    assert world.groups_audited(first) == 1
    with pytest.raises(DuplicateError):  # without the key, the reference is taken
        world.group("OFFSITE", key=None, group_name="Acme offsite", total_participants=6)


def test_a_group_key_reused_for_another_group_is_a_conflict(world: World) -> None:
    first = world.group("OFFSITE", total_participants=6)
    with pytest.raises(IdempotencyConflictError):
        world.group("OFFSITE", total_participants=7)
    with pytest.raises(IdempotencyConflictError):
        world.group("DIVE-WEEK")
    with pytest.raises(IdempotencyConflictError):
        world.note("Called about the visa", key="g-1")
    assert world.groups_audited(first) == 1
    assert [g.id for g in world.core.groups.list(principal=ADMIN).items] == [first.id]
