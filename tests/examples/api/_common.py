"""What several API test modules share: every store in turn, a desk admin, a booking."""

from __future__ import annotations

import pytest

from bookingcore import (
    BookingCore,
    BookingRequest,
    CustomerDetails,
    NewTraveler,
    Principal,
    StaffId,
    StaffRole,
    TravelerDetails,
)
from bookingcore.domain import Booking, Slot
from bookingcore.testing import SequentialIds

#: Runs a test over each store under the app: memory, SQLite, PostgreSQL.
STORES = pytest.mark.parametrize(
    "uow_factory",
    ["memory", "sqlite", pytest.param("postgres", marks=pytest.mark.postgres)],
    indirect=True,
)

#: A desk admin who sets things up through the core, not over HTTP.
DESK = Principal.staff(StaffId(SequentialIds().new_id()), StaffRole.ADMIN)


def book_asha(core: BookingCore, slot: Slot, phone: str) -> Booking:
    """Asha Rao, a new customer at ``phone``, books one seat on ``slot`` at the desk."""
    return core.bookings.book(
        BookingRequest(
            slot.id,
            [NewTraveler(TravelerDetails("Asha Rao"), is_primary=True)],
            customer=CustomerDetails(phone, name="Asha Rao"),
        ),
        principal=DESK,
    )
