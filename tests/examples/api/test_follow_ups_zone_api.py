"""The follow-ups due "today" are those of today on the business's calendar."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from tests.examples.api._client import ApiClient
from tests.examples.api.conftest import SETUP

from bookingcore import BookingCore, Settings
from bookingcore.services import LeadRequest
from bookingcore.testing import FixedClock


@pytest.fixture
def api_settings() -> Settings:
    """A business on Kolkata time."""
    return Settings(default_region="IN", timezone="Asia/Kolkata")


@pytest.fixture
def clock() -> FixedClock:
    """20:00 on 1 January in UTC: 01:30 on 2 January in Kolkata."""
    return FixedClock(datetime(2026, 1, 1, 20, 0, tzinfo=UTC))


def test_follow_ups_due_default_to_today_in_the_business_zone(
    client: ApiClient, api_core: BookingCore, staff_headers: dict[str, str]
) -> None:
    lead = api_core.leads.capture(
        LeadRequest(source="phone", phone="+919876543210", name="Asha Rao"), principal=SETUP
    )
    api_core.leads.schedule_follow_up(lead.id, date(2026, 1, 2), principal=SETUP)
    due = client.get("/api/admin/leads/follow-ups-due", headers=staff_headers)
    assert due.status_code == 200, due.text
    assert [found["id"] for found in due.json()["items"]] == [str(lead.id)]
