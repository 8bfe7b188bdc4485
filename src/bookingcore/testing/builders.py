"""Builders for valid entities with sensible defaults, for contract tests and yours.

Each call makes a new entity with unique codes and phone numbers; pass keyword
arguments to override any field::

    make = Builder()
    location = make.location(code="GOA")
    slot = make.slot(location.id, capacity=4)

.. versionadded:: 0.1
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any
from uuid import UUID, uuid4

import attrs

from bookingcore.domain.auth import AuthSession
from bookingcore.domain.bookings import Booking, BookingTraveler
from bookingcore.domain.catalog import Location, Product, ProductKind, Supplier
from bookingcore.domain.commissions import CommissionEntry, CommissionEntryId, CommissionEntryKind
from bookingcore.domain.customers import Customer, Traveler
from bookingcore.domain.groups import BookingGroup
from bookingcore.domain.imports import CellProblem, ImportJob, ImportRowError
from bookingcore.domain.inbox import WebhookReceipt
from bookingcore.domain.invoices import (
    Invoice,
    InvoiceId,
    InvoiceKind,
    InvoiceLine,
    InvoiceSeries,
    invoice_number,
)
from bookingcore.domain.items import BookingItem, BookingItemKind
from bookingcore.domain.leads import Lead, LeadSource
from bookingcore.domain.partner_webhooks import WebhookAttempt, WebhookDelivery, WebhookTopic
from bookingcore.domain.partners import Partner
from bookingcore.domain.payments import Payment, Refund
from bookingcore.domain.policy import PrincipalKind, StaffRole
from bookingcore.domain.quotations import Quotation, QuotationLine
from bookingcore.domain.slots import Slot
from bookingcore.domain.staff import StaffMember
from bookingcore.domain.trips import Itinerary, ItineraryDay, Trip
from bookingcore.domain.values import (
    Actor,
    BookingGroupId,
    BookingId,
    BookingItemId,
    CustomerId,
    EmailAddress,
    LeadId,
    LocationId,
    Money,
    PartnerId,
    PaymentId,
    PhoneNumber,
    ProductId,
    QuotationId,
    RefundId,
    SlotId,
    StaffId,
    SupplierId,
    TravelerId,
    TripId,
    WaitlistEntryId,
)
from bookingcore.domain.waitlist import WaitlistEntry

__all__ = ["T0", "Builder"]

#: The moment builders stamp on what they make unless told otherwise.
T0 = datetime(2026, 1, 1, 9, 0, tzinfo=UTC)


class Builder:
    """Makes valid, unique entities. Not thread-safe; one per test.

    .. versionadded:: 0.1
    """

    def __init__(self, now: datetime = T0) -> None:
        self.now = now
        self._serial = itertools.count(1)

    def _n(self) -> int:
        return next(self._serial)

    def phone(self) -> PhoneNumber:
        """A new valid Indian mobile number, ``+9198`` and eight digits."""
        return PhoneNumber(f"+9198{self._n():08d}")

    def location(self, **fields: Any) -> Location:
        """A location with code ``LOC-n``."""
        n = self._n()
        values: dict[str, Any] = {
            "id": LocationId(uuid4()),
            "code": f"LOC-{n}",
            "name": f"Location {n}",
            "created_at": self.now,
        }
        return Location(**(values | fields))

    def supplier(self, **fields: Any) -> Supplier:
        """A supplier with code ``SUP-n``."""
        n = self._n()
        values: dict[str, Any] = {
            "id": SupplierId(uuid4()),
            "code": f"SUP-{n}",
            "name": f"Supplier {n}",
            "created_at": self.now,
        }
        return Supplier(**(values | fields))

    def product(self, **fields: Any) -> Product:
        """A trek with code ``PRD-n``."""
        n = self._n()
        values: dict[str, Any] = {
            "id": ProductId(uuid4()),
            "code": f"PRD-{n}",
            "name": f"Product {n}",
            "kind": ProductKind.TREK,
            "created_at": self.now,
        }
        return Product(**(values | fields))

    def customer(self, **fields: Any) -> Customer:
        """A phone-only customer."""
        values: dict[str, Any] = {
            "id": CustomerId(uuid4()),
            "phone": self.phone(),
            "created_at": self.now,
            "updated_at": self.now,
        }
        return Customer(**(values | fields))

    def traveler(self, customer_id: CustomerId, **fields: Any) -> Traveler:
        """A traveler called ``Traveler n`` under ``customer_id``."""
        values: dict[str, Any] = {
            "id": TravelerId(uuid4()),
            "customer_id": customer_id,
            "name": f"Traveler {self._n()}",
            "created_at": self.now,
            "updated_at": self.now,
        }
        return Traveler(**(values | fields))

    def slot(self, location_id: LocationId, **fields: Any) -> Slot:
        """A slot a week after :attr:`now`, 100 INR a seat, capacity 10."""
        values: dict[str, Any] = {
            "id": SlotId(uuid4()),
            "location_id": location_id,
            "starts_at": self.now + timedelta(days=7),
            "price_per_traveler": Money("100", "INR"),
            "created_at": self.now,
            "capacity": 10,
        }
        return Slot(**(values | fields))

    def booking(
        self,
        customer_id: CustomerId,
        slot: Slot,
        traveler_ids: Sequence[TravelerId],
        **fields: Any,
    ) -> Booking:
        """A pending booking of ``slot`` for ``traveler_ids`` (the first is primary)."""
        price = slot.price_per_traveler
        travelers = tuple(
            BookingTraveler(traveler_id=tid, price=price, is_primary=index == 0)
            for index, tid in enumerate(traveler_ids)
        )
        total = price * len(travelers)
        values: dict[str, Any] = {
            "id": BookingId(uuid4()),
            "reference": f"BK-{self._n():08d}",
            "customer_id": customer_id,
            "slot_id": slot.id,
            "location_id": slot.location_id,
            "starts_at": slot.starts_at,
            "lifecycle": "reservation",
            "status": "pending",
            "travelers": travelers,
            "subtotal": total,
            "discount": Money.zero(price.currency),
            "total": total,
            "created_at": self.now,
            "updated_at": self.now,
            "created_by": Actor.system("tests"),
        }
        return Booking(**(values | fields))

    def partner(self, **fields: Any) -> Partner:
        """An active partner allowed nowhere, with a unique API key and email."""
        n = self._n()
        values: dict[str, Any] = {
            "id": PartnerId(uuid4()),
            "name": f"Partner {n}",
            "company_name": f"Partner {n} Ltd",
            "contact_email": EmailAddress(f"ops{n}@partner.example"),
            "api_key": f"pk_test_{n}",
            "created_at": self.now,
            "updated_at": self.now,
        }
        return Partner(**(values | fields))

    def group(self, organizer_id: CustomerId, **fields: Any) -> BookingGroup:
        """An active group ``GRP-n`` organised by ``organizer_id``."""
        n = self._n()
        values: dict[str, Any] = {
            "id": BookingGroupId(uuid4()),
            "group_reference": f"GRP-{n}",
            "organizer_id": organizer_id,
            "created_at": self.now,
            "updated_at": self.now,
            "group_name": f"Group {n}",
        }
        return BookingGroup(**(values | fields))

    def booking_item(self, booking_id: BookingId, **fields: Any) -> BookingItem:
        """A pending line item: one activity at 250 INR."""
        values: dict[str, Any] = {
            "id": BookingItemId(uuid4()),
            "booking_id": booking_id,
            "kind": BookingItemKind.ACTIVITY,
            "description": f"Activity {self._n()}",
            "quantity": 1,
            "unit_price": Money("250", "INR"),
            "created_at": self.now,
            "updated_at": self.now,
        }
        return BookingItem(**(values | fields))

    # The travel operating system (0.3).

    def lead(self, customer_id: CustomerId, **fields: Any) -> Lead:
        """A new lead from a web form.

        .. versionadded:: 0.3
        """
        values: dict[str, Any] = {
            "id": LeadId(uuid4()),
            "customer_id": customer_id,
            "source": LeadSource.WEB_FORM,
            "created_at": self.now,
            "updated_at": self.now,
        }
        return Lead(**(values | fields))

    def quotation(self, customer_id: CustomerId, slot_id: SlotId, **fields: Any) -> Quotation:
        """A draft, revision 1: two travelers at 1,000 INR and one activity line,
        valid for a week.

        .. versionadded:: 0.3
        """
        n = self._n()
        values: dict[str, Any] = {
            "id": QuotationId(uuid4()),
            "reference": f"QT-{n:08d}",
            "revision": 1,
            "customer_id": customer_id,
            "slot_id": slot_id,
            "travelers": 2,
            "seat_price": Money("1000", "INR"),
            "seats_total": Money("2000", "INR"),
            "lines": (
                QuotationLine(
                    kind=BookingItemKind.ACTIVITY,
                    description=f"Activity {n}",
                    quantity=2,
                    unit_price=Money("250", "INR"),
                ),
            ),
            "valid_until": (self.now + timedelta(days=7)).date(),
            "created_at": self.now,
            "updated_at": self.now,
            "created_by": Actor.system(),
        }
        return Quotation(**(values | fields))

    def trip(self, customer_id: CustomerId, **fields: Any) -> Trip:
        """A week-long trip of no bookings yet.

        .. versionadded:: 0.3
        """
        values: dict[str, Any] = {
            "id": TripId(uuid4()),
            "customer_id": customer_id,
            "name": f"Trip {self._n()}",
            "starts_on": self.now.date() + timedelta(days=7),
            "ends_on": self.now.date() + timedelta(days=14),
            "created_at": self.now,
            "updated_at": self.now,
        }
        return Trip(**(values | fields))

    def itinerary(self, booking_id: BookingId, **fields: Any) -> Itinerary:
        """A two-day plan.

        .. versionadded:: 0.3
        """
        first = self.now.date() + timedelta(days=7)
        values: dict[str, Any] = {
            "id": uuid4(),
            "booking_id": booking_id,
            "days": (
                ItineraryDay(day=first, title="Day 1", entries=("Arrive", "Hotel check-in")),
                ItineraryDay(day=first + timedelta(days=1), title="Day 2", notes="Free day"),
            ),
            "created_at": self.now,
            "updated_at": self.now,
        }
        return Itinerary(**(values | fields))

    def waitlist_entry(
        self, slot_id: SlotId, customer_id: CustomerId, **fields: Any
    ) -> WaitlistEntry:
        """A waiting entry for one seat at position 1, normal priority."""
        values: dict[str, Any] = {
            "id": WaitlistEntryId(uuid4()),
            "slot_id": slot_id,
            "customer_id": customer_id,
            "seats": 1,
            "position": 1,
            "created_at": self.now,
            "updated_at": self.now,
        }
        return WaitlistEntry(**(values | fields))

    def payment(self, booking: Booking, **fields: Any) -> Payment:
        """A pending ``stripe`` payment of the booking's total, reference ``pi_test_n``."""
        values: dict[str, Any] = {
            "id": PaymentId(uuid4()),
            "booking_id": booking.id,
            "customer_id": booking.customer_id,
            "provider": "stripe",
            "provider_reference": f"pi_test_{self._n()}",
            "amount": booking.total,
            "created_at": self.now,
            "updated_at": self.now,
        }
        return Payment(**(values | fields))

    def refund(self, payment_id: PaymentId, **fields: Any) -> Refund:
        """A pending refund of 100 INR from ``payment_id``, reference ``re_test_n``.

        Services start refunds with ``Payment.start_refund``, which also reserves
        the amount on the payment; this builds the stored row alone.

        .. versionadded:: 0.1
        """
        values: dict[str, Any] = {
            "id": RefundId(uuid4()),
            "payment_id": payment_id,
            "amount": Money("100", "INR"),
            "provider_reference": f"re_test_{self._n()}",
            "created_at": self.now,
            "updated_at": self.now,
        }
        return Refund(**(values | fields))

    def webhook_receipt(self, **fields: Any) -> WebhookReceipt:
        """A received Stripe delivery ``evt_test_n`` about ``pi_test_n``.

        .. versionadded:: 0.2
        """
        n = self._n()
        values: dict[str, Any] = {
            "id": uuid4(),
            "provider": "stripe",
            "event_id": f"evt_test_{n}",
            "kind": "payment_intent.succeeded",
            "received_at": self.now,
            "payload": {"id": f"evt_test_{n}", "data": {"object": {"id": f"pi_test_{n}"}}},
            "payment_reference": f"pi_test_{n}",
        }
        return WebhookReceipt(**(values | fields))

    def invoice_series(self, **fields: Any) -> InvoiceSeries:
        """A series ``2026/SER-n`` whose next number is 1.

        .. versionadded:: 0.2
        """
        values: dict[str, Any] = {"key": f"2026/SER-{self._n()}"}
        return InvoiceSeries(**(values | fields))

    def invoice(self, payment: Payment, **fields: Any) -> Invoice:
        """Invoice number 1 of a new series for ``payment``: one line of its amount, all paid.

        Pass ``series_key`` and ``sequence`` together to place it in a series.

        .. versionadded:: 0.2
        """
        amount = payment.amount
        key = fields.pop("series_key", f"2026/SER-{self._n()}")
        sequence = fields.pop("sequence", 1)
        kind = InvoiceKind(fields.pop("kind", InvoiceKind.INVOICE))
        values: dict[str, Any] = {
            "id": InvoiceId(uuid4()),
            "kind": kind,
            "series_key": key,
            "sequence": sequence,
            "number": invoice_number(kind, key, sequence),
            "booking_id": payment.booking_id,
            "customer_id": payment.customer_id,
            "payment_id": payment.id,
            "issued_at": self.now,
            "currency": amount.currency,
            "lines": (InvoiceLine.of("Trek seat", amount),),
            "subtotal": amount,
            "discount": Money.zero(amount.currency),
            "tax": Money.zero(amount.currency),
            "total": amount,
            "paid": amount,
            "due": Money.zero(amount.currency),
        }
        return Invoice(**(values | fields))

    def commission_entry(
        self, payment: Payment, partner_id: PartnerId, **fields: Any
    ) -> CommissionEntry:
        """The 10 % accrual of ``payment``'s whole amount for partner ``partner_id``.

        .. versionadded:: 0.2
        """
        values: dict[str, Any] = {
            "id": CommissionEntryId(uuid4()),
            "key": f"accrual:{payment.id}",
            "kind": CommissionEntryKind.ACCRUAL,
            "partner_id": partner_id,
            "booking_id": payment.booking_id,
            "payment_id": payment.id,
            "base": payment.amount,
            "rate": Decimal("10"),
            "amount": payment.amount.percent(Decimal("10")),
            "recorded_at": self.now,
        }
        return CommissionEntry(**(values | fields))

    # ---------------------------------------------------------------- partner webhooks

    def webhook_delivery(self, partner_id: PartnerId, **fields: Any) -> WebhookDelivery:
        """A pending ``booking.created`` webhook for ``partner_id``, due now, about a new event.

        .. versionadded:: 0.2
        """
        n = self._n()
        delivery = WebhookDelivery.schedule(
            event_id=uuid4(),
            partner_id=partner_id,
            topic=WebhookTopic.BOOKING_CREATED,
            payload={"type": "booking.created", "data": {"n": n, "nested": [1, "a"]}},
            now=self.now,
        )
        return attrs.evolve(delivery, **fields) if fields else delivery

    def webhook_attempt(self, delivery_id: UUID, number: int, **fields: Any) -> WebhookAttempt:
        """Attempt ``number`` of ``delivery_id``: a 200 in 12 ms.

        .. versionadded:: 0.2
        """
        values: dict[str, Any] = {
            "id": WebhookAttempt.key(delivery_id, number),
            "delivery_id": delivery_id,
            "number": number,
            "started_at": self.now,
            "url": "https://partner.example.com/hooks",
            "succeeded": True,
            "latency_ms": 12,
            "status_code": 200,
        }
        return WebhookAttempt(**(values | fields))

    def staff_member(self, **fields: Any) -> StaffMember:
        """An active staff member ``Staff n`` with a unique email ``staff-n@example.com``.

        .. versionadded:: 0.1
        """
        n = self._n()
        values: dict[str, Any] = {
            "id": StaffId(uuid4()),
            "email": EmailAddress(f"staff-{n}@example.com"),
            "name": f"Staff {n}",
            "role": StaffRole.STAFF,
            "created_at": self.now,
            "updated_at": self.now,
        }
        return StaffMember(**(values | fields))

    def import_job(self, **fields: Any) -> ImportJob:
        """A pending import of a CSV file ``bookings-n.csv`` started by the system.

        .. versionadded:: 0.1
        """
        n = self._n()
        values: dict[str, Any] = {
            "id": uuid4(),
            "filename": f"bookings-{n}.csv",
            "file_format": "csv",
            "file_size": 1024,
            "file_digest": f"{n:064x}",
            "created_by": Actor.system("tests"),
            "created_at": self.now,
            "updated_at": self.now,
        }
        return ImportJob(**(values | fields))

    def import_row_error(self, job_id: UUID, row_number: int, **fields: Any) -> ImportRowError:
        """Row ``row_number`` of ``job_id`` refused for a malformed phone number.

        .. versionadded:: 0.1
        """
        values: dict[str, Any] = {
            "id": uuid4(),
            "job_id": job_id,
            "row_number": row_number,
            "raw_row": {"customer_phone": "12345", "travelers": "2"},
            "problems": (
                CellProblem(
                    "not a valid phone number", "invalid_phone", "customer_phone", value="12345"
                ),
            ),
            "created_at": self.now,
        }
        return ImportRowError(**(values | fields))

    def auth_session(
        self,
        subject_id: UUID | None = None,
        *,
        lifetime: timedelta = timedelta(days=30),
        **fields: Any,
    ) -> AuthSession:
        """A customer's session started at :attr:`now`, living ``lifetime``.

        .. versionadded:: 0.1
        """
        created = fields.get("created_at", self.now)
        values: dict[str, Any] = {
            "id": uuid4(),
            "kind": PrincipalKind.CUSTOMER,
            "subject_id": subject_id or uuid4(),
            "created_at": created,
            "expires_at": created + lifetime,
            "refresh_jti": uuid4(),
        }
        return AuthSession(**(values | fields))
