"""The calls that change a booking, join a waiting list, cancel or confirm a group, plan a
trip (and put bookings on it or take them off), record money taken by hand, re-send a
partner's webhook, issue and renew a certificate, save a customer's traveler, answer for
a booking's item (confirm, reject, ask again, cancel), assign or move a lead, update a
saved traveler, merge two customers, erase a customer, generate an itinerary or a
booking's documents, or start or retry an import, or open a slot or a schedule's slots
take an idempotency key, on every backend.

A retry with the same key and the same request returns what the first call made or
did and writes nothing more, even when what it acted on has changed since; the same
key with a different request (any one field of it) or for another kind of call is
``IdempotencyConflictError`` and writes nothing. Retries are recognised by what was
asked, stored with the key's claim, never by the state of what the call changed.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, time, timedelta
from typing import Any
from uuid import uuid4

import pytest
from tests._threads import at_once
from tests.integration._sources import ListSource

from bookingcore import (
    BookingChanges,
    BookingCore,
    BookingRequest,
    DuplicateError,
    IdempotencyConflictError,
    ImportSettings,
    InvalidTransitionError,
    Money,
    NewTraveler,
    NotFoundError,
    PageRequest,
    Principal,
    SlotSchedule,
    StaffId,
    StaffRole,
    TravelerDetails,
    ValidationError,
)
from bookingcore.domain import Booking, ImportStatus, ItineraryDay
from bookingcore.domain.values import TravelerId
from bookingcore.services import BookedItem, LeadRequest
from bookingcore.testing import (
    FakePaymentProvider,
    FixedClock,
    RecordingNotifier,
    RecordingWebhookSender,
    SequentialIds,
)
from bookingcore_adapters.memory import MemoryStore
from bookingcore_adapters.sql import SqlStore

ADMIN = Principal.staff(StaffId(uuid4()), StaffRole.ADMIN)
CUSTOMERS = ImportSettings(kind="customers")
CUSTOMER_HEADER = ("Full Name", "Mobile", "E-mail", "Signed up")


def _customers_file(*rows: tuple[str, ...], filename: str = "customers.csv") -> ListSource:
    return ListSource(CUSTOMER_HEADER, list(rows), filename=filename)


#: A customers file of two rows, the second with a phone number that is none.
ONE_BAD_ROW = (("Ravi", "+919800000101", "", "1"), ("Bad", "555", "", "2"))


class World:
    """A slot, a customer with a booking in a group (and another booking and group),
    two advisors, a partner with two webhooks delivered, a completed booking with two
    certificates, a booking of four suppliers' items (two pending, two rejected), two
    leads, two saved travelers, two customers on file twice, a trip, and two finished
    imports of customers with one failed row each."""

    def __init__(self, store: MemoryStore | SqlStore) -> None:
        self.store = store
        self.clock = FixedClock()
        self.start = self.clock.now()
        self.provider = FakePaymentProvider()
        self.notifier = RecordingNotifier()
        self.core = core = BookingCore(
            uow_factory=store.unit_of_work,
            clock=self.clock,
            ids=SequentialIds(),
            notifier=self.notifier,
            payment_providers=[self.provider],
            webhook_sender=RecordingWebhookSender(),
        )
        camp = core.catalog.add_location("CAMP", "Base camp", principal=ADMIN)
        self.slot = core.catalog.create_slot(
            location_id=camp.id,
            starts_at=self.clock.now() + timedelta(days=30),
            price_per_traveler=Money("8500", "INR"),
            capacity=10,
            principal=ADMIN,
        )
        self.customer_id = core.customers.register("+919876543210", principal=ADMIN).customer.id
        self.group = core.groups.create("OFFSITE", organizer_id=self.customer_id, principal=ADMIN)
        self.other_group = core.groups.create(
            "DIVE-WEEK", organizer_id=self.customer_id, principal=ADMIN
        )
        self.booking = self.book("Asha", group_id=self.group.id)
        self.other = self.book("Meera", group_id=self.other_group.id)
        self.ana = core.staff.add("ana@camp.example", "Ana", principal=ADMIN).id
        self.ben = core.staff.add("ben@camp.example", "Ben", principal=ADMIN).id
        partner = core.partners.register(
            name="Trails",
            company_name="Trails Pvt Ltd",
            contact_email="ops@trails.example.com",
            allowed_location_ids=[camp.id],
            webhook_url="https://partner.example.com/hooks",
            principal=ADMIN,
        ).partner
        as_partner = Principal.partner(partner.id)
        for phone in ("+919876500001", "+919876500002"):
            guest = core.customers.register(phone, principal=as_partner).customer
            traveler = NewTraveler(TravelerDetails("Guest"), is_primary=True)
            request = BookingRequest(self.slot.id, [traveler], customer_id=guest.id)
            core.bookings.book(request, principal=as_partner)
        core.webhooks.deliver_due()
        self.webhook, self.other_webhook = core.webhooks.list(principal=ADMIN).items
        self.done = self.book("Dev")
        core.bookings.transition(self.done.id, "confirmed", principal=ADMIN)
        core.bookings.transition(self.done.id, "completed", principal=ADMIN)
        self.certificate, self.other_certificate = (
            core.certificates.issue(
                self.done.id,
                kind="PADI",
                number=number,
                principal=ADMIN,
                expires_at=self.clock.now() + timedelta(days=365),
            )
            for number in ("OW-1", "OW-2")
        )

        supplier = core.catalog.add_supplier("H1", "Lakeside hotel", principal=ADMIN)
        self.trip = self.book(
            "Tara",
            items=[
                BookedItem(
                    kind="hotel",
                    description=f"Room {n}",
                    quantity=1,
                    unit_price=Money("1000", "INR"),
                    supplier_id=supplier.id,
                )
                for n in range(4)
            ],
        )
        self.hotel, self.flight, self.rejected, self.other_rejected = core.items.for_booking(
            self.trip.id, principal=ADMIN
        )
        for item in (self.rejected, self.other_rejected):
            core.items.reject(item.id, "full that week", principal=ADMIN)
        self.lead, self.other_lead = (
            core.leads.capture(
                LeadRequest(source="web_form", phone="+919876543210", destination=where),
                principal=ADMIN,
            )
            for where in ("Leh", "Spiti")
        )
        self.saved, self.other_saved = (
            core.travelers.add(self.customer_id, TravelerDetails(name), principal=ADMIN)
            for name in ("Kavi", "Ila")
        )
        self.twin, self.other_twin = (
            core.customers.register(phone, principal=ADMIN).customer
            for phone in ("+919876500011", "+919876500012")
        )
        today = self.start.date()
        self.journey = core.trips.create(
            self.customer_id,
            "Backwaters",
            starts_on=today + timedelta(days=30),
            ends_on=today + timedelta(days=32),
            booking_ids=[self.done.id],
            principal=ADMIN,
        )
        self.other_journey = core.trips.create(
            self.customer_id,
            "Hills",
            starts_on=today + timedelta(days=40),
            ends_on=today + timedelta(days=42),
            principal=ADMIN,
        )
        self.imported, self.other_imported = (
            core.imports.run_file(
                _customers_file(*ONE_BAD_ROW, filename=name), principal=ADMIN, settings=CUSTOMERS
            )
            for name in ("a.csv", "b.csv")
        )

    def book(self, name: str, **fields: Any) -> Booking:
        traveler = NewTraveler(TravelerDetails(name), is_primary=True)
        request = BookingRequest(self.slot.id, [traveler], customer_id=self.customer_id, **fields)
        return self.core.bookings.book(request, principal=ADMIN)

    def get(self, booking: Booking | None = None) -> Booking:
        return self.core.bookings.get((booking or self.booking).id, principal=ADMIN)

    def audited(self, entity: str, entity_id: object) -> int:
        with self.store.unit_of_work() as uow:
            return len(uow.audit.list_for(entity, entity_id))  # type: ignore[arg-type]


@dataclass(frozen=True)
class Call:
    """One keyed call: ``run(world, key, **asked)`` with the first request's fields by
    default; ``state`` what it writes (equal after a retry); ``same`` what a retry must
    answer alike; ``variants`` one different request per field, by name."""

    run: Callable[..., Any]
    state: Callable[[World], object]
    same: Callable[[Any], object]
    variants: dict[str, dict[str, Any]] = field(default_factory=dict)


def _edit(w: World, key: str | None, **asked: Any) -> Booking:
    return w.core.bookings.update(
        asked.get("booking", w.booking).id,
        BookingChanges(referral_source=asked.get("referral", "web")),
        principal=ADMIN,
        reason=asked.get("reason", "from the form"),
        expected_version=asked.get("version"),
        idempotency_key=key,
    )


def _travelers(w: World, key: str | None, **asked: Any) -> Booking:
    name = asked.get("name", "Ravi")
    return w.core.bookings.change_travelers(
        asked.get("booking", w.booking).id,
        principal=ADMIN,
        add=[NewTraveler(TravelerDetails(name))],
        remove=asked.get("remove", ()),
        reason=asked.get("reason"),
        idempotency_key=key,
    )


def _assign(w: World, key: str | None, **asked: Any) -> Booking:
    return w.core.bookings.assign(
        asked.get("booking", w.booking).id,
        principal=ADMIN,
        strategy=asked.get("strategy", "least_loaded"),
        advisor_id=asked.get("advisor_id"),
        reason=asked.get("reason"),
        idempotency_key=key,
    )


def _join(w: World, key: str | None, **asked: Any) -> Any:
    return w.core.waitlists.join(
        w.slot.id,
        principal=ADMIN,
        customer_id=w.customer_id,
        seats=asked.get("seats", 2),
        priority=asked.get("priority", "normal"),
        notes=asked.get("notes"),
        idempotency_key=key,
    )


def _cancel_group(w: World, key: str | None, **asked: Any) -> list[Booking]:
    return list(
        w.core.groups.cancel(
            asked.get("group", w.group).id,
            principal=ADMIN,
            reason=asked.get("reason", "the client called it off"),
            idempotency_key=key,
        )
    )


def _trip(w: World, key: str | None, **asked: Any) -> Any:
    today = w.clock.now().date()
    return w.core.trips.create(
        w.customer_id,
        asked.get("name", "Ladakh"),
        starts_on=today + timedelta(days=30),
        ends_on=today + timedelta(days=asked.get("days", 35)),
        principal=ADMIN,
        booking_ids=asked.get("booking_ids", ()),
        notes=asked.get("notes"),
        idempotency_key=key,
    )


def _confirm_group(w: World, key: str | None, **asked: Any) -> list[Any]:
    return list(
        w.core.groups.send_confirmations(
            asked.get("group", w.group).id, principal=ADMIN, idempotency_key=key
        )
    )


def _resend(w: World, key: str | None, **asked: Any) -> Any:
    delivery = asked.get("delivery", w.webhook)
    return w.core.webhooks.resend(delivery.id, principal=ADMIN, idempotency_key=key)


def _webhooks_state(w: World) -> object:
    return [
        (d.id, d.status, d.failures, d.next_attempt_at)
        for d in w.core.webhooks.list(principal=ADMIN).items
    ]


def _issue(w: World, key: str | None, **asked: Any) -> Any:
    return w.core.certificates.issue(
        w.done.id,
        kind=asked.get("kind", "PADI"),
        number=asked.get("number", "AOW-7"),
        principal=ADMIN,
        issued_at=asked.get("issued_at"),
        expires_at=w.start + timedelta(days=asked.get("days", 730)),
        idempotency_key=key,
    )


def _renew(w: World, key: str | None, **asked: Any) -> Any:
    return w.core.certificates.renew(
        asked.get("certificate", w.certificate).id,
        w.start + timedelta(days=asked.get("days", 800)),
        principal=ADMIN,
        idempotency_key=key,
    )


def _certificates_state(w: World) -> object:
    held = w.core.certificates.for_customer(w.customer_id, principal=ADMIN)
    audited = sum(w.audited("certificate", c.id) for c in held)
    return [(c.id, c.kind, c.number, c.expires_at, c.version) for c in held], audited


def _save_traveler(w: World, key: str | None, **asked: Any) -> Any:
    details = TravelerDetails(
        asked.get("name", "Nila"),
        age=asked.get("age", 34),
        special_requirements=asked.get("needs"),
    )
    return w.core.travelers.add(w.customer_id, details, principal=ADMIN, idempotency_key=key)


def _pay(w: World, key: str | None, **asked: Any) -> Any:
    return w.core.payments.record_manual_payment(
        asked.get("booking", w.booking).id,
        Money(asked.get("amount", "1000"), "INR"),
        principal=ADMIN,
        reference=asked.get("reference", "CASH-1"),
        note=asked.get("note"),
        idempotency_key=key,
    )


def _payments_state(w: World) -> object:
    paid = [
        (p.id, p.amount, p.status)
        for b in (w.booking, w.other)
        for p in w.core.payments.for_booking(b.id, principal=ADMIN)
    ]
    return paid, w.get().status, w.audited("booking", w.booking.id)


def _answer(w: World, key: str | None, **asked: Any) -> Any:
    """Confirm (or with ``reason``, reject) the hotel room."""
    item = asked.get("item", w.hotel)
    if "reason" in asked:
        return w.core.items.reject(item.id, asked["reason"], principal=ADMIN, idempotency_key=key)
    return w.core.items.confirm(
        item.id,
        principal=ADMIN,
        supplier_reference=asked.get("reference", "HB-1"),
        idempotency_key=key,
    )


def _reject(w: World, key: str | None, **asked: Any) -> Any:
    return _answer(w, key, **{"reason": "no rooms left", **asked})


def _request_again(w: World, key: str | None, **asked: Any) -> Any:
    item = asked.get("item", w.rejected)
    return w.core.items.request_again(item.id, principal=ADMIN, idempotency_key=key)


def _cancel_item(w: World, key: str | None, **asked: Any) -> Any:
    item = asked.get("item", w.hotel)
    return w.core.items.cancel(item.id, principal=ADMIN, idempotency_key=key)


def _items_state(w: World) -> object:
    items = w.core.items.for_booking(w.trip.id, principal=ADMIN)
    trip = w.get(w.trip)
    return (
        [(i.id, i.status, i.version, i.supplier_reference, i.rejection_reason) for i in items],
        sum(w.audited("booking item", i.id) for i in items),
        (trip.version, trip.total, trip.status, w.audited("booking", trip.id)),
    )


def _item(i: Any) -> object:
    return (i.id, i.status, i.version)


def _assign_lead(w: World, key: str | None, **asked: Any) -> Any:
    lead = asked.get("lead", w.lead)
    to = asked.get("to", "least_loaded")
    return w.core.leads.assign(lead.id, to, principal=ADMIN, idempotency_key=key)


def _move_lead(w: World, key: str | None, **asked: Any) -> Any:
    return w.core.leads.move(
        asked.get("lead", w.lead).id,
        asked.get("status", "lost"),
        principal=ADMIN,
        reason=asked.get("reason", "went elsewhere"),
        idempotency_key=key,
    )


def _leads_state(w: World) -> object:
    leads = [w.core.leads.get(lead.id, principal=ADMIN) for lead in (w.lead, w.other_lead)]
    return [
        (lead.status, lead.assignee_id, lead.lost_reason, lead.version, w.audited("lead", lead.id))
        for lead in leads
    ]


def _lead(lead: Any) -> object:
    return (lead.id, lead.status, lead.assignee_id, lead.version)


def _update_traveler(w: World, key: str | None, **asked: Any) -> Any:
    details = TravelerDetails(asked.get("name", "Kavi Rao"), age=asked.get("age", 41))
    return w.core.travelers.update(
        asked.get("traveler", w.saved).id,
        details,
        principal=ADMIN,
        expected_version=asked.get("version"),
        idempotency_key=key,
    )


def _saved_state(w: World) -> object:
    saved = w.core.travelers.list(w.customer_id, principal=ADMIN, include_deleted=True)
    return [(t.id, t.version, t.deleted_at, w.audited("traveler", t.id)) for t in saved]


def _append_note(w: World, key: str | None, **asked: Any) -> Booking:
    return w.core.bookings.append_internal_note(
        asked.get("booking", w.booking).id,
        asked.get("note", "prefers mornings"),
        principal=ADMIN,
        expected_version=asked.get("version"),
        idempotency_key=key,
    )


def _merge(w: World, key: str | None, **asked: Any) -> Any:
    return w.core.customers.merge(
        w.customer_id,
        asked.get("duplicate", w.twin).id,
        principal=ADMIN,
        reason=asked.get("reason", "same phone owner"),
        idempotency_key=key,
    )


def _merged_state(w: World) -> object:
    with w.store.unit_of_work() as uow:
        twins = [uow.customers.get(c.id) for c in (w.twin, w.other_twin)]
        survivor = uow.customers.get(w.customer_id)
    assert survivor is not None
    return (
        [(c.merged_into, c.version) for c in twins if c is not None],
        survivor.version,
        w.audited("customer", w.customer_id),
    )


def _erase(w: World, key: str | None, **asked: Any) -> Any:
    return w.core.privacy.erase_customer(
        asked.get("customer", w.twin).id,
        principal=ADMIN,
        reason=asked.get("reason", "asked by phone"),
        idempotency_key=key,
    )


def _erased_state(w: World) -> object:
    with w.store.unit_of_work() as uow:
        twins = [uow.customers.get(c.id) for c in (w.twin, w.other_twin)]
    return (
        [(c.is_erased, c.version) for c in twins if c is not None],
        w.audited("customer", w.twin.id),
        w.audited("customer", w.other_twin.id),
    )


def _add_to_trip(w: World, key: str | None, **asked: Any) -> Any:
    return w.core.trips.add_booking(
        asked.get("trip", w.journey).id,
        asked.get("booking", w.booking).id,
        principal=ADMIN,
        idempotency_key=key,
    )


def _remove_from_trip(w: World, key: str | None, **asked: Any) -> Any:
    return w.core.trips.remove_booking(
        asked.get("trip", w.journey).id,
        asked.get("booking", w.done).id,
        principal=ADMIN,
        idempotency_key=key,
    )


def _trips_state(w: World) -> object:
    trips = w.core.trips.for_customer(w.customer_id, principal=ADMIN).items
    return sorted((str(t.id), t.version, t.booking_ids) for t in trips)


def _trip_shown(t: Any) -> object:
    return (t.id, t.version, t.booking_ids)


def _plan(w: World, key: str | None, **asked: Any) -> Any:
    return w.core.itineraries.generate(
        asked.get("booking", w.trip).id,
        principal=ADMIN,
        replace=asked.get("replace", True),
        idempotency_key=key,
    )


def _plans_state(w: World) -> object:
    found = []
    for booking in (w.trip, w.booking):
        with w.store.unit_of_work() as uow:
            plan = uow.itineraries.get_for_booking(booking.id)
        found.append(None if plan is None else (plan.id, plan.version, plan.days))
    return found


def _documents(w: World, key: str | None, **asked: Any) -> Any:
    return w.core.travel_documents.generate(
        asked.get("booking", w.trip).id,
        asked.get("kind", "voucher"),
        principal=ADMIN,
        idempotency_key=key,
    )


def _documents_state(w: World) -> object:
    return [
        (d.id, d.kind, d.filename)
        for b in (w.trip, w.booking)
        for d in w.core.bookings.documents(b.id, principal=ADMIN)
    ]


def _start_import(w: World, key: str | None, **asked: Any) -> Any:
    rows = asked.get("rows", (("Asha", "+919800000201", "", "1"),))
    source = _customers_file(*rows, filename=asked.get("filename", "customers.csv"))
    settings = asked.get("settings", CUSTOMERS)
    return w.core.imports.start(source, principal=ADMIN, settings=settings, idempotency_key=key)


def _retry_import(w: World, key: str | None, **asked: Any) -> Any:
    return w.core.imports.retry(
        asked.get("job", w.imported).id,
        principal=ADMIN,
        source=asked.get("source"),
        idempotency_key=key,
    )


def _imports_state(w: World) -> object:
    jobs = w.core.imports.list(principal=ADMIN).items
    return sorted(
        (str(j.id), j.status, j.version, j.created, j.failed, j.processed_rows) for j in jobs
    )


def _open_slot(w: World, key: str | None, **asked: Any) -> Any:
    return w.core.catalog.create_slot(
        location_id=w.slot.location_id,
        starts_at=w.start + timedelta(days=asked.get("days", 60)),
        ends_at=w.start + timedelta(days=asked.get("days", 60), hours=asked.get("hours", 3)),
        price_per_traveler=Money(asked.get("price", "9000"), "INR"),
        capacity=asked.get("capacity", 8),
        name=asked.get("name"),
        principal=ADMIN,
        idempotency_key=key,
    )


def _open_schedule(w: World, key: str | None, **asked: Any) -> Any:
    first = w.start.date() + timedelta(days=40)
    schedule = SlotSchedule(
        weekdays=asked.get("weekdays", [6]),
        start_times=asked.get("times", [time(7), time(13)]),
        starts_on=first,
        ends_on=first + timedelta(days=asked.get("days", 27)),
        duration=timedelta(hours=3),
        exceptions=asked.get("exceptions", ()),
    )
    return w.core.catalog.create_slots(
        schedule,
        location_id=w.slot.location_id,
        price_per_traveler=Money(asked.get("price", "9000"), "INR"),
        capacity=asked.get("capacity", 8),
        name=asked.get("name", "Reef trip"),
        principal=ADMIN,
        idempotency_key=key,
    )


def _slots_state(w: World) -> object:
    slots = w.core.catalog.list_slots(page=PageRequest(limit=500), principal=ADMIN).items
    return [(s.id, s.version) for s in slots], sum(w.audited("slot", s.id) for s in slots)


def _booking_state(w: World) -> object:
    booking, other = w.get(), w.get(w.other)
    return (
        booking.version,
        other.version,
        booking.assignee_id,
        len(booking.travelers),
        w.audited("booking", booking.id),
        w.audited("booking", other.id),
    )


CALLS = {
    "edit": Call(
        _edit,
        _booking_state,
        lambda b: (b.id, b.version, b.referral_source),
        {
            "referral_source": {"referral": "phone"},
            "reason": {"reason": "from the phone call"},
            "booking": {"booking": "other"},
        },
    ),
    "travelers": Call(
        _travelers,
        _booking_state,
        lambda b: (b.id, b.version, b.traveler_ids),
        {
            "add": {"name": "Kiran"},
            "reason": {"reason": "a friend joins"},
            "booking": {"booking": "other"},
        },
    ),
    "assignment": Call(
        _assign,
        _booking_state,
        lambda b: (b.id, b.version, b.assignee_id),
        {
            "strategy": {"strategy": "round_robin"},
            "advisor_id": {"advisor_id": "ben"},
            "reason": {"reason": "rebalancing"},
            "booking": {"booking": "other"},
        },
    ),
    "waitlist": Call(
        _join,
        lambda w: [
            (e.id, e.status)
            for e in w.core.waitlists.list_for_slot(w.slot.id, principal=ADMIN, active_only=False)
        ],
        lambda e: e.id,
        {"seats": {"seats": 3}, "priority": {"priority": "high"}, "notes": {"notes": "aisle"}},
    ),
    "group_cancel": Call(
        _cancel_group,
        lambda w: (
            w.core.groups.get(w.group.id, principal=ADMIN).status,
            w.core.groups.get(w.other_group.id, principal=ADMIN).status,
            w.audited("booking group", w.group.id),
            w.get().status,
            w.get(w.other).status,
        ),
        lambda cancelled: [b.id for b in cancelled],
        {"reason": {"reason": "weather"}, "group": {"group": "other"}},
    ),
    "group_confirmation": Call(
        _confirm_group,
        lambda w: (
            len(w.notifier.sent),
            w.audited("booking group", w.group.id),
            w.audited("booking group", w.other_group.id),
        ),
        lambda sent: [c.id for c in sent],  # as they are now: a twin may see one pending
        {"group": {"group": "other"}},
    ),
    "webhook_resend": Call(
        _resend,
        _webhooks_state,
        lambda d: d.id,
        {"delivery": {"delivery": "other"}},
    ),
    "certificate": Call(
        _issue,
        _certificates_state,
        lambda c: (c.id, c.number, c.expires_at),
        {
            "kind": {"kind": "SSI"},
            "number": {"number": "AOW-8"},
            "issued_at": {"issued_at": "yesterday"},
            "expires_at": {"days": 731},
        },
    ),
    "certificate_renewal": Call(
        _renew,
        _certificates_state,
        lambda c: (c.id, c.version, c.expires_at),
        {"expires_at": {"days": 801}, "certificate": {"certificate": "other"}},
    ),
    "traveler": Call(
        _save_traveler,
        lambda w: [
            (t.id, t.version, t.deleted_at)
            for t in w.core.travelers.list(w.customer_id, principal=ADMIN, include_deleted=True)
        ],
        lambda t: t.id,
        {"name": {"name": "Nila R"}, "age": {"age": 35}, "needs": {"needs": "vegetarian"}},
    ),
    "manual_payment": Call(
        _pay,
        _payments_state,
        lambda p: (p.id, p.amount, p.provider_reference, p.status),
        {
            "amount": {"amount": "1500"},
            "reference": {"reference": "CASH-2"},
            "note": {"note": "paid at the desk"},
            "booking": {"booking": "other"},
        },
    ),
    "item_confirmation": Call(
        _answer,
        _items_state,
        _item,
        {"supplier_reference": {"reference": "HB-2"}, "item": {"item": "flight"}},
    ),
    "item_rejection": Call(
        _reject,
        _items_state,
        _item,
        {"reason": {"reason": "closed for repairs"}, "item": {"item": "flight"}},
    ),
    "item_request_again": Call(
        _request_again, _items_state, _item, {"item": {"item": "other_rejected"}}
    ),
    "item_cancellation": Call(_cancel_item, _items_state, _item, {"item": {"item": "flight"}}),
    "lead_assignment": Call(
        _assign_lead,
        _leads_state,
        _lead,
        {"to": {"to": "round_robin"}, "advisor": {"to": "ben"}, "lead": {"lead": "other"}},
    ),
    "lead_move": Call(
        _move_lead,
        _leads_state,
        _lead,
        {
            "status": {"status": "contacted"},
            "reason": {"reason": "too dear"},
            "lead": {"lead": "other"},
        },
    ),
    "traveler_update": Call(
        _update_traveler,
        _saved_state,
        lambda t: (t.id, t.version),
        {
            "name": {"name": "Kavi R"},
            "age": {"age": 42},
            "expected_version": {"version": 1},
            "traveler": {"traveler": "other"},
        },
    ),
    "internal_note": Call(
        _append_note,
        _booking_state,
        lambda b: (b.id, b.version, b.internal_notes),
        {
            "note": {"note": "paid cash"},
            "expected_version": {"version": 1},
            "booking": {"booking": "other"},
        },
    ),
    "customer_merge": Call(
        _merge,
        _merged_state,
        lambda c: (c.id, c.version),
        {"duplicate": {"duplicate": "other"}, "reason": {"reason": "same email"}},
    ),
    "customer_erase": Call(
        _erase,
        _erased_state,
        lambda c: (c.id, c.version, c.is_erased),
        {"customer": {"customer": "other"}, "reason": {"reason": "asked by email"}},
    ),
    "trip_booking_add": Call(
        _add_to_trip,
        _trips_state,
        _trip_shown,
        {"trip": {"trip": "other"}, "booking": {"booking": "other"}},
    ),
    "trip_booking_remove": Call(
        _remove_from_trip,
        _trips_state,
        _trip_shown,
        {"trip": {"trip": "other"}, "booking": {"booking": "other"}},
    ),
    "itinerary": Call(
        _plan,
        _plans_state,
        lambda p: (p.id, p.version),
        {"replace": {"replace": False}, "booking": {"booking": "other"}},
    ),
    "document_generation": Call(
        _documents,
        _documents_state,
        lambda made: [(d.id, d.filename) for d in made],
        {"kind": {"kind": "itinerary"}, "booking": {"booking": "other"}},
    ),
    "import_start": Call(
        _start_import,
        _imports_state,
        lambda j: j.id,
        {
            "filename": {"filename": "customers-2.csv"},
            "content": {"rows": (("Asha", "+919800000202", "", "1"),)},
            "settings": {"settings": "other"},
        },
    ),
    "import_retry": Call(
        _retry_import,
        _imports_state,
        lambda j: j.id,
        {"job": {"job": "other"}, "source": {"source": "corrected"}},
    ),
    "slot": Call(
        _open_slot,
        _slots_state,
        lambda s: (s.id, s.starts_at, s.capacity),
        {
            "starts_at": {"days": 61},
            "ends_at": {"hours": 4},
            "price_per_traveler": {"price": "9500"},
            "capacity": {"capacity": 9},
            "name": {"name": "Night dive"},
        },
    ),
    "slot_schedule": Call(
        _open_schedule,
        _slots_state,
        lambda made: ([s.id for s in made.slots], made.skipped),
        {
            "weekdays": {"weekdays": (7,)},
            "start_times": {"times": (time(7),)},
            "ends_on": {"days": 34},
            "exceptions": {"exceptions": "a saturday"},
            "price_per_traveler": {"price": "9500"},
            "capacity": {"capacity": None},
            "name": {"name": "Night dive"},
        },
    ),
    "trip": Call(
        _trip,
        lambda w: [t.id for t in w.core.trips.for_customer(w.customer_id, principal=ADMIN).items],
        lambda t: (t.id, t.name, t.ends_on),
        {"name": {"name": "Spiti"}, "ends_on": {"days": 36}, "notes": {"notes": "by road"}},
    ),
}


def _asked(w: World, fields: dict[str, Any]) -> dict[str, Any]:
    """``fields`` with the world's objects for the names ``"other"`` and ``"ben"``."""
    named = {
        ("booking", "other"): w.other,
        ("group", "other"): w.other_group,
        ("advisor_id", "ben"): w.ben,
        ("delivery", "other"): w.other_webhook,
        ("certificate", "other"): w.other_certificate,
        ("issued_at", "yesterday"): w.start - timedelta(days=1),
        ("item", "flight"): w.flight,
        ("to", "ben"): w.ben,
        ("lead", "other"): w.other_lead,
        ("traveler", "other"): w.other_saved,
        ("item", "other_rejected"): w.other_rejected,
        ("duplicate", "other"): w.other_twin,
        ("customer", "other"): w.other_twin,
        ("trip", "other"): w.other_journey,
        ("job", "other"): w.other_imported,
        ("exceptions", "a saturday"): [_saturday_after(w.start.date() + timedelta(days=40))],
        ("settings", "other"): ImportSettings(kind="customers", region="IN"),
        ("source", "corrected"): ListSource(
            (*CUSTOMER_HEADER, "row"), [("Bad", "+919800000102", "", "2", "3")]
        ),
    }
    return {k: named.get((k, v), v) for k, v in fields.items()}


