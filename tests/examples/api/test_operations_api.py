"""Waiting lists, groups, reports, commissions, partner webhooks and booking changes over HTTP."""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Callable
from datetime import timedelta
from typing import Any
from uuid import UUID, uuid4

from anyio.from_thread import start_blocking_portal
from tests.examples.api._client import ApiClient
from tests.examples.api._common import STORES
from tests.examples.api.conftest import SETUP

from bookingcore import (
    BookingCore,
    BookingGroupId,
    BookingId,
    BookingRequest,
    CustomerId,
    Money,
    NewTraveler,
    Principal,
    ProductRequirements,
    StaffId,
    StaffRole,
    TravelerDetails,
)
from bookingcore.domain import Slot, WebhookDelivery, WebhookTopic
from bookingcore.services import BookedItem
from bookingcore.testing import FakePaymentProvider, FixedClock, RecordingNotifier
from examples.api import create_app

SignIn = Callable[[str], dict[str, str]]
StaffSignIn = Callable[..., dict[str, str]]
Book = Callable[..., dict[str, Any]]


def _partner(
    api_core: BookingCore, client: ApiClient, slot: Slot, name: str, rate: str | None = None
) -> dict[str, str]:
    registered = api_core.partners.register(
        name=name,
        company_name=f"{name} Travel",
        contact_email=f"ops@{name.lower()}.example",
        principal=SETUP,
        allowed_location_ids=[slot.location_id],
        commission_rate=rate,
    )
    answer = client.post(
        "/api/partner/auth/token",
        json={"api_key": registered.api_key, "api_secret": registered.api_secret},
    )
    assert answer.status_code == 200, answer.text
    return {"Authorization": f"Bearer {answer.json()['access_token']}"}


def _me(client: ApiClient, headers: dict[str, str]) -> str:
    profile = client.get("/api/v1/customer/auth/profile", headers=headers)
    assert profile.status_code == 200, profile.text
    me: str = profile.json()["id"]
    return me


@STORES
def test_a_freed_seat_goes_to_the_waiting_list_and_is_booked(
    client: ApiClient, sign_in: SignIn, book: Book, staff_headers: dict[str, str], slot: Slot
) -> None:
    """Join a full slot, see the place, get offered on a cancellation, accept; staff remove."""
    asha = sign_in("+919876543210")
    full = book(asha, seats=4)
    ravi = sign_in("+919876543211")
    joined = client.post(
        "/api/v1/customer/waiting-lists", json={"slot_id": str(slot.id)}, headers=ravi
    )
    assert joined.status_code == 201, joined.text
    entry = joined.json()
    assert (entry["status"], entry["seats"]) == ("waiting", 1)
    twice = client.post(
        "/api/v1/customer/waiting-lists", json={"slot_id": str(slot.id)}, headers=ravi
    )
    assert twice.status_code == 409
    place = client.get(f"/api/v1/customer/waiting-lists/{entry['id']}/place", headers=ravi)
    assert (place.json()["place"], place.json()["seats_ahead"]) == (1, 0)

    meera = sign_in("+919876543212")
    added = client.post(
        "/api/admin/waiting-lists",
        json={"slot_id": str(slot.id), "customer_id": _me(client, meera), "seats": 2},
        headers=staff_headers,
    )
    assert added.status_code == 201, added.text
    listed = client.get(f"/api/admin/sessions/{slot.id}/waiting-list", headers=staff_headers)
    assert [e["id"] for e in listed.json()] == [entry["id"], added.json()["id"]]
    assert client.get(f"/api/admin/sessions/{slot.id}/waiting-list", headers=ravi).status_code == (
        401
    )
    # Meera's entry is not Ravi's to see.
    theirs = f"/api/v1/customer/waiting-lists/{added.json()['id']}/place"
    assert client.get(theirs, headers=ravi).status_code == 404

    cancelled = client.post(f"/api/v1/customer/bookings/{full['id']}/cancel", json={}, headers=asha)
    assert cancelled.status_code == 200, cancelled.text
    mine = client.walk("/api/v1/customer/waiting-lists", ravi)
    assert [(e["id"], e["status"]) for e in mine] == [(entry["id"], "offered")]
    assert (
        client.get(theirs.replace(added.json()["id"], entry["id"]), headers=ravi).json()["place"]
        == 0
    )
    too_many = client.post(
        f"/api/v1/customer/waiting-lists/{entry['id']}/accept",
        json={"travelers": [{"name": f"Ravi {n}", "is_primary": n == 0} for n in range(2)]},
        headers=ravi,
    )
    assert too_many.status_code == 422
    accepted = client.post(
        f"/api/v1/customer/waiting-lists/{entry['id']}/accept",
        json={"travelers": [{"name": "Ravi Kumar", "is_primary": True}]},
        headers={**ravi, "Idempotency-Key": "accept-1"},
    )
    assert accepted.status_code == 201, accepted.text
    assert accepted.json()["status"] == "pending"
    declined = client.post(
        f"/api/v1/customer/waiting-lists/{entry['id']}/decline", json={}, headers=ravi
    )
    assert declined.status_code == 409  # booked: no offer left to decline

    offered = client.put(
        f"/api/admin/waiting-lists/{added.json()['id']}/offer", headers=staff_headers
    )
    assert offered.status_code == 200, offered.text
    removed = client.delete(
        f"/api/admin/waiting-lists/{added.json()['id']}",
        params={"reason": "found another date"},
        headers=staff_headers,
    )
    assert removed.status_code == 200, removed.text
    assert removed.json()["status"] == "cancelled"
    again = client.delete(f"/api/admin/waiting-lists/{added.json()['id']}", headers=staff_headers)
    assert again.status_code == 409
    unknown = client.put(f"/api/admin/waiting-lists/{uuid4()}/offer", headers=staff_headers)
    assert unknown.status_code == 404


