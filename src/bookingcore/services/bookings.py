"""Booking use cases: book a slot for travelers, read, list, edit and cancel.

One call is one unit of work: every check runs before anything is written, the
slot is locked while its seats are counted, and a refused booking leaves no
customer, traveler or seat behind.

.. versionadded:: 0.1
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Protocol, cast
from uuid import UUID

import attrs

from bookingcore.domain import policy
from bookingcore.domain._validation import (
    Problems,
    check_metadata,
    clean_text,
    parse_choice,
    require_text,
)
from bookingcore.domain.assignment import (
    Advisor,
    AssignmentStrategy,
    dealer_based,
    least_loaded,
    round_robin,
)
from bookingcore.domain.attendance import (
    Attendance,
    AttendanceEntry,
    AttendanceHistory,
    AttendanceMark,
    RollCall,
    RollCallEntry,
    attendance_marks,
)
from bookingcore.domain.audit import AuditAction, AuditEntry
from bookingcore.domain.bookings import Booking, BookingDraft, BookingTraveler, Raised
from bookingcore.domain.cancellation import (
    CANCELLATION_METADATA_KEYS,
    CancellationPolicy,
    CancellationTerms,
    RefundTier,
)
from bookingcore.domain.catalog import Location, Product
from bookingcore.domain.customers import Traveler, TravelerDetails
from bookingcore.domain.documents import Document
from bookingcore.domain.events import BookingRescheduled
from bookingcore.domain.idempotency import caller_key
from bookingcore.domain.items import BookingItem, BookingItemKind, check_new_item, round_rate
from bookingcore.domain.lifecycle import Lifecycle, LifecycleEvent
from bookingcore.domain.partners import Partner
from bookingcore.domain.policy import Permission, Principal, PrincipalKind
from bookingcore.domain.queries import BookingFilter, Page, PageRequest, every_item
from bookingcore.domain.slots import Slot
from bookingcore.domain.sources import BookingSource
from bookingcore.domain.trips import plan_days
from bookingcore.domain.values import (
    Actor,
    BookingGroupId,
    BookingId,
    BookingItemId,
    CustomerId,
    DocumentId,
    EmailAddress,
    Money,
    PartnerId,
    PhoneNumber,
    ProductId,
    SlotId,
    StaffId,
    SupplierId,
    TravelerId,
)
from bookingcore.errors import (
    BookingError,
    ConflictError,
    DuplicateError,
    FieldError,
    IdempotencyConflictError,
    InvalidTransitionError,
    NotFoundError,
    PermissionDeniedError,
    ValidationError,
)
from bookingcore.ports.uow import UnitOfWork
from bookingcore.services import commissions
from bookingcore.services._context import (
    UNSET,
    ServiceContext,
    Transaction,
    Unset,
    claim_change,
    claim_key,
    claim_request,
    fingerprint,
    keyed_event_id,
    principal_key,
    under_fresh_reference,
)
from bookingcore.services._family_links import family_circle
from bookingcore.services._observing import GuardedObserver, error_name
from bookingcore.services._requirements import check_requirements, note_waived
from bookingcore.services._seat_offers import end_entry_for_booking, offer_free_seats
from bookingcore.services._settlement import closed_to_payment
from bookingcore.services._suppliers import advance_if_suppliers_confirmed, check_items_allow
from bookingcore.services.customers import CustomerService, loyalty_discount_in
from bookingcore.services.reports import (
    advisor_loads,
    check_advisor,
    locked_advisors,
    round_robin_turn,
)
from bookingcore.services.vouchers import redeem_voucher, use_voucher

__all__ = [
    "AdvisorNote",
    "BookedItem",
    "BookingChanges",
    "BookingRequest",
    "BookingService",
    "CustomerDetails",
    "NewTraveler",
    "Rescheduled",
    "SavedTraveler",
    "SeatClaim",
    "Transition",
]

_MAX_TRAVELERS = 500
_MAX_NOTE = 5000
#: The terms of a cancellation the operator makes: everything paid goes back.
_FULL_REFUND = CancellationPolicy(refund_tiers=(RefundTier(timedelta(0), Decimal(100)),))
#: The metadata key that marks a cancellation the operator made (a slot called off).
OPERATOR_CANCELLATION_KEY = "cancelled_by_operator"
#: Who writes the advisor note a reschedule leaves for staff.
_RESCHEDULE = Principal.system("reschedule")


@attrs.frozen
class CustomerDetails:
    """Who is booking, when staff or a partner book on someone's behalf.

    The customer is found by phone (however it is written) or created.

    .. versionadded:: 0.1
    """

    phone: str
    name: str | None = None
    email: str | None = None


@attrs.frozen
class NewTraveler:
    """A traveler typed in with the booking; saved under the customer for reuse.

    If the customer already saved a traveler with the same name (and the same
    birth date and phone, where given), that traveler is reused instead of saved twice.

    .. versionadded:: 0.1
    """

    details: TravelerDetails
    is_primary: bool = False
    special_requirements: str | None = None
    price: Money | None = None


@attrs.frozen
class SavedTraveler:
    """A traveler the customer saved before, by id.

    ``special_requirements`` apply to this booking only; without them the
    traveler's saved requirements are used.

    .. versionadded:: 0.1
    """

    traveler_id: TravelerId
    is_primary: bool = False
    special_requirements: str | None = None
    price: Money | None = None


def _traveler_choices(
    values: Iterable[NewTraveler | SavedTraveler],
) -> tuple[NewTraveler | SavedTraveler, ...]:
    return tuple(values)


def _metadata(value: object) -> tuple[tuple[str, str], ...]:
    # Kept as given (sorted by key): BookingService.book checks it with the one
    # metadata rule and reports every problem as a ValidationError.
    if value is None:
        return ()
    if isinstance(value, Mapping):
        pairs = tuple(cast("Mapping[object, object]", value).items())
        return cast(
            "tuple[tuple[str, str], ...]", tuple(sorted(pairs, key=lambda pair: str(pair[0])))
        )
    return cast("tuple[tuple[str, str], ...]", value)


@attrs.frozen(kw_only=True)
class BookedItem:
    """A line item booked with the seats: a hotel, a flight, an activity, a ground service.

    ``unit_price`` may be in the supplier's currency; ``exchange_rate`` then
    says what one unit of it is worth in the booking's (the slot's) currency,
    and is recorded on the item, rounded half up to
    :data:`~bookingcore.domain.items.RATE_PLACES` decimal places (as every store
    keeps it). Setting item prices needs ``set_prices``.

    .. versionadded:: 0.3
    .. versionchanged:: 0.4 the rate is rounded to 8 decimal places.
    """

    kind: BookingItemKind | str
    description: str
    quantity: int
    unit_price: Money
    supplier_id: SupplierId | None = None
    product_id: ProductId | None = None
    service_starts_on: date | None = None
    service_ends_on: date | None = None
    exchange_rate: Decimal | None = None
    metadata: Mapping[str, str] = attrs.field(factory=dict)


def _booked_items(values: Iterable[BookedItem]) -> tuple[BookedItem, ...]:
    return tuple(values)


def _code_as_asked(code: str | None) -> str | None:
    """A voucher code as the request asks for it: codes are case-insensitive, so a retry
    spelling it in another case asks the same (checked when the booking is made)."""
    return code.strip().upper() if isinstance(code, str) else code


@attrs.frozen
class BookingRequest:
    """Everything needed to book a slot.

    Args:
        slot_id: the slot to book.
        travelers: :class:`NewTraveler` and :class:`SavedTraveler` entries, exactly
            one of them ``is_primary``.
        customer_id: the booking customer (a customer principal books for themselves
            and may leave it out).
        customer: or their details, to find or create them by phone.
        source: the channel (``partner`` is set for partner principals and only for them).
        referral_source: how the customer heard of you (google, word of mouth, ...).
        internal_notes: staff notes, never shown to the customer; only staff who
            change every booking write them (a partner's or a customer's request
            with them is refused, as :meth:`BookingService.update` refuses them).
        external_id: the id of this booking in another system; unique.
        lifecycle: the lifecycle to follow; the configured default when ``None``.
        status: the state to start in: the lifecycle's initial state when
            ``None``, or one of its entry states (``WAITLISTED`` for appointments).
        metadata: free-form text pairs kept with the booking: at most 50, keys of
            1-100 characters, values of at most 1,000, no control characters.
        group_id: the booking group (:class:`~bookingcore.services.GroupService`)
            the booking joins; the group must be active, its open bookings
            priced in the slot's currency, and only staff who change every
            booking, the organiser or the organiser's partner put bookings in it.

        items: line items booked with the seats (:class:`BookedItem`); they
            count toward the booking's total and need ``set_prices``.
        voucher_code: a voucher (promo code, any case) to take off the total
            after the group discount and any loyalty discount (see
            :mod:`bookingcore.services.vouchers`).
        override_requirements: book even travelers the slot's product's
            requirements refuse (:attr:`~bookingcore.domain.Product.requirements`);
            only staff who change every booking may ask, and what was waived is
            left as an audited note on the booking.

    Per-traveler ``price`` overrides the slot's price and needs ``set_prices``.

    .. versionadded:: 0.1
    .. versionchanged:: 0.3
       ``items``.
    .. versionchanged:: 0.4
       ``voucher_code``, ``override_requirements``.
    """

    slot_id: SlotId
    travelers: tuple[NewTraveler | SavedTraveler, ...] = attrs.field(converter=_traveler_choices)
    customer_id: CustomerId | None = None
    customer: CustomerDetails | None = None
    source: BookingSource | str | None = None
    referral_source: str | None = None
    internal_notes: str | None = None
    external_id: str | None = None
    lifecycle: str | None = None
    metadata: tuple[tuple[str, str], ...] = attrs.field(default=None, converter=_metadata)
    status: str | None = None
    group_id: BookingGroupId | None = None
    items: tuple[BookedItem, ...] = attrs.field(default=(), converter=_booked_items)
    voucher_code: str | None = attrs.field(default=None, converter=_code_as_asked)
    override_requirements: bool = False


@attrs.frozen
class Transition:
    """What :meth:`BookingService.transition` did.

    ``event`` is the history entry of the move; ``replayed`` is True when the
    call repeated an earlier idempotency key and nothing was written (``event``
    is then the first call's entry and ``booking`` the booking as it is now).

    .. versionadded:: 0.1
    """

    booking: Booking
    event: LifecycleEvent
    replayed: bool = False


class SeatClaim(Protocol):
    """Seats already held for a booking's customer, handed over as the booking is opened.

    An accepted waiting-list offer is one: its seats are held on the slot, and
    the booking takes them over in the same unit of work, under the slot's lock
    (see :meth:`BookingService.book_claimed`).

    .. versionadded:: 0.2
    """

    def release(self, tx: Transaction, slot: Slot, seats: int) -> None:
        """Check the claim still stands for ``seats`` seats and give its seats back to ``slot``.

        Called with ``slot`` locked, right before the booking holds its seats.
        """

    def settle(self, tx: Transaction, slot: Slot, booking: Booking) -> None:
        """Record that ``booking`` took the claim up (same unit of work, slot still locked)."""


@attrs.frozen
class Rescheduled:
    """What :meth:`BookingService.reschedule` did: the booking on its new slot,
    the slot it left, and the price difference (new total less old; negative
    when the new slot is cheaper).

    ``replayed`` is True when the call repeated an earlier idempotency key and
    nothing was written: ``from_slot_id`` and ``price_difference`` are then the
    first call's, and ``booking`` the booking as it is now.

    ``items_to_reconfirm`` are the booking's dated line items its suppliers had
    confirmed: they keep the dates confirmed, and staff change them with the
    supplier (an advisor note on the booking lists them too).

    .. versionadded:: 0.2
    .. versionchanged:: 0.4 ``replayed`` and ``items_to_reconfirm``.
    """

    booking: Booking
    from_slot_id: SlotId
    price_difference: Money
    replayed: bool = False
    items_to_reconfirm: tuple[BookingItem, ...] = ()


@attrs.frozen
class _Reschedule:
    """What a reschedule asks for: what tells its retry from another request."""

    booking_id: BookingId
    slot_id: SlotId
    note: str | None


@attrs.frozen
class AdvisorNote:
    """One entry of a booking's advisor log: who wrote what, when.

    .. versionadded:: 0.2
    """

    id: UUID
    booking_id: BookingId
    author: Actor
    written_at: datetime
    text: str


@attrs.frozen
class BookingChanges:
    """Edits to a booking's bookkeeping fields; fields left :data:`UNSET` stay as they are.

    ``None`` clears a field.

    .. versionadded:: 0.1
    """

    referral_source: str | Unset | None = UNSET
    internal_notes: str | Unset | None = UNSET
    external_id: str | Unset | None = UNSET
    assignee_id: StaffId | Unset | None = UNSET

    def fields(self) -> frozenset[str]:
        """The names of the fields this change sets."""
        return frozenset(
            a.name for a in attrs.fields(type(self)) if getattr(self, a.name) is not UNSET
        )


class BookingService:
    """Book, read, list, edit and cancel bookings.

    .. versionadded:: 0.1
    """

    def __init__(self, context: ServiceContext, customers: CustomerService) -> None:
        self._ctx = context
        self._customers = customers

    # ------------------------------------------------------------------ book

    def book(
        self,
        request: BookingRequest,
        *,
        principal: Principal,
        idempotency_key: str | None = None,
    ) -> Booking:
        """Book ``request.slot_id`` for the travelers in ``request``.

        Seats are held under the unit of work's lock on the slot. With an
        ``idempotency_key`` a retry of the same request returns the first
        booking and writes nothing. Keys belong to ``principal``: another
        principal's identical key is a fresh request. The booking keeps the key
        scoped as ``"<kind>:<principal id>:<key>"`` in ``idempotency_key``.

        Raises:
            ValidationError: naming each bad field: no travelers, not exactly one
                primary contact, an unknown or another customer's traveler id, bad
                traveler details, a price in another currency, an unknown, closed
                or past slot; a traveler the slot's product's requirements refuse
                at the slot's start, every one on ``travelers[i].age`` (codes
                ``too_young``, ``too_old``, ``age_unknown``) or
                ``travelers[i].certificates`` (``certificate_missing``,
                ``certificate_expired``).
            PermissionDeniedError: a customer booking for someone else, a partner at a
                location it may not book, a price override without ``set_prices``,
                ``internal_notes`` from a partner or a customer (as :meth:`update`
                refuses them), ``override_requirements`` from anyone but staff
                who change every booking.
            NotFoundError: ``customer_id`` names no customer ``principal`` may see.
            CapacityError: fewer seats are left than travelers requested.
            DuplicateError: the customer already has an active booking of this
                slot for the same travelers, or the external id is taken.
            IdempotencyConflictError: the key was used for a different request.

        With ``request.voucher_code`` the voucher is locked, checked, its use
        counted and its redemption written in the booking's transaction (a
        refused code is a ``ValidationError`` on ``voucher_code``; see
        :mod:`bookingcore.services.vouchers`); a retry counts nothing again.

        With a loyalty program (``Settings.loyalty``) whose tiers give discounts,
        the customer's tier is judged in the booking's transaction from the
        figures stored then; its percent comes off after the group discount and
        before the voucher, and the booking keeps the tier, percent and amount
        (``loyalty_tier``, ``loyalty_percent``, ``loyalty_discount``): a later
        tier change never reprices it. See docs/loyalty.md.

        A booking that holds seats ends the customer's active entry on the
        slot's waiting list (``cancelled``) and takes up an open offer they hold
        on the slot for an alternative date of an entry on another slot (that
        entry is ``booked`` as this booking): the seats those offers held are
        the booking's. See docs/waitlists.md, "Booking directly".

        .. versionchanged:: 0.4
           ``internal_notes`` are refused to partners and customers; ``voucher_code``;
           the slot's product's requirements (:attr:`~bookingcore.domain.Product.requirements`);
           loyalty tier discounts.
        .. versionchanged:: 0.4
           Reported to the core's observer (``Observer.booking_requested``), if any.
        .. versionchanged:: 0.4
           An open offer on the slot for an alternative date is taken up.
        """
        if self._ctx.observer is None:
            return self._request(request, principal, idempotency_key, None)
        return self._observed(
            self._ctx.observer, lambda: self._request(request, principal, idempotency_key, None)
        )

    def book_claimed(
        self,
        request: BookingRequest,
        claim: SeatClaim,
        *,
        principal: Principal,
        idempotency_key: str | None = None,
    ) -> Booking:
        """:meth:`book`, taking over seats ``claim`` holds for the customer.

        The one booking path with one more step: under the slot's lock,
        ``claim.release`` gives the held seats back right before the booking
        holds its own, and ``claim.settle`` records the outcome; all in one
        unit of work, so a refused booking leaves the claim as it was.

        Raises:
            everything :meth:`book` raises, and what ``claim`` raises.

        .. versionadded:: 0.2
        """
        if self._ctx.observer is None:
            return self._request(request, principal, idempotency_key, claim)
        return self._observed(
            self._ctx.observer, lambda: self._request(request, principal, idempotency_key, claim)
        )

    def _request(
        self,
        request: BookingRequest,
        principal: Principal,
        idempotency_key: str | None,
        claim: SeatClaim | None,
    ) -> Booking:
        """What :meth:`book` and :meth:`book_claimed` do."""
        stored_key = principal_key(principal, idempotency_key)
        _check_written_fields(request, principal)
        lifecycle, source, status = self._check_request(request, principal)
        digest = fingerprint("book", principal, request=request) if stored_key else None
        try:
            booked = self._book(
                request,
                principal,
                plan=(lifecycle, source, status),
                idempotency_key=stored_key,
                digest=digest,
                claim=claim,
            )
        except (ConflictError, InvalidTransitionError):
            if not stored_key:
                raise
            # A retry can lose the race to its twin (same key, in flight at the same
            # time): the twin's booking, committed meanwhile (with a claim, taking it
            # up), is this call's answer.
            with self._ctx.uow_factory() as uow:
                prior = self._prior_booking(uow, stored_key, digest)
            if prior is None:
                raise
            booked = prior
        return policy.booking_for(principal, booked)

    @staticmethod
    def _observed(observer: GuardedObserver, attempt: Callable[[], Booking]) -> Booking:
        """``attempt()`` in the observer's ``book`` use case, its outcome and wall time told."""
        with observer.use_case("book"):
            started = time.perf_counter()
            try:
                booking = attempt()
            except Exception as exc:
                observer.booking_requested(
                    outcome="refused" if isinstance(exc, BookingError) else "failed",
                    lifecycle=None,
                    source=None,
                    error=error_name(exc),
                    seconds=time.perf_counter() - started,
                )
                raise
            observer.booking_requested(
                outcome="created",
                lifecycle=booking.lifecycle,
                source=booking.source.value,
                error=None,
                seconds=time.perf_counter() - started,
            )
            return booking

    @staticmethod
    def _prior_booking(uow: UnitOfWork, key: str, digest: str | None) -> Booking | None:
        prior = uow.bookings.get_by_idempotency_key(key)
        if prior is not None and prior.request_fingerprint != digest:
            raise IdempotencyConflictError(caller_key(key))
        return prior

    def _book(
        self,
        request: BookingRequest,
        principal: Principal,
        *,
        plan: tuple[Lifecycle, BookingSource, str],
        idempotency_key: str | None,
        digest: str | None,
        claim: SeatClaim | None = None,
    ) -> Booking:
        now = self._ctx.now()

        def make(fresh: Callable[[], str]) -> Booking:
            with self._ctx.transaction() as tx:
                if idempotency_key and not claim_key(tx.uow, idempotency_key, "booking", now):
                    prior = self._prior_booking(tx.uow, idempotency_key, digest)
                    if prior is not None:
                        return prior
                booking = self._open(
                    tx,
                    request,
                    principal,
                    plan=plan,
                    idempotency_key=idempotency_key,
                    digest=digest,
                    now=now,
                    items=request.items,
                    prices_quoted=False,
                    claim=claim,
                    reference=fresh(),
                )
                tx.commit()
                return booking

        return under_fresh_reference(
            self._ctx,
            make,
            draw=self._ctx.ids.new_reference,
            entity="booking",
            taken=lambda uow, reference: uow.bookings.get_by_reference(reference) is not None,
        )

    def book_in(
        self,
        tx: Transaction,
        request: BookingRequest,
        *,
        principal: Principal,
        prices_quoted: bool = False,
        idempotency_key: str | None = None,
        request_fingerprint: str | None = None,
        referred_by: PartnerId | None = None,
    ) -> Booking:
        """Book inside another use case's transaction ``tx``; the caller commits.

        The same path as :meth:`book` (the same checks, the same
        :meth:`~bookingcore.domain.bookings.Booking.open`), for use cases that
        book as one step of their own change: an approved quotation. With
        ``prices_quoted`` the travelers' and items' prices were set by someone
        allowed to set prices (the quotation's author), so ``principal`` (the
        customer approving it) needs no ``set_prices``. ``idempotency_key`` (already
        scoped to the principal) and ``request_fingerprint`` are kept on the
        booking; the caller looks for an earlier booking with the key first.

        ``referred_by`` is the partner that brought the booking (the partner that
        captured the lead an approved quotation answers): the booking is the
        partner's (``partner_id``: it reads it, its payments earn its commission)
        though the partner did not make it (``created_by_partner_id`` stays
        ``None``, the source is not ``partner``). The caller vouches for it; it
        is ignored when no such partner is registered.

        ``request.internal_notes`` are the calling use case's, not ``principal``'s,
        and are kept whoever ``principal`` is: a use case that takes notes from its
        caller checks them first (:func:`~bookingcore.domain.policy.check_may_write_fields`).

        Raises:
            The errors of :meth:`book`, except idempotency conflicts.
            PermissionDeniedError: ``principal`` is a partner other than ``referred_by``.

        .. versionadded:: 0.3
        .. versionchanged:: 0.4 ``referred_by``.
        """
        plan = self._check_request(request, principal)
        return self._open(
            tx,
            request,
            principal,
            plan=plan,
            idempotency_key=idempotency_key,
            digest=request_fingerprint,
            now=self._ctx.now(),
            items=request.items,
            prices_quoted=prices_quoted,
            referred_by=referred_by,
        )

    def _open(
        self,
        tx: Transaction,
        request: BookingRequest,
        principal: Principal,
        *,
        plan: tuple[Lifecycle, BookingSource, str],
        idempotency_key: str | None,
        digest: str | None,
        now: datetime,
        items: Sequence[BookedItem],
        prices_quoted: bool,
        claim: SeatClaim | None = None,
        referred_by: PartnerId | None = None,
        reference: str | None = None,
    ) -> Booking:
        """Everything :meth:`book` does inside its transaction, short of the commit.

        With a ``claim`` (an accepted waiting-list offer), the offer's held seats are
        given back right before the booking holds its own, and the claim is settled
        with the booking, all in ``tx``.
        """
        lifecycle, source, status = plan
        uow = tx.uow
        # Seats a claim hands over must stay held: a booking that starts in a state
        # holding none (travel's lead_created) walks on to the first one that does.
        walk = () if claim is None else _walk_to_seats(lifecycle, status)
        self._check_external_id(uow, request.external_id, principal)
        customer_id = self._resolve_customer(tx, request, principal)
        partner = self._acting_partner(uow, principal)
        owner = self._owning_partner(uow, partner, referred_by)
        priced = any(choice.price is not None for choice in request.travelers) or bool(items)
        if priced and not prices_quoted:
            policy.require(principal.has(Permission.SET_PRICES), f"{principal} may not set prices")
        # Everything that does not depend on the seats is read before the slot's
        # lock is taken, so concurrent bookings of the slot wait as briefly as possible.
        # A partner may book for a customer on file that it may not see (one customer
        # per phone): it then must not pick up their saved travelers or other bookings.
        sees_customer = self._sees_customer(uow, customer_id, principal)
        chosen, new_travelers = self._resolve_travelers(
            uow, request, customer_id, now, sees_customer=sees_customer, principal=principal
        )
        _check_bookable_items(uow, items)
        # A quoted price is the price agreed: an approved quotation's booking keeps it.
        loyalty = None if prices_quoted else loyalty_discount_in(self._ctx, uow, customer_id)
        group_id = self._joinable_group(uow, request.group_id, principal)
        group_currency = None if group_id is None else self._group_currency(uow, group_id)
        slot, location = self._bookable_slot(uow, request.slot_id)
        if group_currency is not None and group_currency != slot.currency:
            msg = f"the group's bookings are in {group_currency}; the slot in {slot.currency}"
            raise ValidationError.single("group_id", msg, "currency_mismatch")
        policy.check_may_book(
            principal, customer_id=customer_id, location=location, partner=partner
        )
        # Who may be booked on the slot's product, at its start (every problem at once).
        waived = self._slot_requirements(
            uow, slot, chosen, customer_id, principal, override=request.override_requirements
        )
        if claim is not None:
            claim.release(tx, slot, len(request.travelers))
        booking_id = BookingId(self._ctx.ids.new_id())
        reference = reference or self._ctx.ids.new_reference()
        released = False
        if claim is None and lifecycle.holds_capacity(status):
            # The customer gets a seat without taking up an offer: their entry on the
            # slot's waiting list ends, and seats an offer held for them are theirs
            # (an offer there for an alternative date of another entry is taken up).
            released = end_entry_for_booking(
                self._ctx,
                tx,
                slot,
                customer_id,
                booking_id=booking_id,
                principal=principal,
                reason=f"booked the slot directly (booking {reference})",
                now=now,
            )
        draft = BookingDraft(
            id=booking_id,
            reference=reference,
            customer_id=customer_id,
            travelers=tuple(
                BookingTraveler(
                    traveler_id=traveler.id,
                    price=price or slot.price_per_traveler,
                    is_primary=choice.is_primary,
                    special_requirements=needs,
                )
                for (traveler, price, needs), choice in zip(chosen, request.travelers, strict=True)
            ),
            status=status,
            source=source,
            supplier_id=self._supplier_of(uow, slot),
            partner_id=owner,
            created_by_partner_id=partner.id if partner else None,
            referral_source=clean_text(request.referral_source, "referral_source", max_length=100),
            internal_notes=clean_text(request.internal_notes, "internal_notes", max_length=5000),
            external_id=clean_text(request.external_id, "external_id"),
            idempotency_key=idempotency_key,
            request_fingerprint=digest,
            metadata=check_metadata(request.metadata, pairs=True),
            group_id=group_id,
            items=self._line_items(booking_id, items, slot.currency, now),
        )
        voucher = None
        if request.voucher_code is not None:
            # Locked after the slot (every booking takes the locks in this order).
            voucher = redeem_voucher(
                uow,
                request.voucher_code,
                slot=slot,
                travelers=len(draft.travelers),
                customer_id=customer_id,
                principal=principal,
                now=now,
            )
        booking, raised = Booking.open(
            draft,
            slot=slot,
            lifecycle=lifecycle,
            author=self._ctx.author(principal, now),
            others=self._same_slot_bookings(uow, customer_id, slot.id, chosen),
            may_see=lambda other: policy.can_view_booking(principal, other),
            lifecycle_of=self._ctx.settings.lifecycle,
            voucher=voucher,
            loyalty=loyalty,
        )
        if voucher is not None:
            use_voucher(
                tx,
                voucher,
                booking,
                redemption_id=self._ctx.ids.new_id(),
                principal=principal,
                now=now,
            )
        for traveler in new_travelers:
            uow.travelers.add(traveler)
        uow.bookings.add(booking)
        for item in draft.items:
            uow.booking_items.add(item)
        tx.record(raised)
        note_waived(tx, principal, booking.id, waived, what="Booked")
        for target in walk:
            self._move(
                tx,
                booking,
                lifecycle,
                target,
                principal=principal,
                note="took over the seats of an accepted waiting-list offer",
                idempotency_key=None,
                digest=None,
                metadata={},
                claimed=True,
            )
        if claim is not None:
            claim.settle(tx, slot, booking)
        if released:
            # Seats the entry's offer held that the booking did not need go on.
            offer_free_seats(self._ctx, tx, slot, now=now)
        return booking

    @staticmethod
    def _same_slot_bookings(
        uow: UnitOfWork,
        customer_id: CustomerId,
        slot_id: SlotId,
        chosen: Sequence[tuple[Traveler, Money | None, str | None]],
    ) -> list[Booking]:
        """The bookings of the slot that a new booking of ``chosen`` must not duplicate:
        the customer's, and those of the family members whose travelers it names (so a
        traveler is not booked onto one slot twice, once by each of two members)."""
        owners = {customer_id} | {traveler.customer_id for traveler, _, _ in chosen}
        return [
            booking
            for owner in sorted(owners, key=lambda o: o.bytes)
            for booking in uow.bookings.list_for_customer_slot(owner, slot_id)
        ]

    def _line_items(
        self, booking_id: BookingId, items: Sequence[BookedItem], currency: str, now: datetime
    ) -> tuple[BookingItem, ...]:
        """The booking's line items, priced in ``currency`` or at the rate each one gives."""
        p = Problems()
        made: list[BookingItem] = []
        for index, wanted in enumerate(items):
            prefix = f"items[{index}]"
            same = wanted.unit_price.currency == currency
            # Kept as every store keeps it, so the item costs the same once stored.
            rate = Decimal(1) if same else wanted.exchange_rate
            rate = None if rate is None else round_rate(rate)
            if rate is None:
                msg = f"is required: priced in {wanted.unit_price.currency}, booked in {currency}"
                p.add(f"{prefix}.exchange_rate", msg, "required")
                continue
            inner = Problems(prefix=prefix)
            # Items are listed oldest first: one microsecond apart, they keep the
            # request's order whatever ids the generator makes.
            stamp = now + timedelta(microseconds=index)
            item = inner.capture(
                lambda w=wanted, r=rate, t=stamp: check_new_item(  # type: ignore[misc]
                    BookingItem(
                        id=BookingItemId(self._ctx.ids.new_id()),
                        booking_id=booking_id,
                        kind=w.kind,
                        description=w.description,
                        quantity=w.quantity,
                        unit_price=w.unit_price,
                        created_at=t,
                        updated_at=t,
                        product_id=w.product_id,
                        supplier_id=w.supplier_id,
                        service_starts_on=w.service_starts_on,
                        service_ends_on=w.service_ends_on,
                        metadata=dict(w.metadata),
                        booking_currency=currency,
                        exchange_rate=r,
                    )
                )
            )
            p.extend(inner)
            if item is not None:
                made.append(item)
        p.raise_if_any()
        return tuple(made)

    def _check_request(
        self, request: BookingRequest, principal: Principal
    ) -> tuple[Lifecycle, BookingSource, str]:
        """Checks that need no storage, all reported together."""
        p = Problems()
        region, today = self._ctx.settings.default_region, self._ctx.today()
        if not request.travelers:
            p.add("travelers", "a booking needs at least one traveler", "required")
        elif len(request.travelers) > _MAX_TRAVELERS:
            p.add("travelers", f"at most {_MAX_TRAVELERS} travelers per booking", "too_many")
        primaries = sum(1 for t in request.travelers if t.is_primary)
        if request.travelers and primaries != 1:
            msg = f"exactly one traveler must be the primary contact ({primaries} marked)"
            p.add("travelers", msg, "primary_contact")
        for index, choice in enumerate(cast("Sequence[object]", request.travelers)):
            if not isinstance(choice, NewTraveler | SavedTraveler):
                p.add(
                    f"travelers[{index}]",
                    "must be a NewTraveler or a SavedTraveler",
                    "invalid_type",
                )
                continue
            p.capture(
                lambda c=choice, i=index: clean_text(  # type: ignore[misc]
                    c.special_requirements, f"travelers[{i}].special_requirements", max_length=2000
                )
            )
            if not isinstance(cast(object, choice.price), Money | None):
                p.add(f"travelers[{index}].price", "must be Money", "invalid_type")
            if isinstance(choice, NewTraveler):
                details = Problems(prefix=f"travelers[{index}].details")
                details.capture(lambda c=choice: c.details.validated(region=region, today=today))  # type: ignore[misc]
                p.extend(details)
        lifecycle = p.capture(lambda: self._ctx.settings.lifecycle(request.lifecycle))
        source = p.capture(lambda: self._source(request, principal))
        p.capture(lambda: clean_text(request.referral_source, "referral_source", max_length=100))
        p.capture(lambda: clean_text(request.internal_notes, "internal_notes", max_length=5000))
        p.capture(lambda: clean_text(request.external_id, "external_id"))
        p.capture(lambda: check_metadata(request.metadata, pairs=True))
        if request.customer_id is not None and request.customer is not None:
            p.add("customer", "give customer_id or customer details, not both", "ambiguous")
        status = lifecycle.initial if lifecycle else None
        wanted = request.status
        if lifecycle is not None and wanted is not None:
            status = p.capture(lambda: _start_state(lifecycle, wanted))
        p.raise_if_any()
        assert lifecycle is not None
        assert source is not None
        assert status is not None
        return lifecycle, source, status

    @staticmethod
    def _source(request: BookingRequest, principal: Principal) -> BookingSource:
        if principal.kind is PrincipalKind.PARTNER:
            return BookingSource.PARTNER
        chosen = BookingSource.parse(request.source) if request.source else BookingSource.DIRECT
        if chosen is BookingSource.PARTNER:
            msg = "only a partner's own requests have source 'partner'"
            raise ValidationError.single("source", msg, "partner_only")
        return chosen

    def _check_external_id(
        self, uow: UnitOfWork, external_id: str | None, principal: Principal
    ) -> None:
        clean = clean_text(external_id, "external_id")
        if clean is None:
            return
        existing = uow.bookings.get_by_external_id(clean)
        if existing is not None:
            visible = policy.can_view_booking(principal, existing)
            msg = f"external id {clean!r} is already used by another booking"
            raise DuplicateError(
                msg, entity="booking", existing_id=existing.id if visible else None
            )

    def _resolve_customer(
        self, tx: Transaction, request: BookingRequest, principal: Principal
    ) -> CustomerId:
        uow = tx.uow
        if principal.kind is PrincipalKind.CUSTOMER:
            if request.customer is not None:
                raise PermissionDeniedError("customers book as themselves, not for other customers")
            wanted = request.customer_id or CustomerId(principal.id)  # type: ignore[arg-type]
            policy.require(principal.is_customer(wanted), "customers can only book for themselves")
            return CustomerService.load_visible(uow, wanted, principal).id
        if request.customer_id is not None:
            return CustomerService.load_visible(uow, request.customer_id, principal).id
        if request.customer is None:
            raise ValidationError.single(
                "customer_id", "name the booking customer by id or give their details", "required"
            )
        details = request.customer
        p = Problems(prefix="customer")
        phone = p.capture(lambda: self._customers.parse_phone(details.phone))
        name = p.capture(lambda: clean_text(details.name, "name", min_length=2))
        email = p.capture(lambda: EmailAddress.parse(details.email) if details.email else None)
        p.raise_if_any()
        assert isinstance(phone, PhoneNumber)
        found = self._customers.find_or_create(
            tx, phone, principal=principal, name=name, email=email
        )
        return found.customer_id

    @staticmethod
    def _acting_partner(uow: UnitOfWork, principal: Principal) -> Partner | None:
        if principal.kind is not PrincipalKind.PARTNER or principal.id is None:
            return None
        partner = uow.partners.get(PartnerId(principal.id))
        if partner is None:
            raise PermissionDeniedError(f"{principal} is not a registered partner")
        return partner

    @staticmethod
    def _owning_partner(
        uow: UnitOfWork, acting: Partner | None, referred_by: PartnerId | None
    ) -> PartnerId | None:
        """The partner a new booking belongs to: the one booking, else the one that
        brought it (if registered). A partner never books for another's referral."""
        if acting is not None:
            if referred_by is not None and referred_by != acting.id:
                raise PermissionDeniedError(f"partner {acting.name} may not book another's lead")
            return acting.id
        if referred_by is None or uow.partners.get(referred_by) is None:
            return None
        return referred_by

    @staticmethod
    def _joinable_group(
        uow: UnitOfWork, group_id: BookingGroupId | None, principal: Principal
    ) -> BookingGroupId | None:
        """The group a new booking joins, locked (before the slot), if it may join it."""
        if group_id is None:
            return None
        group = uow.groups.get_for_update(group_id)
        if group is None:
            raise ValidationError.single("group_id", f"no group {group_id}", "unknown_reference")
        if not principal.has(Permission.CHANGE_ALL) and not principal.is_customer(
            group.organizer_id
        ):
            organizer = uow.customers.get(group.organizer_id)
            policy.require(
                organizer is not None
                and organizer.partner_id is not None
                and principal.is_partner(organizer.partner_id),
                f"{principal} may not add bookings to group {group.group_reference}",
            )
        if not group.accepts_bookings:
            msg = f"group {group.group_reference} is {group.status.value}; no booking joins it"
            raise ValidationError.single("group_id", msg, "not_active")
        return group.id

    def _group_currency(self, uow: UnitOfWork, group_id: BookingGroupId) -> str | None:
        """The currency a (locked) group is totalled and paid in: its open bookings'.

        ``None`` while no booking of the group is open to payment: any currency may join.
        Archived bookings count (as in the group's totals).
        """
        query = BookingFilter(group_id=group_id, include_archived=True)
        for other in every_item(lambda page: uow.bookings.list(query, page)):
            if not closed_to_payment(self._ctx.settings.lifecycle(other.lifecycle), other.status):
                return other.currency
        return None

    @staticmethod
    def _bookable_slot(uow: UnitOfWork, slot_id: SlotId) -> tuple[Slot, Location]:
        """The slot, locked, and its location; the booking's own rules check the slot."""
        slot = uow.slots.get_for_update(slot_id)
        if slot is None:
            raise ValidationError.single("slot_id", f"no slot {slot_id}", "unknown_reference")
        return slot, BookingService.sold_at(uow, slot)

    @staticmethod
    def sold_at(uow: UnitOfWork, slot: Slot) -> Location:
        """The slot's location, when it and the slot's product are still open for bookings.

        The check every way onto a slot shares (booking, rescheduling, joining
        its waiting list), run in the caller's unit of work.

        Raises:
            ValidationError: on ``slot_id`` (code ``inactive``) when the slot's
                location is closed or its product is no longer sold.

        .. versionadded:: 0.3
        """
        location = uow.locations.get(slot.location_id)
        product = uow.products.get(slot.product_id) if slot.product_id else None
        return check_sold_at(location, product)

    def check_party(
        self,
        uow: UnitOfWork,
        slot: Slot,
        customer_id: CustomerId,
        travelers: Sequence[NewTraveler | SavedTraveler],
        *,
        principal: Principal,
        override_requirements: bool = False,
    ) -> list[FieldError]:
        """Hold ``travelers`` (of ``customer_id``) against ``slot``'s product's
        requirements, as :meth:`book` does, for a use case that puts them on the
        slot without booking them yet (joining its waiting list). Nothing is saved.

        The travelers are read as :meth:`book` reads them (a saved one by id, a
        typed one matched to the customer's saved one of the same name), so the
        same traveler gets the same answer here and when booked.

        Returns:
            The problems ``override_requirements`` waived (empty without an override).

        Raises:
            ValidationError: ``travelers[i]...`` as :meth:`book` refuses them: an
                unknown saved traveler, bad details, and
                ``travelers[i].age`` / ``travelers[i].certificates`` for
                requirements they fall short of.
            PermissionDeniedError: ``override_requirements`` from anyone but
                staff who change every booking.

        .. versionadded:: 0.4
        """
        sees_customer = self._sees_customer(uow, customer_id, principal)
        request = BookingRequest(slot.id, travelers, customer_id=customer_id)
        chosen, _ = self._resolve_travelers(
            uow,
            request,
            customer_id,
            self._ctx.now(),
            sees_customer=sees_customer,
            principal=principal,
        )
        return self._slot_requirements(
            uow, slot, chosen, customer_id, principal, override=override_requirements
        )

    def _slot_requirements(
        self,
        uow: UnitOfWork,
        slot: Slot,
        chosen: Sequence[tuple[Traveler, Money | None, str | None]],
        customer_id: CustomerId,
        principal: Principal,
        *,
        override: bool,
    ) -> list[FieldError]:
        """Check the travelers ``chosen`` for ``slot`` against its product's requirements
        at its start (every problem at once); what staff waived with ``override``."""
        return check_requirements(
            self._ctx,
            uow,
            uow.products.get(slot.product_id) if slot.product_id else None,
            [traveler for traveler, _, _ in chosen],
            starts_at=slot.starts_at,
            principal=principal,
            override=override,
        )

    @staticmethod
    def _sees_customer(uow: UnitOfWork, customer_id: CustomerId, principal: Principal) -> bool:
        if principal.has(Permission.VIEW_ALL) or principal.kind is PrincipalKind.CUSTOMER:
            return True  # a customer principal was resolved to themselves
        customer = uow.customers.get(customer_id)
        return customer is not None and policy.can_view_customer(principal, customer)

    def _resolve_travelers(
        self,
        uow: UnitOfWork,
        request: BookingRequest,
        customer_id: CustomerId,
        now: datetime,
        *,
        sees_customer: bool,
        principal: Principal,
    ) -> tuple[list[tuple[Traveler, Money | None, str | None]], list[Traveler]]:
        """The booking's travelers, and the new ones to save under the customer.

        A principal that may not see the customer may not name their saved
        travelers, and a typed traveler matched to a saved one does not take
        over the saved one's special requirements (they are the customer's
        data, not the principal's).

        A saved traveler of another member of the customer's family may be named
        when the policy allows it (:func:`~bookingcore.domain.policy.can_book_family_traveler`);
        their saved special requirements stay with the member who saved them.

        Raises:
            PermissionDeniedError: a family member's traveler named by a principal
                the policy refuses it to (a partner).
        """
        region = self._ctx.settings.default_region
        today = self._ctx.settings.local(now).date()  # birth dates: the business's calendar
        p = Problems()
        saved: Sequence[Traveler] | None = None
        chosen: list[tuple[Traveler, Money | None, str | None]] = []
        created: list[Traveler] = []
        family: frozenset[CustomerId] | None = None
        for index, choice in enumerate(request.travelers):
            prefix = f"travelers[{index}]"
            needs = clean_text(choice.special_requirements, "special_requirements", max_length=2000)
            traveler: Traveler | None
            saved_needs: str | None = None
            if isinstance(choice, SavedTraveler):
                traveler = uow.travelers.get(choice.traveler_id)
                if traveler is not None and traveler.customer_id != customer_id:
                    if family is None:
                        family = family_circle(uow, customer_id)
                    if traveler.customer_id in family and not traveler.is_deleted:
                        policy.require(
                            policy.can_book_family_traveler(
                                principal,
                                booker=customer_id,
                                traveler_owner=traveler.customer_id,
                                members=family,
                            ),
                            f"{principal} may not book the travelers of customer "
                            f"{customer_id}'s family",
                        )
                        chosen.append((traveler, choice.price, needs))
                        continue
                if (
                    not sees_customer
                    or traveler is None
                    or traveler.customer_id != customer_id
                    or traveler.is_deleted
                ):
                    p.add(
                        f"{prefix}.traveler_id",
                        f"{choice.traveler_id} is not one of this customer's saved travelers",
                        "unknown_traveler",
                    )
                    continue
                saved_needs = traveler.special_requirements
            else:
                inner = Problems(prefix=f"{prefix}.details")
                traveler = inner.capture(
                    lambda c=choice: Traveler.create(  # type: ignore[misc]
                        traveler_id=TravelerId(self._ctx.ids.new_id()),
                        customer_id=customer_id,
                        details=c.details,
                        region=region,
                        now=now,
                        today=today,
                    )
                )
                if traveler is None:
                    p.errors.extend(inner.errors)
                    continue
                if saved is None:
                    saved = uow.travelers.list_for_customer(customer_id)
                match = next((s for s in (*saved, *created) if _same_person(s, traveler)), None)
                if match is None:
                    created.append(traveler)
                    saved_needs = traveler.special_requirements
                else:
                    traveler = match
                    saved_needs = traveler.special_requirements if sees_customer else None
            chosen.append((traveler, choice.price, needs or saved_needs))
        p.raise_if_any()
        return chosen, created

    @staticmethod
    def _supplier_of(uow: UnitOfWork, slot: Slot) -> SupplierId | None:
        if slot.product_id is None:
            return None
        product = uow.products.get(slot.product_id)
        return product.supplier_id if product else None

    # ------------------------------------------------------------------ read

    def get(self, booking_id: BookingId, *, principal: Principal) -> Booking:
        """The booking, if ``principal`` may see it.

        Staff notes stay with staff: anyone but staff and the system gets a copy
        without ``internal_notes`` (:func:`~bookingcore.domain.policy.booking_for`),
        here and from every method that returns a booking.

        .. versionchanged:: 0.4 no internal notes for a partner or a customer.

        Raises:
            NotFoundError: no such booking visible to ``principal``.
        """
        with self._ctx.uow_factory() as uow:
            booking = self._load_visible(uow, booking_id, principal)
        return policy.booking_for(principal, booking)

    def get_by_reference(self, reference: str, *, principal: Principal) -> Booking:
        """The booking with this reference (``BK-...``), if ``principal`` may see it.

        Raises:
            NotFoundError: no such booking visible to ``principal``.
            ValidationError: on ``reference`` when it is blank, not text or holds
                control characters.
        """
        clean = require_text(reference, "reference")
        with self._ctx.uow_factory() as uow:
            booking = uow.bookings.get_by_reference(clean.upper())
        if booking is None or not policy.can_view_booking(principal, booking):
            raise NotFoundError("booking", reference)
        return policy.booking_for(principal, booking)

    def list(
        self,
        query: BookingFilter | None = None,
        page: PageRequest | None = None,
        *,
        principal: Principal,
    ) -> Page[Booking]:
        """Bookings matching ``query`` that ``principal`` may see, newest first
        (without their internal notes for anyone but staff and the system).

        .. versionchanged:: 0.4 no internal notes for a partner or a customer.

        Raises:
            PermissionDeniedError: the query explicitly asks for someone else's bookings.
        """
        scoped = policy.scope_bookings(principal, query or BookingFilter())
        with self._ctx.uow_factory() as uow:
            found = uow.bookings.list(scoped, page or PageRequest())
        return policy.booking_page_for(principal, found)

    # ------------------------------------------------------------------ change

    def transition(
        self,
        booking_id: BookingId,
        to: str,
        *,
        principal: Principal,
        note: str | None = None,
        idempotency_key: str | None = None,
        metadata: Mapping[str, str] | None = None,
        expected_version: int | None = None,
    ) -> Transition:
        """Move a booking to status ``to`` along its lifecycle.

        In one unit of work: the move is checked against the lifecycle and the
        policy, seats are held or given back when the move enters or leaves a
        seat-holding state (under the slot's lock), and a history entry, an
        audit entry and a ``BookingStatusChanged`` event are written. With an
        ``idempotency_key`` a repeat of the same call returns the first result
        and writes nothing.

        Raises:
            NotFoundError: no such booking visible to ``principal``.
            ValidationError: ``to`` is not a state of the lifecycle, or the note
                or metadata are malformed (too long, not strings); on
                ``metadata.<key>`` (code ``reserved``) for a key of
                :data:`~bookingcore.domain.CANCELLATION_METADATA_KEYS`, which the
                library records from the cancellation policy; on ``status``
                (code ``money_state``) when ``to`` is one of the lifecycle's
                ``money_states`` (``payment_confirmed``, ``refunded``): only the
                payment service moves a booking there, for every principal.
            InvalidTransitionError: the lifecycle has no move from the current
                status to ``to``; both are named.
            BookingArchivedError: the booking is archived (unarchive it first:
                ``core.archive.unarchive``).
            PermissionDeniedError: ``principal`` may not make this move.
            StaleVersionError: ``expected_version`` is older than the stored one.
            CapacityError: the move needs seats the slot no longer has.
            IdempotencyConflictError: the key was used for a different request.

        .. versionchanged:: 0.4 an archived booking is refused (``BookingArchivedError``).
        """
        clean_note = clean_text(note, "note", max_length=2000)
        extra = check_metadata(metadata)
        reserved = sorted(set(extra) & set(CANCELLATION_METADATA_KEYS))
        if reserved:
            msg = "is recorded by the library from the cancellation policy, not set by callers"
            raise ValidationError([FieldError(f"metadata.{k}", msg, "reserved") for k in reserved])
        idempotency_key = principal_key(principal, idempotency_key)
        digest = None
        if idempotency_key:
            # ``to`` names a state as Lifecycle.resolve reads it: case and spaces aside.
            given: object = to  # a caller may pass anything; the move itself refuses a non-str
            state = to.strip().casefold() if isinstance(given, str) else to
            asked = {"booking_id": booking_id, "to": state, "note": clean_note, "metadata": extra}
            digest = fingerprint("transition", principal, **asked)
        try:
            moved = self._transition(
                booking_id,
                to,
                principal=principal,
                note=clean_note,
                idempotency_key=idempotency_key,
                digest=digest,
                metadata=extra,
                expected_version=expected_version,
            )
        except (ConflictError, InvalidTransitionError):
            if not idempotency_key:
                raise
            # Lost the race to a twin with the same key: its move is this call's answer.
            with self._ctx.uow_factory() as uow:
                prior = self._prior_transition(uow, idempotency_key, digest, principal)
            if prior is None:
                raise
            moved = prior
        return attrs.evolve(moved, booking=policy.booking_for(principal, moved.booking))

    def _transition(
        self,
        booking_id: BookingId,
        to: str,
        *,
        principal: Principal,
        note: str | None,
        idempotency_key: str | None,
        digest: str | None,
        metadata: Mapping[str, str],
        expected_version: int | None,
    ) -> Transition:
        now = self._ctx.now()
        with self._ctx.transaction() as tx:
            if idempotency_key and not claim_key(tx.uow, idempotency_key, "transition", now):
                prior = self._prior_transition(tx.uow, idempotency_key, digest, principal)
                if prior is not None:
                    return prior
            booking = self._load_visible(tx.uow, booking_id, principal, for_update=True)
            lifecycle = self._ctx.settings.lifecycle(booking.lifecycle)
            target = lifecycle.resolve(to, field="to")
            booking.check_live(target)
            lifecycle.check_by_hand(target)
            rules = None
            if target == lifecycle.cancelled:
                rules = self._cancellation_policy(tx.uow, booking)
            policy.check_may_transition(
                principal,
                booking,
                lifecycle=lifecycle,
                target=target,
                now=now,
                cancellation=rules,
            )
            booking.check_version(expected_version)
            check_items_allow(tx.uow, booking, target)
            event = self._move(
                tx,
                booking,
                lifecycle,
                target,
                principal=principal,
                note=note,
                idempotency_key=idempotency_key,
                digest=digest,
                metadata=metadata,
                cancellation=rules,
            )
            tx.commit()
            return Transition(booking, event)

    def cancel(
        self,
        booking_id: BookingId,
        *,
        principal: Principal,
        reason: str | None = None,
        expected_version: int | None = None,
        idempotency_key: str | None = None,
    ) -> Booking:
        """Cancel a booking and give its seats back to the slot.

        The same as :meth:`transition` to the lifecycle's cancelled state, with
        ``reason`` as the note (kept as the booking's cancellation reason).
        When the booking's cancellation policy (its slot's product's, else
        ``Settings.cancellation`` or its lifecycle's entry) states refund
        tiers, the terms that applied (:meth:`cancellation_terms`) are recorded
        on the history entry and the ``booking.status_changed`` event, under
        :data:`~bookingcore.domain.CANCELLATION_METADATA_KEYS`. Nothing is
        refunded by itself unless ``PaymentSettings.refund_on_cancel`` says so.

        .. versionchanged:: 0.4 the policy's deadline and recorded terms.

        Raises:
            NotFoundError: no such booking visible to ``principal``.
            PermissionDeniedError: not theirs to cancel, or (customers, partners)
                past the cancellation policy's deadline (the slot's start by
                default; the message says until when they could).
            StaleVersionError: ``expected_version`` is older than the stored one.
            InvalidTransitionError: the booking's status cannot move to cancelled.
            ValidationError: ``reason`` is over 500 characters, or the lifecycle
                has no cancelled state.
            IdempotencyConflictError: the key was used for a different request.
        """
        clean_reason = clean_text(reason, "reason", max_length=500)
        with self._ctx.uow_factory() as uow:
            booking = self._load_visible(uow, booking_id, principal)
            lifecycle = self._ctx.settings.lifecycle(booking.lifecycle)
        if lifecycle.cancelled is None:
            msg = f"the {lifecycle.name} lifecycle has no cancelled state"
            raise ValidationError.single("lifecycle", msg, "not_cancellable")
        return self.transition(
            booking_id,
            lifecycle.cancelled,
            principal=principal,
            note=clean_reason,
            idempotency_key=idempotency_key,
            expected_version=expected_version,
        ).booking

    def cancel_within(
        self,
        tx: Transaction,
        booking_id: BookingId,
        *,
        principal: Principal,
        reason: str | None = None,
    ) -> Booking | None:
        """Cancel a booking inside the caller's unit of work (a whole group at once).

        Writes what :meth:`cancel` writes (seats back, freed seats to the waiting
        list, history, audit, event); the caller commits. Returns ``None`` and
        changes nothing when the booking cannot move to its lifecycle's
        cancelled state (it is cancelled already, or ended).

        Raises:
            NotFoundError: no such booking visible to ``principal``.
            PermissionDeniedError: ``principal`` may not cancel it.

        .. versionadded:: 0.2
        """
        booking = self._load_visible(tx.uow, booking_id, principal, for_update=True)
        lifecycle = self._ctx.settings.lifecycle(booking.lifecycle)
        target = lifecycle.cancelled
        if target is None or not lifecycle.allows(booking.status, target):
            return None
        rules = self._cancellation_policy(tx.uow, booking)
        policy.check_may_transition(
            principal,
            booking,
            lifecycle=lifecycle,
            target=target,
            now=self._ctx.now(),
            cancellation=rules,
        )
        self._move(
            tx,
            booking,
            lifecycle,
            target,
            principal=principal,
            note=clean_text(reason, "reason", max_length=500),
            idempotency_key=None,
            digest=None,
            metadata={},
            cancellation=rules,
        )
        return booking

    def advance_in(
        self,
        tx: Transaction,
        booking: Booking,
        target: str,
        *,
        principal: Principal,
        note: str | None = None,
    ) -> LifecycleEvent:
        """Move ``booking`` to ``target`` inside another use case's transaction ``tx``.

        The same move as :meth:`transition` (lifecycle table, seats under the
        slot's lock, history, audit entry, event), for use cases whose own
        checks already decided that ``principal`` may make it (an approved
        quotation, a supplier's last confirmation). The caller commits.

        Raises:
            ValidationError: ``target`` is not a state of the booking's lifecycle,
                is one of its ``money_states`` (on ``status``), or
                (``supplier_confirmed``) an item still waits for its supplier.
            InvalidTransitionError: the lifecycle has no such move.
            CapacityError: the move needs seats the slot no longer has.

        .. versionadded:: 0.3
        """
        lifecycle = self._ctx.settings.lifecycle(booking.lifecycle)
        state = lifecycle.resolve(target, field="to")
        lifecycle.check_by_hand(state)
        check_items_allow(tx.uow, booking, state)
        return self._move(
            tx,
            booking,
            lifecycle,
            state,
            principal=principal,
            note=note,
            idempotency_key=None,
            digest=None,
            metadata={},
        )

    def _prior_transition(
        self, uow: UnitOfWork, key: str, digest: str | None, principal: Principal
    ) -> Transition | None:
        prior = uow.lifecycle_events.get_by_idempotency_key(key)
        if prior is None:
            return None
        if prior.request_fingerprint != digest:
            raise IdempotencyConflictError(caller_key(key))
        return Transition(self._load_visible(uow, prior.booking_id, principal), prior, True)

    def _move(
        self,
        tx: Transaction,
        booking: Booking,
        lifecycle: Lifecycle,
        target: str,
        *,
        principal: Principal,
        note: str | None,
        idempotency_key: str | None,
        digest: str | None,
        metadata: Mapping[str, str],
        claimed: bool = False,
        cancellation: CancellationPolicy | None = None,
    ) -> LifecycleEvent:
        """Move ``booking`` and write what a move writes; the caller commits.

        Seats the move gives back go to the slot's waiting list in the same
        unit of work, under the slot's lock. A move that takes seats ends the
        customer's entry on the slot's waiting list, as booking directly does,
        unless the seats are ``claimed``: an accepted offer's, whose entry the
        claim settles itself.

        Every cancellation comes through here: when the booking's cancellation
        policy states refund terms, the terms that applied (refund percent,
        refundable money) go on the history entry and the event's metadata.
        ``cancellation`` is the booking's policy when the caller resolved it
        already (:meth:`_cancellation_policy`); it is resolved here otherwise.
        """
        booking.check_live(target)
        slot = None
        freed = booking.seats_to_move(target, lifecycle) < 0
        released = False
        if booking.seats_to_move(target, lifecycle):
            lifecycle.check_move(booking.status, target)  # refuse before taking the slot's lock
            slot = tx.uow.slots.get_for_update(booking.slot_id)
        if slot is not None and not freed and not claimed:
            released = end_entry_for_booking(
                self._ctx,
                tx,
                slot,
                booking.customer_id,
                booking_id=booking.id,
                principal=principal,
                reason=f"booking {booking.reference} took its seats ({target})",
                now=self._ctx.now(),
            )
        now = self._ctx.now()
        if target == lifecycle.cancelled and set(CANCELLATION_METADATA_KEYS).isdisjoint(metadata):
            # (a caller that states the terms itself, an operator's cancellation, keeps them)
            rules = cancellation
            if rules is None:
                rules = self._cancellation_policy(tx.uow, booking)
            if rules.states_refunds:
                metadata = {**metadata, **self._terms(tx.uow, booking, now, rules).metadata()}
        raised = booking.move(
            target,
            lifecycle=lifecycle,
            author=self._ctx.author(principal, now),
            slot=slot,
            note=note,
            idempotency_key=idempotency_key,
            request_fingerprint=digest,
            metadata=metadata,
        )
        tx.record(raised)
        if (freed or released) and slot is not None:
            offer_free_seats(self._ctx, tx, slot, now=self._ctx.now())
        assert raised.history is not None
        commissions.reverse_on_cancellation(self._ctx, tx, booking, raised.history.id)
        commissions.accrue_on_reactivation(self._ctx, tx, booking, raised.history)
        # Paid after every supplier had confirmed: on to supplier_confirmed, same transaction.
        advance_if_suppliers_confirmed(self._ctx, tx, booking)
        return raised.history

    def _cancellation_policy(self, uow: UnitOfWork, booking: Booking) -> CancellationPolicy:
        """The cancellation policy ``booking`` is under now (``Settings.cancellation_policy``):
        its slot's product's own, else its lifecycle's, else the default.

        The booking carries its slot's product id (kept on reschedule), so the slot
        is not read; the product is, by id, only for a booking on a product's slot.
        """
        product = None if booking.product_id is None else uow.products.get(booking.product_id)
        return self._ctx.settings.cancellation_policy(booking.lifecycle, product)

    def _terms(
        self,
        uow: UnitOfWork,
        booking: Booking,
        now: datetime,
        rules: CancellationPolicy,
        *,
        starts_at: datetime | None = None,
    ) -> CancellationTerms:
        """What cancelling ``booking`` at ``now`` gives under ``rules``, its policy
        (counting the notice to ``starts_at``, the booking's start by default)."""
        held = [Money.zero(booking.currency)]
        held += [p.refundable_amount for p in uow.payments.list_for_booking(booking.id)]
        start = booking.starts_at if starts_at is None else starts_at
        return rules.terms(starts_at=start, now=now, paid=held)

    def cancellation_terms(
        self, booking_id: BookingId, *, principal: Principal
    ) -> CancellationTerms:
        """What cancelling the booking now would give, under its cancellation policy
        (its slot's product's ``cancellation_policy`` when set, else its lifecycle's
        entry of ``Settings.cancellation_by_lifecycle``, else ``Settings.cancellation``).

        For whoever may see the booking: whether a customer or partner may still
        cancel it online and until when, the refund tier and percent that apply,
        what its payments hold (captured, less refunded and refunds under way, per
        currency; the booking's currency at least) and how much of it a
        cancellation now gives back, and until when that holds.

        Raises:
            NotFoundError: no such booking visible to ``principal``.
            InvalidTransitionError: the booking cannot be cancelled any more (it
                is cancelled already, or ended), or its lifecycle has no
                cancelled state.

        .. versionadded:: 0.4
        """
        now = self._ctx.now()
        with self._ctx.uow_factory() as uow:
            booking = self._load_visible(uow, booking_id, principal)
            lifecycle = self._ctx.settings.lifecycle(booking.lifecycle)
            target = lifecycle.cancelled
            if target is None or not lifecycle.allows(booking.status, target):
                msg = f"booking {booking.reference} ({booking.status}) can no longer be cancelled"
                raise InvalidTransitionError(
                    lifecycle.name, booking.status, target or "cancelled", message=msg
                )
            return self._terms(uow, booking, now, self._cancellation_policy(uow, booking))

    def history(self, booking_id: BookingId, *, principal: Principal) -> Sequence[LifecycleEvent]:
        """The booking's status history, creation first.

        Staff and the system read every entry whole; anyone else reads every
        move, who made it and when, but the note and metadata only of the moves
        they made themselves (:func:`~bookingcore.domain.policy.history_for`),
        except the refund terms a cancellation recorded, which they read whoever
        cancelled.

        .. versionchanged:: 0.4 others' notes withheld from partners and customers.

        Raises:
            NotFoundError: no such booking visible to ``principal``.
        """
        with self._ctx.uow_factory() as uow:
            self._load_visible(uow, booking_id, principal)
            events = uow.lifecycle_events.list_for_booking(booking_id)
        return policy.history_for(principal, events)

    def documents(self, booking_id: BookingId, *, principal: Principal) -> Sequence[Document]:
        """The documents generated for the booking (invoice, voucher, ...), oldest first.

        Documents name the customer, so a partner that booked for a customer on
        file it may not see gets none of them.

        Raises:
            NotFoundError: no such booking visible to ``principal``.
        """
        with self._ctx.uow_factory() as uow:
            booking = self._load_visible(uow, booking_id, principal)
            if not self._sees_customer(uow, booking.customer_id, principal):
                return []
            return uow.documents.list_for_booking(booking_id)

    def document(self, document_id: DocumentId, *, principal: Principal) -> Document:
        """One generated document (its file: ``Document.to_bytes()``), to whoever may read
        the documents of its booking (see :meth:`documents`).

        Raises:
            NotFoundError: no such document, or its booking or customer is not
                visible to ``principal`` (answered alike, so ids reveal nothing).

        .. versionadded:: 0.4
        """
        with self._ctx.uow_factory() as uow:
            found = uow.documents.get(document_id)
            booking = None if found is None else uow.bookings.get(found.booking_id)
            if (
                found is None
                or booking is None
                or not policy.can_view_booking(principal, booking)
                or not self._sees_customer(uow, booking.customer_id, principal)
            ):
                raise NotFoundError("document", document_id)
            return found

    def partner_names(
        self, bookings: Iterable[Booking], *, principal: Principal
    ) -> Mapping[PartnerId, str]:
        """The names of the partners the given bookings came through, read in one query.

        For showing a page of bookings with their partner (each booking shows its
        source and the partner's name) without one read per booking. Only the
        bookings ``principal`` may see count; a partner since removed is left out.

        .. versionadded:: 0.4
        """
        wanted = {
            b.partner_id
            for b in bookings
            if b.partner_id is not None and policy.can_view_booking(principal, b)
        }
        if not wanted:
            return {}
        with self._ctx.uow_factory() as uow:
            found = uow.partners.get_many(wanted)
        return {partner_id: partner.name for partner_id, partner in found.items()}

    def audit_trail(self, booking_id: BookingId, *, principal: Principal) -> Sequence[AuditEntry]:
        """Who changed what on this booking, when, from what to what, and why; oldest first.

        Raises:
            NotFoundError: no such booking visible to ``principal``.
            PermissionDeniedError: ``principal`` may see the booking but not its trail.
        """
        with self._ctx.uow_factory() as uow:
            booking = self._load_visible(uow, booking_id, principal)
            policy.require(
                policy.can_view_audit(principal, booking),
                f"{principal} may not read the audit trail of {booking.reference}",
            )
            return uow.audit.list_for("booking", booking_id)

    def update(
        self,
        booking_id: BookingId,
        changes: BookingChanges,
        *,
        principal: Principal,
        expected_version: int | None = None,
        reason: str | None = None,
        idempotency_key: str | None = None,
    ) -> Booking:
        """Edit a booking's referral source, external id, internal notes or assignee.

        An edit that changes something leaves an audit entry (with ``reason``)
        and a ``BookingUpdated`` event. A retry with the same ``idempotency_key``
        and the same request (the booking, ``changes`` and ``reason``) returns
        the booking as it is now and writes nothing more, even after a later
        change.

        A new ``assignee_id`` must be an active advisor, as for :meth:`assign`; the
        booking's current assignee sent again is no new assignment and stays.

        Raises:
            NotFoundError: no such booking visible to ``principal``.
            PermissionDeniedError: a field ``principal`` may not edit.
            StaleVersionError: ``expected_version`` is older than the stored one.
            ValidationError: a value too long; on ``assignee_id`` (code
                ``unknown_advisor``) when a new assignee is not an active advisor
                (unknown, inactive or of another role); a malformed ``idempotency_key``.
            DuplicateError: external id taken.
            IdempotencyConflictError: ``idempotency_key`` was used for another
                request (another booking, change or reason) or another kind of operation.

        .. versionchanged:: 0.4
           ``idempotency_key``.
        .. versionchanged:: 0.4
           A new ``assignee_id`` that is not an active advisor is a ``ValidationError``
           on ``assignee_id`` (it was stored unchecked).
        """
        fields = changes.fields()
        clean_reason = clean_text(reason, "reason", max_length=500)
        p = Problems()
        values: dict[str, object] = {}
        limits = {"referral_source": 100, "internal_notes": 5000, "external_id": 255}
        for name, limit in limits.items():
            raw = getattr(changes, name)
            if raw is not UNSET:
                values[name] = p.capture(
                    lambda r=raw, n=name, m=limit: clean_text(r, n, max_length=m)  # type: ignore[misc]
                )
        p.raise_if_any()
        if changes.assignee_id is not UNSET:
            values["assignee_id"] = changes.assignee_id
        with self._ctx.transaction() as tx:
            uow = tx.uow
            made, fresh = claim_change(
                uow,
                self._ctx.now(),
                idempotency_key,
                "edit",
                principal,
                booking_id=booking_id,
                changes=values,
                reason=clean_reason,
            )
            # A new assignee's row is locked below: the booking first, as assign and
            # the strategies lock them, so two assignments never wait on each other.
            new_assignee = values.get("assignee_id")
            booking = self._load_visible(
                uow, booking_id, principal, for_update=isinstance(new_assignee, UUID) and fresh
            )
            if not fresh:
                return policy.booking_for(principal, booking)
            policy.check_may_edit(principal, booking, fields)
            booking.check_version(expected_version)
            if isinstance(new_assignee, UUID):
                self._check_new_assignee(uow, booking, StaffId(new_assignee), "assignee_id")
            new_external = values.get("external_id")
            if isinstance(new_external, str) and new_external != booking.external_id:
                self._check_external_id(uow, new_external, principal)
            raised = booking.edit(values, author=self._ctx.author(principal), reason=clean_reason)
            if raised is None:
                if made is not None:
                    tx.commit()  # the claim: the key stays this request's
                return policy.booking_for(principal, booking)
            tx.record(_made(raised, made))
            tx.commit()
            return policy.booking_for(principal, booking)

    def append_internal_note(
        self,
        booking_id: BookingId,
        note: str,
        *,
        principal: Principal,
        expected_version: int | None = None,
        idempotency_key: str | None = None,
    ) -> Booking:
        """Add ``note`` as a new line at the end of the booking's internal notes.

        The booking is locked while its notes are read and written back, so two
        notes added at once both stay (``expected_version`` refuses the note when
        the booking changed since the caller read it). The edit is audited as
        :meth:`update` audits one, with the reason ``"note added"``. A retry with
        the same ``idempotency_key`` and the same request (the booking, ``note``
        and ``expected_version``) returns the booking as it is now and adds the
        note no second time: no ``StaleVersionError`` for the version the first
        call moved on.

        Raises:
            NotFoundError: no such booking visible to ``principal``.
            PermissionDeniedError: ``principal`` may not edit internal notes.
            StaleVersionError: ``expected_version`` is older than the stored one.
            ValidationError: on ``note`` when blank, too long, or when the notes
                would grow past 5,000 characters; a malformed ``idempotency_key``.
            IdempotencyConflictError: ``idempotency_key`` was used for another
                request or another kind of operation.

        .. versionadded:: 0.4
        """
        clean = clean_text(note, "note", max_length=5000, min_length=1)
        if clean is None:
            raise ValidationError.single("note", "a note needs text", "required")
        with self._ctx.transaction() as tx:
            uow = tx.uow
            made, fresh = claim_change(
                uow,
                self._ctx.now(),
                idempotency_key,
                "internal_note",
                principal,
                booking_id=booking_id,
                note=clean,
                expected_version=expected_version,
            )
            booking = self._load_visible(uow, booking_id, principal, for_update=fresh)
            if not fresh:
                return policy.booking_for(principal, booking)
            policy.check_may_edit(principal, booking, frozenset({"internal_notes"}))
            booking.check_version(expected_version)
            notes = f"{booking.internal_notes}\n{clean}" if booking.internal_notes else clean
            if len(notes) > 5000:
                msg = "the booking's internal notes would grow past 5,000 characters"
                raise ValidationError.single("note", msg, "too_long")
            raised = booking.edit(
                {"internal_notes": notes}, author=self._ctx.author(principal), reason="note added"
            )
            if raised is not None:
                tx.record(_made(raised, made))
            tx.commit()
            return policy.booking_for(principal, booking)

    # ------------------------------------------------------------------ changing a booking
    # (issue 22: reschedule, travelers, advisor notes, assignment)

    def reschedule(
        self,
        booking_id: BookingId,
        slot_id: SlotId,
        *,
        principal: Principal,
        reason: str | None = None,
        expected_version: int | None = None,
        idempotency_key: str | None = None,
        override_requirements: bool = False,
    ) -> Rescheduled:
        """Move a booking to another slot (another date, time or place).

        One unit of work, both slots locked in a fixed order: seats are held on
        the new slot and given back on the old (and offered to its waiting
        list), prices follow the new slot (prices set by hand are kept), and an
        audit entry and a ``booking.rescheduled`` event are written.

        With an ``idempotency_key`` (scoped to ``principal``) a retry of the
        same request (the booking, ``slot_id`` and ``reason``) returns the first
        result with ``replayed`` set and writes nothing, even after a later
        change moved the booking on. A keyed call's ``booking.rescheduled``
        event has an id derived from the key: the outbox is where the retry
        finds it, for as long as it keeps the event (``Settings.outbox_retention``,
        30 days by default); a later retry is refused (``IdempotencyConflictError``),
        never made again.

        What is dated by the departure follows it: line items' service dates
        move by as many days as the departure's date (on the business's clock),
        except items their supplier confirmed (see
        :attr:`Rescheduled.items_to_reconfirm`); an itinerary nobody edited is
        planned again. Confirmed items and an edited itinerary are listed in an
        advisor note for staff. A reminder already sent for the old departure
        does not stop the reminder of the new one.

        The booking's travelers are held against the new slot's product's
        requirements at the new slot's start (a birthday or a certificate's
        expiry may fall between the two starts); staff who change every
        booking may pass ``override_requirements`` to move it anyway (an
        audited note on the booking says what was waived).

        Raises:
            NotFoundError: no such booking visible to ``principal``.
            PermissionDeniedError: not theirs to change, too late for a customer
                or partner (the old slot started), or a location the partner may
                not book; ``override_requirements`` from anyone else.
            StaleVersionError: ``expected_version`` is older than the stored one.
            InvalidTransitionError: the booking is cancelled or has ended.
            ValidationError: on ``slot_id``: unknown, the same slot, closed (or
                its location, or its product no longer sold), started, or priced
                in another currency; on ``travelers[i].age`` /
                ``travelers[i].certificates`` when the new slot's product refuses
                a traveler (``i`` their position on the booking).
            CapacityError: the new slot has fewer seats left than travelers.
            DuplicateError: the customer already holds the new slot for the
                same travelers.
            IdempotencyConflictError: the key was used for a different request,
                or for this one longer ago than the outbox keeps its event.

        .. versionchanged:: 0.4 ``idempotency_key``, ``override_requirements``.

        .. versionadded:: 0.2
        """
        note = clean_text(reason, "reason", max_length=500)
        key = principal_key(principal, idempotency_key)
        asked = _Reschedule(booking_id, slot_id, note)
        try:
            moved = self._reschedule(
                asked, principal, expected_version, key, override=override_requirements
            )
        except (ConflictError, InvalidTransitionError, ValidationError):
            if key is None:
                raise
            # A twin with the same key moved the booking first (it is on ``slot_id``
            # now): its move is this call's answer.
            with self._ctx.uow_factory() as uow:
                prior = self._prior_reschedule(uow, key, asked, principal)
            if prior is None:
                raise
            moved = prior
        return attrs.evolve(moved, booking=policy.booking_for(principal, moved.booking))

    def _prior_reschedule(
        self, uow: UnitOfWork, key: str, asked: _Reschedule, principal: Principal
    ) -> Rescheduled | None:
        """The reschedule an earlier call with ``key`` made, if any.

        Raises:
            IdempotencyConflictError: that call asked for something else.
        """
        message = uow.outbox.get(keyed_event_id("reschedule", key))
        if message is None:
            return None
        event = message.event
        if not (
            isinstance(event, BookingRescheduled)
            and (event.booking_id, event.to_slot_id, event.note)
            == (asked.booking_id, asked.slot_id, asked.note)
        ):
            raise IdempotencyConflictError(caller_key(key))
        booking = self._load_visible(uow, asked.booking_id, principal)
        difference = Money(event.price_difference, event.currency)
        return Rescheduled(booking, event.from_slot_id, difference, replayed=True)

    def _reschedule(
        self,
        asked: _Reschedule,
        principal: Principal,
        expected_version: int | None,
        key: str | None,
        *,
        override: bool = False,
    ) -> Rescheduled:
        booking_id, slot_id, note = asked.booking_id, asked.slot_id, asked.note
        now = self._ctx.now()
        with self._ctx.transaction() as tx:
            uow = tx.uow
            if key is not None:
                new = claim_key(uow, key, "reschedule", now)
                # Looked for even when the key is new to the registry: a reschedule made
                # before the registry (0.4) left its key in its event's id alone.
                prior = self._prior_reschedule(uow, key, asked, principal)
                if prior is not None:
                    return prior
                if not new:
                    # The key's reschedule was made, but its event has been pruned from
                    # the outbox (Settings.outbox_retention): refused, never made twice.
                    raise IdempotencyConflictError(caller_key(key))
            booking = self._load_visible(uow, booking_id, principal, for_update=True)
            policy.check_may_cancel(principal, booking, now=now)
            booking.check_version(expected_version)
            lifecycle = self._ctx.settings.lifecycle(booking.lifecycle)
            if slot_id == booking.slot_id:
                raise ValidationError.single("slot_id", "the booking is on this slot", "same_slot")
            locked: dict[SlotId, Slot | None] = {}
            for wanted in sorted({booking.slot_id, slot_id}, key=lambda i: i.bytes):
                locked[wanted] = uow.slots.get_for_update(wanted)
            old_slot, new_slot = locked[booking.slot_id], locked[slot_id]
            assert old_slot is not None
            if new_slot is None:
                raise ValidationError.single("slot_id", f"no slot {slot_id}", "unknown_reference")
            location = self.sold_at(uow, new_slot)
            partner = self._acting_partner(uow, principal)
            policy.check_may_book(
                principal, customer_id=booking.customer_id, location=location, partner=partner
            )
            waived = self._requirements_on(
                uow, booking, new_slot, principal=principal, override=override
            )
            for other in uow.bookings.list_for_customer_slot(booking.customer_id, new_slot.id):
                theirs = self._ctx.settings.lifecycle(other.lifecycle)
                if other.traveler_ids == booking.traveler_ids and theirs.is_active(other.status):
                    if not policy.can_view_booking(principal, other):
                        # Another channel's booking: say that it exists, never which it is.
                        msg = "another booking already holds that slot for these travelers"
                        raise DuplicateError(msg, entity="booking")
                    msg = f"booking {other.reference} already holds that slot for these travelers"
                    raise DuplicateError(msg, entity="booking", existing_id=other.id)
            from_slot_id, held = booking.slot_id, booking.holds_seats(lifecycle)
            from_starts = booking.starts_at
            released = held and end_entry_for_booking(
                self._ctx,
                tx,
                new_slot,
                booking.customer_id,
                booking_id=booking.id,
                principal=principal,
                reason=f"booking {booking.reference} was moved onto the slot",
                now=now,
            )
            difference, raised = booking.reschedule(
                new_slot,
                from_slot=old_slot,
                lifecycle=lifecycle,
                author=self._ctx.author(principal, now),
                supplier_id=self._supplier_of(uow, new_slot),
                note=note,
            )
            if key is not None:
                keyed = attrs.evolve(raised.event, id=keyed_event_id("reschedule", key))
                raised = attrs.evolve(raised, event=keyed)
            tx.record(raised)
            if held:
                offer_free_seats(self._ctx, tx, old_slot, now=now)
            if released:
                offer_free_seats(self._ctx, tx, new_slot, now=now)
            to_reconfirm = self._follow_departure(
                tx, booking, from_starts, principal=principal, note=note, now=now
            )
            note_waived(tx, principal, booking.id, waived, what="Rescheduled")
            tx.commit()
            return Rescheduled(booking, from_slot_id, difference, items_to_reconfirm=to_reconfirm)

    def _requirements_on(
        self, uow: UnitOfWork, booking: Booking, slot: Slot, *, principal: Principal, override: bool
    ) -> Sequence[FieldError]:
        """Hold ``booking``'s travelers against ``slot``'s product's requirements
        (:func:`check_requirements`): its travelers in one read, their certificates in
        another, only when the product has requirements; the problems waived."""
        product = uow.products.get(slot.product_id) if slot.product_id else None
        travelers: list[Traveler | None] = []
        if product is not None and product.requirements is not None:
            saved = uow.travelers.list_for_customer(booking.customer_id, include_deleted=True)
            by_id = {t.id: t for t in saved}
            travelers = [
                by_id.get(t.traveler_id) or uow.travelers.get(t.traveler_id)
                for t in booking.travelers
            ]
        return check_requirements(
            self._ctx,
            uow,
            product,
            [t for t in travelers if t is not None],
            starts_at=slot.starts_at,
            principal=principal,
            override=override,
        )

    def _follow_departure(
        self,
        tx: Transaction,
        booking: Booking,
        from_starts: datetime,
        *,
        principal: Principal,
        note: str | None,
        now: datetime,
    ) -> tuple[BookingItem, ...]:
        """Move what is dated by the departure after ``booking`` moved from ``from_starts``.

        Dated items move by the days the departure moved, but those their
        supplier confirmed (returned, to be changed with the supplier); an
        itinerary still as generated is planned again. What staff must see to
        is written as an advisor note.
        """
        uow, zone = tx.uow, self._ctx.settings.zone
        shift = booking.starts_at.astimezone(zone).date() - from_starts.astimezone(zone).date()
        items = uow.booking_items.list_for_booking(booking.id)
        itinerary = uow.itineraries.get_for_booking(booking.id)
        # Compared before any item moves: the plan as it was generated, or edited since.
        edited = itinerary is not None and itinerary.days != plan_days(from_starts, items, zone)
        confirmed: list[BookingItem] = []
        for item in items:
            dated = item.service_starts_on is not None or item.service_ends_on is not None
            if not shift or item.is_cancelled or not dated:
                continue
            if item.is_confirmed:
                confirmed.append(item)
                continue
            old = _service_dates(item)
            try:
                item.reschedule(
                    _later(item.service_starts_on, shift),
                    _later(item.service_ends_on, shift),
                    now=now,
                )
            except (OverflowError, ValidationError):
                msg = f"moves the dates of {item.description!r} past the dates an item may have"
                raise ValidationError.single("slot_id", msg, "out_of_range") from None
            tx.audit(
                principal,
                entity=item.entity_name,
                entity_id=item.id,
                action=AuditAction.UPDATED,
                old=old,
                new=_service_dates(item),
                reason=note,
                booking_id=booking.id,
            )
        if itinerary is not None and not edited:
            itinerary.days = plan_days(booking.starts_at, items, zone)
            itinerary.touch(now)
        flags = [
            f"{item.description} ({_dates_text(item)}"
            + (f", supplier reference {item.supplier_reference}" if item.supplier_reference else "")
            + ")"
            for item in confirmed
        ]
        lines: list[str] = []
        if flags:
            lines.append(
                "Confirmed by their suppliers for the old dates, not moved; change them with"
                " the supplier: " + "; ".join(flags) + "."
            )
        if edited:
            lines.append(
                "The itinerary was edited and still has the old dates: edit it, or generate"
                " it again with replace=True."
            )
        if lines:
            local = booking.starts_at.astimezone(zone)
            heading = (
                f"Rescheduled from {from_starts.astimezone(zone):%Y-%m-%d %H:%M} to"
                f" {local:%Y-%m-%d %H:%M} {local.tzname()}."
            )
            tx.audit(
                _RESCHEDULE,
                entity=booking.entity_name,
                entity_id=booking.id,
                action=AuditAction.NOTE_ADDED,
                new={"note": " ".join([heading, *lines])[:_MAX_NOTE]},
                booking_id=booking.id,
            )
        return tuple(confirmed)

    def change_travelers(
        self,
        booking_id: BookingId,
        *,
        principal: Principal,
        add: Sequence[NewTraveler | SavedTraveler] = (),
        remove: Iterable[TravelerId] = (),
        primary: TravelerId | None = None,
        reason: str | None = None,
        expected_version: int | None = None,
        idempotency_key: str | None = None,
        override_requirements: bool = False,
    ) -> Booking:
        """Add, remove or replace travelers on a booking (remove one and add another).

        ``add`` takes the same traveler choices as a new booking (typed-in ones
        are saved under the customer); ``primary`` names the new primary
        contact (one of the travelers after the change), or one added traveler
        says ``is_primary``. Capacity, the primary-contact rule and the prices
        (with the slot's group discount) are checked again, seats freed go to
        the waiting list, and an audit entry and ``BookingUpdated`` event are
        written; all in one unit of work.

        The added travelers are held against the slot's product's requirements
        at the slot's start (those already on the booking are not checked
        again): problems are reported on ``travelers[i].age`` and
        ``travelers[i].certificates``, ``i`` the position in ``add``. Staff who
        change every booking may pass ``override_requirements`` to add them
        anyway (an audited note on the booking says what was waived).

        A retry with the same ``idempotency_key`` and the same request (the
        booking, ``add``, ``remove``, ``primary`` and ``reason``) returns the
        booking as it is now and writes nothing more: no traveler is added twice.

        Raises:
            NotFoundError: no such booking visible to ``principal``.
            PermissionDeniedError: not theirs to change, too late for a customer
                or partner, or a price override without ``set_prices``.
            StaleVersionError: ``expected_version`` is older than the stored one.
            InvalidTransitionError: the booking is cancelled or has ended.
            ValidationError: on ``remove`` (not on the booking), ``primary``,
                ``travelers`` (none left, not exactly one primary contact) or the
                added travelers' fields, or the product's requirements.
            CapacityError: the slot has fewer seats left than added travelers.
            DuplicateError: after the change another active booking of the slot
                (the customer's, or of a family member whose traveler is added)
                would hold the same travelers, as booking refuses it.
            IdempotencyConflictError: ``idempotency_key`` was used for another
                request or another kind of operation.

        .. versionadded:: 0.2
        .. versionchanged:: 0.4
           ``idempotency_key``; the product's requirements; ``override_requirements``.
        .. versionchanged:: 0.4
           ``DuplicateError`` when the change would duplicate another booking of the slot.
        """
        note = clean_text(reason, "reason", max_length=500)
        gone = frozenset(remove)
        if any(choice.price is not None for choice in add):
            policy.require(principal.has(Permission.SET_PRICES), f"{principal} may not set prices")
        now = self._ctx.now()
        with self._ctx.transaction() as tx:
            uow = tx.uow
            made, fresh = claim_change(
                uow,
                self._ctx.now(),
                idempotency_key,
                "travelers",
                principal,
                booking_id=booking_id,
                add=tuple(add),
                remove=gone,
                primary=primary,
                reason=note,
                **({"override_requirements": True} if override_requirements else {}),
            )
            booking = self._load_visible(uow, booking_id, principal, for_update=True)
            if not fresh:
                return policy.booking_for(principal, booking)
            policy.check_may_cancel(principal, booking, now=now)
            booking.check_version(expected_version)
            unknown = sorted(str(t) for t in gone - booking.traveler_ids)
            if unknown:
                msg = f"not travelers of this booking: {', '.join(unknown)}"
                raise ValidationError.single("remove", msg, "unknown_traveler")
            sees = self._sees_customer(uow, booking.customer_id, principal)
            request = BookingRequest(booking.slot_id, tuple(add), customer_id=booking.customer_id)
            chosen, new_travelers = self._resolve_travelers(
                uow, request, booking.customer_id, now, sees_customer=sees, principal=principal
            )
            slot = uow.slots.get_for_update(booking.slot_id)
            assert slot is not None
            waived = check_requirements(
                self._ctx,
                uow,
                uow.products.get(slot.product_id) if slot.product_id else None,
                [traveler for traveler, _, _ in chosen],
                starts_at=slot.starts_at,
                principal=principal,
                override=override_requirements,
            )
            kept = [t for t in booking.travelers if t.traveler_id not in gone]
            added = [
                BookingTraveler(
                    traveler_id=traveler.id,
                    price=price or slot.price_per_traveler,
                    is_primary=choice.is_primary,
                    special_requirements=needs,
                )
                for (traveler, price, needs), choice in zip(chosen, add, strict=True)
            ]
            lifecycle = self._ctx.settings.lifecycle(booking.lifecycle)
            freed = booking.holds_seats(lifecycle) and len(kept) + len(added) < len(
                booking.travelers
            )
            after = _with_primary(kept, added, primary)
            wanted = frozenset(t.traveler_id for t in after)
            if wanted != booking.traveler_ids:
                # As booking refuses it: no two active bookings of the slot for one party.
                for other in self._same_slot_bookings(uow, booking.customer_id, slot.id, chosen):
                    theirs = self._ctx.settings.lifecycle(other.lifecycle)
                    if (
                        other.id == booking.id
                        or other.traveler_ids != wanted
                        or not theirs.is_active(other.status)
                    ):
                        continue
                    if not policy.can_view_booking(principal, other):
                        msg = "another booking already holds this slot for these travelers"
                        raise DuplicateError(msg, entity="booking")
                    msg = f"booking {other.reference} already holds this slot for these travelers"
                    raise DuplicateError(msg, entity="booking", existing_id=other.id)
            raised = booking.change_travelers(
                after,
                slot=slot,
                lifecycle=lifecycle,
                author=self._ctx.author(principal, now),
                note=note,
            )
            if raised is None:
                if made is not None:
                    tx.commit()  # the claim: the key stays this request's
                return policy.booking_for(principal, booking)
            for traveler in new_travelers:
                uow.travelers.add(traveler)
            tx.record(_made(raised, made))
            note_waived(tx, principal, booking.id, waived, what="Travelers added")
            if freed:
                offer_free_seats(self._ctx, tx, slot, now=now)
            tx.commit()
            return policy.booking_for(principal, booking)

    def add_note(
        self,
        booking_id: BookingId,
        text: str,
        *,
        principal: Principal,
        idempotency_key: str | None = None,
    ) -> AdvisorNote:
        """Append a note to the booking's advisor log (who, when, what); notes are never edited.

        Staff who may see the booking write notes: its advisor, staff and admins.
        A retry with the same ``idempotency_key`` (same booking, same text) returns
        the note the first call wrote and writes nothing more.

        Raises:
            NotFoundError: no such booking visible to ``principal``.
            PermissionDeniedError: ``principal`` is not staff.
            ValidationError: on ``text`` when blank, over 5,000 characters or
                holding control characters; on ``idempotency_key`` when malformed.
            IdempotencyConflictError: ``idempotency_key`` was used for another
                note (another booking or text) or another kind of operation.

        .. versionadded:: 0.2
        .. versionchanged:: 0.4
           ``idempotency_key``.
        """
        clean = clean_text(text, "text", max_length=5000, min_length=1)
        if clean is None:
            raise ValidationError.single("text", "a note needs text", "required")
        policy.require(
            principal.kind in (PrincipalKind.STAFF, PrincipalKind.SYSTEM),
            f"{principal} may not write advisor notes",
        )
        key = principal_key(principal, idempotency_key)
        with self._ctx.transaction() as tx:
            booking = self._load_visible(tx.uow, booking_id, principal)
            entry_id = self._ctx.ids.new_id()
            if key is not None:
                asked = fingerprint("note", principal, booking_id=booking_id, text=clean)
                entry_id, fresh = claim_request(tx.uow, key, "note", self._ctx.now(), asked)
                if not fresh:
                    return self._noted(tx.uow, booking, entry_id, key)
            entry = tx.audit(
                principal,
                entity=booking.entity_name,
                entity_id=booking.id,
                action=AuditAction.NOTE_ADDED,
                new={"note": clean},
                booking_id=booking.id,
                entry_id=entry_id,
            )
            tx.commit()
        return AdvisorNote(entry.id, booking_id, entry.actor, entry.occurred_at, clean)

    @staticmethod
    def _noted(uow: UnitOfWork, booking: Booking, note_id: UUID, key: str) -> AdvisorNote:
        """The note ``note_id`` on ``booking``, that a keyed request asking the same wrote."""
        for e in uow.audit.list_for(booking.entity_name, booking.id):
            if e.id == note_id and e.action is AuditAction.NOTE_ADDED:
                made = str(e.new_values["note"])
                return AdvisorNote(e.id, booking.id, e.actor, e.occurred_at, made)
        raise IdempotencyConflictError(caller_key(key))

    def notes(self, booking_id: BookingId, *, principal: Principal) -> Sequence[AdvisorNote]:
        """The booking's advisor notes, oldest first; for staff who may see the booking.

        Raises:
            NotFoundError: no such booking visible to ``principal``.
            PermissionDeniedError: ``principal`` is not staff.

        .. versionadded:: 0.2
        """
        policy.require(
            principal.kind in (PrincipalKind.STAFF, PrincipalKind.SYSTEM),
            f"{principal} may not read advisor notes",
        )
        with self._ctx.uow_factory() as uow:
            booking = self._load_visible(uow, booking_id, principal)
            return [
                AdvisorNote(e.id, booking_id, e.actor, e.occurred_at, str(e.new_values["note"]))
                for e in uow.audit.list_for(booking.entity_name, booking.id)
                if e.action is AuditAction.NOTE_ADDED
            ]

    def assign(
        self,
        booking_id: BookingId,
        *,
        principal: Principal,
        strategy: AssignmentStrategy | str = AssignmentStrategy.LEAST_LOADED,
        advisor_id: StaffId | None = None,
        reason: str | None = None,
        expected_version: int | None = None,
        idempotency_key: str | None = None,
    ) -> Booking:
        """(Re-)assign a booking to an advisor, named or picked by ``strategy``.

        ``manual`` needs ``advisor_id``; ``least_loaded`` picks the active
        advisor with the fewest open bookings (as
        :meth:`~bookingcore.services.reports.ReportService.advisor_workload` counts
        ``open``, each booking in its own lifecycle); ``dealer_based`` the least
        loaded one whose territory covers the booking's location (or nobody:
        the booking is left unassigned); ``round_robin`` takes turns by id, the
        turn being the number of bookings that have an advisor now (any status),
        so separate calls and processes share it; it is counted, not stored, so a
        manual assignment or an unassignment moves it too. The booking's current
        advisor does not count their own booking in their load, nor does its
        assignment count in the turn: a re-assignment takes the turn it would take
        unassigned. A strategy locks the active advisors (in id order) before it
        counts, so picks at the same time wait for each other and never take the
        same turn or the same spare load. Writes an audit entry and a
        ``BookingUpdated`` event when the advisor changes. A retry with the same
        ``idempotency_key`` and the same request (the booking, ``strategy``,
        ``advisor_id`` and ``reason``: what was asked, not whom it picked)
        returns the booking as it is now and picks nobody again.

        ``expected_version`` refuses the assignment when the booking changed since
        the caller read it (a keyed retry is answered before it is compared).

        Raises:
            NotFoundError: no such booking visible to ``principal``.
            PermissionDeniedError: ``principal`` may not reassign bookings.
            StaleVersionError: ``expected_version`` is older than the stored one.
            ValidationError: an unknown strategy, ``manual`` without an advisor,
                or no active advisor for ``round_robin`` / ``least_loaded``; on
                ``advisor_id`` (code ``unknown_advisor``) when it is not an active
                advisor (unknown, inactive or of another role; the booking's current
                advisor named again stays); a malformed ``idempotency_key``.
            IdempotencyConflictError: ``idempotency_key`` was used for another
                request or another kind of operation.

        .. versionadded:: 0.2
        .. versionchanged:: 0.4
           ``idempotency_key``.
        .. versionchanged:: 0.4
           An ``advisor_id`` that is not an active advisor is a ``ValidationError``
           on ``advisor_id`` (it was a ``NotFoundError``, as for the booking).
        .. versionchanged:: 0.4
           ``expected_version``.
        """
        chosen = _strategy(strategy)
        clean_reason = clean_text(reason, "reason", max_length=500)
        with self._ctx.transaction() as tx:
            uow = tx.uow
            made, fresh = claim_change(
                uow,
                self._ctx.now(),
                idempotency_key,
                "assignment",
                principal,
                booking_id=booking_id,
                strategy=chosen,
                advisor_id=advisor_id,
                reason=clean_reason,
            )
            booking = self._load_visible(uow, booking_id, principal, for_update=True)
            if not fresh:
                return policy.booking_for(principal, booking)
            policy.check_may_edit(principal, booking, frozenset({"assignee_id"}))
            booking.check_version(expected_version)
            if advisor_id is not None:
                self._check_new_assignee(uow, booking, advisor_id, "advisor_id")
                picked: StaffId | None = advisor_id
            elif chosen is AssignmentStrategy.MANUAL:
                msg = "name the advisor (advisor_id) for a manual assignment"
                raise ValidationError.single("advisor_id", msg, "required")
            else:
                # Locked in id order: picks at the same time take turns.
                staff = locked_advisors(uow)
                loads = advisor_loads(uow, self._ctx.settings.lifecycles.values())
                if booking.assignee_id in loads:
                    loads[booking.assignee_id] -= 1
                advisors = [
                    Advisor(a.id, max(loads.get(a.id, 0), 0), a.location_ids, is_active=a.is_active)
                    for a in staff
                ]
                if chosen is AssignmentStrategy.ROUND_ROBIN:
                    turn = round_robin_turn(uow, self._ctx.settings.lifecycles.values())
                    if booking.assignee_id is not None:
                        turn -= 1  # this booking's own assignment is the turn it retakes
                    picked = round_robin(advisors, turn)[0]
                elif chosen is AssignmentStrategy.LEAST_LOADED:
                    picked = least_loaded(advisors, loads)
                else:
                    picked = dealer_based(advisors, booking.location_id, loads)
            raised = booking.edit(
                {"assignee_id": picked}, author=self._ctx.author(principal), reason=clean_reason
            )
            if raised is None:
                if made is not None:
                    tx.commit()  # the claim: the key stays this request's
                return policy.booking_for(principal, booking)
            tx.record(_made(raised, made))
            tx.commit()
            return policy.booking_for(principal, booking)

    # ------------------------------------------------------------------ attendance

    def record_attendance(
        self,
        booking_id: BookingId,
        marks: Mapping[TravelerId, Attendance | str | AttendanceMark],
        *,
        principal: Principal,
        expected_version: int | None = None,
        idempotency_key: str | None = None,
    ) -> Booking:
        """Record whether travelers turned up to the booking's slot, one mark per
        traveler (``{traveler_id: Attendance.NO_SHOW}``, or an
        :class:`~bookingcore.domain.AttendanceMark` with a note).

        Once the slot started (by the clock), never on a cancelled booking; for
        staff who may move the booking to ``completed`` or ``no_show``
        (:func:`~bookingcore.domain.policy.check_may_record_attendance`). Marks
        may be corrected later; a traveler marked as recorded already is left as
        they are. A change leaves an audit entry (``attendance.<traveler id>``,
        old and new) and a ``booking.attendance_recorded`` event. The status
        stays as it is unless ``Settings.attendance_moves_status`` asks: then a
        booking whose every traveler is a no-show moves to its lifecycle's
        ``no_show`` state and one whose every traveler attended to ``completed``
        (where the lifecycle allows it), through the one path every status move
        takes (history entry, ``booking.status_changed`` event). A retry with the
        same ``idempotency_key`` and request returns the booking as it is now and
        records nothing twice.

        Raises:
            NotFoundError: no such booking visible to ``principal``.
            PermissionDeniedError: ``principal`` may not record attendance.
            InvalidTransitionError: the booking is cancelled.
            ValidationError: on ``attendance`` for no marks; on
                ``attendance.<traveler id>`` for a traveler not on the booking
                (``not_on_booking``), an unknown attendance or a bad note; on
                ``starts_at`` (``not_started``) before the slot starts; a
                malformed ``idempotency_key``.
            StaleVersionError: ``expected_version`` is older than the stored one.
            IdempotencyConflictError: ``idempotency_key`` was used for another
                request or another kind of operation.

        .. versionadded:: 0.4
        """
        checked = attendance_marks(marks)
        asked = {str(t): [m.attendance.value, m.note] for t, m in sorted(checked.items())}
        with self._ctx.transaction() as tx:
            uow = tx.uow
            now = self._ctx.now()
            made, fresh = claim_change(
                uow,
                now,
                idempotency_key,
                "attendance",
                principal,
                booking_id=booking_id,
                marks=asked,
                expected_version=expected_version,
            )
            booking = self._load_visible(uow, booking_id, principal, for_update=fresh)
            if not fresh:
                return policy.booking_for(principal, booking)
            policy.check_may_record_attendance(principal, booking)
            booking.check_version(expected_version)
            lifecycle = self._ctx.settings.lifecycle(booking.lifecycle)
            raised = booking.record_attendance(
                checked, lifecycle=lifecycle, author=self._ctx.author(principal, now)
            )
            if raised is None:
                if made is not None:
                    tx.commit()  # the claim: the key stays this request's
                return policy.booking_for(principal, booking)
            tx.record(_made(raised, made))
            target = booking.attendance_target(lifecycle)
            if self._ctx.settings.attendance_moves_status and target is not None:
                self._move(
                    tx,
                    booking,
                    lifecycle,
                    target,
                    principal=principal,
                    note="attendance recorded",
                    idempotency_key=None,
                    digest=None,
                    metadata={},
                )
            tx.commit()
            return policy.booking_for(principal, booking)

    def roll_call(self, slot_id: SlotId, *, principal: Principal) -> RollCall:
        """Every traveler booked on the slot, with their attendance: the bookings that
        hold seats on it (cancelled ones left out), oldest booking first, travelers
        in booking order. Staff see the bookings they may see (an advisor theirs, a
        supplier's user its supplier's).

        Raises:
            NotFoundError: no such slot.
            PermissionDeniedError: ``principal`` is not staff.

        .. versionadded:: 0.4
        """
        policy.require(
            policy.may_read_roll_calls(principal), f"{principal} may not read a roll call"
        )
        with self._ctx.uow_factory() as uow:
            slot = uow.slots.get(slot_id)
            if slot is None:
                raise NotFoundError("slot", slot_id)
            query = BookingFilter(slot_id=slot_id, include_archived=True)
            booked = sorted(
                (
                    b
                    for b in every_item(lambda page: uow.bookings.list(query, page))
                    if self._takes_part(b) and policy.can_view_booking(principal, b)
                ),
                key=lambda b: (b.created_at, b.id),
            )
            names = self._traveler_names(uow, booked)
        entries = tuple(
            RollCallEntry(
                booking_id=b.id,
                reference=b.reference,
                booking_status=b.status,
                customer_id=b.customer_id,
                traveler_id=t.traveler_id,
                traveler_name=names.get(t.traveler_id),
                is_primary=t.is_primary,
                record=t.attendance,
            )
            for b in booked
            for t in b.travelers
        )
        return RollCall(slot.id, slot.starts_at, entries)

    def attendance_history(
        self, customer_id: CustomerId, *, principal: Principal
    ) -> AttendanceHistory:
        """How often each of the customer's travelers attended and did not show: every
        session that started (by the clock) on a booking that holds seats, newest
        first, and a tally per traveler. For whoever may see the customer (the
        customer themself, their partner, staff), over the bookings they may see.

        Raises:
            NotFoundError: no such customer visible to ``principal``.

        .. versionadded:: 0.4
        """
        now = self._ctx.now()
        with self._ctx.uow_factory() as uow:
            customer = uow.customers.get(customer_id)
            if customer is None or not policy.can_view_customer(principal, customer):
                raise NotFoundError("customer", customer_id)
            query = policy.scope_bookings(
                principal, BookingFilter(customer_id=customer_id, include_archived=True)
            )
            started = [
                b
                for b in every_item(lambda page: uow.bookings.list(query, page))
                if b.starts_at <= now and self._takes_part(b)
            ]
            names = self._traveler_names(uow, started)
        entries = [
            AttendanceEntry(
                booking_id=b.id,
                reference=b.reference,
                slot_id=b.slot_id,
                starts_at=b.starts_at,
                traveler_id=t.traveler_id,
                attendance=Attendance.UNKNOWN if t.attendance is None else t.attendance.status,
                recorded_at=None if t.attendance is None else t.attendance.recorded_at,
            )
            for b in started
            for t in b.travelers
        ]
        return AttendanceHistory.of(customer_id, entries, names)

    def _takes_part(self, booking: Booking) -> bool:
        """True when the booking's travelers are expected on its slot: it holds seats."""
        lifecycle = self._ctx.settings.lifecycle(booking.lifecycle)
        return booking.status != lifecycle.cancelled and lifecycle.holds_capacity(booking.status)

    @staticmethod
    def _traveler_names(uow: UnitOfWork, bookings: Sequence[Booking]) -> dict[TravelerId, str]:
        """The names of the travelers on ``bookings`` (one query; deleted ones one by one)."""
        saved = uow.travelers.list_for_customers({b.customer_id for b in bookings})
        names = {t.id: t.name for travelers in saved.values() for t in travelers}
        for traveler_id in {t.traveler_id for b in bookings for t in b.travelers} - set(names):
            gone = uow.travelers.get(traveler_id)
            if gone is not None:
                names[traveler_id] = gone.name
        return names

    def cancel_for_operator_within(
        self,
        tx: Transaction,
        booking_id: BookingId,
        *,
        principal: Principal,
        reason: str | None,
        marker: str,
    ) -> Booking | None:
        """Cancel a booking the operator called off, inside the caller's unit of work.

        :meth:`cancel_within` (the one cancellation path: seats back, history,
        audit, event, commissions), except that the customer is owed all they
        paid whatever the cancellation policy says: the terms recorded are
        100 % with everything paid refundable, and the metadata marks the
        operator's cancellation (``cancelled_by_operator``: ``marker``, e.g.
        ``"slot_cancelled"``). ``PaymentSettings(refund_on_cancel=True)`` then
        refunds it all. Returns ``None`` and changes nothing when the booking
        cannot move to its lifecycle's cancelled state.

        Raises:
            NotFoundError: no such booking visible to ``principal``.
            PermissionDeniedError: ``principal`` may not change every booking.

        .. versionadded:: 0.4
        """
        policy.require(
            principal.has(Permission.CHANGE_ALL), f"{principal} may not cancel for the operator"
        )
        booking = self._load_visible(tx.uow, booking_id, principal, for_update=True)
        lifecycle = self._ctx.settings.lifecycle(booking.lifecycle)
        target = lifecycle.cancelled
        if target is None or not lifecycle.allows(booking.status, target):
            return None
        now = self._ctx.now()
        # Everything paid goes back, whenever the operator calls it off.
        terms = self._terms(
            tx.uow, booking, now, _FULL_REFUND, starts_at=max(booking.starts_at, now)
        )
        self._move(
            tx,
            booking,
            lifecycle,
            target,
            principal=principal,
            note=clean_text(reason, "reason", max_length=500),
            idempotency_key=None,
            digest=None,
            metadata={**terms.metadata(), OPERATOR_CANCELLATION_KEY: marker},
        )
        return booking

    def follow_slot_within(
        self,
        tx: Transaction,
        booking_id: BookingId,
        slot: Slot,
        from_starts: datetime,
        *,
        principal: Principal,
        note: str | None,
    ) -> Booking | None:
        """Move a booking with its slot, which the operator moved from ``from_starts``,
        inside the caller's unit of work (the slot locked and already moved).

        The booking takes the slot's new start (an audit entry and a
        ``booking.rescheduled`` event from and to the same slot, no price
        difference) and what is dated by the departure follows it as in
        :meth:`reschedule`. Returns ``None`` and changes nothing for a booking
        that is no longer active.

        Raises:
            NotFoundError: no such booking visible to ``principal``.
            PermissionDeniedError: ``principal`` may not change every booking.
            ValidationError: on ``new_starts_at`` (code ``out_of_range``) when the
                move takes a line item's dates past the dates an item may have.

        .. versionadded:: 0.4
        """
        policy.require(
            principal.has(Permission.CHANGE_ALL), f"{principal} may not move every booking"
        )
        booking = self._load_visible(tx.uow, booking_id, principal, for_update=True)
        lifecycle = self._ctx.settings.lifecycle(booking.lifecycle)
        if not lifecycle.is_active(booking.status) or booking.starts_at == slot.starts_at:
            return None
        now = self._ctx.now()
        author = self._ctx.author(principal, now)
        tx.record(booking.follow_slot(slot, lifecycle=lifecycle, author=author, note=note))
        try:
            self._follow_departure(
                tx, booking, from_starts, principal=principal, note=note, now=now
            )
        except ValidationError as error:
            msgs = "; ".join(e.message for e in error.errors)
            raise ValidationError.single("new_starts_at", msgs, "out_of_range") from None
        return booking

    @staticmethod
    def _check_new_assignee(
        uow: UnitOfWork, booking: Booking, staff_id: StaffId, field: str
    ) -> None:
        """The one rule for whoever is given a booking: an active advisor. Their row is
        locked, so a deactivation at the same time lands first (and is seen here) or
        waits for this assignment. The booking's current assignee, sent again, is no
        new assignment and is not checked.

        Raises:
            ValidationError: on ``field`` (code ``unknown_advisor``).
        """
        if staff_id == booking.assignee_id:
            return
        check_advisor(uow, staff_id, field)

    @staticmethod
    def _load_visible(
        uow: UnitOfWork, booking_id: BookingId, principal: Principal, *, for_update: bool = False
    ) -> Booking:
        """The booking ``principal`` may see; locked (before its slot) when ``for_update``."""
        read = uow.bookings.get_for_update if for_update else uow.bookings.get
        booking = read(booking_id)
        if booking is None or not policy.can_view_booking(principal, booking):
            raise NotFoundError("booking", booking_id)
        return booking


