"""A retry is recognised by what was asked, never by where it came from.

The same request with the same idempotency key, sent again from another IP
address or user agent (a phone moving from Wi-Fi to mobile data) or with no
origin at all, returns the first call's result and writes nothing more, on
every backend; a different request with the key is a conflict.
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
    ValidationError,
)
from bookingcore.testing import FixedClock, RecordingNotifier, SequentialIds
from bookingcore_adapters.memory import MemoryStore
from bookingcore_adapters.sql import SqlStore

ADMIN = Principal.staff(StaffId(SequentialIds().new_id()), StaffRole.ADMIN)
WIFI = {"ip_address": "192.0.2.10", "user_agent": "trek-app/3.2 (wifi)"}
MOBILE = {"ip_address": "198.51.100.77", "user_agent": "trek-app/3.2 (lte)"}


@pytest.fixture
def store(any_store: MemoryStore | SqlStore) -> MemoryStore | SqlStore:
    return any_store


class World:
    def __init__(self, store: MemoryStore | SqlStore) -> None:
        clock = FixedClock()
        self.notifier = RecordingNotifier()
        self.core = BookingCore(
            uow_factory=store.unit_of_work,
            clock=clock,
            ids=SequentialIds(),
            notifier=self.notifier,
        )
        camp = self.core.catalog.add_location("CAMP", "Base camp", principal=ADMIN)
        self.slot = self.core.catalog.create_slot(
            location_id=camp.id,
            starts_at=clock.now() + timedelta(days=30),
            price_per_traveler=Money("8500", "INR"),
            capacity=10,
            principal=ADMIN,
        )
        customer = self.core.customers.register("+919876543210", principal=ADMIN).customer
        self.me = Principal.customer(customer.id)
        other = self.core.customers.register("+919876543211", principal=ADMIN).customer
        self.someone_else = Principal.customer(other.id)

    def request(self, name: str = "Asha") -> BookingRequest:
        return BookingRequest(self.slot.id, [NewTraveler(TravelerDetails(name), is_primary=True)])

    def bookings_held(self) -> int:
        return self.core.catalog.get_slot(self.slot.id, principal=ADMIN).seats_held


@pytest.fixture
def world(store: MemoryStore | SqlStore) -> World:
    return World(store)


def test_a_booking_retried_from_another_network_returns_the_first_booking(world: World) -> None:
    first = world.core.bookings.book(
        world.request(), principal=world.me.with_origin(**WIFI), idempotency_key="k-book"
    )
    for origin in (MOBILE, {}):
        again = world.core.bookings.book(
            world.request(), principal=world.me.with_origin(**origin), idempotency_key="k-book"
        )
        assert again.id == first.id
    assert world.bookings_held() == 1


def test_a_different_booking_under_the_same_key_is_a_conflict(world: World) -> None:
    world.core.bookings.book(world.request(), principal=world.me, idempotency_key="k-book")
    with pytest.raises(IdempotencyConflictError):
        world.core.bookings.book(
            world.request("Ravi"), principal=world.me, idempotency_key="k-book"
        )
    assert world.bookings_held() == 1


def test_another_customer_reusing_a_key_never_gets_the_first_customers_booking(
    world: World,
) -> None:
    """Keys belong to their principal: the same key from another customer is a new request."""
    mine = world.core.bookings.book(world.request(), principal=world.me, idempotency_key="k-shared")
    theirs = world.core.bookings.book(
        world.request(), principal=world.someone_else, idempotency_key="k-shared"
    )
    assert theirs.id != mine.id
    assert theirs.customer_id == world.someone_else.id
    assert world.bookings_held() == 2
    again = world.core.bookings.book(
        world.request(), principal=world.someone_else, idempotency_key="k-shared"
    )
    assert again.id == theirs.id
    assert mine.idempotency_key == f"customer:{world.me.id}:k-shared"


def test_keys_of_transitions_and_messages_belong_to_their_principal(world: World) -> None:
    """Another staff member's identical key moves or messages afresh instead of conflicting."""
    booking = world.core.bookings.book(world.request(), principal=world.me)
    other_admin = Principal.staff(StaffId(uuid4()), StaffRole.ADMIN)
    world.core.bookings.transition(
        booking.id, "confirmed", principal=ADMIN, note="paid", idempotency_key="k-same"
    )
    moved = world.core.bookings.transition(
        booking.id, "cancelled", principal=other_admin, idempotency_key="k-same"
    )
    assert not moved.replayed
    assert moved.booking.status == "cancelled"
    automatic = len(world.notifier.sent)  # the automations' confirmation and cancellation
    world.core.communications.send(booking.id, "reminder", principal=ADMIN, idempotency_key="k-msg")
    world.core.communications.send(
        booking.id, "confirmation", principal=other_admin, idempotency_key="k-msg"
    )
    assert len(world.notifier.sent) == automatic + 2


