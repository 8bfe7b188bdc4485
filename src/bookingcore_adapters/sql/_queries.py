"""The query filters as SQL: ``WHERE`` clauses with exactly the ``matches()`` semantics.

Each function mirrors one ``matches`` method of :mod:`bookingcore.domain.queries`:
lower bounds are inclusive, upper bounds exclusive, and ``text`` is a
case-insensitive substring search that also matches the digits of a phone
number when the query has three or more digits.

The conditions are written so that PostgreSQL can use indexes on large tables
(``bench/booking_queries.py`` measures them on a million bookings): the keyset
is one row-value comparison, which starts an index range scan at the cursor;
a booking's customer is matched in a sub-query rather than a join; and digits
are matched with one regular expression rather than by stripping every value.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, FromClause, Table, false, func, literal, or_, select, tuple_

from bookingcore.domain.queries import BookingFilter, Cursor, CustomerFilter, SlotFilter
from bookingcore_adapters.sql import _tables as t

__all__ = ["TextSearch", "booking_where", "customer_where", "keyset_after", "slot_where"]

# The same normalisation as bookingcore.domain.queries.text_matches.
_PHONE_PUNCTUATION = re.compile(r"[\s\-().+]")
_MIN_DIGITS = 3

#: The SQLite functions the store registers on every connection.
SQLITE_CASEFOLD = "bookingcore_casefold"
SQLITE_DIGITS = "bookingcore_digits"


def casefold(value: str | None) -> str | None:
    """``str.casefold`` for SQLite, whose own ``lower()`` only knows ASCII."""
    return None if value is None else value.casefold()


def digits(value: str | None) -> str | None:
    """Only the digits of ``value`` (how phone numbers are compared)."""
    return None if value is None else re.sub(r"\D", "", value)


class TextSearch:
    """Builds the ``text`` condition for one backend.

    SQLite gets Python's own ``casefold`` and digit filter as registered
    functions, so it matches exactly as the reference does; PostgreSQL uses
    ``lower()``, which agrees for all but a few special letters (``ß`` folds
    to ``ss`` only in Python), and matches digits with a regular expression:
    ``value ~ '9\\D*8\\D*7'`` holds exactly when the digits of ``value`` contain
    ``987``, and costs a seventh of ``regexp_replace(value, '\\D', '', 'g') LIKE
    '%987%'``, which rewrites every value it reads.
    """

    def __init__(self, dialect: str) -> None:
        self.sqlite = dialect == "sqlite"

    def _fold(self, column: ColumnElement[Any]) -> ColumnElement[str]:
        if self.sqlite:
            return getattr(func, SQLITE_CASEFOLD)(column)  # type: ignore[no-any-return]
        return func.lower(column)

    def _has_digits(self, column: ColumnElement[Any], digits: str) -> ColumnElement[bool]:
        """``column``'s digits contain ``digits`` (which are all digits) in a row."""
        if self.sqlite:
            found: ColumnElement[str] = getattr(func, SQLITE_DIGITS)(column)
            return found.contains(digits, autoescape=True)
        # The digits in order, with nothing but non-digits between them. Digits are
        # no regular expression operators, so they need no escaping.
        return column.regexp_match(r"\D*".join(digits))

    def matches(
        self, query: str | None, columns: Iterable[ColumnElement[Any]]
    ) -> ColumnElement[bool] | None:
        """The condition for ``query`` over ``columns``, or ``None`` when it matches everything."""
        needle = (query or "").strip().casefold()
        if not needle:
            return None
        columns = list(columns)
        found = [self._fold(column).contains(needle, autoescape=True) for column in columns]
        compact = _PHONE_PUNCTUATION.sub("", needle)
        if len(compact) >= _MIN_DIGITS and compact.isdigit():
            found += [self._has_digits(column, compact) for column in columns]
        return or_(*found)


def _within(
    column: ColumnElement[datetime], start: datetime | None, end: datetime | None
) -> list[ColumnElement[bool]]:
    found: list[ColumnElement[bool]] = []
    if start is not None:
        found.append(column >= start)
    if end is not None:
        found.append(column < end)
    return found


