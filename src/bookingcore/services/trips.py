"""Trips, itineraries and travel documents on demand, for a travel agency's desk.

* :class:`TripService`: group several bookings of one customer as one journey.
* :class:`ItineraryService`: a booking's day-by-day plan, generated from its
  items, edited by staff.
* :class:`TravelDocumentService`: the quotation, one voucher per supplier item
  and the itinerary of a booking, generated (again) on demand: each generation
  is a new version, stored through a :class:`~bookingcore.ports.DocumentStore`
  and listed with the booking's documents; plain text, or whatever the wired
  :class:`~bookingcore.ports.DocumentRenderer` makes of it (HTML, PDF).

.. versionadded:: 0.3
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import date, datetime, tzinfo
from uuid import UUID, uuid5

import attrs

from bookingcore.domain import policy
from bookingcore.domain.audit import AuditAction, diff, snapshot
from bookingcore.domain.bookings import Booking
from bookingcore.domain.documents import Document, DocumentData, DocumentKind, RenderedDocument
from bookingcore.domain.invoices import Invoice, InvoiceKind
from bookingcore.domain.items import BookingItem
from bookingcore.domain.policy import Permission, Principal, PrincipalKind
from bookingcore.domain.queries import Page, PageRequest, every_item
from bookingcore.domain.quotations import Quotation, QuotationFilter, QuotationStatus
from bookingcore.domain.trips import Itinerary, ItineraryDay, Trip, plan_days, render_itinerary
from bookingcore.domain.values import BookingId, CustomerId, DocumentId, TripId
from bookingcore.errors import NotFoundError, ValidationError
from bookingcore.ports.documents import DocumentStore
from bookingcore.ports.messaging import DocumentRenderer
from bookingcore.ports.uow import UnitOfWork
from bookingcore.services._context import (
    ServiceContext,
    Transaction,
    claim_change,
    claim_creation,
    fingerprint,
    principal_key,
)

__all__ = ["ItineraryService", "TravelDocumentService", "TripService"]

#: What a trip's audit entries record.
_TRIP_FIELDS = ("customer_id", "name", "starts_on", "ends_on", "booking_ids", "notes")


#: What an itinerary's audit entries record.
_ITINERARY_FIELDS = ("booking_id", "days")


def _plan(
    context: ServiceContext,
    tx: Transaction,
    booking: Booking,
    principal: Principal,
    *,
    now: datetime,
    replace: bool = False,
    made: UUID | None = None,
) -> tuple[Itinerary, bool]:
    """Inside ``tx``: the booking's plan, made from its live items (with id ``made``,
    a keyed call's, if given) when it has none or ``replace`` asks, audited as
    ``principal``'s; whether it changed. The caller commits."""
    uow = tx.uow
    days = plan_days(
        booking.starts_at,
        uow.booking_items.list_for_booking(booking.id),
        context.settings.zone,
    )
    existing = uow.itineraries.get_for_booking(booking.id)
    if existing is not None:
        if not replace:
            return existing, False
        before = snapshot(existing, ("days",))
        existing.days = days
        existing.touch(now)
        _audit_itinerary(tx, principal, existing, before)
        return existing, True
    itinerary = Itinerary(
        id=made or context.ids.new_id(),
        booking_id=booking.id,
        days=days,
        created_at=now,
        updated_at=now,
    )
    uow.itineraries.add(itinerary)
    tx.audit(
        principal,
        entity="itinerary",
        entity_id=itinerary.id,
        action=AuditAction.CREATED,
        new=snapshot(itinerary, _ITINERARY_FIELDS),
        booking_id=booking.id,
    )
    return itinerary, True


def _audit_itinerary(
    tx: Transaction, principal: Principal, itinerary: Itinerary, before: dict[str, object]
) -> None:
    """Audit how ``itinerary``'s days changed since ``before`` (nothing when they did not)."""
    old, new = diff(before, snapshot(itinerary, tuple(before)))
    if new:
        tx.audit(
            principal,
            entity="itinerary",
            entity_id=itinerary.id,
            action=AuditAction.UPDATED,
            old=old,
            new=new,
            booking_id=itinerary.booking_id,
        )


