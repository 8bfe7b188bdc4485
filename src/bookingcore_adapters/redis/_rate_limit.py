"""A sliding-window-log rate limiter on Redis sorted sets, one Lua script per hit."""

from __future__ import annotations

import math
from datetime import datetime, timedelta
from uuid import uuid4

import redis

from bookingcore.errors import ValidationError
from bookingcore.ports.security import RateDecision
from bookingcore_adapters.redis._otp import micros, text, translate_errors

__all__ = ["RedisRateLimiter"]

# KEYS: the key's sorted set of accepted hits (member: a unique id, score: time in µs).
# ARGV: now, window start (hits at or before it are forgotten), limit, member, ttl_ms.
# Returns {1, hits in the window} when counted, or {0, hits, oldest hit's score} when refused.
_HIT = """
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[2])
local hits = redis.call('ZCARD', KEYS[1])
if hits >= tonumber(ARGV[3]) then
    local oldest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
    return {0, hits, oldest[2]}
end
redis.call('ZADD', KEYS[1], ARGV[1], ARGV[4])
redis.call('PEXPIRE', KEYS[1], ARGV[5])
return {1, hits + 1}
"""


class RedisRateLimiter:
    """A :class:`~bookingcore.ports.security.RateLimiter` that several app servers share.

    Each key is a sorted set at ``prefix + key`` holding the accepted hits of
    the last window, scored by the ``now`` the caller passed (not Redis's
    clock, so callers with a test clock get exact answers). A hit at ``now``
    counts the hits in ``(now - window, now]``; counting, checking and adding
    are one Lua script, so racing servers never let more than ``limit``
    through. Redis drops a key one window plus :attr:`TTL_SLACK` after its last
    accepted hit, by Redis's own clock: the slack keeps answers exact while the
    caller's clock runs behind Redis's (a test clock standing still, a loaded
    server between two hits of a one-millisecond window).

    Args:
        client: a redis-py client (``decode_responses`` either way).
        prefix: the start of every key this limiter writes.

    .. versionadded:: 0.1
    """

    #: How much longer than one window Redis keeps a key after its last accepted hit.
    TTL_SLACK = timedelta(minutes=1)

    def __init__(self, client: redis.Redis, *, prefix: str = "bookingcore:rate:") -> None:
        self._client = client
        self.prefix = prefix
        self._hit = client.register_script(_HIT)

    def hit(self, key: str, *, limit: int, window: timedelta, now: datetime) -> RateDecision:
        """Record one hit on ``key`` at ``now`` if fewer than ``limit`` hits are in the window.

        Returns:
            Allowed with the hits still ``remaining`` after this one; or refused
            (not counted) with ``retry_after``, the time until the oldest hit in
            the window leaves it (more than zero, at most ``window``).

        Raises:
            ValidationError: ``limit`` is below one or ``window`` is not positive.
            RedisUnavailableError: Redis cannot be reached.
        """
        if limit < 1:
            msg = f"a rate limit allows at least one hit, not {limit}"
            raise ValidationError.single("limit", msg, "too_small")
        if window <= timedelta(0):
            msg = f"a rate window must be positive, not {window}"
            raise ValidationError.single("window", msg, "too_small")
        now_us = micros(now)
        window_us = window // timedelta(microseconds=1)
        ttl_ms = math.ceil((window + self.TTL_SLACK) / timedelta(milliseconds=1))
        with translate_errors("count a rate-limited hit"):
            reply = self._hit(
                keys=[f"{self.prefix}{key}"],
                args=[now_us, now_us - window_us, limit, uuid4().hex, ttl_ms],
            )
        if int(reply[0]) == 1:
            return RateDecision(allowed=True, remaining=limit - int(reply[1]))
        oldest_us = int(float(text(reply[2])))
        wait_us = min(max(oldest_us + window_us - now_us, 1), window_us)
        return RateDecision(allowed=False, remaining=0, retry_after=timedelta(microseconds=wait_us))

    def reset(self, key: str) -> None:
        """Forget every hit on ``key``.

        Raises:
            RedisUnavailableError: Redis cannot be reached.
        """
        with translate_errors("reset a rate limit"):
            self._client.delete(f"{self.prefix}{key}")
