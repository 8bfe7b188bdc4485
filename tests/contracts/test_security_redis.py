"""The Redis OTP store and rate limiter pass the security contracts, against a real Redis."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import timedelta
from uuid import uuid4

import pytest
import redis

from bookingcore.testing.builders import T0, Builder
from bookingcore.testing.security_contracts import OtpStoreContract, RateLimiterContract
from bookingcore_adapters.redis import (
    RedisOtpStore,
    RedisRateLimiter,
    RedisUnavailableError,
    from_url,
)

pytestmark = pytest.mark.redis


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
def unreachable() -> Iterator[redis.Redis]:
    """A client of a port nothing listens on."""
    client = from_url("redis://127.0.0.1:1/0", socket_connect_timeout=0.5)
    yield client
    client.close()


class TestRedisOtpStore(OtpStoreContract):
    """The OTP store contract over a :class:`RedisOtpStore` under a fresh prefix."""

    @pytest.fixture
    def otp_store(self, client: redis.Redis, prefix: str) -> RedisOtpStore:
        return RedisOtpStore(client, prefix=prefix)

    def test_a_challenge_hash_expires_a_little_after_the_challenge(
        self, otp_store: RedisOtpStore, client: redis.Redis, make: Builder
    ) -> None:
        challenge = self.challenge(make.phone())
        otp_store.replace(challenge, not_before=T0)
        ttl_ms = client.pttl(f"{otp_store.prefix}{challenge.phone.e164}")
        lifetime = challenge.expires_at - challenge.created_at
        assert lifetime < timedelta(milliseconds=ttl_ms) <= lifetime + timedelta(hours=1)

    def test_delete_expired_counts_challenges_redis_already_dropped(
        self, otp_store: RedisOtpStore, client: redis.Redis, make: Builder
    ) -> None:
        """A hash gone by its TTL still leaves its index entry, which counts as removed."""
        dropped, live = (
            self.challenge(make.phone()),
            self.challenge(make.phone(), T0 + timedelta(hours=1)),
        )
        otp_store.replace(dropped, not_before=T0)
        otp_store.replace(live, not_before=T0)
        client.delete(f"{otp_store.prefix}{dropped.phone.e164}")
        assert otp_store.delete_expired(dropped.expires_at) == 1
        assert otp_store.delete_expired(dropped.expires_at) == 0
        assert otp_store.get(live.phone) == live

    def test_delete_expired_works_through_more_than_one_batch(
        self, client: redis.Redis, prefix: str, make: Builder
    ) -> None:
        store = RedisOtpStore(client, prefix=prefix)
        store.batch_size = 3
        challenges = [self.challenge(make.phone()) for _ in range(8)]
        for challenge in challenges:
            store.replace(challenge, not_before=T0)
        assert store.delete_expired(T0 + timedelta(days=1)) == 8
        assert all(store.get(c.phone) is None for c in challenges)

    def test_works_with_a_client_that_decodes_responses(
        self, redis_url: str, prefix: str, make: Builder
    ) -> None:
        client = from_url(redis_url, decode_responses=True)
        try:
            store = RedisOtpStore(client, prefix=prefix)
            challenge = self.challenge(make.phone())
            assert store.replace(challenge, not_before=T0) is None
            assert store.get(challenge.phone) == challenge
            assert store.record_attempt(challenge.phone, challenge.id, T0) == 1
            assert store.delete_expired(challenge.expires_at) == 1
        finally:
            client.close()

    def test_an_unreachable_redis_raises_redis_unavailable(
        self, unreachable: redis.Redis, make: Builder
    ) -> None:
        store = RedisOtpStore(unreachable)
        challenge = self.challenge(make.phone())
        with pytest.raises(RedisUnavailableError, match="store an OTP challenge") as raised:
            store.replace(challenge, not_before=T0)
        assert isinstance(raised.value, ConnectionError)
        assert isinstance(raised.value.__cause__, redis.exceptions.ConnectionError)
        with pytest.raises(RedisUnavailableError):
            store.get(challenge.phone)
        with pytest.raises(RedisUnavailableError):
            store.delete_expired(T0)


class TestRedisRateLimiter(RateLimiterContract):
    """The rate limiter contract over a :class:`RedisRateLimiter` under a fresh prefix."""

    @pytest.fixture
    def rate_limiter(self, client: redis.Redis, prefix: str) -> RedisRateLimiter:
        return RedisRateLimiter(client, prefix=prefix)

    def test_a_key_expires_one_window_and_the_slack_after_its_last_hit(
        self, rate_limiter: RedisRateLimiter, client: redis.Redis
    ) -> None:
        window = timedelta(seconds=90)
        rate_limiter.hit("login:+919876543210", limit=3, window=window, now=T0)
        ttl_ms = client.pttl(f"{rate_limiter.prefix}login:+919876543210")
        lifetime = window + RedisRateLimiter.TTL_SLACK
        assert lifetime - timedelta(seconds=5) < timedelta(milliseconds=ttl_ms) <= lifetime

    def test_a_tiny_window_keeps_its_hits_while_the_callers_clock_stands_still(
        self, rate_limiter: RedisRateLimiter
    ) -> None:
        """Real time passing (here 50 ms) never forgets hits the caller's ``now`` still counts."""
        window = timedelta(milliseconds=1)
        first = rate_limiter.hit("tiny", limit=2, window=window, now=T0)
        time.sleep(0.05)
        second = rate_limiter.hit("tiny", limit=2, window=window, now=T0)
        third = rate_limiter.hit("tiny", limit=2, window=window, now=T0)
        assert (first.remaining, second.remaining) == (1, 0)
        assert not third.allowed

    def test_an_unreachable_redis_raises_redis_unavailable(self, unreachable: redis.Redis) -> None:
        limiter = RedisRateLimiter(unreachable)
        with pytest.raises(RedisUnavailableError, match="rate"):
            limiter.hit("k", limit=1, window=timedelta(seconds=1), now=T0)
        with pytest.raises(RedisUnavailableError):
            limiter.reset("k")