def test_a_transition_retried_with_its_status_spelled_otherwise_is_the_same_request(
    world: World,
) -> None:
    """``to`` names a state case-insensitively (``Lifecycle.resolve``), so "Confirmed"
    retried as " confirmed" asks the same move: replayed, not a key conflict."""
    booking = world.core.bookings.book(world.request(), principal=world.me)
    first = world.core.bookings.transition(
        booking.id, "Confirmed", principal=ADMIN, idempotency_key="k-spelled"
    )
    again = world.core.bookings.transition(
        booking.id, " confirmed", principal=ADMIN, idempotency_key="k-spelled"
    )
    assert again.replayed
    assert again.booking.version == first.booking.version
    with pytest.raises(IdempotencyConflictError):
        world.core.bookings.transition(
            booking.id, "cancelled", principal=ADMIN, idempotency_key="k-spelled"
        )


def test_an_idempotency_key_over_255_characters_is_refused_before_anything_is_written(
    world: World,
) -> None:
    with pytest.raises(ValidationError) as caught:
        world.core.bookings.book(world.request(), principal=world.me, idempotency_key="k" * 256)
    assert caught.value.fields == ("idempotency_key",)
    assert world.bookings_held() == 0
    booking = world.core.bookings.book(
        world.request(), principal=world.me, idempotency_key="k" * 255
    )
    for call in (
        lambda: world.core.bookings.transition(
            booking.id, "confirmed", principal=ADMIN, idempotency_key="k\x00"
        ),
        lambda: world.core.bookings.cancel(booking.id, principal=ADMIN, idempotency_key="k" * 256),
        lambda: world.core.communications.send(
            booking.id, "reminder", principal=ADMIN, idempotency_key="x" * 10**6
        ),
    ):
        with pytest.raises(ValidationError) as caught:
            call()
        assert caught.value.fields == ("idempotency_key",)
    assert world.core.bookings.get(booking.id, principal=ADMIN).status == "pending"
    assert world.notifier.sent == []


def test_a_transition_and_a_cancel_retried_from_elsewhere_are_replays(world: World) -> None:
    booking = world.core.bookings.book(world.request(), principal=world.me)
    staff = ADMIN.with_origin(**WIFI)
    moved = world.core.bookings.transition(
        booking.id, "confirmed", principal=staff, note="paid at desk", idempotency_key="k-move"
    )
    replay = world.core.bookings.transition(
        booking.id,
        "confirmed",
        principal=ADMIN.with_origin(**MOBILE),
        note="paid at desk",
        idempotency_key="k-move",
    )
    assert replay.replayed
    assert replay.event.id == moved.event.id
    with pytest.raises(IdempotencyConflictError):
        world.core.bookings.transition(
            booking.id, "confirmed", principal=ADMIN, note="other note", idempotency_key="k-move"
        )

    cancelled = world.core.bookings.cancel(
        booking.id, principal=world.me.with_origin(**WIFI), idempotency_key="k-cancel"
    )
    again = world.core.bookings.cancel(booking.id, principal=world.me, idempotency_key="k-cancel")
    assert again.version == cancelled.version
    history = world.core.bookings.history(booking.id, principal=ADMIN)
    assert [e.to_status for e in history] == ["pending", "confirmed", "cancelled"]
    assert world.bookings_held() == 0


def test_a_message_resent_from_elsewhere_is_sent_once(world: World) -> None:
    booking = world.core.bookings.book(world.request(), principal=world.me)
    sent = world.core.communications.send(
        booking.id, "reminder", principal=ADMIN.with_origin(**WIFI), idempotency_key="k-msg"
    )
    again = world.core.communications.send(
        booking.id, "reminder", principal=ADMIN.with_origin(**MOBILE), idempotency_key="k-msg"
    )
    assert again.id == sent.id
    assert len(world.notifier.sent) == 1
