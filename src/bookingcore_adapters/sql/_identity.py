"""Identity in SQL: staff members, signed-in sessions, OTP challenges and rate limits.

Staff and auth sessions are entities of the unit of work (tables, mapping,
repositories). :class:`SqlOtpStore` and :class:`SqlRateLimiter` work outside it:

OTP challenges and rate limits in the SQL database, shared by every app process.

For deployments that already run PostgreSQL (or one process on SQLite) and
want no Redis: every app server sees the same challenges and the same hit
counts, and every check-then-write is atomic across processes.

* PostgreSQL: each operation is one short READ COMMITTED transaction whose
  decisive statement locks the row it decides on: a conditional
  ``UPDATE ... RETURNING`` for attempts and consumption, ``INSERT ... ON
  CONFLICT DO UPDATE ... WHERE`` for the cooldown of :meth:`SqlOtpStore.replace`
  and for the per-key row every rate-limit hit locks first.
* SQLite: each writing operation runs in a ``BEGIN IMMEDIATE`` transaction,
  which holds the database's write lock from its first statement, so writers
  (threads or processes) take turns. Use a database file, not ``:memory:``,
  when several threads share the store.

Deadlocks and serialization failures (possible when the engine is set to a
stricter isolation level) are retried up to the store's ``retries``, then
raise :class:`~bookingcore.errors.ConcurrentUpdateError`.

.. versionadded:: 0.1
"""

from __future__ import annotations

import contextlib
import random
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, TypeVar
from uuid import UUID

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    ColumnElement,
    Connection,
    ForeignKey,
    Identity,
    Index,
    Insert,
    Integer,
    String,
    Table,
    Uuid,
    case,
    delete,
    func,
    insert,
    select,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import DBAPIError

from bookingcore.domain.auth import AuthSession, RevocationReason
from bookingcore.domain.otp import OtpChallenge
from bookingcore.domain.policy import PrincipalKind, StaffRole
from bookingcore.domain.staff import StaffMember
from bookingcore.domain.values import (
    EmailAddress,
    LocationId,
    PhoneNumber,
    StaffId,
)
from bookingcore.errors import (
    ConcurrentUpdateError,
    ValidationError,
)
from bookingcore.ports.security import RateDecision
from bookingcore_adapters.sql._engine import (
    BEGIN_STATEMENT,
    CONCURRENCY_STATES,
    RETRY_PAUSE,
    StoreSettings,
)
from bookingcore_adapters.sql._mapper import (
    Mapper,
    Row,
    Stored,
)
from bookingcore_adapters.sql._repository import Repository
from bookingcore_adapters.sql._schema import (
    ENUM,
    PHONE,
    json_type,
    metadata,
    ref,
    when,
)

__all__ = [
    "AUTH_SESSIONS",
    "STAFF",
    "AuthSessionRepository",
    "SqlOtpStore",
    "SqlRateLimiter",
    "StaffRepository",
    "auth_sessions",
    "otp_challenges",
    "rate_limit_hits",
    "rate_limits",
    "staff_members",
]

E = TypeVar("E")
T = TypeVar("T")


# --------------------------------------------------------------------------- tables


#: Staff by id. ``email`` keeps the address as given; ``email_key`` holds its
#: :attr:`~bookingcore.domain.EmailAddress.match_key` (case folded), the unique key
#: a member is found by, so two addresses that differ only in case cannot both sign in.
staff_members = Table(
    "staff_members",
    metadata,
    Column("id", Uuid(), primary_key=True),
    Column("email", String(), nullable=False),
    Column("email_key", String(), nullable=False, unique=True),
    Column("name", String(), nullable=False),
    Column("role", ENUM, nullable=False, index=True),
    Column("locations", json_type(), nullable=False),
    ref("supplier_id", "suppliers.id", index=True),
    Column("password_hash", String()),
    Column("is_active", Boolean(), nullable=False),
    when("created_at"),
    when("updated_at"),
    Column("version", Integer(), nullable=False),
)


