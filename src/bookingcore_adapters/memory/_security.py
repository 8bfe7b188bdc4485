"""OTP challenges and rate limits in process memory, one lock per object.

Good for tests, examples and a single app process; several processes need
the Redis adapters (:mod:`bookingcore_adapters.redis`), which share the state.

.. versionadded:: 0.1
"""

from __future__ import annotations

import bisect
import threading
from datetime import datetime, timedelta
from uuid import UUID

import attrs

from bookingcore.domain.otp import OtpChallenge
from bookingcore.domain.values import PhoneNumber
from bookingcore.errors import ValidationError
from bookingcore.ports.security import RateDecision

__all__ = ["MemoryOtpStore", "MemoryRateLimiter"]

#: The smallest wait a refused hit is told about, so ``retry_after`` is always positive.
_MIN_RETRY = timedelta(microseconds=1)


def _check_rate_arguments(limit: int, window: timedelta) -> None:
    if limit < 1:
        msg = f"a rate limit allows at least one hit, not {limit}"
        raise ValidationError.single("limit", msg, "too_small")
    if window <= timedelta(0):
        msg = f"a rate window must be positive, not {window}"
        raise ValidationError.single("window", msg, "too_small")


class MemoryOtpStore:
    """An :class:`~bookingcore.ports.security.OtpStore` in a dict, safe under threads.

    Every operation runs under one lock, so a check and the write that
    follows it (the cooldown in :meth:`replace`, the attempt count in
    :meth:`record_attempt`, the single winner of :meth:`consume`) cannot
    interleave with another thread's.

    .. versionadded:: 0.1
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._challenges: dict[str, OtpChallenge] = {}

    def replace(self, challenge: OtpChallenge, *, not_before: datetime) -> OtpChallenge | None:
        """Store ``challenge`` as its phone's challenge unless the current one is in its cooldown.

        Returns:
            ``None`` when stored; otherwise the current challenge, created after
            ``not_before``, that blocked it (nothing is stored then).
        """
        with self._lock:
            current = self._challenges.get(challenge.phone.e164)
            if current is not None and current.created_at > not_before:
                return current
            self._challenges[challenge.phone.e164] = challenge
            return None

    def get(self, phone: PhoneNumber) -> OtpChallenge | None:
        """The phone's current challenge (usable or not), if any."""
        with self._lock:
            return self._challenges.get(phone.e164)

    def record_attempt(self, phone: PhoneNumber, challenge_id: UUID, now: datetime) -> int | None:
        """Count one verification attempt on ``challenge_id``.

        Returns:
            The attempts made including this one, or ``None`` (and nothing
            counted) when that challenge is not the phone's current one, is
            consumed, has expired at ``now`` or has no attempts left.
        """
        with self._lock:
            current = self._current(phone, challenge_id)
            if current is None or not current.is_usable(now):
                return None
            updated = attrs.evolve(current, attempts=current.attempts + 1)
            self._challenges[phone.e164] = updated
            return updated.attempts

    def consume(self, phone: PhoneNumber, challenge_id: UUID, now: datetime) -> bool:
        """Mark ``challenge_id`` used at ``now``; True for exactly one caller.

        False when the challenge is not the phone's current one, is already
        consumed or has expired at ``now``. Attempts are not looked at: the
        attempt that used up the last one may still consume the challenge.
        """
        with self._lock:
            current = self._current(phone, challenge_id)
            if current is None or current.consumed_at is not None or now >= current.expires_at:
                return False
            self._challenges[phone.e164] = attrs.evolve(current, consumed_at=now)
            return True

    def discard(self, phone: PhoneNumber, challenge_id: UUID) -> None:
        """Remove ``challenge_id`` if it is still the phone's challenge; otherwise do nothing."""
        with self._lock:
            if self._current(phone, challenge_id) is not None:
                del self._challenges[phone.e164]

    def forget(self, phone: PhoneNumber) -> None:
        """Remove the phone's challenge, whatever its state.

        .. versionadded:: 0.4
        """
        with self._lock:
            self._challenges.pop(phone.e164, None)

    def delete_expired(self, now: datetime) -> int:
        """Remove every challenge expired or consumed at ``now``; returns how many."""
        with self._lock:
            finished = [
                key
                for key, challenge in self._challenges.items()
                if challenge.expires_at <= now
                or (challenge.consumed_at is not None and challenge.consumed_at <= now)
            ]
            for key in finished:
                del self._challenges[key]
            return len(finished)

    def _current(self, phone: PhoneNumber, challenge_id: UUID) -> OtpChallenge | None:
        current = self._challenges.get(phone.e164)
        return current if current is not None and current.id == challenge_id else None


@attrs.define
class _HitLog:
    window: timedelta
    hits: list[datetime] = attrs.field(factory=list)  # sorted, oldest first


class MemoryRateLimiter:
    """A sliding-window-log :class:`~bookingcore.ports.security.RateLimiter`, safe under threads.

    A hit at ``now`` counts the hits in ``(now - window, now]``: a hit exactly
    ``window`` old no longer counts. Keys whose hits have all left their
    window are forgotten now and then, so memory follows the active keys.

    .. versionadded:: 0.1
    """

    #: How many hits pass between sweeps of keys whose hits all left their window.
    sweep_every: int = 1024

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._logs: dict[str, _HitLog] = {}
        self._hits_since_sweep = 0

    def hit(self, key: str, *, limit: int, window: timedelta, now: datetime) -> RateDecision:
        """Record one hit on ``key`` at ``now`` if fewer than ``limit`` hits are in the window.

        Returns:
            Allowed with the hits still ``remaining`` after this one; or refused
            (not counted) with ``retry_after``, the time until the oldest hit in
            the window leaves it (more than zero, at most ``window``).

        Raises:
            ValidationError: ``limit`` is below one or ``window`` is not positive.
        """
        _check_rate_arguments(limit, window)
        with self._lock:
            self._hits_since_sweep += 1
            if self._hits_since_sweep >= self.sweep_every:
                self._sweep(now)
            log = self._logs.get(key)
            if log is None:
                log = self._logs[key] = _HitLog(window)
            log.window = window
            hits = log.hits
            del hits[: bisect.bisect_right(hits, now - window)]
            if len(hits) >= limit:
                wait = min(max(hits[0] + window - now, _MIN_RETRY), window)
                return RateDecision(allowed=False, remaining=0, retry_after=wait)
            # Callers on several machines may pass times slightly out of order.
            bisect.insort(hits, now)
            return RateDecision(allowed=True, remaining=limit - len(hits))

    def reset(self, key: str) -> None:
        """Forget every hit on ``key``."""
        with self._lock:
            self._logs.pop(key, None)

    def _sweep(self, now: datetime) -> None:
        self._hits_since_sweep = 0
        idle = [
            key
            for key, log in self._logs.items()
            if not log.hits or log.hits[-1] <= now - log.window
        ]
        for key in idle:
            del self._logs[key]
