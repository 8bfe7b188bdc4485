"""Customer figures in SQL: aggregate queries over bookings and payments.

Amounts are summed exactly on every backend: ``NUMERIC`` on PostgreSQL, and on
SQLite (where amounts are decimal text) as whole ten-thousandths read from the
text, which an ``INTEGER`` sum holds exactly.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import and_, case, func, select

from bookingcore.domain.audit import AuditAction
from bookingcore.domain.insights import BookingNote, CustomerStats, StatusGroups
from bookingcore.domain.queries import BookingFilter
from bookingcore.domain.values import Money, ProductId
from bookingcore_adapters.sql._bookings import booking_where, bookings
from bookingcore_adapters.sql._events import AUDIT, audit_logs
from bookingcore_adapters.sql._payments import payments
from bookingcore_adapters.sql._queries import exact_sum, read_sum, status_in
from bookingcore_adapters.sql._session import Session

__all__ = ["CustomerStatsRepository"]


class CustomerStatsRepository:
    """:class:`~bookingcore.ports.CustomerStatsRepository` in SQL: two queries for
    :meth:`summarise` (bookings grouped by currency, payments grouped by
    currency), one for :meth:`booked_products`, one for :meth:`booking_notes`."""

    def __init__(self, session: Session) -> None:
        self._session = session

    def summarise(
        self, query: BookingFilter, *, now: datetime, statuses: StatusGroups
    ) -> CustomerStats:
        connection = self._session.connection()
        dialect = connection.dialect.name
        where, source = booking_where(query, self._session.search)
        b = bookings.c
        ended = status_in(statuses.ended, b.status, b.lifecycle)
        one = case((and_(b.starts_at >= now, ~ended), 1), else_=0)
        if statuses.counted is None:
            kept = case((status_in(statuses.cancelled, b.status, b.lifecycle), 0), else_=1)
        else:
            kept = case((status_in(statuses.counted, b.status, b.lifecycle), 1), else_=0)
        grouped = (
            select(
                b.currency,
                func.count(),
                func.sum(one),
                func.sum(case((status_in(statuses.cancelled, b.status, b.lifecycle), 1), else_=0)),
                func.sum(case((status_in(statuses.no_show, b.status, b.lifecycle), 1), else_=0)),
                func.sum(case((status_in(statuses.completed, b.status, b.lifecycle), 1), else_=0)),
                func.min(b.created_at),
                func.max(b.created_at),
                exact_sum(case((kept == 1, b.total_amount), else_=None), dialect),
            )
            .select_from(source)
            .where(*where)
            .group_by(b.currency)
        )
        total = upcoming = cancelled = no_show = completed = 0
        first: datetime | None = None
        last: datetime | None = None
        value: list[Money] = []
        for row in connection.execute(grouped):
            currency, count, up, gone, missed, done, oldest, newest, booked = row
            total += count
            upcoming += int(up or 0)
            cancelled += int(gone or 0)
            no_show += int(missed or 0)
            completed += int(done or 0)
            first = oldest if first is None else min(first, oldest)
            last = newest if last is None else max(last, newest)
            amount = read_sum(booked, dialect)
            if amount:
                value.append(Money.summed(amount, currency))
        p = payments.c
        paid = (
            select(
                p.currency,
                exact_sum(p.captured_amount, dialect),
                exact_sum(p.refunded_amount, dialect),
            )
            .where(p.booking_id.in_(select(b.id).select_from(source).where(*where)))
            .group_by(p.currency)
        )
        spent: list[Money] = []
        for currency, captured, refunded in connection.execute(paid):
            net = read_sum(captured, dialect) - read_sum(refunded, dialect)
            if net:
                spent.append(Money.summed(net, currency))
        return CustomerStats(
            total_bookings=total,
            upcoming_bookings=upcoming,
            cancelled_bookings=cancelled,
            no_show_bookings=no_show,
            first_booking_at=first,
            last_booking_at=last,
            lifetime_value=value,
            total_spent=spent,
            completed_bookings=completed,
        )

    def booked_products(self, query: BookingFilter, *, limit: int) -> Sequence[ProductId]:
        where, source = booking_where(query, self._session.search)
        b = bookings.c
        latest = func.max(b.created_at)
        statement = (
            select(b.product_id, latest)
            .select_from(source)
            .where(*where, b.product_id.is_not(None))
            .group_by(b.product_id)
            .order_by(latest.desc(), b.product_id)
            .limit(limit)
        )
        return [ProductId(row[0]) for row in self._session.connection().execute(statement)]

    def booking_notes(self, query: BookingFilter, *, limit: int) -> Sequence[BookingNote]:
        where, source = booking_where(query, self._session.search)
        b, a = bookings.c, audit_logs.c
        matching = select(b.id, b.reference).select_from(source).where(*where).subquery()
        statement = (
            select(audit_logs, matching.c.reference)
            .join(matching, a.booking_id == matching.c.id)
            .where(a.action == AuditAction.NOTE_ADDED.value)
            .order_by(a.created_at.desc(), a.id.desc())
            .limit(limit)
        )
        return [
            BookingNote.from_entry(AUDIT.load(row, []), row["reference"])
            for row in self._session.connection().execute(statement).mappings()
        ]
