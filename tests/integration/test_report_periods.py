"""Report periods in a business's zone: SQLite's and PostgreSQL's keys are the reference's.

A table of instants, every quarter of an hour through the days around 2026's
daylight-saving changes and a few month and year ends, is grouped by day and
by month in zones with summer time (Berlin, New York, Lord Howe's half-hour
one), with a half-hour or quarter-hour offset (Kolkata, Kathmandu) and in UTC,
in one query per zone and period; every key must be the one
:func:`~bookingcore.domain.tallies.group_key` gives (the memory store's).
A property test does the same on SQLite for any instant.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import TZPATH, ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import Column, MetaData, Table, column, insert, select

from bookingcore.domain.tallies import UTC_ZONE
from bookingcore_adapters.sql import SqlStore
from bookingcore_adapters.sql._queries import local_period, read_period
from bookingcore_adapters.sql._schema import UtcDateTime

ZONES = (
    "UTC",
    "Europe/Berlin",
    "America/New_York",
    "Asia/Kolkata",
    "Asia/Kathmandu",
    "Australia/Lord_Howe",
)

#: Around these instants: the summer-time changes of 2026 in Europe, the US and Lord
#: Howe Island, and month ends east and west of UTC.
_ANCHORS = (
    datetime(2026, 1, 1, 0, 0, tzinfo=UTC),
    datetime(2026, 2, 28, 18, 30, tzinfo=UTC),
    datetime(2026, 3, 8, 7, 0, tzinfo=UTC),
    datetime(2026, 3, 29, 1, 0, tzinfo=UTC),
    datetime(2026, 4, 4, 15, 0, tzinfo=UTC),
    datetime(2026, 10, 3, 15, 30, tzinfo=UTC),
    datetime(2026, 10, 25, 1, 0, tzinfo=UTC),
    datetime(2026, 11, 1, 6, 0, tzinfo=UTC),
)

INSTANTS = sorted(
    {
        anchor + timedelta(minutes=15 * step, microseconds=micro)
        for anchor in _ANCHORS
        for step in range(-104, 105)
        for micro in (0, -1)
    }
)


def _reference(moment: datetime, period: str, zone: ZoneInfo) -> date:
    local = moment.astimezone(zone).date()
    return local if period == "day" else local.replace(day=1)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def sql_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[SqlStore]:
    if request.param == "sqlite":
        store = SqlStore(f"sqlite:///{tmp_path / 'store.db'}")
        yield store
        store.dispose()
    else:
        yield request.getfixturevalue("pg_store")


_MOMENTS = Table("report_period_moments", MetaData(), Column("at", UtcDateTime()))


def _periods(
    store: SqlStore, moments: list[datetime], period: str, zone: ZoneInfo
) -> dict[datetime, date | None]:
    """Each of ``moments``' period keys as ``store``'s SQL computes them (one query)."""
    key = local_period(_MOMENTS.c.at, period, store.dialect, zone)
    with store.engine.connect() as connection:
        _MOMENTS.create(connection, checkfirst=True)
        connection.execute(_MOMENTS.delete())
        connection.execute(insert(_MOMENTS), [{"at": moment} for moment in moments])
        rows = connection.execute(select(_MOMENTS.c.at, key)).all()
        connection.rollback()
    return {at: read_period(found) for at, found in rows}


@pytest.mark.parametrize("period", ["day", "month"])
@pytest.mark.parametrize("zone", ZONES)
def test_sql_periods_are_the_reference_periods(sql_store: SqlStore, zone: str, period: str) -> None:
    local = ZoneInfo(zone)
    found = _periods(sql_store, INSTANTS, period, local)
    expected = {moment: _reference(moment, period, local) for moment in INSTANTS}
    wrong = {at: (key, expected[at]) for at, key in found.items() if key != expected[at]}
    assert wrong == {}
    assert found.keys() == expected.keys()


def test_a_zone_without_a_name_is_refused() -> None:
    found = [Path(folder) / "UTC" for folder in TZPATH if (Path(folder) / "UTC").is_file()]
    if not found:
        pytest.skip("no system time-zone database to read a zone file from")
    with found[0].open("rb") as file:
        nameless = ZoneInfo.from_file(file)
    with pytest.raises(ValueError, match="IANA name"):
        local_period(column("at", UtcDateTime()), "day", "postgresql", nameless)


_sqlite: dict[str, SqlStore] = {}


def _memory_sqlite() -> SqlStore:
    if "store" not in _sqlite:
        _sqlite["store"] = SqlStore("sqlite://")
    return _sqlite["store"]


@settings(max_examples=200, deadline=None)
@given(
    st.datetimes(
        min_value=datetime(1971, 1, 1),  # noqa: DTZ001 - bounds of naive values, in UTC
        max_value=datetime(2099, 12, 31),  # noqa: DTZ001
        timezones=st.just(UTC),
    ),
    st.sampled_from(ZONES),
    st.sampled_from(["day", "month"]),
)
def test_sqlite_periods_are_the_reference_periods_for_any_instant(
    moment: datetime, zone: str, period: str
) -> None:
    local = UTC_ZONE if zone == "UTC" else ZoneInfo(zone)
    assert _periods(_memory_sqlite(), [moment], period, local) == {
        moment: _reference(moment, period, local)
    }
