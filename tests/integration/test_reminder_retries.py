"""A reminder that failed in a way that may work later is tried again by a later run
of the reminder job, once per retry however many workers run it at once, on every
backend (PostgreSQL's row locks included)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from tests._threads import all_at_once

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
from bookingcore.domain import Booking, CommunicationStatus, CommunicationType
from bookingcore.testing import FixedClock, RecordingNotifier, SequentialIds
from bookingcore_adapters.memory import MemoryStore
from bookingcore_adapters.sql import SqlStore

ADMIN = Principal.staff(StaffId(SequentialIds().new_id()), StaffRole.ADMIN)
JOBS = Principal.system("reminders")
BOOKINGS = 6


def _bookings(core: BookingCore) -> list[Booking]:
    """``BOOKINGS`` customers, each booked on a slot starting 1, 2, ... hours ahead."""
    camp = core.catalog.add_location("CAMP", "Base camp", principal=ADMIN)
    booked = []
    for number in range(BOOKINGS):
        customer = core.customers.register(
            f"+9198123456{number:02d}", name=f"Traveler {number}", principal=ADMIN
        ).customer
        slot = core.catalog.create_slot(
            location_id=camp.id,
            starts_at=core.context.now() + timedelta(hours=1 + number),
            price_per_traveler=Money("1000", "INR"),
            principal=ADMIN,
        )
        request = BookingRequest(
            slot.id,
            [NewTraveler(TravelerDetails(f"Traveler {number}"), is_primary=True)],
            customer_id=customer.id,
        )
        booked.append(core.bookings.book(request, principal=ADMIN))
    return booked


@pytest.mark.parametrize("retry_fails", [False, True])
def test_two_workers_at_once_send_each_due_retry_once(
    any_store: MemoryStore | SqlStore, retry_fails: bool
) -> None:
    """Every reminder fails retryably; 15 minutes later two reminder jobs race over
    them: each is handed to the notifier again exactly once (two attempts in all),
    also when that retry fails again at once (the other run, finding it failed
    again, leaves it to a later run); a third run sends nothing before the wait."""
    notifier = RecordingNotifier()
    clock = FixedClock()
    core = BookingCore(
        uow_factory=any_store.unit_of_work, clock=clock, ids=SequentialIds(), notifier=notifier
    )
    booked = _bookings(core)
    notifier.fail_next(times=BOOKINGS, reason="HTTP 503")
    failed = core.communications.send_due_reminders(principal=JOBS)
    assert [m.status for m in failed] == [CommunicationStatus.FAILED] * BOOKINGS
    assert notifier.sent == []
    before = notifier.attempts

    clock.advance(minutes=15)
    if retry_fails:
        notifier.fail_next(times=BOOKINGS, reason="HTTP 503")
    results = all_at_once([lambda: core.communications.send_due_reminders(principal=JOBS)] * 2)

    assert notifier.attempts - before == BOOKINGS
    ids = {m.id for m in failed}
    assert len(notifier.sent) == (0 if retry_fails else BOOKINGS)
    assert {m.communication_id for m in notifier.sent} <= ids
    # Each run returns the reminders it found due, as it or the other run left them.
    for run in results:
        assert {m.id for m in run} <= ids
    expected = CommunicationStatus.FAILED if retry_fails else CommunicationStatus.SENT
    for booking in booked:
        [reminder] = [
            m
            for m in core.communications.for_booking(booking.id, principal=ADMIN)
            if m.type is CommunicationType.REMINDER
        ]
        assert (reminder.status, reminder.attempts) == (expected, 2)
    attempts = notifier.attempts
    clock.advance(minutes=14)
    assert core.communications.send_due_reminders(principal=JOBS) == []
    assert notifier.attempts == attempts