def _saturday_after(day: date) -> date:
    return day + timedelta(days=(6 - day.isoweekday()) % 7)


@pytest.fixture
def world(any_store: MemoryStore | SqlStore) -> World:
    return World(any_store)


@pytest.mark.parametrize("name", sorted(CALLS))
def test_a_retry_returns_the_first_result_and_writes_once(world: World, name: str) -> None:
    call = CALLS[name]
    first = call.run(world, "k-1")
    written = call.state(world)
    world.clock.advance(timedelta(minutes=1))
    again = call.run(world, "k-1")
    assert call.same(again) == call.same(first)
    assert call.state(world) == written


@pytest.mark.parametrize(
    ("name", "changed"), [(n, f) for n in sorted(CALLS) for f in sorted(CALLS[n].variants)]
)
def test_the_key_for_a_request_differing_in_one_field_is_a_conflict(
    world: World, name: str, changed: str
) -> None:
    call = CALLS[name]
    call.run(world, "k-1")
    written = call.state(world)
    with pytest.raises(IdempotencyConflictError) as refused:
        call.run(world, "k-1", **_asked(world, call.variants[changed]))
    assert refused.value.key == "k-1"
    assert call.state(world) == written


@pytest.mark.parametrize("name", sorted(CALLS))
def test_a_key_of_another_kind_of_call_is_a_conflict_both_ways(world: World, name: str) -> None:
    call = CALLS[name]
    world.core.bookings.add_note(world.booking.id, "called", principal=ADMIN, idempotency_key="n")
    before = call.state(world)
    with pytest.raises(IdempotencyConflictError):
        call.run(world, "n")
    assert call.state(world) == before
    call.run(world, "k-1")
    with pytest.raises(IdempotencyConflictError):
        world.core.bookings.add_note(
            world.booking.id, "called", principal=ADMIN, idempotency_key="k-1"
        )


