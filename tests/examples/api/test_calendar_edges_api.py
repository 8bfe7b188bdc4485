"""Times and days at the calendar's ends answer 422 naming the field on every store, never a 500."""

from __future__ import annotations

import pytest
from tests.examples.api._client import ApiClient
from tests.examples.api._common import STORES
from tests.examples.api.conftest import SETUP

from bookingcore import BookingCore
from bookingcore.domain import Slot

#: Times a datetime can hold that leave the calendar once moved to UTC.
PAST_THE_ENDS = ["0001-01-01T00:00:00+05:00", "9999-12-31T23:59:59-05:00"]


@STORES
@pytest.mark.parametrize("moment", PAST_THE_ENDS)
@pytest.mark.parametrize(
    ("url", "field"),
    [
        ("/api/admin/bookings", "starts_from"),
        ("/api/admin/bookings", "created_before"),
        ("/api/admin/reports/revenue", "created_from"),
        ("/api/admin/reports/capacity-utilisation", "starts_before"),
    ],
)
def test_a_time_past_the_calendar_in_utc_is_a_422_on_its_field(
    client: ApiClient, staff_headers: dict[str, str], moment: str, url: str, field: str
) -> None:
    answer = client.get(url, params={field: moment}, headers=staff_headers)
    assert answer.status_code == 422, answer.text
    assert answer.json()["errors"][0]["field"] == field


@STORES
def test_the_dashboard_of_the_calendars_last_day_is_a_422_on_day(
    client: ApiClient, staff_headers: dict[str, str]
) -> None:
    answer = client.get("/api/admin/dashboard", params={"day": "9999-12-31"}, headers=staff_headers)
    assert answer.status_code == 422, answer.text
    assert answer.json()["errors"][0]["field"] == "day"
    first = client.get("/api/admin/dashboard", params={"day": "0001-01-02"}, headers=staff_headers)
    assert first.status_code == 200, first.text


@STORES
@pytest.mark.parametrize(
    ("line", "field"),
    [
        (
            {"service_starts_on": "0001-01-01", "service_ends_on": "9999-12-31"},
            "lines[0].service_starts_on",
        ),
        (
            {"service_starts_on": "2026-02-01", "service_ends_on": "2126-02-01"},
            "lines[0].service_ends_on",
        ),
        (
            {"quantity": 10_000, "unit_price": {"amount": "999999999999", "currency": "INR"}},
            "lines[0].quantity",
        ),
    ],
)
def test_an_absurd_quotation_line_is_a_422_on_its_field(
    api_core: BookingCore,
    client: ApiClient,
    staff_headers: dict[str, str],
    slot: Slot,
    line: dict[str, object],
    field: str,
) -> None:
    customer = api_core.customers.register("+919876543210", principal=SETUP).customer
    body = {
        "customer_id": str(customer.id),
        "slot_id": str(slot.id),
        "travelers": 1,
        "valid_until": str(slot.starts_at.date()),
        "lines": [
            {
                "kind": "hotel",
                "description": "Lakeside hotel",
                "quantity": 1,
                "unit_price": {"amount": "3000.00", "currency": "INR"},
                **line,
            }
        ],
    }
    answer = client.post("/api/admin/quotations", json=body, headers=staff_headers)
    assert answer.status_code == 422, answer.text
    assert answer.json()["errors"][0]["field"] == field
    listed = client.get("/api/admin/quotations", headers=staff_headers)
    assert listed.json()["items"] == []


@STORES
@pytest.mark.parametrize("day", ["9999-12-31", "0001-01-01", "31-12-3000"])
def test_an_import_row_dated_past_the_slot_bounds_fails_on_booking_date(
    api_core: BookingCore, client: ApiClient, staff_headers: dict[str, str], day: str
) -> None:
    """Slots are made over HTTP only by imports: a row whose slot would start out of
    bounds fails on booking_date (the preview names it), never a 500 later."""
    api_core.catalog.add_location("DL01", "Dealer One", principal=SETUP)
    header = "Customer Name,customer_phone,dealer_code,booking_date"
    csv = f"{header}\nAsha Rao,+919812345601,DL01,{day}\n"
    upload = {
        "data": {"timezone": "Asia/Kolkata"},
        "files": {"file": ("bookings.csv", csv.encode(), "text/csv")},
    }
    preview = client.post("/api/admin/bookings/preview", headers=staff_headers, **upload)
    assert preview.status_code == 200, preview.text
    (problem,) = preview.json()["rows"][0]["problems"]
    assert (problem["column"], problem["code"]) == ("booking_date", "out_of_range")
    assert api_core.catalog.list_slots(principal=SETUP).items == []


@STORES
@pytest.mark.parametrize(
    ("url", "low", "high"),
    [
        ("/api/admin/bookings", "starts_from", "starts_before"),
        ("/api/bookings", "starts_from", "starts_before"),
        ("/api/customers", "created_from", "created_before"),
        ("/api/admin/reports/waitlist-conversion", "created_from", "created_before"),
    ],
)
def test_a_reversed_period_is_a_422_on_its_upper_bound(
    client: ApiClient, staff_headers: dict[str, str], url: str, low: str, high: str
) -> None:
    later, earlier = "2026-05-02T00:00:00+00:00", "2026-05-01T00:00:00+00:00"
    answer = client.get(url, params={low: later, high: earlier}, headers=staff_headers)
    assert answer.status_code == 422, answer.text
    assert answer.json()["errors"][0]["field"] == high
    empty = client.get(url, params={low: later, high: later}, headers=staff_headers)
    assert empty.status_code == 200, empty.text


@STORES
def test_a_day_outside_the_given_period_lists_nothing(
    client: ApiClient, staff_headers: dict[str, str]
) -> None:
    params = {"booking_date": "2026-05-05", "starts_before": "2026-05-01T00:00:00+00:00"}
    answer = client.get("/api/admin/bookings", params=params, headers=staff_headers)
    assert answer.status_code == 200, answer.text