@STORES
def test_my_waiting_list_entries_are_listed_newest_first_in_pages_with_a_next_link(
    client: ApiClient, sign_in: SignIn, book: Book, slot: Slot, clock: FixedClock
) -> None:
    """Joining and leaving again and again leaves one entry each time; each customer
    walks their own, newest first, and never another's."""
    asha = sign_in("+919876543210")
    book(asha, seats=4)
    ravi = sign_in("+919876543211")
    meera = sign_in("+919876543212")
    url = "/api/v1/customer/waiting-lists"
    joined = []
    for _ in range(3):
        entry = client.post(url, json={"slot_id": str(slot.id)}, headers=ravi)
        assert entry.status_code == 201, entry.text
        joined.append(entry.json()["id"])
        clock.advance(minutes=1)
        left = client.delete(f"{url}/{joined[-1]}", headers=ravi)
        assert left.status_code == 204, left.text
    theirs = client.post(url, json={"slot_id": str(slot.id)}, headers=meera).json()["id"]
    for limit in (1, 2, 3):
        seen = client.walk(url, ravi, limit=limit)
        assert [e["id"] for e in seen] == list(reversed(joined)), limit
        assert {e["status"] for e in seen} == {"cancelled"}
    assert [e["id"] for e in client.walk(url, meera)] == [theirs]
    assert client.walk(url, asha) == []
    bad = client.get(url, params={"cursor": "not-a-cursor"}, headers=ravi)
    assert (bad.status_code, bad.json()["errors"][0]["field"]) == (422, "cursor")
    assert client.get(url).status_code == 401


@STORES
def test_staff_open_find_total_and_cancel_a_group(
    client: ApiClient, sign_in: SignIn, staff_headers: dict[str, str]
) -> None:
    asha = sign_in("+919876543210")
    body = {
        "group_reference": "acme-offsite-26",
        "organizer_id": _me(client, asha),
        "group_name": "Acme offsite",
        "total_participants": 12,
    }
    made = client.post("/api/admin/bookings/groups", json=body, headers=staff_headers)
    assert made.status_code == 201, made.text
    group = made.json()
    assert (group["group_reference"], group["status"]) == ("ACME-OFFSITE-26", "active")
    taken = client.post("/api/admin/bookings/groups", json=body, headers=staff_headers)
    assert taken.status_code == 409
    keyed = {**staff_headers, "Idempotency-Key": "dive-week-1"}
    dive = {**body, "group_reference": "dive-week", "group_name": "Dive week"}
    first = client.post("/api/admin/bookings/groups", json=dive, headers=keyed)
    assert first.status_code == 201, first.text
    retried = client.post("/api/admin/bookings/groups", json=dive, headers=keyed)
    assert retried.status_code == 201, retried.text
    assert retried.json() == first.json()  # a retry answers the group, not 409
    other = {**dive, "total_participants": 13}
    assert client.post("/api/admin/bookings/groups", json=other, headers=keyed).status_code == 422
    found = client.get("/api/admin/bookings/groups", params={"q": "offsite"}, headers=staff_headers)
    assert len(client.get("/api/admin/bookings/groups", headers=staff_headers).json()["items"]) == 2
    assert [g["id"] for g in found.json()["items"]] == [group["id"]]
    assert found.json()["next"] is None
    base = f"/api/admin/bookings/groups/{group['id']}"
    assert client.get(base, headers=staff_headers).json()["group_name"] == "Acme offsite"
    totals = client.get(f"{base}/totals", headers=staff_headers).json()
    assert (totals["bookings"], totals["amount"]) == (0, None)
    empty = client.get(f"{base}/bookings", headers=staff_headers).json()
    assert (empty["items"], empty["next"]) == ([], None)
    cancelled = client.post(f"{base}/cancel", json={"reason": "postponed"}, headers=staff_headers)
    assert cancelled.status_code == 200, cancelled.text
    assert client.get(base, headers=staff_headers).json()["status"] == "cancelled"
    assert client.post(f"{base}/cancel", json={}, headers=staff_headers).status_code == 409
    assert client.get(base, headers=asha).status_code == 401
    missing = client.get(f"/api/admin/bookings/groups/{uuid4()}", headers=staff_headers)
    assert missing.status_code == 404
    bad = client.get("/api/admin/bookings/groups", params={"status": "x"}, headers=staff_headers)
    assert bad.status_code == 422


@STORES
def test_a_groups_bookings_are_listed_newest_first_in_pages_with_a_next_link(
    client: ApiClient,
    api_core: BookingCore,
    sign_in: SignIn,
    book: Book,
    staff_headers: dict[str, str],
    slot: Slot,
    clock: FixedClock,
) -> None:
    asha = sign_in("+919876543210")
    organizer = CustomerId(UUID(_me(client, asha)))
    body = {"group_reference": "school-trip", "organizer_id": str(organizer)}
    made = client.post("/api/admin/bookings/groups", json=body, headers=staff_headers)
    assert made.status_code == 201, made.text
    group_id = BookingGroupId(UUID(made.json()["id"]))
    in_group = []
    for n in range(3):
        request = BookingRequest(
            slot.id,
            [NewTraveler(TravelerDetails(f"Pupil {n}"), is_primary=True)],
            customer_id=organizer,
            group_id=group_id,
        )
        in_group.append(str(api_core.bookings.book(request, principal=SETUP).id))
        clock.advance(minutes=1)
    outside = book(asha)["id"]  # the same customer, not in the group
    url = f"/api/admin/bookings/groups/{group_id}/bookings"
    for limit in (1, 2, 3):
        seen = [b["id"] for b in client.walk(url, staff_headers, limit=limit)]
        assert seen == list(reversed(in_group)), limit
    assert outside not in seen
    assert client.get(url, headers=asha).status_code == 401
    bad = client.get(url, params={"cursor": "not-a-cursor"}, headers=staff_headers)
    assert (bad.status_code, bad.json()["errors"][0]["field"]) == (422, "cursor")
    missing = client.get(f"/api/admin/bookings/groups/{uuid4()}/bookings", headers=staff_headers)
    assert missing.status_code == 404


