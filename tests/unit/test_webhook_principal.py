"""A provider's webhook records what the provider reports and does nothing else.

``Principal.webhook`` holds no permission (``policy.may_apply_provider_report`` is
all it may do): every staff-only change refuses it, as ``docs/policy.md`` says,
with ``PermissionDeniedError``, or ``NotFoundError`` where it does not see the record.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any
from uuid import uuid4

import pytest

from bookingcore import (
    BookingChanges,
    BookingCore,
    NotFoundError,
    PermissionDeniedError,
    Principal,
    StaffId,
)
from bookingcore.domain import BookingItemStatus, policy
from bookingcore.domain.values import ActorKind
from bookingcore.testing import FixedClock
from bookingcore.testing.builders import Builder
from bookingcore_adapters.memory import MemoryStore

WEBHOOK = Principal.webhook("razorpay")


class _World:
    """One customer's booking, with a lead, a rejected line item and a plan."""

    def __init__(self, store: MemoryStore, clock: FixedClock) -> None:
        make = Builder(now=clock.now())
        location = make.location()
        customer = make.customer()
        traveler = make.traveler(customer.id)
        self.slot = make.slot(location.id)
        self.booking = make.booking(customer.id, self.slot, [traveler.id])
        self.lead = make.lead(customer.id)
        self.item = make.booking_item(self.booking.id, status=BookingItemStatus.REJECTED)
        self.plan = make.itinerary(self.booking.id)
        self.customer = customer
        self.versions = (self.booking.version, self.lead.version, self.item.version)
        with store.unit_of_work() as uow:
            uow.locations.add(location)
            uow.customers.add(customer)
            uow.travelers.add(traveler)
            uow.slots.add(self.slot)
            uow.bookings.add(self.booking)
            uow.leads.add(self.lead)
            uow.booking_items.add(self.item)
            uow.itineraries.add(self.plan)
            uow.commit()


@pytest.fixture
def world(store: MemoryStore, clock: FixedClock) -> _World:
    return _World(store, clock)


def _calls(world: _World) -> dict[str, Callable[[BookingCore], Any]]:
    booking, day = world.booking.id, world.plan.days[0].day
    on = world.slot.starts_at.date()
    return {
        "bookings.get": lambda c: c.bookings.get(booking, principal=WEBHOOK),
        "bookings.update": lambda c: c.bookings.update(
            booking, BookingChanges(referral_source="google"), principal=WEBHOOK
        ),
        "bookings.transition": lambda c: c.bookings.transition(
            booking, "confirmed", principal=WEBHOOK
        ),
        "bookings.cancel": lambda c: c.bookings.cancel(booking, principal=WEBHOOK),
        "bookings.add_note": lambda c: c.bookings.add_note(booking, "hi", principal=WEBHOOK),
        "leads.assign": lambda c: c.leads.assign(
            world.lead.id, StaffId(uuid4()), principal=WEBHOOK
        ),
        "leads.move": lambda c: c.leads.move(world.lead.id, "contacted", principal=WEBHOOK),
        "quotations.expire_due": lambda c: c.quotations.expire_due(principal=WEBHOOK),
        "items.request_again": lambda c: c.items.request_again(world.item.id, principal=WEBHOOK),
        "items.cancel": lambda c: c.items.cancel(world.item.id, principal=WEBHOOK),
        "trips.create": lambda c: c.trips.create(
            world.customer.id, "Goa", starts_on=on, ends_on=on, principal=WEBHOOK
        ),
        "itineraries.remove_day": lambda c: c.itineraries.remove_day(
            booking, day, principal=WEBHOOK
        ),
        "waitlists.offer": lambda c: c.waitlists.offer(world.slot.id, principal=WEBHOOK),
        "waitlists.expire_offers": lambda c: c.waitlists.expire_offers(principal=WEBHOOK),
        "communications.send_due_reminders": lambda c: c.communications.send_due_reminders(
            principal=WEBHOOK, within=timedelta(days=30)
        ),
        "communications.send_to_staff": lambda c: c.communications.send_to_staff(
            booking,
            StaffId(uuid4()),
            "booking_confirmation",
            principal=WEBHOOK,
            idempotency_key="k",
        ),
        "communications.resend_stalled": lambda c: c.communications.resend_stalled(
            principal=WEBHOOK
        ),
    }


@pytest.mark.parametrize(
    "call",
    [
        "bookings.get",
        "bookings.update",
        "bookings.transition",
        "bookings.cancel",
        "bookings.add_note",
        "leads.assign",
        "leads.move",
        "quotations.expire_due",
        "items.request_again",
        "items.cancel",
        "trips.create",
        "itineraries.remove_day",
        "waitlists.offer",
        "waitlists.expire_offers",
        "communications.send_due_reminders",
        "communications.send_to_staff",
        "communications.resend_stalled",
    ],
)
def test_a_webhook_is_refused_every_staff_only_change(
    call: str, world: _World, core: BookingCore, store: MemoryStore
) -> None:
    with pytest.raises((PermissionDeniedError, NotFoundError)):
        _calls(world)[call](core)
    with store.unit_of_work() as uow:  # nothing was written
        booking = uow.bookings.get(world.booking.id)
        lead = uow.leads.get(world.lead.id)
        item = uow.booking_items.get(world.item.id)
        plan = uow.itineraries.get_for_booking(world.booking.id)
        assert booking is not None
        assert lead is not None
        assert item is not None
        assert plan is not None
        assert (booking.version, lead.version, item.version) == world.versions
        assert plan.days == world.plan.days
        assert booking.status == "pending"
        assert lead.assignee_id is None
        assert item.status is BookingItemStatus.REJECTED
        assert not uow.audit.list_for("booking", world.booking.id)
        assert not uow.audit.list_for("lead", world.lead.id)


def test_a_webhook_holds_no_permission_but_applies_provider_reports() -> None:
    assert policy.may_apply_provider_report(WEBHOOK)
    assert policy.may_apply_provider_report(Principal.system())
    assert not any(WEBHOOK.has(p) for p in policy.Permission)
    assert WEBHOOK.actor.kind is ActorKind.WEBHOOK
