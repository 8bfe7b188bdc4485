"""Sharing a trip over HTTP: the signed-in customer makes, lists and revokes share links;
anyone with a token reads the trip without signing in, rate limited per address; a
stranger cannot share a booking not theirs; staff share on the customer's behalf."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from anyio.from_thread import start_blocking_portal
from tests.examples.api._client import ApiClient

from bookingcore import BookingCore, RateLimit
from bookingcore.testing import FixedClock
from examples.api.app import create_app

SignIn = Callable[[str], dict[str, str]]
Book = Callable[..., dict[str, Any]]

ASHA, BEN = "+919876543210", "+919812345678"


@pytest.mark.parametrize(
    "uow_factory",
    ["memory", "sqlite", pytest.param("postgres", marks=pytest.mark.postgres)],
    indirect=True,
)
def test_a_customer_shares_a_booking_and_a_friend_reads_it_without_signing_in(
    client: ApiClient, sign_in: SignIn, book: Book
) -> None:
    me = sign_in(ASHA)
    booking = book(me, name="Asha Verma", seats=2)
    path = f"/api/v1/customer/bookings/{booking['id']}/share-links"
    made = client.post(path, json={"show_first_names": True, "label": "friends"}, headers=me)
    assert made.status_code == 201, made.text
    link = made.json()
    token = link["token"]
    assert token.startswith("trip_")
    assert link["path"] == f"/api/v1/shared-trips/{token}"
    assert link["token_hint"] == f"trip_…{token[-4:]}"

    shared = client.get(link["path"])  # no Authorization header
    assert shared.status_code == 200, shared.text
    assert shared.headers["cache-control"] == "no-store"
    trip = shared.json()
    assert trip["trip_name"] == "Hampta Pass base camp"
    assert (trip["status"], trip["travelers"]) == ("pending", 2)
    assert trip["first_names"] == ["Asha", "Asha"]
    for secret in (booking["id"], booking["reference"], ASHA[3:], "8500", "Verma"):
        assert secret not in shared.text

    listed = client.get(path, headers=me).json()
    assert [x["id"] for x in listed] == [link["id"]]
    assert token not in str(listed)
    assert listed[0]["active"] is True

    revoked = client.delete(f"{path}/{link['id']}", headers=me)
    assert revoked.status_code == 200, revoked.text
    assert revoked.json()["active"] is False
    gone = client.get(link["path"])
    assert gone.status_code == 404
    unknown = client.get("/api/v1/shared-trips/trip_" + "x" * 43)
    assert unknown.status_code == 404
    assert gone.json()["detail"] == unknown.json()["detail"]


@pytest.mark.parametrize(
    "uow_factory",
    ["memory", "sqlite", pytest.param("postgres", marks=pytest.mark.postgres)],
    indirect=True,
)
def test_opens_are_counted_for_the_owner_and_a_cancelled_booking_opens_nothing(
    client: ApiClient, sign_in: SignIn, book: Book, clock: FixedClock
) -> None:
    me = sign_in(ASHA)
    booking = book(me, name="Asha Verma", seats=2)
    path = f"/api/v1/customer/bookings/{booking['id']}/share-links"
    link = client.post(path, json={}, headers=me).json()
    (fresh,) = client.get(path, headers=me).json()
    assert (fresh["view_count"], fresh["last_opened_at"], fresh["opens"]) == (0, None, True)
    assert client.get(link["path"]).status_code == 200
    clock.advance(minutes=5)
    opened = client.get(link["path"])
    assert opened.status_code == 200
    assert "view_count" not in opened.text  # the count is the owner's, not the friends'
    (listed,) = client.get(path, headers=me).json()
    assert listed["view_count"] == 2
    assert listed["last_opened_at"].startswith(clock.now().isoformat()[:16])

    cancelled = client.post(f"/api/v1/customer/bookings/{booking['id']}/cancel", headers=me)
    assert cancelled.status_code == 200, cancelled.text
    gone = client.get(link["path"])
    assert gone.status_code == 404
    unknown = client.get("/api/v1/shared-trips/trip_" + "x" * 43)
    # Nothing tells the token once worked (but the path it was asked at).
    assert {**gone.json(), "instance": None} == {**unknown.json(), "instance": None}
    (after,) = client.get(path, headers=me).json()
    assert (after["active"], after["opens"], after["view_count"]) == (True, False, 2)


def test_a_retry_with_the_same_key_answers_the_same_link_without_its_token(
    client: ApiClient, sign_in: SignIn, book: Book
) -> None:
    me = sign_in(ASHA)
    booking = book(me)
    path = f"/api/v1/customer/bookings/{booking['id']}/share-links"
    keyed = {**me, "Idempotency-Key": "share-once"}
    first = client.post(path, json={}, headers=keyed).json()
    again = client.post(path, json={}, headers=keyed)
    assert again.status_code == 201, again.text
    assert again.json()["id"] == first["id"]
    assert (first["token"] is not None, again.json()["token"]) == (True, None)
    assert len(client.get(path, headers=me).json()) == 1


def test_bad_input_names_the_field_and_the_sixth_link_is_refused(
    client: ApiClient, sign_in: SignIn, book: Book, clock: FixedClock
) -> None:
    me = sign_in(ASHA)
    path = f"/api/v1/customer/bookings/{book(me)['id']}/share-links"
    past = client.post(path, json={"expires_at": clock.now().isoformat()}, headers=me)
    assert past.status_code == 422, past.text
    assert [e["field"] for e in past.json()["errors"]] == ["expires_at"]
    for _ in range(5):
        assert client.post(path, json={}, headers=me).status_code == 201
    sixth = client.post(path, json={}, headers=me)
    assert sixth.status_code == 422, sixth.text
    assert [(e["field"], e["code"]) for e in sixth.json()["errors"]] == [
        ("booking_id", "too_many_links")
    ]


def test_another_customer_cannot_share_list_or_revoke_my_booking_but_staff_can(
    client: ApiClient, sign_in: SignIn, book: Book, staff_headers: dict[str, str]
) -> None:
    me, ben = sign_in(ASHA), sign_in(BEN)
    booking = book(me)
    mine = f"/api/v1/customer/bookings/{booking['id']}/share-links"
    assert client.post(mine, json={}, headers=ben).status_code == 404
    assert client.get(mine, headers=ben).status_code == 404
    made = client.post(f"/api/bookings/{booking['id']}/share-links", json={}, headers=staff_headers)
    assert made.status_code == 201, made.text
    assert client.delete(f"{mine}/{made.json()['id']}", headers=ben).status_code == 404
    listed = client.get(mine, headers=me).json()
    assert [x["id"] for x in listed] == [made.json()["id"]]
    assert client.get(made.json()["path"]).status_code == 200


def test_reading_shared_trips_is_rate_limited_per_client(
    api_core: BookingCore, sign_in: SignIn, book: Book, client: ApiClient, tmp_path: Any
) -> None:
    me = sign_in(ASHA)
    path = f"/api/v1/customer/bookings/{book(me)['id']}/share-links"
    opened = client.post(path, json={}, headers=me).json()["path"]
    strict = create_app(
        api_core,
        upload_dir=tmp_path / "uploads",
        shared_trip_rate_limit=RateLimit(2, timedelta(minutes=1)),
    )
    with start_blocking_portal() as portal:
        http = ApiClient(strict, portal)
        try:
            assert http.get(opened).status_code == 200
            assert http.get("/api/v1/shared-trips/trip_unknown").status_code == 404
            limited = http.get(opened)
            assert limited.status_code == 429, limited.text
            assert int(limited.headers["retry-after"]) >= 1
        finally:
            http.close()
