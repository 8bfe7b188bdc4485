"""Events, history, audit, messages and documents round-trip through JSON unchanged."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import uuid4

import pytest

from bookingcore.domain.audit import AuditAction, AuditEntry
from bookingcore.domain.communications import Channel, Communication, CommunicationType
from bookingcore.domain.documents import Document, DocumentKind
from bookingcore.domain.events import (
    AttendanceRecorded,
    BookingCreated,
    BookingPaid,
    BookingRescheduled,
    BookingsArchived,
    BookingStatusChanged,
    BookingUnarchived,
    BookingUpdated,
    CommunicationStatusChanged,
    CustomerRegistered,
    Delivery,
    DocumentGenerated,
    DomainEvent,
    FamilyChanged,
    RefundReversed,
    RetryPolicy,
    SlotCancelled,
    SlotRescheduled,
    TravelerChanged,
    WaitlistOffered,
    WaitlistOfferEnded,
    event_types,
)
from bookingcore.domain.jobs import JobRequested
from bookingcore.domain.lifecycle import LifecycleEvent
from bookingcore.domain.sources import BookingSource
from bookingcore.domain.values import Actor, ActorKind, Money
from bookingcore.errors import ValidationError
from bookingcore.serialization import event_from_dict, event_to_dict, from_dict, to_dict

T = datetime(2026, 3, 1, 8, 30, tzinfo=UTC)
STAFF = Actor(ActorKind.STAFF, "42")


def _events() -> list[DomainEvent]:
    common: dict[str, Any] = {"occurred_at": T}
    return [
        BookingsArchived(
            id=uuid4(),
            booking_ids=(uuid4(), uuid4()),
            ended_before=datetime(2025, 3, 1, tzinfo=UTC),
            actor=Actor.system("jobs"),
            **common,
        ),
        BookingUnarchived(id=uuid4(), booking_id=uuid4(), actor=STAFF, reason="dispute", **common),
        AttendanceRecorded(
            id=uuid4(),
            booking_id=uuid4(),
            slot_id=uuid4(),
            customer_id=uuid4(),
            actor=STAFF,
            attended=(uuid4(), uuid4()),
            no_shows=(uuid4(),),
            partner_id=uuid4(),
            **common,
        ),
        BookingCreated(
            id=uuid4(),
            booking_id=uuid4(),
            reference="BK-1",
            customer_id=uuid4(),
            slot_id=uuid4(),
            lifecycle="reservation",
            status="pending",
            source=BookingSource.PARTNER,
            actor=STAFF,
            travelers=3,
            partner_id=uuid4(),
            **common,
        ),
        BookingStatusChanged(
            id=uuid4(),
            booking_id=uuid4(),
            lifecycle="travel",
            from_status="payment_pending",
            to_status="payment_confirmed",
            actor=Actor(ActorKind.WEBHOOK, "razorpay"),
            note="pay_1",
            metadata={"provider": "razorpay"},
            **common,
        ),
        BookingUpdated(
            id=uuid4(), booking_id=uuid4(), fields=("internal_notes",), actor=STAFF, **common
        ),
        CustomerRegistered(id=uuid4(), customer_id=uuid4(), actor=STAFF, **common),
        TravelerChanged(
            id=uuid4(),
            traveler_id=uuid4(),
            customer_id=uuid4(),
            action="deleted",
            actor=STAFF,
            **common,
        ),
        FamilyChanged(
            id=uuid4(),
            family_id=uuid4(),
            customer_id=uuid4(),
            action="joined",
            actor=Actor(ActorKind.CUSTOMER, "c-1"),
            **common,
        ),
        DocumentGenerated(
            id=uuid4(), document_id=uuid4(), booking_id=uuid4(), kind="invoice", **common
        ),
        CommunicationStatusChanged(
            id=uuid4(),
            communication_id=uuid4(),
            booking_id=None,
            customer_id=uuid4(),
            status="delivered",
            **common,
        ),
        # ---- jobs (issue 23)
        JobRequested(
            id=uuid4(),
            job="imports.run",
            args={"import_id": "7f1c", "path": "/uploads/a.csv", "chunks": [1, 2]},
            lock="import:7f1c",
            **common,
        ),
        BookingRescheduled(
            id=uuid4(),
            booking_id=uuid4(),
            from_slot_id=uuid4(),
            to_slot_id=uuid4(),
            from_starts_at=T + timedelta(days=3),
            to_starts_at=T + timedelta(days=5),
            price_difference="-250.00",
            currency="INR",
            actor=STAFF,
            note="rain",
            **common,
        ),
        BookingPaid(
            id=uuid4(),
            booking_id=uuid4(),
            payment_id=uuid4(),
            status="confirmed",
            paid="2000.00",
            currency="INR",
            actor=STAFF,
            partner_id=uuid4(),
            **common,
        ),
        WaitlistOffered(
            id=uuid4(),
            entry_id=uuid4(),
            slot_id=uuid4(),
            customer_id=uuid4(),
            seats=2,
            offer_expires_at=T + timedelta(hours=24),
            communication_id=uuid4(),
            **common,
        ),
        WaitlistOfferEnded(
            id=uuid4(),
            entry_id=uuid4(),
            slot_id=uuid4(),
            customer_id=uuid4(),
            seats=2,
            outcome="booked",
            booking_id=uuid4(),
            **common,
        ),
        SlotCancelled(
            id=uuid4(),
            slot_id=uuid4(),
            reason="storm warning",
            booking_ids=(uuid4(), uuid4()),
            waitlist_entry_ids=(uuid4(),),
            communication_ids=(uuid4(), uuid4(), uuid4()),
            **common,
        ),
        SlotRescheduled(
            id=uuid4(),
            slot_id=uuid4(),
            from_starts_at=datetime(2026, 12, 5, 9, 30, tzinfo=UTC),
            to_starts_at=datetime(2026, 12, 5, 12, 30, tzinfo=UTC),
            reason="weather delay",
            booking_ids=(uuid4(), uuid4()),
            communication_ids=(uuid4(),),
            **common,
        ),
        RefundReversed(
            id=uuid4(),
            payment_id=uuid4(),
            refund_id=uuid4(),
            booking_id=uuid4(),
            provider="stripe",
            amount=Money("1000", "INR"),
            refunded_amount=Money("0", "INR"),
            payment_status="captured",
            actor=Actor(ActorKind.WEBHOOK, "stripe"),
            refund_reference="re_1",
            reason="stripe refund.failed",
            **common,
        ),
    ]


@pytest.mark.parametrize("event", _events(), ids=lambda e: e.name)
def test_every_library_event_round_trips_by_name(event: DomainEvent) -> None:
    data = json.loads(json.dumps(event_to_dict(event)))
    assert data["name"] == event.name
    assert event_from_dict(data) == event


def test_every_registered_library_event_is_covered() -> None:
    library = {
        name for name, cls in event_types().items() if cls.__module__.startswith("bookingcore")
    }
    assert library == {event.name for event in _events()}


def test_an_unknown_event_name_is_a_validation_error() -> None:
    with pytest.raises(ValidationError) as caught:
        event_from_dict({"name": "booking.teleported", "data": {}})
    assert caught.value.fields == ("name",)


def test_a_subclass_registers_itself_and_round_trips() -> None:
    import attrs  # noqa: PLC0415 - local to the test that defines a class

    @attrs.frozen(kw_only=True)
    class InvoicePaid(DomainEvent):
        name = "test.invoice_paid"
        invoice: str

    paid = InvoicePaid(id=uuid4(), occurred_at=T, invoice="INV-9")
    assert event_types()["test.invoice_paid"] is InvoicePaid
    assert event_from_dict(json.loads(json.dumps(event_to_dict(paid)))) == paid


def _round_trip(value: Any) -> Any:
    return from_dict(json.loads(json.dumps(to_dict(value))), type(value))


def test_history_audit_message_document_and_delivery_round_trip() -> None:
    move = LifecycleEvent(
        id=uuid4(),
        booking_id=uuid4(),
        booking_version=2,
        lifecycle="reservation",
        from_status="pending",
        to_status="confirmed",
        actor=STAFF,
        occurred_at=T,
        note="paid",
        idempotency_key="k",
        request_fingerprint="f",
        metadata={"till": "3"},
    )
    entry = AuditEntry(
        id=uuid4(),
        entity="booking",
        entity_id=uuid4(),
        action=AuditAction.UPDATED,
        actor=STAFF,
        occurred_at=T,
        old_values={"internal_notes": None, "tags": ["a"]},
        new_values={"internal_notes": "VIP", "count": 2},
        reason="asked",
        ip_address="203.0.113.1",
        user_agent="ua",
    )
    message = Communication(
        id=uuid4(),
        customer_id=uuid4(),
        booking_id=uuid4(),
        type=CommunicationType.REMINDER,
        channel=Channel.SMS,
        recipient="+919876543210",
        created_at=T,
        created_by=STAFF,
        content="See you",
        dedupe_key="reminder:1",
    )
    message.record("delivered", T + timedelta(minutes=1), provider_message_id="SM1")
    document = Document(
        id=uuid4(),
        booking_id=uuid4(),
        kind=DocumentKind.VOUCHER,
        filename="voucher.html",
        media_type="text/html",
        content="<p>ü</p>",
        created_at=T,
    )
    delivery = Delivery(uuid4(), "documents.invoice")
    delivery.fail("boom", T, RetryPolicy())
    for value in (move, entry, message, document, delivery):
        assert _round_trip(value) == value
    assert _round_trip(delivery).id == delivery.id
