"""Suppliers and payment in either order end at ``supplier_confirmed``, on every backend.

The last supplier confirming after the payment moves the booking on
(``core.items.confirm``); every supplier confirming before the payment has the
payment move it on in its own transaction, by the ``suppliers`` system
principal, with no handler to install and whatever the dispatch mode.
"""

from __future__ import annotations

from typing import Literal
from uuid import uuid4

import pytest
from tests.integration._quotations import send_two_hotels, travel_core

from bookingcore import (
    NewTraveler,
    Principal,
    StaffId,
    StaffRole,
    TravelerDetails,
    ValidationError,
)
from bookingcore.domain import Booking
from bookingcore.testing import FixedClock
from bookingcore_adapters.memory import MemoryStore
from bookingcore_adapters.sql import SqlStore

ADMIN = Principal.staff(StaffId(uuid4()), StaffRole.ADMIN)


class Agency:
    """A booking of two suppliers' items, made from an approved quotation."""

    def __init__(
        self, store: MemoryStore | SqlStore, dispatch: Literal["inline", "deferred"]
    ) -> None:
        clock = FixedClock()
        self.core = core = travel_core(store, clock, dispatch=dispatch)
        quotation, _ = send_two_hotels(core, clock, ADMIN)
        party = [NewTraveler(TravelerDetails("Asha Rao"), is_primary=True)]
        self.booking: Booking = core.quotations.approve(quotation.id, party, principal=ADMIN)

    def confirm_all(self) -> None:
        for item in self.core.items.for_booking(self.booking.id, principal=ADMIN):
            assert item.supplier_id is not None
            supplier = Principal.staff(
                StaffId(uuid4()), StaffRole.SUPPLIER, supplier_id=item.supplier_id
            )
            self.core.items.confirm(item.id, principal=supplier, supplier_reference=f"R-{item.id}")

    def pay(self) -> None:
        """Ask for the payment, then record it in full (a captured payment)."""
        self.core.bookings.transition(self.booking.id, "payment_pending", principal=ADMIN)
        booking = self.core.bookings.get(self.booking.id, principal=ADMIN)
        self.core.payments.record_manual_payment(
            booking.id, booking.total, principal=ADMIN, reference="CASH-1"
        )

    def statuses(self) -> list[str]:
        return [e.to_status for e in self.core.bookings.history(self.booking.id, principal=ADMIN)]

    def status(self) -> str:
        return self.core.bookings.get(self.booking.id, principal=ADMIN).status


@pytest.mark.parametrize("dispatch", ["inline", "deferred"])
class TestEitherOrder:
    def test_paid_then_confirmed(
        self, any_store: MemoryStore | SqlStore, dispatch: Literal["inline", "deferred"]
    ) -> None:
        agency = Agency(any_store, dispatch)
        agency.pay()
        assert agency.status() == "payment_confirmed"
        agency.confirm_all()
        assert agency.status() == "supplier_confirmed"
        assert agency.statuses()[-2:] == ["payment_confirmed", "supplier_confirmed"]

    def test_confirmed_then_paid(
        self, any_store: MemoryStore | SqlStore, dispatch: Literal["inline", "deferred"]
    ) -> None:
        agency = Agency(any_store, dispatch)
        agency.confirm_all()
        assert agency.status() == "booking_created"
        agency.pay()
        assert agency.status() == "supplier_confirmed"
        history = agency.core.bookings.history(agency.booking.id, principal=ADMIN)
        assert [e.to_status for e in history][-2:] == ["payment_confirmed", "supplier_confirmed"]
        assert history[-1].actor.kind.value == "system"
        assert agency.core.events.subscriptions == ()

    def test_confirmed_then_staff_cannot_mark_it_paid_by_hand(
        self, any_store: MemoryStore | SqlStore, dispatch: Literal["inline", "deferred"]
    ) -> None:
        agency = Agency(any_store, dispatch)
        agency.confirm_all()
        agency.core.bookings.transition(agency.booking.id, "payment_pending", principal=ADMIN)
        with pytest.raises(ValidationError) as refused:
            agency.core.bookings.transition(agency.booking.id, "payment_confirmed", principal=ADMIN)
        assert refused.value.fields == ("status",)
        assert agency.status() == "payment_pending"

    def test_one_item_still_waiting_leaves_the_paid_booking_at_payment_confirmed(
        self, any_store: MemoryStore | SqlStore, dispatch: Literal["inline", "deferred"]
    ) -> None:
        agency = Agency(any_store, dispatch)
        first, _ = agency.core.items.for_booking(agency.booking.id, principal=ADMIN)
        assert first.supplier_id is not None
        supplier = Principal.staff(
            StaffId(uuid4()), StaffRole.SUPPLIER, supplier_id=first.supplier_id
        )
        agency.core.items.confirm(first.id, principal=supplier, supplier_reference="R-1")
        agency.pay()
        assert agency.status() == "payment_confirmed"
