"""Filters and pages for listing customers, slots and bookings.

Every repository takes the same filter objects, so the memory, SQL and any user
adapter answer the same question the same way (the contract suite checks it).
Lists are newest first and paged by an opaque keyset cursor, which stays fast
on large tables where ``OFFSET`` does not.

.. versionadded:: 0.1
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import UTC, datetime
from typing import Any, Generic, TypeVar, cast
from uuid import UUID

import attrs

from bookingcore.domain._validation import (
    MAX_SEARCH_TEXT,
    aware_bound,
    check_range,
    check_text,
    fold_case,
)
from bookingcore.domain.bookings import Booking
from bookingcore.domain.customers import Customer
from bookingcore.domain.slots import Slot
from bookingcore.domain.sources import BookingSource
from bookingcore.domain.values import (
    BookingGroupId,
    CustomerId,
    LocationId,
    PartnerId,
    ProductId,
    SlotId,
    StaffId,
    SupplierId,
)
from bookingcore.errors import ValidationError

__all__ = [
    "BookingFilter",
    "Cursor",
    "CustomerFilter",
    "Page",
    "PageRequest",
    "SlotFilter",
    "every_item",
    "fold_case",
    "text_matches",
]

T = TypeVar("T")

MAX_PAGE_SIZE = 500

#: The largest rank a :class:`Cursor` holds (a row number or a date's ordinal): what
#: a SQL ``INTEGER`` column stores.
MAX_CURSOR_RANK = 2**31 - 1


def _frozen_or_none(value: object) -> frozenset[object] | None:
    if value is None:
        return None
    if isinstance(value, str | bytes):
        return frozenset((value,))
    return frozenset(cast("Iterable[object]", value))


def _search_text(_instance: object, attribute: attrs.Attribute[Any], value: object) -> None:
    """Search text: at most MAX_SEARCH_TEXT characters, no control characters."""
    if value is None:
        return
    if not isinstance(value, str):
        raise ValidationError.single(attribute.name, "must be text", "invalid_type")
    if len(value) > MAX_SEARCH_TEXT:
        msg = f"must be at most {MAX_SEARCH_TEXT} characters"
        raise ValidationError.single(attribute.name, msg, "too_long")
    check_text(value, attribute.name)


def _names(_instance: object, attribute: attrs.Attribute[Any], value: object) -> None:
    """Statuses and sources to match: each is text of at most 100 characters, no controls."""
    for item in cast("Iterable[object]", value or ()):
        if not isinstance(item, str) or len(item) > 100:
            msg = "each must be text of at most 100 characters"
            raise ValidationError.single(attribute.name, msg, "invalid")
        check_text(item, attribute.name)


@attrs.frozen
class BookingFilter:
    """Which bookings to list. Every field left ``None`` does not filter.

    ``statuses`` and ``sources`` match any of their members; ``group_id`` lists
    the bookings of one group booking. ``starts_from`` /
    ``starts_before`` bound the slot's start (the booking date);
    ``created_from`` / ``created_before`` bound when the booking was made; lower
    bounds are inclusive, upper bounds exclusive, and every bound is a
    timezone-aware datetime (a naive one is a ``ValidationError`` naming the
    field, code ``naive_datetime``). ``text`` matches the booking
    reference, external id, and the customer's name, email or phone.

    A filter is a read, so ``text`` matches only what the caller may read of
    customers: ``text_customers_of`` limits it to the name, email and phone of
    customers who belong to that partner, and ``text_without_customers`` to the
    booking's own reference and external id.
    :func:`~bookingcore.domain.policy.scope_bookings` sets them: a partner that
    booked for a customer on file it may not read, or an advisor, cannot learn a
    profile by guessing substrings.

    .. versionchanged:: 0.2
       ``text_customers_of`` and ``text_without_customers``.

    Archived bookings (:attr:`Booking.archived_at <bookingcore.domain.Booking.archived_at>`
    set) are left out unless ``include_archived`` is True; ``only_archived``
    lists them alone (and implies ``include_archived``). Reports, a customer's
    own history and privacy exports ask for them with ``include_archived``.

    .. versionchanged:: 0.3
       Naive time bounds are refused.

    .. versionchanged:: 0.4
       ``include_archived`` and ``only_archived``: archived bookings are left out
       by default.

    .. versionchanged:: 0.4
       A reversed period (a ``*_before`` bound earlier than its ``*_from``) is a
       ``ValidationError`` naming the ``*_before`` field, code ``invalid_range``,
       rather than an empty list; equal bounds still match nothing.

    .. versionadded:: 0.1
    """

    statuses: frozenset[str] | None = attrs.field(
        default=None, converter=_frozen_or_none, validator=_names
    )
    sources: frozenset[BookingSource] | None = attrs.field(
        default=None, converter=_frozen_or_none, validator=_names
    )
    customer_id: CustomerId | None = None
    partner_id: PartnerId | None = None
    location_id: LocationId | None = None
    slot_id: SlotId | None = None
    product_id: ProductId | None = None
    supplier_id: SupplierId | None = None
    assignee_id: StaffId | None = None
    group_id: BookingGroupId | None = None
    starts_from: datetime | None = attrs.field(default=None, validator=aware_bound)
    starts_before: datetime | None = attrs.field(default=None, validator=aware_bound)
    created_from: datetime | None = attrs.field(default=None, validator=aware_bound)
    created_before: datetime | None = attrs.field(default=None, validator=aware_bound)
    text: str | None = attrs.field(default=None, validator=_search_text)
    text_customers_of: PartnerId | None = None
    text_without_customers: bool = False
    include_archived: bool = False
    only_archived: bool = False

    def __attrs_post_init__(self) -> None:
        check_range(self.starts_from, self.starts_before, "starts_from", "starts_before")
        check_range(self.created_from, self.created_before, "created_from", "created_before")

    @property
    def archived(self) -> bool | None:
        """Which bookings the filter keeps by their archiving: ``False`` the live ones
        only (the default), ``True`` the archived ones only, ``None`` both.

        .. versionadded:: 0.4
        """
        if self.only_archived:
            return True
        return None if self.include_archived else False

    def matches(self, booking: Booking, customer: Customer | None) -> bool:
        """The reference semantics every adapter implements (``customer`` for ``text``)."""
        archived = self.archived
        if archived is not None and (booking.archived_at is not None) is not archived:
            return False
        exact = (
            (self.customer_id, booking.customer_id),
            (self.partner_id, booking.partner_id),
            (self.location_id, booking.location_id),
            (self.slot_id, booking.slot_id),
            (self.product_id, booking.product_id),
            (self.supplier_id, booking.supplier_id),
            (self.assignee_id, booking.assignee_id),
            (self.group_id, booking.group_id),
        )
        if any(wanted is not None and wanted != actual for wanted, actual in exact):
            return False
        if self.statuses is not None and booking.status not in self.statuses:
            return False
        if self.sources is not None and booking.source not in self.sources:
            return False
        if not _within(booking.starts_at, self.starts_from, self.starts_before):
            return False
        if not _within(booking.created_at, self.created_from, self.created_before):
            return False
        if self.text:
            haystack = [booking.reference, booking.external_id]
            if customer is not None and self.text_reads(customer):
                haystack += [customer.name, str(customer.email or ""), customer.phone.e164]
            return text_matches(self.text, haystack)
        return True

    def text_reads(self, customer: Customer) -> bool:
        """Whether ``text`` may match this customer's name, email and phone."""
        if self.text_without_customers:
            return False
        owner = self.text_customers_of
        return owner is None or customer.partner_id == owner


