"""Times and days at the calendar's ends answer 422 naming the field on every store, never a 500."""

from __future__ import annotations

import pytest
from tests.examples.api._client import ApiClient

STORES = pytest.mark.parametrize(
    "uow_factory",
    ["memory", "sqlite", pytest.param("postgres", marks=pytest.mark.postgres)],
    indirect=True,
)

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