#: Signed-in sessions: one per sign-in, the family of its refresh tokens. ``subject_id``
#: is a customer, staff member or partner id (by ``kind``), so it has no foreign key.
auth_sessions = Table(
    "auth_sessions",
    metadata,
    Column("id", Uuid(), primary_key=True),
    Column("kind", ENUM, nullable=False),
    Column("subject_id", Uuid(), nullable=False),
    when("created_at"),
    when("expires_at"),
    Column("refresh_jti", Uuid(), nullable=False),
    when("refreshed_at", nullable=True),
    when("revoked_at", nullable=True),
    Column("revoked_reason", ENUM),
    Column("version", Integer(), nullable=False),
    Index(None, "kind", "subject_id", "created_at"),
    Index(None, "expires_at"),
)

#: Seed 000's OTP challenges: at most one per phone, the code kept only as its hash.
otp_challenges = Table(
    "otp_challenges",
    metadata,
    Column("phone", PHONE, primary_key=True),
    Column("id", Uuid(), nullable=False),
    Column("code_hash", String(), nullable=False),
    when("created_at"),
    when("expires_at"),
    Column("max_attempts", Integer(), nullable=False),
    Column("attempts", Integer(), nullable=False),
    when("consumed_at", nullable=True),
    Index(None, "expires_at"),
    Index(None, "consumed_at"),
)

#: One row per rate-limited key: the row a hit locks, and when its last hit leaves
#: its window (``expires_at``), after which the key and its hits may be swept.
rate_limits = Table(
    "rate_limits",
    metadata,
    Column("key", String(), primary_key=True),
    when("expires_at"),
    Index(None, "expires_at"),
)

#: The accepted hits of each key (a sliding log); refused hits are never written.
rate_limit_hits = Table(
    "rate_limit_hits",
    metadata,
    Column(
        "id",
        BigInteger().with_variant(Integer(), "sqlite"),
        Identity(),
        primary_key=True,
    ),
    Column(
        "key",
        String(),
        ForeignKey("rate_limits.key", ondelete="CASCADE"),
        nullable=False,
    ),
    when("hit_at"),
    Index(None, "key", "hit_at"),
)


# --------------------------------------------------------------------------- mapping


def _dump_staff(x: StaffMember) -> Row:
    return {
        "id": x.id,
        "email": x.email.value,
        "email_key": x.email.match_key,
        "name": x.name,
        "role": x.role.value,
        "locations": sorted(str(location) for location in x.location_ids),
        "supplier_id": x.supplier_id,
        "password_hash": x.password_hash,
        "is_active": x.is_active,
        "created_at": x.created_at,
        "updated_at": x.updated_at,
        "version": x.version,
    }


def _load_staff(r: Stored, _: Sequence[Stored]) -> StaffMember:
    return StaffMember(
        id=r["id"],
        email=EmailAddress.from_stored(r["email"]),
        name=r["name"],
        role=StaffRole(r["role"]),
        created_at=r["created_at"],
        updated_at=r["updated_at"],
        location_ids=frozenset(LocationId(UUID(v)) for v in r["locations"]),
        supplier_id=r["supplier_id"],
        password_hash=r["password_hash"],
        is_active=r["is_active"],
        version=r["version"],
    )


def _dump_auth_session(x: AuthSession) -> Row:
    return {
        "id": x.id,
        "kind": x.kind.value,
        "subject_id": x.subject_id,
        "created_at": x.created_at,
        "expires_at": x.expires_at,
        "refresh_jti": x.refresh_jti,
        "refreshed_at": x.refreshed_at,
        "revoked_at": x.revoked_at,
        "revoked_reason": None if x.revoked_reason is None else x.revoked_reason.value,
        "version": x.version,
    }


def _load_auth_session(r: Stored, _: Sequence[Stored]) -> AuthSession:
    return AuthSession(
        id=r["id"],
        kind=PrincipalKind(r["kind"]),
        subject_id=r["subject_id"],
        created_at=r["created_at"],
        expires_at=r["expires_at"],
        refresh_jti=r["refresh_jti"],
        refreshed_at=r["refreshed_at"],
        revoked_at=r["revoked_at"],
        revoked_reason=None
        if r["revoked_reason"] is None
        else RevocationReason(r["revoked_reason"]),
        version=r["version"],
    )


