"""policy.booking_for / history_for: what a principal reads of staff notes, by kind."""

from __future__ import annotations

from uuid import UUID

import pytest

from bookingcore import Principal, StaffId, StaffRole
from bookingcore.domain import policy
from bookingcore.domain.lifecycle import LifecycleEvent
from bookingcore.domain.values import Actor, ActorKind, BookingId, CustomerId, PartnerId, SupplierId
from bookingcore.testing.builders import T0, Builder

CUSTOMER = Principal.customer(CustomerId(UUID(int=1)))
PARTNER = Principal.partner(PartnerId(UUID(int=2)))
STAFF = Principal.staff(StaffId(UUID(int=3)), StaffRole.STAFF)
ADVISOR = Principal.staff(StaffId(UUID(int=4)), StaffRole.ADVISOR)
SUPPLIER = Principal.staff(
    StaffId(UUID(int=5)), StaffRole.SUPPLIER, supplier_id=SupplierId(UUID(int=6))
)
SYSTEM = Principal.system("jobs")
WEBHOOK = Principal.webhook("razorpay")
READERS = {
    "customer": CUSTOMER,
    "partner": PARTNER,
    "staff": STAFF,
    "advisor": ADVISOR,
    "supplier": SUPPLIER,
    "system": SYSTEM,
    "webhook": WEBHOOK,
}
STAFF_LIKE = {"staff", "advisor", "supplier", "system"}


def _event(actor: Actor, version: int) -> LifecycleEvent:
    return LifecycleEvent(
        id=UUID(int=100 + version),
        booking_id=BookingId(UUID(int=99)),
        booking_version=version,
        lifecycle="reservation",
        from_status="pending",
        to_status="confirmed",
        actor=actor,
        occurred_at=T0,
        note=f"note by {actor}",
        idempotency_key=f"key-{version}",
        request_fingerprint=f"fp-{version}",
        metadata={"desk": f"by {actor}"},
    )


@pytest.mark.parametrize("reader", sorted(READERS))
def test_only_staff_and_the_system_read_a_booking_s_internal_notes(reader: str) -> None:
    b = Builder()
    location = b.location()
    customer = b.customer()
    booking = b.booking(
        customer.id, b.slot(location.id), [b.traveler(customer.id).id], internal_notes="VIP"
    )

    shaped = policy.booking_for(READERS[reader], booking)

    assert shaped.internal_notes == ("VIP" if reader in STAFF_LIKE else None)
    assert booking.internal_notes == "VIP"  # the stored booking is left alone
    assert shaped.reference == booking.reference


@pytest.mark.parametrize("reader", sorted(READERS))
def test_a_move_s_note_is_read_by_staff_and_by_whoever_made_the_move(reader: str) -> None:
    principal = READERS[reader]
    events = [_event(p.actor, n) for n, p in enumerate(READERS.values(), start=1)]

    shaped = policy.history_for(principal, events)

    assert [(e.id, e.actor, e.to_status) for e in shaped] == [
        (e.id, e.actor, e.to_status) for e in events
    ]
    for original, seen in zip(events, shaped, strict=True):
        readable = reader in STAFF_LIKE or original.actor == principal.actor
        assert policy.sees_move_note(principal, original.actor) is readable
        if readable:
            assert seen == original
        else:
            assert (seen.note, dict(seen.metadata)) == (None, {})
            assert (seen.idempotency_key, seen.request_fingerprint) == (None, None)


def test_a_customer_does_not_read_another_customer_s_note() -> None:
    other = Actor(ActorKind.CUSTOMER, str(UUID(int=7)))

    (seen,) = policy.history_for(CUSTOMER, [_event(other, 1)])

    assert seen.note is None
