"""Seed 003's travel desk over HTTP: lead, quotation revisions, approval, supplier answers."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from uuid import UUID, uuid4

import pytest
from tests.examples.api._client import ApiClient
from tests.examples.api.conftest import SETUP, STAFF_PASSWORD

from bookingcore import BookingCore, EmailAddress, StaffId, StaffRole, SupplierId
from bookingcore.domain import Slot, StaffMember
from bookingcore.testing import FixedClock

SignIn = Callable[[str], dict[str, str]]
StaffSignIn = Callable[..., dict[str, str]]


def _supplier_user(
    api_core: BookingCore, client: ApiClient, supplier_id: str, email: str
) -> dict[str, str]:
    """A supplier's user, signed in through the staff login."""
    now = api_core.context.now()
    member = StaffMember(
        id=StaffId(uuid4()),
        email=EmailAddress(email),
        name="Supplier desk",
        role=StaffRole.SUPPLIER,
        created_at=now,
        updated_at=now,
        supplier_id=SupplierId(UUID(supplier_id)),
    )
    with api_core.context.uow_factory() as uow:
        uow.staff.add(member)
        uow.commit()
    api_core.staff.set_password(member.id, STAFF_PASSWORD, principal=SETUP)
    answer = client.post("/api/v1/auth/login", json={"email": email, "password": STAFF_PASSWORD})
    assert answer.status_code == 200, answer.text
    return {"Authorization": f"Bearer {answer.json()['access_token']}"}