def _require_staff(principal: Principal, what: str) -> None:
    policy.require(principal.has(Permission.CHANGE_ALL), f"{principal} may not {what}")


def _visible_booking(uow: UnitOfWork, booking_id: BookingId, principal: Principal) -> Booking:
    booking = uow.bookings.get(booking_id)
    if booking is None or not policy.can_view_booking(principal, booking):
        raise NotFoundError("booking", booking_id)
    return booking


def _visible_plan(uow: UnitOfWork, booking_id: BookingId, principal: Principal) -> Itinerary:
    """The plan of a booking ``principal`` may see.

    Raises:
        NotFoundError: no such booking visible to ``principal``, or no plan yet.
    """
    _visible_booking(uow, booking_id, principal)
    itinerary = uow.itineraries.get_for_booking(booking_id)
    if itinerary is None:
        raise NotFoundError("itinerary", booking_id)
    return itinerary


class TripService:
    """Group a customer's bookings as trips.

    .. versionadded:: 0.3
    """

    def __init__(self, context: ServiceContext) -> None:
        self._ctx = context

    def create(
        self,
        customer_id: CustomerId,
        name: str,
        *,
        starts_on: date,
        ends_on: date,
        principal: Principal,
        booking_ids: Sequence[BookingId] = (),
        notes: str | None = None,
        idempotency_key: str | None = None,
    ) -> Trip:
        """A new trip of ``customer_id`` holding ``booking_ids``.

        A retry with the same ``idempotency_key`` and the same request (customer,
        name, dates, bookings, notes) returns the trip the first call made (as
        it is now) and writes nothing more.

        Raises:
            PermissionDeniedError: ``principal`` does not change everything.
            ValidationError: a blank name, dates in the wrong order, a booking of
                another customer or unknown (``booking_ids[<n>]``), one on another
                trip; a malformed ``idempotency_key``.
            IdempotencyConflictError: ``idempotency_key`` was used for another
                trip or another kind of operation.

        .. versionchanged:: 0.4
           ``idempotency_key``; sets each booking's ``trip_id``.
        """
        _require_staff(principal, "plan trips")
        key = principal_key(principal, idempotency_key)
        now = self._ctx.now()
        with self._ctx.transaction() as tx:
            uow = tx.uow
            if uow.customers.get(customer_id) is None:
                raise NotFoundError("customer", customer_id)
            trip = Trip(
                id=TripId(self._ctx.ids.new_id()),
                customer_id=customer_id,
                name=name,
                starts_on=starts_on,
                ends_on=ends_on,
                booking_ids=tuple(booking_ids),
                notes=notes,
                created_at=now,
                updated_at=now,
            )
            if key is not None:
                asked = fingerprint(
                    "trip",
                    principal,
                    customer_id=trip.customer_id,
                    name=trip.name,
                    starts_on=trip.starts_on,
                    ends_on=trip.ends_on,
                    booking_ids=trip.booking_ids,
                    notes=trip.notes,
                )
                made, prior = claim_creation(
                    uow, key, "trip", now, asked, as_id=TripId, load=uow.trips.get
                )
                if prior is not None:
                    return prior
                trip = attrs.evolve(trip, id=made)
            # Locked in one order, so two trips naming the same bookings wait, not deadlock.
            for booking_id in sorted(set(trip.booking_ids)):
                uow.bookings.get_for_update(booking_id)
            for index, booking_id in enumerate(trip.booking_ids):
                self._check_booking(uow, trip, booking_id, f"booking_ids[{index}]")
            uow.trips.add(trip)
            for booking_id in trip.booking_ids:
                _set_trip(uow, booking_id, trip.id, now)
            tx.audit(
                principal,
                entity="trip",
                entity_id=trip.id,
                action=AuditAction.CREATED,
                new=snapshot(trip, _TRIP_FIELDS),
            )
            tx.commit()
            return trip

    def add_booking(
        self,
        trip_id: TripId,
        booking_id: BookingId,
        *,
        principal: Principal,
        idempotency_key: str | None = None,
    ) -> Trip:
        """Put one more of the customer's bookings on the trip.

        A retry with the same ``idempotency_key`` and the same request (the trip
        and the booking) returns the trip as it is now and writes nothing: no
        ``ValidationError`` for the booking the first call put on it.

        Raises:
            NotFoundError: no such trip.
            PermissionDeniedError: ``principal`` does not change everything.
            ValidationError: on ``booking_id``: unknown, another customer's, on
                another trip (``on_another_trip``) or on this one already
                (``on_this_trip``); a malformed ``idempotency_key``.
            IdempotencyConflictError: ``idempotency_key`` was used for another
                request or another kind of operation.

        .. versionchanged:: 0.4
           ``idempotency_key``; sets the booking's ``trip_id``.
        """

        def add(uow: UnitOfWork, trip: Trip, now: datetime) -> None:
            uow.bookings.get_for_update(booking_id)
            self._check_booking(uow, trip, booking_id, "booking_id")
            if booking_id in trip.booking_ids:
                msg = f"booking {booking_id} is on this trip already"
                raise ValidationError.single("booking_id", msg, "on_this_trip")
            trip.add_booking(booking_id, now=now)
            _set_trip(uow, booking_id, trip.id, now)

        return self._change_bookings(
            "trip_booking_add",
            trip_id,
            booking_id,
            add,
            principal=principal,
            idempotency_key=idempotency_key,
        )

    def remove_booking(
        self,
        trip_id: TripId,
        booking_id: BookingId,
        *,
        principal: Principal,
        idempotency_key: str | None = None,
    ) -> Trip:
        """Take a booking off the trip.

        A retry with the same ``idempotency_key`` and the same request (the trip
        and the booking) returns the trip as it is now and writes nothing (the
        trip's version does not move again).

        Raises:
            NotFoundError: no such trip.
            PermissionDeniedError: ``principal`` does not change everything.
            ValidationError: a malformed ``idempotency_key``.
            IdempotencyConflictError: ``idempotency_key`` was used for another
                request or another kind of operation.

        .. versionchanged:: 0.4
           ``idempotency_key``; clears the booking's ``trip_id``.
        """

        def remove(uow: UnitOfWork, trip: Trip, now: datetime) -> None:
            if booking_id not in trip.booking_ids:
                return
            trip.remove_booking(booking_id, now=now)
            _set_trip(uow, booking_id, None, now)

        return self._change_bookings(
            "trip_booking_remove",
            trip_id,
            booking_id,
            remove,
            principal=principal,
            idempotency_key=idempotency_key,
        )

    def _change_bookings(
        self,
        operation: str,
        trip_id: TripId,
        booking_id: BookingId,
        change: Callable[[UnitOfWork, Trip, datetime], None],
        *,
        principal: Principal,
        idempotency_key: str | None,
    ) -> Trip:
        """Make ``change`` to the trip's bookings (keyed as ``operation`` on the trip
        and ``booking_id``) and commit it; a retry answers the trip as it is now."""
        _require_staff(principal, "plan trips")
        now = self._ctx.now()
        with self._ctx.transaction() as tx:
            uow = tx.uow
            made, fresh = claim_change(
                uow,
                now,
                idempotency_key,
                operation,
                principal,
                trip_id=trip_id,
                booking_id=booking_id,
            )
            trip = uow.trips.get(trip_id)
            if trip is None:
                raise NotFoundError("trip", trip_id)
            if fresh:
                before = snapshot(trip, ("booking_ids",))
                change(uow, trip, now)
                _audit_change(tx, principal, trip, before, entry_id=made)
                tx.commit()
            return trip

    def get(self, trip_id: TripId, *, principal: Principal) -> Trip:
        """The trip, if ``principal`` may see it (staff, or the customer it belongs to).

        Raises:
            NotFoundError: no such trip visible to ``principal``.
        """
        with self._ctx.uow_factory() as uow:
            trip = uow.trips.get(trip_id)
        if trip is None or not (
            principal.has(Permission.VIEW_ALL) or principal.is_customer(trip.customer_id)
        ):
            raise NotFoundError("trip", trip_id)
        return trip

    def for_customer(
        self, customer_id: CustomerId, page: PageRequest | None = None, *, principal: Principal
    ) -> Page[Trip]:
        """The customer's trips, newest first, a page at a time (pass the page's
        ``next_cursor`` for older ones); a customer reads only their own.

        Raises:
            NotFoundError: ``principal`` may not see this customer's trips.
            ValidationError: on ``limit`` or ``cursor`` for a bad page.

        .. versionchanged:: 0.3
           Takes a :class:`~bookingcore.domain.PageRequest` and answers a
           :class:`~bookingcore.domain.Page`, newest first (was every trip, earliest
           start first).
        """
        if not (principal.has(Permission.VIEW_ALL) or principal.is_customer(customer_id)):
            raise NotFoundError("customer", customer_id)
        with self._ctx.uow_factory() as uow:
            return uow.trips.list_for_customer(customer_id, page or PageRequest())

    @staticmethod
    def _check_booking(uow: UnitOfWork, trip: Trip, booking_id: BookingId, field: str) -> None:
        """Refuse a booking that is unknown, another customer's, or on another trip.

        The caller holds the booking's lock (``get_for_update``): two units of work
        putting one booking on two trips check one after the other.
        """
        booking = uow.bookings.get(booking_id)
        if booking is None or booking.customer_id != trip.customer_id:
            msg = f"no booking {booking_id} of this customer"
            raise ValidationError.single(field, msg, "unknown_reference")
        for other in every_item(lambda page: uow.trips.list_for_customer(trip.customer_id, page)):
            if other.id != trip.id and booking_id in other.booking_ids:
                msg = f"booking {booking.reference} is on the trip {other.name!r} already"
                raise ValidationError.single(field, msg, "on_another_trip")


