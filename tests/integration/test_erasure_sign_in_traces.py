"""Erasing a customer forgets their phone in the sign-in code store and the rate limiter,
on memory, SQL (SQLite, PostgreSQL) and Redis."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any
from uuid import uuid4

import attrs
import pytest
from tests._sqlite import sqlite_file_store

from bookingcore import (
    AuthSettings,
    BookingCore,
    PhoneNumber,
    Principal,
    Settings,
    StaffId,
    StaffRole,
)
from bookingcore.ports import OtpStore, RateLimiter
from bookingcore.services import otp_phone_bucket
from bookingcore.testing import FixedClock
from bookingcore_adapters.auth import JwtTokenSigner
from bookingcore_adapters.memory import MemoryOtpStore, MemoryRateLimiter, MemoryStore
from bookingcore_adapters.sms import ConsoleSmsSender
from bookingcore_adapters.sql import SqlOtpStore, SqlRateLimiter, SqlStore

ADMIN = Principal.staff(StaffId(uuid4()), StaffRole.ADMIN)
PHONE = PhoneNumber.parse("+91 98765 43210")


@attrs.define
class Wiring:
    """A store and the two sign-in ports, and what else the test must see of them."""

    store: MemoryStore | SqlStore
    otp: OtpStore
    limiter: RateLimiter
    redis: Any = None
    prefix: str = ""


@pytest.fixture(
    params=[
        "memory",
        "sqlite",
        pytest.param("postgres", marks=pytest.mark.postgres),
        pytest.param("redis", marks=pytest.mark.redis),
    ]
)
def wiring(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Wiring]:
    if request.param == "memory":
        yield Wiring(MemoryStore(), MemoryOtpStore(), MemoryRateLimiter())
    elif request.param == "sqlite":
        sqlite = sqlite_file_store(tmp_path / "store.db")
        yield Wiring(sqlite, SqlOtpStore(sqlite), SqlRateLimiter(sqlite))
        sqlite.dispose()
    elif request.param == "postgres":
        pg: SqlStore = request.getfixturevalue("pg_store")
        yield Wiring(pg, SqlOtpStore(pg), SqlRateLimiter(pg))
    else:
        from bookingcore_adapters.redis import (  # noqa: PLC0415
            RedisOtpStore,
            RedisRateLimiter,
            from_url,
        )

        client = from_url(request.getfixturevalue("redis_url"))
        prefix = f"bookingcore-test:{uuid4().hex}:"
        yield Wiring(
            MemoryStore(),
            RedisOtpStore(client, prefix=f"{prefix}otp:"),
            RedisRateLimiter(client, prefix=f"{prefix}rate:"),
            client,
            prefix,
        )
        keys = list(client.scan_iter(match=f"{prefix}*", count=1000))
        if keys:
            client.delete(*keys)
        client.close()


def _redis_mentions(wiring: Wiring, digits: str) -> list[str]:
    """The keys under the test's prefix whose name, members or fields hold ``digits``."""
    client, found = wiring.redis, []
    for raw in client.scan_iter(match=f"{wiring.prefix}*", count=1000):
        key = raw.decode() if isinstance(raw, bytes) else raw
        kind = client.type(key)
        kind = kind.decode() if isinstance(kind, bytes) else kind
        if kind == "zset":
            values = [m for m, _ in client.zrange(key, 0, -1, withscores=True)]
        elif kind == "hash":
            values = list(client.hgetall(key).values())
        else:
            values = []
        text = " ".join([key, *(v.decode() if isinstance(v, bytes) else str(v) for v in values)])
        if digits in text:
            found.append(key)
    return found


def test_erasing_a_customer_forgets_their_codes_and_rate_limit_counts(wiring: Wiring) -> None:
    """The consumed code of the sign-in, a fresh one waiting, and the phone's count of
    codes requested used to stay after the erasure, under the phone number, until the
    clean-up job (or the limit's window) removed them."""
    clock = FixedClock()
    sms = ConsoleSmsSender()
    core = BookingCore(
        uow_factory=wiring.store.unit_of_work,
        clock=clock,
        settings=Settings(default_region="IN"),
        otp_store=wiring.otp,
        rate_limiter=wiring.limiter,
        sms=sms,
        token_signer=JwtTokenSigner({"k1": b"0123456789abcdef0123456789abcdef"}),
        auth_settings=AuthSettings(otp_pepper=b"pepper-pepper-pepper-pepper-pepper"),
    )
    core.auth.request_otp(PHONE)
    code = re.findall(r"\b(\d{6})\b", sms.sent[-1][1])[0]
    signed = core.auth.verify_otp(PHONE, code)
    customer_id = signed.principal.id
    assert customer_id is not None
    clock.advance(minutes=2)  # past the cooldown: a second code waits, unused
    core.auth.request_otp(PHONE)
    assert wiring.otp.get(PHONE) is not None
    if wiring.redis is not None:
        assert _redis_mentions(wiring, PHONE.e164.lstrip("+"))

    core.privacy.erase_customer(customer_id, principal=ADMIN)  # type: ignore[arg-type]

    assert wiring.otp.get(PHONE) is None
    # No hit is left on the phone's key: a limit of one is not reached.
    fresh = wiring.limiter.hit(
        otp_phone_bucket(PHONE), limit=1, window=timedelta(hours=1), now=clock.now()
    )
    assert fresh.allowed
    wiring.limiter.reset(otp_phone_bucket(PHONE))
    if wiring.redis is not None:
        assert _redis_mentions(wiring, PHONE.e164.lstrip("+")) == []
