"""The real clock and id generator, for hosts to wire into :class:`~bookingcore.BookingCore`.

.. versionadded:: 0.1
"""

from __future__ import annotations

import os
import secrets
import time
from datetime import UTC, datetime
from uuid import UUID

__all__ = ["RandomIds", "SystemClock", "uuid7"]

_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


class SystemClock:
    """The operating system's clock, in UTC.

    .. versionadded:: 0.1
    """

    def now(self) -> datetime:
        """The current time, timezone-aware, in UTC."""
        return datetime.now(UTC)


def uuid7() -> UUID:
    """A time-ordered UUID (RFC 9562 version 7): 48 bits of Unix milliseconds, then random.

    Ids made later sort later, which keeps B-tree indexes and keyset pages compact.
    """
    millis = time.time_ns() // 1_000_000
    rand = int.from_bytes(os.urandom(10), "big")
    value = (millis & ((1 << 48) - 1)) << 80
    value |= 0x7 << 76  # version
    value |= ((rand >> 64) & 0x0FFF) << 64  # 12 random bits
    value |= 0b10 << 62  # RFC 4122 variant
    value |= rand & ((1 << 62) - 1)
    return UUID(int=value)


class RandomIds:
    """Ids from the operating system's cryptographic random source.

    Entity ids are :func:`uuid7`; references are ``BK-`` and eight Crockford
    base-32 characters (no I, L, O or U to misread over the phone: 32**8, about
    10**12, values); tokens are URL-safe and carry 192 random bits.

    .. versionadded:: 0.1
    """

    def __init__(self, reference_prefix: str = "BK") -> None:
        self.reference_prefix = reference_prefix

    def new_id(self) -> UUID:
        """A new time-ordered UUID."""
        return uuid7()

    def new_reference(self) -> str:
        """A reference such as ``BK-7KQ2M9XD``."""
        bits = secrets.randbits(40)  # eight 5-bit characters
        body = "".join(_CROCKFORD[(bits >> shift) & 31] for shift in range(35, -1, -5))
        return f"{self.reference_prefix}-{body}"

    def new_token(self, prefix: str) -> str:
        """``prefix`` followed by 32 URL-safe random characters."""
        return prefix + secrets.token_urlsafe(24)
