"""Seed 002's ``booking_date`` filter: a calendar day in the business's time zone."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from tests.examples.api._client import ApiClient
from tests.examples.api.conftest import SETUP

from bookingcore import BookingCore, Money, Settings
from bookingcore.domain import Slot

#: New York moves its clocks forward on 2026-03-08 at 02:00: that day is 23 hours long.
ZONE = "America/New_York"
DST_DAY = "2026-03-08"
STARTS = {
    "eve": datetime(2026, 3, 8, 4, 59, tzinfo=UTC),  # 23:59 EST on 7 March
    "midnight": datetime(2026, 3, 8, 5, 0, tzinfo=UTC),  # 00:00 EST on 8 March
    "late": datetime(2026, 3, 9, 3, 59, tzinfo=UTC),  # 23:59 EDT on 8 March
    "next": datetime(2026, 3, 9, 4, 0, tzinfo=UTC),  # 00:00 EDT on 9 March
}


@pytest.fixture
def api_settings() -> Settings:
    """A business on New York time."""
    return Settings(default_region="IN", timezone=ZONE)


@pytest.fixture
def slots(api_core: BookingCore, slot: Slot) -> dict[str, Slot]:
    """A slot starting at each of ``STARTS``, at the ``slot`` fixture's location."""
    return {
        name: api_core.catalog.create_slot(
            location_id=slot.location_id,
            starts_at=at,
            price_per_traveler=Money("100", "USD"),
            capacity=3,
            principal=SETUP,
        )
        for name, at in STARTS.items()
    }


@pytest.mark.parametrize(
    "uow_factory",
    ["memory", "sqlite", pytest.param("postgres", marks=pytest.mark.postgres)],
    indirect=True,
)
def test_bookings_and_availability_on_a_day_of_the_business_calendar(
    client: ApiClient,
    api_core: BookingCore,
    slots: dict[str, Slot],
    staff_headers: dict[str, str],
) -> None:
    partner = api_core.partners.register(
        name="Reef",
        company_name="Reef Travel",
        contact_email="ops@reef.example",
        principal=SETUP,
        allowed_location_ids=[slots["eve"].location_id],
    )
    token = client.post(
        "/api/partner/auth/token",
        json={"api_key": partner.api_key, "api_secret": partner.api_secret},
    ).json()["access_token"]
    me = {"Authorization": f"Bearer {token}"}
    on_day = client.walk("/api/partner/availability", me, booking_date=DST_DAY)
    assert [s["id"] for s in on_day] == [str(slots["midnight"].id), str(slots["late"].id)]
    narrowed = client.walk(
        "/api/partner/availability",
        me,
        booking_date=DST_DAY,
        starts_from="2026-03-08T12:00:00+00:00",
    )
    assert [s["id"] for s in narrowed] == [str(slots["late"].id)]

    made = {}
    for name, slot in slots.items():
        answer = client.post(
            "/api/partner/bookings",
            json={
                "slot_id": str(slot.id),
                "customer": {"phone": "+919876543210", "name": "Ana Diaz"},
                "travelers": [{"name": "Ana Diaz", "is_primary": True}],
            },
            headers=me,
        )
        assert answer.status_code == 201, answer.text
        made[answer.json()["id"]] = name
    for url, headers in (("/api/bookings", me), ("/api/admin/bookings", staff_headers)):
        found = client.walk(url, headers, booking_date=DST_DAY)
        assert sorted(made[b["id"]] for b in found) == ["late", "midnight"], url
        after = client.walk(url, headers, booking_date="2026-03-09")
        assert [made[b["id"]] for b in after] == ["next"], url
        assert client.walk(url, headers, booking_date="2026-03-06") == [], url
    refused = client.get("/api/bookings", params={"booking_date": "9999-12-31"}, headers=me)
    assert refused.status_code == 422, refused.text
    assert [e["field"] for e in refused.json()["errors"]] == ["booking_date"]
