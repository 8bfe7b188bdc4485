"""A staff member deactivated while signing in never keeps a usable session, on every backend."""

from __future__ import annotations

import threading
from collections.abc import Callable
from types import TracebackType
from typing import Any, Self

import pytest

from bookingcore import (
    AuthenticationError,
    AuthSettings,
    BookingCore,
    Principal,
    PrincipalKind,
    Settings,
    StaffId,
    StaffRole,
)
from bookingcore.ports import UnitOfWork
from bookingcore.services import SignedIn
from bookingcore.testing import FixedClock, SequentialIds
from bookingcore_adapters.auth import Argon2PasswordHasher, JwtTokenSigner
from bookingcore_adapters.memory import MemoryRateLimiter, MemoryStore
from bookingcore_adapters.sql import SqlStore

ADMIN = Principal.staff(StaffId(SequentialIds().new_id()), StaffRole.ADMIN)
PASSWORD = "correct horse battery staple"
SIGNER = JwtTokenSigner({"k1": b"0123456789abcdef0123456789abcdef"})
HASHER = Argon2PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)


class _HookedStaff:
    """A staff repository that calls ``hook`` after each read by id (``get``,
    ``get_for_update``); the test's hook acts once."""

    def __init__(self, inner: Any, hook: Callable[[], None]) -> None:
        self._inner = inner
        self._hook = hook

    def __getattr__(self, name: str) -> Any:
        found = getattr(self._inner, name)
        if name not in ("get", "get_for_update"):
            return found

        def read(*args: Any, **kwargs: Any) -> Any:
            member = found(*args, **kwargs)
            self._hook()
            return member

        return read


class _HookedUnitOfWork:
    """A unit of work whose staff reads by id call ``hook``."""

    def __init__(self, inner: UnitOfWork, hook: Callable[[], None]) -> None:
        self._inner = inner
        self.staff = _HookedStaff(inner.staff, hook)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    def __enter__(self) -> Self:
        self._inner.__enter__()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._inner.__exit__(exc_type, exc, tb)


def _core(uow_factory: Callable[[], Any], clock: FixedClock) -> BookingCore:
    return BookingCore(
        uow_factory=uow_factory,
        clock=clock,
        settings=Settings(default_region="IN"),
        rate_limiter=MemoryRateLimiter(),
        token_signer=SIGNER,
        password_hasher=HASHER,
        auth_settings=AuthSettings(otp_pepper=b"pepper-pepper-pepper-pepper-pepper"),
    )


def _active_sessions(store: MemoryStore | SqlStore, staff_id: StaffId, clock: FixedClock) -> int:
    with store.unit_of_work() as uow:
        found = uow.auth_sessions.list_for_subject(
            PrincipalKind.STAFF, staff_id, active_at=clock.now()
        )
    return len(found)


def test_a_sign_in_racing_a_deactivation_leaves_no_usable_session(
    any_store: MemoryStore | SqlStore,
) -> None:
    """The deactivation commits after the sign-in read the member as active and before
    it committed its session: the session used to outlive the deactivation, usable."""
    clock = FixedClock()
    admin_core = _core(any_store.unit_of_work, clock)
    member = admin_core.staff.add("ravi@example.com", "Ravi", principal=ADMIN, role="advisor")
    admin_core.staff.set_password(member.id, PASSWORD, principal=ADMIN)
    deactivation: list[BaseException | None] = []
    armed = threading.Event()

    def deactivate() -> None:
        try:
            admin_core.staff.set_active(member.id, False, principal=ADMIN)
        except BaseException as exc:
            deactivation.append(exc)
        else:
            deactivation.append(None)

    racer = threading.Thread(target=deactivate, daemon=True)

    def in_the_sign_in() -> None:
        if not armed.is_set():
            return
        armed.clear()
        racer.start()
        # The deactivation runs to its end here, unless the sign-in holds a lock it
        # waits for (then it goes on once the sign-in commits).
        racer.join(timeout=1.0)

    signing_core = _core(lambda: _HookedUnitOfWork(any_store.unit_of_work(), in_the_sign_in), clock)
    armed.set()
    signed: SignedIn | AuthenticationError
    try:
        signed = signing_core.auth.sign_in_staff("ravi@example.com", PASSWORD)
    except AuthenticationError as refused:
        signed = refused
    racer.join(timeout=30)
    assert deactivation == [None]
    assert _active_sessions(any_store, member.id, clock) == 0
    if isinstance(signed, SignedIn):
        with pytest.raises(AuthenticationError, match="deactivated"):
            admin_core.auth.authenticate(signed.tokens.access_token, expect="staff")
        assert signed.tokens.refresh_token is not None
        with pytest.raises(AuthenticationError):
            admin_core.auth.refresh(signed.tokens.refresh_token)


def test_a_session_of_a_staff_member_no_longer_active_is_not_usable(
    any_store: MemoryStore | SqlStore,
) -> None:
    """A session that outlived its member's deactivation (one an older version left, or a
    store that revoked nothing) used to authenticate until its access token expired."""
    clock = FixedClock()
    core = _core(any_store.unit_of_work, clock)
    member = core.staff.add("ravi@example.com", "Ravi", principal=ADMIN, role="advisor")
    core.staff.set_password(member.id, PASSWORD, principal=ADMIN)
    signed = core.auth.sign_in_staff("ravi@example.com", PASSWORD)
    assert core.auth.authenticate(signed.tokens.access_token, expect="staff") == member.principal
    with any_store.unit_of_work() as uow:  # deactivated behind the service's back
        stored = uow.staff.get(member.id)
        assert stored is not None
        stored.is_active = False
        stored.version += 1
        uow.commit()
    with pytest.raises(AuthenticationError, match="deactivated"):
        core.auth.authenticate(signed.tokens.access_token, expect="staff")