def test_a_retry_after_a_later_change_undoes_nothing(world: World) -> None:
    """A retry answers the booking as it is now: a later edit (and its version) stands."""
    first = _edit(world, "k-1", version=world.booking.version)
    later = _edit(world, None, referral="phone")
    again = _edit(world, "k-1", version=world.booking.version)  # stale: no StaleVersionError
    assert (again.referral_source, again.version) == ("phone", later.version)
    assert later.version == first.version + 1


def test_a_retried_change_of_travelers_removes_nobody_twice(world: World) -> None:
    ravi = _travelers(world, "k-1")
    added = next(t for t in ravi.travelers if t.traveler_id not in world.booking.traveler_ids)
    gone: tuple[TravelerId, ...] = (added.traveler_id,)
    removed = _travelers(world, "k-2", name="Kiran", remove=gone)
    again = _travelers(world, "k-2", name="Kiran", remove=gone)
    assert again.traveler_ids == removed.traveler_ids
    assert len(again.travelers) == 2


def test_a_retried_assignment_picks_nobody_again(world: World) -> None:
    """``round_robin`` moves on with every assignment: a retry does not take a turn."""
    before = world.audited("booking", world.booking.id)
    first = _assign(world, "k-1", strategy="round_robin")
    for _ in range(3):
        assert _assign(world, "k-1", strategy="round_robin").assignee_id == first.assignee_id
    assert world.audited("booking", world.booking.id) == before + 1


