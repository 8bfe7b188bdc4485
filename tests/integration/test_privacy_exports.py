"""GDPR export and erasure, and streaming booking exports to CSV and XLSX.

Each test runs on memory, SQLite and PostgreSQL.
"""

from __future__ import annotations

import csv
import io
import json
import tracemalloc
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from uuid import uuid4

import openpyxl
import pytest
from tests._sqlite import sqlite_file_store

from bookingcore import (
    BookingChanges,
    BookingCore,
    BookingFilter,
    BookingRequest,
    Money,
    NewTraveler,
    NotFoundError,
    PermissionDeniedError,
    Principal,
    SavedTraveler,
    StaffId,
    StaffRole,
    TravelerDetails,
    ValidationError,
)
from bookingcore.domain.bookings import Booking
from bookingcore.domain.customers import Customer
from bookingcore.domain.documents import Document, DocumentKind
from bookingcore.domain.inbox import WebhookReceipt
from bookingcore.domain.partner_webhooks import WebhookDelivery, WebhookTopic
from bookingcore.domain.queries import CustomerFilter
from bookingcore.domain.values import DocumentId, TravelerId
from bookingcore.serialization import event_to_dict
from bookingcore.services import BOOKING_EXPORT_COLUMNS
from bookingcore.services.webhooks import booking_snapshot
from bookingcore.testing import FixedClock, RecordingNotifier, SequentialIds
from bookingcore.testing.builders import Builder
from bookingcore_adapters.importers import write_rows_csv, write_rows_xlsx
from bookingcore_adapters.memory import MemoryStore
from bookingcore_adapters.sql import SqlStore

ADMIN = Principal.staff(StaffId(SequentialIds().new_id()), StaffRole.ADMIN)
PHONE = "+919812345678"
NAME = "Asha Rao"
EMAIL = "asha.rao@example.com"
TRAVELER = "Ravi Kumar"
NEEDS = "allergic to peanuts"


def _core(store: MemoryStore | SqlStore) -> BookingCore:
    return BookingCore(
        uow_factory=store.unit_of_work,
        clock=FixedClock(),
        ids=SequentialIds(),
        notifier=RecordingNotifier(),
    )


def _booked(core: BookingCore, bookings: int = 2) -> tuple[Customer, list[Booking]]:
    location = core.catalog.add_location("BASE", "Base camp", principal=ADMIN)
    customer = core.customers.register(PHONE, principal=ADMIN, name=NAME, email=EMAIL).customer
    made = []
    traveler_id: TravelerId | None = None
    for index in range(bookings):
        slot = core.catalog.create_slot(
            location_id=location.id,
            starts_at=core.context.now() + timedelta(days=10 + index),
            price_per_traveler=Money("1000", "INR"),
            capacity=4,
            principal=ADMIN,
        )
        who = (
            NewTraveler(TravelerDetails(TRAVELER, special_requirements=NEEDS), is_primary=True)
            if traveler_id is None
            else SavedTraveler(traveler_id, is_primary=True)
        )
        booking = core.bookings.book(
            BookingRequest(
                slot.id, [who], customer_id=customer.id, internal_notes=f"call {NAME} first"
            ),
            principal=ADMIN,
        )
        traveler_id = booking.travelers[0].traveler_id
        core.communications.send(booking.id, "confirmation", principal=ADMIN)
        made.append(booking)
    waiting = Builder().waitlist_entry(made[0].slot_id, customer.id, notes=f"{NAME} prefers SMS")
    with core.context.uow_factory() as uow:
        uow.waitlist.add(waiting)
        uow.commit()
    return customer, made


def _secrets_in(text: str) -> list[str]:
    return [s for s in (PHONE, NAME, EMAIL, TRAVELER, NEEDS, "Asha", "Ravi") if s in text]


