"""Phone sign-in over the Redis OTP store and rate limiter, as several app servers share them."""

from __future__ import annotations

import re
import sys
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any
from uuid import uuid4

import pytest
import redis

from bookingcore import (
    AuthenticationError,
    AuthSettings,
    BookingCore,
    PrincipalKind,
    RateLimit,
    RateLimitedError,
    Settings,
)
from bookingcore.services import SignedIn
from bookingcore.testing import FixedClock, SequentialIds
from bookingcore_adapters.auth import JwtTokenSigner
from bookingcore_adapters.memory import MemoryStore
from bookingcore_adapters.redis import RedisOtpStore, RedisRateLimiter, from_url
from bookingcore_adapters.sms import ConsoleSmsSender

pytestmark = pytest.mark.redis

PEPPER = b"shared-pepper-of-every-app-server!"
SECRET = b"0123456789abcdef0123456789abcdef"


@pytest.fixture
def client(redis_url: str) -> Iterator[redis.Redis]:
    """A client on the test database."""
    client = from_url(redis_url)
    yield client
    client.close()


@pytest.fixture
def prefix(client: redis.Redis) -> Iterator[str]:
    """A key prefix no other test uses; every key under it is deleted afterwards."""
    prefix = f"bookingcore-test:{uuid4().hex}:"
    yield prefix
    keys = list(client.scan_iter(match=f"{prefix}*", count=1000))
    if keys:
        client.delete(*keys)


@pytest.fixture
def sms() -> ConsoleSmsSender:
    return ConsoleSmsSender()


@pytest.fixture
def app_server(
    client: redis.Redis, prefix: str, sms: ConsoleSmsSender, store: MemoryStore, clock: FixedClock
) -> Callable[..., BookingCore]:
    """Builds one app server: its own core and Redis adapters, sharing Redis and the database."""
    ids = SequentialIds()

    def build(**settings: Any) -> BookingCore:
        return BookingCore(
            uow_factory=store.unit_of_work,
            clock=clock,
            ids=ids,
            settings=Settings(default_region="IN"),
            otp_store=RedisOtpStore(client, prefix=f"{prefix}otp:"),
            rate_limiter=RedisRateLimiter(client, prefix=f"{prefix}rate:"),
            sms=sms,
            token_signer=JwtTokenSigner({"k1": SECRET}),
            auth_settings=AuthSettings(otp_pepper=PEPPER, **settings),
        )

    return build


def last_code(sms: ConsoleSmsSender) -> str:
    found = re.search(r"\b(\d{6})\b", sms.sent[-1][1])
    assert found is not None
    return found.group(1)


def test_concurrent_verifies_of_one_code_give_exactly_one_success(
    app_server: Callable[..., BookingCore], sms: ConsoleSmsSender, store: MemoryStore
) -> None:
    """Eight verifies of the right code race through two servers; exactly one signs in."""
    servers = [app_server(), app_server()]
    previous = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    try:
        for round_ in range(5):
            phone = f"+91 98111 {round_:05d}"
            servers[0].auth.request_otp(phone)
            code = last_code(sms)
            barrier = threading.Barrier(8)

            def verify(
                index: int,
                phone: str = phone,
                code: str = code,
                barrier: threading.Barrier = barrier,
            ) -> object:
                barrier.wait()
                try:
                    return servers[index % 2].auth.verify_otp(phone, code)
                except AuthenticationError as refused:
                    return refused

            with ThreadPoolExecutor(max_workers=8) as pool:
                outcomes = list(pool.map(verify, range(8)))
            winners = [o for o in outcomes if isinstance(o, SignedIn)]
            assert len(winners) == 1, outcomes
            assert all(isinstance(o, SignedIn | AuthenticationError) for o in outcomes)
            customer = winners[0].customer
            assert customer is not None
            with store.unit_of_work() as uow:
                sessions = uow.auth_sessions.list_for_subject(PrincipalKind.CUSTOMER, customer.id)
            assert len(sessions) == 1
    finally:
        sys.setswitchinterval(previous)


def test_a_code_sent_by_one_server_verifies_on_another(
    app_server: Callable[..., BookingCore], sms: ConsoleSmsSender, clock: FixedClock
) -> None:
    """With the same pepper, the cooldown and the code are shared through Redis."""
    first, second = app_server(), app_server()
    first.auth.request_otp("98765 43210")
    clock.advance(seconds=10)
    with pytest.raises(RateLimitedError) as refused:
        second.auth.request_otp("98765 43210")
    assert refused.value.retry_after == 50
    signed = second.auth.verify_otp("98765 43210", last_code(sms))
    assert signed.created is True
    assert first.auth.authenticate(signed.tokens.access_token, expect="customer") == (
        signed.principal
    )


def test_brute_force_stops_at_the_attempt_limit_across_servers(
    app_server: Callable[..., BookingCore], sms: ConsoleSmsSender
) -> None:
    servers = [app_server(), app_server(), app_server()]
    servers[0].auth.request_otp("98765 43210")
    code = last_code(sms)
    wrong = f"{(int(code) + 1) % 1_000_000:06d}"
    for server in servers:
        with pytest.raises(AuthenticationError, match="the code is wrong"):
            server.auth.verify_otp("98765 43210", wrong)
    with pytest.raises(AuthenticationError, match="no valid code"):
        servers[0].auth.verify_otp("98765 43210", code)


def test_the_per_phone_limit_is_shared_by_every_server(
    app_server: Callable[..., BookingCore], clock: FixedClock
) -> None:
    limit = {"otp_per_phone": RateLimit(2, timedelta(hours=1))}
    first, second = app_server(**limit), app_server(**limit)
    first.auth.request_otp("98765 43210")
    clock.advance(minutes=2)
    second.auth.request_otp("98765 43210")
    clock.advance(minutes=2)
    with pytest.raises(RateLimitedError, match="for this phone number"):
        first.auth.request_otp("98765 43210")


def test_cleanup_removes_expired_challenges_from_redis(
    app_server: Callable[..., BookingCore], clock: FixedClock
) -> None:
    core = app_server()
    core.auth.request_otp("98765 43210")
    core.auth.request_otp("98111 22233")
    assert core.auth.cleanup(clock.now() + timedelta(minutes=5)) == 2