def test_a_retried_group_cancellation_answers_the_bookings_it_cancelled(world: World) -> None:
    first = _cancel_group(world, "k-1")
    assert [b.id for b in first] == [world.booking.id]
    again = _cancel_group(world, "k-1")
    assert [(b.id, b.status) for b in again] == [(world.booking.id, "cancelled")]


def test_a_group_retry_compares_what_was_asked_not_the_group_as_it_is_now(world: World) -> None:
    """The group was renamed after it was opened: a retry of the opening still answers it."""
    first = world.core.groups.create(
        "retreat",
        organizer_id=world.customer_id,
        principal=ADMIN,
        group_name="Yoga retreat",
        idempotency_key="g-1",
    )
    with world.store.unit_of_work() as uow:
        group = uow.groups.get_for_update(first.id)
        assert group is not None
        group.rename("Retreat (moved)", now=world.clock.now())
        group.set_participants(12, now=world.clock.now())
        uow.commit()
    again = world.core.groups.create(
        "RETREAT",
        organizer_id=world.customer_id,
        principal=ADMIN,
        group_name="Yoga retreat",
        idempotency_key="g-1",
    )
    assert again.id == first.id
    assert (again.group_name, again.total_participants) == ("Retreat (moved)", 12)
    with pytest.raises(IdempotencyConflictError):  # asking for the name it has now is another
        world.core.groups.create(
            "RETREAT",
            organizer_id=world.customer_id,
            principal=ADMIN,
            group_name="Retreat (moved)",
            idempotency_key="g-1",
        )