@STORES
def test_reports_over_http(
    client: ApiClient,
    sign_in: SignIn,
    book: Book,
    staff_headers: dict[str, str],
    staff_sign_in: StaffSignIn,
) -> None:
    asha = sign_in("+919876543210")
    book(asha, seats=2)
    base = "/api/admin/reports"
    revenue = client.get(f"{base}/revenue", params={"by": "source"}, headers=staff_headers)
    assert revenue.status_code == 200, revenue.text
    assert [(r["bookings"], r["travelers"], r["amount"]["amount"]) for r in revenue.json()] == [
        (1, 2, "17000.00")
    ]
    cancellations = client.get(f"{base}/cancellations", headers=staff_headers).json()
    assert (cancellations[0]["bookings"], cancellations[0]["cancelled"]) == (1, 0)
    workload = client.get(f"{base}/advisor-workload", headers=staff_headers).json()
    assert [(w["assignee_id"], w["open"]) for w in workload] == [(None, 1)]
    value = client.get(f"{base}/customer-value", headers=staff_headers).json()
    assert [(v["currency"], v["customers"]) for v in value] == [("INR", 1)]
    capacity = client.get(
        f"{base}/capacity-utilisation", params={"by": "location"}, headers=staff_headers
    ).json()
    assert [(c["capacity"], c["seats_held"]) for c in capacity] == [(4, 2)]
    assert client.get(f"{base}/imports", headers=staff_headers).json() == []
    wrong = client.get(f"{base}/revenue", params={"by": "colour"}, headers=staff_headers)
    assert wrong.status_code == 422
    assert wrong.json()["errors"][0]["field"] == "by"
    advisor = staff_sign_in("adv@example.com", StaffRole.ADVISOR)
    assert client.get(f"{base}/capacity-utilisation", headers=advisor).status_code == 403
    assert client.get(f"{base}/revenue", headers=asha).status_code == 401


@STORES
def test_commissions_staff_see_all_and_a_partner_its_own(
    api_core: BookingCore,
    client: ApiClient,
    slot: Slot,
    staff_headers: dict[str, str],
    provider: FakePaymentProvider,
    clock: FixedClock,
) -> None:
    alpha = _partner(api_core, client, slot, "Alpha", rate="10")
    bravo = _partner(api_core, client, slot, "Bravo", rate="10")
    made = client.post(
        "/api/partner/bookings",
        json={
            "slot_id": str(slot.id),
            "customer": {"phone": "+919800000001", "name": "Alpha Customer"},
            "travelers": [{"name": "Alpha Customer", "is_primary": True}],
        },
        headers=alpha,
    )
    assert made.status_code == 201, made.text
    booking = made.json()
    intent = client.post(
        "/api/payments/create-intent",
        json={"booking_id": booking["id"], "provider": "fake"},
        headers={**alpha, "Idempotency-Key": "alpha-pay"},
    )
    assert intent.status_code == 201, intent.text
    headers, raw = provider.webhook("captured", intent.json()["payment"]["provider_reference"])
    paid = client.post("/api/payments/webhook?provider=fake", content=raw, headers=headers)
    assert paid.status_code == 200, paid.text

    period = {
        "start": (clock.now() - timedelta(days=1)).isoformat(),
        "end": (clock.now() + timedelta(days=1)).isoformat(),
    }
    report = client.get("/api/admin/commissions", params=period, headers=staff_headers)
    assert report.status_code == 200, report.text
    assert [(r["partner_name"], r["net"]["amount"]) for r in report.json()["lines"]] == [
        ("Alpha", "850.00")
    ]
    own = client.get("/api/partner/commissions", params=period, headers=alpha).json()
    assert [r["partner_name"] for r in own["lines"]] == ["Alpha"]
    assert (
        client.get("/api/partner/commissions", params=period, headers=bravo).json()["lines"] == []
    )
    ledger = f"/bookings/{booking['id']}/commissions"
    entries = client.get(f"/api/admin{ledger}", headers=staff_headers).json()
    assert [(e["kind"], e["amount"]["amount"]) for e in entries] == [("accrual", "850.00")]
    assert client.get(f"/api/partner{ledger}", headers=alpha).json() == entries
    assert client.get(f"/api/partner{ledger}", headers=bravo).status_code == 404
    backwards = {"start": period["end"], "end": period["start"]}
    refused = client.get("/api/admin/commissions", params=backwards, headers=staff_headers)
    assert refused.status_code == 422

    # The ledger entry by entry, a page at a time: staff every partner's, a partner its own.
    def pay(headers: dict[str, str], phone: str, key: str) -> str:
        made = client.post(
            "/api/partner/bookings",
            json={
                "slot_id": str(slot.id),
                "customer": {"phone": phone, "name": "Another Customer"},
                "travelers": [{"name": "Another Customer", "is_primary": True}],
            },
            headers=headers,
        )
        assert made.status_code == 201, made.text
        intent = client.post(
            "/api/payments/create-intent",
            json={"booking_id": made.json()["id"], "provider": "fake"},
            headers={**headers, "Idempotency-Key": key},
        )
        assert intent.status_code == 201, intent.text
        reference = intent.json()["payment"]["provider_reference"]
        hook_headers, body = provider.webhook("captured", reference)
        paid = client.post(
            "/api/payments/webhook?provider=fake", content=body, headers=hook_headers
        )
        assert paid.status_code == 200, paid.text
        clock.advance(minutes=1)
        return str(made.json()["id"])

    clock.advance(minutes=1)
    alpha_bookings = [booking["id"], pay(alpha, "+919800000002", "alpha-pay-2")]
    bravo_booking = pay(bravo, "+919800000003", "bravo-pay")
    url = "/api/admin/commissions/entries"
    every = client.walk(url, staff_headers, limit=1, **period)
    assert [e["booking_id"] for e in every] == [bravo_booking, *reversed(alpha_bookings)]
    alpha_id = every[-1]["partner_id"]
    only_alpha = client.walk(url, staff_headers, limit=1, partner_id=alpha_id, **period)
    assert [e["booking_id"] for e in only_alpha] == list(reversed(alpha_bookings))
    mine = client.walk("/api/partner/commissions/entries", alpha, limit=1, **period)
    assert [e["id"] for e in mine] == [e["id"] for e in only_alpha]
    theirs = client.walk("/api/partner/commissions/entries", bravo, **period)
    assert [e["booking_id"] for e in theirs] == [bravo_booking]
    assert client.get(url, params=period, headers=alpha).status_code == 401
    bad = client.get(url, params={**period, "cursor": "x"}, headers=staff_headers)
    assert (bad.status_code, bad.json()["errors"][0]["field"]) == (422, "cursor")


