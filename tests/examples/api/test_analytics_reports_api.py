"""The analytics reports over HTTP: booking frequency, cohort retention, conversion by
source, status transitions and import performance, for staff only."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tests.examples.api._client import ApiClient

SignIn = Callable[[str], dict[str, str]]
Book = Callable[..., dict[str, Any]]
BASE = "/api/admin/reports"


def test_analytics_reports_over_http(
    client: ApiClient, sign_in: SignIn, book: Book, staff_headers: dict[str, str]
) -> None:
    asha = sign_in("+919876543210")
    book(asha, seats=2)

    frequency = client.get(f"{BASE}/booking-frequency", headers=staff_headers)
    assert frequency.status_code == 200, frequency.text
    assert [(line["label"], line["customers"]) for line in frequency.json()] == [
        ("1", 1),
        ("2", 0),
        ("3-5", 0),
        ("6+", 0),
    ]
    custom = client.get(
        f"{BASE}/booking-frequency", params={"buckets": [1, 2]}, headers=staff_headers
    ).json()
    assert [line["label"] for line in custom] == ["1", "2+"]
    refused = client.get(
        f"{BASE}/booking-frequency", params={"buckets": [2, 3]}, headers=staff_headers
    )
    assert refused.status_code == 422, refused.text

    cohorts = client.get(
        f"{BASE}/cohort-retention", params={"months": 2}, headers=staff_headers
    ).json()
    assert [(c["customers"], c["active"], c["retention"]) for c in cohorts] == [
        (1, [1, 0, 0], ["1.0000", "0.0000", "0.0000"])
    ]

    sources = client.get(f"{BASE}/source-conversion", headers=staff_headers)
    assert sources.status_code == 200, sources.text
    assert sources.json()["overlap_customers"] == 0
    assert [line["bookings"] for line in sources.json()["bookings"]] == [1]

    transitions = client.get(f"{BASE}/status-transitions", headers=staff_headers)
    assert transitions.status_code == 200, transitions.text
    assert isinstance(transitions.json(), list)

    imports = client.get(f"{BASE}/import-performance", headers=staff_headers)
    assert imports.json() == {"timings": [], "errors": []}


def test_analytics_reports_are_for_staff(client: ApiClient, sign_in: SignIn) -> None:
    asha = sign_in("+919876543210")
    for path in (
        "booking-frequency",
        "cohort-retention",
        "source-conversion",
        "status-transitions",
        "import-performance",
    ):
        answer = client.get(f"{BASE}/{path}", headers=asha)
        assert answer.status_code in (401, 403), (path, answer.text)
