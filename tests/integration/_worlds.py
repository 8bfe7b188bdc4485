"""What the message and group tests share: a staff admin, an instant lifecycle, a camp."""

from __future__ import annotations

from datetime import timedelta

from bookingcore import BookingCore, Lifecycle, Money, Principal, StaffId, StaffRole
from bookingcore.domain import Slot
from bookingcore.testing import FixedClock, SequentialIds

#: The staff member who sets everything up (the same id in every test module).
ADMIN = Principal.staff(StaffId(SequentialIds().new_id()), StaffRole.ADMIN)

#: A business that confirms on the spot: bookings are created confirmed.
INSTANT = Lifecycle(
    name="instant",
    states=("confirmed", "completed", "cancelled"),
    initial="confirmed",
    transitions={"confirmed": {"completed", "cancelled"}},
    terminal={"completed", "cancelled"},
    holding={"confirmed", "completed"},
    cancelled="cancelled",
)


def camp_slot(
    core: BookingCore,
    clock: FixedClock,
    *,
    code: str = "CAMP",
    days: int = 30,
    price: str = "8500",
    capacity: int = 10,
) -> Slot:
    """A location ``code`` ("Base camp") and a slot there ``days`` after ``clock``'s
    now, at ``price`` INR a traveler, with ``capacity`` seats."""
    camp = core.catalog.add_location(code, "Base camp", principal=ADMIN)
    return core.catalog.create_slot(
        location_id=camp.id,
        starts_at=clock.now() + timedelta(days=days),
        price_per_traveler=Money(price, "INR"),
        capacity=capacity,
        principal=ADMIN,
    )