@attrs.frozen
class CustomerFilter:
    """Which customers to list; ``text`` matches name, email or phone.

    ``created_from`` / ``created_before`` are timezone-aware, as in
    :class:`BookingFilter`.

    .. versionadded:: 0.1
    """

    sources: frozenset[BookingSource] | None = attrs.field(
        default=None, converter=_frozen_or_none, validator=_names
    )
    partner_id: PartnerId | None = None
    customer_id: CustomerId | None = None
    created_from: datetime | None = attrs.field(default=None, validator=aware_bound)
    created_before: datetime | None = attrs.field(default=None, validator=aware_bound)
    text: str | None = attrs.field(default=None, validator=_search_text)

    def __attrs_post_init__(self) -> None:
        check_range(self.created_from, self.created_before, "created_from", "created_before")

    def matches(self, customer: Customer) -> bool:
        """The reference semantics every adapter implements (merged customers never match).

        .. versionchanged:: 0.3
           Customers merged into another one are left out.
        """
        if customer.merged_into is not None:
            return False
        if self.customer_id is not None and customer.id != self.customer_id:
            return False
        if self.partner_id is not None and customer.partner_id != self.partner_id:
            return False
        if self.sources is not None and customer.source not in self.sources:
            return False
        if not _within(customer.created_at, self.created_from, self.created_before):
            return False
        if self.text:
            haystack = [customer.name, str(customer.email or ""), customer.phone.e164]
            return text_matches(self.text, haystack)
        return True


