"""Ports for identity and access: SMS, OTP challenges, rate limits.

Memory, SQL and Redis adapters implement :class:`OtpStore` and
:class:`RateLimiter`; the contract suites in :mod:`bookingcore.testing.contracts`
pin down what "atomic" means for each of them.

.. versionadded:: 0.1
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Protocol
from uuid import UUID

import attrs

from bookingcore.domain.otp import OtpChallenge
from bookingcore.domain.values import PhoneNumber
from bookingcore.ports.messaging import SendReceipt

__all__ = ["OtpStore", "RateDecision", "RateLimiter", "SmsSender"]


class SmsSender(Protocol):
    """Hands a text message to an SMS gateway.

    .. versionadded:: 0.1
    """

    def send_sms(self, to: PhoneNumber, body: str, *, reference: str | None = None) -> SendReceipt:
        """Send ``body`` to ``to``; ``reference`` is stable across retries of one message.

        Raises:
            DeliveryError: the gateway refused the message or could not be reached;
                ``reason`` says why, ``retryable`` whether trying again may help.
        """


@attrs.frozen
class RateDecision:
    """The answer of a :class:`RateLimiter`.

    ``remaining`` is how many more hits the window allows after this one;
    ``retry_after`` is how long to wait when ``allowed`` is False (zero otherwise).

    .. versionadded:: 0.1
    """

    allowed: bool
    remaining: int
    retry_after: timedelta = timedelta(0)


class RateLimiter(Protocol):
    """Counts hits per key in a sliding window, atomically across processes.

    .. versionadded:: 0.1
    """

    def hit(self, key: str, *, limit: int, window: timedelta, now: datetime) -> RateDecision:
        """Record one hit on ``key`` if fewer than ``limit`` hits happened in the
        ``window`` before ``now``; refused hits are not counted."""

    def reset(self, key: str) -> None:
        """Forget every hit on ``key``."""


class OtpStore(Protocol):
    """Keeps at most one live :class:`OtpChallenge` per phone, atomically.

    .. versionadded:: 0.1
    """

    def replace(self, challenge: OtpChallenge, *, not_before: datetime) -> OtpChallenge | None:
        """Make ``challenge`` the phone's challenge, unless the current one was
        created after ``not_before`` (still in its cooldown).

        Returns ``None`` when stored, or the current challenge that blocked it.
        Two concurrent calls for one phone never both store.
        """

    def get(self, phone: PhoneNumber) -> OtpChallenge | None:
        """The phone's current challenge (usable or not), if any."""

    def record_attempt(self, phone: PhoneNumber, challenge_id: UUID, now: datetime) -> int | None:
        """Count one verification attempt on the challenge ``challenge_id``.

        Returns the attempts made including this one, or ``None`` when that
        challenge is no longer the phone's, is consumed, expired, or out of attempts.
        """

    def consume(self, phone: PhoneNumber, challenge_id: UUID, now: datetime) -> bool:
        """Mark the challenge used; True for exactly one caller, however many race."""

    def discard(self, phone: PhoneNumber, challenge_id: UUID) -> None:
        """Remove the challenge ``challenge_id`` if it is still the phone's."""

    def delete_expired(self, now: datetime) -> int:
        """Remove challenges that expired or were consumed before ``now``; returns how many."""