STAFF = Mapper[StaffMember]("staffmember", staff_members, _dump_staff, _load_staff, versioned=True)
AUTH_SESSIONS = Mapper[AuthSession](
    "authsession", auth_sessions, _dump_auth_session, _load_auth_session, versioned=True
)


# --------------------------------------------------------------------------- repositories


class StaffRepository(Repository[StaffMember]):
    """:class:`~bookingcore.ports.StaffRepository` in SQL."""

    def get(self, staff_id: StaffId) -> StaffMember | None:
        return self._get(staff_id)

    def get_for_update(self, staff_id: StaffId) -> StaffMember | None:
        return self._lock(staff_id)

    def get_by_email(self, email: EmailAddress) -> StaffMember | None:
        return self._session.find_unique(
            self._mapper, "email_key", email.match_key, lambda s: s.email.match_key
        )

    def list(self, *, role: str | None = None, only_active: bool = False) -> Sequence[StaffMember]:
        c = self._table.c
        where: list[ColumnElement[bool]] = []
        if role is not None:
            where.append(c.role == role)
        if only_active:
            where.append(c.is_active.is_(True))
        return self._session.select(
            self._mapper,
            where,
            lambda s: (role is None or s.role == role) and (s.is_active or not only_active),
            lambda s: s.email.value,
            order_by=[c.email],
        )


class AuthSessionRepository(Repository[AuthSession]):
    """:class:`~bookingcore.ports.AuthSessionRepository` in SQL."""

    def get(self, session_id: UUID) -> AuthSession | None:
        return self._get(session_id)

    def get_for_update(self, session_id: UUID) -> AuthSession | None:
        return self._session.lock(self._mapper, session_id)

    def list_for_subject(
        self, kind: str, subject_id: UUID, *, active_at: datetime | None = None
    ) -> Sequence[AuthSession]:
        c = self._table.c
        where = [c.kind == str(kind), c.subject_id == subject_id]
        if active_at is not None:
            where += [c.revoked_at.is_(None), c.expires_at > active_at]
        return self._session.select(
            self._mapper,
            where,
            lambda s: (
                s.kind == kind
                and s.subject_id == subject_id
                and (active_at is None or s.is_active(active_at))
            ),
            lambda s: (s.created_at, s.id.bytes),
            order_by=[c.created_at.desc(), c.id.desc()],
            newest_first=True,
        )

    def delete_expired(self, now: datetime) -> int:
        """DELETE at once, inside this unit of work's transaction (undone without a commit).

        Sessions this unit of work tracks are judged as they are in memory and
        forgotten when they go, so commit neither writes nor resurrects them.
        """
        return self._session.delete_now(
            self._mapper,
            [self._table.c.expires_at <= now],
            lambda session: session.expires_at <= now,
        )


# --------------------------------------------------------------------------- OTP and rate limits
# OTP challenges and rate limits: short transactions of their own, shared by every process.

#: The smallest wait a refused hit is told about, so ``retry_after`` is always positive.
_MIN_RETRY = timedelta(microseconds=1)

_DIALECTS = frozenset({"postgresql", "sqlite"})