def _later(day: date | None, shift: timedelta) -> date | None:
    return None if day is None else day + shift


def _service_dates(item: BookingItem) -> dict[str, str | None]:
    return {
        "service_starts_on": _iso(item.service_starts_on),
        "service_ends_on": _iso(item.service_ends_on),
    }


def _iso(day: date | None) -> str | None:
    return None if day is None else day.isoformat()


def _dates_text(item: BookingItem) -> str:
    starts, ends = _iso(item.service_starts_on), _iso(item.service_ends_on)
    if starts and ends and ends != starts:
        return f"{starts} to {ends}"
    return starts or f"until {ends}"


def _check_written_fields(request: BookingRequest, principal: Principal) -> None:
    """Refuse staff-only fields in a request ``principal`` makes, as :meth:`update` does.

    Only :meth:`BookingService.book` and :meth:`~BookingService.book_claimed` ask:
    in :meth:`~BookingService.book_in` the calling use case writes the request
    (an approved quotation's note), not ``principal``.
    """
    if request.internal_notes is not None:
        policy.check_may_write_fields(principal, frozenset({"internal_notes"}))


def _check_bookable_items(uow: UnitOfWork, items: Sequence[BookedItem]) -> None:
    """Every item's supplier and product exist and are active.

    Raises:
        ValidationError: on ``items[<n>].supplier_id`` or ``items[<n>].product_id``.
    """
    p = Problems()
    for index, item in enumerate(items):
        if item.supplier_id is not None:
            supplier = uow.suppliers.get(item.supplier_id)
            if supplier is None:
                msg = f"no supplier {item.supplier_id}"
                p.add(f"items[{index}].supplier_id", msg, "unknown_reference")
            elif not supplier.is_active:
                msg = f"supplier {supplier.code} is deactivated"
                p.add(f"items[{index}].supplier_id", msg, "inactive")
        if item.product_id is not None:
            product = uow.products.get(item.product_id)
            if product is None:
                msg = f"no product {item.product_id}"
                p.add(f"items[{index}].product_id", msg, "unknown_reference")
            elif not product.is_active:
                msg = f"product {product.code} is deactivated"
                p.add(f"items[{index}].product_id", msg, "inactive")
    p.raise_if_any()


