"""Booking groups: corporate and group bookings under one reference.

A :class:`BookingGroup` gathers the bookings of one outing, offsite or school
trip under a ``group_reference`` (unique, case-insensitive, stored upper-case),
with the customer who organises it and, for corporate bookings, the company's
own customer profile. Bookings join a group through ``Booking.group_id``.

A group is ``active`` while bookings may join it, ``closed`` once its list is
final (it can be reopened), and ``cancelled`` for good.

.. versionadded:: 0.1
"""

from __future__ import annotations

import enum
import re
from datetime import datetime

import attrs

from bookingcore.domain._validation import check_move, clean_text, parse_choice
from bookingcore.domain.values import BookingGroupId, CustomerId, Versioned, ensure_aware
from bookingcore.errors import ValidationError

__all__ = ["BookingGroup", "BookingGroupStatus", "normalise_group_reference"]

_REFERENCE = re.compile(r"[A-Z0-9][A-Z0-9_.\-/]{0,99}")
_MAX_PARTICIPANTS = 100_000


def normalise_group_reference(value: object, field: str = "group_reference") -> str:
    """Return ``value`` stripped and upper-cased, if it is a valid group reference.

    A reference is 1-100 letters, digits, ``_``, ``.``, ``-`` or ``/``, starting
    with a letter or digit (``ACME-OFFSITE-2026``).

    Raises:
        ValidationError: on ``field`` when the reference is missing or malformed.

    .. versionadded:: 0.1
    """
    if not isinstance(value, str) or not value.strip():
        raise ValidationError.single(field, "is required", "required")
    reference = value.strip().upper()
    if not _REFERENCE.fullmatch(reference):
        msg = f"{value!r} is not a valid group reference (letters, digits, '_.-/'; at most 100)"
        raise ValidationError.single(field, msg, "invalid_reference")
    return reference


def _participants(value: int | None) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValidationError.single("total_participants", "must be a whole number", "invalid")
    if not 1 <= value <= _MAX_PARTICIPANTS:
        msg = f"must be between 1 and {_MAX_PARTICIPANTS:,}"
        raise ValidationError.single("total_participants", msg, "out_of_range")
    return value


class BookingGroupStatus(enum.StrEnum):
    """Where a booking group is.

    .. versionadded:: 0.1
    """

    ACTIVE = "active"
    CLOSED = "closed"
    CANCELLED = "cancelled"


def _status(value: object) -> BookingGroupStatus:
    return parse_choice(BookingGroupStatus, value, "status", what="a group status")


_MOVES: dict[BookingGroupStatus, frozenset[BookingGroupStatus]] = {
    BookingGroupStatus.ACTIVE: frozenset({BookingGroupStatus.CLOSED, BookingGroupStatus.CANCELLED}),
    BookingGroupStatus.CLOSED: frozenset({BookingGroupStatus.ACTIVE, BookingGroupStatus.CANCELLED}),
    BookingGroupStatus.CANCELLED: frozenset(),
}


@attrs.define(slots=False, kw_only=True)
class BookingGroup(Versioned):
    """Bookings that belong together: one reference, one organiser, maybe one company.

    Invariants: ``group_reference`` is a valid reference in its normal form;
    ``total_participants``, when known, is 1 to 100,000; the company profile
    is not the organiser; times are timezone-aware.

    Raises:
        ValidationError: naming the field that breaks an invariant.

    .. versionadded:: 0.1
    """

    id: BookingGroupId
    group_reference: str = attrs.field(converter=normalise_group_reference)
    organizer_id: CustomerId
    created_at: datetime
    updated_at: datetime
    company_id: CustomerId | None = None
    group_name: str | None = None
    total_participants: int | None = None
    status: BookingGroupStatus = attrs.field(default=BookingGroupStatus.ACTIVE, converter=_status)
    version: int = 1

    entity_name = "booking group"

    def __attrs_post_init__(self) -> None:
        self.group_name = clean_text(self.group_name, "group_name")
        self.total_participants = _participants(self.total_participants)
        self.created_at = ensure_aware(self.created_at, "created_at")
        self.updated_at = ensure_aware(self.updated_at, "updated_at")
        if self.company_id is not None and self.company_id == self.organizer_id:
            msg = "the company profile and the organiser are different customers"
            raise ValidationError.single("company_id", msg, "same_as_organizer")

    @property
    def accepts_bookings(self) -> bool:
        """True while bookings may join the group (it is active)."""
        return self.status is BookingGroupStatus.ACTIVE

    def rename(self, group_name: str | None, *, now: datetime) -> None:
        """Give the group a new display name (None clears it).

        Raises:
            ValidationError: on ``group_name`` when longer than 255 characters.
        """
        self.group_name = clean_text(group_name, "group_name")
        self.touch(now)

    def set_participants(self, total: int | None, *, now: datetime) -> None:
        """Record how many people the group expects (None: not known yet).

        Raises:
            ValidationError: on ``total_participants`` outside 1 to 100,000.
        """
        self.total_participants = _participants(total)
        self.touch(now)

    def close(self, *, now: datetime) -> None:
        """Close the list: no more bookings join.

        Raises:
            InvalidTransitionError: the group is not active.
        """
        self._move(BookingGroupStatus.CLOSED, now)

    def reopen(self, *, now: datetime) -> None:
        """Let bookings join a closed group again.

        Raises:
            InvalidTransitionError: the group is not closed.
        """
        self._move(BookingGroupStatus.ACTIVE, now)

    def cancel(self, *, now: datetime) -> None:
        """Call the group off for good.

        Raises:
            InvalidTransitionError: the group is cancelled already.
        """
        self._move(BookingGroupStatus.CANCELLED, now)

    def touch(self, now: datetime) -> None:
        """Record that the group changed: new ``updated_at``, next version."""
        self.updated_at = ensure_aware(now, "now")
        self.version += 1

    def _move(self, target: BookingGroupStatus, now: datetime) -> None:
        subject = f"booking group {self.group_reference}"
        check_move("booking group", subject, _MOVES, self.status, target)
        self.status = target
        self.touch(now)