class _Transactions:
    """Short transactions on a store's engine, each on a connection of its own."""

    def __init__(self, store: StoreSettings, adapter: str) -> None:
        if store.dialect not in _DIALECTS:
            msg = f"{adapter} supports SQLite and PostgreSQL, not {store.dialect}"
            raise ValueError(msg)
        self.store = store

    @property
    def postgres(self) -> bool:
        return self.store.dialect == "postgresql"

    def upsert(self) -> Callable[[Any], Any]:
        """The dialect's ``insert`` that knows ``ON CONFLICT``."""
        return postgresql.insert if self.postgres else sqlite.insert

    @contextlib.contextmanager
    def _begin(self, *, write: bool) -> Iterator[Connection]:
        with self.store.engine.connect() as connection:
            if write and not self.postgres:
                connection.info[BEGIN_STATEMENT] = "BEGIN IMMEDIATE"
            with connection.begin():
                yield connection

    def run(self, work: Callable[[Connection], T], *, write: bool = True) -> T:
        """``work`` in one transaction (holding SQLite's write lock when ``write``),
        repeated from the start after a deadlock or a serialization failure."""
        attempt = 0
        while True:
            try:
                with self._begin(write=write) as connection:
                    return work(connection)
            except DBAPIError as exc:
                state = getattr(exc.orig, "sqlstate", None)
                if state not in CONCURRENCY_STATES:
                    raise
                attempt += 1
                if attempt > self.store.retries:
                    msg = (
                        "concurrent transactions kept aborting this one "
                        f"({exc.orig.__class__.__name__}); nothing was written, try again"
                    )
                    raise ConcurrentUpdateError(msg, attempts=attempt) from exc
                time.sleep(random.uniform(0, RETRY_PAUSE * 2**attempt))  # noqa: S311 - jitter


# --------------------------------------------------------------------------- OTP challenges


def _challenge_row(challenge: OtpChallenge) -> dict[str, Any]:
    return {
        "phone": challenge.phone.e164,
        "id": challenge.id,
        "code_hash": challenge.code_hash,
        "created_at": challenge.created_at,
        "expires_at": challenge.expires_at,
        "max_attempts": challenge.max_attempts,
        "attempts": challenge.attempts,
        "consumed_at": challenge.consumed_at,
    }


def _challenge_of(row: Any) -> OtpChallenge:
    return OtpChallenge(
        id=row.id,
        phone=PhoneNumber(row.phone),
        code_hash=row.code_hash,
        created_at=row.created_at,
        expires_at=row.expires_at,
        max_attempts=row.max_attempts,
        attempts=row.attempts,
        consumed_at=row.consumed_at,
    )