class TestGdprExport:
    def test_the_export_holds_everything_stored_about_the_customer(
        self, any_store: MemoryStore | SqlStore
    ) -> None:
        core = _core(any_store)
        customer, bookings = _booked(core)

        data = core.privacy.export_customer(customer.id, principal=ADMIN)

        text = json.dumps(data)
        assert data["customer"]["phone"] == PHONE
        assert [t["name"] for t in data["travelers"]] == [TRAVELER]
        assert {b["reference"] for b in data["bookings"]} == {b.reference for b in bookings}
        assert len(data["communications"]) == 2
        assert any(e["action"] == "created" for e in data["audit"])
        assert data["payments"] == []
        assert [w["notes"] for w in data["waitlist_entries"]] == [f"{NAME} prefers SMS"]
        assert data["certificates"] == []
        assert set(_secrets_in(text)) >= {PHONE, NAME, EMAIL, TRAVELER, NEEDS}
        mine = core.privacy.export_customer(customer.id, principal=Principal.customer(customer.id))
        assert mine["customer"]["id"] == str(customer.id)

    def test_a_customer_s_own_export_holds_no_staff_notes(
        self, any_store: MemoryStore | SqlStore
    ) -> None:
        """Staff notes stay with staff: the customer's own export has their bookings
        without internal notes and the status moves staff made without their note;
        staff exporting for them still get both."""
        core = _core(any_store)
        customer, bookings = _booked(core)
        core.bookings.transition(
            bookings[0].id, "confirmed", principal=ADMIN, note="VIP, upsell the jeep"
        )

        mine = core.privacy.export_customer(customer.id, principal=Principal.customer(customer.id))

        text = json.dumps(mine)
        assert f"call {NAME} first" not in text
        assert "upsell the jeep" not in text
        assert {b["reference"] for b in mine["bookings"]} == {b.reference for b in bookings}
        assert any(e["to_status"] == "confirmed" for e in mine["status_history"])
        staff_copy = json.dumps(core.privacy.export_customer(customer.id, principal=ADMIN))
        assert f"call {NAME} first" in staff_copy
        assert "upsell the jeep" in staff_copy

    def test_a_customer_s_own_export_names_no_one_else_s_address_or_browser(
        self, any_store: MemoryStore | SqlStore
    ) -> None:
        """Audit entries keep where each change came from; in the customer's own export
        only the changes they made themself carry it (staff addresses stay with staff)."""
        core = _core(any_store)
        customer = core.customers.register("+919812345678", principal=ADMIN).customer
        desk = ADMIN.with_origin(ip_address="203.0.113.9", user_agent="StaffDesk/1.0")
        core.customers.complete_profile(customer.id, principal=desk, name="Meera")
        me = Principal.customer(customer.id)
        own = me.with_origin(ip_address="198.51.100.7", user_agent="TrekApp/2.0")
        core.customers.complete_profile(customer.id, principal=own, email="meera@example.com")

        mine = core.privacy.export_customer(customer.id, principal=me)

        text = json.dumps(mine)
        assert "203.0.113.9" not in text
        assert "StaffDesk" not in text
        assert "198.51.100.7" in text
        assert "TrekApp/2.0" in text
        assert len(mine["audit"]) >= 3
        staff_copy = json.dumps(core.privacy.export_customer(customer.id, principal=ADMIN))
        assert "203.0.113.9" in staff_copy
        assert "StaffDesk" in staff_copy

    def test_a_partner_may_not_export_a_customer(self, any_store: MemoryStore | SqlStore) -> None:
        core = _core(any_store)
        customer, _ = _booked(core, 1)
        partner = core.partners.register(
            name="Trek Co",
            company_name="Trek Co",
            contact_email="ops@trek.example",
            principal=ADMIN,
        ).partner
        with pytest.raises(PermissionDeniedError):
            core.privacy.export_customer(customer.id, principal=Principal.partner(partner.id))

    def test_a_provider_s_webhook_may_not_export_erase_or_merge_customers(
        self, any_store: MemoryStore | SqlStore
    ) -> None:
        # A verified callback changes bookings (docs/policy.md); it never reads a
        # customer's whole record, erases one, or merges two.
        core = _core(any_store)
        customer, _ = _booked(core, 1)
        other = core.customers.register("+919800000009", principal=ADMIN).customer
        webhook = Principal.webhook("razorpay")
        with pytest.raises(PermissionDeniedError):
            core.privacy.export_customer(customer.id, principal=webhook)
        with pytest.raises(PermissionDeniedError):
            core.privacy.erase_customer(customer.id, principal=webhook)
        with pytest.raises(PermissionDeniedError):
            core.customers.merge(other.id, customer.id, principal=webhook)
        assert core.customers.get(customer.id, principal=ADMIN).name == NAME
        assert core.customers.get(customer.id, principal=ADMIN).merged_into is None


