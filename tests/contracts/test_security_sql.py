"""The SQL OTP store and rate limiter pass the security contracts, on SQLite and PostgreSQL.

Besides the shared contracts (whose races share one engine's connection
pool), the tests here race workers that each open an engine of their own, as
separate app processes would, and check what the contracts leave to the SQL
adapter: the rows it keeps, and the sweep of idle rate-limit keys.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from functools import partial
from pathlib import Path
from uuid import uuid4

import pytest
from sqlalchemy import Engine, create_engine, func, inspect, select
from tests._sqlite import sqlite_file_store
from tests._threads import all_at_once

from bookingcore.domain.otp import OtpChallenge
from bookingcore.testing.builders import T0, Builder
from bookingcore.testing.security_contracts import OtpStoreContract, RateLimiterContract
from bookingcore_adapters.sql import SqlOtpStore, SqlRateLimiter, SqlStore
from bookingcore_adapters.sql._identity import otp_challenges, rate_limit_hits, rate_limits

#: Workers in the multi-engine races: each opens its own engine, as a process would.
WORKERS = 12
ROUNDS = 5

LIFETIME = timedelta(minutes=5)

#: Opens another store (with its own engine) on the test's database.
Opener = Callable[[], SqlStore]


def _sqlite_store(path: Path) -> SqlStore:
    return sqlite_file_store(path)


@pytest.fixture
def sqlite_store(tmp_path: Path) -> Iterator[SqlStore]:
    """A fresh SQLite file with the schema (a file, so threads and engines share it)."""
    store = _sqlite_store(tmp_path / "security.db")
    yield store
    store.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def opener(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Opener]:
    """Opens stores on one fresh database of each backend, disposing of them afterwards."""
    opened: list[SqlStore] = []
    if request.param == "sqlite":
        path = tmp_path / "shared.db"
        _sqlite_store(path).dispose()

        def open_sqlite() -> SqlStore:
            opened.append(SqlStore(f"sqlite:///{path}"))
            return opened[-1]

        yield open_sqlite
    else:
        url: str = request.getfixturevalue("postgres_url")
        request.getfixturevalue("pg_store")  # a schema with the tables (reused between tests)
        schema: str = request.getfixturevalue("postgres_schema")

        def open_postgres() -> SqlStore:
            opened.append(SqlStore(_pg_engine(url, schema)))
            return opened[-1]

        yield open_postgres
    for store in opened:
        store.dispose()


@pytest.fixture
def make() -> Builder:
    """A builder, here for its unique phone numbers."""
    return Builder()


def _pg_engine(url: str, schema: str) -> Engine:
    return create_engine(url, connect_args={"options": f"-csearch_path={schema}"})


def _challenge(make: Builder, *, max_attempts: int = 3) -> OtpChallenge:
    return OtpChallenge(
        id=uuid4(),
        phone=make.phone(),
        code_hash=f"hash-{uuid4().hex}",
        created_at=T0,
        expires_at=T0 + LIFETIME,
        max_attempts=max_attempts,
    )


def _verify(otp: SqlOtpStore, challenge: OtpChallenge, now: datetime) -> tuple[int | None, bool]:
    """What the OTP service does with a right code: count an attempt, then consume."""
    attempt = otp.record_attempt(challenge.phone, challenge.id, now)
    return attempt, attempt is not None and otp.consume(challenge.phone, challenge.id, now)


# --------------------------------------------------------------------------- the contracts


class TestSqliteOtpStore(OtpStoreContract):
    """The OTP store contract over a fresh SQLite file."""

    @pytest.fixture
    def otp_store(self, sqlite_store: SqlStore) -> SqlOtpStore:
        return SqlOtpStore(sqlite_store)


@pytest.mark.postgres
class TestPostgresOtpStore(OtpStoreContract):
    """The OTP store contract over PostgreSQL, in a schema of its own."""

    @pytest.fixture
    def otp_store(self, pg_store: SqlStore) -> SqlOtpStore:
        return SqlOtpStore(pg_store)


class TestSqliteRateLimiter(RateLimiterContract):
    """The rate limiter contract over a fresh SQLite file."""

    @pytest.fixture
    def rate_limiter(self, sqlite_store: SqlStore) -> SqlRateLimiter:
        return SqlRateLimiter(sqlite_store)


@pytest.mark.postgres
class TestPostgresRateLimiter(RateLimiterContract):
    """The rate limiter contract over PostgreSQL, in a schema of its own."""

    @pytest.fixture
    def rate_limiter(self, pg_store: SqlStore) -> SqlRateLimiter:
        return SqlRateLimiter(pg_store)


# --------------------------------------------------------------------------- beyond the contracts


class TestSqlOtpStore:
    """Rows and races of the SQL OTP store, with a separate engine per worker."""

    def test_one_row_per_phone_holding_only_the_hash(self, opener: Opener, make: Builder) -> None:
        store = opener()
        otp = SqlOtpStore(store)
        first = _challenge(make)
        assert otp.replace(first, not_before=T0) is None
        second = OtpChallenge(
            id=uuid4(),
            phone=first.phone,
            code_hash="hash-second",
            created_at=T0 + timedelta(minutes=1),
            expires_at=T0 + timedelta(minutes=6),
        )
        assert otp.replace(second, not_before=T0 + timedelta(seconds=30)) is None
        columns = {c["name"] for c in inspect(store.engine).get_columns("otp_challenges")}
        assert "code_hash" in columns
        assert not {"code", "otp", "otp_code"} & columns
        with store.engine.connect() as connection:
            rows = connection.execute(select(otp_challenges)).all()
        assert [(r.phone, r.id, r.code_hash) for r in rows] == [
            (first.phone.e164, second.id, "hash-second")
        ]

    def test_racing_verifications_from_separate_engines_consume_once(
        self, opener: Opener, make: Builder
    ) -> None:
        """Every worker has the right code; exactly one signs in, attempts never overcount."""
        stores = [SqlOtpStore(opener()) for _ in range(WORKERS)]
        now = T0 + timedelta(seconds=20)
        for _ in range(ROUNDS):
            challenge = _challenge(make, max_attempts=5)
            assert stores[0].replace(challenge, not_before=T0) is None
            outcomes = all_at_once([partial(_verify, otp, challenge, now) for otp in stores])
            attempts = sorted(a for a, _ in outcomes if a is not None)
            # Attempts after the winning one find the challenge consumed and count nothing.
            assert attempts == list(range(1, len(attempts) + 1))
            assert 1 <= len(attempts) <= challenge.max_attempts
            assert [won for _, won in outcomes].count(True) == 1
            stored = stores[0].get(challenge.phone)
            assert stored is not None
            assert stored.attempts == len(attempts)
            assert stored.consumed_at == now

    def test_racing_replacements_from_separate_engines_store_one(
        self, opener: Opener, make: Builder
    ) -> None:
        stores = [SqlOtpStore(opener()) for _ in range(WORKERS)]
        phone = make.phone()
        offers = [
            OtpChallenge(
                id=uuid4(),
                phone=phone,
                code_hash=f"hash-{n}",
                created_at=T0,
                expires_at=T0 + LIFETIME,
            )
            for n in range(WORKERS)
        ]
        before = T0 - timedelta(seconds=30)
        blockers = all_at_once(
            [
                partial(otp.replace, offer, not_before=before)
                for otp, offer in zip(stores, offers, strict=True)
            ]
        )
        current = stores[0].get(phone)
        assert current is not None
        assert blockers.count(None) == 1
        assert all(blocker == current for blocker in blockers if blocker is not None)


class TestSqlRateLimiter:
    """Races across engines, and the sweep of idle keys."""

    def test_racing_hits_from_separate_engines_allow_exactly_the_limit(
        self, opener: Opener
    ) -> None:
        limiters = [SqlRateLimiter(opener()) for _ in range(WORKERS)]
        window, limit = timedelta(minutes=1), 4
        for round_number in range(ROUNDS):
            key = f"race:{round_number}"
            decisions = all_at_once(
                [
                    partial(limiter.hit, key, limit=limit, window=window, now=T0)
                    for limiter in limiters
                ]
            )
            assert sorted(d.remaining for d in decisions if d.allowed) == list(range(limit))
            assert [d.retry_after for d in decisions if not d.allowed] == [window] * (
                WORKERS - limit
            )

    def test_a_key_keeps_only_the_hits_inside_its_window(self, opener: Opener) -> None:
        store = opener()
        limiter = SqlRateLimiter(store)
        window = timedelta(seconds=10)
        for second in range(0, 60, 2):
            limiter.hit("busy", limit=100, window=window, now=T0 + timedelta(seconds=second))
        with store.engine.connect() as connection:
            kept = connection.execute(select(func.count()).select_from(rate_limit_hits)).scalar()
        assert kept == 5  # 50, 52, 54, 56, 58: a hit exactly a window old is forgotten

    def test_delete_expired_sweeps_idle_keys_and_keeps_live_ones(self, opener: Opener) -> None:
        store = opener()
        limiter = SqlRateLimiter(store)
        limiter.sweep_every = 0
        limiter.sweep_batch = 2
        window = timedelta(minutes=1)
        for n in range(5):
            limiter.hit(f"idle-{n}", limit=3, window=window, now=T0)
        limiter.hit("live", limit=1, window=window, now=T0 + timedelta(seconds=30))
        sweep_at = T0 + window
        assert limiter.delete_expired(sweep_at, limit=2) == 2
        assert limiter.delete_expired(sweep_at) == 3
        assert limiter.delete_expired(sweep_at) == 0
        with store.engine.connect() as connection:
            keys = connection.execute(select(rate_limits.c.key)).scalars().all()
            hits = connection.execute(select(rate_limit_hits.c.key)).scalars().all()
        assert (keys, hits) == (["live"], ["live"])
        refused = limiter.hit("live", limit=1, window=window, now=sweep_at)
        assert refused.retry_after == timedelta(seconds=30)

    def test_a_refused_hit_keeps_its_key_from_being_swept_while_it_counts(
        self, opener: Opener
    ) -> None:
        limiter = SqlRateLimiter(opener())
        limiter.sweep_every = 0
        window = timedelta(minutes=1)
        assert limiter.hit("k", limit=1, window=window, now=T0).allowed
        assert not limiter.hit("k", limit=1, window=window, now=T0 + timedelta(seconds=59)).allowed
        assert limiter.delete_expired(T0 + window) == 0
        assert not limiter.hit("k", limit=1, window=timedelta(days=1), now=T0 + window).allowed

    def test_hits_sweep_idle_keys_now_and_then(self, opener: Opener) -> None:
        store = opener()
        limiter = SqlRateLimiter(store)
        limiter.sweep_every = 4
        window = timedelta(minutes=1)
        for n in range(3):
            limiter.hit(f"idle-{n}", limit=1, window=window, now=T0)
        limiter.hit("live", limit=1, window=window, now=T0 + window)  # the fourth: sweeps
        with store.engine.connect() as connection:
            keys = connection.execute(select(rate_limits.c.key)).scalars().all()
        assert keys == ["live"]
