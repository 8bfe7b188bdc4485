"""Sign-in over the SQL store: sessions on SQLite (and PostgreSQL), races through the services."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from tests._sqlite import sqlite_file_store
from tests._threads import at_once

from bookingcore import (
    AuthenticationError,
    AuthSettings,
    BookingCore,
    DuplicateError,
    Principal,
    PrincipalKind,
    Settings,
)
from bookingcore.domain.auth import RevocationReason
from bookingcore.services import SignedIn
from bookingcore.testing import FixedClock, SequentialIds
from bookingcore_adapters.auth import Argon2PasswordHasher, JwtTokenSigner
from bookingcore_adapters.memory import MemoryOtpStore, MemoryRateLimiter
from bookingcore_adapters.sms import ConsoleSmsSender
from bookingcore_adapters.sql import SqlStore

SECRET = b"0123456789abcdef0123456789abcdef"
PASSWORD = "correct horse battery staple"


@pytest.fixture
def sqlite_store(tmp_path: Path) -> Iterator[SqlStore]:
    """A migrated SQLite file."""
    store = sqlite_file_store(tmp_path / "auth.sqlite3", schema="migrate")
    yield store
    store.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def sql_store(request: pytest.FixtureRequest) -> SqlStore:
    """The SQL store on SQLite, and on PostgreSQL when a server is configured."""
    fixture = "sqlite_store" if request.param == "sqlite" else "pg_store"
    store: SqlStore = request.getfixturevalue(fixture)
    return store


@pytest.fixture
def sms() -> ConsoleSmsSender:
    return ConsoleSmsSender()


@pytest.fixture
def core(sql_store: SqlStore, sms: ConsoleSmsSender, clock: FixedClock) -> BookingCore:
    return BookingCore(
        uow_factory=sql_store.unit_of_work,
        clock=clock,
        ids=SequentialIds(),
        settings=Settings(default_region="IN"),
        otp_store=MemoryOtpStore(),
        rate_limiter=MemoryRateLimiter(),
        sms=sms,
        token_signer=JwtTokenSigner({"k1": SECRET}),
        password_hasher=Argon2PasswordHasher(time_cost=1, memory_cost=8, parallelism=1),
        auth_settings=AuthSettings(otp_pepper=b"pepper-pepper-pepper-pepper-pepper"),
    )


def last_code(sms: ConsoleSmsSender) -> str:
    found = re.search(r"\b(\d{6})\b", sms.sent[-1][1])
    assert found is not None
    return found.group(1)


def test_concurrent_verifies_of_one_code_give_exactly_one_success(
    core: BookingCore, sms: ConsoleSmsSender, sql_store: SqlStore, admin: Principal
) -> None:
    core.auth.request_otp("98765 43210")
    code = last_code(sms)

    outcomes = at_once(6, lambda _: core.auth.verify_otp("98765 43210", code), switch_interval=1e-5)

    winners = [o for o in outcomes if isinstance(o, SignedIn)]
    assert len(winners) == 1, outcomes
    assert all(isinstance(o, SignedIn | AuthenticationError) for o in outcomes), outcomes
    customer = winners[0].customer
    assert customer is not None
    with sql_store.unit_of_work() as uow:
        sessions = uow.auth_sessions.list_for_subject(PrincipalKind.CUSTOMER, customer.id)
    assert [s.id for s in sessions] == [winners[0].session_id]
    assert core.customers.find_by_phone("98765 43210", principal=admin) == customer


def test_concurrent_refreshes_with_one_token_rotate_it_once(
    core: BookingCore, sms: ConsoleSmsSender, sql_store: SqlStore
) -> None:
    """The session is locked: one refresh rotates, the others find the token spent."""
    core.auth.request_otp("98765 43210")
    signed = core.auth.verify_otp("98765 43210", last_code(sms))
    refresh_token = signed.tokens.refresh_token
    assert refresh_token is not None

    outcomes = at_once(4, lambda _: core.auth.refresh(refresh_token), switch_interval=1e-5)

    renewed = [o for o in outcomes if not isinstance(o, Exception)]
    assert len(renewed) == 1, outcomes
    assert all(isinstance(o, AuthenticationError) for o in outcomes if o not in renewed)
    with sql_store.unit_of_work() as uow:
        session = uow.auth_sessions.get(signed.session_id)
    assert session is not None
    assert session.revoked_reason is RevocationReason.REFRESH_REUSED


def test_refresh_logout_and_staff_revocation_are_stored(
    core: BookingCore, sms: ConsoleSmsSender, admin: Principal, clock: FixedClock
) -> None:
    core.auth.request_otp("98765 43210")
    signed = core.auth.verify_otp("98765 43210", last_code(sms))
    assert signed.tokens.refresh_token is not None
    renewed = core.auth.refresh(signed.tokens.refresh_token)
    with pytest.raises(AuthenticationError, match="already used"):
        core.auth.refresh(signed.tokens.refresh_token)
    with pytest.raises(AuthenticationError, match="refresh_reused"):
        core.auth.authenticate(renewed.access_token, expect="customer")

    member = core.staff.add("ravi@example.com", "Ravi", principal=admin, role="advisor")
    core.staff.set_password(member.id, PASSWORD, principal=admin)
    staff = core.auth.sign_in_staff("ravi@example.com", PASSWORD)
    assert core.auth.authenticate(staff.tokens.access_token, expect="staff") == member.principal
    core.auth.logout(staff.tokens.access_token)
    with pytest.raises(AuthenticationError, match="logout"):
        core.auth.authenticate(staff.tokens.access_token, expect="staff")

    again = core.auth.sign_in_staff("ravi@example.com", PASSWORD)
    core.staff.set_active(member.id, False, principal=admin)
    with pytest.raises(AuthenticationError, match="deactivated"):
        core.auth.authenticate(again.tokens.access_token, expect="staff")

    clock.advance(days=91)
    assert core.auth.cleanup() >= 3


def test_staff_sign_in_by_any_case_and_a_case_variant_is_a_duplicate(
    core: BookingCore, sql_store: SqlStore, admin: Principal
) -> None:
    member = core.staff.add("Ravi.Kumar@Example.com", "Ravi", principal=admin)
    core.staff.set_password(member.id, PASSWORD, principal=admin)
    signed = core.auth.sign_in_staff("ravi.kumar@EXAMPLE.com", PASSWORD)
    assert core.auth.authenticate(signed.tokens.access_token, expect="staff") == member.principal
    with pytest.raises(DuplicateError) as refused:
        core.staff.add("RAVI.KUMAR@example.com", "Ravi again", principal=admin)
    assert refused.value.existing_id == member.id
    with sql_store.unit_of_work() as uow:
        assert [m.email.value for m in uow.staff.list()] == ["Ravi.Kumar@example.com"]
