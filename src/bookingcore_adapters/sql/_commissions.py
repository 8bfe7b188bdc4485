"""Partners' commission ledger in SQL: table, mapping and repository.

The ledger is append-only: the repository adds and reads, never updates or
deletes, and ``key`` is unique so one capture, refund or cancellation is on
the ledger once whatever the number of concurrent deliveries.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal

from sqlalchemy import Column, Index, String, Table, Text, Uuid, case, func, select

from bookingcore.domain.commissions import CommissionEntry, CommissionEntryKind, CommissionSummary
from bookingcore.domain.queries import Page, PageRequest
from bookingcore.domain.values import BookingId, Money, PartnerId
from bookingcore_adapters.sql._mapper import Mapper, Row, Stored
from bookingcore_adapters.sql._queries import exact_sum, read_sum
from bookingcore_adapters.sql._repository import Repository
from bookingcore_adapters.sql._schema import (
    CURRENCY,
    ENUM,
    ExactDecimal,
    metadata,
    money,
    ref,
    when,
)

__all__ = ["COMMISSIONS", "CommissionLedgerRepository", "commission_ledger"]


#: Seed 002's commission tracking: one row per accrual or reversal, never updated.
commission_ledger = Table(
    "commission_ledger",
    metadata,
    Column("id", Uuid(), primary_key=True),
    Column("key", String(200), nullable=False, unique=True),
    Column("kind", ENUM, nullable=False),
    ref("partner_id", "partners.id", nullable=False),
    ref("booking_id", "bookings.id", nullable=False, index=True),
    # No foreign keys to payments and refunds, on purpose: checking one takes a share lock
    # on the payment row, and a cancellation (which holds its booking's lock) would then
    # wait for a refund holding the payment's lock while that refund waits for the booking.
    Column("payment_id", Uuid(), nullable=False),
    Column("refund_id", Uuid()),
    money("base"),
    Column("rate", ExactDecimal(), nullable=False),
    money("amount"),
    Column("currency", CURRENCY, nullable=False),
    when("recorded_at"),
    Column("reason", Text()),
    # A partner's ledger or everyone's by period: oldest first whole (reports) or
    # newest first by keyset pages on (recorded_at, id).
    Index("ix_commission_ledger_partner_recorded", "partner_id", "recorded_at", "id"),
    Index("ix_commission_ledger_recorded_at", "recorded_at", "id"),
)


def dump_entry(e: CommissionEntry) -> Row:
    """The ``commission_ledger`` row of ``e``."""
    return {
        "id": e.id,
        "key": e.key,
        "kind": e.kind.value,
        "partner_id": e.partner_id,
        "booking_id": e.booking_id,
        "payment_id": e.payment_id,
        "refund_id": e.refund_id,
        "base": e.base.amount,
        "rate": e.rate,
        "amount": e.amount.amount,
        "currency": e.currency,
        "recorded_at": e.recorded_at,
        "reason": e.reason,
    }


def load_entry(r: Stored, _: Sequence[Stored]) -> CommissionEntry:
    """The ledger entry stored in ``r``."""
    currency = r["currency"]
    return CommissionEntry(
        id=r["id"],
        key=r["key"],
        kind=CommissionEntryKind(r["kind"]),
        partner_id=r["partner_id"],
        booking_id=r["booking_id"],
        payment_id=r["payment_id"],
        refund_id=r["refund_id"],
        base=Money(r["base"], currency),
        rate=Decimal(r["rate"]),
        amount=Money(r["amount"], currency),
        recorded_at=r["recorded_at"],
        reason=r["reason"],
    )


COMMISSIONS = Mapper[CommissionEntry]("commissionentry", commission_ledger, dump_entry, load_entry)


def _oldest(entry: CommissionEntry) -> tuple[datetime, bytes]:
    return (entry.recorded_at, entry.id.bytes)


class CommissionLedgerRepository(Repository[CommissionEntry]):
    """:class:`~bookingcore.ports.CommissionLedgerRepository` in SQL."""

    def list_for_booking(self, booking_id: BookingId) -> Sequence[CommissionEntry]:
        return self._session.select_equal(self._mapper, {"booking_id": booking_id}, _oldest)

    def list_recorded(
        self, start: datetime, end: datetime, partner_id: PartnerId | None = None
    ) -> Sequence[CommissionEntry]:
        c = self._table.c
        where = [c.recorded_at >= start, c.recorded_at < end]
        if partner_id is not None:
            where.append(c.partner_id == partner_id)
        return self._session.select(
            self._mapper,
            where,
            lambda e: start <= e.recorded_at < end and partner_id in (None, e.partner_id),
            _oldest,
            order_by=[c.recorded_at, c.id],
        )

    def page_recorded(
        self, start: datetime, end: datetime, partner_id: PartnerId | None, page: PageRequest
    ) -> Page[CommissionEntry]:
        c = self._table.c
        where = [c.recorded_at >= start, c.recorded_at < end]
        if partner_id is not None:
            where.append(c.partner_id == partner_id)
        return self._session.page(
            self._mapper,
            where,
            lambda e: start <= e.recorded_at < end and partner_id in (None, e.partner_id),
            page,
            at="recorded_at",
        )

    def totals(
        self, start: datetime, end: datetime, partner_id: PartnerId | None = None
    ) -> Sequence[CommissionSummary]:
        connection = self._session.connection()
        dialect = connection.dialect.name
        c = self._table.c
        where = [c.recorded_at >= start, c.recorded_at < end]
        if partner_id is not None:
            where.append(c.partner_id == partner_id)
        accrual = c.kind == CommissionEntryKind.ACCRUAL.value
        statement = (
            select(
                c.partner_id,
                c.currency,
                exact_sum(case((accrual, c.amount), else_=None), dialect),
                exact_sum(case((accrual, None), else_=c.amount), dialect),
                func.count(),
            )
            .where(*where)
            .group_by(c.partner_id, c.currency)
        )
        return [
            CommissionSummary.from_sums(
                partner,
                accrued=Money.summed(read_sum(accrued_sum, dialect), currency),
                reversed=Money.summed(-read_sum(reversed_sum, dialect), currency),
                entries=int(count),
            )
            for partner, currency, accrued_sum, reversed_sum, count in connection.execute(statement)
        ]