@pytest.mark.parametrize(
    "uow_factory",
    ["memory", "sqlite", pytest.param("postgres", marks=pytest.mark.postgres)],
    indirect=True,
)
def test_a_lead_becomes_a_booking_through_a_revised_quotation(
    api_core: BookingCore,
    client: ApiClient,
    sign_in: SignIn,
    staff_headers: dict[str, str],
    slot: Slot,
    clock: FixedClock,
) -> None:
    hotel = client.post(
        "/api/admin/suppliers", json={"code": "LAKESIDE", "name": "Lakeside"}, headers=staff_headers
    )
    assert hotel.status_code == 201, hotel.text
    taken = client.post(
        "/api/admin/suppliers", json={"code": "LAKESIDE", "name": "Again"}, headers=staff_headers
    )
    assert taken.status_code == 409
    room = client.post(
        "/api/admin/products",
        json={
            "code": "LK-DBL",
            "name": "Double room",
            "kind": "hotel",
            "supplier_id": hotel.json()["id"],
        },
        headers=staff_headers,
    )
    assert room.status_code == 201, room.text
    listed = client.get("/api/admin/products", headers=staff_headers).json()
    assert ([p["code"] for p in listed["items"]], listed["next"]) == (["LK-DBL"], None)

    asha = sign_in("+919876543210")
    lead = client.post(
        "/api/admin/leads",
        json={"source": "phone", "phone": "+919876543210", "destination": "Manali", "travelers": 1},
        headers=staff_headers,
    )
    assert lead.status_code == 201, lead.text
    lead_url = f"/api/admin/leads/{lead.json()['id']}"
    move_keyed = {**staff_headers, "Idempotency-Key": "move-1"}
    moved = client.post(f"{lead_url}/status", json={"status": "contacted"}, headers=move_keyed)
    assert moved.json()["status"] == "contacted"
    again = client.post(f"{lead_url}/status", json={"status": "contacted"}, headers=move_keyed)
    assert again.status_code == 200, again.text  # the lead, not a 409 for its status
    assert again.json() == moved.json()
    other = client.post(f"{lead_url}/status", json={"status": "lost"}, headers=move_keyed)
    assert other.status_code == 422, other.text
    assign_keyed = {**staff_headers, "Idempotency-Key": "assign-1"}
    for _ in range(2):
        kept = client.patch(f"{lead_url}/assign", json={"assign": None}, headers=assign_keyed)
        assert kept.status_code == 200, kept.text
        assert kept.json()["version"] == moved.json()["version"] + 1
    refused = client.patch(f"{lead_url}/assign", json={"assign": None}, headers=move_keyed)
    assert refused.status_code == 422, refused.text
    assert client.get(f"/api/admin/leads/{uuid4()}", headers=staff_headers).status_code == 404

    today = clock.now().date()
    line = {
        "kind": "hotel",
        "description": "Lakeside, 2 nights",
        "quantity": 2,
        "unit_price": {"amount": "3000.00", "currency": "INR"},
        "supplier_id": hotel.json()["id"],
        "product_id": room.json()["id"],
    }
    draft = client.post(
        "/api/admin/quotations",
        json={
            "customer_id": lead.json()["customer_id"],
            "slot_id": str(slot.id),
            "travelers": 1,
            "valid_until": str(today + timedelta(days=10)),
            "lines": [line],
            "lead_id": lead.json()["id"],
        },
        headers=staff_headers,
    )
    assert draft.status_code == 201, draft.text
    assert draft.json()["total"]["amount"] == "14500.00"
    travelers = {"travelers": [{"name": "Asha Verma", "is_primary": True}]}
    first = draft.json()["id"]
    early = client.post(
        f"/api/v1/customer/quotations/{first}/approve",
        json=travelers,
        headers={**asha, "Idempotency-Key": "early"},
    )
    assert early.status_code == 404  # a draft never sent is not the customer's to see
    revised = client.post(
        f"/api/admin/quotations/{first}/revise",
        json={"lines": [{**line, "quantity": 3}]},
        headers=staff_headers,
    )
    assert revised.status_code == 200, revised.text
    second = revised.json()["id"]
    assert (revised.json()["revision"], revised.json()["total"]["amount"]) == (2, "17500.00")
    old = client.get(f"/api/admin/quotations/{first}", headers=staff_headers).json()
    assert old["status"] == "superseded"
    send_keyed = {**staff_headers, "Idempotency-Key": "send-1"}
    sent = client.post(f"/api/admin/quotations/{second}/send", headers=send_keyed)
    assert sent.status_code == 200, sent.text
    resent = client.post(f"/api/admin/quotations/{second}/send", headers=send_keyed)
    assert resent.json()["id"] == sent.json()["id"]  # a retry: the same message, sent once
    other = client.post(f"/api/admin/quotations/{first}/send", headers=send_keyed)
    assert other.status_code == 422  # the key sent another quotation
    assert other.json()["code"] == "idempotency_conflict"
    mine = client.get(f"/api/v1/customer/quotations/{second}", headers=asha)
    assert mine.json()["status"] == "sent"

    url = f"/api/v1/customer/quotations/{second}/approve"
    unkeyed = client.post(url, json=travelers, headers=asha)
    assert unkeyed.status_code == 422
    keyed = {**asha, "Idempotency-Key": "approve-1"}
    booked = client.post(url, json=travelers, headers=keyed)
    assert booked.status_code == 201, booked.text
    replay = client.post(url, json=travelers, headers=keyed)
    assert replay.json()["id"] == booked.json()["id"]

    booking_id = booked.json()["id"]
    items = client.get(f"/api/admin/bookings/{booking_id}/items", headers=staff_headers).json()
    assert [(i["description"], i["status"]) for i in items] == [("Lakeside, 2 nights", "pending")]
    lakeside = _supplier_user(api_core, client, hotel.json()["id"], "desk@lakeside.example")
    assert [i["id"] for i in client.walk("/api/supplier/items", lakeside)] == [items[0]["id"]]
    confirm_url = f"/api/supplier/items/{items[0]['id']}/confirm"
    confirm_keyed = {**lakeside, "Idempotency-Key": "confirm-1"}
    answer = {"supplier_reference": "LK-991"}
    confirmed = client.post(confirm_url, json=answer, headers=confirm_keyed)
    assert confirmed.status_code == 200, confirmed.text
    assert confirmed.json()["status"] == "confirmed"
    retried = client.post(confirm_url, json=answer, headers=confirm_keyed)
    assert retried.status_code == 200, retried.text  # the item, not a 409 for its status
    assert retried.json() == confirmed.json()
    other = client.post(confirm_url, json={"supplier_reference": "LK-992"}, headers=confirm_keyed)
    assert other.status_code == 422, other.text
    assert client.post(confirm_url, json=answer, headers=lakeside).status_code == 409
    twice = client.post(
        f"/api/supplier/items/{items[0]['id']}/reject", json={"reason": "full"}, headers=lakeside
    )
    assert twice.status_code == 409

    documents = client.post(
        "/api/documents/generate",
        json={"booking_id": booking_id, "kind": "quotation"},
        headers=staff_headers,
    )
    assert documents.status_code == 200, documents.text
    assert documents.json()[0]["kind"] == "quotation"
    wrong = client.post(
        "/api/documents/generate",
        json={"booking_id": booking_id, "kind": "passport"},
        headers=staff_headers,
    )
    assert wrong.status_code == 422
    board = client.get("/api/admin/dashboard", headers=staff_headers)
    assert board.status_code == 200, board.text
    assert board.json()["leads_by_status"]["won"] == 1
    assert client.get("/api/admin/dashboard", headers=asha).status_code == 401


