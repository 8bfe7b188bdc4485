"""Waiting lists: who waits for a seat on a full slot, and who is offered one.

A customer who finds a slot full joins its waiting list with the seats they
need: a :class:`WaitlistEntry` at the next ``position``, with a
``priority`` (``high``, ``normal``, ``low``), a preferred contact method and
the other dates they could take. When seats free up they are offered in
priority order, then by position (:func:`offer_order`, :func:`pick_offers`).

An entry moves ``waiting → offered → booked``; an offer that is not taken up
in time is ``expired``, and a customer may leave the list (``cancelled``)
while waiting or holding an offer::

    waiting ──offer──▶ offered ──book──▶ booked
       │                  │
       ├──expire──────────┼──▶ expired      (a waiting entry expires when its slot passes)
       └──cancel──────────┴──▶ cancelled

A customer has at most one *active* (``waiting`` or ``offered``) entry per
slot; storage refuses a second with a :class:`~bookingcore.errors.DuplicateError`.

An entry's ``alternative_dates`` are other days its customer could come on:
seats freed on another slot of the same product and location that starts on
one of them (in the business's time zone) are offered to it once the slot's
own list has had its turn. Such an offer names its slot in
``offered_slot_id``; turned down or let run out, it sends the entry back to
``waiting`` on its own slot, in the same place, without that date::

    offered (alternative) ──decline / expire──▶ waiting   (date dropped)

.. versionadded:: 0.1
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Sequence
from datetime import date, datetime

import attrs

from bookingcore.domain._validation import check_move, clean_text, parse_choice
from bookingcore.domain.communications import Channel
from bookingcore.domain.values import (
    BookingId,
    CustomerId,
    SlotId,
    Versioned,
    WaitlistEntryId,
    ensure_aware,
)
from bookingcore.errors import InvalidTransitionError, ValidationError

__all__ = [
    "ACTIVE_WAITLIST_STATUSES",
    "WaitlistEntry",
    "WaitlistPriority",
    "WaitlistStatus",
    "offer_order",
    "pick_offers",
]

_MAX_SEATS = 1_000
_MAX_ALTERNATIVE_DATES = 30


class WaitlistStatus(enum.StrEnum):
    """Where a waiting-list entry is.

    .. versionadded:: 0.1
    """

    WAITING = "waiting"
    OFFERED = "offered"
    BOOKED = "booked"
    EXPIRED = "expired"
    CANCELLED = "cancelled"

    @property
    def is_active(self) -> bool:
        """True for ``waiting`` and ``offered``: the entry still wants a seat."""
        return self in ACTIVE_WAITLIST_STATUSES


#: The statuses of an entry that still wants a seat; one such entry per customer and slot.
ACTIVE_WAITLIST_STATUSES = frozenset({WaitlistStatus.WAITING, WaitlistStatus.OFFERED})


class WaitlistPriority(enum.StrEnum):
    """How soon an entry is offered a seat, before its position counts.

    .. versionadded:: 0.1
    """

    HIGH = "high"
    NORMAL = "normal"
    LOW = "low"

    @property
    def rank(self) -> int:
        """0 for ``high``, 1 for ``normal``, 2 for ``low``: lower is offered first."""
        return _PRIORITY_RANK[self]


_PRIORITY_RANK = {priority: rank for rank, priority in enumerate(WaitlistPriority)}

_MOVES: dict[WaitlistStatus, frozenset[WaitlistStatus]] = {
    WaitlistStatus.WAITING: frozenset(
        {WaitlistStatus.OFFERED, WaitlistStatus.EXPIRED, WaitlistStatus.CANCELLED}
    ),
    WaitlistStatus.OFFERED: frozenset(
        {WaitlistStatus.BOOKED, WaitlistStatus.EXPIRED, WaitlistStatus.CANCELLED}
    ),
    WaitlistStatus.BOOKED: frozenset(),
    WaitlistStatus.EXPIRED: frozenset(),
    WaitlistStatus.CANCELLED: frozenset(),
}


def _status(value: object) -> WaitlistStatus:
    return parse_choice(WaitlistStatus, value, "status", what="a waitlist status")


def _priority(value: object) -> WaitlistPriority:
    return parse_choice(WaitlistPriority, value, "priority", what="a priority")


def _contact(value: object) -> Channel | None:
    if value is None:
        return None
    return parse_choice(Channel, value, "preferred_contact_method", what="a contact method")


def _whole(value: object, field: str, low: int, high: int | None = None) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValidationError.single(field, "must be a whole number", "invalid")
    if value < low or (high is not None and value > high):
        bound = f"between {low} and {high:,}" if high is not None else f"at least {low}"
        raise ValidationError.single(field, f"must be {bound}", "out_of_range")
    return value


def _seats(value: object) -> int:
    return _whole(value, "seats", 1, _MAX_SEATS)


def _position(value: object) -> int:
    return _whole(value, "position", 1)


def _dates(values: Iterable[date]) -> tuple[date, ...]:
    found = list(values)
    for index, value in enumerate(found):
        if isinstance(value, datetime) or not isinstance(value, date):
            msg = "must be a date"
            raise ValidationError.single(f"alternative_dates[{index}]", msg, "invalid_date")
    unique = tuple(sorted(set(found)))
    if len(unique) > _MAX_ALTERNATIVE_DATES:
        msg = f"at most {_MAX_ALTERNATIVE_DATES} alternative dates"
        raise ValidationError.single("alternative_dates", msg, "too_many")
    return unique


@attrs.define(slots=False, kw_only=True)
class WaitlistEntry(Versioned):
    """One customer waiting for ``seats`` seats on one slot.

    ``alternative_dates`` are kept sorted and without repeats. An ``offered``
    entry has ``offered_at`` and a later ``offer_expires_at``; a ``booked``
    one names the booking it became. ``offered_slot_id`` names the slot an
    offer (open, or taken up) holds seats on when that is not the entry's own
    slot but one on an alternative date; a ``waiting`` entry has none.

    .. versionchanged:: 0.4 ``offered_slot_id``, :attr:`offer_slot_id`,
       :meth:`pass_alternative`; :meth:`offer` takes ``slot_id``.

    Raises:
        ValidationError: naming the field that breaks an invariant.

    .. versionadded:: 0.1
    """

    id: WaitlistEntryId
    slot_id: SlotId
    customer_id: CustomerId
    seats: int = attrs.field(converter=_seats)
    position: int = attrs.field(converter=_position)
    created_at: datetime
    updated_at: datetime
    priority: WaitlistPriority = attrs.field(default=WaitlistPriority.NORMAL, converter=_priority)
    preferred_contact_method: Channel | None = attrs.field(default=None, converter=_contact)
    alternative_dates: tuple[date, ...] = attrs.field(default=(), converter=_dates)
    status: WaitlistStatus = attrs.field(default=WaitlistStatus.WAITING, converter=_status)
    offered_at: datetime | None = None
    offer_expires_at: datetime | None = None
    booking_id: BookingId | None = None
    notes: str | None = None
    offered_slot_id: SlotId | None = None
    version: int = 1

    entity_name = "waitlist entry"

    def __attrs_post_init__(self) -> None:
        self.notes = clean_text(self.notes, "notes", max_length=2000)
        self.created_at = ensure_aware(self.created_at, "created_at")
        self.updated_at = ensure_aware(self.updated_at, "updated_at")
        if self.offered_at is not None:
            self.offered_at = ensure_aware(self.offered_at, "offered_at")
        if self.offer_expires_at is not None:
            self.offer_expires_at = ensure_aware(self.offer_expires_at, "offer_expires_at")
        if self.status is WaitlistStatus.OFFERED and (
            self.offered_at is None or self.offer_expires_at is None
        ):
            msg = "an offered entry needs offered_at and offer_expires_at"
            raise ValidationError.single("offer_expires_at", msg, "required")
        if (
            self.offered_at is not None
            and self.offer_expires_at is not None
            and self.offer_expires_at <= self.offered_at
        ):
            msg = "the offer must expire after it was made"
            raise ValidationError.single("offer_expires_at", msg, "before_offer")
        if self.offered_slot_id is not None and (
            self.offered_slot_id == self.slot_id or self.status is WaitlistStatus.WAITING
        ):
            msg = "only an offer on another slot than the entry's own names its slot"
            raise ValidationError.single("offered_slot_id", msg, "invalid")
        if self.status is WaitlistStatus.BOOKED and self.booking_id is None:
            msg = "a booked entry names its booking"
            raise ValidationError.single("booking_id", msg, "required")

    @property
    def is_active(self) -> bool:
        """True while the entry still wants a seat (``waiting`` or ``offered``)."""
        return self.status.is_active

    @property
    def offer_key(self) -> tuple[int, int, datetime, bytes]:
        """How entries sort for an offer: priority, position, then who joined first."""
        return (self.priority.rank, self.position, self.created_at, self.id.bytes)

    @property
    def offer_slot_id(self) -> SlotId:
        """The slot whose seats an offer to this entry holds (or would hold): the
        alternative slot it was offered, else its own.

        .. versionadded:: 0.4
        """
        return self.offered_slot_id or self.slot_id

    @property
    def holds_alternative(self) -> bool:
        """True while the entry holds an offer on another slot than its own.

        .. versionadded:: 0.4
        """
        return self.status is WaitlistStatus.OFFERED and self.offered_slot_id is not None

    def offer_is_open(self, now: datetime) -> bool:
        """True when the entry holds an offer that has not expired at ``now``."""
        return (
            self.status is WaitlistStatus.OFFERED
            and self.offer_expires_at is not None
            and now < self.offer_expires_at
        )

    def offer(self, *, now: datetime, expires_at: datetime, slot_id: SlotId | None = None) -> None:
        """Offer the waiting customer their seats until ``expires_at``, on ``slot_id``
        when that is another slot than theirs (one on an alternative date).

        .. versionchanged:: 0.4 ``slot_id``.

        Raises:
            InvalidTransitionError: the entry is not waiting.
            ValidationError: on ``expires_at`` when it is not after ``now``.
        """
        self._check(WaitlistStatus.OFFERED)
        now = ensure_aware(now, "now")
        expires_at = ensure_aware(expires_at, "expires_at")
        if expires_at <= now:
            msg = f"{expires_at.isoformat()} is not after the offer is made"
            raise ValidationError.single("expires_at", msg, "in_the_past")
        self.status = WaitlistStatus.OFFERED
        self.offered_at = now
        self.offer_expires_at = expires_at
        self.offered_slot_id = None if slot_id in (None, self.slot_id) else slot_id
        self.touch(now)

    def pass_alternative(self, day: date, *, now: datetime) -> None:
        """An offer on an alternative slot was turned down or ran out: wait again.

        The entry goes back to ``waiting`` on its own slot, keeping its
        position and priority, and ``day`` (the offered slot's date) leaves its
        alternative dates, so that slot is not offered to it again.

        Raises:
            InvalidTransitionError: the entry holds no offer on an alternative slot.

        .. versionadded:: 0.4
        """
        if not self.holds_alternative:
            msg = f"{self._subject()} holds no offer on an alternative slot"
            raise InvalidTransitionError(
                "waitlist", self.status.value, WaitlistStatus.WAITING.value, message=msg
            )
        self.status = WaitlistStatus.WAITING
        self.offer_expires_at = None
        self.offered_slot_id = None
        self.alternative_dates = tuple(d for d in self.alternative_dates if d != day)
        self.touch(now)

    def book(self, *, booking_id: BookingId, now: datetime) -> None:
        """The customer took the offer up: the entry became ``booking_id``.

        Raises:
            InvalidTransitionError: the entry holds no offer, or its offer
                expired at or before ``now``.
        """
        self._check(WaitlistStatus.BOOKED)
        if not self.offer_is_open(now):
            expired = self.offer_expires_at.isoformat() if self.offer_expires_at else "?"
            msg = f"{self._subject()} cannot be booked: its offer expired at {expired}"
            raise InvalidTransitionError(
                "waitlist", self.status.value, WaitlistStatus.BOOKED.value, message=msg
            )
        self.status = WaitlistStatus.BOOKED
        self.booking_id = booking_id
        self.touch(now)

    def expire(self, *, now: datetime) -> None:
        """End the entry unbooked: its offer ran out, or (waiting) its slot passed.

        Raises:
            InvalidTransitionError: the entry is not active, or its offer is
                still open at ``now``.
        """
        self._check(WaitlistStatus.EXPIRED)
        if self.offer_is_open(now):
            assert self.offer_expires_at is not None
            msg = (
                f"{self._subject()} cannot expire yet: its offer is open until "
                f"{self.offer_expires_at.isoformat()}"
            )
            raise InvalidTransitionError(
                "waitlist", self.status.value, WaitlistStatus.EXPIRED.value, message=msg
            )
        self.status = WaitlistStatus.EXPIRED
        self.touch(now)

    def cancel(self, *, now: datetime) -> None:
        """The customer left the list (or turned the offer down).

        Raises:
            InvalidTransitionError: the entry is not active.
        """
        self._check(WaitlistStatus.CANCELLED)
        self.status = WaitlistStatus.CANCELLED
        self.touch(now)

    def change_seats(self, seats: int, *, now: datetime) -> None:
        """Wait for a different number of seats; only while waiting.

        Raises:
            ValidationError: on ``seats`` outside 1 to 1,000, or on ``status``
                once the entry is not waiting.
        """
        self._require_waiting("seats")
        self.seats = _seats(seats)
        self.touch(now)

    def set_priority(self, priority: WaitlistPriority | str, *, now: datetime) -> None:
        """Move the entry up or down the list; only while it is active.

        Raises:
            ValidationError: on ``priority`` for an unknown priority, or on
                ``status`` once the entry is not active.
        """
        if not self.is_active:
            msg = f"a {self.status.value} entry keeps its priority"
            raise ValidationError.single("status", msg, "not_active")
        self.priority = _priority(priority)
        self.touch(now)

    def move_to(self, position: int, *, now: datetime) -> None:
        """Take another place in the list (staff reordering); only while it is active.

        Raises:
            ValidationError: on ``position`` below 1, or on ``status`` once the
                entry is not active.

        .. versionadded:: 0.2
        """
        if not self.is_active:
            msg = f"a {self.status.value} entry keeps its position"
            raise ValidationError.single("status", msg, "not_active")
        self.position = _position(position)
        self.touch(now)

    def touch(self, now: datetime) -> None:
        """Record that the entry changed: new ``updated_at``, next version."""
        self.updated_at = ensure_aware(now, "now")
        self.version += 1

    def _subject(self) -> str:
        return f"waitlist entry {self.id}"

    def _check(self, target: WaitlistStatus) -> None:
        check_move("waitlist", self._subject(), _MOVES, self.status, target)

    def _require_waiting(self, field: str) -> None:
        if self.status is not WaitlistStatus.WAITING:
            msg = f"cannot change the {field} of a {self.status.value} entry"
            raise ValidationError.single("status", msg, "not_waiting")


def _offer_key(entry: WaitlistEntry) -> tuple[int, int, datetime, bytes]:
    return entry.offer_key


def offer_order(entries: Iterable[WaitlistEntry]) -> list[WaitlistEntry]:
    """The ``waiting`` entries among ``entries`` in the order seats are offered.

    Higher priority first; within a priority the lower position; then who
    joined first (and the id, so the order is total).

    .. versionadded:: 0.1
    """
    return sorted((e for e in entries if e.status is WaitlistStatus.WAITING), key=_offer_key)


def pick_offers(
    entries: Iterable[WaitlistEntry], seats_free: int | None, *, strict: bool = False
) -> Sequence[WaitlistEntry]:
    """Which waiting entries to offer ``seats_free`` freed seats to, in offer order.

    Entries are taken in :func:`offer_order` while their seats fit in what is
    left. An entry that needs more seats than are left is passed over and
    smaller ones behind it still get theirs, unless ``strict``: then the first
    entry that does not fit stops the round, so nobody overtakes it.
    ``seats_free=None`` (an unlimited slot) offers every waiting entry.

    .. versionadded:: 0.1
    """
    ordered = offer_order(entries)
    if seats_free is None:
        return ordered
    left = seats_free
    chosen: list[WaitlistEntry] = []
    for entry in ordered:
        if entry.seats <= left:
            chosen.append(entry)
            left -= entry.seats
        elif strict:
            break
    return chosen
