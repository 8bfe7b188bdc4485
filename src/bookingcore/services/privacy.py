"""GDPR: everything stored about a customer, and erasing them.

::

    data = core.privacy.export_customer(customer_id, principal=staff)
    Path("asha.json").write_text(json.dumps(data, indent=2))

    core.privacy.erase_customer(customer_id, principal=staff, reason="request 2026-113")

Erasure anonymises in place: the customer's and their travelers' personal
fields are dropped (the phone becomes a placeholder no real number equals),
messages lose their recipient, text and failure reason, bookings their travelers' requirements,
internal notes and advisor notes, cancellation reason, referral source and metadata
values (but the library's own references), their status history its notes, the
events about them in the outbox their notes and metadata values, their
trails the reasons given, webhooks to partners about them their free text, stored
payment-provider deliveries about their payments the payer's details (ids, amounts
and statuses stay), leads and quotations their notes and reasons
(their amounts stay), trips their name and notes, groups they organise their
name, itineraries their day notes, refunds their reason, manual payments their
note (on the payment's trail too), failed import rows
naming them (their phone, email or an external id) their raw cells, their
bookings' stored documents their content (invoices and credit notes, financial
records, are kept as issued), and the values of
audit entries about them are redacted; their active waiting-list entries are
cancelled (seats an offer held go to the next in line), and their family links
are removed (they leave their family, ending it if they own it; invitations
sent to or by them are deleted).
Bookings, payments and their amounts stay, so counts and money still add up.
Because the data is gone from storage, no read can bring it back: searches,
lists, exports and the customer view only find the placeholders.

.. versionadded:: 0.3
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from functools import partial
from typing import Any

import attrs

from bookingcore.domain import policy
from bookingcore.domain.audit import AuditAction, AuditEntry
from bookingcore.domain.auth import RevocationReason
from bookingcore.domain.bookings import Booking
from bookingcore.domain.certificates import CertificateFilter
from bookingcore.domain.customers import Customer, Traveler
from bookingcore.domain.documents import DocumentKind
from bookingcore.domain.groups import BookingGroup
from bookingcore.domain.leads import LeadFilter
from bookingcore.domain.partner_webhooks import PAYMENT_METADATA_KEY
from bookingcore.domain.policy import Permission, Principal, PrincipalKind
from bookingcore.domain.queries import BookingFilter, every_item
from bookingcore.domain.quotations import QuotationFilter
from bookingcore.domain.values import BookingId, CustomerId
from bookingcore.errors import ValidationError
from bookingcore.ports.security import OtpStore, RateLimiter
from bookingcore.ports.uow import UnitOfWork
from bookingcore.serialization import to_dict
from bookingcore.services._context import ServiceContext, Transaction, claim_change
from bookingcore.services._family_links import forget_family_links
from bookingcore.services._seat_offers import cancel_entries
from bookingcore.services._sessions import revoke_sessions
from bookingcore.services.auth import otp_phone_bucket
from bookingcore.services.customers import CustomerService
from bookingcore.services.sharing import SHARE_LINK_ENTITY, forget_share_links, masked_link

__all__ = ["ERASED_TEXT", "PERSONAL_FIELDS", "PrivacyService"]

#: What erased free text reads as.
ERASED_TEXT = "[erased]"

#: The fields whose recorded values are redacted from audit entries about an
#: erased customer or traveler.
PERSONAL_FIELDS = frozenset(
    {
        "phone",
        "name",
        "email",
        "age",
        "birth_date",
        "gender",
        "emergency_contact_name",
        "emergency_contact_phone",
        "special_requirements",
        "recipient",
        "content",
        "subject",
        "note",
        "notes",
        "internal_notes",
        "lost_reason",
        "rejection_reason",
        "group_name",
        "referral_source",
        "cancellation_reason",
        "metadata",
    }
)

#: Metadata keys whose values erasure keeps: references the library itself writes
#: (the quotation a booking came from, the waiting-list entry, the payment that moved it).
_KEPT_METADATA = frozenset(
    {"quotation", "quotation_revision", "waitlist_entry_id", PAYMENT_METADATA_KEY}
)


#: Documents erasure keeps as issued: financial records.
_FINANCIAL_DOCUMENTS = frozenset(
    {DocumentKind.INVOICE, DocumentKind.CREDIT_NOTE, DocumentKind.DEBIT_NOTE}
)


class PrivacyService:
    """Export what is stored about a customer, and erase a customer (GDPR).

    Args:
        context: the core's services' shared context.
        otp_store: the store of sign-in codes, whose challenge for an erased
            customer's phone the erasure removes.
        rate_limiter: the rate limiter, whose count of codes requested for an
            erased customer's phone (:func:`~bookingcore.services.otp_phone_bucket`)
            the erasure resets.

    .. versionadded:: 0.3
    .. versionchanged:: 0.4 ``otp_store`` and ``rate_limiter``.
    """

    def __init__(
        self,
        context: ServiceContext,
        *,
        otp_store: OtpStore | None = None,
        rate_limiter: RateLimiter | None = None,
    ) -> None:
        self._ctx = context
        self._otp_store = otp_store
        self._rate_limiter = rate_limiter

    def export_customer(self, customer_id: CustomerId, *, principal: Principal) -> dict[str, Any]:
        """Everything stored about the customer, as JSON-ready data.

        Keys: ``customer``, ``travelers`` (soft-deleted ones too), ``bookings``,
        ``payments``, ``communications``, ``waitlist_entries``, ``certificates``,
        ``leads``, ``quotations`` (every revision), ``trips``, ``groups`` (those
        they organise), ``booking_items``, ``itineraries``, ``documents``,
        ``refunds``, ``status_history`` (every move of their bookings, with its
        note), ``payment_webhooks`` (the stored provider deliveries about their
        payments, as the provider sent them), ``family`` (their family
        membership and the invitations sent to or by them, 0.4), ``audit``
        (entries about the customer and their travelers, oldest first),
        ``push_devices`` (their devices for push notifications),
        ``share_links`` (the links to their bookings' trip views, tokens masked,
        0.4) and ``exported_at``. Staff who see everything, the system and the customer
        themself may ask (the right of access); a provider's webhook may not.
        Staff notes stay with staff: the customer's own export has their bookings
        without internal notes and the status moves others made without their note
        and metadata (:func:`~bookingcore.domain.policy.booking_for`,
        :func:`~bookingcore.domain.policy.history_for`), without the notices sent to
        staff about their bookings (:func:`~bookingcore.domain.policy.can_read_message`),
        and its audit entries keep the
        address and user agent only of the changes the customer made themself.

        Raises:
            NotFoundError: no such customer visible to ``principal``.
            PermissionDeniedError: a partner, an advisor or a provider's webhook asks.

        .. versionchanged:: 0.4
           ``push_devices``.

        .. versionchanged:: 0.4 ``family``.

        .. versionchanged:: 0.4 ``share_links``.

        .. versionchanged:: 0.4
           The customer's own export leaves out notices to staff (``assignment``).
        """
        policy.require(
            (
                principal.kind in (PrincipalKind.STAFF, PrincipalKind.SYSTEM)
                and principal.has(Permission.VIEW_ALL)
            )
            or principal.is_customer(customer_id),
            f"{principal} may not export a customer's data",
        )
        with self._ctx.uow_factory() as uow:
            customer = CustomerService.load_visible(uow, customer_id, principal)
            travelers = uow.travelers.list_for_customer(customer_id, include_deleted=True)
            bookings = list(
                every_item(
                    partial(
                        uow.bookings.list,
                        BookingFilter(customer_id=customer_id, include_archived=True),
                    )
                )
            )
            mine = CertificateFilter(customer_id=customer_id)
            audit = _origins_for(principal, self._trail(uow, customer, travelers))
            return {
                "exported_at": to_dict(self._ctx.now()),
                "customer": to_dict(customer),
                "travelers": to_dict(list(travelers)),
                "bookings": to_dict(policy.bookings_for(principal, bookings)),
                "payments": to_dict(list(uow.payments.list_for_customer(customer_id))),
                "communications": to_dict(
                    [
                        message
                        for message in uow.communications.list_for_customer(customer_id)
                        if policy.can_read_message(principal, message)
                    ]
                ),
                "waitlist_entries": to_dict(
                    list(every_item(partial(uow.waitlist.list_for_customer, customer_id)))
                ),
                "certificates": to_dict(list(every_item(partial(uow.certificates.list, mine)))),
                "leads": to_dict(
                    list(every_item(partial(uow.leads.list, LeadFilter(customer_id=customer_id))))
                ),
                "quotations": to_dict(
                    list(
                        every_item(
                            partial(uow.quotations.list, QuotationFilter(customer_id=customer_id))
                        )
                    )
                ),
                "audit": to_dict(audit),
                "push_devices": to_dict(list(uow.push_devices.list_for_customer(customer_id))),
                "share_links": [
                    masked_link(link) for link in uow.share_links.list_for_customer(customer_id)
                ],
                "family": {
                    "membership": to_dict(uow.families.member(customer_id)),
                    "invitations": to_dict(list(uow.families.invitations_involving(customer_id))),
                },
                **self._related(uow, customer_id, bookings, principal),
            }

    @staticmethod
    def _related(
        uow: UnitOfWork, customer_id: CustomerId, bookings: Sequence[Booking], principal: Principal
    ) -> dict[str, Any]:
        """The status history, payment webhooks, trips, organised groups, booking items,
        itineraries, documents and refunds to export (the status history as
        ``principal`` may read it: staff notes stay with staff)."""
        plans = [uow.itineraries.get_for_booking(b.id) for b in bookings]
        payments = uow.payments.list_for_customer(customer_id)
        return {
            "status_history": to_dict(
                [
                    event
                    for b in bookings
                    for event in policy.history_for(
                        principal, uow.lifecycle_events.list_for_booking(b.id)
                    )
                ]
            ),
            "payment_webhooks": to_dict(
                [
                    receipt
                    for p in payments
                    if p.provider_reference
                    for receipt in uow.webhook_inbox.list_for_payment(
                        p.provider, p.provider_reference
                    )
                ]
            ),
            "trips": to_dict(list(every_item(partial(uow.trips.list_for_customer, customer_id)))),
            "groups": to_dict(_organised(uow, customer_id)),
            "booking_items": to_dict(
                [item for b in bookings for item in uow.booking_items.list_for_booking(b.id)]
            ),
            "itineraries": to_dict([plan for plan in plans if plan is not None]),
            "documents": to_dict(
                [d for b in bookings for d in uow.documents.list_for_booking(b.id)]
            ),
            "refunds": to_dict(
                [
                    refund
                    for payment in payments
                    for refund in uow.refunds.list_for_payment(payment.id)
                ]
            ),
        }

    def _end_waiting(
        self,
        tx: Transaction,
        customer_id: CustomerId,
        principal: Principal,
        reason: str | None,
    ) -> int:
        """Cancel the customer's active entries (offers go onward); how many were ended."""
        active = [
            e
            for e in every_item(partial(tx.uow.waitlist.list_for_customer, customer_id))
            if e.is_active
        ]
        now = self._ctx.now()
        ended = 0
        # Each entry under the lock of the slot its offer holds seats on (its own, or an
        # alternative date's).
        for slot_id in sorted({e.offer_slot_id for e in active}, key=str):
            slot = tx.uow.slots.get_for_update(slot_id)
            if slot is None:  # pragma: no cover - entries name stored slots
                continue
            entries = [
                locked
                for e in active
                if e.offer_slot_id == slot_id
                and (locked := tx.uow.waitlist.get_for_update(e.id)) is not None
                and locked.is_active
            ]
            cancel_entries(
                self._ctx, tx, slot, entries, principal=principal, reason=reason, now=now
            )
            ended += len(entries)
        return ended

    @staticmethod
    def _trail(
        uow: UnitOfWork, customer: Customer, travelers: Sequence[Traveler]
    ) -> list[AuditEntry]:
        entries = list(uow.audit.list_for("customer", customer.id))
        for traveler in travelers:
            entries += uow.audit.list_for("traveler", traveler.id)
        return sorted(entries, key=lambda e: (e.occurred_at, e.id.bytes))

    @staticmethod
    def _erase_import_rows(uow: UnitOfWork, customer: Customer, customer_id: CustomerId) -> None:
        """Failed import rows naming the customer (phone, email, external ids) lose
        their raw cells and the values their problems quote.

        Failed rows are not linked to customers: every import's failed rows are read.
        """
        theirs = BookingFilter(customer_id=customer_id, include_archived=True)
        names = {b.external_id for b in every_item(partial(uow.bookings.list, theirs))}
        names |= {customer.external_id, customer.email.value if customer.email else None}
        wanted = {n.strip().casefold() for n in names if n}
        phone = _digits(customer.phone.e164)
        for job in list(every_item(uow.imports.list)):
            for error in uow.import_errors.list_for_job(job.id):
                cells = [str(v) for v in error.raw_row.values()]
                if not any(_names(cell, wanted, phone) for cell in cells):
                    continue
                error.raw_row = {k: ERASED_TEXT if v else v for k, v in error.raw_row.items()}
                error.problems = tuple(
                    attrs.evolve(p, value=ERASED_TEXT if p.value else p.value)
                    for p in error.problems
                )

    @staticmethod
    def _erase_booking_text(uow: UnitOfWork, booking: Booking) -> None:
        """The booking's cancellation reason, referral source and metadata values (but
        the library's own references) become ``[erased]``, and so do the notes and
        metadata of its status history and the free text of webhooks to partners about it.
        """
        if booking.cancellation_reason:
            booking.cancellation_reason = ERASED_TEXT
        if booking.referral_source:
            booking.referral_source = ERASED_TEXT
        booking.metadata = {
            k: v if k in _KEPT_METADATA or not v else ERASED_TEXT
            for k, v in booking.metadata.items()
        }
        for event in uow.lifecycle_events.list_for_booking(booking.id):
            event.erase(ERASED_TEXT, keep=_KEPT_METADATA)
        for delivery in uow.webhook_deliveries.list_for_booking(booking.id):
            delivery.erase(ERASED_TEXT)

    @staticmethod
    def _erase_related(uow: UnitOfWork, customer_id: CustomerId, now: datetime) -> None:
        """Trips lose their name and notes, organised groups their name, and their
        payments what :meth:`_erase_payments` says."""
        for trip in list(every_item(partial(uow.trips.list_for_customer, customer_id))):
            for entry in uow.audit.list_for(trip.entity_name, trip.id):
                entry.redact(PERSONAL_FIELDS)
            trip.name = ERASED_TEXT
            trip.notes = None
            trip.touch(now)
        for group in _organised(uow, customer_id):
            for entry in uow.audit.list_for(group.entity_name, group.id):
                entry.redact(PERSONAL_FIELDS)
            if group.group_name is not None:
                group.group_name = None
                group.updated_at = now
                group.version += 1
        PrivacyService._erase_payments(uow, customer_id, now)

    @staticmethod
    def _erase_payments(uow: UnitOfWork, customer_id: CustomerId, now: datetime) -> None:
        """Payments lose a manual payment's note (and their trails its reason), refunds
        their reason, stored provider deliveries the payer's details; the money stays."""
        for payment in uow.payments.list_for_customer(customer_id):
            if payment.metadata.get("note"):
                payment.metadata = {**payment.metadata, "note": ERASED_TEXT}
                payment.updated_at = now
                payment.version += 1
            for entry in uow.audit.list_for("payment", payment.id):
                entry.redact(PERSONAL_FIELDS)
                entry.redact_reason()  # a manual payment's note is its entry's reason
            for refund in uow.refunds.list_for_payment(payment.id):
                if refund.reason:
                    refund.reason = None
                    refund.updated_at = now
                    refund.version += 1
            if payment.provider_reference:
                # The provider's payloads name the payer: ids, amounts and statuses stay.
                found = uow.webhook_inbox.list_for_payment(
                    payment.provider, payment.provider_reference
                )
                for receipt in found:
                    receipt.erase(ERASED_TEXT)

    @staticmethod
    def _erase_sales(uow: UnitOfWork, customer_id: CustomerId, now: datetime) -> None:
        """Drop the free text of the customer's leads and quotations (and on their trails)."""
        for lead in list(every_item(partial(uow.leads.list, LeadFilter(customer_id=customer_id)))):
            for entry in uow.audit.list_for(lead.entity_name, lead.id):
                entry.redact(PERSONAL_FIELDS)
            if lead.notes or lead.lost_reason:
                lead.notes = lead.lost_reason = None
                lead.touch(now)
        quotations = partial(uow.quotations.list, QuotationFilter(customer_id=customer_id))
        for quotation in list(every_item(quotations)):
            for entry in uow.audit.list_for(quotation.entity_name, quotation.id):
                entry.redact(PERSONAL_FIELDS)
            if quotation.notes or quotation.rejection_reason:
                quotation.notes = quotation.rejection_reason = None
                quotation.touch(now)

    def _erase_identity(self, customer: Customer, now: datetime) -> None:
        """Forget the customer's phone in the sign-in stores (before the commit: a store
        that fails erases nothing), then anonymise the customer."""
        if self._otp_store is not None:
            self._otp_store.forget(customer.phone)
        if self._rate_limiter is not None:
            self._rate_limiter.reset(otp_phone_bucket(customer.phone))
        customer.erase(now=now)

    def erase_customer(
        self,
        customer_id: CustomerId,
        *,
        principal: Principal,
        reason: str | None = None,
        idempotency_key: str | None = None,
    ) -> Customer:
        """Anonymise the customer and their travelers, keeping bookings and money.

        In one unit of work: the customer's phone, name, email and external id, every
        personal field of their travelers, the recipient and text of their
        messages, their bookings' per-traveler requirements and attendance notes, internal notes,
        advisor notes, cancellation reason, referral source and metadata values
        (those the library writes, quotation, waiting-list entry and payment
        ids, are kept), the notes and metadata values of their bookings' status
        history and the reasons on their bookings' audit trails, the
        cancellation reason and note in stored webhooks to partners about their
        bookings, the text of stored payment-provider deliveries about their
        payments (but ids, types, statuses, currencies and numbers such as
        amounts), the notes of their waiting-list entries, the notes and
        lost/rejection reasons of their leads and quotations, their trips' name and
        notes, the name of groups they organise, their itineraries' day notes, the
        reason of their refunds (and those values on
        the bookings', leads' and quotations' audit trails), the note of their manual
        payments (and its reason on the payment's trail), the notes and metadata
        values (but the library's own) of the events about their bookings still in
        the outbox (``BookingStatusChanged``, ``BookingRescheduled``; what a relay
        already published to a broker is beyond reach),
        and the recorded values of audit entries about them are erased, their
        push devices (and their tokens) are deleted, and
        their signed-in sessions end; an
        ``erased`` audit entry records who did it and why (without the data).

        Their phone is forgotten outside the database too, before the unit of work
        commits: the OTP store's challenge for it (:meth:`OtpStore.forget
        <bookingcore.ports.security.OtpStore.forget>`: a used or waiting sign-in
        code) and the rate limiter's count of codes requested for it
        (:func:`~bookingcore.services.otp_phone_bucket`). If either cannot be
        reached, the error is raised and nothing is erased: call again.

        Their family links are removed in the same unit of work: they leave their
        family (the family ends if they own it) and the invitations sent to or by
        them are deleted, so nobody books their travelers any more. The share links
        to their bookings are deleted (and their labels redacted from the links'
        trails): no link opens their trips any more.

        Their active waiting-list entries are cancelled in the same unit of
        work, the way :meth:`~bookingcore.services.WaitlistService.remove`
        cancels one: an offer an entry held is released and its seats are
        offered to the next entries in line, so no seat stays held for (and no
        offer message goes to) the erased customer.

        A retry with the same ``idempotency_key`` and the same request (the customer
        and ``reason``) answers the erased customer and writes nothing more.

        .. versionchanged:: 0.4 the outbox's events about their bookings; their
           travelers' attendance notes; ``idempotency_key``; their push devices; family
           links; share links; their phone's sign-in code and rate-limit count.

        Raises:
            PermissionDeniedError: only staff who may change everything, and the
                system, erase (not a provider's webhook).
            NotFoundError: no such customer (or one merged into another).
            ValidationError: the customer was erased already (by another request);
                a malformed ``idempotency_key``.
            IdempotencyConflictError: ``idempotency_key`` was used for another request.
        """
        policy.require(
            principal.kind in (PrincipalKind.STAFF, PrincipalKind.SYSTEM)
            and principal.has(Permission.CHANGE_ALL),
            f"{principal} may not erase customers",
        )
        now = self._ctx.now()
        with self._ctx.transaction() as tx:
            uow = tx.uow
            entry_id, fresh = claim_change(
                uow,
                now,
                idempotency_key,
                "customer_erase",
                principal,
                customer_id=customer_id,
                reason=reason,
            )
            customer = CustomerService.load_visible(uow, customer_id, principal)
            if not fresh:
                return customer
            if customer.is_erased:
                msg = f"customer {customer_id} was erased already"
                raise ValidationError.single("customer_id", msg, "already_erased")
            # First, before anything is written: end the customer's waiting-list entries,
            # each slot locked before its entries (the waiting list's lock order).
            waitlist_entries = self._end_waiting(tx, customer_id, principal, reason)
            travelers = uow.travelers.list_for_customer(customer_id, include_deleted=True)
            for entry in self._trail(uow, customer, travelers):
                entry.redact(PERSONAL_FIELDS)
            self._erase_import_rows(uow, customer, customer_id)
            self._erase_identity(customer, now)
            revoke_sessions(
                tx,
                PrincipalKind.CUSTOMER,
                customer_id,
                RevocationReason.CREDENTIALS_CHANGED,
                principal=principal,
                now=now,
            )
            _erase_travelers_and_devices(uow, customer_id, travelers, now)
            bookings = 0
            theirs = BookingFilter(customer_id=customer_id, include_archived=True)
            booking_ids: list[BookingId] = []
            for booking in list(every_item(partial(uow.bookings.list, theirs))):
                booking_ids.append(booking.id)
                booking.travelers = tuple(
                    attrs.evolve(
                        t,
                        special_requirements=None,
                        attendance=(
                            None if t.attendance is None else attrs.evolve(t.attendance, note=None)
                        ),
                    )
                    for t in booking.travelers
                )
                booking.internal_notes = None
                self._erase_booking_text(uow, booking)
                for document in uow.documents.list_for_booking(booking.id):
                    if document.kind not in _FINANCIAL_DOCUMENTS:
                        document.erase(ERASED_TEXT)
                plan = uow.itineraries.get_for_booking(booking.id)
                if plan is not None and any(day.notes for day in plan.days):
                    plan.days = tuple(attrs.evolve(day, notes=None) for day in plan.days)
                    plan.touch(now)
                for entry in uow.audit.list_for(booking.entity_name, booking.id):
                    entry.redact(PERSONAL_FIELDS)  # advisor notes and notes on the trail
                    entry.redact_reason()  # a cancellation's reason is its entry's too
                booking.updated_at = now
                booking.version += 1
                bookings += 1
            # The events about their bookings still in the outbox: notes and metadata values.
            for event in uow.outbox.list_for_bookings(booking_ids):
                event.erase(ERASED_TEXT, keep=_KEPT_METADATA)
            for waiting in list(every_item(partial(uow.waitlist.list_for_customer, customer_id))):
                if waiting.notes:
                    waiting.notes = None
                    waiting.touch(now)
            self._erase_sales(uow, customer_id, now)
            self._erase_related(uow, customer_id, now)
            messages = uow.communications.list_for_customer(customer_id)
            for message in messages:
                message.recipient = ERASED_TEXT
                message.subject = None
                message.content = ""
                if message.failed_reason:  # a provider's reason may quote the recipient
                    message.failed_reason = ERASED_TEXT
            tx.audit(
                principal,
                entity="customer",
                entity_id=customer_id,
                action=AuditAction.ERASED,
                new={
                    "travelers": len(travelers),
                    "bookings": bookings,
                    "communications": len(messages),
                    "waitlist_entries": waitlist_entries,
                    # Family links go: no member books their travelers any more.
                    "family_links": forget_family_links(
                        self._ctx, tx, customer_id, principal, reason=reason
                    ),
                    "share_links": _forget_share_links(uow, customer_id),
                },
                reason=reason,
                entry_id=entry_id,
            )
            tx.commit()
            return customer


