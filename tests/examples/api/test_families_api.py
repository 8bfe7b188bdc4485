"""Family accounts over HTTP: invite by phone, accept, book a member's traveler through
the customer booking route, the member's view, leaving; staff read access."""

from __future__ import annotations

from collections.abc import Callable

from tests.examples.api._client import ApiClient

from bookingcore.domain import Slot

MUM = "+919876543210"
SON = "+919811122233"
FRIEND = "+919822233344"

SignIn = Callable[[str], dict[str, str]]


def _traveler(client: ApiClient, headers: dict[str, str], name: str) -> str:
    made = client.post("/api/v1/customer/travelers", json={"name": name}, headers=headers)
    assert made.status_code == 201, made.text
    return str(made.json()["id"])


def test_a_family_books_for_each_other_and_sees_only_what_it_should(
    client: ApiClient, sign_in: SignIn, slot: Slot, staff_headers: dict[str, str]
) -> None:
    mum, son, friend = sign_in(MUM), sign_in(SON), sign_in(FRIEND)
    ravi = _traveler(client, son, "Ravi Rao")
    assert client.get("/api/v1/customer/family", headers=mum).status_code == 404

    keyed = {**mum, "Idempotency-Key": "invite-ravi"}
    body = {"phone": "98111 22233", "relation": "son"}
    sent = client.post("/api/v1/customer/family/invitations", json=body, headers=keyed)
    assert sent.status_code == 201, sent.text
    again = client.post("/api/v1/customer/family/invitations", json=body, headers=keyed)
    assert again.json()["id"] == sent.json()["id"]
    invitation = sent.json()
    assert (invitation["relation"], invitation["status"]) == ("son", "pending")

    waiting = client.get("/api/v1/customer/family/invitations/received", headers=son).json()
    assert [w["invitation"]["id"] for w in waiting] == [invitation["id"]]
    url = f"/api/v1/customer/family/invitations/{invitation['id']}"
    assert client.post(f"{url}/accept", headers=friend).status_code == 404
    joined = client.post(f"{url}/accept", headers=son)
    assert joined.status_code == 200, joined.text
    assert joined.json()["role"] == "member"

    members = client.get("/api/v1/customer/family/members", headers=son).json()
    assert [(m["role"], m["relation"]) for m in members] == [("owner", None), ("member", "son")]
    travelers = client.get("/api/v1/customer/family/travelers", headers=mum).json()
    assert [(t["name"], t["is_own"]) for t in travelers] == [("Ravi Rao", False)]
    assert set(travelers[0]) == {"traveler_id", "name", "owner_id", "is_own"}

    booked = client.post(
        "/api/v1/customer/bookings",
        json={"slot_id": str(slot.id), "travelers": [{"id": ravi, "is_primary": True}]},
        headers=mum,
    )
    assert booked.status_code == 201, booked.text
    refused = client.post(
        "/api/v1/customer/bookings",
        json={"slot_id": str(slot.id), "travelers": [{"id": ravi, "is_primary": True}]},
        headers=friend,
    )
    assert refused.status_code == 422, refused.text
    seen = client.get("/api/v1/customer/family/bookings", headers=son).json()
    assert [b["reference"] for b in seen] == [booked.json()["reference"]]
    assert "total" not in seen[0]
    assert (
        client.get(f"/api/v1/customer/bookings/{booked.json()['id']}", headers=son).status_code
        == 404
    )

    customer_id = members[1]["customer_id"]
    staff_view = client.get(f"/api/admin/customers/{customer_id}/family", headers=staff_headers)
    assert staff_view.status_code == 200, staff_view.text
    assert len(staff_view.json()["members"]) == 2
    not_staff = client.get(f"/api/admin/customers/{customer_id}/family", headers=son)
    assert not_staff.status_code in (401, 403)

    removal = client.delete(f"/api/v1/customer/family/members/{customer_id}", headers=son)
    assert removal.status_code == 403
    assert client.post("/api/v1/customer/family/leave", headers=son).status_code == 204
    assert client.get("/api/v1/customer/family/bookings", headers=son).status_code == 404
