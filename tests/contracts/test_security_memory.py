"""The memory OTP store and rate limiter pass the security contracts."""

from __future__ import annotations

from datetime import timedelta

import pytest

from bookingcore.testing.builders import T0
from bookingcore.testing.security_contracts import OtpStoreContract, RateLimiterContract
from bookingcore_adapters.memory import MemoryOtpStore, MemoryRateLimiter


class TestMemoryOtpStore(OtpStoreContract):
    """The OTP store contract over a fresh :class:`MemoryOtpStore`."""

    @pytest.fixture
    def otp_store(self) -> MemoryOtpStore:
        return MemoryOtpStore()


class TestMemoryRateLimiter(RateLimiterContract):
    """The rate limiter contract over a fresh :class:`MemoryRateLimiter`."""

    @pytest.fixture
    def rate_limiter(self) -> MemoryRateLimiter:
        return MemoryRateLimiter()


class TestMemoryRateLimiterMemoryUse:
    """Memory follows the active keys, without forgetting hits that still count."""

    def test_a_sweep_forgets_idle_keys_and_keeps_live_hits(self) -> None:
        limiter = MemoryRateLimiter()
        limiter.sweep_every = 4
        window = timedelta(minutes=1)
        for n in range(3):
            limiter.hit(f"idle-{n}", limit=1, window=window, now=T0)
        live_at = T0 + timedelta(seconds=90)
        assert limiter.hit("live", limit=1, window=window, now=live_at).allowed  # sweeps
        assert not limiter.hit("live", limit=1, window=window, now=live_at).allowed
        assert set(limiter._logs) == {"live"}  # the idle keys' hits all left their window