class TestErasure:
    def test_erased_data_never_comes_back_through_any_read(
        self, any_store: MemoryStore | SqlStore
    ) -> None:
        core = _core(any_store)
        customer, bookings = _booked(core)
        before = core.customers.view(customer.id, principal=ADMIN).stats

        core.privacy.erase_customer(customer.id, principal=ADMIN, reason="GDPR request 113")

        # Counts and money stay.
        view = core.customers.view(customer.id, principal=ADMIN)
        assert view.stats == before
        assert view.customer.name is None
        assert view.customer.email is None
        assert view.customer.phone.e164 != PHONE
        assert view.requirements == []
        assert view.notes == []
        assert [t.name for t in view.travelers] == ["[erased]"]
        assert _secrets_in(repr(view)) == []
        # Searches and lists find nothing by the old data.
        for text in ("Asha", EMAIL, PHONE[-8:]):
            assert core.customers.list(CustomerFilter(text=text), principal=ADMIN).items == []
            assert core.bookings.list(BookingFilter(text=text), principal=ADMIN).items == []
        assert core.customers.find_by_phone(PHONE, principal=ADMIN) is None
        history = core.customers.history(customer.id, principal=ADMIN)
        assert _secrets_in(repr(history)) == []
        # Exports neither.
        exported = json.dumps(core.privacy.export_customer(customer.id, principal=ADMIN))
        assert _secrets_in(exported) == []
        out = io.StringIO()
        write_rows_csv(core.exports.booking_rows(principal=ADMIN), out)
        assert _secrets_in(out.getvalue()) == []
        # The booking travelers keep their price, not their needs.
        stored = core.bookings.get(bookings[0].id, principal=ADMIN)
        assert stored.total == Money("1000", "INR")
        assert stored.travelers[0].special_requirements is None
        # The erasure is on the trail, without the data.
        trail = core.audit.trail("customer", customer.id, principal=ADMIN)
        assert trail[-1].action == "erased"
        assert trail[-1].reason == "GDPR request 113"
        assert _secrets_in(repr(trail)) == []
        # The number is free again: registering it makes a new customer.
        again = core.customers.register(PHONE, principal=ADMIN)
        assert again.created
        assert again.customer.id != customer.id

    def test_the_events_about_their_bookings_in_the_outbox_lose_their_text(
        self, any_store: MemoryStore | SqlStore
    ) -> None:
        """Status changes' notes and metadata values and a reschedule's note, in the
        stored outbox payloads, are erased with the rest (the library's keys kept);
        another customer's events keep theirs."""
        core = _core(any_store)
        customer, bookings = _booked(core)
        core.bookings.transition(
            bookings[0].id,
            "confirmed",
            principal=ADMIN,
            note=f"{NAME} paid in cash",
            metadata={"diet": NEEDS, "waitlist_entry_id": "entry-7"},
        )
        later = core.catalog.create_slot(
            location_id=bookings[1].location_id,
            starts_at=core.context.now() + timedelta(days=30),
            price_per_traveler=Money("1000", "INR"),
            capacity=4,
            principal=ADMIN,
        )
        core.bookings.reschedule(
            bookings[1].id, later.id, principal=ADMIN, reason=f"{NAME} asked by phone"
        )
        other = core.customers.register("+919800000001", principal=ADMIN).customer
        theirs = core.bookings.book(
            BookingRequest(
                bookings[0].slot_id,
                [NewTraveler(TravelerDetails("Meera"), is_primary=True)],
                other.id,
            ),
            principal=ADMIN,
        )
        core.bookings.transition(theirs.id, "confirmed", principal=ADMIN, note="Meera paid")
        mine = [b.id for b in bookings]

        def stored(booking_ids: list[object]) -> str:
            with core.context.uow_factory() as uow:
                found = uow.outbox.list_for_bookings(booking_ids)  # type: ignore[arg-type]
                return json.dumps([event_to_dict(m.event) for m in found])

        assert set(_secrets_in(stored(mine))) >= {NAME, NEEDS}

        core.privacy.erase_customer(customer.id, principal=ADMIN)

        erased = stored(mine)
        assert _secrets_in(erased) == []
        assert '"note": "[erased]"' in erased
        assert '"diet": "[erased]"' in erased
        assert '"waitlist_entry_id": "entry-7"' in erased  # the library's own reference
        assert "Meera paid" in stored([theirs.id])

    def test_only_staff_who_change_everything_erase_and_only_once(
        self, any_store: MemoryStore | SqlStore
    ) -> None:
        core = _core(any_store)
        customer, _ = _booked(core, 1)
        with pytest.raises(PermissionDeniedError):
            core.privacy.erase_customer(customer.id, principal=Principal.customer(customer.id))
        core.privacy.erase_customer(customer.id, principal=ADMIN)
        with pytest.raises(ValidationError):
            core.privacy.erase_customer(customer.id, principal=ADMIN)

    def test_a_merged_customer_cannot_be_erased_or_exported(
        self, any_store: MemoryStore | SqlStore
    ) -> None:
        core = _core(any_store)
        customer, _ = _booked(core, 1)
        other = core.customers.register("+919800000009", principal=ADMIN).customer
        core.customers.merge(other.id, customer.id, principal=ADMIN)
        with pytest.raises(NotFoundError):
            core.privacy.erase_customer(customer.id, principal=ADMIN)
        with pytest.raises(NotFoundError):
            core.privacy.export_customer(customer.id, principal=ADMIN)

    def test_nobody_is_merged_into_an_erased_customer(
        self, any_store: MemoryStore | SqlStore
    ) -> None:
        core = _core(any_store)
        erased, _ = _booked(core, 1)
        core.privacy.erase_customer(erased.id, principal=ADMIN)
        live = core.customers.register(
            "+919800000009", principal=ADMIN, name="Meera Iyer", email="meera@example.com"
        ).customer
        with pytest.raises(ValidationError) as refused:
            core.customers.merge(erased.id, live.id, principal=ADMIN)
        assert [(e.field, e.code) for e in refused.value.errors] == [("survivor_id", "erased")]
        assert core.customers.find_by_phone("+919800000009", principal=ADMIN) == live
        assert core.customers.get(erased.id, principal=ADMIN).name is None

    def test_leads_and_quotations_are_exported_and_their_notes_erased(
        self, any_store: MemoryStore | SqlStore
    ) -> None:
        core = _core(any_store)
        customer, bookings = _booked(core, 1)
        builder = Builder()
        lead = builder.lead(customer.id, notes=f"{NAME} wants a quiet room")
        quotation = builder.quotation(
            customer.id, bookings[0].slot_id, lead_id=lead.id, notes=f"{NAME} pays by card"
        )
        with core.context.uow_factory() as uow:
            uow.leads.add(lead)
            uow.quotations.add(quotation)
            uow.commit()

        data = core.privacy.export_customer(customer.id, principal=ADMIN)
        assert [x["notes"] for x in data["leads"]] == [f"{NAME} wants a quiet room"]
        assert [x["notes"] for x in data["quotations"]] == [f"{NAME} pays by card"]

        core.privacy.erase_customer(customer.id, principal=ADMIN)

        assert core.leads.get(lead.id, principal=ADMIN).notes is None
        assert core.quotations.get(quotation.id, principal=ADMIN).notes is None
        # Money stays: the quotation still adds up.
        assert core.quotations.get(quotation.id, principal=ADMIN).total == quotation.total
        exported = json.dumps(core.privacy.export_customer(customer.id, principal=ADMIN))
        assert _secrets_in(exported) == []

    def test_advisor_notes_on_the_customers_bookings_are_erased(
        self, any_store: MemoryStore | SqlStore
    ) -> None:
        core = _core(any_store)
        customer, bookings = _booked(core, 1)
        core.bookings.add_note(bookings[0].id, f"{NAME} called about {TRAVELER}", principal=ADMIN)

        core.privacy.erase_customer(customer.id, principal=ADMIN)

        notes = core.bookings.notes(bookings[0].id, principal=ADMIN)
        assert len(notes) == 1  # the log keeps that a note was written
        assert _secrets_in(repr(notes)) == []
        view = core.customers.view(customer.id, principal=ADMIN)
        assert _secrets_in(repr(view)) == []
        trail = core.audit.trail("booking", bookings[0].id, principal=ADMIN)
        assert _secrets_in(repr(trail)) == []

    def test_trips_groups_items_itineraries_and_refunds_are_exported_and_erased(
        self, any_store: MemoryStore | SqlStore
    ) -> None:
        core = _core(any_store)
        customer, bookings = _booked(core, 1)
        booking = bookings[0]
        builder = Builder()
        trip = builder.trip(customer.id, name=f"{NAME} honeymoon", notes=f"{TRAVELER} joins")
        group = builder.group(customer.id, group_name=f"{NAME} family")
        item = builder.booking_item(booking.id, description="Kayak")
        plan = builder.itinerary(booking.id)
        payment = builder.payment(booking)
        payment.flag("late_payment", "captured after it was cancelled", now=builder.now)
        refund = builder.refund(payment.id, reason=f"{NAME} fell ill")
        with core.context.uow_factory() as uow:
            uow.trips.add(trip)
            uow.groups.add(group)
            uow.booking_items.add(item)
            uow.itineraries.add(plan)
            uow.payments.add(payment)
            uow.refunds.add(refund)
            uow.commit()

        data = core.privacy.export_customer(customer.id, principal=ADMIN)
        assert [t["name"] for t in data["trips"]] == [f"{NAME} honeymoon"]
        assert [g["group_name"] for g in data["groups"]] == [f"{NAME} family"]
        assert [i["description"] for i in data["booking_items"]] == ["Kayak"]
        assert [i["id"] for i in data["itineraries"]] == [str(plan.id)]
        assert [r["reason"] for r in data["refunds"]] == [f"{NAME} fell ill"]
        assert [[i["code"] for i in p["attention"]] for p in data["payments"]] == [["late_payment"]]

        core.privacy.erase_customer(customer.id, principal=ADMIN)

        with core.context.uow_factory() as uow:
            kept = (
                uow.trips.get(trip.id),
                uow.groups.get(group.id),
                uow.refunds.get(refund.id),
            )
        assert _secrets_in(repr(kept)) == []
        assert kept[2] is not None
        assert kept[2].amount == refund.amount
        exported = json.dumps(core.privacy.export_customer(customer.id, principal=ADMIN))
        assert _secrets_in(exported) == []

    def test_documents_are_exported_and_all_but_invoices_erased(
        self, any_store: MemoryStore | SqlStore
    ) -> None:
        core = _core(any_store)
        customer, bookings = _booked(core, 1)
        booking = bookings[0]

        def document(kind: DocumentKind) -> Document:
            return Document(
                id=DocumentId(uuid4()),
                booking_id=booking.id,
                kind=kind,
                filename=f"{kind}.txt",
                media_type="text/plain",
                content=f"{kind} for {NAME}, {TRAVELER}",
                created_at=core.context.now(),
            )

        voucher, invoice = document(DocumentKind.VOUCHER), document(DocumentKind.INVOICE)
        with core.context.uow_factory() as uow:
            uow.documents.add(voucher)
            uow.documents.add(invoice)
            uow.commit()
        data = core.privacy.export_customer(customer.id, principal=ADMIN)
        assert sorted(d["kind"] for d in data["documents"]) == ["invoice", "voucher"]

        core.privacy.erase_customer(customer.id, principal=ADMIN)

        kept = {d.kind: d for d in core.bookings.documents(booking.id, principal=ADMIN)}
        assert _secrets_in(kept[DocumentKind.VOUCHER].content) == []
        assert kept[DocumentKind.VOUCHER].filename == voucher.filename
        # Invoices are financial records: kept as issued.
        assert kept[DocumentKind.INVOICE].content == invoice.content

    def test_a_failed_messages_provider_reason_naming_the_recipient_is_erased(
        self, any_store: MemoryStore | SqlStore
    ) -> None:
        core = _core(any_store)
        customer, _ = _booked(core, 1)
        with core.context.uow_factory() as uow:
            (message, *_) = uow.communications.list_for_customer(customer.id)
            message.failed_reason = f"invalid 'To' number {PHONE}"
            uow.commit()

        core.privacy.erase_customer(customer.id, principal=ADMIN)

        with core.context.uow_factory() as uow:
            stored = uow.communications.list_for_customer(customer.id)
        assert _secrets_in(repr(stored)) == []
        history = core.customers.history(customer.id, principal=ADMIN)
        assert _secrets_in(repr(history)) == []

    def test_a_bookings_cancellation_reason_referral_source_and_metadata_are_erased(
        self, any_store: MemoryStore | SqlStore
    ) -> None:
        core = _core(any_store)
        customer, bookings = _booked(core, 1)
        booking = bookings[0]
        core.bookings.update(
            booking.id, BookingChanges(referral_source=f"{NAME}'s cousin"), principal=ADMIN
        )
        with core.context.uow_factory() as uow:
            stored = uow.bookings.get(booking.id)
            assert stored is not None
            stored.metadata = {"pickup": f"{NAME}, Hotel Lake View", "channel": "phone"}
            uow.commit()
        core.bookings.cancel(booking.id, principal=ADMIN, reason=f"{TRAVELER} broke a leg")
        data = core.privacy.export_customer(customer.id, principal=ADMIN)
        assert [(e["booking_id"], e["to_status"], e["note"]) for e in data["status_history"]][
            -1
        ] == (str(booking.id), "cancelled", f"{TRAVELER} broke a leg")
        (exported,) = data["bookings"]
        assert exported["cancellation_reason"] == f"{TRAVELER} broke a leg"
        assert exported["referral_source"] == f"{NAME}'s cousin"
        assert exported["metadata"]["pickup"] == f"{NAME}, Hotel Lake View"

        core.privacy.erase_customer(customer.id, principal=ADMIN)

        stored = core.bookings.get(booking.id, principal=ADMIN)
        assert stored.cancellation_reason == "[erased]"
        assert stored.referral_source == "[erased]"
        assert stored.metadata == {"channel": "[erased]", "pickup": "[erased]"}
        assert stored.status == "cancelled"
        assert stored.total == booking.total
        # The status history keeps the moves, not the words.
        moves = core.bookings.history(booking.id, principal=ADMIN)
        assert [m.to_status for m in moves][-1] == "cancelled"
        assert _secrets_in(repr(moves)) == []
        trail = core.audit.trail("booking", booking.id, principal=ADMIN)
        assert _secrets_in(repr(trail)) == []
        exported_after = json.dumps(core.privacy.export_customer(customer.id, principal=ADMIN))
        assert _secrets_in(exported_after) == []
        out = io.StringIO()
        write_rows_csv(core.exports.booking_rows(principal=ADMIN), out)
        assert _secrets_in(out.getvalue()) == []

    def test_the_library_s_own_references_in_booking_metadata_are_kept(
        self, any_store: MemoryStore | SqlStore
    ) -> None:
        core = _core(any_store)
        customer, bookings = _booked(core, 1)
        with core.context.uow_factory() as uow:
            stored = uow.bookings.get(bookings[0].id)
            assert stored is not None
            stored.metadata = {
                "quotation": "Q-0001",
                "quotation_revision": "2",
                "waitlist_entry_id": "0b5e5f0c-0000-4000-8000-000000000001",
                "note": f"{NAME} asked for it",
            }
            uow.commit()

        core.privacy.erase_customer(customer.id, principal=ADMIN)

        assert core.bookings.get(bookings[0].id, principal=ADMIN).metadata == {
            "note": "[erased]",
            "quotation": "Q-0001",
            "quotation_revision": "2",
            "waitlist_entry_id": "0b5e5f0c-0000-4000-8000-000000000001",
        }

    def test_stored_payment_webhooks_of_their_payments_lose_the_payers_details(
        self, any_store: MemoryStore | SqlStore
    ) -> None:
        core = _core(any_store)
        customer, bookings = _booked(core, 1)
        other = core.customers.register("+919800000042", principal=ADMIN, name="Meera Iyer")
        builder = Builder()
        payment = builder.payment(bookings[0], provider_reference="pi_asha")
        theirs = builder.payment(bookings[0], provider_reference="pi_meera")
        theirs.customer_id = other.customer.id

        def receipt(event_id: str, reference: str, who: str, email: str) -> WebhookReceipt:
            return WebhookReceipt(
                id=uuid4(),
                provider="stripe",
                event_id=event_id,
                kind="payment_intent.succeeded",
                received_at=core.context.now(),
                payment_reference=reference,
                payload={
                    "id": event_id,
                    "type": "payment_intent.succeeded",
                    "data": {
                        "object": {
                            "id": reference,
                            "object": "payment_intent",
                            "amount": 100000,
                            "currency": "inr",
                            "status": "succeeded",
                            "receipt_email": email,
                            "shipping": {"name": who, "phone": PHONE},
                            "charges": {"data": [{"id": "ch_1", "billing_details": {"name": who}}]},
                        }
                    },
                },
            )

        mine = receipt("evt_asha", "pi_asha", NAME, EMAIL)
        kept = receipt("evt_meera", "pi_meera", "Meera Iyer", "meera@example.com")
        mine.mark_applied(now=core.context.now())
        with core.context.uow_factory() as uow:
            uow.payments.add(payment)
            uow.payments.add(theirs)
            uow.webhook_inbox.add(mine)
            uow.webhook_inbox.add(kept)
            uow.commit()
        data = core.privacy.export_customer(customer.id, principal=ADMIN)
        assert [r["event_id"] for r in data["payment_webhooks"]] == ["evt_asha"]
        assert data["payment_webhooks"][0]["payload"]["data"]["object"]["receipt_email"] == EMAIL

        core.privacy.erase_customer(customer.id, principal=ADMIN)

        with core.context.uow_factory() as uow:
            erased = uow.webhook_inbox.get(mine.id)
            untouched = uow.webhook_inbox.get(kept.id)
        assert erased is not None
        assert untouched is not None
        assert _secrets_in(repr(erased)) == []
        # What the books need stays: ids, amounts, currency, statuses.
        intent = erased.payload["data"]["object"]
        assert (intent["id"], intent["amount"], intent["currency"], intent["status"]) == (
            "pi_asha",
            100000,
            "inr",
            "succeeded",
        )
        assert intent["charges"]["data"][0]["id"] == "ch_1"
        assert (erased.event_id, erased.kind, erased.status) == (
            "evt_asha",
            "payment_intent.succeeded",
            "applied",
        )
        assert erased.payment_reference == "pi_asha"
        # Another customer's receipt is left as it was.
        assert untouched.payload == kept.payload

    def test_a_manual_payments_note_is_erased_and_its_money_kept(
        self, any_store: MemoryStore | SqlStore
    ) -> None:
        core = _core(any_store)
        customer, bookings = _booked(core, 1)
        cash = core.payments.record_manual_payment(
            bookings[0].id,
            Money("500", "INR"),
            principal=ADMIN,
            reference="CASH-1",
            note=f"cash from {NAME}'s brother",
        )

        core.privacy.erase_customer(customer.id, principal=ADMIN)

        (stored,) = core.payments.for_booking(bookings[0].id, principal=ADMIN)
        assert stored.metadata == {"note": "[erased]"}
        assert (stored.provider_reference, stored.captured_amount) == (
            "CASH-1",
            Money("500", "INR"),
        )
        trail = core.audit.trail("payment", cash.id, principal=ADMIN)
        assert trail
        assert _secrets_in(repr(trail)) == []
        exported = json.dumps(core.privacy.export_customer(customer.id, principal=ADMIN))
        assert _secrets_in(exported) == []

    def test_partner_webhooks_about_their_bookings_lose_the_free_text(
        self, any_store: MemoryStore | SqlStore
    ) -> None:
        core = _core(any_store)
        customer, bookings = _booked(core, 1)
        booking = core.bookings.cancel(
            bookings[0].id, principal=ADMIN, reason=f"{NAME} moved to {TRAVELER}'s town"
        )
        partner = core.partners.register(
            name="Trek Co",
            company_name="Trek Co",
            contact_email="ops@trek.example",
            principal=ADMIN,
        ).partner
        snapshot = booking_snapshot(booking)
        delivery = WebhookDelivery.schedule(
            event_id=uuid4(),
            partner_id=partner.id,
            topic=WebhookTopic.BOOKING_CANCELLED,
            payload={
                "type": "booking.cancelled",
                "data": {
                    "booking": snapshot,
                    "to_status": "cancelled",
                    "note": booking.cancellation_reason,
                },
            },
            now=core.context.now(),
            booking_id=booking.id,
        )
        with core.context.uow_factory() as uow:
            uow.webhook_deliveries.add(delivery)
            uow.commit()

        core.privacy.erase_customer(customer.id, principal=ADMIN)

        stored = core.webhooks.get(delivery.id, principal=ADMIN)
        assert _secrets_in(repr(stored.payload)) == []
        data = stored.payload["data"]
        assert data["booking"]["cancellation_reason"] == "[erased]"
        assert data["note"] == "[erased]"
        assert data["booking"]["reference"] == booking.reference
        assert data["booking"]["total"] == snapshot["total"]
        assert data["to_status"] == "cancelled"