def test_a_retried_group_confirmation_texts_nobody_again(world: World) -> None:
    """Without a key a second call sends the organiser a new summary (the booking's
    confirmation is logged once, whoever sends it); with the first call's key it
    answers the messages that call logged and sends none."""
    before = len(world.notifier.sent)
    first = _confirm_group(world, "k-1")
    assert len(first) == 2  # the organiser's summary and the booking's confirmation
    assert len(world.notifier.sent) == before + 2
    assert [c.id for c in _confirm_group(world, "k-1")] == [c.id for c in first]
    assert len(world.notifier.sent) == before + 2
    again = _confirm_group(world, None)
    assert len(world.notifier.sent) == before + 3
    assert again[0].id != first[0].id
    assert again[1].id == first[1].id


def test_a_retried_webhook_resend_redelivers_nothing_more(world: World) -> None:
    """Without a key a second re-send of a pending webhook is refused, and one after it
    went out sends it again; with the first call's key both answer the delivery."""
    first = _resend(world, "k-1")
    assert first.status == "pending"
    with pytest.raises(ValidationError):
        _resend(world, None)
    assert _resend(world, "k-1").status == "pending"
    assert world.core.webhooks.deliver_due().delivered == 1
    again = _resend(world, "k-1")
    assert (again.id, again.status) == (first.id, "delivered")
    assert world.core.webhooks.deliver_due().delivered == 0
    attempts = world.core.webhooks.attempts(first.id, principal=ADMIN)
    assert len(attempts) == 2  # the first delivery and the one re-send