def _one_of(
    column: ColumnElement[Any], values: Iterable[object] | None
) -> list[ColumnElement[bool]]:
    if values is None:
        return []
    wanted = sorted(str(value) for value in values)
    return [column.in_(wanted) if wanted else false()]


def keyset_after(table: Table, cursor: Cursor | None) -> list[ColumnElement[bool]]:
    """Rows after ``cursor`` in newest-first order: older, or as old with a smaller id.

    One row-value comparison, ``(created_at, id) < (:created_at, :id)``: PostgreSQL
    and SQLite both start an index range scan there (on ``(created_at, id)``, or on
    ``(x, created_at, id)`` after ``x = :x``), so a page deep in a list costs what
    the first one does. The same test written as ``created_at < :created_at OR
    (created_at = :created_at AND id < :id)`` is only a filter: each page reads
    every row before its cursor again.
    """
    if cursor is None:
        return []
    c = table.c
    at = literal(cursor.created_at, c.created_at.type)  # bound as the column binds it
    ident = literal(cursor.id, c.id.type)
    return [tuple_(c.created_at, c.id) < tuple_(at, ident)]


def customer_where(query: CustomerFilter, search: TextSearch) -> list[ColumnElement[bool]]:
    """:meth:`CustomerFilter.matches` as SQL over ``customers``."""
    c = t.customers.c
    found: list[ColumnElement[bool]] = []
    if query.customer_id is not None:
        found.append(c.id == query.customer_id)
    if query.partner_id is not None:
        found.append(c.partner_id == query.partner_id)
    found += _one_of(c.source, query.sources)
    found += _within(c.created_at, query.created_from, query.created_before)
    text = search.matches(query.text, (c.name, c.email, c.phone))
    if text is not None:
        found.append(text)
    return found


def booking_where(
    query: BookingFilter, search: TextSearch
) -> tuple[list[ColumnElement[bool]], FromClause]:
    """:meth:`BookingFilter.matches` as SQL, and the tables to select bookings from.

    The text search also reads the booking's customer: ``customer_id IN (SELECT
    id FROM customers WHERE ...)``. PostgreSQL runs that sub-query once and
    checks each booking against its hashed result; a join with ``customers``
    looked up or hashed a customer for every booking read, three to four times
    slower when few bookings match.
    """
    b = t.bookings.c
    exact = (
        (b.customer_id, query.customer_id),
        (b.partner_id, query.partner_id),
        (b.location_id, query.location_id),
        (b.slot_id, query.slot_id),
        (b.product_id, query.product_id),
        (b.supplier_id, query.supplier_id),
        (b.assignee_id, query.assignee_id),
        (b.group_id, query.group_id),
    )
    found: list[ColumnElement[bool]] = [
        column == wanted for column, wanted in exact if wanted is not None
    ]
    found += _one_of(b.status, query.statuses)
    found += _one_of(b.source, query.sources)
    found += _within(b.starts_at, query.starts_from, query.starts_before)
    found += _within(b.created_at, query.created_from, query.created_before)
    c = t.customers.c
    people = search.matches(query.text, (c.name, c.email, c.phone))
    own = search.matches(query.text, (b.reference, b.external_id))
    if people is not None and own is not None:
        found.append(or_(b.customer_id.in_(select(c.id).where(people)), own))
    return found, t.bookings


def slot_where(query: SlotFilter) -> list[ColumnElement[bool]]:
    """:meth:`SlotFilter.matches` as SQL over ``slots``."""
    s = t.slots.c
    found: list[ColumnElement[bool]] = []
    if query.location_id is not None:
        found.append(s.location_id == query.location_id)
    if query.location_ids is not None:
        ids = sorted(query.location_ids, key=lambda location: location.bytes)
        found.append(s.location_id.in_(ids) if ids else false())
    if query.product_id is not None:
        found.append(s.product_id == query.product_id)
    if query.only_active:
        found.append(s.is_active.is_(True))
    if query.only_available:
        found.append(or_(s.capacity.is_(None), s.seats_held + 1 <= s.capacity))
    found += _within(s.starts_at, query.starts_from, query.starts_before)
    return found
