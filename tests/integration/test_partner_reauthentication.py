"""A partner changes its own credentials only by presenting its API secret again.

A bearer token lasts an hour and may be stolen; with it alone nobody may mint a
lasting API secret or take over webhook signing. Staff with ``manage_partners``
(who are not the partner) rotate without it.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any
from uuid import uuid4

import pytest

from bookingcore import (
    AuthenticationError,
    BookingCore,
    Principal,
    StaffId,
    StaffRole,
)
from bookingcore.domain.audit import AuditAction
from bookingcore.services import PartnerRegistration
from bookingcore.testing import FixedClock, SequentialIds
from bookingcore_adapters.memory import MemoryStore
from bookingcore_adapters.sql import SqlStore

ADMIN = Principal.staff(StaffId(uuid4()), StaffRole.ADMIN)


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock()


@pytest.fixture
def core(any_store: MemoryStore | SqlStore, clock: FixedClock) -> BookingCore:
    return BookingCore(uow_factory=any_store.unit_of_work, clock=clock, ids=SequentialIds())


@pytest.fixture
def registered(core: BookingCore) -> PartnerRegistration:
    return core.partners.register(
        name="Trips",
        company_name="Trips Ltd",
        contact_email="ops@trips.example",
        webhook_url="https://trips.example/hooks",
        principal=ADMIN,
    )


Rotate = Callable[..., Any]


def _rotations(core: BookingCore) -> dict[str, Rotate]:
    return {
        "api_secret": core.partners.rotate_secret,
        "webhook_secret": core.partners.rotate_webhook_secret,
    }


def _assert_unchanged(core: BookingCore, registered: PartnerRegistration) -> None:
    stored = core.partners.get(registered.partner.id, principal=ADMIN)
    assert stored.version == registered.partner.version
    assert stored.api_secret_hash == registered.partner.api_secret_hash
    assert stored.webhook_secret == registered.partner.webhook_secret
    history = core.partners.history(registered.partner.id, principal=ADMIN)
    assert [e.action for e in history] == [AuditAction.CREATED]
    assert core.partners.authenticate(registered.api_key, registered.api_secret).is_partner()


@pytest.mark.parametrize("credential", ["api_secret", "webhook_secret"])
def test_a_partner_rotating_without_its_current_secret_is_refused(
    core: BookingCore, registered: PartnerRegistration, credential: str
) -> None:
    me = Principal.partner(registered.partner.id)
    rotate = _rotations(core)[credential]
    with pytest.raises(AuthenticationError, match="current_secret") as raised:
        rotate(registered.partner.id, principal=me)
    assert raised.value.code == "authentication_failed"
    _assert_unchanged(core, registered)


@pytest.mark.parametrize("credential", ["api_secret", "webhook_secret"])
def test_a_partner_rotating_with_a_wrong_current_secret_is_refused(
    core: BookingCore, registered: PartnerRegistration, credential: str
) -> None:
    me = Principal.partner(registered.partner.id)
    rotate = _rotations(core)[credential]
    wrong: list[Any] = [
        "",
        "sk_wrong",
        registered.api_secret + "x",
        registered.api_secret[:-1],
        registered.api_key,
        registered.partner.webhook_secret,
        "sk_" + "x" * 10_000,
        b"bytes are not a secret",
    ]
    for secret in wrong:
        with pytest.raises(AuthenticationError, match="current_secret"):
            rotate(registered.partner.id, principal=me, current_secret=secret)
    _assert_unchanged(core, registered)


def test_a_partner_with_its_current_secret_rotates_both(
    core: BookingCore, registered: PartnerRegistration
) -> None:
    me = Principal.partner(registered.partner.id)
    hooks = core.partners.rotate_webhook_secret(
        registered.partner.id, principal=me, current_secret=registered.api_secret
    )
    assert hooks.webhook_secret != registered.partner.webhook_secret
    rotated = core.partners.rotate_secret(
        registered.partner.id, principal=me, current_secret=registered.api_secret
    )
    assert core.partners.authenticate(rotated.api_key, rotated.api_secret).is_partner()
    with pytest.raises(AuthenticationError):
        core.partners.authenticate(registered.api_key, registered.api_secret)
    # The replaced secret is no longer current: it rotates nothing now.
    with pytest.raises(AuthenticationError, match="current_secret"):
        core.partners.rotate_secret(
            registered.partner.id, principal=me, current_secret=registered.api_secret
        )
    history = core.partners.history(registered.partner.id, principal=ADMIN)
    assert [e.action for e in history] == [
        AuditAction.CREDENTIALS_ROTATED,
        AuditAction.CREDENTIALS_ROTATED,
        AuditAction.CREATED,
    ]


def test_the_previous_secret_counts_as_current_during_its_grace_period(
    core: BookingCore, registered: PartnerRegistration, clock: FixedClock
) -> None:
    me = Principal.partner(registered.partner.id)
    rotated = core.partners.rotate_secret(
        registered.partner.id,
        principal=me,
        current_secret=registered.api_secret,
        keep_previous_for=timedelta(hours=1),
    )
    hooks = core.partners.rotate_webhook_secret(
        registered.partner.id, principal=me, current_secret=registered.api_secret
    )
    assert hooks.webhook_secret != registered.partner.webhook_secret
    clock.advance(hours=1)
    with pytest.raises(AuthenticationError, match="current_secret"):
        core.partners.rotate_webhook_secret(
            registered.partner.id, principal=me, current_secret=registered.api_secret
        )
    again = core.partners.rotate_webhook_secret(
        registered.partner.id, principal=me, current_secret=rotated.api_secret
    )
    assert again.webhook_secret != hooks.webhook_secret


def test_staff_rotate_a_partners_secrets_without_its_current_secret(
    core: BookingCore, registered: PartnerRegistration
) -> None:
    rotated = core.partners.rotate_secret(registered.partner.id, principal=ADMIN)
    assert core.partners.authenticate(rotated.api_key, rotated.api_secret).is_partner()
    hooks = core.partners.rotate_webhook_secret(registered.partner.id, principal=ADMIN)
    assert hooks.webhook_secret != registered.partner.webhook_secret