def _organised(uow: UnitOfWork, customer_id: CustomerId) -> list[BookingGroup]:
    """The groups the customer organises (not those whose company profile it is)."""
    return [
        group
        for group in every_item(lambda page: uow.groups.list(page, customer_id=customer_id))
        if group.organizer_id == customer_id
    ]


def _origins_for(principal: Principal, entries: Sequence[AuditEntry]) -> list[AuditEntry]:
    """``entries`` as ``principal`` may read them in an export: staff and the system read
    every entry's address and user agent; anyone else only those of the changes they
    made themself (another person's address, a member of staff's, is not theirs)."""
    if policy.sees_staff_notes(principal):
        return list(entries)
    return [
        e
        if e.actor == principal.actor or (e.ip_address is None and e.user_agent is None)
        else attrs.evolve(e, ip_address=None, user_agent=None)
        for e in entries
    ]


def _digits(text: str) -> str:
    return "".join(ch for ch in text if ch.isdigit())


def _names(cell: str, wanted: set[str], phone: str) -> bool:
    """True when ``cell`` holds one of the ``wanted`` identifiers or the phone."""
    text = cell.strip()
    if text.casefold() in wanted:
        return True
    digits = _digits(text)
    phone_like = all(ch.isdigit() or ch in " +-().\t" for ch in text)
    return phone_like and len(digits) >= 7 and phone.endswith(digits)


def _erase_travelers_and_devices(
    uow: UnitOfWork, customer_id: CustomerId, travelers: Sequence[Traveler], now: datetime
) -> None:
    """Erase the customer's travelers and delete their push devices (a token
    identifies its device, and nothing is pushed to an erased customer)."""
    for traveler in travelers:
        traveler.erase(now=now)
    for device in uow.push_devices.list_for_customer(customer_id):
        uow.push_devices.remove(device.id)


def _forget_share_links(uow: UnitOfWork, customer_id: CustomerId) -> int:
    """Delete the links to the customer's bookings (none of them opens any more), their
    trails' labels redacted first; how many went."""
    for link in uow.share_links.list_for_customer(customer_id):
        for entry in uow.audit.list_for(SHARE_LINK_ENTITY, link.id):
            entry.redact(PERSONAL_FIELDS | {"label"})
    return forget_share_links(uow, customer_id)
