"""Certificates, documents, payment history, privacy, exports, staff, groups' confirmations
and partner names over HTTP."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from datetime import timedelta
from typing import Any
from uuid import UUID, uuid4

from tests.examples.api._client import ApiClient
from tests.examples.api._common import STORES
from tests.examples.api.conftest import SETUP

from bookingcore import BookingCore, BookingId, DocumentId, StaffRole
from bookingcore.domain import Document, Slot
from bookingcore.testing import FixedClock

SignIn = Callable[[str], dict[str, str]]
StaffSignIn = Callable[..., dict[str, str]]
Book = Callable[..., dict[str, Any]]


def _me(client: ApiClient, headers: dict[str, str]) -> str:
    me: str = client.get("/api/v1/customer/auth/profile", headers=headers).json()["id"]
    return me


def _completed(client: ApiClient, staff: dict[str, str], booking_id: str) -> None:
    for to in ("confirmed", "completed"):
        moved = client.post(
            f"/api/admin/bookings/{booking_id}/transitions", json={"to": to}, headers=staff
        )
        assert moved.status_code == 200, moved.text


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


@STORES
def test_staff_issue_renew_and_report_certificates_and_the_customer_reads_theirs(
    client: ApiClient,
    sign_in: SignIn,
    book: Book,
    staff_headers: dict[str, str],
    staff_sign_in: StaffSignIn,
    clock: FixedClock,
) -> None:
    asha = sign_in("+919876543210")
    booking = book(asha)
    body = {
        "booking_id": booking["id"],
        "kind": "PADI Open Water",
        "number": "OW-1",
        "expires_at": (clock.now() + timedelta(days=20)).isoformat(),
    }
    early = client.post("/api/admin/certificates", json=body, headers=staff_headers)
    assert early.status_code == 422  # not completed yet
    assert early.json()["errors"][0]["field"] == "booking_id"
    _completed(client, staff_headers, booking["id"])
    keyed = {**staff_headers, "Idempotency-Key": "cert-1"}
    first, again = (client.post("/api/admin/certificates", json=body, headers=keyed) for _ in "12")
    assert (first.status_code, again.status_code) == (201, 201), again.text
    assert again.json() == first.json()
    taken = client.post("/api/admin/certificates", json=body, headers=staff_headers)
    assert taken.status_code == 409  # (kind, number) is unique
    cert = first.json()

    report = client.get(
        "/api/admin/certificates/compliance",
        params={"kind": "PADI Open Water"},
        headers=staff_headers,
    )
    assert report.status_code == 200, report.text
    assert report.json()["counts"]["expiring"] == 1
    assert [line["state"] for line in report.json()["lines"]] == ["expiring"]
    assert report.json()["lines"][0]["certificate"]["number"] == "OW-1"

    renewed = client.post(
        f"/api/admin/certificates/{cert['id']}/renew",
        json={"expires_at": (clock.now() + timedelta(days=730)).isoformat()},
        headers={**staff_headers, "Idempotency-Key": "renew-1"},
    )
    assert renewed.status_code == 200, renewed.text
    assert renewed.json()["expires_at"] != cert["expires_at"]
    past = client.post(
        f"/api/admin/certificates/{cert['id']}/renew",
        json={"expires_at": (clock.now() - timedelta(days=1)).isoformat()},
        headers=staff_headers,
    )
    assert past.status_code == 422
    assert past.json()["errors"][0]["field"] == "expires_at"
    missing = client.post(
        f"/api/admin/certificates/{uuid4()}/renew",
        json={"expires_at": (clock.now() + timedelta(days=30)).isoformat()},
        headers=staff_headers,
    )
    assert missing.status_code == 404

    customer_id = _me(client, asha)
    listed = client.get(
        "/api/admin/certificates", params={"customer_id": customer_id}, headers=staff_headers
    )
    assert [c["number"] for c in listed.json()] == ["OW-1"]
    own = client.get("/api/v1/customer/certificates", headers=asha)
    assert own.status_code == 200, own.text
    assert [c["id"] for c in own.json()] == [cert["id"]]
    view = client.get(f"/api/admin/customers/{customer_id}/view", headers=staff_headers)
    assert [c["id"] for c in view.json()["certificates"]] == [cert["id"]]

    advisor = staff_sign_in("adv@example.com", StaffRole.ADVISOR)
    assert client.get("/api/admin/certificates/compliance", headers=advisor).status_code == 403
    again_renew = client.post(
        f"/api/admin/certificates/{cert['id']}/renew",
        json={"expires_at": (clock.now() + timedelta(days=30)).isoformat()},
        headers=advisor,
    )
    assert again_renew.status_code == 403
    assert client.post("/api/admin/certificates", json=body, headers=asha).status_code == 401
    assert client.get("/api/admin/certificates/compliance", headers=asha).status_code == 401


def test_documents_are_listed_and_downloaded_by_staff_and_the_owner_only(
    api_core: BookingCore,
    client: ApiClient,
    sign_in: SignIn,
    book: Book,
    staff_headers: dict[str, str],
    clock: FixedClock,
) -> None:
    asha = sign_in("+919876543210")
    ravi = sign_in("+919876543211")
    booking = book(asha)
    document = Document(
        id=DocumentId(uuid4()),
        booking_id=BookingId(UUID(booking["id"])),
        kind="voucher",
        filename="voucher-Mānāli-v1.txt",
        media_type="text/plain",
        content="Voucher for Asha",
        created_at=clock.now(),
    )
    with api_core.context.uow_factory() as uow:
        uow.documents.add(document)
        uow.commit()

    listed = client.get(f"/api/bookings/{booking['id']}/documents", headers=asha)
    assert listed.status_code == 200, listed.text
    assert [(d["id"], d["kind"], d["media_type"]) for d in listed.json()] == [
        (str(document.id), "voucher", "text/plain")
    ]
    assert "content" not in listed.json()[0]
    staff_list = client.get(f"/api/bookings/{booking['id']}/documents", headers=staff_headers)
    assert [d["id"] for d in staff_list.json()] == [str(document.id)]
    for headers in (asha, staff_headers):
        got = client.get(f"/api/documents/{document.id}", headers=headers)
        assert got.status_code == 200, got.text
        assert got.content == b"Voucher for Asha"
        assert got.headers["content-type"].startswith("text/plain")
        disposition = got.headers["content-disposition"]
        assert disposition.startswith('attachment; filename="voucher-M_n_li-v1.txt"')
        assert "filename*=UTF-8''voucher-M%C4%81n%C4%81li-v1.txt" in disposition

    # Another customer learns nothing: both answer 404 as if they did not exist.
    assert client.get(f"/api/bookings/{booking['id']}/documents", headers=ravi).status_code == 404
    assert client.get(f"/api/documents/{document.id}", headers=ravi).status_code == 404
    assert client.get(f"/api/documents/{uuid4()}", headers=staff_headers).status_code == 404
    assert client.get(f"/api/documents/{document.id}").status_code == 401


def test_a_partner_downloads_the_documents_of_its_own_bookings_only(
    api_core: BookingCore,
    client: ApiClient,
    slot: Slot,
    clock: FixedClock,
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
    booking = made.json()
    assert booking["partner_name"] == "Alpha"
    document = Document(
        id=DocumentId(uuid4()),
        booking_id=BookingId(UUID(booking["id"])),
        kind="invoice",
        filename="invoice.pdf",
        media_type="application/pdf",
        content="JVBERi0xLjQK",  # "%PDF-1.4\n", base64
        created_at=clock.now(),
    )
    with api_core.context.uow_factory() as uow:
        uow.documents.add(document)
        uow.commit()
    got = client.get(f"/api/documents/{document.id}", headers=alpha)
    assert got.status_code == 200, got.text
    assert (got.content, got.headers["content-type"]) == (b"%PDF-1.4\n", "application/pdf")
    assert client.get(f"/api/documents/{document.id}", headers=bravo).status_code == 404
    listed = client.get(f"/api/bookings/{booking['id']}/documents", headers=bravo)
    assert listed.status_code == 404


@STORES
def test_bookings_show_their_partner_name_and_the_desk_filters_by_customer_product_group(
    api_core: BookingCore,
    client: ApiClient,
    slot: Slot,
    sign_in: SignIn,
    book: Book,
    staff_headers: dict[str, str],
) -> None:
    alpha = _partner(api_core, client, slot, "Alpha")
    via_partner = client.post(
        "/api/partner/bookings",
        json={
            "slot_id": str(slot.id),
            "customer": {"phone": "+919800000001", "name": "Alpha Customer"},
            "travelers": [{"name": "Alpha Customer", "is_primary": True}],
        },
        headers=alpha,
    ).json()
    asha = sign_in("+919876543210")
    direct = book(asha)
    listed = client.get("/api/admin/bookings", headers=staff_headers).json()["items"]
    assert {(b["reference"], b["source"], b["partner_name"]) for b in listed} == {
        (via_partner["reference"], "partner", "Alpha"),
        (direct["reference"], "direct", None),
    }
    one = client.get(f"/api/admin/bookings/{via_partner['id']}", headers=staff_headers).json()
    assert one["partner_name"] == "Alpha"
    assert client.get("/api/partner/bookings", headers=alpha).json()["items"][0][
        "partner_name"
    ] == ("Alpha")
    general = client.get("/api/bookings", headers=staff_headers).json()["items"]
    assert {b["partner_name"] for b in general} == {"Alpha", None}

    by_customer = client.get(
        "/api/admin/bookings", params={"customer_id": _me(client, asha)}, headers=staff_headers
    ).json()["items"]
    assert [b["id"] for b in by_customer] == [direct["id"]]
    no_product = client.get(
        "/api/admin/bookings", params={"product_id": str(uuid4())}, headers=staff_headers
    )
    assert no_product.status_code == 200
    assert no_product.json()["items"] == []

    group = client.post(
        "/api/admin/bookings/groups",
        json={"group_reference": "acme-26", "organizer_id": _me(client, asha)},
        headers=staff_headers,
    ).json()
    desk = {
        "slot_id": str(slot.id),
        "customer": {"phone": "+919876543219", "name": "Meera Rao"},
        "travelers": [{"name": "Meera Rao", "is_primary": True}],
        "source": "phone",
        "group_id": group["id"],
    }
    grouped = client.post("/api/admin/bookings", json=desk, headers=staff_headers)
    assert grouped.status_code == 201, grouped.text
    in_group = client.get(
        "/api/admin/bookings", params={"group_id": group["id"]}, headers=staff_headers
    ).json()["items"]
    assert [b["id"] for b in in_group] == [grouped.json()["id"]]
    unknown = client.post(
        "/api/admin/bookings",
        json={**desk, "group_id": str(uuid4()), "customer": {"phone": "+919876543218"}},
        headers=staff_headers,
    )
    assert unknown.status_code in (404, 422), unknown.text

    url = f"/api/admin/bookings/groups/{group['id']}/confirmations"
    keyed = {**staff_headers, "Idempotency-Key": "confirm-1"}
    first, again = (client.post(url, headers=keyed) for _ in "12")
    assert (first.status_code, again.status_code) == (201, 201), again.text
    assert first.json()
    assert [m["id"] for m in again.json()] == [m["id"] for m in first.json()]
    assert client.post(url, headers=asha).status_code == 401
    missing = client.post(
        f"/api/admin/bookings/groups/{uuid4()}/confirmations", headers=staff_headers
    )
    assert missing.status_code == 404


def test_the_payment_history_is_in_the_customer_view_and_the_customer_api(
    client: ApiClient, sign_in: SignIn, book: Book, staff_headers: dict[str, str]
) -> None:
    asha = sign_in("+919876543210")
    booking = book(asha)
    intent = client.post(
        "/api/payments/create-intent",
        json={"booking_id": booking["id"], "provider": "fake"},
        headers={**asha, "Idempotency-Key": "pay-1"},
    )
    assert intent.status_code == 201, intent.text
    customer_id = _me(client, asha)
    view = client.get(f"/api/admin/customers/{customer_id}/view", headers=staff_headers)
    assert view.status_code == 200, view.text
    payments = view.json()["payments"]
    assert [(p["booking_id"], p["provider"]) for p in payments] == [(booking["id"], "fake")]
    own = client.get("/api/v1/customer/payments", headers=asha)
    assert own.status_code == 200, own.text
    assert [p["id"] for p in own.json()] == [p["id"] for p in payments]
    assert client.get("/api/v1/customer/payments", headers=staff_headers).status_code == 401


@STORES
def test_staff_export_erase_and_merge_customers(
    client: ApiClient,
    sign_in: SignIn,
    book: Book,
    staff_headers: dict[str, str],
    staff_sign_in: StaffSignIn,
) -> None:
    asha = sign_in("+919876543210")
    book(asha)
    asha_id = _me(client, asha)
    exported = client.get(f"/api/admin/customers/{asha_id}/export", headers=staff_headers)
    assert exported.status_code == 200, exported.text
    assert exported.json()["customer"]["id"] == asha_id
    assert len(exported.json()["bookings"]) == 1
    own = client.get("/api/v1/customer/export", headers=asha)
    assert own.status_code == 200, own.text
    assert own.json()["customer"]["id"] == asha_id
    advisor = staff_sign_in("adv@example.com", StaffRole.ADVISOR)
    assert client.get(f"/api/admin/customers/{asha_id}/export", headers=advisor).status_code == 403

    dupe = sign_in("+919876543211")
    dupe_id = _me(client, dupe)
    book(dupe, name="Asha V")
    merge_url = f"/api/admin/customers/{asha_id}/merge"
    body = {"duplicate_id": dupe_id, "reason": "same person"}
    keyed = {**staff_headers, "Idempotency-Key": "merge-1"}
    first, again = (client.post(merge_url, json=body, headers=keyed) for _ in "12")
    assert (first.status_code, again.status_code) == (200, 200), again.text
    assert first.json()["id"] == again.json()["id"] == asha_id
    mine = client.get(
        "/api/admin/bookings", params={"customer_id": asha_id}, headers=staff_headers
    ).json()["items"]
    assert len(mine) == 2
    assert client.post(merge_url, json=body, headers=staff_headers).status_code == 404
    same = client.post(merge_url, json={"duplicate_id": asha_id}, headers=staff_headers)
    assert same.status_code == 422
    assert client.post(merge_url, json=body, headers=advisor).status_code == 403

    erase_url = f"/api/admin/customers/{asha_id}/erase"
    assert client.post(erase_url, json={}, headers=advisor).status_code == 403
    keyed = {**staff_headers, "Idempotency-Key": "erase-asha"}
    erased = client.post(erase_url, json={"reason": "asked by email"}, headers=keyed)
    assert erased.status_code == 200, erased.text
    assert erased.json()["name"] != "Asha Verma 0"
    retried = client.post(erase_url, json={"reason": "asked by email"}, headers=keyed)
    assert retried.status_code == 200, retried.text
    assert retried.json() == erased.json()
    assert client.post(erase_url, json={}, headers=staff_headers).status_code == 422
    assert client.get("/api/v1/customer/auth/profile", headers=asha).status_code == 401


def test_the_booking_export_is_a_csv_of_what_the_caller_may_list(
    client: ApiClient,
    sign_in: SignIn,
    book: Book,
    staff_headers: dict[str, str],
    staff_sign_in: StaffSignIn,
) -> None:
    asha = sign_in("+919876543210")
    first = book(asha)
    book(sign_in("+919876543211"), name="Ravi")
    answer = client.get(
        "/api/admin/exports/bookings.csv",
        params={"customer_id": _me(client, asha)},
        headers=staff_headers,
    )
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"].startswith("text/csv")
    assert 'filename="bookings.csv"' in answer.headers["content-disposition"]
    rows = list(csv.reader(io.StringIO(answer.text)))
    assert rows[0][:3] == ["reference", "status", "lifecycle"]
    assert [r[0] for r in rows[1:]] == [first["reference"]]
    # a cell a spreadsheet would read as a formula ("+...") is escaped
    assert rows[1][rows[0].index("customer_phone")] == "'+919876543210"
    everything = client.get("/api/admin/exports/bookings.csv", headers=staff_headers)
    assert len(list(csv.reader(io.StringIO(everything.text)))) == 3
    supplier = staff_sign_in("sup@example.com", StaffRole.SUPPLIER)
    refused = client.get("/api/admin/exports/bookings.csv", headers=supplier)
    assert refused.status_code == 403  # refused before the answer starts, as a problem
    assert refused.json()["code"] == "permission_denied"
    advisor = staff_sign_in("adv@example.com", StaffRole.ADVISOR)
    scoped = client.get("/api/admin/exports/bookings.csv", headers=advisor)
    assert len(list(csv.reader(io.StringIO(scoped.text)))) == 1  # none assigned: the header
    assert client.get("/api/admin/exports/bookings.csv", headers=asha).status_code == 401


def test_admins_add_staff_and_advisors(
    client: ApiClient, staff_headers: dict[str, str], staff_sign_in: StaffSignIn
) -> None:
    body = {"email": "Meera@Example.com", "name": "Meera Nair", "role": "advisor"}
    added = client.post("/api/admin/staff", json=body, headers=staff_headers)
    assert added.status_code == 201, added.text
    assert (added.json()["email"].lower(), added.json()["role"]) == ("meera@example.com", "advisor")
    again = client.post(
        "/api/admin/staff", json={**body, "email": "meera@example.com"}, headers=staff_headers
    )
    assert again.status_code == 409
    bad = client.post(
        "/api/admin/staff",
        json={"email": "x@example.com", "name": "X Y", "role": "wizard", "locations": ["NOPE"]},
        headers=staff_headers,
    )
    assert bad.status_code == 422
    assert {e["field"] for e in bad.json()["errors"]} >= {"role"}
    advisor = staff_sign_in("adv@example.com", StaffRole.ADVISOR)
    refused = client.post(
        "/api/admin/staff", json={**body, "email": "n@example.com"}, headers=advisor
    )
    assert refused.status_code == 403


def test_the_waiting_list_conversion_report(
    client: ApiClient, staff_headers: dict[str, str], staff_sign_in: StaffSignIn
) -> None:
    report = client.get("/api/admin/reports/waitlist-conversion", headers=staff_headers)
    assert report.status_code == 200, report.text
    assert report.json()["joined"] == 0
    advisor = staff_sign_in("adv@example.com", StaffRole.ADVISOR)
    refused = client.get("/api/admin/reports/waitlist-conversion", headers=advisor)
    assert refused.status_code == 403