@STORES
def test_webhook_deliveries_for_staff_and_their_partner(
    api_core: BookingCore, client: ApiClient, slot: Slot, staff_headers: dict[str, str]
) -> None:
    alpha = _partner(api_core, client, slot, "Alpha")
    bravo = _partner(api_core, client, slot, "Bravo")
    made = client.post(
        "/api/partner/bookings",
        json={
            "slot_id": str(slot.id),
            "customer": {"phone": "+919800000001", "name": "Alpha Customer"},
            "travelers": [{"name": "Alpha Customer", "is_primary": True}],
        },
        headers=alpha,
    )
    assert made.status_code == 201, made.text
    admin = Principal.staff(StaffId(uuid4()), StaffRole.ADMIN)
    stored = api_core.bookings.get(BookingId(UUID(made.json()["id"])), principal=admin)
    assert stored.partner_id is not None
    delivery = WebhookDelivery.schedule(
        event_id=uuid4(),
        partner_id=stored.partner_id,
        topic=WebhookTopic.BOOKING_CREATED,
        payload={"booking_id": str(stored.id)},
        now=api_core.context.now(),
        booking_id=stored.id,
    )
    with api_core.context.uow_factory() as uow:
        uow.webhook_deliveries.add(delivery)
        uow.commit()

    listed = client.get("/api/admin/webhooks", params={"status": "pending"}, headers=staff_headers)
    assert [d["id"] for d in listed.json()["items"]] == [str(delivery.id)]
    assert client.get("/api/partner/webhooks", headers=alpha).json()["items"][0]["topic"] == (
        "booking.created"
    )
    assert client.get("/api/partner/webhooks", headers=bravo).json()["items"] == []
    one = f"/webhooks/{delivery.id}"
    assert client.get(f"/api/partner{one}", headers=alpha).json()["status"] == "pending"
    assert client.get(f"/api/partner{one}", headers=bravo).status_code == 404
    assert client.get(f"/api/partner{one}/attempts", headers=bravo).status_code == 404
    assert client.get(f"/api/admin{one}/attempts", headers=staff_headers).json() == []
    pending = client.post(f"/api/admin{one}/resend", headers=staff_headers)
    assert pending.status_code == 422  # still pending: nothing to re-send
    with api_core.context.uow_factory() as uow:
        sent = uow.webhook_deliveries.get(delivery.id)
        assert sent is not None
        sent.succeed(api_core.context.now(), 200)
        uow.commit()
    keyed = {**staff_headers, "Idempotency-Key": "resend-1"}
    first = client.post(f"/api/admin{one}/resend", headers=keyed)
    assert (first.status_code, first.json()["status"]) == (200, "pending")
    again = client.post(f"/api/admin{one}/resend", headers=keyed)  # no 422: it is a retry
    assert (again.status_code, again.json()["id"]) == (200, str(delivery.id))
    assert client.post(f"/api/admin{one}/resend", headers=staff_headers).status_code == 422
    assert client.post(f"/api/admin{one}/resend", headers=alpha).status_code == 401
    bad = client.get("/api/admin/webhooks", params={"status": "lost"}, headers=staff_headers)
    assert bad.status_code == 422