@attrs.frozen
class SlotFilter:
    """Which slots to list; ``starts_from`` / ``starts_before`` are timezone-aware.

    .. versionchanged:: 0.4
       ``starts_before`` earlier than ``starts_from`` is a ``ValidationError``
       naming ``starts_before`` (code ``invalid_range``), as in every list filter.

    .. versionadded:: 0.1
    """

    location_id: LocationId | None = None
    location_ids: frozenset[LocationId] | None = attrs.field(
        default=None, converter=_frozen_or_none
    )
    product_id: ProductId | None = None
    starts_from: datetime | None = attrs.field(default=None, validator=aware_bound)
    starts_before: datetime | None = attrs.field(default=None, validator=aware_bound)
    only_active: bool = True
    only_available: bool = False

    def __attrs_post_init__(self) -> None:
        check_range(self.starts_from, self.starts_before, "starts_from", "starts_before")

    def matches(self, slot: Slot) -> bool:
        """The reference semantics every adapter implements."""
        if self.location_id is not None and slot.location_id != self.location_id:
            return False
        if self.location_ids is not None and slot.location_id not in self.location_ids:
            return False
        if self.product_id is not None and slot.product_id != self.product_id:
            return False
        if self.only_active and not slot.is_active:
            return False
        if self.only_available and not slot.has_room_for(1):
            return False
        return _within(slot.starts_at, self.starts_from, self.starts_before)


_PHONE_PUNCTUATION = re.compile(r"[\s\-().+]")
_NON_DIGITS = re.compile(r"\D")
_MIN_DIGITS = 3


def _within(moment: datetime, start: datetime | None, end: datetime | None) -> bool:
    return (start is None or moment >= start) and (end is None or moment < end)


def text_matches(query: str, haystack: Sequence[str | None]) -> bool:
    """Case-insensitive substring search; a query of 3+ digits also matches phone digits.

    ``"98765"`` finds ``+91 98765 43210``, ``"ravi"`` finds ``Ravi Kumar``. Case is
    compared with :func:`fold_case`.

    .. versionchanged:: 0.4 letters are compared by :func:`fold_case`, not ``str.casefold``.
    """
    needle = fold_case(query.strip())
    if not needle:
        return True
    texts = [fold_case(h) for h in haystack if h]
    if any(needle in text for text in texts):
        return True
    compact = _PHONE_PUNCTUATION.sub("", needle)
    if len(compact) >= _MIN_DIGITS and compact.isdigit():
        return any(compact in _NON_DIGITS.sub("", text) for text in texts)
    return False


def _not_a_cursor() -> ValidationError:
    return ValidationError.single("cursor", "is not a cursor from this list", "invalid_cursor")


