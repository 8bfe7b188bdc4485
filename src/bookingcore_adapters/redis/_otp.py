"""OTP challenges in Redis: one hash per phone, every change in one Lua script.

Also home of what the Redis adapters share: :class:`RedisUnavailableError`,
the translation of redis-py's connection errors into it, and time in
microseconds (the unit the scripts compare).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import redis
import redis.exceptions

from bookingcore.domain.otp import OtpChallenge
from bookingcore.domain.values import PhoneNumber
from bookingcore.errors import BookingError

__all__ = ["RedisOtpStore", "RedisUnavailableError"]

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)


class RedisUnavailableError(BookingError, ConnectionError):
    """Redis could not be reached, or did not answer in time.

    Raised by every Redis adapter in place of redis-py's ``ConnectionError``
    and ``TimeoutError`` (the original is chained as ``__cause__``). Nothing
    is known to have changed: the operation may be retried. Other Redis
    errors (a wrong key type, a script error, a read-only replica) are
    mistakes of configuration and propagate as redis-py raised them.

    Because it is also a builtin :class:`ConnectionError`, code that catches
    that keeps working; hosts usually answer it with HTTP 503.

    .. versionadded:: 0.1
    """

    code = "service_unavailable"


@contextlib.contextmanager
def translate_errors(action: str) -> Iterator[None]:
    """Raise :class:`RedisUnavailableError` for redis-py's connection and timeout errors."""
    try:
        yield
    except (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError) as exc:
        msg = f"Redis is unavailable, could not {action}: {exc}"
        raise RedisUnavailableError(msg) from exc


def micros(moment: datetime) -> int:
    """``moment`` as whole microseconds since the Unix epoch.

    Raises:
        ValueError: ``moment`` is naive (bookingcore's times are timezone-aware).
    """
    if moment.utcoffset() is None:
        msg = f"expected a timezone-aware time, got {moment!r}"
        raise ValueError(msg)
    return (moment - _EPOCH) // _MICROSECOND


def from_micros(value: int) -> datetime:
    """The UTC time ``value`` microseconds after the Unix epoch."""
    return _EPOCH + value * _MICROSECOND


def text(value: bytes | str) -> str:
    """A reply as ``str``, whether the client decodes responses or not."""
    return value.decode() if isinstance(value, bytes) else value


# Field order shared by every script that hands a whole challenge back.
_FIELDS = (
    "id",
    "phone",
    "code_hash",
    "created_at",
    "expires_at",
    "max_attempts",
    "attempts",
    "consumed_at",
)

# KEYS: challenge hash, expiry index.
# ARGV: not_before, member, ttl_ms, then the fields in _FIELDS order ("" for no consumed_at).
# Returns the blocking challenge's fields, or nil when the new one was stored.
_REPLACE = """
local current = redis.call('HMGET', KEYS[1], 'id', 'phone', 'code_hash', 'created_at',
    'expires_at', 'max_attempts', 'attempts', 'consumed_at')
if current[1] and tonumber(current[4]) > tonumber(ARGV[1]) then
    return current
end
redis.call('DEL', KEYS[1])
redis.call('HSET', KEYS[1], 'id', ARGV[4], 'phone', ARGV[5], 'code_hash', ARGV[6],
    'created_at', ARGV[7], 'expires_at', ARGV[8], 'max_attempts', ARGV[9],
    'attempts', ARGV[10], 'consumed_at', ARGV[11])
redis.call('PEXPIRE', KEYS[1], ARGV[3])
-- Scores are passed on as the caller's strings: Lua would print big numbers inexactly.
local finished = ARGV[8]
if ARGV[11] ~= '' and tonumber(ARGV[11]) < tonumber(finished) then
    finished = ARGV[11]
end
redis.call('ZADD', KEYS[2], finished, ARGV[2])
return false
"""

# KEYS: challenge hash. ARGV: challenge id, now.
# Returns the attempts including this one, or nil when nothing was counted.
_RECORD_ATTEMPT = """
local c = redis.call('HMGET', KEYS[1], 'id', 'expires_at', 'max_attempts', 'attempts',
    'consumed_at')
if not c[1] or c[1] ~= ARGV[1] or c[5] ~= '' then
    return false
end
if tonumber(ARGV[2]) >= tonumber(c[2]) or tonumber(c[4]) >= tonumber(c[3]) then
    return false
end
return redis.call('HINCRBY', KEYS[1], 'attempts', 1)
"""

