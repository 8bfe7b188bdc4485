"""Bookings: a customer's reservation of a slot for one or more travelers.

The booking keeps its per-traveler prices, exactly one primary contact, the
totals after any group discount, where it came from (source, partner, referral,
who created it) and its status in a :class:`~bookingcore.domain.lifecycle.Lifecycle`.

.. versionadded:: 0.1
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

import attrs

from bookingcore.domain._validation import check_metadata
from bookingcore.domain.attendance import (
    Attendance,
    AttendanceMark,
    AttendanceRecord,
    attendance_outcome,
)
from bookingcore.domain.audit import AuditAction, AuditEntry, audit_value, diff, snapshot
from bookingcore.domain.events import (
    AttendanceRecorded,
    BookingCreated,
    BookingRescheduled,
    BookingStatusChanged,
    BookingUpdated,
    DomainEvent,
)
from bookingcore.domain.items import BookingItem, items_total
from bookingcore.domain.lifecycle import Lifecycle, LifecycleEvent
from bookingcore.domain.pricing import (
    KeptVoucher,
    LoyaltyDiscount,
    PriceBreakdown,
    VoucherDiscount,
    price_booking,
)
from bookingcore.domain.slots import Slot
from bookingcore.domain.sources import BookingSource
from bookingcore.domain.values import (
    Actor,
    BookingGroupId,
    BookingId,
    CustomerId,
    LocationId,
    Money,
    PartnerId,
    ProductId,
    RequestOrigin,
    SlotId,
    StaffId,
    SupplierId,
    TravelerId,
    TripId,
    Versioned,
)
from bookingcore.errors import (
    BookingArchivedError,
    DuplicateError,
    InvalidTransitionError,
    ValidationError,
)

__all__ = [
    "CREATED_FIELDS",
    "EDITABLE_FIELDS",
    "Author",
    "Booking",
    "BookingDraft",
    "BookingTraveler",
    "Raised",
]


@attrs.frozen
class BookingTraveler:
    """One traveler on a booking, with what they pay and need on this trip.

    .. versionadded:: 0.1
    .. versionchanged:: 0.4 ``attendance``.
    """

    traveler_id: TravelerId
    price: Money
    is_primary: bool = False
    special_requirements: str | None = None
    #: Whether the traveler turned up once the slot started (``None``: nobody
    #: recorded it); see :meth:`Booking.record_attendance`.
    #:
    #: .. versionadded:: 0.4
    attendance: AttendanceRecord | None = None


def _is_over(lifecycle: Lifecycle, status: str) -> bool:
    """True when a booking in ``status`` has ended: no longer active (ended,
    cancelled), or in a state only money moves on from (the travel lifecycle's
    ``completed``, which goes on to ``refunded`` alone): its date and travelers
    are final."""
    if not lifecycle.is_active(status):
        return True
    targets = lifecycle.targets(status)
    return status not in lifecycle.starts and bool(targets) and targets <= lifecycle.money_states


def check_travelers(travelers: Sequence[BookingTraveler]) -> None:
    """Enforce the traveler rules of a booking.

    Raises:
        ValidationError: no travelers, not exactly one primary contact, or the
            same traveler twice.
    """
    if not travelers:
        raise ValidationError.single(
            "travelers", "a booking needs at least one traveler", "required"
        )
    primaries = [i for i, t in enumerate(travelers) if t.is_primary]
    if len(primaries) != 1:
        msg = f"exactly one traveler must be the primary contact ({len(primaries)} marked)"
        raise ValidationError.single("travelers", msg, "primary_contact")
    seen: dict[TravelerId, int] = {}
    for index, traveler in enumerate(travelers):
        if traveler.traveler_id in seen:
            msg = f"is the same traveler as travelers[{seen[traveler.traveler_id]}]"
            raise ValidationError.single(f"travelers[{index}].traveler_id", msg, "duplicate")
        seen[traveler.traveler_id] = index


@attrs.frozen
class Author:
    """Who makes a change to a booking, when, and from where.

    ``new_id`` gives the ids of the records the change leaves (history entry,
    audit entry, outbox event); services pass their ``IdGenerator``'s ``new_id``.

    .. versionadded:: 0.2
    """

    actor: Actor
    now: datetime
    new_id: Callable[[], UUID]
    origin: RequestOrigin | None = None


@attrs.frozen
class Raised:
    """What one change of a booking leaves behind, to store in the same unit of work.

    ``history`` is the lifecycle entry of a creation or a move (``None`` for an
    edit), ``audit`` the audit entry, ``event`` the domain event for the outbox.

    .. versionadded:: 0.2
    """

    history: LifecycleEvent | None
    audit: AuditEntry
    event: DomainEvent


@attrs.frozen(kw_only=True)
class BookingDraft:
    """What a new booking is made of, before :meth:`Booking.open` checks the rules.

    ``travelers`` carry their prices already (the slot's price unless a caller
    allowed to set prices chose another); ``status`` is a state of the lifecycle.

    .. versionadded:: 0.2
    """

    id: BookingId
    reference: str
    customer_id: CustomerId
    travelers: tuple[BookingTraveler, ...]
    status: str
    source: BookingSource = BookingSource.DIRECT
    supplier_id: SupplierId | None = None
    partner_id: PartnerId | None = None
    referral_source: str | None = None
    internal_notes: str | None = None
    external_id: str | None = None
    assignee_id: StaffId | None = None
    group_id: BookingGroupId | None = None
    idempotency_key: str | None = None
    request_fingerprint: str | None = None
    metadata: Mapping[str, str] = attrs.Factory(dict)
    note: str | None = None
    #: Line items booked with the seats (hotel, flight, activity, ground service),
    #: priced in the slot's currency or converted to it at their recorded rate.
    #:
    #: .. versionadded:: 0.3
    items: tuple[BookingItem, ...] = ()
    #: The partner that made the booking itself (its own API request); ``partner_id``
    #: alone is a booking a partner brought (a lead it captured) and staff made.
    #:
    #: .. versionadded:: 0.4
    created_by_partner_id: PartnerId | None = None


#: What a booking's creation records in the audit trail.
CREATED_FIELDS = (
    "reference",
    "customer_id",
    "slot_id",
    "lifecycle",
    "status",
    "source",
    "partner_id",
    "external_id",
    "total",
)

#: The fields :meth:`Booking.edit` may change.
EDITABLE_FIELDS = frozenset(
    {"referral_source", "internal_notes", "external_id", "assignee_id", "group_id", "metadata"}
)


@attrs.define(slots=False)
class Booking(Versioned):
    """A reservation of a slot by a customer for travelers.

    Invariants: at least one traveler, exactly one primary contact, no traveler
    twice, ``total == subtotal - discount + items_total`` in the slot's currency
    (``items_total`` is what the booking's line items add up to, cancelled ones
    left out; see :func:`~bookingcore.domain.items.items_total`).

    .. versionadded:: 0.1
    """

    id: BookingId
    reference: str
    customer_id: CustomerId
    slot_id: SlotId
    location_id: LocationId
    starts_at: datetime
    lifecycle: str
    status: str
    travelers: tuple[BookingTraveler, ...]
    subtotal: Money
    discount: Money
    total: Money
    created_at: datetime
    updated_at: datetime
    created_by: Actor
    source: BookingSource = BookingSource.DIRECT
    product_id: ProductId | None = None
    supplier_id: SupplierId | None = None
    partner_id: PartnerId | None = None
    created_by_partner_id: PartnerId | None = None
    referral_source: str | None = None
    internal_notes: str | None = None
    external_id: str | None = None
    assignee_id: StaffId | None = None
    group_id: BookingGroupId | None = None
    idempotency_key: str | None = None
    request_fingerprint: str | None = None
    cancelled_at: datetime | None = None
    cancellation_reason: str | None = None
    metadata: dict[str, str] = attrs.Factory(dict)
    version: int = 1
    #: What the booking's line items add up to (zero without items).
    #:
    #: .. versionadded:: 0.3
    items_total: Money | None = None
    #: The voucher code the booking was made with (normalised), if any.
    #:
    #: .. versionadded:: 0.4
    voucher_code: str | None = None
    #: What the voucher took off (part of :attr:`discount`), if a voucher was used.
    #:
    #: .. versionadded:: 0.4
    voucher_discount: Money | None = None
    #: The customer's loyalty tier whose discount the booking got, if any
    #: (judged when it was made; later tier changes never reprice it).
    #:
    #: .. versionadded:: 0.4
    loyalty_tier: str | None = None
    #: That tier's percent off, as it was when the booking was made.
    #:
    #: .. versionadded:: 0.4
    loyalty_percent: Decimal | None = None
    #: What the loyalty tier took off (part of :attr:`discount`).
    #:
    #: .. versionadded:: 0.4
    loyalty_discount: Money | None = None
    #: When the booking was archived (``None``: it is live). An archived booking
    #: is left out of the operational lists unless asked for
    #: (``BookingFilter(include_archived=True)``) and nothing moves it until it is
    #: unarchived; see :meth:`archive`.
    #:
    #: .. versionadded:: 0.4
    archived_at: datetime | None = None
    #: The trip the booking is on (a booking is on one trip at most), kept by
    #: :class:`~bookingcore.services.TripService` with the trip's ``booking_ids``.
    #:
    #: .. versionadded:: 0.4
    trip_id: TripId | None = None

    entity_name = "booking"

    def __attrs_post_init__(self) -> None:
        check_travelers(self.travelers)
        if self.items_total is None:
            self.items_total = Money.zero(self.subtotal.currency)
        if self.subtotal - self.discount + self.items_total != self.total:
            msg = (
                f"{self.total} is not {self.subtotal} minus {self.discount}"
                f" plus items of {self.items_total}"
            )
            raise ValidationError.single("total", msg, "inconsistent_total")

    @property
    def items_sum(self) -> Money:
        """What the line items add up to (:attr:`items_total`, never ``None``).

        .. versionadded:: 0.3
        """
        assert self.items_total is not None
        return self.items_total

    def recount_items(self, items: Sequence[BookingItem], *, now: datetime) -> bool:
        """Take the line items' sum again after one of them changed (a cancelled item
        stops counting); returns True when the total changed.

        Raises:
            ValidationError: an item in another booking currency (``items[<n>].unit_price``).

        .. versionadded:: 0.3
        """
        counted = items_total(items, self.currency)
        if counted == self.items_total:
            return False
        self.total = self.subtotal - self.discount + counted
        self.items_total = counted
        self.touch(now)
        return True

    @property
    def kept_voucher(self) -> KeptVoucher | None:
        """The voucher discount the booking keeps when it is repriced, if any.

        .. versionadded:: 0.4
        """
        if self.voucher_code is None or self.voucher_discount is None:
            return None
        return KeptVoucher(self.voucher_code, self.voucher_discount)

    def _reprice_voucher(self, voucher_discount: Money | None) -> None:
        if self.voucher_code is not None:
            self.voucher_discount = voucher_discount

    @property
    def kept_loyalty(self) -> LoyaltyDiscount | None:
        """The loyalty discount the booking keeps when it is repriced: the tier and
        percent it was made with, whatever the customer's tier is now.

        .. versionadded:: 0.4
        """
        if self.loyalty_tier is None or self.loyalty_percent is None:
            return None
        return LoyaltyDiscount(self.loyalty_tier, self.loyalty_percent)

    def _reprice(self, breakdown: PriceBreakdown) -> None:
        self.subtotal, self.discount, self.total = (
            breakdown.subtotal,
            breakdown.discount,
            breakdown.total + self.items_sum,
        )
        self._reprice_voucher(breakdown.voucher_discount)
        if self.loyalty_tier is not None:
            self.loyalty_discount = breakdown.loyalty_discount

    @property
    def currency(self) -> str:
        """The currency every amount on this booking is in."""
        return self.total.currency

    @property
    def total_travelers(self) -> int:
        """How many travelers the booking is for (the seats it needs)."""
        return len(self.travelers)

    @property
    def traveler_ids(self) -> frozenset[TravelerId]:
        """The ids of the travelers on this booking."""
        return frozenset(t.traveler_id for t in self.travelers)

    @property
    def primary_traveler(self) -> BookingTraveler:
        """The traveler who is the primary contact."""
        return next(t for t in self.travelers if t.is_primary)

    def holds_seats(self, lifecycle: Lifecycle) -> bool:
        """True when the booking's status keeps its seats on the slot."""
        return lifecycle.holds_capacity(self.status)

    # ------------------------------------------------------------------ the changes

    @classmethod
    def open(
        cls,
        draft: BookingDraft,
        *,
        slot: Slot,
        lifecycle: Lifecycle,
        author: Author,
        others: Iterable[Booking] = (),
        may_see: Callable[[Booking], bool] = lambda _: True,
        lifecycle_of: Callable[[str], Lifecycle] | None = None,
        voucher: VoucherDiscount | None = None,
        loyalty: LoyaltyDiscount | None = None,
    ) -> tuple[Booking, Raised]:
        """Make a booking of ``slot``: the one way a booking comes to be.

        Checks every rule a new booking must meet, in this order, and changes
        nothing when one fails: the travelers (at least one, exactly one primary
        contact, none twice); the status (a state of ``lifecycle``, and one it
        starts in unless the booking is imported: an import records bookings
        made elsewhere, in whatever state they reached); the slot (open, and not
        started unless imported); the prices (in the slot's currency, never
        negative); no active booking among ``others`` (the customer's bookings
        of this slot) for the same travelers; and the seats, held on ``slot``
        when the status holds capacity. Call it with ``slot`` locked.

        Args:
            others: the customer's bookings of this slot.
            may_see: whether the caller may know of another booking; a duplicate
                the caller may not see is reported without naming it.
            lifecycle_of: the lifecycle of another booking by name, to tell whether
                it is still active; ``lifecycle`` for all of them when ``None``.
            voucher: a voucher the caller checked (``Voucher.check``): it comes
                off after the group discount and ``loyalty``; the booking keeps its
                code and amount.
            loyalty: the customer's loyalty tier discount, judged by the caller
                from stored figures: its percent comes off what the group tier
                left; the booking keeps the tier, percent and amount.

        Returns:
            The booking and what its creation raised: the first history entry,
            the audit entry and the :class:`~bookingcore.domain.events.BookingCreated` event.

        Raises:
            ValidationError: a broken traveler rule, an unknown or non-start
                status, a closed or started slot, or a bad price.
            DuplicateError: an active booking of this slot holds the same travelers.
            CapacityError: fewer seats are left than travelers.

        .. versionchanged:: 0.4
           ``voucher``; ``loyalty``.
        """
        imported = draft.source is BookingSource.IMPORT
        check_travelers(draft.travelers)
        status = lifecycle.resolve(draft.status)
        if not imported and status not in lifecycle.starts:
            starts = ", ".join(sorted(lifecycle.starts))
            msg = f"a {lifecycle.name} booking starts in one of: {starts}"
            raise ValidationError.single("status", msg, "not_a_start_state")
        if not slot.is_active:
            raise ValidationError.single("slot_id", "this slot is closed for booking", "inactive")
        if not imported and slot.starts_at <= author.now:
            raise ValidationError.single("slot_id", "this slot has already started", "past")
        breakdown = price_booking(
            [t.price for t in draft.travelers],
            slot.group_discounts,
            currency=slot.currency,
            voucher=voucher,
            loyalty=loyalty,
        )
        for index, item in enumerate(draft.items):
            if item.booking_id != draft.id:
                msg = "belongs to another booking"
                raise ValidationError.single(f"items[{index}].booking_id", msg, "invalid")
        extras = items_total(draft.items, slot.currency)
        wanted = frozenset(t.traveler_id for t in draft.travelers)
        for other in others:
            if other.slot_id != slot.id or other.traveler_ids != wanted:
                continue
            theirs = lifecycle if lifecycle_of is None else lifecycle_of(other.lifecycle)
            if not theirs.is_active(other.status):
                continue
            if not may_see(other):
                # Another channel's booking: say that it exists, never which it is.
                msg = "another booking already holds this slot for the same travelers"
                raise DuplicateError(msg, entity="booking")
            msg = f"booking {other.reference} already holds this slot for the same travelers"
            raise DuplicateError(msg, entity="booking", existing_id=other.id)
        if lifecycle.holds_capacity(status):
            slot.hold(len(draft.travelers))
        now = author.now
        booking = cls(
            id=draft.id,
            reference=draft.reference,
            customer_id=draft.customer_id,
            slot_id=slot.id,
            location_id=slot.location_id,
            starts_at=slot.starts_at,
            product_id=slot.product_id,
            supplier_id=draft.supplier_id,
            lifecycle=lifecycle.name,
            status=status,
            travelers=draft.travelers,
            subtotal=breakdown.subtotal,
            discount=breakdown.discount,
            total=breakdown.total + extras,
            items_total=extras,
            voucher_code=breakdown.voucher_code,
            voucher_discount=breakdown.voucher_discount,
            loyalty_tier=breakdown.loyalty_tier,
            loyalty_percent=breakdown.loyalty_percent,
            loyalty_discount=breakdown.loyalty_discount,
            created_at=now,
            updated_at=now,
            created_by=author.actor,
            source=draft.source,
            partner_id=draft.partner_id,
            created_by_partner_id=draft.created_by_partner_id,
            referral_source=draft.referral_source,
            internal_notes=draft.internal_notes,
            external_id=draft.external_id,
            assignee_id=draft.assignee_id,
            group_id=draft.group_id,
            idempotency_key=draft.idempotency_key,
            request_fingerprint=draft.request_fingerprint,
            metadata=check_metadata(draft.metadata),
        )
        history = LifecycleEvent(
            id=author.new_id(),
            booking_id=booking.id,
            booking_version=booking.version,
            lifecycle=booking.lifecycle,
            from_status=None,
            to_status=booking.status,
            actor=author.actor,
            occurred_at=now,
            note=draft.note,
        )
        audit = _audit_entry(
            booking,
            author,
            AuditAction.CREATED,
            new=snapshot(booking, CREATED_FIELDS),
            reason=draft.note,
        )
        event = BookingCreated(
            id=author.new_id(),
            occurred_at=now,
            booking_id=booking.id,
            reference=booking.reference,
            customer_id=booking.customer_id,
            slot_id=booking.slot_id,
            lifecycle=booking.lifecycle,
            status=booking.status,
            source=booking.source,
            actor=author.actor,
            travelers=booking.total_travelers,
            partner_id=booking.partner_id,
            assignee_id=booking.assignee_id,
        )
        return booking, Raised(history, audit, event)

    def seats_to_move(self, target: str, lifecycle: Lifecycle) -> int:
        """The seats a move to ``target`` takes (``+n``) or gives back (``-n``) on the slot.

        When it is not zero, :meth:`move` needs the booking's slot, locked.
        """
        held_before = lifecycle.holds_capacity(self.status)
        held_after = lifecycle.holds_capacity(target)
        return (int(held_after) - int(held_before)) * self.total_travelers

    def move(
        self,
        target: str,
        *,
        lifecycle: Lifecycle,
        author: Author,
        slot: Slot | None = None,
        note: str | None = None,
        idempotency_key: str | None = None,
        request_fingerprint: str | None = None,
        metadata: Mapping[str, str] | None = None,
    ) -> Raised:
        """Move along ``lifecycle`` to ``target``, holding or giving back seats on ``slot``.

        A move to the lifecycle's cancelled state keeps ``note`` as the
        cancellation reason; a move from it back to an active state (a
        reactivated appointment) clears ``cancelled_at`` and the reason (the
        history keeps them). Nothing changes when a rule refuses the move.

        Returns:
            The history entry, the audit entry and the
            :class:`~bookingcore.domain.events.BookingStatusChanged` event.

        Raises:
            InvalidTransitionError: the lifecycle has no such move.
            CapacityError: the move needs seats the slot no longer has.
            ValidationError: on ``metadata`` when it is malformed (too many pairs).
            ValueError: the move changes seats and ``slot`` is not this booking's slot
                (a programming error: lock it first, see :meth:`seats_to_move`).
        """
        self.check_live(target)
        lifecycle.check_move(self.status, target)
        extra = check_metadata(metadata)  # before anything changes
        seats = self.seats_to_move(target, lifecycle)
        if seats:
            if slot is None or slot.id != self.slot_id:
                msg = f"moving booking {self.reference} to {target} needs its slot, locked"
                raise ValueError(msg)
            if seats > 0:
                slot.hold(seats)
            else:
                slot.release(-seats)
        from_status, now = self.status, author.now
        self.status = target
        if target == lifecycle.cancelled:
            self.cancelled_at = now
            self.cancellation_reason = note
        elif from_status == lifecycle.cancelled and lifecycle.is_active(target):
            # Reactivated (an appointment back to PENDING): no longer cancelled. A
            # cancelled booking that goes on to an end (travel's refunded) stays so.
            self.cancelled_at = None
            self.cancellation_reason = None
        self.touch(now)
        history = LifecycleEvent(
            id=author.new_id(),
            booking_id=self.id,
            booking_version=self.version,
            lifecycle=lifecycle.name,
            from_status=from_status,
            to_status=target,
            actor=author.actor,
            occurred_at=now,
            note=note,
            idempotency_key=idempotency_key,
            request_fingerprint=request_fingerprint,
            metadata=extra,
        )
        audit = _audit_entry(
            self,
            author,
            AuditAction.STATUS_CHANGED,
            old={"status": from_status},
            new={"status": target},
            reason=note,
        )
        event = BookingStatusChanged(
            id=author.new_id(),
            occurred_at=now,
            booking_id=self.id,
            lifecycle=lifecycle.name,
            from_status=from_status,
            to_status=target,
            actor=author.actor,
            note=note,
            metadata=extra,
            partner_id=self.partner_id,
            booking_version=self.version,
        )
        return Raised(history, audit, event)

    def edit(
        self, values: Mapping[str, Any], *, author: Author, reason: str | None = None
    ) -> Raised | None:
        """Change bookkeeping fields (see :data:`EDITABLE_FIELDS`) to ``values``.

        Returns:
            ``None`` when nothing differs from what the booking holds; else the
            audit entry (old and new values) and the
            :class:`~bookingcore.domain.events.BookingUpdated` event.

        Raises:
            ValueError: a field that is not editable (a programming error).
        """
        unknown = set(values) - EDITABLE_FIELDS
        if unknown:
            msg = f"not editable booking fields: {sorted(unknown)}"
            raise ValueError(msg)
        if "metadata" in values:
            values = {**values, "metadata": check_metadata(values["metadata"])}
        before = snapshot(self, values)
        for name, value in values.items():
            setattr(self, name, value)
        old, new = diff(before, snapshot(self, values))
        if not new:
            return None
        self.touch(author.now)
        audit = _audit_entry(self, author, AuditAction.UPDATED, old=old, new=new, reason=reason)
        event = BookingUpdated(
            id=author.new_id(),
            occurred_at=author.now,
            booking_id=self.id,
            fields=tuple(sorted(new)),
            actor=author.actor,
            assignee_id=self.assignee_id if "assignee_id" in new else None,
        )
        return Raised(None, audit, event)

    def reschedule(
        self,
        to_slot: Slot,
        *,
        from_slot: Slot,
        lifecycle: Lifecycle,
        author: Author,
        supplier_id: SupplierId | None = None,
        note: str | None = None,
    ) -> tuple[Money, Raised]:
        """Move the booking to ``to_slot``; call with both slots locked.

        Travelers who paid the old slot's price pay the new slot's; prices set
        by hand are kept; the group discount is the new slot's. When the
        booking holds seats they are held on ``to_slot`` and given back on
        ``from_slot``. Nothing changes when a rule refuses.

        Returns:
            The price difference (new total less old) and the audit entry and
            :class:`~bookingcore.domain.events.BookingRescheduled` event.

        Raises:
            InvalidTransitionError: the booking is no longer active (ended,
                cancelled), or is in a state only money moves on from (travel's
                ``completed``).
            ValidationError: on ``slot_id``: the same slot, a closed or started
                one, or one priced in another currency.
            CapacityError: ``to_slot`` has fewer seats left than travelers.

        .. versionadded:: 0.2
        .. versionchanged:: 0.4 Refused in a state only money moves on from.
        """
        self._check_reschedulable(lifecycle)
        if _is_over(lifecycle, self.status):
            msg = f"booking {self.reference} is {self.status} and can no longer be rescheduled"
            raise InvalidTransitionError(lifecycle.name, self.status, "rescheduled", message=msg)
        if from_slot.id != self.slot_id:
            msg = f"rescheduling booking {self.reference} needs its own slot, locked"
            raise ValueError(msg)
        if to_slot.id == self.slot_id:
            raise ValidationError.single("slot_id", "the booking is on this slot", "same_slot")
        if not to_slot.is_active:
            raise ValidationError.single("slot_id", "this slot is closed for booking", "inactive")
        if to_slot.starts_at <= author.now:
            raise ValidationError.single("slot_id", "this slot has already started", "past")
        if to_slot.currency != self.currency:
            msg = f"the slot is priced in {to_slot.currency}; the booking in {self.currency}"
            raise ValidationError.single("slot_id", msg, "currency_mismatch")
        travelers = tuple(
            attrs.evolve(t, price=to_slot.price_per_traveler)
            if t.price == from_slot.price_per_traveler
            else t
            for t in self.travelers
        )
        breakdown = price_booking(
            [t.price for t in travelers],
            to_slot.group_discounts,
            currency=to_slot.currency,
            voucher=self.kept_voucher,
            loyalty=self.kept_loyalty,
        )
        if self.holds_seats(lifecycle):
            to_slot.hold(self.total_travelers)
            from_slot.release(self.total_travelers)
        fields = ("slot_id", "starts_at", "location_id", "product_id", "total")
        before = snapshot(self, fields)
        old_total, from_starts = self.total, self.starts_at
        self.slot_id = to_slot.id
        self.location_id = to_slot.location_id
        self.starts_at = to_slot.starts_at
        self.product_id = to_slot.product_id
        if to_slot.product_id != from_slot.product_id:
            self.supplier_id = supplier_id
        self.travelers = travelers
        self._reprice(breakdown)
        self.touch(author.now)
        difference = self.total - old_total
        old, new = diff(before, snapshot(self, fields))
        audit = _audit_entry(
            self,
            author,
            AuditAction.UPDATED,
            old=old,
            new={**new, "price_difference": f"{difference.amount} {difference.currency}"},
            reason=note,
        )
        event = BookingRescheduled(
            id=author.new_id(),
            occurred_at=author.now,
            booking_id=self.id,
            from_slot_id=from_slot.id,
            to_slot_id=to_slot.id,
            from_starts_at=from_starts,
            to_starts_at=to_slot.starts_at,
            price_difference=str(difference.amount),
            currency=difference.currency,
            actor=author.actor,
            note=note,
            partner_id=self.partner_id,
        )
        return difference, Raised(None, audit, event)

    def _check_reschedulable(self, lifecycle: Lifecycle) -> None:
        """Refuse to move an archived booking, or one ``lifecycle`` no longer counts active."""
        self.check_live("rescheduled")
        if not lifecycle.is_active(self.status):
            msg = f"booking {self.reference} is {self.status} and can no longer be rescheduled"
            raise InvalidTransitionError(lifecycle.name, self.status, "rescheduled", message=msg)

    def follow_slot(
        self, slot: Slot, *, lifecycle: Lifecycle, author: Author, note: str | None = None
    ) -> Raised:
        """Take the new start of the booking's own ``slot``, which the operator moved.

        Call with the booking and ``slot`` locked, after ``slot.starts_at`` changed.
        Nothing else changes: the slot, seats and prices stay. Returns the audit
        entry (``starts_at`` old and new) and a
        :class:`~bookingcore.domain.events.BookingRescheduled` event whose
        ``from_slot_id`` and ``to_slot_id`` are both the slot's, with no price
        difference.

        Raises:
            InvalidTransitionError: the booking is no longer active (ended, cancelled).

        .. versionadded:: 0.4
        """
        self._check_reschedulable(lifecycle)
        if slot.id != self.slot_id:
            msg = f"booking {self.reference} follows its own slot only"
            raise ValueError(msg)
        before = snapshot(self, ("starts_at",))
        from_starts = self.starts_at
        self.starts_at = slot.starts_at
        self.touch(author.now)
        old, new = diff(before, snapshot(self, ("starts_at",)))
        audit = _audit_entry(self, author, AuditAction.UPDATED, old=old, new=new, reason=note)
        event = BookingRescheduled(
            id=author.new_id(),
            occurred_at=author.now,
            booking_id=self.id,
            from_slot_id=slot.id,
            to_slot_id=slot.id,
            from_starts_at=from_starts,
            to_starts_at=slot.starts_at,
            price_difference="0",
            currency=self.currency,
            actor=author.actor,
            note=note,
            partner_id=self.partner_id,
        )
        return Raised(None, audit, event)

    def change_travelers(
        self,
        travelers: Sequence[BookingTraveler],
        *,
        slot: Slot,
        lifecycle: Lifecycle,
        author: Author,
        note: str | None = None,
    ) -> Raised | None:
        """Replace the booking's travelers; call with ``slot`` (the booking's) locked.

        The traveler rules are checked again (at least one, exactly one primary
        contact, nobody twice), the totals repriced with the slot's group
        discount, and seats held or given back for the difference when the
        booking holds seats. Returns ``None`` when nothing differs.

        Raises:
            InvalidTransitionError: the booking is no longer active, or is in a
                state only money moves on from (travel's ``completed``).
            ValidationError: a broken traveler rule or a price in another currency.
            CapacityError: more travelers than the slot has seats left.

        .. versionadded:: 0.2
        .. versionchanged:: 0.4 Refused in a state only money moves on from.
        """
        self.check_live(self.status)
        if _is_over(lifecycle, self.status):
            msg = f"booking {self.reference} is {self.status}; its travelers are final"
            raise InvalidTransitionError(lifecycle.name, self.status, self.status, message=msg)
        if slot.id != self.slot_id:
            msg = f"changing the travelers of booking {self.reference} needs its slot, locked"
            raise ValueError(msg)
        check_travelers(travelers)
        # A traveler who stays keeps the attendance recorded for them.
        recorded = {t.traveler_id: t.attendance for t in self.travelers}
        travelers = [
            t
            if t.attendance is not None or recorded.get(t.traveler_id) is None
            else attrs.evolve(t, attendance=recorded[t.traveler_id])
            for t in travelers
        ]
        if tuple(travelers) == self.travelers:
            return None
        breakdown = price_booking(
            [t.price for t in travelers],
            slot.group_discounts,
            currency=self.currency,
            voucher=self.kept_voucher,
            loyalty=self.kept_loyalty,
        )
        change = len(travelers) - self.total_travelers
        if self.holds_seats(lifecycle):
            if change > 0:
                slot.hold(change)
            elif change < 0:
                slot.release(-change)
        before = {
            "travelers": sorted(str(t.traveler_id) for t in self.travelers),
            "primary_traveler_id": str(self.primary_traveler.traveler_id),
            "total": audit_value(self.total),
        }
        self.travelers = tuple(travelers)
        self._reprice(breakdown)
        self.touch(author.now)
        after = {
            "travelers": sorted(str(t.traveler_id) for t in self.travelers),
            "primary_traveler_id": str(self.primary_traveler.traveler_id),
            "total": audit_value(self.total),
        }
        old, new = diff(before, after)
        audit = _audit_entry(self, author, AuditAction.UPDATED, old=old, new=new, reason=note)
        event = BookingUpdated(
            id=author.new_id(),
            occurred_at=author.now,
            booking_id=self.id,
            fields=("travelers",),
            actor=author.actor,
        )
        return Raised(None, audit, event)

    def record_attendance(
        self,
        marks: Mapping[TravelerId, AttendanceMark],
        *,
        lifecycle: Lifecycle,
        author: Author,
    ) -> Raised | None:
        """Record whether each traveler in ``marks`` turned up (checked marks: see
        :func:`~bookingcore.domain.attendance.attendance_marks`).

        Only once the slot started (``starts_at`` at or before ``author.now``) and
        never on a cancelled booking; the status is left as it is (see
        :meth:`attendance_target`). A traveler whose attendance and note are those
        recorded already is left as they are. Returns ``None`` when nothing
        changes, else the audit entry (``attendance.<traveler id>`` old and new,
        the notes under ``notes`` by traveler id) and the
        :class:`~bookingcore.domain.events.AttendanceRecorded` event.

        Raises:
            InvalidTransitionError: the booking is cancelled.
            ValidationError: on ``starts_at`` (code ``not_started``) before the
                slot's start; on ``attendance.<traveler id>`` (``not_on_booking``)
                for a traveler not on the booking.

        .. versionadded:: 0.4
        """
        self.check_live("attendance")
        if self.status == lifecycle.cancelled:
            msg = f"booking {self.reference} is cancelled; nobody attends it"
            raise InvalidTransitionError(lifecycle.name, self.status, "attendance", message=msg)
        if self.starts_at > author.now:
            msg = f"attendance is recorded once the slot starts ({self.starts_at.isoformat()})"
            raise ValidationError.single("starts_at", msg, "not_started")
        unknown = sorted(str(t) for t in set(marks) - self.traveler_ids)
        if unknown:
            msg = "is not a traveler on this booking"
            raise ValidationError.single(f"attendance.{unknown[0]}", msg, "not_on_booking")
        old: dict[str, Any] = {}
        new: dict[str, Any] = {}
        notes: dict[str, str] = {}
        changed: dict[Attendance, list[TravelerId]] = {a: [] for a in Attendance}
        travelers = []
        for traveler in self.travelers:
            mark = marks.get(traveler.traveler_id)
            before = traveler.attendance
            if mark is None or (
                before is not None and (before.status, before.note) == (mark.attendance, mark.note)
            ):
                travelers.append(traveler)
                continue
            record = AttendanceRecord(mark.attendance, author.now, author.actor, mark.note)
            travelers.append(attrs.evolve(traveler, attendance=record))
            key = f"attendance.{traveler.traveler_id}"
            old[key] = None if before is None else before.status.value
            new[key] = mark.attendance.value
            if mark.note is not None:
                notes[str(traveler.traveler_id)] = mark.note
            changed[mark.attendance].append(traveler.traveler_id)
        if not new:
            return None
        if notes:
            # One "notes" value: a person's erasure redacts it with the other notes.
            new["notes"] = notes
        self.travelers = tuple(travelers)
        self.touch(author.now)
        audit = _audit_entry(self, author, AuditAction.UPDATED, old=old, new=new)
        event = AttendanceRecorded(
            id=author.new_id(),
            occurred_at=author.now,
            booking_id=self.id,
            slot_id=self.slot_id,
            customer_id=self.customer_id,
            actor=author.actor,
            attended=tuple(changed[Attendance.ATTENDED]),
            no_shows=tuple(changed[Attendance.NO_SHOW]),
            unknown=tuple(changed[Attendance.UNKNOWN]),
            partner_id=self.partner_id,
        )
        return Raised(None, audit, event)

    def attendance_target(self, lifecycle: Lifecycle) -> str | None:
        """The state the travelers' attendance points this booking to, if ``lifecycle``
        has it and allows the move from the current status: its ``no_show`` state
        when every traveler was a no-show, its ``completed`` state when every one
        attended (names matched case-insensitively); else ``None``.

        .. versionadded:: 0.4
        """
        wanted = attendance_outcome(t.attendance for t in self.travelers)
        if wanted is None:
            return None
        target = next((s for s in lifecycle.states if s.lower() == wanted), None)
        if target is None or not lifecycle.allows(self.status, target):
            return None
        return target

    # ------------------------------------------------------------------ archiving

    @property
    def is_archived(self) -> bool:
        """True once the booking was archived (and not brought back since).

        .. versionadded:: 0.4
        """
        return self.archived_at is not None

    def check_live(self, attempted: str) -> None:
        """Refuse any change to an archived booking (``attempted`` names it).

        Raises:
            BookingArchivedError: the booking is archived.

        .. versionadded:: 0.4
        """
        if self.archived_at is not None:
            raise BookingArchivedError(
                self.lifecycle,
                self.status,
                attempted,
                booking_id=self.id,
                reference=self.reference,
                archived_at=self.archived_at,
            )

    def archive(self, *, author: Author, reason: str | None = None) -> AuditEntry | None:
        """Leave the operational lists: ``archived_at`` becomes ``author.now``.

        The caller has checked that the booking may be archived
        (:func:`~bookingcore.domain.archiving.why_kept`). Nothing else changes:
        status, totals, travelers and history stay as they are, so every figure
        counted from bookings stays the same. Returns the audit entry, or
        ``None`` when the booking was archived already.

        .. versionadded:: 0.4
        """
        if self.archived_at is not None:
            return None
        self.archived_at = author.now
        self.touch(author.now)
        return _audit_entry(
            self,
            author,
            AuditAction.ARCHIVED,
            old={"archived_at": None},
            new={"archived_at": audit_value(author.now), "status": self.status},
            reason=reason,
        )

    def unarchive(self, *, author: Author, reason: str | None = None) -> AuditEntry | None:
        """Come back to the operational lists (``archived_at`` cleared), so the booking
        may be changed again. Returns the audit entry, or ``None`` when it was live.

        .. versionadded:: 0.4
        """
        if self.archived_at is None:
            return None
        archived_at, self.archived_at = self.archived_at, None
        self.touch(author.now)
        return _audit_entry(
            self,
            author,
            AuditAction.UNARCHIVED,
            old={"archived_at": audit_value(archived_at)},
            new={"archived_at": None},
            reason=reason,
        )

    def set_trip(self, trip_id: TripId | None, *, now: datetime) -> bool:
        """Record the trip the booking is on (``None``: no trip); whether it changed.

        :class:`~bookingcore.services.TripService` calls it in the unit of work that
        changes the trip's ``booking_ids``, so the two always agree. A change moves
        the booking's version on.

        .. versionadded:: 0.4
        """
        if self.trip_id == trip_id:
            return False
        self.trip_id = trip_id
        self.touch(now)
        return True

    def touch(self, now: datetime) -> None:
        """Record that the booking changed: new ``updated_at``, next version."""
        self.updated_at = now
        self.version += 1


def _audit_entry(
    booking: Booking,
    author: Author,
    action: AuditAction,
    *,
    old: Mapping[str, Any] | None = None,
    new: Mapping[str, Any] | None = None,
    reason: str | None = None,
) -> AuditEntry:
    origin = author.origin
    return AuditEntry(
        id=author.new_id(),
        entity=booking.entity_name,
        entity_id=booking.id,
        action=action,
        actor=author.actor,
        occurred_at=author.now,
        old_values=old or {},
        new_values=new or {},
        reason=reason,
        ip_address=origin.ip_address if origin else None,
        user_agent=origin.user_agent if origin else None,
        booking_id=booking.id,
    )