def test_a_retried_certificate_is_answered_as_it_is_now_not_refused_for_its_number(
    world: World,
) -> None:
    first = _issue(world, "k-1")
    renewed = _renew(world, "k-2", days=900, certificate=first)
    again = _issue(world, "k-1")
    assert (again.id, again.expires_at) == (first.id, renewed.expires_at)
    with pytest.raises(DuplicateError):  # the number is still taken without the key
        _issue(world, None)


def test_a_retried_renewal_undoes_no_later_one_even_once_its_date_has_passed(
    world: World,
) -> None:
    first = _renew(world, "k-1", days=400)
    later = _renew(world, None, days=500)
    world.clock.advance(timedelta(days=450))
    again = _renew(world, "k-1", days=400)  # that moment has passed: no refusal
    assert (again.version, again.expires_at) == (later.version, later.expires_at)
    assert later.version == first.version + 1


def test_a_retried_note_is_added_once_even_after_a_later_one(world: World) -> None:
    """Without a key each call adds its line (under the booking's lock, none lost); the
    retry of the first, with its now stale version, adds nothing and is no conflict."""
    first = _append_note(world, "k-1", version=world.booking.version)
    later = _append_note(world, None, note="paid cash")
    again = _append_note(world, "k-1", version=world.booking.version)
    assert again.internal_notes == "prefers mornings\npaid cash"
    assert (again.version, later.version) == (first.version + 1, first.version + 1)


