"""The reconciliation report is computed by the storage: the same report as made from
the bookings and payments read whole, one booking and one customer at a time, in as
many statements for 40 bookings as for 4.

Each test runs on memory, SQLite and PostgreSQL (the statement counts on SQL only).
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import event

from bookingcore import BookingCore, Money, Principal, StaffId, StaffRole
from bookingcore.domain.payments import Payment, PaymentStatus
from bookingcore.domain.queries import BookingFilter, PageRequest
from bookingcore.services.reports import (
    ReconciliationLine,
    ReconciliationState,
    StrayPayment,
    StrayReason,
)
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


def _old_report(
    store: MemoryStore | SqlStore, start: datetime, end: datetime
) -> tuple[list[ReconciliationLine], list[StrayPayment]]:
    """The report's lines and strays as it made them before 0.4: from the period's
    bookings and their payments read whole, one booking and one customer at a time."""
    lines: list[ReconciliationLine] = []
    strays: list[StrayPayment] = []
    with store.unit_of_work().read_only() as uow:
        query = BookingFilter(created_from=start, created_before=end, include_archived=True)
        bookings = sorted(
            uow.bookings.list(query, PageRequest(limit=500)).items,
            key=lambda b: (b.created_at, b.id),
        )
        in_period = {b.id for b in bookings}
        customers = dict.fromkeys(b.customer_id for b in bookings)
        by_booking = {b.id: uow.payments.list_for_booking(b.id) for b in bookings}
        by_customer = {c: uow.payments.list_for_customer(c) for c in customers}

    def stray(payment: Payment, reason: StrayReason) -> StrayPayment:
        return StrayPayment(
            payment.id,
            payment.booking_id,
            payment.provider,
            payment.provider_reference,
            payment.captured_amount,
            payment.refunded_amount,
            payment.net_amount,
            reason,
        )

    for booking in bookings:
        payments = by_booking[booking.id]
        if booking.status == "cancelled":
            strays.extend(
                stray(p, StrayReason.PAID_FOR_CANCELLED)
                for p in payments
                if p.captured_amount.amount
            )
            continue
        counted = [p for p in payments if p.currency == booking.currency]
        captured = sum((p.captured_amount for p in counted), Money.zero(booking.currency))
        refunded = sum((p.refunded_amount for p in counted), Money.zero(booking.currency))
        net = captured - refunded
        if not captured.amount:
            state = (
                ReconciliationState.PAID if not booking.total.amount else ReconciliationState.UNPAID
            )
        elif not net.amount:
            state = ReconciliationState.REFUNDED
        elif net != booking.total:
            state = (
                ReconciliationState.PART_PAID
                if net < booking.total
                else ReconciliationState.OVER_PAID
            )
        else:
            state = ReconciliationState.PAID
        lines.append(
            ReconciliationLine(
                booking.id,
                booking.reference,
                booking.status,
                booking.total,
                captured,
                refunded,
                net,
                state,
                tuple(p.id for p in counted),
            )
        )
        strays.extend(
            stray(p, StrayReason.NO_BOOKING_IN_PERIOD)
            for p in payments
            if p.currency != booking.currency and p.captured_amount.amount
        )
    for customer_id in customers:
        strays.extend(
            stray(p, StrayReason.NO_BOOKING_IN_PERIOD)
            for p in by_customer[customer_id]
            if p.booking_id not in in_period
            and start <= p.created_at < end
            and p.captured_amount.amount
        )
    return lines, strays


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_the_report_is_the_one_read_one_booking_and_one_customer_at_a_time(
    any_store: MemoryStore | SqlStore, seed: int
) -> None:
    _seed(any_store, seed, per_day=[15, 30, 15])
    core = _core(any_store)
    for start, end in ((T0 + DAY, T0 + 2 * DAY), (T0, T0 + 3 * DAY), (T0 + 2 * DAY, T0 + 9 * DAY)):
        report = core.reports.reconciliation(start, end, principal=ADMIN)
        lines, strays = _old_report(any_store, start, end)
        assert list(report.bookings) == lines
        assert list(report.stray_payments) == strays
        for totals in report.totals:
            mine = [line for line in lines if line.total.currency == totals.currency]
            assert totals.total == sum((x.total for x in mine), Money.zero(totals.currency))
            assert totals.net_paid == sum((x.net_paid for x in mine), Money.zero(totals.currency))
            assert totals.stray_net_paid == sum(
                (x.net_paid for x in strays if x.net_paid.currency == totals.currency),
                Money.zero(totals.currency),
            )
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
    # As docs/payments.md says: on PostgreSQL three (the bookings with their sums and
    # their payments' ids in one, then the stray payments of the period's bookings and of
    # its customers); on SQLite a BEGIN and four (the payments' ids read apart).
    expected = 3 if store.engine.dialect.name == "postgresql" else 5
    assert counts == [expected, expected]


def test_a_booking_paid_twice_past_the_largest_single_amount_is_reconciled(
    any_store: MemoryStore | SqlStore,
) -> None:
    """Each payment is at most 10^12; a booking paid twice over may have captured more,
    and its line says so (over-paid) rather than failing the report."""
    make = Builder()
    location = make.location()
    slot = make.slot(location.id, capacity=None, price_per_traveler=Money("600000000000", "VND"))
    customer = make.customer()
    traveler = make.traveler(customer.id)
    booking = make.booking(customer.id, slot, [traveler.id], created_at=T0, updated_at=T0)
    with any_store.unit_of_work() as uow:
        uow.locations.add(location)
        uow.slots.add(slot)
        uow.customers.add(customer)
        uow.travelers.add(traveler)
        uow.bookings.add(booking)
        for refunded in ("0", "1"):
            uow.payments.add(
                make.payment(
                    booking,
                    status=PaymentStatus.CAPTURED,
                    captured_amount=booking.total,
                    refunded_amount=Money(refunded, "VND"),
                    captured_at=T0,
                )
            )
        uow.commit()

    report = _core(any_store).reports.reconciliation(T0, T0 + DAY, principal=ADMIN)
    (line,) = report.bookings
    assert line.state is ReconciliationState.OVER_PAID
    assert line.captured.amount == 2 * booking.total.amount
    assert line.net_paid.amount == 2 * booking.total.amount - 1
    assert report.totals_for("VND").net_paid == line.net_paid
