"""The query filters as SQL: ``WHERE`` clauses with exactly the ``matches()`` semantics.

Each function mirrors one ``matches`` method of :mod:`bookingcore.domain.queries`:
lower bounds are inclusive, upper bounds exclusive, and ``text`` is a
case-insensitive substring search that also matches the digits of a phone
number when the query has three or more digits.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, FromClause, Table, and_, false, func, or_

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
    ``lower()`` and ``regexp_replace()``, which agree for all but a few
    special letters (``ß`` folds to ``ss`` only in Python).
    """

    def __init__(self, dialect: str) -> None:
        self.sqlite = dialect == "sqlite"

    def _fold(self, column: ColumnElement[Any]) -> ColumnElement[str]:
        if self.sqlite:
            return getattr(func, SQLITE_CASEFOLD)(column)  # type: ignore[no-any-return]
        return func.lower(column)

    def _digits(self, column: ColumnElement[Any]) -> ColumnElement[str]:
        if self.sqlite:
            return getattr(func, SQLITE_DIGITS)(column)  # type: ignore[no-any-return]
        return func.regexp_replace(column, r"\D", "", "g")

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
            found += [self._digits(column).contains(compact, autoescape=True) for column in columns]
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
    """Rows after ``cursor`` in newest-first order: older, or as old with a smaller id."""
    if cursor is None:
        return []
    return [
        or_(
            table.c.created_at < cursor.created_at,
            and_(table.c.created_at == cursor.created_at, table.c.id < cursor.id),
        )
    ]


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

    The text search reads the booking's customer, so it joins ``customers``.
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
    )
    found: list[ColumnElement[bool]] = [
        column == wanted for column, wanted in exact if wanted is not None
    ]
    found += _one_of(b.status, query.statuses)
    found += _one_of(b.source, query.sources)
    found += _within(b.starts_at, query.starts_from, query.starts_before)
    found += _within(b.created_at, query.created_from, query.created_before)
    source: FromClause = t.bookings
    c = t.customers.c
    text = search.matches(query.text, (b.reference, b.external_id, c.name, c.email, c.phone))
    if text is not None:
        found.append(text)
        source = t.bookings.outerjoin(t.customers, c.id == b.customer_id)
    return found, source


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