def test_a_customer_rejects_a_sent_quotation(
    client: ApiClient,
    sign_in: SignIn,
    staff_headers: dict[str, str],
    staff_sign_in: StaffSignIn,
    slot: Slot,
    clock: FixedClock,
) -> None:
    asha = sign_in("+919876543210")
    me = client.get("/api/v1/customer/auth/profile", headers=asha).json()["id"]
    body = {
        "customer_id": me,
        "slot_id": str(slot.id),
        "travelers": 1,
        "valid_until": str(clock.now().date() + timedelta(days=5)),
    }
    advisor = staff_sign_in("adv@example.com", StaffRole.ADVISOR)
    assert client.post("/api/admin/quotations", json=body, headers=advisor).status_code == 403
    made = client.post("/api/admin/quotations", json=body, headers=staff_headers).json()
    client.post(f"/api/admin/quotations/{made['id']}/send", headers=staff_headers)
    ravi = sign_in("+919876543211")
    url = f"/api/v1/customer/quotations/{made['id']}/reject"
    assert client.post(url, json={}, headers=ravi).status_code == 404
    rejected = client.post(url, json={"reason": "too dear"}, headers=asha)
    assert rejected.status_code == 200, rejected.text
    assert (rejected.json()["status"], rejected.json()["rejection_reason"]) == (
        "rejected",
        "too dear",
    )
    listed = client.get(
        "/api/admin/quotations", params={"status": "rejected"}, headers=staff_headers
    )
    assert [q["id"] for q in listed.json()["items"]] == [made["id"]]


def test_an_itinerary_is_planned_from_the_items_and_read_by_the_customer(
    client: ApiClient,
    sign_in: SignIn,
    staff_headers: dict[str, str],
    slot: Slot,
    clock: FixedClock,
) -> None:
    asha = sign_in("+919876543210")
    me = client.get("/api/v1/customer/auth/profile", headers=asha).json()["id"]
    starts = clock.now().date() + timedelta(days=30)
    line = {
        "kind": "activity",
        "description": "Rafting on the Beas",
        "quantity": 1,
        "unit_price": {"amount": "1500.00", "currency": "INR"},
        "service_starts_on": str(starts),
        "service_ends_on": str(starts),
    }
    made = client.post(
        "/api/admin/quotations",
        json={
            "customer_id": me,
            "slot_id": str(slot.id),
            "travelers": 1,
            "valid_until": str(clock.now().date() + timedelta(days=5)),
            "lines": [line],
        },
        headers=staff_headers,
    ).json()
    client.post(f"/api/admin/quotations/{made['id']}/send", headers=staff_headers)
    mine = client.get("/api/v1/customer/quotations", headers=asha).json()
    assert [q["id"] for q in mine["items"]] == [made["id"]]
    booked = client.post(
        f"/api/v1/customer/quotations/{made['id']}/approve",
        json={"travelers": [{"name": "Asha Verma", "is_primary": True}]},
        headers={**asha, "Idempotency-Key": "approve-plan"},
    )
    assert booked.status_code == 201, booked.text
    url = f"/api/bookings/{booked.json()['id']}/itinerary"
    assert client.get(url, headers=asha).status_code == 404  # no plan yet
    planned = client.post(
        f"/api/admin/bookings/{booked.json()['id']}/itinerary", headers=staff_headers
    )
    assert planned.status_code == 200, planned.text
    read = client.get(url, headers=asha)
    assert read.status_code == 200, read.text
    days = read.json()["days"]
    assert [(d["day"], d["entries"][-1]) for d in days] == [(str(starts), "Rafting on the Beas")]
    ravi = sign_in("+919876543211")
    assert client.get(url, headers=ravi).status_code == 404


