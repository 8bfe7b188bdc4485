"""A partner's own record over HTTP: it reads it and rotates its secrets; admins set settings."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from anyio.from_thread import start_blocking_portal
from fastapi import FastAPI
from tests.examples.api._client import ApiClient
from tests.examples.api.conftest import SETUP

from bookingcore import BookingCore, PartnerId
from bookingcore.domain import Slot
from bookingcore.services import PartnerRegistration
from examples.api import create_app


def _registered(api_core: BookingCore, slot: Slot) -> PartnerRegistration:
    return api_core.partners.register(
        name="Blue Reef",
        company_name="Blue Reef Travel",
        contact_email="ops@bluereef.example",
        principal=SETUP,
        allowed_location_ids=[slot.location_id],
        settings={"rate_limit": "100/60"},
    )


def _token(client: ApiClient, api_key: str, api_secret: str) -> Any:
    return client.post(
        "/api/partner/auth/token", json={"api_key": api_key, "api_secret": api_secret}
    )


def stored_settings(api_core: BookingCore, partner_id: PartnerId) -> dict[str, str]:
    return dict(api_core.partners.get(partner_id, principal=SETUP).settings)


def _bearer(answer: Any) -> dict[str, str]:
    assert answer.status_code == 200, answer.text
    return {"Authorization": f"Bearer {answer.json()['access_token']}"}


@pytest.mark.parametrize(
    "uow_factory",
    ["memory", "sqlite", pytest.param("postgres", marks=pytest.mark.postgres)],
    indirect=True,
)
def test_a_partner_reads_itself_and_rotates_its_secrets(
    api_core: BookingCore, client: ApiClient, slot: Slot
) -> None:
    registered = _registered(api_core, slot)
    me = _bearer(_token(client, registered.api_key, registered.api_secret))
    own = client.get("/api/partner/me", headers=me)
    assert own.status_code == 200, own.text
    assert (own.json()["id"], own.json()["settings"]) == (
        str(registered.partner.id),
        {"rate_limit": "100/60"},
    )
    assert registered.api_secret not in own.text
    assert "webhook_secret" not in own.json()

    current = {"current_secret": registered.api_secret}
    hooks = client.post("/api/partner/me/rotate-webhook-secret", json=current, headers=me)
    assert hooks.status_code == 200, hooks.text
    new_hook = hooks.json()["webhook_secret"]
    assert new_hook != registered.partner.webhook_secret
    stored = api_core.partners.get(registered.partner.id, principal=SETUP)
    assert stored.webhook_secret == new_hook
    assert client.get("/api/partner/me", headers=me).status_code == 200  # tokens live on

    rotated = client.post("/api/partner/me/rotate-secret", json=current, headers=me)
    assert rotated.status_code == 200, rotated.text
    fresh = rotated.json()
    assert (fresh["api_key"], fresh["partner"]["id"]) == (
        registered.api_key,
        str(registered.partner.id),
    )
    assert fresh["api_secret"] != registered.api_secret
    assert client.get("/api/partner/me", headers=me).status_code == 401  # its token died
    assert _token(client, registered.api_key, registered.api_secret).status_code == 401
    again = _bearer(_token(client, registered.api_key, fresh["api_secret"]))
    assert client.get("/api/partner/me", headers=again).json()["version"] > own.json()["version"]
    history = api_core.partners.history(PartnerId(registered.partner.id), principal=SETUP)
    rotations = [e for e in history if e.action == "credentials_rotated"]
    assert [dict(e.new_values) for e in rotations] == [  # newest first
        {"credential": "api_secret"},
        {"credential": "webhook_secret"},
    ]
    assert {e.actor.kind.value for e in rotations} == {"partner"}


@pytest.mark.parametrize(
    "uow_factory",
    ["memory", "sqlite", pytest.param("postgres", marks=pytest.mark.postgres)],
    indirect=True,
)
@pytest.mark.parametrize("route", ["rotate-secret", "rotate-webhook-secret"])
def test_a_partner_token_alone_does_not_rotate_secrets(
    api_core: BookingCore, client: ApiClient, slot: Slot, route: str
) -> None:
    """A stolen bearer token must not mint lasting credentials: the body repeats the secret."""
    registered = _registered(api_core, slot)
    me = _bearer(_token(client, registered.api_key, registered.api_secret))
    url = f"/api/partner/me/{route}"
    missing = client.post(url, json={}, headers=me)
    assert missing.status_code == 422, missing.text
    assert client.post(url, headers=me).status_code == 422  # no body at all
    wrong_secrets = ["sk_wrong", "", registered.api_secret + "x", registered.api_key]
    for wrong in wrong_secrets:
        refused = client.post(url, json={"current_secret": wrong}, headers=me)
        assert refused.status_code == 401, refused.text
        assert refused.json()["code"] == "authentication_failed"
        assert "current_secret" in refused.json()["detail"]
    stored = api_core.partners.get(registered.partner.id, principal=SETUP)
    assert stored.version == registered.partner.version
    assert stored.webhook_secret == registered.partner.webhook_secret
    assert stored.api_secret_hash == registered.partner.api_secret_hash
    history = api_core.partners.history(PartnerId(registered.partner.id), principal=SETUP)
    assert [e.action for e in history] == ["created"]
    assert client.get("/api/partner/me", headers=me).status_code == 200  # token lives on

    done = client.post(url, json={"current_secret": registered.api_secret}, headers=me)
    assert done.status_code == 200, done.text


def test_a_partner_rotates_with_a_grace_period_and_both_secrets_work_meanwhile(
    api_core: BookingCore, client: ApiClient, slot: Slot
) -> None:
    registered = _registered(api_core, slot)
    me = _bearer(_token(client, registered.api_key, registered.api_secret))
    current = {"current_secret": registered.api_secret}
    url = "/api/partner/me"
    too_long = client.post(
        f"{url}/rotate-secret?keep_previous_for=604801", json=current, headers=me
    )
    assert too_long.status_code == 422, too_long.text
    negative = client.post(
        f"{url}/rotate-webhook-secret?keep_previous_for=-1", json=current, headers=me
    )
    assert negative.status_code == 422, negative.text

    rotated = client.post(f"{url}/rotate-secret?keep_previous_for=3600", json=current, headers=me)
    assert rotated.status_code == 200, rotated.text
    fresh = rotated.json()["api_secret"]
    assert client.get("/api/partner/me", headers=me).status_code == 200  # its token lives on
    for secret in (registered.api_secret, fresh):
        _bearer(_token(client, registered.api_key, secret))

    # The previous secret, still in its grace period, counts as the current one.
    hooks = client.post(
        f"{url}/rotate-webhook-secret?keep_previous_for=600", json=current, headers=me
    )
    assert hooks.status_code == 200, hooks.text
    stored = api_core.partners.get(registered.partner.id, principal=SETUP)
    assert stored.webhook_secret == hooks.json()["webhook_secret"]
    assert stored.previous_webhook_secret == registered.partner.webhook_secret
    assert registered.partner.webhook_secret not in hooks.text
    history = api_core.partners.history(PartnerId(registered.partner.id), principal=SETUP)
    kept = [e.new_values.get("previous_valid_until") for e in history.items[:2]]
    assert all(kept), kept


def test_only_admins_change_a_partners_settings_and_rotate_its_webhook_secret(
    api_core: BookingCore, client: ApiClient, slot: Slot, staff_headers: dict[str, str]
) -> None:
    registered = _registered(api_core, slot)
    me = _bearer(_token(client, registered.api_key, registered.api_secret))
    url = f"/api/admin/partners/{registered.partner.id}"
    body = {"settings": {"rate_limit": "5/60", "allowed_ips": "203.0.113.0/24"}}
    assert client.put(f"{url}/settings", json=body, headers=me).status_code == 401
    changed = client.put(f"{url}/settings", json=body, headers=staff_headers)
    assert changed.status_code == 200, changed.text
    assert changed.json()["settings"] == body["settings"]
    assert stored_settings(api_core, registered.partner.id) == body["settings"]
    # The test client calls from 127.0.0.1, now outside the partner's allowed_ips.
    assert client.get("/api/partner/me", headers=me).status_code == 403
    bad = client.put(
        f"{url}/settings", json={"settings": {"rate_limit": "lots"}}, headers=staff_headers
    )
    assert bad.status_code == 422, bad.text
    assert [e["field"] for e in bad.json()["errors"]] == ["settings.rate_limit"]

    assert client.post(f"{url}/rotate-webhook-secret", headers=me).status_code == 401
    hooks = client.post(f"{url}/rotate-webhook-secret", headers=staff_headers)
    assert hooks.status_code == 200, hooks.text
    stored = api_core.partners.get(registered.partner.id, principal=SETUP)
    assert hooks.json()["webhook_secret"] == stored.webhook_secret


def test_a_partner_token_is_refused_from_an_address_outside_allowed_ips(
    api_core: BookingCore, app: FastAPI, client: ApiClient, slot: Slot
) -> None:
    """allowed_ips holds on every call, not only when the token is issued."""
    registered = _registered(api_core, slot)
    api_core.partners.set_settings(
        registered.partner.id, {"allowed_ips": "203.0.113.0/24"}, principal=SETUP
    )
    with start_blocking_portal() as portal:
        office = ApiClient(app, portal, client_ip="203.0.113.5")
        try:
            me = _bearer(_token(office, registered.api_key, registered.api_secret))
            assert office.get("/api/partner/me", headers=me).status_code == 200
            mine = office.get("/api/partner/bookings", headers=me)
            assert mine.status_code == 200, mine.text
        finally:
            office.close()
    # The same token from elsewhere (the test client's 127.0.0.1) is refused.
    for url in ("/api/partner/me", "/api/partner/bookings"):
        stolen = client.get(url, headers=me)
        assert stolen.status_code == 403, stolen.text
        assert stolen.json()["code"] == "permission_denied"
        assert "may not call from address 127.0.0.1" in stolen.json()["detail"]
    # ... and so is signing in from there.
    assert _token(client, registered.api_key, registered.api_secret).status_code == 401


def test_behind_a_proxy_the_address_is_the_one_the_proxy_appended(
    api_core: BookingCore, slot: Slot, tmp_path: Path
) -> None:
    """A proxy appends the peer to ``X-Forwarded-For``; what comes before is the client's say."""
    registered = _registered(api_core, slot)
    api_core.partners.set_settings(
        registered.partner.id, {"allowed_ips": "203.0.113.0/24"}, principal=SETUP
    )
    app = create_app(api_core, trust_forwarded=True, upload_dir=tmp_path / "uploads")
    with start_blocking_portal() as portal:
        proxy = ApiClient(app, portal, client_ip="10.0.0.2")
        try:
            office = {"X-Forwarded-For": "203.0.113.5"}
            answer = proxy.post(
                "/api/partner/auth/token",
                json={"api_key": registered.api_key, "api_secret": registered.api_secret},
                headers=office,
            )
            me = _bearer(answer)
            assert proxy.get("/api/partner/me", headers={**me, **office}).status_code == 200
            # A client elsewhere claims the office's address; the proxy appends its own.
            spoofed = {"X-Forwarded-For": "203.0.113.5, 198.51.100.9"}
            answer = proxy.get("/api/partner/me", headers={**me, **spoofed})
            assert answer.status_code == 403, answer.text
            assert "may not call from address 198.51.100.9" in answer.json()["detail"]
            refused = proxy.post(
                "/api/partner/auth/token",
                json={"api_key": registered.api_key, "api_secret": registered.api_secret},
                headers=spoofed,
            )
            assert refused.status_code == 401, refused.text
            # A proxy that adds a line of its own: the header's lines are one list, and
            # its address is the last (the first line is the client's say).
            two_lines = [
                *me.items(),
                ("X-Forwarded-For", "203.0.113.5"),
                ("X-Forwarded-For", "198.51.100.9"),
            ]
            answer = proxy.get("/api/partner/me", headers=two_lines)
            assert answer.status_code == 403, answer.text
            assert "may not call from address 198.51.100.9" in answer.json()["detail"]
        finally:
            proxy.close()
