"""Ports for identity and access: SMS, OTP challenges, rate limits, tokens, passwords.

Memory, SQL and Redis adapters implement :class:`OtpStore` and
:class:`RateLimiter`; the contract suites in :mod:`bookingcore.testing.contracts`
pin down what "atomic" means for each of them. :class:`TokenSigner` and
:class:`PasswordHasher` keep PyJWT and argon2 out of the core: the adapters in
:mod:`bookingcore_adapters.auth` implement them.

.. versionadded:: 0.1
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any, Protocol
from uuid import UUID

import attrs

from bookingcore.domain.otp import OtpChallenge
from bookingcore.domain.values import PhoneNumber
from bookingcore.ports.messaging import SendReceipt

__all__ = [
    "OtpStore",
    "PasswordHasher",
    "RateDecision",
    "RateLimiter",
    "SmsSender",
    "TokenSigner",
]


class SmsSender(Protocol):
    """Hands a text message to an SMS gateway.

    .. versionadded:: 0.1
    """

    def send_sms(self, to: PhoneNumber, body: str, *, reference: str | None = None) -> SendReceipt:
        """Send ``body`` to ``to``; ``reference`` is stable across retries of one message.

        A ``body`` longer than
        :data:`~bookingcore.domain.communications.SMS_MAX_LENGTH` (1600, counted by
        :func:`~bookingcore.domain.communications.sms_length`) is refused before it
        reaches the gateway.

        Raises:
            ValidationError: on ``body`` (``too_long``) when it is too long for an SMS.
            DeliveryError: the gateway refused the message or could not be reached;
                ``reason`` says why, ``retryable`` whether trying again may help.

        .. versionchanged:: 0.4
           A body over 1600 characters is a ``ValidationError``, not left to the gateway.
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

    def forget(self, phone: PhoneNumber) -> None:
        """Remove the phone's challenge whatever its state (live, used, expired), and
        every other trace of the number the store keeps (an index of expiries, say).

        Erasing a customer calls it: after it, nothing in the store names the phone.

        .. versionadded:: 0.4
        """

    def delete_expired(self, now: datetime) -> int:
        """Remove challenges that expired or were consumed before ``now``; returns how many."""


class TokenSigner(Protocol):
    """Signs claims into a bearer token and verifies tokens back into claims.

    A signer holds a keyring: it signs with its *current* key and names that
    key in the token (the ``kid``), and it verifies with whichever key of the
    keyring the token names, so keys can be rotated without signing everyone
    out. Checking what the claims *mean* (token type, issuer, audience,
    session) is the caller's job; the signer checks that they are authentic
    and current.

    .. versionadded:: 0.1
    """

    def encode(self, claims: Mapping[str, Any]) -> str:
        """Sign ``claims`` (JSON-ready values; ``exp`` in Unix seconds) with the current key."""

    def decode(self, token: str, *, now: datetime) -> dict[str, Any]:
        """Return the claims of ``token`` once its signature and times are checked.

        ``now`` is the time to check ``exp`` (required) and ``nbf`` (when present)
        against, so a test clock decides expiry, not the machine's clock.

        Raises:
            AuthenticationError: the token is malformed, was tampered with, names a
                key the keyring does not hold, has no ``exp``, or has expired (or is
                not valid yet) at ``now``.
        """


class PasswordHasher(Protocol):
    """Turns passwords into slow, salted hashes and checks passwords against them.

    .. versionadded:: 0.1
    """

    def hash(self, password: str) -> str:
        """A new salted hash of ``password`` with the current parameters."""

    def verify(self, password_hash: str, password: str) -> bool:
        """True when ``password`` matches ``password_hash``; False when it does not,
        or when ``password_hash`` is not a hash this hasher can read."""

    def needs_rehash(self, password_hash: str) -> bool:
        """True when ``password_hash`` was made with other parameters than the current ones."""