def test_a_reschedule_lists_the_confirmed_items_to_reconfirm(
    api_core: BookingCore,
    client: ApiClient,
    slot: Slot,
    clock: FixedClock,
    staff_headers: dict[str, str],
) -> None:
    later = api_core.catalog.create_slot(
        location_id=slot.location_id,
        starts_at=slot.starts_at + timedelta(days=3),
        price_per_traveler=Money("8500", "INR"),
        capacity=4,
        principal=SETUP,
    )
    hotel = api_core.catalog.add_supplier("LAKESIDE", "Lakeside Lodge", principal=SETUP)
    customer = api_core.customers.register("+919876543219", principal=SETUP).customer
    start = slot.starts_at.date()
    booking = api_core.bookings.book(
        BookingRequest(
            slot.id,
            [NewTraveler(TravelerDetails("Asha Verma"), is_primary=True)],
            customer_id=customer.id,
            items=(
                BookedItem(
                    kind="hotel",
                    description="Lakeside, 2 nights",
                    quantity=1,
                    unit_price=Money("3000", "INR"),
                    supplier_id=hotel.id,
                    service_starts_on=start,
                    service_ends_on=start + timedelta(days=2),
                ),
                BookedItem(
                    kind="transfer",
                    description="Pick-up",
                    quantity=1,
                    unit_price=Money("500", "INR"),
                    service_starts_on=start,
                ),
            ),
        ),
        principal=SETUP,
    )
    lodge, _ = api_core.items.for_booking(booking.id, principal=SETUP)
    api_core.items.confirm(lodge.id, principal=SETUP, supplier_reference="LK-1")

    moved = client.patch(
        f"/api/bookings/{booking.id}/reschedule",
        json={"slot_id": str(later.id)},
        headers=staff_headers,
    )

    assert moved.status_code == 200, moved.text
    assert moved.json()["items_to_reconfirm"] == [
        {
            "id": str(lodge.id),
            "description": "Lakeside, 2 nights",
            "supplier_id": str(hotel.id),
            "service_starts_on": start.isoformat(),
            "service_ends_on": (start + timedelta(days=2)).isoformat(),
        }
    ]


@STORES
def test_reschedule_change_travelers_and_the_advisor_log(
    api_core: BookingCore,
    client: ApiClient,
    sign_in: SignIn,
    book: Book,
    slot: Slot,
    clock: FixedClock,
    staff_headers: dict[str, str],
) -> None:
    later = api_core.catalog.create_slot(
        location_id=slot.location_id,
        starts_at=clock.now() + timedelta(days=60),
        price_per_traveler=Money("9000", "INR"),
        capacity=4,
        principal=SETUP,
    )
    asha = sign_in("+919876543210")
    booking = book(asha)
    url = f"/api/bookings/{booking['id']}"
    moved = client.patch(f"{url}/reschedule", json={"slot_id": str(later.id)}, headers=asha)
    assert moved.status_code == 200, moved.text
    assert moved.json()["from_slot_id"] == str(slot.id)
    assert moved.json()["price_difference"]["amount"] == "500.00"
    same = client.patch(f"{url}/reschedule", json={"slot_id": str(later.id)}, headers=asha)
    assert same.status_code == 422
    # With an Idempotency-Key a retried reschedule answers the first result.
    keyed = {**asha, "Idempotency-Key": "move-back-1"}
    back = client.patch(f"{url}/reschedule", json={"slot_id": str(slot.id)}, headers=keyed)
    assert back.status_code == 200, back.text
    retried = client.patch(f"{url}/reschedule", json={"slot_id": str(slot.id)}, headers=keyed)
    assert retried.status_code == 200, retried.text
    assert retried.json()["replayed"]
    assert {**retried.json(), "replayed": False} == back.json()
    other = client.patch(f"{url}/reschedule", json={"slot_id": str(later.id)}, headers=keyed)
    assert other.status_code == 422
    assert other.json()["code"] == "idempotency_conflict"
    ravi = sign_in("+919876543211")
    assert (
        client.patch(f"{url}/reschedule", json={"slot_id": str(slot.id)}, headers=ravi).status_code
        == 404
    )

    changed = client.patch(
        f"{url}/travelers", json={"add": [{"name": "Kabir Verma"}]}, headers=asha
    )
    assert changed.status_code == 200, changed.text
    assert len(changed.json()["travelers"]) == 2
    unknown = client.patch(f"{url}/travelers", json={"remove": [str(uuid4())]}, headers=asha)
    assert unknown.status_code == 422
    assert unknown.json()["errors"][0]["field"] == "remove"

    log = f"/api/advisor/bookings/{booking['id']}/log"
    noted = client.post(log, json={"text": "asked for a window seat"}, headers=staff_headers)
    assert noted.status_code == 200, noted.text
    listed = client.get(log, headers=staff_headers).json()
    assert [(n["text"], n["author"]["kind"]) for n in listed] == [
        ("asked for a window seat", "staff")
    ]
    keyed = {**staff_headers, "Idempotency-Key": "note-1"}
    first = client.post(log, json={"text": "wants a vegetarian meal"}, headers=keyed)
    retried = client.post(log, json={"text": "wants a vegetarian meal"}, headers=keyed)
    assert (first.status_code, retried.status_code) == (200, 200), retried.text
    assert retried.json() == first.json()
    assert client.post(log, json={"text": "another"}, headers=keyed).status_code == 422
    assert len(client.get(log, headers=staff_headers).json()) == 2
    assert client.get(log, headers=asha).status_code == 401
    blank = client.post(log, json={"text": "   "}, headers=staff_headers)
    assert blank.status_code == 422


def test_auto_assign_picks_the_least_loaded_advisor(
    client: ApiClient,
    sign_in: SignIn,
    book: Book,
    staff_headers: dict[str, str],
    staff_sign_in: StaffSignIn,
) -> None:
    asha = sign_in("+919876543210")
    booking = book(asha)
    url = f"/api/admin/bookings/{booking['id']}/auto-assign"
    nobody = client.post(url, json={}, headers=staff_headers)
    assert nobody.status_code == 422  # no active advisor to pick
    advisor = staff_sign_in("adv@example.com", StaffRole.ADVISOR)
    me = client.get("/api/v1/auth/me", headers=advisor).json()
    assigned = client.post(url, json={"strategy": "least_loaded"}, headers=staff_headers)
    assert assigned.status_code == 200, assigned.text
    assert assigned.json()["assignee_id"] == me["id"]
    unknown = client.post(url, json={"strategy": "coin_toss"}, headers=staff_headers)
    assert unknown.status_code == 422
    assert client.post(url, json={}, headers=asha).status_code == 401


