"""Random ids: the default :class:`~bookingcore.ports.IdGenerator`.

Standard library only, so it lives in the core and :class:`~bookingcore.BookingCore`
uses it when no id generator is given.

.. versionadded:: 0.1
"""

from __future__ import annotations

import base64
import os
import secrets
import time
from uuid import UUID

__all__ = ["RandomIds", "uuid7"]

_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
# RFC 4648 base 32 spells the same 5-bit groups as Crockford's, in another alphabet.
_FROM_BASE32 = bytes.maketrans(b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", _CROCKFORD.encode())


def uuid7() -> UUID:
    """A time-ordered UUID (RFC 9562 version 7): 48 bits of Unix milliseconds, then random.

    Ids made later sort later, which keeps B-tree indexes and keyset pages compact.
    """
    millis = time.time_ns() // 1_000_000
    rand = int.from_bytes(os.urandom(10), "big")  # 80 bits, laid out below the time
    return UUID(int=((millis & _MILLIS) << 80) | (rand & _RANDOM) | _VERSION_AND_VARIANT)


#: The 48 bits of Unix milliseconds a v7 UUID starts with.
_MILLIS = (1 << 48) - 1
#: The random bits a v7 UUID keeps, in place: 12 (``rand_a``) after the version, and
#: 62 (``rand_b``) after the variant.
_RANDOM = (0x0FFF << 64) | ((1 << 62) - 1)
#: Version 7 and the RFC 4122 variant, in the bits the random part leaves free.
_VERSION_AND_VARIANT = (0x7 << 76) | (0b10 << 62)


class RandomIds:
    """Ids from the operating system's cryptographic random source.

    The default id generator of :class:`~bookingcore.BookingCore`. Entity ids
    are time-ordered UUIDs (version 7); references are ``BK-`` (or
    ``reference_prefix``) and eight Crockford base-32 characters (no I, L, O or
    U to misread over the phone: 32**8, about 10**12, values); tokens are
    URL-safe and carry 192 random bits. Tests pass
    :class:`bookingcore.testing.SequentialIds` instead.

    .. versionadded:: 0.1
    .. versionchanged:: 0.1
       Moved from ``bookingcore_adapters.system``; import it from ``bookingcore``.
    """

    def __init__(self, reference_prefix: str = "BK") -> None:
        self.reference_prefix = reference_prefix

    def new_id(self) -> UUID:
        """A new time-ordered UUID."""
        return uuid7()

    def new_reference(self) -> str:
        """A reference such as ``BK-7KQ2M9XD``."""
        random = secrets.token_bytes(5)  # eight 5-bit characters
        body = base64.b32encode(random).translate(_FROM_BASE32).decode()
        return f"{self.reference_prefix}-{body}"

    def new_token(self, prefix: str) -> str:
        """``prefix`` followed by 32 URL-safe random characters."""
        return prefix + secrets.token_urlsafe(24)
