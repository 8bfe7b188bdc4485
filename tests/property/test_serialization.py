"""Property 5: every entity round-trips through the converter and JSON unchanged."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bookingcore import Money, PhoneNumber
from bookingcore.domain import (
    Booking,
    BookingGroup,
    BookingItem,
    Customer,
    Location,
    Partner,
    Payment,
    Product,
    Refund,
    Slot,
    Supplier,
    Traveler,
    WaitlistEntry,
)
from bookingcore.serialization import from_dict, to_dict
from bookingcore.testing import strategies as bst

CASES: list[tuple[type[Any], st.SearchStrategy[Any]]] = [
    (Customer, bst.customers()),
    (Traveler, bst.travelers()),
    (Location, bst.locations()),
    (Product, bst.products()),
    (Supplier, bst.suppliers()),
    (Slot, bst.slots()),
    (Booking, bst.bookings()),
    (Partner, bst.partners()),
    (BookingGroup, bst.booking_groups()),
    (BookingItem, bst.booking_items()),
    (WaitlistEntry, bst.waitlist_entries()),
    (Payment, bst.payments()),
    (Refund, bst.refunds()),
    (Money, bst.money()),
    (PhoneNumber, bst.phone_numbers()),
]


@pytest.mark.parametrize(("cls", "strategy"), CASES, ids=[c.__name__ for c, _ in CASES])
def test_round_trip_through_json_gives_an_equal_object(
    cls: type[Any], strategy: st.SearchStrategy[Any]
) -> None:
    @given(strategy)
    def round_trip(entity: Any) -> None:
        data = json.loads(json.dumps(to_dict(entity)))
        assert from_dict(data, cls) == entity

    round_trip()


@given(bst.money())
def test_money_travels_as_a_string_never_a_float(money: Money) -> None:
    data = to_dict(money)
    assert data == {"amount": str(money.amount), "currency": money.currency}