@pytest.mark.parametrize(
    "uow_factory",
    ["memory", "sqlite", pytest.param("postgres", marks=pytest.mark.postgres)],
    indirect=True,
)
def test_a_suppliers_items_are_listed_newest_first_in_pages_with_a_next_link(
    api_core: BookingCore,
    client: ApiClient,
    sign_in: SignIn,
    staff_headers: dict[str, str],
    slot: Slot,
    clock: FixedClock,
) -> None:
    """Two approved quotations give a hotel five items; its user walks them newest
    first (a status filter rides along in ``next``), staff name the supplier, and the
    other supplier's user sees only its own."""
    asha = sign_in("+919876543210")
    me = client.get("/api/v1/customer/auth/profile", headers=asha).json()["id"]
    hotel, jeeps = (
        client.post(
            "/api/admin/suppliers", json={"code": code, "name": code}, headers=staff_headers
        ).json()["id"]
        for code in ("LAKESIDE", "JEEPS")
    )

    def line(n: int, supplier_id: str) -> dict[str, object]:
        return {
            "kind": "hotel",
            "description": f"Night {n}",
            "quantity": 1,
            "unit_price": {"amount": "1000.00", "currency": "INR"},
            "supplier_id": supplier_id,
        }

    booked: list[str] = []
    for n, lines in enumerate(([line(1, hotel), line(2, hotel)], [line(3, hotel), line(4, jeeps)])):
        made = client.post(
            "/api/admin/quotations",
            json={
                "customer_id": me,
                "slot_id": str(slot.id),
                "travelers": 1,
                "valid_until": str(clock.now().date() + timedelta(days=5)),
                "lines": [*lines, line(5 + n, hotel)],
            },
            headers=staff_headers,
        ).json()
        client.post(f"/api/admin/quotations/{made['id']}/send", headers=staff_headers)
        answer = client.post(
            f"/api/v1/customer/quotations/{made['id']}/approve",
            json={"travelers": [{"name": ("Asha Verma", "Ravi Verma")[n], "is_primary": True}]},
            headers={**asha, "Idempotency-Key": f"approve-{n}"},
        )
        assert answer.status_code == 201, answer.text
        booked.append(answer.json()["id"])
        clock.advance(minutes=1)
    items = [
        i
        for booking_id in reversed(booked)
        for i in sorted(
            client.get(f"/api/admin/bookings/{booking_id}/items", headers=staff_headers).json(),
            key=lambda i: UUID(i["id"]).bytes,
            reverse=True,
        )
    ]
    newest_first = [i["id"] for i in items if i["supplier_id"] == hotel]
    assert len(newest_first) == 5
    lakeside = _supplier_user(api_core, client, hotel, "desk@lakeside.example")
    for limit in (1, 2, 5):
        seen = client.walk("/api/supplier/items", lakeside, limit=limit)
        assert [i["id"] for i in seen] == newest_first, limit
    staff_walk = client.walk("/api/supplier/items", staff_headers, supplier_id=hotel)
    assert [i["id"] for i in staff_walk] == newest_first
    confirmed = newest_first[1::2]
    for item_id in confirmed:
        done = client.post(f"/api/supplier/items/{item_id}/confirm", json={}, headers=lakeside)
        assert done.status_code == 200, done.text
    walked = client.walk("/api/supplier/items", lakeside, limit=1, status="confirmed")
    assert [i["id"] for i in walked] == confirmed
    jeep_desk = _supplier_user(api_core, client, jeeps, "desk@jeeps.example")
    theirs = [i["id"] for i in items if i["supplier_id"] == jeeps]
    assert [i["id"] for i in client.walk("/api/supplier/items", jeep_desk)] == theirs
    bad = client.get("/api/supplier/items", params={"cursor": "nope"}, headers=lakeside)
    assert (bad.status_code, bad.json()["errors"][0]["field"]) == (422, "cursor")
    assert client.get("/api/supplier/items", headers=asha).status_code == 401