def test_a_retried_traveler_save_saves_one_even_after_it_was_deleted(world: World) -> None:
    """Nothing makes a saved traveler unique: without a key a second call saves another."""
    first = _save_traveler(world, "k-1")
    world.core.travelers.delete(first.id, principal=ADMIN)
    again = _save_traveler(world, "k-1")
    assert (again.id, again.deleted_at is not None) == (first.id, True)
    assert _save_traveler(world, None).id != first.id


def test_a_retried_manual_payment_is_answered_after_the_booking_is_paid(world: World) -> None:
    """The first call paid the whole balance: the retry is neither refused for its
    reference (recorded) nor for its amount (nothing is due), it answers that payment."""
    first = _pay(world, "k-1", amount="8500")
    with pytest.raises(ValidationError):  # nothing is due any more
        _pay(world, None, amount="1", reference="CASH-2")
    again = _pay(world, "k-1", amount="8500")
    assert (again.id, again.status) == (first.id, first.status)
    assert len(world.core.payments.for_booking(world.booking.id, principal=ADMIN)) == 1


def test_an_intents_key_and_a_manual_payments_key_refuse_each_other(world: World) -> None:
    """One registry: the provider is never asked with a manual payment's key."""
    world.core.payments.create_intent(
        world.booking.id, "fake", principal=ADMIN, idempotency_key="i-1"
    )
    with pytest.raises(IdempotencyConflictError):
        _pay(world, "i-1")
    _pay(world, "k-1")
    asked = list(world.provider.calls)
    with pytest.raises(IdempotencyConflictError):
        world.core.payments.create_intent(
            world.booking.id, "fake", principal=ADMIN, idempotency_key="k-1"
        )
    assert world.provider.calls == asked
    assert len(world.core.payments.for_booking(world.booking.id, principal=ADMIN)) == 2


def test_a_retried_item_answer_is_answered_after_the_item_moved_on(world: World) -> None:
    """The first call confirmed the room, which was cancelled since: the retry answers
    the item as it is now, not the ``InvalidTransitionError`` a new confirmation gets."""
    first = _answer(world, "k-1")
    assert first.status == "confirmed"
    with pytest.raises(InvalidTransitionError):
        _answer(world, None)
    cancelled = _cancel_item(world, "k-2")
    written = _items_state(world)
    again = _answer(world, "k-1")
    assert (again.id, again.status, again.version) == (first.id, "cancelled", cancelled.version)
    assert _cancel_item(world, "k-2").status == "cancelled"  # not cancelled twice
    assert _items_state(world) == written


def test_a_retried_rejection_after_the_item_was_asked_again_rejects_nothing(world: World) -> None:
    _reject(world, "k-1")
    _request_again(world, "k-2", item=world.hotel)
    again = _reject(world, "k-1")
    assert again.status == "pending"
    assert _request_again(world, "k-2", item=world.hotel).status == "pending"


def test_a_retried_lead_assignment_picks_nobody_again(world: World) -> None:
    """``round_robin`` moves on with every assigned lead: a retry does not take a turn."""
    first = _assign_lead(world, "k-1", to="round_robin")
    for _ in range(3):
        assert _assign_lead(world, "k-1", to="round_robin").assignee_id == first.assignee_id
    assert world.audited("lead", world.lead.id) == 2  # captured, assigned once


def test_a_retried_lead_move_is_answered_after_the_lead_moved_on(world: World) -> None:
    """Lost, then reopened: the retry of the move to ``lost`` answers the lead as it is."""
    first = _move_lead(world, "k-1")
    with pytest.raises(InvalidTransitionError):
        _move_lead(world, None)
    reopened = _move_lead(world, "k-2", status="new", reason=None)
    again = _move_lead(world, "k-1")
    assert (again.status, again.version) == (reopened.status, first.version + 1)


def test_a_retried_lead_loss_with_its_reason_spaced_otherwise_is_the_same_request(
    world: World,
) -> None:
    first = _move_lead(world, "k-1", reason="went  elsewhere")
    again = _move_lead(world, "k-1", reason=" went elsewhere ")
    assert (again.status, again.version, again.lost_reason) == (
        first.status,
        first.version,
        "went elsewhere",
    )
    with pytest.raises(IdempotencyConflictError):
        _move_lead(world, "k-1", reason="too dear")


def test_a_retried_traveler_update_undoes_no_later_change_nor_a_deletion(world: World) -> None:
    """A retry with the first call's (now stale) version is no ``StaleVersionError``: it
    answers the traveler as it is now, changed and deleted since."""
    first = _update_traveler(world, "k-1", version=1)
    later = _update_traveler(world, None, name="Kavi R Rao")
    world.core.travelers.delete(first.id, principal=ADMIN)
    again = _update_traveler(world, "k-1", version=1)
    assert (again.id, again.version, again.deleted_at is not None) == (
        first.id,
        later.version + 1,
        True,
    )
    assert later.version == first.version + 1


@pytest.mark.postgres
@pytest.mark.parametrize("name", sorted(CALLS))
def test_three_calls_with_one_key_at_once_make_one_change(pg_store: SqlStore, name: str) -> None:
    """The key's claim is written with the change: the twins wait for the first and then
    answer what it did; nothing is written twice."""
    world = World(pg_store)
    call = CALLS[name]
    before = world.audited("booking", world.booking.id)
    results = at_once(3, lambda _: call.run(world, "k-race"))
    assert not [r for r in results if isinstance(r, Exception)], results
    assert len({repr(call.same(r)) for r in results}) == 1, results
    written = call.state(world)
    call.run(world, "k-race")
    assert call.state(world) == written
    if name in {"edit", "travelers", "assignment", "internal_note"}:
        assert world.audited("booking", world.booking.id) == before + 1  # changed once


