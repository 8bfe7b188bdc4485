"""`BookingCore` needs only its storage: the clock and ids default to the system's."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from uuid import uuid4

import pytest

from bookingcore import (
    BookingCore,
    BookingRequest,
    Money,
    NewTraveler,
    Principal,
    RandomIds,
    StaffId,
    StaffRole,
    SystemClock,
    TravelerDetails,
)
from bookingcore.domain import Booking
from bookingcore.testing import FixedClock, SequentialIds
from bookingcore_adapters.memory import MemoryStore

REFERENCE = re.compile(r"^BK-[0-9ABCDEFGHJKMNPQRSTVWXYZ]{8}$")


def _book_one(core: BookingCore) -> Booking:
    admin = Principal.staff(StaffId(uuid4()), StaffRole.ADMIN)
    camp = core.catalog.add_location("CAMP", "Base camp", principal=admin)
    slot = core.catalog.create_slot(
        location_id=camp.id,
        starts_at=core.context.clock.now() + timedelta(days=30),
        price_per_traveler=Money("8500", "INR"),
        capacity=4,
        principal=admin,
    )
    customer = core.customers.register("+919876543210", principal=admin).customer
    return core.bookings.book(
        BookingRequest(slot.id, [NewTraveler(TravelerDetails("Asha"), is_primary=True)]),
        principal=Principal.customer(customer.id),
    )


class TestDefaults:
    def test_a_core_with_only_storage_uses_the_system_clock_and_random_ids(self) -> None:
        core = BookingCore(uow_factory=MemoryStore().unit_of_work)
        assert isinstance(core.context.clock, SystemClock)
        assert isinstance(core.context.ids, RandomIds)

    def test_a_core_with_only_storage_books_at_the_current_time_with_random_ids(self) -> None:
        before = datetime.now(UTC)
        booking = _book_one(BookingCore(uow_factory=MemoryStore().unit_of_work))
        after = datetime.now(UTC)
        assert before <= booking.created_at <= after
        assert booking.created_at.tzinfo is not None
        assert REFERENCE.match(booking.reference), booking.reference
        assert booking.id.version == 7

    def test_storage_has_no_default(self) -> None:
        with pytest.raises(TypeError, match="uow_factory"):
            BookingCore()  # type: ignore[call-arg]

    def test_explicit_wiring_still_wins(self) -> None:
        clock = FixedClock(datetime(2026, 3, 1, 8, 0, tzinfo=UTC))
        core = BookingCore(uow_factory=MemoryStore().unit_of_work, clock=clock, ids=SequentialIds())
        booking = _book_one(core)
        assert booking.created_at == clock.now()
        assert isinstance(core.context.ids, SequentialIds)


class TestSystemClock:
    def test_tells_the_current_time_in_utc(self) -> None:
        before = datetime.now(UTC)
        now = SystemClock().now()
        assert before <= now <= datetime.now(UTC)
        assert now.utcoffset() == timedelta(0)


class TestRandomIds:
    def test_ids_are_uuid7_in_the_order_they_were_made(self) -> None:
        ids = RandomIds()
        made = [ids.new_id() for _ in range(200)]
        assert len(set(made)) == len(made)
        assert all(i.version == 7 and i.variant == "specified in RFC 4122" for i in made)
        # the leading 48 bits are Unix milliseconds: never decreasing
        millis = [i.int >> 80 for i in made]
        assert millis == sorted(millis)
        assert abs(millis[-1] - datetime.now(UTC).timestamp() * 1000) < 60_000

    def test_references_take_the_prefix_and_tokens_are_long_and_distinct(self) -> None:
        ids = RandomIds(reference_prefix="TRK")
        assert ids.new_reference().startswith("TRK-")
        tokens = {ids.new_token("bk_live_") for _ in range(100)}
        assert len(tokens) == 100
        assert all(t.startswith("bk_live_") and len(t) == len("bk_live_") + 32 for t in tokens)