def _set_trip(
    uow: UnitOfWork, booking_id: BookingId, trip_id: TripId | None, now: datetime
) -> None:
    """Record on the booking (locked by the caller) the trip it is on now."""
    booking = uow.bookings.get_for_update(booking_id)
    if booking is not None:
        booking.set_trip(trip_id, now=now)


def _audit_change(
    tx: Transaction,
    principal: Principal,
    trip: Trip,
    before: dict[str, object],
    *,
    entry_id: UUID | None,
) -> None:
    """Audit what changed on ``trip`` since ``before`` (nothing when nothing did)."""
    old, new = diff(before, snapshot(trip, tuple(before)))
    if new:
        tx.audit(
            principal,
            entity="trip",
            entity_id=trip.id,
            action=AuditAction.UPDATED,
            old=old,
            new=new,
            entry_id=entry_id,
        )


class ItineraryService:
    """Generate and edit bookings' day-by-day plans.

    .. versionadded:: 0.3
    """

    def __init__(self, context: ServiceContext) -> None:
        self._ctx = context

    def generate(
        self,
        booking_id: BookingId,
        *,
        principal: Principal,
        replace: bool = False,
        idempotency_key: str | None = None,
    ) -> Itinerary:
        """The booking's plan, made from its live items if it has none yet.

        With ``replace`` an existing plan is made again from the items (staff
        edits are lost); without it the existing plan is returned as it is.
        A retry with the same ``idempotency_key`` and the same request (the
        booking and ``replace``) returns the plan as it is now and writes
        nothing: a retried ``replace`` loses no edit made since.

        Raises:
            NotFoundError: no such booking visible to ``principal``.
            PermissionDeniedError: ``principal`` does not change everything.
            ValidationError: a malformed ``idempotency_key``.
            IdempotencyConflictError: ``idempotency_key`` was used for another
                request or another kind of operation.

        .. versionchanged:: 0.4
           ``idempotency_key``.
        .. versionchanged:: 0.4
           A plan made or replaced leaves an ``"itinerary"`` audit entry.
        """
        _require_staff(principal, "plan itineraries")
        now = self._ctx.now()
        with self._ctx.transaction() as tx:
            uow = tx.uow
            made, fresh = claim_change(
                uow,
                now,
                idempotency_key,
                "itinerary",
                principal,
                booking_id=booking_id,
                replace=replace,
            )
            booking = _visible_booking(uow, booking_id, principal)
            if not fresh:
                existing = uow.itineraries.get_for_booking(booking_id)
                if existing is None:  # the plan the first call made is gone
                    raise NotFoundError("itinerary", booking_id)
                return existing
            itinerary, changed = _plan(
                self._ctx, tx, booking, principal, now=now, replace=replace, made=made
            )
            if changed or made is not None:  # a key is kept even when nothing changed
                tx.commit()
            return itinerary

    def get(self, booking_id: BookingId, *, principal: Principal) -> Itinerary:
        """The booking's plan, for whoever may see the booking.

        Raises:
            NotFoundError: no booking visible to ``principal``, or no plan yet.
        """
        with self._ctx.uow_factory() as uow:
            return _visible_plan(uow, booking_id, principal)

    def set_day(
        self, booking_id: BookingId, day: ItineraryDay, *, principal: Principal
    ) -> Itinerary:
        """Staff write the plan of one date (replacing what it said, or adding the date).

        Raises:
            NotFoundError: no booking visible to ``principal``, or no plan yet.
            PermissionDeniedError: ``principal`` does not change everything.

        .. versionchanged:: 0.4
           Leaves an ``"itinerary"`` audit entry.
        """
        _require_staff(principal, "edit itineraries")
        with self._ctx.transaction() as tx:
            itinerary = _visible_plan(tx.uow, booking_id, principal)
            before = snapshot(itinerary, ("days",))
            itinerary.set_day(day, now=self._ctx.now())
            _audit_itinerary(tx, principal, itinerary, before)
            tx.commit()
            return itinerary

    def remove_day(self, booking_id: BookingId, day: date, *, principal: Principal) -> Itinerary:
        """Staff drop the plan of one date.

        Raises:
            NotFoundError: no booking visible to ``principal``, or no plan yet.
            PermissionDeniedError: ``principal`` does not change everything.

        .. versionchanged:: 0.4
           Leaves an ``"itinerary"`` audit entry.
        """
        _require_staff(principal, "edit itineraries")
        with self._ctx.transaction() as tx:
            itinerary = _visible_plan(tx.uow, booking_id, principal)
            before = snapshot(itinerary, ("days",))
            itinerary.remove_day(day, now=self._ctx.now())
            _audit_itinerary(tx, principal, itinerary, before)
            tx.commit()
            return itinerary