def check_sold_at(location: Location | None, product: Product | None) -> Location:
    """``location`` (a slot's) when it and the slot's ``product`` are still open for bookings.

    The rule of :meth:`BookingService.sold_at` on a location and product already
    read (an import reads each once per chunk).

    Raises:
        ValidationError: on ``slot_id`` (code ``inactive``) when the location is
            closed or the product is no longer sold.
    """
    if location is None or not location.is_active:
        raise ValidationError.single("slot_id", "this slot's location is closed", "inactive")
    if product is not None and not product.is_active:
        msg = f"product {product.code} is no longer sold"
        raise ValidationError.single("slot_id", msg, "inactive")
    return location


def _same_person(saved: Traveler, typed: Traveler) -> bool:
    """Whether a typed-in traveler is one the customer saved already."""
    if saved.is_deleted or saved.name.casefold() != typed.name.casefold():
        return False
    for field in ("birth_date", "phone"):
        mine, theirs = getattr(saved, field), getattr(typed, field)
        if mine is not None and theirs is not None and mine != theirs:
            return False
    return True


def _start_state(lifecycle: Lifecycle, wanted: str) -> str:
    state = lifecycle.resolve(wanted)
    if state not in lifecycle.starts:
        starts = ", ".join(sorted(lifecycle.starts))
        msg = f"a {lifecycle.name} booking starts in one of: {starts}"
        raise ValidationError.single("status", msg, "not_a_start_state")
    return state