# KEYS: challenge hash, expiry index. ARGV: challenge id, now, member.
# Returns 1 for the one caller that consumed the challenge, 0 otherwise.
_CONSUME = """
local c = redis.call('HMGET', KEYS[1], 'id', 'expires_at', 'consumed_at')
if not c[1] or c[1] ~= ARGV[1] or c[3] ~= '' then
    return 0
end
if tonumber(ARGV[2]) >= tonumber(c[2]) then
    return 0
end
redis.call('HSET', KEYS[1], 'consumed_at', ARGV[2])
redis.call('ZADD', KEYS[2], ARGV[2], ARGV[3])
return 1
"""

# KEYS: challenge hash, expiry index. ARGV: challenge id, member.
_DISCARD = """
if redis.call('HGET', KEYS[1], 'id') == ARGV[1] then
    redis.call('DEL', KEYS[1])
    redis.call('ZREM', KEYS[2], ARGV[2])
    return 1
end
return 0
"""

# KEYS: expiry index, then one challenge hash per member. ARGV: now, then the members.
# Removes each challenge still finished at `now` (re-checked: a racing replace may have
# renewed it); a member whose hash Redis already expired is finished too.
_DELETE_FINISHED = """
local now = tonumber(ARGV[1])
local removed = 0
for i = 2, #KEYS do
    local member = ARGV[i]
    local c = redis.call('HMGET', KEYS[i], 'expires_at', 'consumed_at')
    if not c[1] then
        local score = redis.call('ZSCORE', KEYS[1], member)
        if score and tonumber(score) <= now then
            redis.call('ZREM', KEYS[1], member)
            removed = removed + 1
        end
    elseif tonumber(c[1]) <= now or (c[2] ~= '' and tonumber(c[2]) <= now) then
        redis.call('DEL', KEYS[i])
        redis.call('ZREM', KEYS[1], member)
        removed = removed + 1
    end
end
return removed
"""