class TravelDocumentService:
    """Generate a booking's quotation, vouchers, itinerary and invoices on demand, versioned.

    Each call writes new versions: the file goes to the
    :class:`~bookingcore.ports.DocumentStore` under
    ``<booking reference>/<kind>[-<n>]-v<version>.<ext>`` and a
    :class:`~bookingcore.domain.Document` with the same name and content is
    listed with the booking (``core.bookings.documents``).

    Without a ``renderer`` the documents are plain text (``.txt``). With one
    (``BookingCore(renderer=...)``), the same text goes to it as
    :attr:`DocumentData.body <bookingcore.domain.documents.DocumentData.body>` and the file is
    what it renders: ``.html`` from
    :class:`~bookingcore_adapters.documents.PlainRenderer`, ``.pdf`` from
    :class:`~bookingcore_adapters.pdf.PdfRenderer` (the document's content is
    then the PDF base64-encoded; ``Document.to_bytes()`` gives the file).

    .. versionadded:: 0.3
    .. versionchanged:: 0.3 ``renderer``.
    """

    def __init__(
        self,
        context: ServiceContext,
        itineraries: ItineraryService,
        store: DocumentStore | None = None,
        renderer: DocumentRenderer | None = None,
    ) -> None:
        self._ctx = context
        self._itineraries = itineraries
        self._store = store
        self._renderer = renderer

    def generate(
        self,
        booking_id: BookingId,
        kind: DocumentKind | str,
        *,
        principal: Principal,
        idempotency_key: str | None = None,
    ) -> Sequence[Document]:
        """Write the next version of the booking's ``kind`` documents.

        ``quotation``: the approved quotation the booking was made from;
        ``voucher``: one per live supplier item, ``voucher-<n>`` with ``n`` the
        item's place among the booking's supplier items oldest first, cancelled
        ones included (stable once issued); ``itinerary``: the plan (made
        from the items first if there is none); ``invoice``: one per invoice and
        credit note issued for the booking's payments (named by its number, its
        numbers as issued; none before a payment was captured). Each document
        records who generated it (:attr:`Document.generated_by
        <bookingcore.domain.Document.generated_by>`: the staff member's id).

        A retry with the same ``idempotency_key`` and the same request (the
        booking and ``kind``) returns the documents the first call wrote (none
        if it wrote none) and writes no new version, to the store or the list.

        Raises:
            NotFoundError: no such booking visible to ``principal``; no quotation
                behind the booking.
            PermissionDeniedError: ``principal`` does not change everything.
            ValidationError: on ``kind`` for another kind of document; a
                malformed ``idempotency_key``.
            IdempotencyConflictError: ``idempotency_key`` was used for another
                request or another kind of operation.

        .. versionchanged:: 0.4
           ``idempotency_key``; the documents record ``generated_by``.
        .. versionchanged:: 0.4
           A voucher's number no longer shifts when an earlier item is cancelled.
        """
        _require_staff(principal, "generate documents")
        wanted = next((k for k in DocumentKind if k.value == kind), None)
        if wanted not in _ON_DEMAND:
            msg = "generate quotation, voucher, itinerary or invoice documents here"
            raise ValidationError.single("kind", msg, "invalid_choice")
        now = self._ctx.now()
        business = self._ctx.settings.business_name
        with self._ctx.transaction() as tx:
            uow = tx.uow
            made, fresh = claim_change(
                uow,
                now,
                idempotency_key,
                "document_generation",
                principal,
                booking_id=booking_id,
                kind=wanted,
            )
            booking = _visible_booking(uow, booking_id, principal)
            if not fresh:
                assert made is not None
                return _documents_made(uow, made)
            planned = None
            if wanted is DocumentKind.ITINERARY:
                planned, _ = _plan(self._ctx, tx, booking, principal, now=now)
            texts: list[tuple[str, str]] = []
            # The approved revision a quotation document shows, recorded on it.
            quotation = self._quotation(uow, booking) if wanted is DocumentKind.QUOTATION else None
            issued: dict[str, Invoice] = {}  # the invoice behind each stem, for invoices
            if wanted is DocumentKind.INVOICE:
                for invoice in uow.invoices.list_for_booking(booking_id):
                    issued[invoice.number] = invoice
                    text = _invoice_text(invoice, business, self._ctx.settings.zone)
                    texts.append((invoice.number, text))
            elif quotation is not None:
                texts.append(("quotation", _quotation_text(quotation, booking, business)))
            elif wanted is DocumentKind.VOUCHER:
                for number, item in _voucher_numbers(
                    uow.booking_items.list_for_booking(booking_id)
                ):
                    if not item.is_cancelled:
                        text = _voucher_text(uow, booking, item, business)
                        texts.append((f"voucher-{number}", text))
            else:
                assert planned is not None
                heading = f"Itinerary of booking {booking.reference} ({business})"
                texts.append(("itinerary", render_itinerary(planned, heading=heading)))
            earlier = uow.documents.list_for_booking(booking_id)
            written: list[Document] = []
            for stem, text in texts:
                version = 1 + sum(1 for d in earlier if d.filename.startswith(f"{stem}-v"))
                behind = issued.get(stem)
                shown = wanted
                if behind is not None and behind.kind is not InvoiceKind.INVOICE:
                    shown = DocumentKind(behind.kind.value)
                rendered = self._render(
                    uow, booking, shown, text, now=now, business=business, invoice=behind
                )
                extension = rendered.filename.rpartition(".")[2] or "txt"
                filename = f"{stem}-v{version}.{extension}"
                if self._store is not None:
                    self._store.put(
                        f"{booking.reference}/{filename}",
                        rendered.to_bytes(),
                        media_type=rendered.media_type.partition(";")[0],
                    )
                document = Document(
                    id=(
                        DocumentId(self._ctx.ids.new_id())
                        if made is None
                        else _document_id(made, len(written))
                    ),
                    booking_id=booking_id,
                    kind=shown,
                    filename=filename,
                    media_type=rendered.media_type,
                    content=rendered.content,
                    created_at=now,
                    generated_by=principal.id if principal.kind is PrincipalKind.STAFF else None,
                    quotation_id=None if quotation is None else quotation.id,
                )
                uow.documents.add(document)
                written.append(document)
            tx.commit()  # with a key, even when nothing was written: the key stays claimed
            return written

    def _render(
        self,
        uow: UnitOfWork,
        booking: Booking,
        kind: DocumentKind,
        text: str,
        *,
        now: datetime,
        business: str,
        invoice: Invoice | None = None,
    ) -> RenderedDocument:
        """``text`` as the wired renderer makes it, or as plain text without one.

        An issued ``invoice`` (or credit note) goes to the renderer with the invoice
        it credits, issued when it was: the renderer prints its numbers, not ``text``.
        """
        if self._renderer is None:
            return RenderedDocument(text, "text/plain; charset=utf-8", f"{kind.value}.txt")
        customer = uow.customers.get(booking.customer_id)
        if customer is None:
            raise NotFoundError("customer", booking.customer_id)
        travelers = tuple(
            t for t in (uow.travelers.get(e.traveler_id) for e in booking.travelers) if t
        )
        credited = None
        if invoice is not None and invoice.credited_invoice_id is not None:
            credited = uow.invoices.get(invoice.credited_invoice_id)
        return self._renderer.render(
            DocumentData(
                kind=kind,
                booking=booking,
                customer=customer,
                travelers=travelers,
                location=uow.locations.get(booking.location_id),
                product=uow.products.get(booking.product_id) if booking.product_id else None,
                issued_at=now if invoice is None else invoice.issued_at,
                business_name=business,
                zone=self._ctx.settings.zone,
                invoice=invoice,
                credited=credited,
                body=() if invoice is not None else tuple(text.splitlines()),
            )
        )

    @staticmethod
    def _quotation(uow: UnitOfWork, booking: Booking) -> Quotation:
        """The approved quotation the booking was made from.

        Raises:
            NotFoundError: there is none.
        """
        quotation = next(
            (
                q
                for q in every_item(
                    lambda page: uow.quotations.list(
                        QuotationFilter(
                            customer_id=booking.customer_id, status=QuotationStatus.APPROVED
                        ),
                        page,
                    )
                )
                if q.booking_id == booking.id
            ),
            None,
        )
        if quotation is None:
            raise NotFoundError("quotation", booking.reference)
        return quotation