def test_a_retried_join_is_answered_after_the_slot_has_started(world: World) -> None:
    """The retry is recognised before the slot is checked: once the slot has started a
    new join is refused, the first join's retry answers its entry."""
    first = _join(world, "k-1")
    world.clock.advance(timedelta(days=31))
    with pytest.raises(ValidationError) as refused:
        _join(world, None)
    assert refused.value.errors[0].field == "slot_id"
    written = CALLS["waitlist"].state(world)
    again = _join(world, "k-1")
    assert (again.id, again.status) == (first.id, first.status)
    assert CALLS["waitlist"].state(world) == written
    with pytest.raises(IdempotencyConflictError):  # another request with the key
        _join(world, "k-1", seats=3)


def test_a_retried_itinerary_replacement_loses_no_edit_made_since(world: World) -> None:
    first = _plan(world, "k-1")
    day = ItineraryDay(day=world.start.date(), title="Arrival", entries=("Check in",))
    edited = world.core.itineraries.set_day(world.trip.id, day, principal=ADMIN)
    again = _plan(world, "k-1")
    assert (again.id, again.version, again.days) == (first.id, edited.version, edited.days)
    assert _plan(world, None).days == first.days  # without the key it is made again


def test_a_retried_generation_answers_its_own_documents_not_later_versions(world: World) -> None:
    first = _documents(world, "k-1")
    later = _documents(world, None)
    assert {d.filename.split("-v")[1] for d in later} == {"2.txt"}
    again = _documents(world, "k-1")
    assert [(d.id, d.filename) for d in again] == [(d.id, d.filename) for d in first]
    assert {d.generated_by for d in first} == {ADMIN.id}


def test_a_retried_generation_that_wrote_nothing_writes_nothing_later(world: World) -> None:
    """No invoice was issued yet: the first call writes none, and so does its retry
    after a payment issued one."""
    assert list(_documents(world, "k-1", booking=world.booking, kind="invoice")) == []
    world.core.payments.record_manual_payment(
        world.booking.id, Money("8500", "INR"), principal=ADMIN, reference="CASH-9"
    )
    assert list(_documents(world, "k-1", booking=world.booking, kind="invoice")) == []
    assert len(_documents(world, None, booking=world.booking, kind="invoice")) == 1


def test_a_retried_run_file_runs_nothing_again(world: World) -> None:
    """``run_file`` with a key: the retry answers the job the first call ran (from
    another upload of the same file: where it came from is no part of the request)."""
    rows = (("Asha", "+919800000301", "", "1"), ("Kiran", "+919800000302", "", "2"))
    first = world.core.imports.run_file(
        _customers_file(*rows), principal=ADMIN, settings=CUSTOMERS, idempotency_key="k-1"
    )
    assert (first.created, first.processed_rows) == (2, 2)
    written = _imports_state(world)
    again = world.core.imports.run_file(
        _customers_file(*rows), principal=ADMIN, settings=CUSTOMERS, idempotency_key="k-1"
    )
    assert (again.id, again.version, again.created) == (first.id, first.version, 2)
    assert _imports_state(world) == written


def test_an_import_retried_with_other_chunks_or_workers_is_the_same_request(world: World) -> None:
    """How an import runs (rows per transaction, validating processes) is no part of what
    it imports: a retry that changes only those answers the first job."""
    rows = (("Asha", "+919800000311", "", "1"), ("Kiran", "+919800000312", "", "2"))
    first = world.core.imports.run_file(
        _customers_file(*rows), principal=ADMIN, settings=CUSTOMERS, idempotency_key="k-1"
    )
    written = _imports_state(world)
    tuned = ImportSettings(kind="customers", chunk_size=1, workers=2)
    again = world.core.imports.run_file(
        _customers_file(*rows), principal=ADMIN, settings=tuned, idempotency_key="k-1"
    )
    assert again.id == first.id
    assert _imports_state(world) == written
    with pytest.raises(IdempotencyConflictError):  # what it imports is the request
        world.core.imports.run_file(
            _customers_file(*rows),
            principal=ADMIN,
            settings=ImportSettings(kind="customers", region="US"),
            idempotency_key="k-1",
        )


def test_a_retried_confirm_books_the_dry_run_once(world: World) -> None:
    """``confirm`` with a key: the retry answers the job the first call ran and books nothing."""
    rows = (("Asha", "+919800000321", "", "1"), ("Kiran", "+919800000322", "", "2"))
    plan = world.core.imports.dry_run(_customers_file(*rows), principal=ADMIN, settings=CUSTOMERS)
    first = world.core.imports.confirm(
        plan, _customers_file(*rows), principal=ADMIN, idempotency_key="k-1"
    )
    assert (first.created, first.processed_rows) == (2, 2)
    written = _imports_state(world)
    again = world.core.imports.confirm(
        plan, _customers_file(*rows), principal=ADMIN, idempotency_key="k-1"
    )
    assert (again.id, again.version, again.created) == (first.id, first.version, 2)
    assert _imports_state(world) == written


def test_a_retried_import_retry_is_answered_while_the_first_still_runs(world: World) -> None:
    """The first retry left the job PROCESSING (stopped mid-run): a new retry is refused,
    the first one's retry answers the job and imports nothing."""
    first = _retry_import(world, "k-1")
    with world.store.unit_of_work() as uow:
        job = uow.imports.get_for_update(first.id)
        assert job is not None
        job.status = ImportStatus.PROCESSING
        uow.commit()
    with pytest.raises(InvalidTransitionError):
        _retry_import(world, None)
    written = _imports_state(world)
    again = _retry_import(world, "k-1")
    assert (again.id, again.status) == (first.id, ImportStatus.PROCESSING)
    assert _imports_state(world) == written


def test_retries_of_a_group_and_a_traveler_are_answered_after_their_customer_was_merged(
    world: World,
) -> None:
    """The merge moves the twin's group and traveler to the survivor and hides the twin:
    a new request for the twin is ``NotFoundError``; the retries, recognised before the
    customer is looked up, answer what the first calls made, as it is now."""

    def group(key: str | None) -> Any:
        return world.core.groups.create(
            "TWIN-TRIP", organizer_id=world.twin.id, principal=ADMIN, idempotency_key=key
        )

    def traveler(key: str | None) -> Any:
        details = TravelerDetails("Nila")
        return world.core.travelers.add(
            world.twin.id, details, principal=ADMIN, idempotency_key=key
        )

    opened, saved = group("g-1"), traveler("t-1")
    _merge(world, "m-1")
    for new in (group, traveler):
        with pytest.raises(NotFoundError):
            new(None)
    assert (group("g-1").id, group("g-1").organizer_id) == (opened.id, world.customer_id)
    assert (traveler("t-1").id, traveler("t-1").customer_id) == (saved.id, world.customer_id)