def _walk_to_seats(lifecycle: Lifecycle, status: str) -> tuple[str, ...]:
    """The fewest moves from ``status`` to a state that holds seats (none when it does).

    Only moves anyone may make by hand count: none into a money state, the
    cancelled state or a terminal one.

    Raises:
        ValidationError: on ``lifecycle`` when no such state can be reached.
    """
    if lifecycle.holds_capacity(status):
        return ()
    barred = set(lifecycle.money_states) | set(lifecycle.terminal)
    if lifecycle.cancelled is not None:
        barred.add(lifecycle.cancelled)
    came_from: dict[str, str] = {status: status}
    todo = deque([status])
    while todo:
        state = todo.popleft()
        for target in sorted(lifecycle.targets(state)):
            if target in came_from or target in barred:
                continue
            came_from[target] = state
            if lifecycle.holds_capacity(target):
                path = [target]
                while came_from[path[-1]] != status:
                    path.append(came_from[path[-1]])
                return tuple(reversed(path))
            todo.append(target)
    msg = (
        f"a {lifecycle.name} booking starting at {status!r} can never hold seats, "
        "so it cannot take over seats held for it"
    )
    raise ValidationError.single("lifecycle", msg, "holds_no_seats")


def _strategy(value: AssignmentStrategy | str) -> AssignmentStrategy:
    return parse_choice(AssignmentStrategy, value, "strategy", what="an assignment strategy")