class RedisOtpStore:
    """An :class:`~bookingcore.ports.security.OtpStore` that several app servers share.

    Each phone's challenge is a hash at ``prefix + phone`` (E.164). Every
    operation that reads and then writes is a single Lua script, so Redis runs
    it without interleaving: two servers never both store a challenge inside
    one cooldown, never both consume one challenge, and never count past
    ``max_attempts``. A hash expires on its own ``retention`` after the
    challenge's lifetime; a sorted set at ``prefix + "finished-at"`` indexes
    when each phone's challenge stops being usable (expiry or consumption),
    which :meth:`delete_expired` walks.

    Times are stored as microseconds since the epoch and read back in UTC
    (equal to what was stored, since aware datetimes compare by instant).
    For Redis Cluster, put a hash tag in ``prefix`` (``"{otp}:"``) so the
    scripts' keys share a slot.

    Args:
        client: a redis-py client (``decode_responses`` either way).
        prefix: the start of every key this store writes.
        retention: how long past its expiry a challenge's hash lives before
            Redis drops it.

    Raises:
        RedisUnavailableError: from every method, when Redis cannot be reached.

    .. versionadded:: 0.1
    """

    #: How many finished challenges :meth:`delete_expired` removes per script call.
    batch_size: int = 500

    def __init__(
        self,
        client: redis.Redis,
        *,
        prefix: str = "bookingcore:otp:",
        retention: timedelta = timedelta(hours=1),
    ) -> None:
        self._client = client
        self.prefix = prefix
        self._index = f"{prefix}finished-at"
        self._retention = retention
        self._replace = client.register_script(_REPLACE)
        self._record_attempt = client.register_script(_RECORD_ATTEMPT)
        self._consume = client.register_script(_CONSUME)
        self._discard = client.register_script(_DISCARD)
        self._delete_finished = client.register_script(_DELETE_FINISHED)

    def _key(self, phone: PhoneNumber) -> str:
        return f"{self.prefix}{phone.e164}"

    def replace(self, challenge: OtpChallenge, *, not_before: datetime) -> OtpChallenge | None:
        """Store ``challenge`` as its phone's challenge unless the current one is in its cooldown.

        Returns:
            ``None`` when stored; otherwise the current challenge, created after
            ``not_before``, that blocked it (nothing is stored then).

        Raises:
            RedisUnavailableError: Redis cannot be reached.
        """
        lifetime = max(challenge.expires_at - challenge.created_at, timedelta(0))
        ttl_ms = max((lifetime + self._retention) // timedelta(milliseconds=1), 1)
        fields = (
            str(challenge.id),
            challenge.phone.e164,
            challenge.code_hash,
            micros(challenge.created_at),
            micros(challenge.expires_at),
            challenge.max_attempts,
            challenge.attempts,
            "" if challenge.consumed_at is None else micros(challenge.consumed_at),
        )
        with translate_errors("store an OTP challenge"):
            blocker = self._replace(
                keys=[self._key(challenge.phone), self._index],
                args=[micros(not_before), challenge.phone.e164, ttl_ms, *fields],
            )
        return None if blocker is None else _challenge(blocker)

    def get(self, phone: PhoneNumber) -> OtpChallenge | None:
        """The phone's current challenge (usable or not), if any.

        Raises:
            RedisUnavailableError: Redis cannot be reached.
        """
        with translate_errors("read an OTP challenge"):
            values: Sequence[Any] = self._client.hmget(self._key(phone), list(_FIELDS))
        return _challenge(values)

    def record_attempt(self, phone: PhoneNumber, challenge_id: UUID, now: datetime) -> int | None:
        """Count one verification attempt on ``challenge_id``.

        Returns:
            The attempts made including this one, or ``None`` (and nothing
            counted) when that challenge is not the phone's current one, is
            consumed, has expired at ``now`` or has no attempts left.

        Raises:
            RedisUnavailableError: Redis cannot be reached.
        """
        with translate_errors("count an OTP attempt"):
            attempts = self._record_attempt(
                keys=[self._key(phone)], args=[str(challenge_id), micros(now)]
            )
        return None if attempts is None else int(attempts)

    def consume(self, phone: PhoneNumber, challenge_id: UUID, now: datetime) -> bool:
        """Mark ``challenge_id`` used at ``now``; True for exactly one caller.

        False when the challenge is not the phone's current one, is already
        consumed or has expired at ``now``. Attempts are not looked at: the
        attempt that used up the last one may still consume the challenge.

        Raises:
            RedisUnavailableError: Redis cannot be reached.
        """
        with translate_errors("consume an OTP challenge"):
            won = self._consume(
                keys=[self._key(phone), self._index],
                args=[str(challenge_id), micros(now), phone.e164],
            )
        return bool(won)

    def discard(self, phone: PhoneNumber, challenge_id: UUID) -> None:
        """Remove ``challenge_id`` if it is still the phone's challenge; otherwise do nothing.

        Raises:
            RedisUnavailableError: Redis cannot be reached.
        """
        with translate_errors("discard an OTP challenge"):
            self._discard(
                keys=[self._key(phone), self._index], args=[str(challenge_id), phone.e164]
            )

    def forget(self, phone: PhoneNumber) -> None:
        """Remove the phone's challenge, whatever its state, and its member of the
        expiry index (which names the phone), in one transaction.

        Raises:
            RedisUnavailableError: Redis cannot be reached.

        .. versionadded:: 0.4
        """
        with translate_errors("forget an OTP challenge"):
            pipeline = self._client.pipeline(transaction=True)
            pipeline.delete(self._key(phone))
            pipeline.zrem(self._index, phone.e164)
            pipeline.execute()

    def delete_expired(self, now: datetime) -> int:
        """Remove every challenge expired or consumed at ``now``; returns how many.

        Challenges whose hash Redis already dropped (``retention`` after
        expiry) are counted too: they were in the store and are gone.

        Raises:
            RedisUnavailableError: Redis cannot be reached.
        """
        removed = 0
        with translate_errors("delete finished OTP challenges"):
            while True:
                due: list[Any] = self._client.zrangebyscore(
                    self._index, "-inf", micros(now), start=0, num=self.batch_size
                )
                members = [text(member) for member in due]
                if not members:
                    return removed
                batch = int(
                    self._delete_finished(
                        keys=[self._index, *(f"{self.prefix}{m}" for m in members)],
                        args=[micros(now), *members],
                    )
                )
                removed += batch
                if batch == 0 or len(members) < self.batch_size:
                    return removed


def _challenge(values: Sequence[Any]) -> OtpChallenge | None:
    """Rebuild a challenge from hash values in ``_FIELDS`` order (all ``None``: no challenge)."""
    if not values or values[0] is None:
        return None
    fields: Mapping[str, str] = dict(zip(_FIELDS, (text(v) for v in values), strict=True))
    return OtpChallenge(
        id=UUID(fields["id"]),
        phone=PhoneNumber.from_stored(fields["phone"]),
        code_hash=fields["code_hash"],
        created_at=from_micros(int(fields["created_at"])),
        expires_at=from_micros(int(fields["expires_at"])),
        max_attempts=int(fields["max_attempts"]),
        attempts=int(fields["attempts"]),
        consumed_at=from_micros(int(fields["consumed_at"])) if fields["consumed_at"] else None,
    )