class TestBookingExport:
    def test_csv_and_xlsx_hold_every_booking_of_the_filter_with_formulas_escaped(
        self, any_store: MemoryStore | SqlStore, tmp_path: object
    ) -> None:
        core = _core(any_store)
        location = core.catalog.add_location("BASE", "Base camp", principal=ADMIN)
        customer = core.customers.register(
            PHONE, principal=ADMIN, name="=HYPERLINK(evil)", email=EMAIL
        ).customer
        slot = core.catalog.create_slot(
            location_id=location.id,
            starts_at=core.context.now() + timedelta(days=10),
            price_per_traveler=Money("1000", "INR"),
            capacity=20,
            principal=ADMIN,
        )
        references = set()
        for index in range(7):
            booking = core.bookings.book(
                BookingRequest(
                    slot.id,
                    [NewTraveler(TravelerDetails(f"Traveler {index}"), is_primary=True)],
                    customer_id=customer.id,
                    referral_source="+1 google" if index == 0 else "@friend",
                ),
                principal=ADMIN,
            )
            references.add(booking.reference)

        out = io.StringIO(newline="")
        written = write_rows_csv(core.exports.booking_rows(principal=ADMIN, page_size=3), out)
        rows = list(csv.reader(io.StringIO(out.getvalue())))
        assert written == 7
        assert tuple(rows[0]) == BOOKING_EXPORT_COLUMNS
        column = {name: i for i, name in enumerate(rows[0])}
        assert {r[column["reference"]] for r in rows[1:]} == references
        assert {r[column["customer_name"]] for r in rows[1:]} == {"'=HYPERLINK(evil)"}
        assert {r[column["referral_source"]] for r in rows[1:]} == {"'+1 google", "'@friend"}
        assert {r[column["customer_phone"]] for r in rows[1:]} == {f"'{PHONE}"}
        assert {Decimal(r[column["total"]]) for r in rows[1:]} == {Decimal("1000")}

        path = f"{tmp_path}/bookings.xlsx"
        assert write_rows_xlsx(core.exports.booking_rows(principal=ADMIN, page_size=2), path) == 7
        workbook = openpyxl.load_workbook(path, read_only=True)  # holds the file open
        try:
            sheet = workbook.active
            assert sheet is not None
            cells = [[c.value for c in row] for row in sheet.iter_rows()]
        finally:
            workbook.close()
        assert tuple(cells[0]) == BOOKING_EXPORT_COLUMNS
        assert len(cells) == 8
        assert {r[column["customer_name"]] for r in cells[1:]} == {"'=HYPERLINK(evil)"}

    def test_a_partner_exports_only_its_own_bookings(
        self, any_store: MemoryStore | SqlStore
    ) -> None:
        core = _core(any_store)
        _booked(core, 2)
        partner = core.partners.register(
            name="Trek Co",
            company_name="Trek Co",
            contact_email="ops@trek.example",
            principal=ADMIN,
        ).partner
        rows = list(core.exports.booking_rows(principal=Principal.partner(partner.id)))
        assert rows == [BOOKING_EXPORT_COLUMNS]