class SqlOtpStore:
    """An :class:`~bookingcore.ports.security.OtpStore` in the ``otp_challenges`` table.

    One row per phone, keyed by the phone number: the current challenge with
    the hash of its code (never the code), its times and its attempt count.
    Each method is one short transaction of its own, independent of any unit
    of work, so a failed sign-in never rolls back a counted attempt. Every
    decision is taken by the statement that writes it, under the row's lock,
    so two app servers never both store a challenge inside the cooldown,
    never count more than ``max_attempts`` attempts, and never both consume
    one challenge.

    Args:
        store: the :class:`~bookingcore_adapters.sql.SqlStore` whose database
            holds the table (created by ``store.migrate()``, or
            ``store.create_schema()`` in tests).

    Raises:
        ValueError: the store's database is neither SQLite nor PostgreSQL.

    .. versionadded:: 0.1
    """

    def __init__(self, store: StoreSettings) -> None:
        self._db = _Transactions(store, type(self).__name__)

    def replace(self, challenge: OtpChallenge, *, not_before: datetime) -> OtpChallenge | None:
        """Store ``challenge`` as its phone's challenge unless the current one is in its cooldown.

        Returns:
            ``None`` when stored; otherwise the current challenge, created after
            ``not_before``, that blocked it (nothing is stored then).
        """
        t = otp_challenges
        row = _challenge_row(challenge)
        statement = self._db.upsert()(t).values(row)
        statement = statement.on_conflict_do_update(
            index_elements=[t.c.phone],
            set_={column: statement.excluded[column] for column in row if column != "phone"},
            where=t.c.created_at <= not_before,
        ).returning(t.c.id)

        def work(connection: Connection) -> OtpChallenge | None:
            if connection.execute(statement).first() is not None:
                return None
            # The conflicting row is locked (PostgreSQL) or the database is (SQLite).
            blocker = connection.execute(select(t).where(t.c.phone == row["phone"])).one()
            return _challenge_of(blocker)

        return self._db.run(work)

    def get(self, phone: PhoneNumber) -> OtpChallenge | None:
        """The phone's current challenge (usable or not), if any."""
        t = otp_challenges

        def work(connection: Connection) -> OtpChallenge | None:
            row = connection.execute(select(t).where(t.c.phone == phone.e164)).first()
            return None if row is None else _challenge_of(row)

        return self._db.run(work, write=False)

    def record_attempt(self, phone: PhoneNumber, challenge_id: UUID, now: datetime) -> int | None:
        """Count one verification attempt on ``challenge_id``.

        Returns:
            The attempts made including this one, or ``None`` (and nothing
            counted) when that challenge is not the phone's current one, is
            consumed, has expired at ``now`` or has no attempts left.
        """
        t = otp_challenges
        statement = (
            update(t)
            .where(
                t.c.phone == phone.e164,
                t.c.id == challenge_id,
                t.c.consumed_at.is_(None),
                t.c.expires_at > now,
                t.c.attempts < t.c.max_attempts,
            )
            .values(attempts=t.c.attempts + 1)
            .returning(t.c.attempts)
        )

        def work(connection: Connection) -> int | None:
            attempts: int | None = connection.execute(statement).scalar()
            return attempts

        return self._db.run(work)

    def consume(self, phone: PhoneNumber, challenge_id: UUID, now: datetime) -> bool:
        """Mark ``challenge_id`` used at ``now``; True for exactly one caller.

        False when the challenge is not the phone's current one, is already
        consumed or has expired at ``now``. Attempts are not looked at: the
        attempt that used up the last one may still consume the challenge.
        """
        t = otp_challenges
        statement = (
            update(t)
            .where(
                t.c.phone == phone.e164,
                t.c.id == challenge_id,
                t.c.consumed_at.is_(None),
                t.c.expires_at > now,
            )
            .values(consumed_at=now)
            .returning(t.c.id)
        )
        return self._db.run(lambda connection: connection.execute(statement).first() is not None)

    def discard(self, phone: PhoneNumber, challenge_id: UUID) -> None:
        """Remove ``challenge_id`` if it is still the phone's challenge; otherwise do nothing."""
        t = otp_challenges
        statement = delete(t).where(t.c.phone == phone.e164, t.c.id == challenge_id)
        self._db.run(lambda connection: connection.execute(statement))

    def forget(self, phone: PhoneNumber) -> None:
        """Remove the phone's challenge (its row), whatever its state.

        .. versionadded:: 0.4
        """
        t = otp_challenges
        statement = delete(t).where(t.c.phone == phone.e164)
        self._db.run(lambda connection: connection.execute(statement))

    def delete_expired(self, now: datetime) -> int:
        """Remove every challenge expired or consumed at ``now``; returns how many."""
        t = otp_challenges
        statement = delete(t).where((t.c.expires_at <= now) | (t.c.consumed_at <= now))
        return self._db.run(lambda connection: connection.execute(statement).rowcount)


# --------------------------------------------------------------------------- rate limits


def _check_rate_arguments(limit: int, window: timedelta) -> None:
    if limit < 1:
        msg = f"a rate limit allows at least one hit, not {limit}"
        raise ValidationError.single("limit", msg, "too_small")
    if window <= timedelta(0):
        msg = f"a rate window must be positive, not {window}"
        raise ValidationError.single("window", msg, "too_small")


