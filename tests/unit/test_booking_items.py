"""Booking line items: totals that are unit price times quantity, and the supplier's status."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from uuid import uuid4

import pytest

from bookingcore import BookingId, Money
from bookingcore.domain import BookingItem, BookingItemStatus
from bookingcore.domain.items import (
    MAX_SERVICE_DATE,
    MAX_SERVICE_DAYS,
    MIN_SERVICE_DATE,
    check_new_item,
    items_total,
)
from bookingcore.domain.trips import plan_days
from bookingcore.errors import InvalidTransitionError, ValidationError
from bookingcore.testing.builders import T0, Builder

LATER = T0 + timedelta(hours=1)


@pytest.fixture
def make() -> Builder:
    return Builder()


def _item(make: Builder, **fields: object) -> BookingItem:
    return make.booking_item(BookingId(uuid4()), **fields)


class TestTotal:
    def test_is_unit_price_times_quantity_in_the_currency(self, make: Builder) -> None:
        item = _item(make, unit_price=Money("1999.99", "INR"), quantity=3)
        assert item.total == Money("5999.97", "INR")
        assert _item(make, unit_price=Money("1500", "JPY"), quantity=7).total == Money(
            "10500", "JPY"
        )

    def test_follows_a_change_of_quantity_or_price(self, make: Builder) -> None:
        item = _item(make, unit_price=Money("10.50", "EUR"), quantity=2)
        item.change_quantity(4, now=LATER)
        item.reprice(Money("9.25", "EUR"), now=LATER)
        assert item.total == Money("37.00", "EUR")
        assert item.version == 3

    def test_a_price_in_another_currency_is_refused(self, make: Builder) -> None:
        item = _item(make, unit_price=Money("10", "EUR"))
        with pytest.raises(ValidationError) as caught:
            item.reprice(Money("10", "USD"), now=LATER)
        assert caught.value.errors[0].code == "currency_mismatch"
        assert item.unit_price == Money("10", "EUR")

    def test_items_total_skips_cancelled_items_and_refuses_mixed_currencies(
        self, make: Builder
    ) -> None:
        kept = _item(make, unit_price=Money("100", "INR"), quantity=2)
        dropped = _item(make, unit_price=Money("999", "INR"))
        dropped.cancel(now=LATER)
        assert items_total([kept, dropped], "INR") == Money("200", "INR")
        assert items_total([], "INR") == Money.zero("INR")
        stray = _item(make, unit_price=Money("5", "USD"))
        with pytest.raises(ValidationError) as caught:
            items_total([kept, stray], "INR")
        assert caught.value.fields == ("items[1].unit_price",)


class TestInvariants:
    @pytest.mark.parametrize(
        ("fields", "field"),
        [
            ({"quantity": 0}, "quantity"),
            ({"quantity": 10_001}, "quantity"),
            ({"quantity": 2.0}, "quantity"),
            ({"unit_price": Money("-1", "INR")}, "unit_price"),
            ({"description": "  "}, "description"),
            ({"kind": "spaceship"}, "kind"),
            ({"metadata": {"seat": 12}}, "metadata.seat"),
            (
                {"service_starts_on": date(2026, 3, 5), "service_ends_on": date(2026, 3, 4)},
                "service_ends_on",
            ),
        ],
    )
    def test_a_broken_rule_names_its_field(
        self, make: Builder, fields: dict[str, object], field: str
    ) -> None:
        with pytest.raises(ValidationError) as caught:
            _item(make, **fields)
        assert caught.value.fields == (field,)

    @pytest.mark.parametrize(
        ("fields", "field"),
        [
            (
                {"service_starts_on": date(1, 1, 1), "service_ends_on": date(9999, 12, 31)},
                "service_starts_on",
            ),
            ({"service_starts_on": date(9999, 12, 31)}, "service_starts_on"),
            ({"service_ends_on": date(1, 1, 1)}, "service_ends_on"),
            (
                {"service_starts_on": date(2026, 3, 5), "service_ends_on": date(2027, 3, 7)},
                "service_ends_on",
            ),
            ({"quantity": 10_000, "unit_price": Money("999999999", "INR")}, "quantity"),
            (
                {
                    "unit_price": Money("999999999", "EUR"),
                    "booking_currency": "INR",
                    "exchange_rate": Decimal(100_000),
                },
                "exchange_rate",
            ),
        ],
    )
    def test_a_new_item_past_the_bounds_is_refused_but_a_stored_one_still_loads(
        self, make: Builder, fields: dict[str, object], field: str
    ) -> None:
        stored = _item(make, **fields)  # as an adapter reads a row written before 0.4
        with pytest.raises(ValidationError) as caught:
            check_new_item(stored)
        assert caught.value.fields == (field,)

    def test_the_longest_service_and_the_widest_dates_are_fine(self, make: Builder) -> None:
        starts = date(2026, 3, 5)
        ends = starts + timedelta(days=MAX_SERVICE_DAYS)
        longest = check_new_item(_item(make, service_starts_on=starts, service_ends_on=ends))
        assert longest.service_ends_on == ends
        check_new_item(_item(make, service_starts_on=MIN_SERVICE_DATE))
        check_new_item(_item(make, service_ends_on=MAX_SERVICE_DATE))
        top = check_new_item(_item(make, quantity=10_000, unit_price=Money("100000000", "INR")))
        assert top.total == Money(Decimal(10) ** 12, "INR")

    def test_rescheduling_follows_the_same_date_rules(self, make: Builder) -> None:
        item = _item(make, service_starts_on=date(2026, 3, 5))
        for starts, ends, field in (
            (date(2026, 3, 5), date(2028, 1, 1), "service_ends_on"),
            (date(9999, 1, 1), None, "service_starts_on"),
        ):
            with pytest.raises(ValidationError) as caught:
                item.reschedule(starts, ends, now=LATER)
            assert caught.value.fields == (field,)
        assert (item.service_starts_on, item.service_ends_on, item.version) == (
            date(2026, 3, 5),
            None,
            1,
        )

    def test_a_free_item_and_a_one_day_service_are_fine(self, make: Builder) -> None:
        day = date(2026, 3, 5)
        item = _item(make, unit_price=Money.zero("INR"), service_starts_on=day, service_ends_on=day)
        assert item.total == Money.zero("INR")


class TestStatus:
    def test_the_supplier_confirms_with_its_reference(self, make: Builder) -> None:
        item = _item(make)
        item.confirm(now=LATER, supplier_reference=" HTL-9981 ")
        assert (item.status, item.supplier_reference) == (BookingItemStatus.CONFIRMED, "HTL-9981")
        assert (item.version, item.updated_at) == (2, LATER)

    def test_a_confirmed_item_keeps_its_quantity_and_price(self, make: Builder) -> None:
        item = _item(make, quantity=2)
        item.confirm(now=LATER)
        with pytest.raises(ValidationError) as caught:
            item.change_quantity(3, now=LATER)
        assert caught.value.fields == ("status",)
        with pytest.raises(ValidationError):
            item.reprice(Money("1", "INR"), now=LATER)
        assert (item.quantity, item.version) == (2, 2)

    def test_a_cancelled_item_cannot_be_confirmed_cancelled_or_moved(self, make: Builder) -> None:
        item = _item(make)
        item.cancel(now=LATER)
        with pytest.raises(InvalidTransitionError) as caught:
            item.confirm(now=LATER)
        assert (caught.value.from_state, caught.value.to_state) == ("cancelled", "confirmed")
        with pytest.raises(InvalidTransitionError):
            item.cancel(now=LATER)
        with pytest.raises(ValidationError):
            item.reschedule(date(2026, 1, 1), None, now=LATER)
        assert item.version == 2

    def test_a_confirmed_item_may_be_rescheduled_and_cancelled(self, make: Builder) -> None:
        item = _item(make)
        item.confirm(now=LATER)
        item.reschedule(date(2026, 4, 1), date(2026, 4, 3), now=LATER)
        item.cancel(now=LATER)
        assert (item.service_starts_on, item.status) == (
            date(2026, 4, 1),
            BookingItemStatus.CANCELLED,
        )


def test_an_itinerary_from_a_stored_item_spanning_centuries_is_refused_at_once(
    make: Builder,
) -> None:
    """Items stored before the date rules (0.4) may still span centuries: the plan
    stops at its 367th date instead of laying out every day first."""
    item = _item(make, kind="hotel", service_starts_on=date(2026, 3, 5))
    item.service_ends_on = date(9999, 12, 31)  # as an old row would read back
    with pytest.raises(ValidationError) as caught:
        plan_days(T0, [item])
    assert [(e.field, e.code) for e in caught.value.errors] == [("days", "too_many")]
