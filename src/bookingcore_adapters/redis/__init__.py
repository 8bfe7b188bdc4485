"""Redis adapters: OTP challenges, rate limits and events shared by several app servers.

* :class:`RedisOtpStore` implements :class:`~bookingcore.ports.security.OtpStore`,
* :class:`RedisRateLimiter` implements :class:`~bookingcore.ports.security.RateLimiter`,
* :class:`RedisStreamPublisher` implements :class:`~bookingcore.ports.EventPublisher`
  over a Redis stream (read entries back with :func:`event_from_stream`).

Every check-then-write is one Lua script, so it is atomic across processes.
All of them raise :class:`RedisUnavailableError` (a
:class:`~bookingcore.errors.BookingError` and a builtin ``ConnectionError``)
when Redis cannot be reached or times out. Needs the ``redis`` extra::

    from bookingcore_adapters.redis import RedisOtpStore, RedisRateLimiter, from_url

    client = from_url("redis://localhost:6379/0")
    otp_store = RedisOtpStore(client)
    limiter = RedisRateLimiter(client)

.. versionadded:: 0.1
"""

from __future__ import annotations

from typing import Any

import redis

from bookingcore_adapters.redis._otp import RedisOtpStore, RedisUnavailableError
from bookingcore_adapters.redis._publisher import RedisStreamPublisher, event_from_stream
from bookingcore_adapters.redis._rate_limit import RedisRateLimiter

__all__ = [
    "RedisOtpStore",
    "RedisRateLimiter",
    "RedisStreamPublisher",
    "RedisUnavailableError",
    "event_from_stream",
    "from_url",
]


def from_url(url: str, **options: Any) -> redis.Redis:
    """A redis-py client for ``url`` (``redis://``, ``rediss://`` or ``unix://``).

    Connecting is lazy: this never touches the network, so a bad host shows
    up as :class:`RedisUnavailableError` on first use. Unless given in
    ``options`` (passed on to :meth:`redis.Redis.from_url`), connecting and
    each reply time out after five seconds.

    Raises:
        ValueError: ``url`` is not a Redis URL.

    .. versionadded:: 0.1
    """
    options.setdefault("socket_timeout", 5.0)
    options.setdefault("socket_connect_timeout", 5.0)
    return redis.Redis.from_url(url, **options)