@pytest.mark.parametrize(
    "backend", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
)
def test_exporting_ten_times_the_bookings_takes_no_more_memory(
    backend: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    """The export holds one page at a time: its peak memory does not grow with the rows."""
    if backend == "sqlite":
        store = sqlite_file_store(tmp_path / "export.db")
    else:
        store = request.getfixturevalue("pg_store")
    make = Builder()
    location = make.location()
    slot = make.slot(location.id, capacity=None)
    customer = make.customer(name="Bulk Buyer")
    traveler = make.traveler(customer.id)
    with store.unit_of_work() as uow:
        uow.locations.add(location)
        uow.slots.add(slot)
        uow.customers.add(customer)
        uow.travelers.add(traveler)
        uow.commit()

    def add(count: int) -> None:
        with store.unit_of_work() as uow:
            for _ in range(count):
                uow.bookings.add(make.booking(customer.id, slot, [traveler.id]))
            uow.commit()

    def peak() -> tuple[int, int]:
        core = _core(store)
        tracemalloc.start()
        try:
            written = write_rows_csv(
                core.exports.booking_rows(principal=ADMIN, page_size=100), _Discard()
            )
            return written, tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()

    add(200)
    small_rows, small = peak()
    add(1800)
    large_rows, large = peak()
    if backend == "sqlite":
        store.dispose()
    assert (small_rows, large_rows) == (200, 2000)
    assert large < 1.5 * small


class _Discard(io.StringIO):
    """A text sink that keeps nothing."""

    def write(self, text: str) -> int:
        return len(text)
