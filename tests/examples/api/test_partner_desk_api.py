"""Seeds 001 and 002 over HTTP: partners on waiting lists, staff ordering a list,
partner management by admins, and the business's lists of every channel's customers
and bookings."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from uuid import UUID, uuid4

from tests.examples.api._client import ApiClient
from tests.examples.api._common import STORES
from tests.examples.api.conftest import SETUP

from bookingcore import BookingCore, PartnerId, StaffRole
from bookingcore.domain import Slot
from bookingcore.testing import FixedClock

SignIn = Callable[[str], dict[str, str]]
StaffSignIn = Callable[..., dict[str, str]]
Book = Callable[..., dict[str, Any]]


def _partner(api_core: BookingCore, client: ApiClient, slot: Slot, name: str) -> dict[str, str]:
    registered = api_core.partners.register(
        name=name,
        company_name=f"{name} Travel",
        contact_email=f"ops@{name.lower()}.example",
        principal=SETUP,
        allowed_location_ids=[slot.location_id],
    )
    answer = client.post(
        "/api/partner/auth/token",
        json={"api_key": registered.api_key, "api_secret": registered.api_secret},
    )
    assert answer.status_code == 200, answer.text
    return {"Authorization": f"Bearer {answer.json()['access_token']}"}


def _customer(client: ApiClient, partner: dict[str, str], phone: str) -> str:
    made = client.post(
        "/api/partner/customers", json={"phone": phone, "name": "Partner Guest"}, headers=partner
    )
    assert made.status_code == 201, made.text
    customer_id: str = made.json()["id"]
    return customer_id


@STORES
def test_a_partner_waits_for_its_customer_and_books_the_offer(
    api_core: BookingCore,
    client: ApiClient,
    sign_in: SignIn,
    book: Book,
    slot: Slot,
) -> None:
    asha = sign_in("+919876543210")
    full = book(asha, seats=4)
    alpha = _partner(api_core, client, slot, "Alpha")
    bravo = _partner(api_core, client, slot, "Bravo")
    guest = _customer(client, alpha, "+919800000001")
    joined = client.post(
        "/api/partner/waiting-lists",
        json={"slot_id": str(slot.id), "customer_id": guest, "seats": 1},
        headers=alpha,
    )
    assert joined.status_code == 201, joined.text
    entry = joined.json()
    assert (entry["status"], entry["priority"]) == ("waiting", "normal")
    twice = client.post(
        "/api/partner/waiting-lists",
        json={"slot_id": str(slot.id), "customer_id": guest},
        headers=alpha,
    )
    assert twice.status_code == 409
    # Another partner can neither wait for Alpha's customer nor see the entry.
    stolen = client.post(
        "/api/partner/waiting-lists",
        json={"slot_id": str(slot.id), "customer_id": guest},
        headers=bravo,
    )
    assert stolen.status_code == 404
    list_url = f"/api/partner/sessions/{slot.id}/waiting-list"
    assert [e["id"] for e in client.get(list_url, headers=alpha).json()] == [entry["id"]]
    assert client.get(list_url, headers=bravo).json() == []
    entry_url = f"/api/partner/waiting-lists/{entry['id']}"
    assert client.get(f"{entry_url}/place", headers=bravo).status_code == 404
    assert client.delete(entry_url, headers=bravo).status_code == 404
    theirs = f"/api/partner/customers/{guest}/waiting-lists"
    assert client.get(theirs, headers=bravo).status_code == 404
    assert [e["id"] for e in client.walk(theirs, alpha)] == [entry["id"]]
    assert client.get(f"{entry_url}/place", headers=alpha).json()["place"] == 1

    cancelled = client.post(f"/api/v1/customer/bookings/{full['id']}/cancel", json={}, headers=asha)
    assert cancelled.status_code == 200, cancelled.text
    assert client.get(f"{entry_url}/place", headers=alpha).json()["place"] == 0  # offered
    travelers = {"travelers": [{"name": "Partner Guest", "is_primary": True}]}
    assert client.post(f"{entry_url}/accept", json=travelers, headers=bravo).status_code == 404
    keyed = {**alpha, "Idempotency-Key": "alpha-accept-1"}
    accepted = client.post(f"{entry_url}/accept", json=travelers, headers=keyed)
    assert accepted.status_code == 201, accepted.text
    again = client.post(f"{entry_url}/accept", json=travelers, headers=keyed)
    assert again.json()["id"] == accepted.json()["id"]  # the retry answers the first booking
    mine = client.get("/api/partner/bookings", headers=alpha).json()
    assert accepted.json()["id"] in [b["id"] for b in mine["items"]]
    assert client.delete(entry_url, headers=alpha).status_code == 409  # booked: not active
    second = _customer(client, alpha, "+919800000002")
    waiting = client.post(
        "/api/partner/waiting-lists",
        json={"slot_id": str(slot.id), "customer_id": second},
        headers=alpha,
    ).json()
    left = client.delete(
        f"/api/partner/waiting-lists/{waiting['id']}",
        params={"reason": "changed plans"},
        headers=alpha,
    )
    assert left.status_code == 200, left.text
    assert left.json()["status"] == "cancelled"


@STORES
def test_staff_reorder_a_waiting_list_and_change_a_priority(
    client: ApiClient,
    sign_in: SignIn,
    book: Book,
    staff_headers: dict[str, str],
    staff_sign_in: StaffSignIn,
    slot: Slot,
) -> None:
    book(sign_in("+919876543210"), seats=4)
    entries = []
    for n in range(3):
        joined = client.post(
            "/api/v1/customer/waiting-lists",
            json={"slot_id": str(slot.id)},
            headers=sign_in(f"+91987654322{n}"),
        )
        assert joined.status_code == 201, joined.text
        entries.append(joined.json()["id"])
    first, second, third = entries
    list_url = f"/api/admin/sessions/{slot.id}/waiting-list"
    reordered = client.put(
        f"{list_url}/order", json={"entry_ids": [third, first]}, headers=staff_headers
    )
    assert reordered.status_code == 200, reordered.text
    # The two named swap the places they held; the one not named keeps its own.
    assert [e["id"] for e in reordered.json()] == [third, second, first]
    assert [e["id"] for e in client.get(list_url, headers=staff_headers).json()] == [
        third,
        second,
        first,
    ]
    twice = client.put(
        f"{list_url}/order", json={"entry_ids": [first, first]}, headers=staff_headers
    )
    assert twice.status_code == 422
    assert twice.json()["errors"][0]["field"] == "entry_ids"

    high = client.put(
        f"/api/admin/waiting-lists/{first}/priority",
        json={"priority": "high"},
        headers=staff_headers,
    )
    assert high.status_code == 200, high.text
    assert high.json()["priority"] == "high"
    assert [e["id"] for e in client.get(list_url, headers=staff_headers).json()] == [
        first,
        third,
        second,
    ]
    unknown = client.put(
        f"/api/admin/waiting-lists/{second}/priority",
        json={"priority": "royal"},
        headers=staff_headers,
    )
    assert unknown.status_code == 422
    advisor = staff_sign_in("ravi@example.com", StaffRole.ADVISOR)
    refused = client.put(
        f"/api/admin/waiting-lists/{second}/priority", json={"priority": "high"}, headers=advisor
    )
    assert refused.status_code == 403
    missing = client.put(
        f"/api/admin/waiting-lists/{uuid4()}/priority",
        json={"priority": "high"},
        headers=staff_headers,
    )
    assert missing.status_code == 404


@STORES
def test_admins_register_manage_and_audit_partners(
    api_core: BookingCore,
    client: ApiClient,
    staff_headers: dict[str, str],
    staff_sign_in: StaffSignIn,
    slot: Slot,
) -> None:
    registered = client.post(
        "/api/admin/partners",
        json={
            "name": "Blue Reef",
            "company_name": "Blue Reef Travel",
            "contact_email": "ops@bluereef.example",
            "allowed_location_ids": [str(slot.location_id)],
            "commission_rate": "12.5",
        },
        headers=staff_headers,
    )
    assert registered.status_code == 201, registered.text
    credentials = registered.json()
    partner = credentials["partner"]
    assert partner["allowed_location_ids"] == [str(slot.location_id)]
    assert credentials["webhook_secret"]
    token = client.post(
        "/api/partner/auth/token",
        json={"api_key": credentials["api_key"], "api_secret": credentials["api_secret"]},
    )
    assert token.status_code == 200, token.text
    again = client.post(
        "/api/admin/partners",
        json={"name": "Copy", "company_name": "Copy", "contact_email": "ops@bluereef.example"},
        headers=staff_headers,
    )
    assert again.status_code == 409

    url = f"/api/admin/partners/{partner['id']}"
    read = client.get(url, headers=staff_headers)
    assert read.status_code == 200, read.text
    assert credentials["api_secret"] not in read.text
    assert credentials["webhook_secret"] not in read.text
    assert [p["id"] for p in client.walk("/api/admin/partners", staff_headers)] == [partner["id"]]
    rotated = client.post(f"{url}/rotate-secret", headers=staff_headers)
    assert rotated.status_code == 200, rotated.text
    old = client.post(
        "/api/partner/auth/token",
        json={"api_key": credentials["api_key"], "api_secret": credentials["api_secret"]},
    )
    assert old.status_code == 401
    unknown_place = client.put(
        f"{url}/locations", json={"location_ids": [str(uuid4())]}, headers=staff_headers
    )
    assert unknown_place.status_code == 422
    nowhere = client.put(f"{url}/locations", json={"location_ids": []}, headers=staff_headers)
    assert nowhere.json()["allowed_location_ids"] == []
    off = client.put(f"{url}/active", json={"active": False}, headers=staff_headers)
    assert off.json()["is_active"] is False
    refused = client.post(
        "/api/partner/auth/token",
        json={"api_key": credentials["api_key"], "api_secret": rotated.json()["api_secret"]},
    )
    assert refused.status_code == 401
    history = client.get(f"{url}/history", headers=staff_headers)
    assert history.status_code == 200, history.text
    assert rotated.json()["api_secret"] not in history.text
    trail = client.walk(f"{url}/history", staff_headers, limit=1)
    assert [e["id"] for e in trail] == [e["id"] for e in history.json()["items"]]
    # registered, rotated, locations (the refused change left none), deactivated
    assert [e["action"] for e in trail] == [
        "deactivated",
        "updated",
        "credentials_rotated",
        "created",
    ]

    edited = client.patch(
        url,
        json={"company_name": "Blue Reef Holidays", "commission_rate": "15", "webhook_url": None},
        headers=staff_headers,
    )
    assert edited.status_code == 200, edited.text
    assert edited.json()["company_name"] == "Blue Reef Holidays"
    assert edited.json()["commission_rate"] == "15.00"
    assert edited.json()["name"] == "Blue Reef"
    stale = client.patch(
        url, json={"name": "Old view", "expected_version": 1}, headers=staff_headers
    )
    assert stale.status_code == 409
    bad = client.patch(
        url, json={"contact_email": "nowhere", "commission_rate": "-1"}, headers=staff_headers
    )
    assert bad.status_code == 422
    assert {e["field"] for e in bad.json()["errors"]} == {"contact_email", "commission_rate"}
    unnamed = client.patch(url, json={"name": None}, headers=staff_headers)
    assert unnamed.status_code == 422
    assert client.get(url, headers=staff_headers).json()["name"] == "Blue Reef"

    advisor = staff_sign_in("ravi@example.com", StaffRole.ADVISOR)
    assert client.patch(url, json={"name": "Mine"}, headers=advisor).status_code == 403
    assert client.get("/api/admin/partners", headers=advisor).status_code == 403
    assert client.post(f"{url}/rotate-secret", headers=advisor).status_code == 403
    assert client.get(f"/api/admin/partners/{uuid4()}", headers=staff_headers).status_code == 404


@STORES
def test_a_webhook_url_password_is_write_only_for_staff_and_the_partner(
    api_core: BookingCore, client: ApiClient, staff_headers: dict[str, str], slot: Slot
) -> None:
    registered = client.post(
        "/api/admin/partners",
        json={
            "name": "Hooked",
            "company_name": "Hooked Travel",
            "contact_email": "ops@hooked.example",
            "allowed_location_ids": [str(slot.location_id)],
            "webhook_url": "https://hooks:s3cret-pw@hooked.example/in",
        },
        headers=staff_headers,
    )
    assert registered.status_code == 201, registered.text
    credentials = registered.json()
    masked = "https://hooks:***@hooked.example/in"
    assert credentials["partner"]["webhook_url"] == masked
    partner_id = credentials["partner"]["id"]
    stored = api_core.partners.get(PartnerId(UUID(partner_id)), principal=SETUP)
    assert stored.webhook_url == "https://hooks:s3cret-pw@hooked.example/in"  # sent there
    token = client.post(
        "/api/partner/auth/token",
        json={"api_key": credentials["api_key"], "api_secret": credentials["api_secret"]},
    )
    assert token.status_code == 200, token.text
    own = {"Authorization": f"Bearer {token.json()['access_token']}"}
    url = f"/api/admin/partners/{partner_id}"
    for path, headers in [
        (url, staff_headers),
        (f"{url}/history", staff_headers),
        ("/api/admin/partners", staff_headers),
        ("/api/partner/me", own),
    ]:
        answer = client.get(path, headers=headers)
        assert answer.status_code == 200, answer.text
        assert "s3cret" not in answer.text
        assert masked in answer.text


def test_partners_are_listed_newest_first_in_pages_with_a_next_link(
    client: ApiClient,
    staff_headers: dict[str, str],
    staff_sign_in: StaffSignIn,
    clock: FixedClock,
) -> None:
    made = []
    for n, name in enumerate(["Blue Reef", "Atlas Tours", "Reef Divers", "Zest"]):
        body = {"name": name, "company_name": f"{name} Ltd", "contact_email": f"ops{n}@x.example"}
        answer = client.post("/api/admin/partners", json=body, headers=staff_headers)
        assert answer.status_code == 201, answer.text
        made.append(answer.json()["partner"]["id"])
        clock.advance(minutes=1)
    off = client.put(
        f"/api/admin/partners/{made[2]}/active", json={"active": False}, headers=staff_headers
    )
    assert off.status_code == 200, off.text
    url = "/api/admin/partners"
    newest_first = list(reversed(made))
    for limit in (1, 2, 3):
        assert [p["id"] for p in client.walk(url, staff_headers, limit=limit)] == newest_first
    reef = client.walk(url, staff_headers, limit=1, q="REEF")
    assert [p["id"] for p in reef] == [made[2], made[0]]
    active_reef = client.walk(url, staff_headers, limit=1, q="reef", only_active="true")
    assert [p["id"] for p in active_reef] == [made[0]]
    assert [p["id"] for p in client.walk(url, staff_headers, q="ops3@x")] == [made[3]]
    bad = client.get(url, params={"cursor": "not-a-cursor"}, headers=staff_headers)
    assert (bad.status_code, bad.json()["errors"][0]["field"]) == (422, "cursor")
    advisor = staff_sign_in("ravi@example.com", StaffRole.ADVISOR)
    assert client.get(url, headers=advisor).status_code == 403


@STORES
def test_staff_list_customers_and_bookings_of_every_channel(
    api_core: BookingCore,
    client: ApiClient,
    sign_in: SignIn,
    book: Book,
    staff_headers: dict[str, str],
    slot: Slot,
) -> None:
    alpha = _partner(api_core, client, slot, "Alpha")
    guest = _customer(client, alpha, "+919800000001")
    by_partner = client.post(
        "/api/partner/bookings",
        json={
            "slot_id": str(slot.id),
            "customer": {"phone": "+919800000001"},
            "travelers": [{"name": "Partner Guest", "is_primary": True}],
        },
        headers=alpha,
    ).json()
    asha = sign_in("+919876543210")
    direct = book(asha)

    def customers(**params: Any) -> list[str]:
        answer = client.get("/api/customers", params=params, headers=staff_headers)
        assert answer.status_code == 200, answer.text
        return [c["id"] for c in answer.json()["items"]]

    assert set(customers()) == {guest, direct["customer_id"]}
    assert customers(source="partner") == [guest]
    assert customers(partner_id=by_partner["partner_id"]) == [guest]
    assert customers(q="+919876543210") == [direct["customer_id"]]
    first = client.get("/api/customers", params={"limit": 1}, headers=staff_headers).json()
    assert len(first["items"]) == 1
    rest = client.get(first["next"], headers=staff_headers).json()
    assert [*[c["id"] for c in first["items"]], *[c["id"] for c in rest["items"]]] == customers()
    listed = client.get(
        "/api/customers", params={"source": "carrier-pigeon"}, headers=staff_headers
    )
    assert listed.status_code == 422
    assert listed.json()["errors"][0]["field"] == "source[0]"
    assert client.get("/api/customers", headers=asha).status_code == 401
    assert client.get("/api/customers", headers=alpha).status_code == 401

    def bookings(headers: dict[str, str], **params: Any) -> Any:
        return client.get("/api/bookings", params=params, headers=headers)

    only_partner = bookings(staff_headers, source="partner").json()
    assert [b["id"] for b in only_partner["items"]] == [by_partner["id"]]
    of_alpha = bookings(staff_headers, partner_id=by_partner["partner_id"]).json()
    assert [b["id"] for b in of_alpha["items"]] == [by_partner["id"]]
    assert [b["id"] for b in bookings(staff_headers, source="direct").json()["items"]] == [
        direct["id"]
    ]
    bravo = _partner(api_core, client, slot, "Bravo")
    assert bookings(bravo, partner_id=by_partner["partner_id"]).status_code == 403


def test_staff_see_a_disabled_webhook_endpoint_and_enable_it(
    api_core: BookingCore, client: ApiClient, staff_headers: dict[str, str], slot: Slot
) -> None:
    """A 410 Gone answer disabled the partner's endpoint: staff see when and why, and
    ``POST .../webhooks/enable`` sends it webhooks again."""
    registered = client.post(
        "/api/admin/partners",
        json={
            "name": "Gone",
            "company_name": "Gone Travel",
            "contact_email": "ops@gone.example",
            "allowed_location_ids": [str(slot.location_id)],
            "webhook_url": "https://hooks:s3cret-pw@gone.example/in",
        },
        headers=staff_headers,
    )
    assert registered.status_code == 201, registered.text
    partner_id = registered.json()["partner"]["id"]
    with api_core.context.uow_factory() as uow:  # what a 410 answer does
        partner = uow.partners.get(PartnerId(UUID(partner_id)))
        assert partner is not None
        reason = "https://hooks:s3cret-pw@gone.example/in answered 410 Gone to webhook msg_1"
        partner.disable_webhooks(api_core.context.now(), reason)
        partner.version += 1
        uow.commit()
    url = f"/api/admin/partners/{partner_id}"
    shown = client.get(url, headers=staff_headers)
    assert shown.status_code == 200, shown.text
    assert shown.json()["webhook_disabled_at"] is not None
    assert "410 Gone" in shown.json()["webhook_disabled_reason"]
    assert "s3cret" not in shown.text
    enabled = client.post(f"{url}/webhooks/enable", headers=staff_headers)
    assert enabled.status_code == 200, enabled.text
    assert (enabled.json()["webhook_disabled_at"], enabled.json()["webhook_disabled_reason"]) == (
        None,
        None,
    )
    missing = client.post(f"/api/admin/partners/{uuid4()}/webhooks/enable", headers=staff_headers)
    assert missing.status_code == 404
