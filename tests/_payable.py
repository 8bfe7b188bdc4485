"""A booking waiting to be paid through the providers under test: the payment tests' one
setup (the Stripe, Razorpay and fake provider tests, over any store)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from uuid import uuid4

from bookingcore import (
    BookingCore,
    BookingRequest,
    Money,
    NewTraveler,
    Principal,
    StaffId,
    StaffRole,
    TravelerDetails,
)
from bookingcore.domain import Booking
from bookingcore.ports.payments import PaymentProvider
from bookingcore.testing import FixedClock
from bookingcore_adapters.memory import MemoryStore
from bookingcore_adapters.sql import SqlStore

#: Who sets the shop up (any admin reads it too: staff rights come with the role).
ADMIN = Principal.staff(StaffId(uuid4()), StaffRole.ADMIN)


class Payable:
    """A core paying through ``providers`` (over ``store``, memory by default) on a clock
    fixed at now, and Asha's booking of one seat at ``price`` INR on an open slot in 30
    days at location ``location``, made by Asha (``me``)."""

    def __init__(
        self,
        *providers: PaymentProvider,
        store: MemoryStore | SqlStore | None = None,
        price: str = "2500",
        location: str = "CAMP",
    ) -> None:
        self.clock = FixedClock(datetime.now(UTC))
        self.core = BookingCore(
            uow_factory=(store or MemoryStore()).unit_of_work,
            clock=self.clock,
            payment_providers=list(providers),
        )
        camp = self.core.catalog.add_location(location, "Base camp", principal=ADMIN)
        slot = self.core.catalog.create_slot(
            location_id=camp.id,
            starts_at=self.clock.now() + timedelta(days=30),
            price_per_traveler=Money(price, "INR"),
            capacity=None,
            principal=ADMIN,
        )
        customer = self.core.customers.register("+919876543210", principal=ADMIN).customer
        self.me = Principal.customer(customer.id)
        self.booking: Booking = self.core.bookings.book(
            BookingRequest(slot.id, [NewTraveler(TravelerDetails("Asha"), is_primary=True)]),
            principal=self.me,
        )

    def intent(self, provider: str, key: str = "k") -> str:
        """Asha's intent for the whole booking at ``provider``: the provider's reference."""
        made = self.core.payments.create_intent(
            self.booking.id, provider, principal=self.me, idempotency_key=key
        )
        assert made.payment.provider_reference is not None
        return made.payment.provider_reference
