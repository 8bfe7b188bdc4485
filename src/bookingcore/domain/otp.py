"""One-time passwords for phone sign-in.

The code itself is never stored: an :class:`OtpChallenge` keeps a keyed hash
of it, when it expires, and how many attempts were made. The OTP service
(``bookingcore.services.auth``) decides; the
:class:`~bookingcore.ports.security.OtpStore` keeps challenges atomically, so
several app servers can share them.

.. versionadded:: 0.1
"""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

import attrs

from bookingcore.domain.values import PhoneNumber

__all__ = ["OtpChallenge"]


@attrs.frozen
class OtpChallenge:
    """A code sent to ``phone``, waiting to be verified.

    ``attempts`` counts verification attempts made so far; the challenge
    stops working at ``max_attempts``, at ``expires_at`` or once consumed.

    .. versionadded:: 0.1
    """

    id: UUID
    phone: PhoneNumber
    code_hash: str
    created_at: datetime
    expires_at: datetime
    max_attempts: int = 3
    attempts: int = 0
    consumed_at: datetime | None = None

    def is_usable(self, now: datetime) -> bool:
        """True while the challenge may still be verified."""
        return (
            self.consumed_at is None and now < self.expires_at and self.attempts < self.max_attempts
        )