@STORES
def test_keyed_changes_answer_a_retry_with_the_first_result(
    client: ApiClient,
    sign_in: SignIn,
    book: Book,
    slot: Slot,
    clock: FixedClock,
    staff_headers: dict[str, str],
    staff_sign_in: StaffSignIn,
) -> None:
    """An ``Idempotency-Key`` on changing travelers, auto-assigning, joining a waiting
    list, planning a trip and cancelling a group: a retry answers what the first call
    did (nothing done twice); the key with another request answers 422."""
    asha = sign_in("+919876543210")
    booking = book(asha)
    keyed = {**asha, "Idempotency-Key": "travelers-1"}
    url = f"/api/bookings/{booking['id']}/travelers"
    add = {"add": [{"name": "Kabir Verma"}]}
    first, again = (client.patch(url, json=add, headers=keyed) for _ in range(2))
    assert (first.status_code, again.status_code) == (200, 200), again.text
    assert again.json() == first.json()
    assert len(again.json()["travelers"]) == 2
    other = client.patch(url, json={"add": [{"name": "Ravi"}]}, headers=keyed)
    assert (other.status_code, other.json()["code"]) == (422, "idempotency_conflict")

    staff_sign_in("adv@example.com", StaffRole.ADVISOR)
    assign = f"/api/admin/bookings/{booking['id']}/auto-assign"
    by_key = {**staff_headers, "Idempotency-Key": "assign-1"}
    first, again = (client.post(assign, json={}, headers=by_key) for _ in range(2))
    assert (first.status_code, again.status_code) == (200, 200), again.text
    assert again.json() == first.json()
    turn = client.post(assign, json={"strategy": "round_robin"}, headers=by_key)
    assert turn.status_code == 422

    me = _me(client, asha)
    join = {"slot_id": str(slot.id), "seats": 2}
    waiting = {**asha, "Idempotency-Key": "wait-1"}
    first, again = (
        client.post("/api/v1/customer/waiting-lists", json=join, headers=waiting) for _ in range(2)
    )
    assert (first.status_code, again.status_code) == (201, 201), again.text  # not 409
    assert again.json()["id"] == first.json()["id"]

    today = clock.now().date()
    trip = {
        "customer_id": me,
        "name": "Ladakh",
        "starts_on": str(today + timedelta(days=30)),
        "ends_on": str(today + timedelta(days=35)),
    }
    planned = {**staff_headers, "Idempotency-Key": "trip-1"}
    first, again = (client.post("/api/admin/trips", json=trip, headers=planned) for _ in range(2))
    assert (first.status_code, again.status_code) == (201, 201), again.text
    assert again.json() == first.json()
    longer = {**trip, "ends_on": str(today + timedelta(days=36))}
    assert client.post("/api/admin/trips", json=longer, headers=planned).status_code == 422

    group = client.post(
        "/api/admin/bookings/groups",
        json={"group_reference": "CAMP-26", "organizer_id": me},
        headers=staff_headers,
    ).json()
    cancel = f"/api/admin/bookings/groups/{group['id']}/cancel"
    called_off = {**staff_headers, "Idempotency-Key": "cancel-1"}
    first, again = (
        client.post(cancel, json={"reason": "rain"}, headers=called_off) for _ in range(2)
    )
    assert (first.status_code, again.status_code) == (200, 200), again.text  # not 409
    assert again.json() == first.json()
    assert client.post(cancel, json={"reason": "snow"}, headers=called_off).status_code == 422