@attrs.frozen
class Cursor:
    """A position in a newest-first list: the last row's creation time and id.

    A list by start time, earliest first (slots), keeps the last row's start in
    ``created_at`` and tests rows with :meth:`precedes`. A list ranked first by a
    whole number, smallest first (an import's failed rows by row number, follow-ups
    by the date's ordinal), keeps the last row's ``rank`` too and tests rows with
    :meth:`ranks_before`.

    .. versionadded:: 0.1

    .. versionchanged:: 0.3
       ``rank``.
    """

    created_at: datetime
    id: UUID
    rank: int | None = None

    def encode(self) -> str:
        """The opaque string handed to clients."""
        text = f"{self.created_at.isoformat()}|{self.id}"
        if self.rank is not None:
            text = f"{self.rank}|{text}"
        return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")

    @classmethod
    def decode(cls, token: str) -> Cursor:
        """Read a string made by :meth:`encode`.

        Raises:
            ValidationError: on field ``cursor`` when the token was not made here.
        """
        try:
            raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode()
            parts = raw.split("|")
            rank = int(parts.pop(0)) if len(parts) == 3 else None
            if rank is not None and not 0 <= rank <= MAX_CURSOR_RANK:
                raise ValueError(rank)
            when, ident = parts
            created_at = datetime.fromisoformat(when)
            if created_at.tzinfo is None:
                raise ValueError(when)
            created_at.astimezone(UTC)  # a moment past the calendar's ends in UTC: no row's
            return cls(created_at, UUID(ident), rank)
        except (ValueError, OverflowError, UnicodeDecodeError, binascii.Error):
            raise _not_a_cursor() from None

    def ranks_before(self, rank: int, moment: datetime, row_id: UUID) -> bool:
        """True when a row sorts after this position in a list ranked smallest first
        by ``(rank, moment, id)``.

        Raises:
            ValidationError: on field ``cursor`` when this cursor holds no rank (it
                comes from another kind of list).

        .. versionadded:: 0.3
        """
        return (rank, moment, row_id.bytes) > (self.ranked, self.created_at, self.id.bytes)

    @property
    def ranked(self) -> int:
        """The cursor's rank, for a list ranked by a whole number.

        Raises:
            ValidationError: on field ``cursor`` when it holds none.

        .. versionadded:: 0.3
        """
        if self.rank is None:
            raise _not_a_cursor()
        return self.rank

    def is_after(self, created_at: datetime, row_id: UUID) -> bool:
        """True when a row sorts after this position (older, or same time and smaller id)."""
        return (created_at, row_id.bytes) < (self.created_at, self.id.bytes)

    def precedes(self, moment: datetime, row_id: UUID) -> bool:
        """True when a row sorts after this position in an earliest-first list (later,
        or at the same time with a larger id).

        .. versionadded:: 0.3
        """
        return (moment, row_id.bytes) > (self.created_at, self.id.bytes)


@attrs.frozen
class PageRequest:
    """Up to ``limit`` rows after ``cursor`` (from a previous :class:`Page`).

    Raises:
        ValidationError: ``limit`` outside 1-500 or a malformed cursor.

    .. versionadded:: 0.1
    """

    limit: int = 50
    cursor: str | None = None

    def __attrs_post_init__(self) -> None:
        if not 1 <= self.limit <= MAX_PAGE_SIZE:
            msg = f"must be between 1 and {MAX_PAGE_SIZE}"
            raise ValidationError.single("limit", msg, "out_of_range")
        if self.cursor is not None:
            Cursor.decode(self.cursor)

    @property
    def after(self) -> Cursor | None:
        """The decoded cursor, if any."""
        return None if self.cursor is None else Cursor.decode(self.cursor)


@attrs.frozen
class Page(Generic[T]):
    """One page of results and the cursor of the next (``None`` on the last page).

    .. versionadded:: 0.1
    """

    items: Sequence[T]
    next_cursor: str | None = None

    def __iter__(self) -> Iterator[T]:
        return iter(self.items)

    def __len__(self) -> int:
        return len(self.items)


def every_item(fetch: Callable[[PageRequest], Page[T]]) -> Iterator[T]:
    """Every item a paged list holds, read page after page of the largest size.

    ``fetch`` asks for one page, e.g. ``lambda page: core.bookings.list(query, page,
    principal=staff)``; the items come in the list's own order, each once, and the next
    page is only asked for when the items before it were taken. Use it where a caller
    needs every matching row (an export, a report file); a screen shows one page.

    .. versionadded:: 0.4
    """
    request = PageRequest(limit=MAX_PAGE_SIZE)
    while True:
        page = fetch(request)
        yield from page.items
        if page.next_cursor is None:
            return
        request = PageRequest(limit=MAX_PAGE_SIZE, cursor=page.next_cursor)
