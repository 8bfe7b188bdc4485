"""Quotation use cases for a travel agency: quote, revise, send, approve, reject, expire.

A quotation offers seats on one slot for a party of travelers plus lines from
several suppliers. Every revision is kept; only the current one, sent and
still valid, can be approved. Approving it books through the one booking path
(:meth:`bookingcore.services.BookingService.book_in`, hence
:meth:`~bookingcore.domain.bookings.Booking.open`) with the quoted prices, the
lines as the booking's items and the exchange rates recorded when it was
quoted, and walks the booking along the travel lifecycle to ``booking_created``
(``lead_created -> quotation_sent -> quotation_approved -> booking_created``),
all in one transaction.

.. versionadded:: 0.3
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from datetime import date, datetime
from decimal import Decimal
from functools import partial
from typing import cast

import attrs

from bookingcore.domain import policy
from bookingcore.domain._validation import Problems, calendar_day, clean_text, parse_choice
from bookingcore.domain.audit import AuditAction
from bookingcore.domain.bookings import Booking
from bookingcore.domain.communications import Communication, CommunicationType
from bookingcore.domain.idempotency import caller_key
from bookingcore.domain.items import BookingItemKind, round_rate
from bookingcore.domain.leads import LeadStatus
from bookingcore.domain.policy import Permission, Principal, PrincipalKind
from bookingcore.domain.pricing import price_booking
from bookingcore.domain.queries import Page, PageRequest, every_item
from bookingcore.domain.quotations import (
    Quotation,
    QuotationFilter,
    QuotationLine,
    QuotationStatus,
    QuotationSupersededError,
)
from bookingcore.domain.slots import Slot
from bookingcore.domain.values import (
    CustomerId,
    LeadId,
    Money,
    ProductId,
    QuotationId,
    SlotId,
    SupplierId,
)
from bookingcore.errors import (
    ConflictError,
    IdempotencyConflictError,
    NotFoundError,
    StaleVersionError,
    ValidationError,
)
from bookingcore.ports.exchange import ExchangeRates
from bookingcore.ports.uow import UnitOfWork
from bookingcore.services._context import (
    ServiceContext,
    Transaction,
    check_key_free,
    claim_key,
    fingerprint,
    principal_key,
    under_fresh_reference,
)
from bookingcore.services.bookings import (
    BookedItem,
    BookingRequest,
    BookingService,
    NewTraveler,
    SavedTraveler,
)
from bookingcore.services.communications import CommunicationService

__all__ = ["QuotationRequest", "QuotationService", "QuoteLine", "SentQuotation"]

#: The lifecycle a booking made from a quotation follows, and the moves approval makes.
TRAVEL_LIFECYCLE = "travel"
_APPROVAL_MOVES = ("quotation_sent", "quotation_approved", "booking_created")


@attrs.frozen(kw_only=True)
class QuoteLine:
    """One product or service to quote, priced in its supplier's currency if need be.

    The exchange rate into the quotation's currency is read from the core's
    :class:`~bookingcore.ports.ExchangeRates` when the quotation is made, and
    kept on the line, rounded half up to
    :data:`~bookingcore.domain.items.RATE_PLACES` decimal places (as the
    booking's items keep it).

    .. versionadded:: 0.3
    """

    kind: BookingItemKind | str
    description: str
    quantity: int
    unit_price: Money
    supplier_id: SupplierId | None = None
    product_id: ProductId | None = None
    service_starts_on: date | None = None
    service_ends_on: date | None = None


def _lines(values: Iterable[QuoteLine]) -> tuple[QuoteLine, ...]:
    return tuple(values)


@attrs.frozen(kw_only=True)
class QuotationRequest:
    """What the first revision of a quotation offers.

    Args:
        customer_id: who it is for.
        slot_id: the departure the holiday is built around (its seats are booked).
        travelers: the party size.
        lines: the hotels, flights, activities and ground services.
        valid_until: the last day it can be approved.
        seat_price: the price per traveler; the slot's price when ``None``.
        lead_id: the lead it answers (moved to ``quoted``).
        notes: shown with the quotation.

    .. versionadded:: 0.3
    """

    customer_id: CustomerId
    slot_id: SlotId
    travelers: int
    valid_until: date
    lines: tuple[QuoteLine, ...] = attrs.field(default=(), converter=_lines)
    seat_price: Money | None = None
    lead_id: LeadId | None = None
    notes: str | None = None


@attrs.frozen
class SentQuotation:
    """What :meth:`QuotationService.send` did: the revision, now sent, and the logged message.

    ``communication.status`` says whether the notifier took it (``failed``
    with its reason otherwise; the quotation counts as sent either way).

    .. versionadded:: 0.3
    """

    quotation: Quotation
    communication: Communication


class QuotationService:
    """Quote, revise, send, approve, reject and expire quotations.

    .. versionadded:: 0.3
    """

    def __init__(
        self,
        context: ServiceContext,
        bookings: BookingService,
        communications: CommunicationService,
        exchange_rates: ExchangeRates | None = None,
    ) -> None:
        self._ctx = context
        self._bookings = bookings
        self._communications = communications
        self._rates = exchange_rates

    # ------------------------------------------------------------------ quote

    def create(
        self,
        request: QuotationRequest,
        *,
        principal: Principal,
        idempotency_key: str | None = None,
    ) -> Quotation:
        """Make the first revision of a quotation (a draft).

        With an ``idempotency_key`` (scoped to ``principal``) a retry of the
        same request returns the revision the first call made and writes nothing.

        Its ``QT-`` reference is random: one drawn again (already a quotation's)
        is made again, whole, under a fresh one, as bookings are.

        Raises:
            PermissionDeniedError: ``principal`` lacks ``set_prices``.
            ValidationError: naming each bad field: an unknown customer, an
                unknown, closed or started slot, a lead of another customer, an
                unknown or deactivated supplier or product on ``lines[<n>]``, a
                currency with no exchange rate, a validity date in the past, a
                ``seat_price`` that is not Money, is negative or is in another
                currency than the slot; a malformed ``idempotency_key``.
            IdempotencyConflictError: the key was used for a different request.

        .. versionchanged:: 0.3 ``idempotency_key``.
        .. versionchanged:: 0.4 a reference drawn again is retried under a fresh one.
        """
        _require_quoter(principal)
        key = principal_key(principal, idempotency_key)
        digest = None
        if key is not None:
            digest = fingerprint("create_quotation", principal, request=request)
        return self._once(key, digest, lambda: self._create(request, principal, key, digest))

    def _create(
        self,
        request: QuotationRequest,
        principal: Principal,
        key: str | None,
        digest: str | None,
    ) -> Quotation:
        now = self._ctx.now()
        return under_fresh_reference(
            self._ctx,
            lambda fresh: self._create_as(
                fresh(), request, principal=principal, key=key, digest=digest, now=now
            ),
            draw=lambda: _quotation_reference(self._ctx.ids.new_reference()),
            entity="quotation",
            taken=lambda uow, reference: bool(uow.quotations.list_revisions(reference)),
        )

    def _create_as(
        self,
        reference: str,
        request: QuotationRequest,
        *,
        principal: Principal,
        key: str | None,
        digest: str | None,
        now: datetime,
    ) -> Quotation:
        """:meth:`create`'s one transaction, making the quotation ``reference``."""
        with self._ctx.transaction() as tx:
            uow = tx.uow
            if key is not None and not claim_key(uow, key, "quotation", now):
                prior = _prior_revision(uow, key, digest)
                if prior is not None:
                    return prior
            p = Problems()
            if uow.customers.get(request.customer_id) is None:
                p.add("customer_id", f"no customer {request.customer_id}", "unknown_reference")
            lead = None
            if request.lead_id is not None:
                lead = uow.leads.get(request.lead_id)
                if lead is None or lead.customer_id != request.customer_id:
                    msg = f"no lead {request.lead_id} of this customer"
                    p.add("lead_id", msg, "unknown_reference")
            quotation = self._build(
                uow,
                p,
                reference=reference,
                revision=1,
                customer_id=request.customer_id,
                slot_id=request.slot_id,
                travelers=request.travelers,
                lines=request.lines,
                valid_until=request.valid_until,
                seat_price=request.seat_price,
                notes=request.notes,
                lead_id=request.lead_id,
                principal=principal,
            )
            if lead is not None and lead.status is not LeadStatus.QUOTED:
                lead.move(LeadStatus.QUOTED, now=now)
            quotation.idempotency_key = key
            quotation.request_fingerprint = digest
            uow.quotations.add(quotation)
            self._audit(tx, principal, quotation, AuditAction.CREATED)
            tx.commit()
            return quotation

    def convert_lead(
        self,
        lead_id: LeadId,
        *,
        slot_id: SlotId,
        valid_until: date,
        principal: Principal,
        lines: Iterable[QuoteLine] = (),
        travelers: int | None = None,
        seat_price: Money | None = None,
        notes: str | None = None,
        idempotency_key: str | None = None,
    ) -> Quotation:
        """Convert a lead into the first revision of a quotation for its customer.

        ``travelers`` defaults to the party size the lead gave. The lead moves
        to ``quoted``. ``idempotency_key`` works as in :meth:`create` (the
        request is the quotation request made from the lead).

        Raises:
            NotFoundError: no such lead visible to ``principal``.
            ValidationError: on ``travelers`` when neither it nor the lead gives a
                party size; as :meth:`create` otherwise.
            InvalidTransitionError: the lead is won or lost.
        """
        with self._ctx.uow_factory() as uow:
            lead = uow.leads.get(lead_id)
        if lead is None or not policy.can_view_lead(principal, lead):
            raise NotFoundError("lead", lead_id)
        party = lead.travelers if travelers is None else travelers
        if party is None:
            msg = "the lead gives no party size; say how many travelers"
            raise ValidationError.single("travelers", msg, "required")
        return self.create(
            QuotationRequest(
                customer_id=lead.customer_id,
                slot_id=slot_id,
                travelers=party,
                valid_until=valid_until,
                lines=tuple(lines),
                seat_price=seat_price,
                lead_id=lead.id,
                notes=notes,
            ),
            principal=principal,
            idempotency_key=idempotency_key,
        )

    def revise(
        self,
        quotation_id: QuotationId,
        *,
        principal: Principal,
        lines: Iterable[QuoteLine] | None = None,
        travelers: int | None = None,
        valid_until: date | None = None,
        seat_price: Money | None = None,
        slot_id: SlotId | None = None,
        notes: str | None = None,
        idempotency_key: str | None = None,
    ) -> Quotation:
        """Make the next revision; the one it replaces becomes ``superseded`` and stays readable.

        A rejected or expired current revision may be revised too (a counter-offer,
        or the offer made again with a new ``valid_until``): it keeps its status.
        Fields left ``None`` are taken from the revision being replaced
        (``seat_price`` from the slot when the slot changes). Exchange rates
        are read again. With an ``idempotency_key`` (scoped to ``principal``) a
        retry of the same revision request returns the revision the first call
        made, even though ``quotation_id`` is superseded by then.

        Raises:
            NotFoundError: no such quotation visible to ``principal``.
            PermissionDeniedError: ``principal`` lacks ``set_prices``.
            QuotationSupersededError: ``quotation_id`` is not the current revision.
            InvalidTransitionError: the current revision is approved.
            ValidationError: as :meth:`create` (an expired revision revised without
                a new ``valid_until`` keeps its past one: on ``valid_until``).
            IdempotencyConflictError: the key was used for a different request.

        .. versionchanged:: 0.3 ``idempotency_key``.
        """
        _require_quoter(principal)
        key = principal_key(principal, idempotency_key)
        changes = _Revision(
            lines=None if lines is None else tuple(lines),
            travelers=travelers,
            valid_until=valid_until,
            seat_price=seat_price,
            slot_id=slot_id,
            notes=notes,
        )
        digest = None
        if key is not None:
            asked = attrs.asdict(changes, recurse=False)
            digest = fingerprint("revise_quotation", principal, quotation_id=quotation_id, **asked)
        return self._once(
            key, digest, lambda: self._revise(quotation_id, changes, principal, key, digest)
        )

    def _revise(
        self,
        quotation_id: QuotationId,
        changes: _Revision,
        principal: Principal,
        key: str | None,
        digest: str | None,
    ) -> Quotation:
        lines, travelers, valid_until = changes.lines, changes.travelers, changes.valid_until
        seat_price, slot_id, notes = changes.seat_price, changes.slot_id, changes.notes
        now = self._ctx.now()
        with self._ctx.transaction() as tx:
            uow = tx.uow
            if key is not None and not claim_key(uow, key, "quotation", now):
                prior = _prior_revision(uow, key, digest)
                if prior is not None:
                    return prior
            old = _visible(uow, quotation_id, principal)
            _check_current(uow, old)
            old.replace(now=now)
            same_slot = slot_id is None or slot_id == old.slot_id
            keep_price = old.seat_price if same_slot else None
            previous_lines = [_as_quote_line(line) for line in old.lines]
            p = Problems()
            quotation = self._build(
                uow,
                p,
                reference=old.reference,
                revision=old.revision + 1,
                customer_id=old.customer_id,
                slot_id=slot_id or old.slot_id,
                travelers=old.travelers if travelers is None else travelers,
                lines=tuple(previous_lines if lines is None else lines),
                valid_until=valid_until or old.valid_until,
                seat_price=seat_price or keep_price,
                notes=old.notes if notes is None else notes,
                lead_id=old.lead_id,
                principal=principal,
            )
            quotation.idempotency_key = key
            quotation.request_fingerprint = digest
            uow.quotations.add(quotation)
            self._audit(tx, principal, quotation, AuditAction.CREATED, reason="revised")
            tx.commit()
            return quotation

    def _once(
        self, key: str | None, digest: str | None, make: Callable[[], Quotation]
    ) -> Quotation:
        """``make()``; when a twin with the same key won the race, its revision instead."""
        try:
            return make()
        except ConflictError:
            if key is None:
                raise
            with self._ctx.uow_factory() as uow:
                prior = _prior_revision(uow, key, digest)
            if prior is None:
                raise
            return prior

    def _build(
        self,
        uow: UnitOfWork,
        p: Problems,
        *,
        reference: str,
        revision: int,
        customer_id: CustomerId,
        slot_id: SlotId,
        travelers: int,
        lines: Sequence[QuoteLine],
        valid_until: date,
        seat_price: Money | None,
        notes: str | None,
        lead_id: LeadId | None,
        principal: Principal,
    ) -> Quotation:
        """The revision, every field checked; all problems raised together."""
        now = self._ctx.now()
        today = self._ctx.settings.local(now).date()
        slot = _quotable_slot(uow, slot_id, now, p)
        day = p.capture(lambda: calendar_day(valid_until, "valid_until"))
        if day is not None and day < today:
            p.add("valid_until", "is in the past", "past")
        currency = slot.currency if slot else None
        price = (
            seat_price if seat_price is not None else (slot.price_per_traveler if slot else None)
        )
        if price is not None and not isinstance(cast(object, price), Money):
            p.add("seat_price", "must be Money", "invalid_type")
            price = None
        elif price is not None and price.is_negative():
            p.add("seat_price", "cannot be negative", "negative_amount")
        if price is not None and currency is not None and price.currency != currency:
            msg = f"is in {price.currency}; the slot is priced in {currency}"
            p.add("seat_price", msg, "currency_mismatch")
        quoted: list[QuotationLine] = []
        for index, line in enumerate(lines):
            inner = Problems(prefix=f"lines[{index}]")
            made = self._line(uow, line, currency, today=today, inner=inner)
            p.extend(inner)
            if made is not None:
                quoted.append(made)
        p.capture(lambda: clean_text(notes, "notes", max_length=5000))
        p.raise_if_any()
        assert slot is not None
        assert price is not None
        seats = price_booking(
            [price] * _party(travelers), slot.group_discounts, currency=slot.currency
        )
        return Quotation(
            id=QuotationId(self._ctx.ids.new_id()),
            reference=reference,
            revision=revision,
            customer_id=customer_id,
            lead_id=lead_id,
            slot_id=slot.id,
            travelers=travelers,
            seat_price=price,
            seats_total=seats.total,
            lines=tuple(quoted),
            valid_until=valid_until,
            notes=notes,
            created_at=now,
            updated_at=now,
            created_by=principal.actor,
        )

    def _line(
        self,
        uow: UnitOfWork,
        line: QuoteLine,
        currency: str | None,
        *,
        today: date,
        inner: Problems,
    ) -> QuotationLine | None:
        if line.supplier_id is not None:
            supplier = uow.suppliers.get(line.supplier_id)
            if supplier is None:
                inner.add("supplier_id", f"no supplier {line.supplier_id}", "unknown_reference")
            elif not supplier.is_active:
                inner.add("supplier_id", f"supplier {supplier.code} is deactivated", "inactive")
        if line.product_id is not None:
            product = uow.products.get(line.product_id)
            if product is None:
                inner.add("product_id", f"no product {line.product_id}", "unknown_reference")
            elif not product.is_active:
                inner.add("product_id", f"product {product.code} is deactivated", "inactive")
        rate: Decimal | None = Decimal(1)
        if not isinstance(cast(object, line.unit_price), Money):
            inner.add("unit_price", "must be Money", "invalid")
            rate = None
        elif currency is not None and line.unit_price.currency != currency:
            rate = inner.capture(lambda: self._rate(line.unit_price.currency, currency, today))
        made = None
        if rate is not None:
            made = inner.capture(
                lambda: QuotationLine(
                    kind=line.kind,
                    description=line.description,
                    quantity=line.quantity,
                    unit_price=line.unit_price,
                    supplier_id=line.supplier_id,
                    product_id=line.product_id,
                    service_starts_on=line.service_starts_on,
                    service_ends_on=line.service_ends_on,
                    exchange_rate=rate,
                ).check_new()
            )
        return made if not inner.errors else None

    def _rate(self, source: str, target: str, today: date) -> Decimal:
        if self._rates is None:
            msg = f"priced in {source}, quoted in {target}, and no exchange rates are configured"
            raise ValidationError.single("currency", msg, "no_rate")
        rate = self._rates.rate(source, target, on=today)
        if not isinstance(cast(object, rate), Decimal) or rate <= 0:
            msg = f"the exchange rates gave {rate!r} for {source}->{target}, not a positive Decimal"
            raise ValidationError.single("exchange_rate", msg, "invalid")
        # Kept as every store keeps a booking item's rate: the line costs the same in
        # the quotation, in the booking made from it and in its items read back.
        return round_rate(rate)

    # ------------------------------------------------------------------ read

    def get(self, quotation_id: QuotationId, *, principal: Principal) -> Quotation:
        """One revision, if ``principal`` may see it (a customer sees only their own,
        once sent: a draft answers NotFoundError to them).

        Raises:
            NotFoundError: no such quotation visible to ``principal``.
        """
        with self._ctx.uow_factory() as uow:
            return _visible(uow, quotation_id, principal)

    def revisions(self, reference: str, *, principal: Principal) -> Sequence[Quotation]:
        """Every revision of the quotation ``reference`` ``principal`` may see, first
        first. Staff see them all (the last is current); a customer does not see the
        drafts never sent.

        Raises:
            NotFoundError: no such quotation visible to ``principal``.
        """
        with self._ctx.uow_factory() as uow:
            listed = uow.quotations.list_revisions(str(reference).strip().upper())
        found = [q for q in listed if policy.can_view_quotation(principal, q)]
        if not found:
            raise NotFoundError("quotation", reference)
        return found

    def list(
        self,
        page: PageRequest | None = None,
        *,
        principal: Principal,
        status: QuotationStatus | str | None = None,
        customer_id: CustomerId | None = None,
        lead_id: LeadId | None = None,
    ) -> Page[Quotation]:
        """Revisions ``principal`` may see matching every filter, newest first, a page
        at a time (pass the page's ``next_cursor`` for older ones).

        A customer sees only their own, once sent (asking for another customer's or
        for drafts finds none).

        Raises:
            ValidationError: on ``status`` for an unknown status; on ``limit`` or
                ``cursor`` for a bad page.

        .. versionchanged:: 0.3
           Takes a :class:`~bookingcore.domain.PageRequest` and answers a
           :class:`~bookingcore.domain.Page`, newest first (was every revision,
           oldest first); an unknown ``status`` is a ValidationError.
        """
        wanted = QuotationFilter(
            status=None
            if status is None
            else parse_choice(QuotationStatus, status, "status", what="a quotation status"),
            customer_id=customer_id,
            lead_id=lead_id,
        )
        scoped = policy.scope_quotations(principal, wanted)
        if scoped is None:
            return Page([])
        with self._ctx.uow_factory() as uow:
            return uow.quotations.list(scoped, page or PageRequest())

    # ------------------------------------------------------------------ decide

    def send(
        self,
        quotation_id: QuotationId,
        *,
        principal: Principal,
        channel: str | None = None,
        idempotency_key: str | None = None,
    ) -> SentQuotation:
        """Mark the revision sent and send it to the customer; the message is logged
        as a communication (failed, with the reason, when the notifier refused).

        With an ``idempotency_key`` a retry (the same quotation and channel:
        what was asked, not the text, rendered anew from the quotation as it is
        now) returns the first call's message (and the quotation as it is now)
        without marking or sending again; a message that failed is sent again
        (the same record). The message
        carries the key (its ``dedupe_key``, scoped as in
        :meth:`CommunicationService.send <bookingcore.services.CommunicationService.send>`),
        so a retry after a first call that marked the revision sent but never
        logged its message marks it again and sends the message once. The key
        belongs to the ``"message"`` operations.

        Raises:
            NotFoundError: no such quotation visible to ``principal``.
            PermissionDeniedError: ``principal`` may not message customers (staff
                who change everything and the system may, not a provider's webhook).
            QuotationExpiredError: its validity has passed.
            InvalidTransitionError: it is decided or superseded.
            ValidationError: on ``idempotency_key`` for a malformed key; on
                ``channel`` for an unknown channel or one the customer has no address
                on; on ``body`` for a text longer than an SMS carries. The revision
                is then left as it was (not marked sent).
            IdempotencyConflictError: the key was used to send another
                quotation or message, or by another kind of operation.

        .. versionchanged:: 0.4
           ``idempotency_key``.
        .. versionchanged:: 0.4
           A keyed retry is recognised by the quotation and channel asked for,
           not by the message's text.
        .. versionchanged:: 0.4
           A message that cannot go (no address on the channel, too long for SMS) is
           refused before the revision is marked sent; it was marked sent first.
        """
        policy.require(
            principal.kind in (PrincipalKind.STAFF, PrincipalKind.SYSTEM)
            and principal.has(Permission.CHANGE_ALL),
            f"{principal} may not send quotations",
        )
        key = principal_key(principal, idempotency_key)
        try:
            with self._ctx.transaction() as tx:
                quotation = _visible(tx.uow, quotation_id, principal)
                sent_before = None
                if key is not None:
                    check_key_free(tx.uow, key, "message")
                    sent_before = tx.uow.communications.get_by_dedupe_key(key)
                if sent_before is None:
                    # The text must be able to go before the revision is marked sent.
                    customer = tx.uow.customers.get(quotation.customer_id)
                    if customer is not None:
                        subject, body = _message(quotation, self._ctx.settings.business_name)
                        CommunicationService.route_text(
                            tx.uow, customer, channel, subject=subject, body=body
                        )
                    quotation.send(now=self._ctx.now(), today=self._ctx.today())
                    self._audit(tx, principal, quotation, AuditAction.STATUS_CHANGED)
                    tx.commit()
        except StaleVersionError:
            if key is None:
                raise
            # A twin with the key marked it at the same moment: send_text lets one of
            # them log the message and returns it to the other.
            with self._ctx.uow_factory() as uow:
                quotation = _visible(uow, quotation_id, principal)
            if quotation.status is not QuotationStatus.SENT:
                raise
        # A retry (sent_before) is marked already: send_text returns its message, or
        # refuses the key when that message was another one.
        subject, body = _message(quotation, self._ctx.settings.business_name)
        # A retry is recognised by what was asked (this quotation, this channel), never
        # by the text, which each call renders anew from the quotation as it is now.
        communication = self._communications.send_rendered_text(
            quotation.customer_id,
            CommunicationType.QUOTATION,
            subject=subject,
            body=body,
            principal=principal,
            channel=channel,
            idempotency_key=idempotency_key,
            asked=("send_quotation", {"quotation_id": quotation_id}),
        )
        return SentQuotation(quotation, communication)

    def approve(
        self,
        quotation_id: QuotationId,
        travelers: Sequence[NewTraveler | SavedTraveler],
        *,
        principal: Principal,
        idempotency_key: str | None = None,
    ) -> Booking:
        """Accept the current revision: book it, with its items, through the one booking path.

        In one transaction: the revision is checked (current, sent, valid
        today), the booking is made by
        :meth:`~bookingcore.services.BookingService.book_in` with the quoted
        seat price for each traveler and the lines as items (at the rates
        recorded on them; deactivated suppliers or products refuse), moved along
        the travel lifecycle to ``booking_created`` (holding the seats), the
        revision marked approved and its lead won. A lead a partner captured
        makes the booking the partner's (``partner_id``): the partner reads it
        and the captures that pay it accrue its commission.

        Args:
            travelers: exactly the quoted number of travelers, one of them primary.
            idempotency_key: a retry with the same key and the same travelers
                returns the first call's booking and writes nothing.

        Raises:
            NotFoundError: no such quotation visible to ``principal``.
            PermissionDeniedError: neither its customer nor staff who change everything.
            QuotationSupersededError: on field ``revision``: a newer revision replaced it.
            QuotationExpiredError: on field ``valid_until``: it is no longer valid.
            InvalidTransitionError: it is a draft, or decided already.
            ValidationError: on ``travelers`` for another party size; on
                ``seats_total`` (``price_changed``) when the slot's group discount
                tiers changed since it was quoted so that the booking would not
                cost the quoted total (revise it); the booking's own checks
                (slot, travelers, items).
            CapacityError: the slot has fewer seats left than travelers.
            IdempotencyConflictError: the key was used for a different request.
        """
        now = self._ctx.now()
        key = principal_key(principal, idempotency_key)
        digest = None
        if key is not None:
            digest = fingerprint(
                "approve_quotation", principal, quotation_id=quotation_id, travelers=travelers
            )
        try:
            booked = self._approve(
                quotation_id, travelers, principal=principal, now=now, key=key, digest=digest
            )
        except ConflictError:
            if key is None:
                raise
            # Lost the race to a twin with the same key: its booking is this call's answer.
            with self._ctx.uow_factory() as uow:
                prior = _prior_booking(uow, key, digest)
            if prior is None:
                raise
            booked = prior
        return policy.booking_for(principal, booked)

    def _approve(
        self,
        quotation_id: QuotationId,
        travelers: Sequence[NewTraveler | SavedTraveler],
        *,
        principal: Principal,
        now: datetime,
        key: str | None,
        digest: str | None,
    ) -> Booking:
        with self._ctx.transaction() as tx:
            uow = tx.uow
            if key is not None and not claim_key(uow, key, "booking", now):
                prior = _prior_booking(uow, key, digest)
                if prior is not None:
                    return prior
            quotation = _visible(uow, quotation_id, principal)
            policy.require(
                policy.can_decide_quotation(principal, quotation),
                f"{principal} may not approve quotation {quotation.reference}",
            )
            _check_current(uow, quotation)
            quotation.check_approvable(self._ctx.settings.local(now).date())
            if len(travelers) != quotation.travelers:
                msg = f"the quotation is for {quotation.travelers}, not {len(travelers)}"
                raise ValidationError.single("travelers", msg, "party_size")
            lead = None if quotation.lead_id is None else uow.leads.get(quotation.lead_id)
            request = BookingRequest(
                slot_id=quotation.slot_id,
                travelers=tuple(attrs.evolve(t, price=quotation.seat_price) for t in travelers),
                customer_id=quotation.customer_id,
                lifecycle=TRAVEL_LIFECYCLE,
                internal_notes=f"quotation {quotation.reference} v{quotation.revision}",
                metadata={
                    "quotation": quotation.reference,
                    "quotation_revision": str(quotation.revision),
                },
                items=tuple(_booked(line) for line in quotation.lines),
            )
            booking = self._bookings.book_in(
                tx,
                request,
                principal=principal,
                prices_quoted=True,
                idempotency_key=key,
                request_fingerprint=digest,
                # A partner's lead books for the partner (commission, its reads).
                referred_by=None if lead is None else lead.partner_id,
            )
            if booking.total != quotation.total:
                # The slot's group discount tiers changed since the quotation was
                # made: the price agreed is the quoted one, never another.
                msg = (
                    f"the slot's discounts changed since quotation {quotation.reference}"
                    f" v{quotation.revision} was made: it would cost {booking.total},"
                    f" not {quotation.total}; revise it"
                )
                raise ValidationError.single("seats_total", msg, "price_changed")
            note = f"quotation {quotation.reference} v{quotation.revision}"
            for target in _APPROVAL_MOVES:
                self._bookings.advance_in(tx, booking, target, principal=principal, note=note)
            quotation.approve(booking.id, now=now, today=self._ctx.settings.local(now).date())
            if lead is not None:
                lead.win(now=now)
            self._audit(tx, principal, quotation, AuditAction.STATUS_CHANGED)
            tx.commit()
            return booking

    def reject(
        self, quotation_id: QuotationId, *, principal: Principal, reason: str | None = None
    ) -> Quotation:
        """The customer turns the revision down (its lead stays quoted: revise or mark it lost).

        Raises:
            NotFoundError: no such quotation visible to ``principal``.
            PermissionDeniedError: neither its customer nor staff who change everything.
            InvalidTransitionError: it is not sent.
        """
        with self._ctx.transaction() as tx:
            quotation = _visible(tx.uow, quotation_id, principal)
            policy.require(
                policy.can_decide_quotation(principal, quotation),
                f"{principal} may not reject quotation {quotation.reference}",
            )
            quotation.reject(now=self._ctx.now(), reason=reason)
            reason = quotation.rejection_reason  # as cleaned
            self._audit(tx, principal, quotation, AuditAction.STATUS_CHANGED, reason=reason)
            tx.commit()
            return quotation

    def expire_due(self, *, principal: Principal) -> Sequence[Quotation]:
        """Expire every open revision whose validity ended before today; returns them.

        A periodic job calls it (as the system).

        Raises:
            PermissionDeniedError: ``principal`` does not change everything.
        """
        policy.require(
            principal.has(Permission.CHANGE_ALL), f"{principal} may not expire quotations"
        )
        now = self._ctx.now()
        today = self._ctx.settings.local(now).date()
        with self._ctx.transaction() as tx:
            expired = []
            for status in (QuotationStatus.DRAFT, QuotationStatus.SENT):
                due = QuotationFilter(status=status, expired_on=today)
                listed = list(every_item(partial(tx.uow.quotations.list, due)))
                for quotation in listed:
                    quotation.expire(now=now)
                    self._audit(tx, principal, quotation, AuditAction.STATUS_CHANGED)
                    expired.append(quotation)
            tx.commit()
            return expired

    # ------------------------------------------------------------------ helpers

    @staticmethod
    def _audit(
        tx: Transaction,
        principal: Principal,
        quotation: Quotation,
        action: AuditAction,
        reason: str | None = None,
    ) -> None:
        tx.audit(
            principal,
            entity="quotation",
            entity_id=quotation.id,
            action=action,
            new={
                "reference": quotation.reference,
                "revision": quotation.revision,
                "status": quotation.status.value,
                "total": str(quotation.total),
            },
            reason=reason,
            booking_id=quotation.booking_id,
        )


def _require_quoter(principal: Principal) -> None:
    policy.require(principal.has(Permission.SET_PRICES), f"{principal} may not quote prices")


def _quotation_reference(booking_reference: str) -> str:
    """``QT-`` and the random part of a fresh reference (``BK-7KQ2M9XD`` gives ``QT-7KQ2M9XD``)."""
    return "QT-" + booking_reference.rsplit("-", 1)[-1]


def _party(travelers: object) -> int:
    if isinstance(travelers, bool) or not isinstance(travelers, int) or not 1 <= travelers <= 500:
        raise ValidationError.single("travelers", "must be 1 to 500", "out_of_range")
    return travelers


def _quotable_slot(uow: UnitOfWork, slot_id: SlotId, now: datetime, p: Problems) -> Slot | None:
    """The slot, unless it is unknown, closed or started at ``now`` (as booking refuses it:
    a quotation for it could never be approved)."""
    slot = uow.slots.get(slot_id)
    if slot is None:
        p.add("slot_id", f"no slot {slot_id}", "unknown_reference")
        return None
    if not slot.is_active:
        p.add("slot_id", "this slot is closed for booking", "inactive")
    elif slot.starts_at <= now:
        p.add("slot_id", "this slot has already started", "past")
    product = uow.products.get(slot.product_id) if slot.product_id else None
    if product is not None and not product.is_active:
        p.add("slot_id", f"product {product.code} is no longer sold", "inactive")
    return slot


@attrs.frozen
class _Revision:
    """What a revise call asks to change (``None``: keep the replaced revision's)."""

    lines: tuple[QuoteLine, ...] | None
    travelers: int | None
    valid_until: date | None
    seat_price: Money | None
    slot_id: SlotId | None
    notes: str | None


def _prior_revision(uow: UnitOfWork, key: str | None, digest: str | None) -> Quotation | None:
    """The revision an earlier call with idempotency ``key`` made, if any.

    Raises:
        IdempotencyConflictError: that call asked for something else.
    """
    if key is None:
        return None
    prior = uow.quotations.get_by_idempotency_key(key)
    if prior is not None and prior.request_fingerprint != digest:
        raise IdempotencyConflictError(caller_key(key))
    return prior


def _prior_booking(uow: UnitOfWork, key: str, digest: str | None) -> Booking | None:
    """The booking an earlier approval with idempotency ``key`` made, if any.

    Raises:
        IdempotencyConflictError: that call asked for something else.
    """
    prior = uow.bookings.get_by_idempotency_key(key)
    if prior is not None and prior.request_fingerprint != digest:
        raise IdempotencyConflictError(caller_key(key))
    return prior


def _check_current(uow: UnitOfWork, quotation: Quotation) -> None:
    revisions = uow.quotations.list_revisions(quotation.reference)
    if revisions and revisions[-1].id != quotation.id:
        raise QuotationSupersededError(quotation.reference, quotation.revision)


def _visible(uow: UnitOfWork, quotation_id: QuotationId, principal: Principal) -> Quotation:
    quotation = uow.quotations.get(quotation_id)
    if quotation is None or not policy.can_view_quotation(principal, quotation):
        raise NotFoundError("quotation", quotation_id)
    return quotation


def _as_quote_line(line: QuotationLine) -> QuoteLine:
    return QuoteLine(
        kind=line.kind,
        description=line.description,
        quantity=line.quantity,
        unit_price=line.unit_price,
        supplier_id=line.supplier_id,
        product_id=line.product_id,
        service_starts_on=line.service_starts_on,
        service_ends_on=line.service_ends_on,
    )


def _booked(line: QuotationLine) -> BookedItem:
    return BookedItem(
        kind=line.kind,
        description=line.description,
        quantity=line.quantity,
        unit_price=line.unit_price,
        supplier_id=line.supplier_id,
        product_id=line.product_id,
        service_starts_on=line.service_starts_on,
        service_ends_on=line.service_ends_on,
        exchange_rate=line.exchange_rate,
    )


def _message(quotation: Quotation, business: str) -> tuple[str, str]:
    subject = f"Your quotation {quotation.reference} (version {quotation.revision})"
    lines = [
        f"Quotation {quotation.reference}, version {quotation.revision}",
        f"Seats for {quotation.travelers}: {quotation.seats_total}",
    ]
    for line in quotation.lines:
        amount = line.total_in(quotation.currency)
        lines.append(f"- {line.description} x{line.quantity}: {amount}")
    lines += [
        f"Total: {quotation.total}",
        f"Valid until {quotation.valid_until.isoformat()}.",
        business,
    ]
    return subject, "\n".join(lines)