@STORES
def test_keyed_desk_routes_answer_a_retry_with_the_first_result(
    client: ApiClient,
    sign_in: SignIn,
    book: Book,
    clock: FixedClock,
    staff_headers: dict[str, str],
) -> None:
    """An ``Idempotency-Key`` on putting a booking on a trip or taking it off, planning
    an itinerary, generating documents and adding a note to a booking's internal notes:
    a retry answers what the first call did (nothing done twice); the key with another
    request answers 422."""
    asha = sign_in("+919876543210")
    me = _me(client, asha)
    first_booking, second_booking = book(asha), book(asha, name="Asha Again")
    today = clock.now().date()
    trip = client.post(
        "/api/admin/trips",
        json={
            "customer_id": me,
            "name": "Ladakh",
            "starts_on": str(today + timedelta(days=30)),
            "ends_on": str(today + timedelta(days=35)),
        },
        headers=staff_headers,
    ).json()
    on_trip = f"/api/admin/trips/{trip['id']}/bookings/{first_booking['id']}"
    keyed = {**staff_headers, "Idempotency-Key": "trip-add-1"}
    first, again = (client.put(on_trip, headers=keyed) for _ in range(2))
    assert (first.status_code, again.status_code) == (200, 200), again.text  # not 422
    assert again.json() == first.json()
    other = f"/api/admin/trips/{trip['id']}/bookings/{second_booking['id']}"
    assert client.put(other, headers=keyed).json()["code"] == "idempotency_conflict"
    off = {**staff_headers, "Idempotency-Key": "trip-remove-1"}
    first, again = (client.delete(on_trip, headers=off) for _ in range(2))
    assert again.json() == first.json()  # the trip's version moved once
    assert first.json()["booking_ids"] == []

    plan_url = f"/api/admin/bookings/{first_booking['id']}/itinerary"
    planned = {**staff_headers, "Idempotency-Key": "plan-1"}
    first, again = (
        client.post(plan_url, params={"replace": True}, headers=planned) for _ in range(2)
    )
    assert (first.status_code, again.status_code) == (200, 200), again.text
    assert again.json() == first.json()
    assert client.post(plan_url, headers=planned).status_code == 422  # replace differs

    generate = {"booking_id": first_booking["id"], "kind": "itinerary"}
    made = {**staff_headers, "Idempotency-Key": "docs-1"}
    first, again = (
        client.post("/api/documents/generate", json=generate, headers=made) for _ in range(2)
    )
    assert (first.status_code, again.status_code) == (200, 200), again.text
    assert again.json() == first.json()
    assert first.json()[0]["generated_by"] is not None
    unkeyed = client.post("/api/documents/generate", json=generate, headers=staff_headers)
    assert unkeyed.json()[0]["filename"] == "itinerary-v2.txt"  # the retry wrote no v2

    notes_url = f"/api/advisor/bookings/{first_booking['id']}/notes"
    noted = {**staff_headers, "Idempotency-Key": "note-1"}
    first, again = (
        client.post(notes_url, json={"note": "prefers mornings"}, headers=noted) for _ in range(2)
    )
    assert (first.status_code, again.status_code) == (200, 200), again.text
    assert again.json()["internal_notes"] == "prefers mornings"  # added once
    assert again.json()["version"] == first.json()["version"]
    other_note = client.post(notes_url, json={"note": "paid cash"}, headers=noted)
    assert other_note.status_code == 422


