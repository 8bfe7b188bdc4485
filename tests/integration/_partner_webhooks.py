"""A small world for partner-webhook tests: one camp, one slot, one partner, one booking helper."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from uuid import uuid4

import attrs

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
from bookingcore.domain import Booking, Partner, Slot

ADMIN = Principal.staff(StaffId(uuid4()), StaffRole.ADMIN)


@attrs.define
class WebhookWorld:
    """A core with a slot and a partner (``webhook_url`` set) allowed to book it."""

    core: BookingCore
    slot: Slot
    partner: Partner
    phones: Callable[[], str]

    @property
    def as_partner(self) -> Principal:
        return Principal.partner(self.partner.id)

    def book(self) -> Booking:
        """A booking by the partner for a new customer."""
        customer = self.core.customers.register(self.phones(), principal=self.as_partner).customer
        return self.core.bookings.book(
            BookingRequest(
                self.slot.id,
                [NewTraveler(TravelerDetails("Asha"), is_primary=True)],
                customer_id=customer.id,
            ),
            principal=self.as_partner,
        )


def webhook_world(
    core: BookingCore, url: str = "https://partner.example.com/hooks", **settings: str
) -> WebhookWorld:
    """Catalog and partner for ``core``; ``settings`` become the partner's settings."""
    camp = core.catalog.add_location("CAMP", "Base camp", principal=ADMIN)
    slot = core.catalog.create_slot(
        location_id=camp.id,
        starts_at=core.context.now() + timedelta(days=10),
        price_per_traveler=Money("1000", "INR"),
        capacity=500,
        principal=ADMIN,
    )
    partner = core.partners.register(
        name="Trails",
        company_name="Trails Pvt Ltd",
        contact_email="ops@trails.example.com",
        allowed_location_ids=[camp.id],
        webhook_url=url,
        settings=settings,
        principal=ADMIN,
    ).partner
    counter = iter(range(10_000))
    return WebhookWorld(core, slot, partner, lambda: f"+9198{next(counter):08d}")