def _quotation_text(quotation: Quotation, booking: Booking, business: str) -> str:
    """The quotation document's text: the approved revision behind ``booking``."""
    lines = [
        f"Quotation {quotation.reference}, version {quotation.revision} ({business})",
        f"Booking {booking.reference}",
        f"Seats for {quotation.travelers} at {quotation.seat_price}: {quotation.seats_total}",
    ]
    for line in quotation.lines:
        rate = "" if line.exchange_rate == 1 else f" at {line.exchange_rate}"
        lines.append(
            f"- {line.description}: {line.quantity} x {line.unit_price}{rate}"
            f" = {line.total_in(quotation.currency)}"
        )
    lines.append(f"Total: {quotation.total}")
    return "\n".join(lines) + "\n"


def _document_id(made: UUID, index: int) -> DocumentId:
    """The id of the ``index``-th document a keyed generation (``made``) writes."""
    return DocumentId(uuid5(made, f"document-{index}"))


def _documents_made(uow: UnitOfWork, made: UUID) -> list[Document]:
    """The documents the keyed generation ``made`` wrote, in the order it wrote them."""
    found: list[Document] = []
    while (document := uow.documents.get(_document_id(made, len(found)))) is not None:
        found.append(document)
    return found


#: The kinds of document :meth:`TravelDocumentService.generate` makes.
_ON_DEMAND = (
    DocumentKind.QUOTATION,
    DocumentKind.VOUCHER,
    DocumentKind.ITINERARY,
    DocumentKind.INVOICE,
)