def _twilio_signature(token: str, url: str, params: dict[str, str]) -> str:
    """Twilio's published signing: URL plus sorted name-value pairs, HMAC-SHA1, base64."""
    data = url + "".join(name + params[name] for name in sorted(params))
    digest = hmac.new(token.encode(), data.encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode()


def test_twilio_status_callbacks_move_the_message_log(
    api_core: BookingCore,
    client: ApiClient,
    sign_in: SignIn,
    book: Book,
    staff_headers: dict[str, str],
) -> None:
    asha = sign_in("+919876543210")
    client.put("/api/v1/customer/auth/profile", json={"email": "asha@example.com"}, headers=asha)
    booking = book(asha)
    sent = client.post(
        f"/api/admin/bookings/{booking['id']}/send-email",
        json={"type": "confirmation"},
        headers=staff_headers,
    )
    assert sent.status_code == 201, sent.text
    form = {"MessageSid": "msg-1", "MessageStatus": "delivered"}
    path = "/api/sms/twilio/status"
    # The shared app was made without a Twilio token: every callback is refused.
    assert client.post(path, data=form).status_code == 401

    token = "twilio-auth-token-for-tests"
    app = create_app(api_core, twilio_auth_token=token)
    with start_blocking_portal() as portal:
        twilio = ApiClient(app, portal)
        try:
            forged = twilio.post(path, data=form, headers={"X-Twilio-Signature": "bm9wZQ=="})
            assert forged.status_code == 401
            signature = _twilio_signature(token, f"http://testserver{path}", form)
            done = twilio.post(path, data=form, headers={"X-Twilio-Signature": signature})
            assert done.status_code == 200, done.text
            assert done.json() == {"communication_id": sent.json()["id"], "status": "delivered"}
            unknown = {"MessageSid": "msg-404", "MessageStatus": "delivered"}
            signed = _twilio_signature(token, f"http://testserver{path}", unknown)
            missing = twilio.post(path, data=unknown, headers={"X-Twilio-Signature": signed})
            assert missing.status_code == 404
        finally:
            twilio.close()
    log = client.get(f"/api/admin/bookings/{booking['id']}/communications", headers=staff_headers)
    assert log.json()[0]["status"] == "delivered"


def test_a_twilio_callback_naming_its_message_in_the_url_heals_one_without_a_sid(
    api_core: BookingCore,
    client: ApiClient,
    notifier: RecordingNotifier,
    sign_in: SignIn,
    book: Book,
    staff_headers: dict[str, str],
) -> None:
    """The send timed out (logged failed, no sid) though Twilio took the message: its
    callback names the message in the URL's query (``communication_id``), signed with
    the rest of the URL, and the route finds it, directly or behind a proxy."""
    asha = sign_in("+919876543210")
    booking = book(asha)
    log_url = f"/api/admin/bookings/{booking['id']}/communications"
    token = "twilio-auth-token-for-tests"
    path = "/api/sms/twilio/status"
    public = "https://bookings.example.com/hooks/twilio?tenant=7"
    for app, called in (
        (create_app(api_core, twilio_auth_token=token), "http://testserver{path}?{query}"),
        (
            create_app(api_core, twilio_auth_token=token, twilio_callback_url=public),
            "https://bookings.example.com/hooks/twilio?{query}",
        ),
    ):
        notifier.fail_next(1, "twilio unreachable: ReadTimeout")
        failed = client.post(
            f"/api/admin/bookings/{booking['id']}/send-email",
            json={"type": "confirmation", "channel": "sms"},
            headers=staff_headers,
        )
        assert failed.status_code >= 400, failed.text
        message = client.get(log_url, headers=staff_headers).json()[-1]
        assert message["status"] == "failed"
        query = f"tenant=7&communication_id={message['id']}"
        sid = f"SM-{message['id'][-12:]}"
        form = {"MessageSid": sid, "MessageStatus": "delivered"}
        url = called.format(path=path, query=query)
        with start_blocking_portal() as portal:
            twilio = ApiClient(app, portal)
            try:
                unsigned_query = twilio.post(
                    f"{path}?{query}",
                    data=form,
                    headers={
                        "X-Twilio-Signature": _twilio_signature(
                            token, f"http://testserver{path}", form
                        )
                    },
                )
                assert unsigned_query.status_code == 401  # the signature covers the query
                done = twilio.post(
                    f"{path}?{query}",
                    data=form,
                    headers={"X-Twilio-Signature": _twilio_signature(token, url, form)},
                )
                # The sid is the message's now: a report naming only the sid finds it.
                opened = {"MessageSid": sid, "MessageStatus": "read"}
                plain = called.format(path=path, query="tenant=7")
                by_sid = twilio.post(
                    f"{path}?tenant=7",
                    data=opened,
                    headers={"X-Twilio-Signature": _twilio_signature(token, plain, opened)},
                )
            finally:
                twilio.close()
        assert done.status_code == 200, done.text
        assert done.json() == {"communication_id": message["id"], "status": "delivered"}
        assert by_sid.status_code == 200, by_sid.text
        assert by_sid.json() == {"communication_id": message["id"], "status": "opened"}
        healed = client.get(log_url, headers=staff_headers).json()[-1]
        assert healed["status"] == "opened"


def test_the_join_routes_share_one_call_but_only_staff_set_a_priority(
    client: ApiClient, sign_in: SignIn, book: Book, staff_headers: dict[str, str], slot: Slot
) -> None:
    """Staff, customers (and partners, in test_partner_desk_api) join through one function."""
    book(sign_in("+919876543210"), seats=4)
    ravi = sign_in("+919876543211")
    joined = client.post(
        "/api/v1/customer/waiting-lists",
        json={"slot_id": str(slot.id), "seats": 2, "notes": "window seats"},
        headers=ravi,
    )
    assert joined.status_code == 201, joined.text
    assert (joined.json()["priority"], joined.json()["seats"]) == ("normal", 2)
    assert joined.json()["customer_id"] == _me(client, ravi)
    pushy = client.post(
        "/api/v1/customer/waiting-lists",
        json={"slot_id": str(slot.id), "priority": "high"},
        headers=ravi,
    )
    assert pushy.status_code == 422  # a customer names no priority
    meera = sign_in("+919876543212")
    added = client.post(
        "/api/admin/waiting-lists",
        json={"slot_id": str(slot.id), "customer_id": _me(client, meera), "priority": "high"},
        headers=staff_headers,
    )
    assert added.status_code == 201, added.text
    assert added.json()["priority"] == "high"
    listed = client.get(f"/api/admin/sessions/{slot.id}/waiting-list", headers=staff_headers)
    assert [e["id"] for e in listed.json()] == [added.json()["id"], joined.json()["id"]]


def test_joining_names_alternative_dates_and_the_party_and_offers_name_their_slot(
    client: ApiClient,
    api_core: BookingCore,
    sign_in: SignIn,
    staff_headers: dict[str, str],
    clock: FixedClock,
) -> None:
    """The join body takes ``alternative_dates``, ``travelers`` and (staff)
    ``override_requirements``; an offer on an alternative date lists the slot it is for."""
    camp = api_core.catalog.add_location("DIVE-BASE", "Dive base", principal=SETUP)
    dive = api_core.catalog.add_product(
        "REEF",
        "Reef dive",
        "activity",
        principal=SETUP,
        requirements=ProductRequirements(min_age=18),
    )

    def session(days: int) -> Slot:
        return api_core.catalog.create_slot(
            location_id=camp.id,
            product_id=dive.id,
            starts_at=clock.now() + timedelta(days=days),
            price_per_traveler=Money("4000", "INR"),
            capacity=1,
            principal=SETUP,
        )

    wanted, other = session(10), session(12)
    asha = sign_in("+919876543210")
    adult = [{"name": "Asha", "is_primary": True, "age": 30}]
    made = {}
    for full in (wanted, other):
        answer = client.post(
            "/api/v1/customer/bookings",
            json={"slot_id": str(full.id), "travelers": adult},
            headers=asha,
        )
        assert answer.status_code == 201, answer.text
        made[full.id] = answer.json()["id"]
    ravi = sign_in("+919876543211")
    young = [{"name": "Ravi Jr", "is_primary": True, "age": 10}]
    body = {
        "slot_id": str(wanted.id),
        "alternative_dates": [str(other.starts_at.date())],
        "travelers": young,
    }
    refused = client.post("/api/v1/customer/waiting-lists", json=body, headers=ravi)
    assert refused.status_code == 422, refused.text
    waived = client.post(
        "/api/v1/customer/waiting-lists",
        json={**body, "override_requirements": True},
        headers=ravi,
    )
    assert waived.status_code == 403, waived.text  # staff only
    added = client.post(
        "/api/admin/waiting-lists",
        json={**body, "customer_id": _me(client, ravi), "override_requirements": True},
        headers=staff_headers,
    )
    assert added.status_code == 201, added.text
    entry = added.json()
    assert entry["alternative_dates"] == [str(other.starts_at.date())]
    assert entry["offer_slot_id"] is None
    freed = client.post(f"/api/v1/customer/bookings/{made[other.id]}/cancel", json={}, headers=asha)
    assert freed.status_code == 200, freed.text
    mine = client.walk("/api/v1/customer/waiting-lists", ravi)
    assert [(e["status"], e["slot_id"], e["offer_slot_id"]) for e in mine] == [
        ("offered", str(wanted.id), str(other.id))
    ]