@pytest.mark.parametrize(
    "uow_factory",
    ["memory", "sqlite", pytest.param("postgres", marks=pytest.mark.postgres)],
    indirect=True,
)
def test_a_lead_is_converted_and_its_quotation_revised_once_per_key(
    client: ApiClient,
    staff_headers: dict[str, str],
    staff_sign_in: StaffSignIn,
    slot: Slot,
    clock: FixedClock,
) -> None:
    """Lead -> quotation (party size from the lead) -> revision, each replayed by its key."""
    lead = client.post(
        "/api/admin/leads",
        json={"source": "phone", "phone": "+919876543210", "destination": "Manali", "travelers": 2},
        headers=staff_headers,
    ).json()
    until = str(clock.now().date() + timedelta(days=10))
    body = {"slot_id": str(slot.id), "valid_until": until, "notes": "two seats"}
    url = f"/api/admin/leads/{lead['id']}/convert"
    advisor = staff_sign_in("adv@example.com", StaffRole.ADVISOR)
    refused = client.post(url, json=body, headers=advisor)
    assert refused.status_code == 404, refused.text  # an advisor sees only leads assigned to them
    keyed = {**staff_headers, "Idempotency-Key": "convert-1"}
    made = client.post(url, json=body, headers=keyed)
    assert made.status_code == 201, made.text
    draft = made.json()
    assert (draft["travelers"], draft["revision"], draft["status"]) == (2, 1, "draft")
    assert (draft["lead_id"], draft["customer_id"]) == (lead["id"], lead["customer_id"])
    assert draft["total"]["amount"] == "17000.00"  # two seats at 8,500 INR
    again = client.post(url, json=body, headers=keyed)
    assert (again.status_code, again.json()["id"]) == (201, draft["id"])
    other = client.post(url, json={**body, "travelers": 3}, headers=keyed)
    assert other.status_code == 422
    assert other.json()["code"] == "idempotency_conflict"
    quoted = client.get(f"/api/admin/leads/{lead['id']}", headers=staff_headers)
    assert quoted.json()["status"] == "quoted"

    revise = f"/api/admin/quotations/{draft['id']}/revise"
    rekeyed = {**staff_headers, "Idempotency-Key": "revise-1"}
    revised = client.post(revise, json={"travelers": 1}, headers=rekeyed)
    assert revised.status_code == 200, revised.text
    second = revised.json()
    assert (second["revision"], second["travelers"], second["total"]["amount"]) == (
        2,
        1,
        "8500.00",
    )
    replay = client.post(revise, json={"travelers": 1}, headers=rekeyed)
    assert (replay.status_code, replay.json()["id"]) == (200, second["id"])
    stale = client.post(revise, json={"travelers": 3}, headers=staff_headers)
    assert stale.status_code == 422, stale.text
    assert [e["code"] for e in stale.json()["errors"]] == ["superseded"]
    history = client.get(f"/api/admin/quotations/{draft['id']}/revisions", headers=staff_headers)
    assert history.status_code == 200, history.text
    assert [(q["id"], q["status"]) for q in history.json()] == [
        (draft["id"], "superseded"),
        (second["id"], "draft"),
    ]
    unknown = client.get(f"/api/admin/quotations/{uuid4()}/revisions", headers=staff_headers)
    assert unknown.status_code == 404


def test_a_lost_lead_is_not_converted_and_a_lead_without_party_size_needs_one(
    client: ApiClient, staff_headers: dict[str, str], slot: Slot, clock: FixedClock
) -> None:
    until = str(clock.now().date() + timedelta(days=10))
    body = {"slot_id": str(slot.id), "valid_until": until}
    lead = client.post(
        "/api/admin/leads",
        json={"source": "phone", "phone": "+919876543210", "destination": "Manali"},
        headers=staff_headers,
    ).json()
    url = f"/api/admin/leads/{lead['id']}/convert"
    unsized = client.post(url, json=body, headers=staff_headers)
    assert unsized.status_code == 422, unsized.text
    assert [e["field"] for e in unsized.json()["errors"]] == ["travelers"]
    lost = client.post(
        f"/api/admin/leads/{lead['id']}/status", json={"status": "lost"}, headers=staff_headers
    )
    assert lost.status_code == 200, lost.text
    refused = client.post(url, json={**body, "travelers": 1}, headers=staff_headers)
    assert refused.status_code == 409, refused.text
    missing = client.post(f"/api/admin/leads/{uuid4()}/convert", json=body, headers=staff_headers)
    assert missing.status_code == 404