def _invoice_text(invoice: Invoice, business: str, zone: tzinfo) -> str:
    """An issued invoice or credit note as plain text, with its numbers as issued (its
    day that of the business's clock ``zone``)."""
    title = {
        InvoiceKind.INVOICE: "Invoice",
        InvoiceKind.CREDIT_NOTE: "Credit note",
        InvoiceKind.DEBIT_NOTE: "Debit note",
    }[invoice.kind]
    lines = [
        f"{title} {invoice.number} ({business})",
        f"Issued {invoice.issued_at.astimezone(zone).date().isoformat()}",
    ]
    lines += [f"- {line.description}: {line.amount}" for line in invoice.lines]
    lines += [
        f"Subtotal: {invoice.subtotal}",
        f"Discount: {invoice.discount}",
        f"Tax included: {invoice.tax}",
        f"Total: {invoice.total}",
        f"{'Refunded' if invoice.is_credit_note else 'Paid'}: {invoice.paid}",
        f"Due: {invoice.due}",
    ]
    return "\n".join(lines) + "\n"


def _voucher_numbers(items: Sequence[BookingItem]) -> list[tuple[int, BookingItem]]:
    """Each supplier item of a booking with its voucher number: its place among the
    booking's supplier items oldest first, cancelled ones included.

    Items are never deleted and keep their supplier and creation time, so an item's
    number never changes once its voucher was issued: cancelling an earlier item
    leaves the later ones' numbers as they were (the cancelled one's is not reused).
    """
    supplied = [i for i in items if i.supplier_id is not None]
    return list(enumerate(supplied, start=1))


def _voucher_text(uow: UnitOfWork, booking: Booking, item: BookingItem, business: str) -> str:
    supplier = uow.suppliers.get(item.supplier_id) if item.supplier_id else None
    customer = uow.customers.get(booking.customer_id)
    dates = ""
    if item.service_starts_on is not None:
        dates = item.service_starts_on.isoformat()
        if item.service_ends_on is not None and item.service_ends_on != item.service_starts_on:
            dates += f" to {item.service_ends_on.isoformat()}"
    lines = [
        f"Voucher ({business})",
        f"Booking {booking.reference}, guest {customer.name if customer and customer.name else ''}",
        f"Supplier: {supplier.name if supplier else ''}",
        f"Service: {item.description} x{item.quantity}",
        f"Dates: {dates or 'as booked'}",
        f"Status: {item.status.value}",
        f"Supplier reference: {item.supplier_reference or '-'}",
    ]
    return "\n".join(lines) + "\n"