class SqlRateLimiter:
    """A sliding-window-log :class:`~bookingcore.ports.security.RateLimiter` in two tables.

    ``rate_limits`` holds one row per key; every hit first inserts or locks
    it, so hits on one key take turns across processes while other keys go
    on. ``rate_limit_hits`` holds the accepted hits (refused ones are never
    written): a hit at ``now`` forgets the key's hits at or before
    ``now - window``, counts the rest and, below ``limit``, adds itself. The
    decisions equal those of :class:`~bookingcore_adapters.memory.MemoryRateLimiter`
    to the microsecond, ``retry_after`` included.

    A key's row also records when everything it saw leaves its window; keys
    idle past that are swept by :meth:`delete_expired`, which :meth:`hit`
    runs on one batch every :attr:`sweep_every` hits. Set ``sweep_every`` to
    0 to run it from a scheduled job instead.

    Args:
        store: the :class:`~bookingcore_adapters.sql.SqlStore` whose database
            holds the tables (created by ``store.migrate()``, or
            ``store.create_schema()`` in tests).

    Raises:
        ValueError: the store's database is neither SQLite nor PostgreSQL.

    .. versionadded:: 0.1
    """

    #: How many hits (of this object) pass between sweeps of idle keys; 0 never sweeps.
    sweep_every: int = 1024
    #: At most how many idle keys one sweep inside :meth:`hit` removes.
    sweep_batch: int = 500

    def __init__(self, store: StoreSettings) -> None:
        self._db = _Transactions(store, type(self).__name__)
        self._guard = threading.Lock()
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
        h = rate_limit_hits
        lock = self._lock_key(key, now + window)
        forget = delete(h).where(h.c.key == key, h.c.hit_at <= now - window)
        count = select(func.count(), func.min(h.c.hit_at)).where(h.c.key == key)

        def work(connection: Connection) -> RateDecision:
            connection.execute(lock)
            connection.execute(forget)
            hits, oldest = connection.execute(count).one()
            if hits >= limit:
                wait = min(max(oldest + window - now, _MIN_RETRY), window)
                return RateDecision(allowed=False, remaining=0, retry_after=wait)
            connection.execute(insert(h).values(key=key, hit_at=now))
            return RateDecision(allowed=True, remaining=limit - hits - 1)

        decision = self._db.run(work)
        if self._sweep_due():
            self.delete_expired(now, limit=self.sweep_batch)
        return decision

    def reset(self, key: str) -> None:
        """Forget every hit on ``key``."""
        k, h = rate_limits, rate_limit_hits

        def work(connection: Connection) -> None:
            # The key's row first: it waits for a hit in progress on the key.
            connection.execute(delete(k).where(k.c.key == key))
            connection.execute(delete(h).where(h.c.key == key))

        self._db.run(work)

    def delete_expired(self, now: datetime, *, limit: int | None = None) -> int:
        """Remove the keys (and their hits) whose every hit left its window by ``now``.

        Keys a hit is using at that moment are skipped (PostgreSQL) or waited
        for (SQLite). Works in batches of :attr:`sweep_batch` keys, one
        transaction each; ``limit`` stops after about that many keys.

        Returns:
            How many keys were removed.
        """
        k, h = rate_limits, rate_limit_hits
        batch = max(1, min(self.sweep_batch, limit or self.sweep_batch))
        idle = select(k.c.key).where(k.c.expires_at <= now).order_by(k.c.expires_at).limit(batch)
        if self._db.postgres:
            idle = idle.with_for_update(skip_locked=True)

        def work(connection: Connection) -> int:
            keys = list(connection.execute(idle).scalars())
            if keys:
                connection.execute(delete(h).where(h.c.key.in_(keys)))
                connection.execute(delete(k).where(k.c.key.in_(keys)))
            return len(keys)

        removed = 0
        while limit is None or removed < limit:
            swept = self._db.run(work)
            removed += swept
            if swept < batch:
                break
        return removed

    def _lock_key(self, key: str, until: datetime) -> Insert:
        """Insert ``key``'s row, or lock it (pushing its ``expires_at`` to ``until`` if later)."""
        k = rate_limits
        statement = self._db.upsert()(k).values(key=key, expires_at=until)
        later: Any = case(
            (k.c.expires_at < statement.excluded.expires_at, statement.excluded.expires_at),
            else_=k.c.expires_at,
        )
        locked: Insert = statement.on_conflict_do_update(
            index_elements=[k.c.key], set_={"expires_at": later}
        )
        return locked

    def _sweep_due(self) -> bool:
        if self.sweep_every <= 0:
            return False
        with self._guard:
            self._hits_since_sweep += 1
            if self._hits_since_sweep < self.sweep_every:
                return False
            self._hits_since_sweep = 0
            return True


if TYPE_CHECKING:
    from bookingcore.ports.security import OtpStore, RateLimiter

    def _is_an_otp_store(store: SqlOtpStore) -> OtpStore:
        return store  # mypy checks the adapter against the port

    def _is_a_rate_limiter(limiter: SqlRateLimiter) -> RateLimiter:
        return limiter