def _made(raised: Raised, made: UUID | None) -> Raised:
    """``raised`` with its audit entry given id ``made`` (what a keyed change wrote), if any."""
    if made is None:
        return raised
    return attrs.evolve(raised, audit=attrs.evolve(raised.audit, id=made))


def _with_primary(
    kept: Sequence[BookingTraveler], added: Sequence[BookingTraveler], primary: TravelerId | None
) -> tuple[BookingTraveler, ...]:
    """A booking's travelers after a change: those ``kept``, then those ``added``, with
    one primary contact: ``primary`` if named, else the one ``added`` marked primary,
    else the one kept.

    Raises:
        ValidationError: on ``primary``: named twice differently (by ``primary`` and
            by ``is_primary``), or not a traveler of the booking after the change.
    """
    if primary is None and not any(t.is_primary for t in added):
        primary = next((t.traveler_id for t in kept if t.is_primary), None)
    marked = [t.traveler_id for t in added if t.is_primary]
    if primary is not None and marked and marked != [primary]:
        msg = "name the primary contact once: by primary or by is_primary, not both"
        raise ValidationError.single("primary", msg, "ambiguous")
    if primary is None:
        return (*(attrs.evolve(t, is_primary=False) for t in kept), *added)
    everyone = (*kept, *added)
    if primary not in {t.traveler_id for t in everyone}:
        msg = f"{primary} is not a traveler of the booking after the change"
        raise ValidationError.single("primary", msg, "unknown_traveler")
    return tuple(attrs.evolve(t, is_primary=t.traveler_id == primary) for t in everyone)
