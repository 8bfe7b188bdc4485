"""For random histories, the storage's customer figures equal the reference computation.

The SQL adapter sums amounts in aggregate queries (as whole ten-thousandths on
SQLite); the memory adapter runs :func:`summarise_bookings`. Both must agree
with it to the last minor unit, for any statuses, currencies, dates and refunds.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tests._sqlite import sqlite_file_store

from bookingcore.domain import StatusGroups, summarise_bookings
from bookingcore.domain.queries import BookingFilter
from bookingcore.domain.values import Money
from bookingcore.ports.uow import UnitOfWork
from bookingcore.testing.builders import T0, Builder
from bookingcore_adapters.memory import MemoryStore

STATUSES = StatusGroups(
    cancelled=frozenset({"cancelled"}),
    no_show=frozenset({"no_show"}),
    completed=frozenset({"completed"}),
)
CURRENCIES = {"INR": 2, "BHD": 3, "JPY": 0}
LARGEST = Decimal(10) ** 12 - Decimal("0.001")

bookings = st.lists(
    st.tuples(
        st.sampled_from(["pending", "confirmed", "completed", "cancelled", "no_show"]),
        st.sampled_from(sorted(CURRENCIES)),
        # total, in minor units; at most 12 bookings below, so a customer's sums stay
        # within the largest amount Money holds (10**12) even in a currency without cents
        st.integers(0, 8 * 10**10),
        st.integers(-30, 30),  # slot start, days from now
        st.integers(0, 10_000),  # made, minutes after T0
        st.one_of(st.none(), st.tuples(st.integers(0, 10**6), st.integers(0, 10**6))),
    ),
    max_size=12,
)


def _stores() -> list[tuple[str, Callable[[], UnitOfWork]]]:
    folder = Path(tempfile.mkdtemp())
    sqlite = sqlite_file_store(folder / "stats.db")
    return [("memory", MemoryStore().unit_of_work), ("sqlite", sqlite.unit_of_work)]


@pytest.mark.slow
@settings(max_examples=25)
@given(history=bookings)
def test_storage_figures_equal_the_reference(
    history: list[tuple[str, str, int, int, int, tuple[int, int] | None]],
) -> None:
    make = Builder()
    location = make.location()
    customer = make.customer()
    traveler = make.traveler(customer.id)
    now = T0 + timedelta(days=40)
    slots, made, paid = [], [], []
    for status, currency, minor, days, minutes, payment in history:
        unit = Decimal(1).scaleb(-CURRENCIES[currency])
        slot = make.slot(
            location.id,
            starts_at=now + timedelta(days=days),
            price_per_traveler=Money(unit, currency),
        )
        booking = make.booking(
            customer.id,
            slot,
            [traveler.id],
            status=status,
            created_at=T0 + timedelta(minutes=minutes),
        )
        booking.total = Money(min(Decimal(minor) * unit, LARGEST), currency)
        slots.append(slot)
        made.append(booking)
        if payment is not None:
            captured, refunded = sorted(payment, reverse=True)
            money = make.payment(booking, amount=Money(Decimal(max(captured, 1)) * unit, currency))
            money.captured_amount = Money(Decimal(captured) * unit, currency)
            money.refunded_amount = Money(Decimal(refunded) * unit, currency)
            paid.append(money)
    expected = summarise_bookings(made, paid, now=now, statuses=STATUSES)
    for name, factory in _stores():
        with factory() as uow:
            uow.locations.add(location)
            uow.customers.add(customer)
            uow.travelers.add(traveler)
            for slot in slots:
                uow.slots.add(slot)
            for booking in made:
                uow.bookings.add(booking)
            for payment in paid:
                uow.payments.add(payment)
            uow.commit()
        with factory() as uow:
            found = uow.customer_stats.summarise(
                BookingFilter(customer_id=customer.id), now=now, statuses=STATUSES
            )
        assert found == expected, name
