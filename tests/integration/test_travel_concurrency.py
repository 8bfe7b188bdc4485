"""The travel flow under concurrency on PostgreSQL: a quotation approved by four callers at
once makes one booking; the last two suppliers confirming at once still move the booking to
supplier_confirmed; two revisions of one version at once leave one current revision, and so do two
counter-offers to one rejected version."""

from __future__ import annotations

from typing import Any
from uuid import uuid4

import pytest
from tests._threads import at_once
from tests.integration._quotations import send_two_hotels, travel_core

from bookingcore import (
    BookingCore,
    BookingError,
    NewTraveler,
    Principal,
    StaffId,
    StaffRole,
    TravelerDetails,
)
from bookingcore.domain import Booking, Quotation, QuotationStatus
from bookingcore.testing import FixedClock
from bookingcore_adapters.sql import SqlStore

pytestmark = pytest.mark.postgres

ADMIN = Principal.staff(StaffId(uuid4()), StaffRole.ADMIN)


@pytest.fixture
def sent(pg_store: SqlStore) -> tuple[BookingCore, Quotation, list[Any]]:
    clock = FixedClock()
    core = travel_core(pg_store, clock)
    quotation, suppliers = send_two_hotels(core, clock, ADMIN)
    return core, quotation, suppliers


def test_four_approvals_at_once_make_one_booking(sent: Any) -> None:
    core, quotation, _ = sent
    party = [NewTraveler(TravelerDetails("Asha Rao"), is_primary=True)]
    results = at_once(4, lambda _: core.quotations.approve(quotation.id, party, principal=ADMIN))
    booked = [r for r in results if isinstance(r, Booking)]
    assert len(booked) == 1, results
    assert all(isinstance(r, BookingError) for r in results if not isinstance(r, Booking))
    listed = core.bookings.list(principal=ADMIN).items
    assert [b.id for b in listed] == [booked[0].id]
    stored = core.quotations.get(quotation.id, principal=ADMIN)
    assert (stored.status, stored.booking_id) == (QuotationStatus.APPROVED, booked[0].id)
    slot = core.catalog.get_slot(quotation.slot_id, principal=ADMIN)
    assert slot.seats_held == 1


def test_the_last_two_suppliers_confirming_at_once_confirm_the_booking(sent: Any) -> None:
    core, quotation, suppliers = sent
    party = [NewTraveler(TravelerDetails("Asha Rao"), is_primary=True)]
    booking = core.quotations.approve(quotation.id, party, principal=ADMIN)
    core.payments.record_manual_payment(
        booking.id, booking.total, principal=ADMIN, reference="CASH-1"
    )
    assert core.bookings.get(booking.id, principal=ADMIN).status == "payment_confirmed"
    items = core.items.for_booking(booking.id, principal=ADMIN)
    users = {
        s.id: Principal.staff(StaffId(uuid4()), StaffRole.SUPPLIER, supplier_id=s.id)
        for s in suppliers
    }
    results = at_once(
        2,
        lambda n: core.items.confirm(items[n].id, principal=users[items[n].supplier_id]),
    )
    assert not [r for r in results if isinstance(r, Exception)], results
    assert core.bookings.get(booking.id, principal=ADMIN).status == "supplier_confirmed"


def test_two_revisions_of_one_version_at_once_leave_one_current_revision(sent: Any) -> None:
    core, quotation, _ = sent
    results = at_once(
        2, lambda n: core.quotations.revise(quotation.id, travelers=n + 1, principal=ADMIN)
    )
    made = [r for r in results if isinstance(r, Quotation)]
    assert len(made) == 1, results
    revisions = core.quotations.revisions(quotation.reference, principal=ADMIN)
    assert [(q.revision, q.status) for q in revisions] == [
        (1, QuotationStatus.SUPERSEDED),
        (2, QuotationStatus.DRAFT),
    ]


def test_two_counter_offers_to_one_rejected_version_at_once_make_one_revision(sent: Any) -> None:
    core, quotation, _ = sent
    core.quotations.reject(quotation.id, principal=ADMIN, reason="too dear")
    results = at_once(
        2, lambda n: core.quotations.revise(quotation.id, travelers=n + 1, principal=ADMIN)
    )
    made = [r for r in results if isinstance(r, Quotation)]
    assert len(made) == 1, results
    assert all(isinstance(r, BookingError) for r in results if not isinstance(r, Quotation))
    revisions = core.quotations.revisions(quotation.reference, principal=ADMIN)
    assert [(q.revision, q.status) for q in revisions] == [
        (1, QuotationStatus.REJECTED),
        (2, QuotationStatus.DRAFT),
    ]
