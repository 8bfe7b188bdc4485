"""Seed 003's desk work over HTTP: leads assigned and followed up, retried creates,
the catalogue changed and searched, trips, and itinerary days edited by staff."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any
from uuid import uuid4

from tests.examples.api._client import ApiClient
from tests.examples.api._common import STORES

from bookingcore import StaffRole
from bookingcore.domain import Slot
from bookingcore.testing import FixedClock

SignIn = Callable[[str], dict[str, str]]
StaffSignIn = Callable[..., dict[str, str]]
Book = Callable[..., dict[str, Any]]


def _me(client: ApiClient, headers: dict[str, str], path: str) -> str:
    answer = client.get(path, headers=headers)
    assert answer.status_code == 200, answer.text
    me: str = answer.json()["id"]
    return me


@STORES
def test_a_lead_is_captured_once_assigned_and_followed_up(
    client: ApiClient,
    staff_headers: dict[str, str],
    staff_sign_in: StaffSignIn,
    clock: FixedClock,
) -> None:
    advisor = staff_sign_in("ravi@example.com", StaffRole.ADVISOR)
    advisor_id = _me(client, advisor, "/api/v1/auth/me")
    enquiry = {"source": "web_form", "phone": "+919876543210", "destination": "Spiti"}
    keyed = {**staff_headers, "Idempotency-Key": "lead-spiti-1"}
    first = client.post("/api/admin/leads", json=enquiry, headers=keyed)
    assert first.status_code == 201, first.text
    retry = client.post("/api/admin/leads", json=enquiry, headers=keyed)
    assert retry.status_code == 201, retry.text
    assert retry.json()["id"] == first.json()["id"]
    other = client.post("/api/admin/leads", json={**enquiry, "destination": "Goa"}, headers=keyed)
    assert other.status_code == 422
    assert other.json()["code"] == "idempotency_conflict"
    listed = client.get("/api/admin/leads", headers=staff_headers).json()
    assert [lead["id"] for lead in listed["items"]] == [first.json()["id"]]
    assert (listed["next_cursor"], listed["next"]) == (None, None)

    lead_url = f"/api/admin/leads/{first.json()['id']}"
    assigned = client.patch(
        f"{lead_url}/assign", json={"assign": advisor_id}, headers=staff_headers
    )
    assert assigned.status_code == 200, assigned.text
    assert assigned.json()["assignee_id"] == advisor_id
    # An advisor works the lead but may not hand it out.
    assert client.patch(
        f"{lead_url}/assign", json={"assign": None}, headers=advisor
    ).status_code == (403)
    by_strategy = client.patch(
        f"{lead_url}/assign", json={"assign": "least_loaded"}, headers=staff_headers
    )
    assert by_strategy.json()["assignee_id"] == advisor_id  # the only active advisor
    unknown = client.patch(
        f"{lead_url}/assign", json={"assign": str(uuid4())}, headers=staff_headers
    )
    assert unknown.status_code == 422
    assert unknown.json()["errors"][0]["field"] == "assignee_id"

    due = clock.now().date() + timedelta(days=2)
    planned = client.put(f"{lead_url}/follow-up", json={"follow_up_on": str(due)}, headers=advisor)
    assert planned.status_code == 200, planned.text
    assert planned.json()["follow_up_on"] == str(due)
    board = client.get("/api/admin/dashboard", params={"day": str(due)}, headers=staff_headers)
    assert [lead["id"] for lead in board.json()["follow_ups_due"]] == [first.json()["id"]]
    cleared = client.put(f"{lead_url}/follow-up", json={"follow_up_on": None}, headers=advisor)
    assert cleared.json()["follow_up_on"] is None
    board = client.get("/api/admin/dashboard", params={"day": str(due)}, headers=staff_headers)
    assert board.json()["follow_ups_due"] == []
    missing = client.put(
        f"/api/admin/leads/{uuid4()}/follow-up", json={"follow_up_on": None}, headers=staff_headers
    )
    assert missing.status_code == 404


def test_a_quotation_create_retried_with_its_key_makes_one_revision(
    client: ApiClient,
    sign_in: SignIn,
    staff_headers: dict[str, str],
    slot: Slot,
    clock: FixedClock,
) -> None:
    customer_id = _me(client, sign_in("+919876543210"), "/api/v1/customer/auth/profile")
    body = {
        "customer_id": customer_id,
        "slot_id": str(slot.id),
        "travelers": 2,
        "valid_until": str(clock.now().date() + timedelta(days=7)),
    }
    keyed = {**staff_headers, "Idempotency-Key": "quote-1"}
    first = client.post("/api/admin/quotations", json=body, headers=keyed)
    assert first.status_code == 201, first.text
    retry = client.post("/api/admin/quotations", json=body, headers=keyed)
    assert retry.json()["id"] == first.json()["id"]
    changed = client.post("/api/admin/quotations", json={**body, "travelers": 3}, headers=keyed)
    assert changed.status_code == 422
    unkeyed = client.post("/api/admin/quotations", json=body, headers=staff_headers)
    assert unkeyed.json()["id"] != first.json()["id"]
    listed = client.get("/api/admin/quotations", headers=staff_headers).json()
    assert [q["id"] for q in listed["items"]] == [unkeyed.json()["id"], first.json()["id"]]


@STORES
def test_staff_change_deactivate_and_search_the_catalogue(
    client: ApiClient,
    sign_in: SignIn,
    staff_headers: dict[str, str],
    staff_sign_in: StaffSignIn,
    slot: Slot,
) -> None:
    hotel = client.post(
        "/api/admin/suppliers", json={"code": "LAKESIDE", "name": "Lakeside"}, headers=staff_headers
    ).json()
    airline = client.post(
        "/api/admin/suppliers", json={"code": "SKYAIR", "name": "Sky Air"}, headers=staff_headers
    ).json()
    renamed = client.patch(
        f"/api/admin/suppliers/{hotel['id']}",
        json={"name": "Lakeside Resort", "email": "desk@lakeside.example"},
        headers=staff_headers,
    )
    assert renamed.status_code == 200, renamed.text
    assert (renamed.json()["name"], renamed.json()["email"]) == (
        "Lakeside Resort",
        "desk@lakeside.example",
    )
    bad = client.patch(
        f"/api/admin/suppliers/{hotel['id']}", json={"email": "not-an-email"}, headers=staff_headers
    )
    assert bad.status_code == 422
    assert bad.json()["errors"][0]["field"] == "email"

    def add(code: str, name: str, kind: str, supplier: dict[str, Any]) -> dict[str, Any]:
        made = client.post(
            "/api/admin/products",
            json={"code": code, "name": name, "kind": kind, "supplier_id": supplier["id"]},
            headers=staff_headers,
        )
        assert made.status_code == 201, made.text
        product: dict[str, Any] = made.json()
        return product

    room = add("LK-DBL", "Double room", "hotel", hotel)
    add("LK-SUITE", "Lake suite", "hotel", hotel)
    flight = add("SA-101", "Delhi to Kullu", "flight", airline)
    moved = client.patch(
        f"/api/admin/products/{room['id']}",
        json={"description": "Lake view, breakfast", "location_id": str(slot.location_id)},
        headers=staff_headers,
    )
    assert moved.status_code == 200, moved.text
    assert moved.json()["location_id"] == str(slot.location_id)

    def codes(path: str, headers: dict[str, str], **params: str) -> list[str]:
        """Every code the list answers, following ``next`` one item at a time, sorted
        (the items were made at one clock time, so newest first orders them by id)."""
        seen = [p["code"] for p in client.walk(path, headers, limit=1, **params)]
        assert len(seen) == len(set(seen)), seen
        return sorted(seen)

    assert codes("/api/admin/products", staff_headers, kind="hotel") == ["LK-DBL", "LK-SUITE"]
    assert codes("/api/admin/products", staff_headers, q="breakfast") == ["LK-DBL"]
    assert codes("/api/admin/products", staff_headers, location_id=str(slot.location_id)) == [
        "LK-DBL"
    ]
    assert codes("/api/admin/suppliers", staff_headers, q="sky") == ["SKYAIR"]

    customer = sign_in("+919876543210")
    assert codes("/api/products/flight/search", customer) == ["SA-101"]
    off = client.put(
        f"/api/admin/suppliers/{airline['id']}/active",
        json={"active": False},
        headers=staff_headers,
    )
    assert off.status_code == 200, off.text
    assert off.json()["is_active"] is False
    # A product of a deactivated supplier is no longer offered, but staff still see it.
    assert codes("/api/products/flight/search", customer) == []
    assert codes("/api/admin/products", staff_headers, kind="flight") == ["SA-101"]
    assert codes("/api/admin/products", staff_headers, kind="flight", only_active="true") == []
    suite_off = client.put(
        f"/api/admin/products/{flight['id']}/active", json={"active": False}, headers=staff_headers
    )
    assert suite_off.json()["is_active"] is False
    assert codes("/api/products/hotel/search", customer, q="lake") == ["LK-DBL", "LK-SUITE"]
    # seed 003's own paths name the kind in the plural
    assert codes("/api/products/hotels/search", customer, q="lake") == ["LK-DBL", "LK-SUITE"]
    assert codes("/api/products/activities/search", customer) == codes(
        "/api/products/activity/search", customer
    )
    unknown_kind = client.get("/api/products/spaceship/search", headers=customer)
    assert unknown_kind.status_code == 422
    assert unknown_kind.json()["errors"][0]["field"] == "kind"

    advisor = staff_sign_in("ravi@example.com", StaffRole.ADVISOR)
    refused = client.patch(
        f"/api/admin/products/{room['id']}", json={"name": "Mine now"}, headers=advisor
    )
    assert refused.status_code == 403
    assert (
        client.put(
            f"/api/admin/products/{uuid4()}/active", json={"active": True}, headers=staff_headers
        ).status_code
        == 404
    )


@STORES
def test_staff_group_bookings_as_a_trip_the_customer_reads(
    client: ApiClient,
    sign_in: SignIn,
    book: Book,
    staff_headers: dict[str, str],
    clock: FixedClock,
) -> None:
    asha = sign_in("+919876543210")
    asha_id = _me(client, asha, "/api/v1/customer/auth/profile")
    first, second = book(asha), book(asha, name="Asha Again")
    ravi = sign_in("+919876543211")
    ravis = book(ravi, name="Ravi Kumar")
    starts = clock.now().date() + timedelta(days=30)
    made = client.post(
        "/api/admin/trips",
        json={
            "customer_id": asha_id,
            "name": "Himachal in spring",
            "starts_on": str(starts),
            "ends_on": str(starts + timedelta(days=6)),
            "booking_ids": [first["id"]],
        },
        headers=staff_headers,
    )
    assert made.status_code == 201, made.text
    trip = made.json()
    url = f"/api/admin/trips/{trip['id']}"
    added = client.put(f"{url}/bookings/{second['id']}", headers=staff_headers)
    assert added.status_code == 200, added.text
    assert added.json()["booking_ids"] == [first["id"], second["id"]]
    foreign = client.put(f"{url}/bookings/{ravis['id']}", headers=staff_headers)
    assert foreign.status_code == 422
    assert foreign.json()["errors"][0]["field"] == "booking_id"
    removed = client.delete(f"{url}/bookings/{first['id']}", headers=staff_headers)
    assert removed.json()["booking_ids"] == [second["id"]]
    listed = client.get("/api/admin/trips", params={"customer_id": asha_id}, headers=staff_headers)
    assert [t["id"] for t in listed.json()["items"]] == [trip["id"]]
    assert (listed.json()["next_cursor"], listed.json()["next"]) == (None, None)
    backwards = client.post(
        "/api/admin/trips",
        json={
            "customer_id": asha_id,
            "name": "Backwards",
            "starts_on": str(starts),
            "ends_on": str(starts - timedelta(days=1)),
        },
        headers=staff_headers,
    )
    assert backwards.status_code == 422
    assert backwards.json()["errors"][0]["field"] == "ends_on"

    mine = client.get("/api/v1/customer/trips", headers=asha)
    assert [t["name"] for t in mine.json()["items"]] == ["Himachal in spring"]
    assert client.get(f"/api/v1/customer/trips/{trip['id']}", headers=asha).status_code == 200
    assert client.get(f"/api/v1/customer/trips/{trip['id']}", headers=ravi).status_code == 404
    assert client.get("/api/v1/customer/trips", headers=ravi).json()["items"] == []
    assert client.post("/api/admin/trips", json={}, headers=asha).status_code == 401


@STORES
def test_staff_edit_an_itinerarys_days_and_the_document_shows_the_edit(
    client: ApiClient,
    sign_in: SignIn,
    book: Book,
    staff_headers: dict[str, str],
    clock: FixedClock,
) -> None:
    asha = sign_in("+919876543210")
    booking = book(asha)
    plan_url = f"/api/admin/bookings/{booking['id']}/itinerary"
    day = clock.now().date() + timedelta(days=31)
    day_body = {"title": "Acclimatisation walk", "entries": ["Breakfast", "Walk to Jobra"]}
    before = client.put(f"{plan_url}/days/{day}", json=day_body, headers=staff_headers)
    assert before.status_code == 404  # no plan to edit yet
    assert client.post(plan_url, headers=staff_headers).status_code == 200
    edited = client.put(f"{plan_url}/days/{day}", json=day_body, headers=staff_headers)
    assert edited.status_code == 200, edited.text
    days = {d["day"]: d for d in edited.json()["days"]}
    assert days[str(day)]["entries"] == ["Breakfast", "Walk to Jobra"]
    read = client.get(f"/api/bookings/{booking['id']}/itinerary", headers=asha).json()
    assert str(day) in [d["day"] for d in read["days"]]

    rendered = client.post(
        "/api/documents/generate",
        json={"booking_id": booking["id"], "kind": "itinerary"},
        headers=staff_headers,
    )
    assert rendered.status_code == 200, rendered.text
    assert "Walk to Jobra" in rendered.json()[0]["content"]

    blank = client.put(f"{plan_url}/days/{day}", json={"title": " "}, headers=staff_headers)
    assert blank.status_code == 422
    assert blank.json()["errors"][0]["field"] == "title"
    assert client.put(f"{plan_url}/days/{day}", json=day_body, headers=asha).status_code == 401
    dropped = client.delete(f"{plan_url}/days/{day}", headers=staff_headers)
    assert dropped.status_code == 200, dropped.text
    assert str(day) not in [d["day"] for d in dropped.json()["days"]]


@STORES
def test_leads_and_quotations_are_listed_in_pages_with_a_next_link(
    client: ApiClient,
    sign_in: SignIn,
    staff_headers: dict[str, str],
    staff_sign_in: StaffSignIn,
    slot: Slot,
    clock: FixedClock,
) -> None:
    advisor = staff_sign_in("ravi@example.com", StaffRole.ADVISOR)
    advisor_id = _me(client, advisor, "/api/v1/auth/me")
    made = []
    for n in range(5):
        enquiry = {"source": "phone", "phone": f"+9198765432{n:02d}", "destination": "Spiti"}
        if n % 2:
            enquiry["assign"] = advisor_id
        answer = client.post("/api/admin/leads", json=enquiry, headers=staff_headers)
        assert answer.status_code == 201, answer.text
        made.append(answer.json())

    def walk(path: str, headers: dict[str, str], **params: str) -> list[str]:
        return [item["id"] for item in client.walk(path, headers, **params)]

    newest_first = [lead["id"] for lead in reversed(made)]
    assert walk("/api/admin/leads", staff_headers) == newest_first
    assigned = [lead["id"] for lead in reversed(made) if lead["assignee_id"] == advisor_id]
    assert walk("/api/admin/leads", advisor) == assigned
    assert walk("/api/admin/leads", staff_headers, status="new", assignee_id=advisor_id) == assigned
    bad = client.get("/api/admin/leads", params={"cursor": "not-a-cursor"}, headers=staff_headers)
    assert bad.status_code == 422
    assert bad.json()["errors"][0]["field"] == "cursor"

    asha = sign_in("+919876543299")
    customer_id = _me(client, asha, "/api/v1/customer/auth/profile")
    body = {
        "customer_id": customer_id,
        "slot_id": str(slot.id),
        "travelers": 1,
        "valid_until": str(clock.now().date() + timedelta(days=7)),
    }
    quotes = [client.post("/api/admin/quotations", json=body, headers=staff_headers).json()]

    def send_last() -> None:  # a customer sees a revision once it was sent
        url = f"/api/admin/quotations/{quotes[-1]['id']}/send"
        assert client.post(url, headers=staff_headers).status_code == 200

    send_last()
    for _ in range(2):
        url = f"/api/admin/quotations/{quotes[-1]['id']}/revise"
        quotes.append(client.post(url, json={"travelers": 2}, headers=staff_headers).json())
        send_last()
    revisions = [q["id"] for q in reversed(quotes)]
    assert walk("/api/v1/customer/quotations", asha) == revisions
    assert walk("/api/admin/quotations", staff_headers, customer_id=customer_id) == revisions
    superseded = walk("/api/admin/quotations", staff_headers, status="superseded")
    assert superseded == revisions[1:]
    unknown = client.get("/api/admin/quotations", params={"status": "maybe"}, headers=staff_headers)
    assert unknown.status_code == 422
    assert unknown.json()["errors"][0]["field"] == "status"


@STORES
def test_follow_ups_due_are_listed_earliest_first_in_pages_with_a_next_link(
    client: ApiClient,
    staff_headers: dict[str, str],
    staff_sign_in: StaffSignIn,
    clock: FixedClock,
) -> None:
    """Leads planned for the next days: the list due by a day walks them earliest
    follow-up first (leads sharing a day oldest first), an advisor only theirs, a
    lead moved on or planned later never."""
    advisor = staff_sign_in("ravi@example.com", StaffRole.ADVISOR)
    advisor_id = _me(client, advisor, "/api/v1/auth/me")
    today = clock.now().date()
    made: list[tuple[str, int, str | None]] = []
    for n in range(7):
        enquiry = {"source": "phone", "phone": f"+9198765432{n:02d}", "destination": "Spiti"}
        if n % 2:
            enquiry["assign"] = advisor_id
        lead = client.post("/api/admin/leads", json=enquiry, headers=staff_headers).json()
        in_days = (2, 0, 1, 0, 3, 2, 1)[n]
        planned = client.put(
            f"/api/admin/leads/{lead['id']}/follow-up",
            json={"follow_up_on": str(today + timedelta(days=in_days))},
            headers=staff_headers,
        )
        assert planned.status_code == 200, planned.text
        made.append((lead["id"], in_days, lead["assignee_id"]))
        clock.advance(minutes=1)
    lost = made[2][0]
    moved = client.post(
        f"/api/admin/leads/{lost}/status",
        json={"status": "lost", "reason": "went elsewhere"},
        headers=staff_headers,
    )
    assert moved.status_code == 200, moved.text
    url = "/api/admin/leads/follow-ups-due"
    by = str(today + timedelta(days=2))
    due = [i for i, days, _ in sorted(made, key=lambda m: m[1]) if days <= 2 and i != lost]
    assert len(due) == 5
    for limit in (1, 2, 5):
        assert [x["id"] for x in client.walk(url, staff_headers, limit=limit, day=by)] == due
    theirs = [i for i, _, assignee in sorted(made, key=lambda m: m[1]) if assignee == advisor_id]
    assert [x["id"] for x in client.walk(url, advisor, day=by)] == [i for i in theirs if i in due]
    today_only = [x["id"] for x in client.walk(url, staff_headers)]
    assert today_only == [i for i, days, _ in made if days == 0]
    bad = client.get(url, params={"cursor": "not-a-cursor"}, headers=staff_headers)
    assert (bad.status_code, bad.json()["errors"][0]["field"]) == (422, "cursor")
    # A cursor of the newest-first leads list is not a cursor of this one.
    other = client.get("/api/admin/leads", params={"limit": 1}, headers=staff_headers).json()
    wrong = client.get(url, params={"cursor": other["next_cursor"]}, headers=staff_headers)
    assert (wrong.status_code, wrong.json()["errors"][0]["field"]) == (422, "cursor")
    assert client.get(url).status_code == 401


@STORES
def test_trips_are_listed_newest_first_in_pages_with_a_next_link(
    client: ApiClient,
    sign_in: SignIn,
    staff_headers: dict[str, str],
    clock: FixedClock,
) -> None:
    asha = sign_in("+919876543210")
    asha_id = _me(client, asha, "/api/v1/customer/auth/profile")
    starts = clock.now().date() + timedelta(days=30)
    made = []
    for n in range(5):
        body = {
            "customer_id": asha_id,
            "name": f"Trip {n}",
            "starts_on": str(starts + timedelta(days=n)),
            "ends_on": str(starts + timedelta(days=n + 2)),
        }
        answer = client.post("/api/admin/trips", json=body, headers=staff_headers)
        assert answer.status_code == 201, answer.text
        made.append(answer.json()["id"])
        clock.advance(minutes=1)

    def walk(path: str, headers: dict[str, str], **params: str) -> list[str]:
        return [item["id"] for item in client.walk(path, headers, **params)]

    newest_first = list(reversed(made))
    assert walk("/api/admin/trips", staff_headers, customer_id=asha_id) == newest_first
    assert walk("/api/v1/customer/trips", asha) == newest_first
    bad = client.get("/api/v1/customer/trips", params={"cursor": "not-a-cursor"}, headers=asha)
    assert bad.status_code == 422
    assert bad.json()["errors"][0]["field"] == "cursor"
