"""The reconciliation report reads payments in bulk: the same report as reading them one
booking and one customer at a time, in as many statements for 40 bookings as for 4.

Each test runs on memory, SQLite and PostgreSQL (the statement counts on SQL only).
"""

from __future__ import annotations

import random
from collections.abc import Collection, Mapping, Sequence
from datetime import datetime, timedelta
from types import TracebackType
from typing import Any, Self

import attrs
import pytest
from sqlalchemy import event

from bookingcore import BookingCore, Money, Principal, StaffId, StaffRole
from bookingcore.domain.payments import Payment, PaymentStatus
from bookingcore.domain.values import BookingId, CustomerId
from bookingcore.ports import UnitOfWork
from bookingcore.services import ReportService
from bookingcore.testing import FixedClock, SequentialIds
from bookingcore.testing.builders import T0, Builder
from bookingcore_adapters.memory import MemoryStore
from bookingcore_adapters.sql import SqlStore

ADMIN = Principal.staff(StaffId(SequentialIds().new_id()), StaffRole.ADMIN)
#: Bookings are made on three days from T0; the reports are of one of them.
DAY = timedelta(days=1)


def _core(store: MemoryStore | SqlStore) -> BookingCore:
    return BookingCore(
        uow_factory=store.unit_of_work, clock=FixedClock(T0 + 10 * DAY), ids=SequentialIds()
    )


def _seed(store: MemoryStore | SqlStore, seed: int, per_day: Sequence[int]) -> None:
    """``per_day[i]`` bookings made on day ``i`` from T0 by a few customers (some
    cancelled), with payments of every kind: none, part, full, over (two payments),
    refunded, failed, in another currency, made days after the booking, and paid by
    another customer than the booking's."""
    rng = random.Random(seed)
    make = Builder()
    location = make.location()
    slot = make.slot(location.id, capacity=None)
    customers = [make.customer() for _ in range(max(2, sum(per_day) // 3))]
    travelers = {c.id: make.traveler(c.id) for c in customers}
    bookings = []
    for day, count in enumerate(per_day):
        for _ in range(count):
            customer = rng.choice(customers)
            status = rng.choice(["pending", "confirmed", "confirmed", "cancelled"])
            made = T0 + day * DAY + timedelta(minutes=rng.randrange(24 * 60))
            bookings.append(
                make.booking(
                    customer.id,
                    slot,
                    [travelers[customer.id].id],
                    status=status,
                    created_at=made,
                    updated_at=made,
                )
            )
    payments = []
    for booking in bookings:
        for _ in range(rng.choice([0, 1, 1, 2, 3])):
            currency = "USD" if rng.random() < 0.1 else "INR"
            amount = Money(str(rng.choice([40, 100, 250])), currency)
            captured = rng.choice([Money.zero(currency), amount, Money("20", currency)])
            refunded = rng.choice([Money.zero(currency), captured])
            status = PaymentStatus.CAPTURED if captured.amount else PaymentStatus.FAILED
            payer = booking.customer_id if rng.random() < 0.8 else rng.choice(customers).id
            made = booking.created_at + timedelta(hours=rng.randrange(60))
            payments.append(
                make.payment(
                    booking,
                    customer_id=payer,
                    amount=amount,
                    captured_amount=captured,
                    refunded_amount=refunded,
                    status=status,
                    created_at=made,
                    updated_at=made,
                )
            )
    with store.unit_of_work() as uow:
        uow.locations.add(location)
        uow.slots.add(slot)
        for customer in customers:
            uow.customers.add(customer)
            uow.travelers.add(travelers[customer.id])
        for booking in bookings:
            uow.bookings.add(booking)
        for payment in payments:
            uow.payments.add(payment)
        uow.commit()


class _OneAtATime:
    """A payments repository whose bulk reads are made of the single ones, as the
    report read before 0.4: one booking, then one customer, at a time."""

    def __init__(self, payments: Any) -> None:
        self._payments = payments

    def list_for_bookings(
        self, booking_ids: Collection[BookingId]
    ) -> Mapping[BookingId, Sequence[Payment]]:
        found = {b: self._payments.list_for_booking(b) for b in booking_ids}
        return {booking_id: listed for booking_id, listed in found.items() if listed}

    def list_for_customers(
        self,
        customer_ids: Collection[CustomerId],
        *,
        created_from: datetime | None = None,
        created_before: datetime | None = None,
    ) -> Mapping[CustomerId, Sequence[Payment]]:
        assert created_from is not None
        assert created_before is not None
        found = {
            customer_id: [
                p
                for p in self._payments.list_for_customer(customer_id)
                if created_from <= p.created_at < created_before
            ]
            for customer_id in customer_ids
        }
        return {customer_id: listed for customer_id, listed in found.items() if listed}


class _OldReads:
    """A unit of work whose payments are read :class:`_OneAtATime`."""

    def __init__(self, uow: UnitOfWork) -> None:
        self._uow = uow
        self.payments = _OneAtATime(uow.payments)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._uow, name)

    def read_only(self) -> Self:
        self._uow.read_only()
        return self

    def __enter__(self) -> Self:
        self._uow.__enter__()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._uow.__exit__(exc_type, exc, tb)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_the_report_is_the_one_read_one_booking_and_one_customer_at_a_time(
    any_store: MemoryStore | SqlStore, seed: int
) -> None:
    _seed(any_store, seed, per_day=[15, 30, 15])
    core = _core(any_store)
    old = ReportService(
        attrs.evolve(core.context, uow_factory=lambda: _OldReads(any_store.unit_of_work()))
    )
    for start, end in ((T0 + DAY, T0 + 2 * DAY), (T0, T0 + 3 * DAY), (T0 + 2 * DAY, T0 + 9 * DAY)):
        report = core.reports.reconciliation(start, end, principal=ADMIN)
        assert report == old.reconciliation(start, end, principal=ADMIN)
        assert report.bookings
    # The middle day has lines of every state, and strays of both kinds.
    report = core.reports.reconciliation(T0 + DAY, T0 + 2 * DAY, principal=ADMIN)
    assert len({line.state for line in report.bookings}) >= 3
    assert len({stray.reason for stray in report.stray_payments}) == 2


def test_the_report_costs_as_many_statements_for_40_bookings_as_for_4(
    sql_store: SqlStore,
) -> None:
    # Every statement through SQLAlchemy, where the listener sees it (with psycopg the
    # look-ups by a column's value go straight to the driver).
    store = SqlStore(sql_store.engine, pipeline=False) if sql_store.pipelined else sql_store
    # Four bookings made on the first day, forty on the second, each with its payments.
    _seed(store, 7, per_day=[4, 40])
    core = _core(store)
    counts = []
    for start, bookings in ((T0, 4), (T0 + DAY, 40)):
        statements: list[str] = []

        def count(*args: Any, statements: list[str] = statements) -> None:
            statements.append(args[2])

        event.listen(store.engine, "before_cursor_execute", count)
        try:
            report = core.reports.reconciliation(start, start + DAY, principal=ADMIN)
        finally:
            event.remove(store.engine, "before_cursor_execute", count)
        assert 0 < len(report.bookings) <= bookings
        counts.append(len(statements))
    # (BEGIN on SQLite,) a page of bookings and their travelers, the bookings'
    # payments, their customers' payments in the period.
    assert counts[0] == counts[1] <= 5
