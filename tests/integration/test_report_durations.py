"""Durations in SQL: SQLite's and PostgreSQL's are the reference's, to the microsecond.

The analytics reports (status transitions, import processing times) time rows in
the database: ``micros_between`` subtracts two stored instants as whole
microseconds, and ``duration_summary`` finds each group's middle durations
(``percentile_disc`` on PostgreSQL, a numbering window on SQLite). Both must give what
:func:`~bookingcore.domain.tallies.duration_tally` gives in Python, for instants a
microsecond apart, across years, and for groups of odd and even sizes with
untimed rows among them; a property test does the same on SQLite for any pairs.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import Column, Integer, MetaData, String, Table, insert, select

from bookingcore.domain.tallies import DurationTally, duration_tally, micros
from bookingcore_adapters.sql import SqlStore
from bookingcore_adapters.sql._queries import duration_summary, micros_between, read_duration
from bookingcore_adapters.sql._schema import UtcDateTime

_SPANS = Table(
    "report_duration_spans",
    MetaData(),
    Column("id", Integer(), primary_key=True),
    Column("grp", String(10)),
    Column("started", UtcDateTime()),
    Column("ended", UtcDateTime()),
)

Span = tuple[str, datetime | None, datetime | None]


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def sql_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[SqlStore]:
    if request.param == "sqlite":
        store = SqlStore(f"sqlite:///{tmp_path / 'store.db'}")
        yield store
        store.dispose()
    else:
        yield request.getfixturevalue("pg_store")


def _summaries(store: SqlStore, spans: list[Span]) -> dict[str, DurationTally]:
    """Each group's :class:`DurationTally` as ``store``'s SQL computes it (one query)."""
    c = _SPANS.c
    timed = select(
        c.grp, micros_between(c.started, c.ended, store.dialect).label("micros")
    ).subquery()
    with store.engine.connect() as connection:
        _SPANS.create(connection, checkfirst=True)
        connection.execute(_SPANS.delete())
        if spans:
            connection.execute(
                insert(_SPANS),
                [{"grp": g, "started": s, "ended": e} for g, s, e in spans],
            )
        rows = connection.execute(duration_summary(timed, ["grp"], store.dialect)).all()
        connection.rollback()
    return {str(row[0]): read_duration(row[1:]) for row in rows}


def _reference(spans: list[Span]) -> dict[str, DurationTally]:
    groups: dict[str, list[int | None]] = {}
    for group, start, end in spans:
        took = None if start is None or end is None else micros(end - start)
        groups.setdefault(group, []).append(took)
    return {group: duration_tally(found) for group, found in groups.items()}


T0 = datetime(2026, 3, 29, 0, 59, 59, 999999, tzinfo=UTC)
TICK = timedelta(microseconds=1)


def test_durations_and_middles_are_the_reference_ones(sql_store: SqlStore) -> None:
    spans: list[Span] = [
        # odd: three timed and one never finished
        ("odd", T0, T0 + TICK),
        ("odd", T0 - TICK, T0 + timedelta(days=400)),
        ("odd", T0, T0 + timedelta(hours=1, microseconds=999999)),
        ("odd", T0, None),
        # even: four timed, one ending before it started (a clock set back)
        ("even", T0, T0 + timedelta(seconds=3)),
        ("even", T0 + TICK, T0 + timedelta(seconds=3)),
        ("even", T0, T0 - timedelta(seconds=2, microseconds=1)),
        ("even", datetime(1999, 12, 31, 23, 59, 59, tzinfo=UTC), T0),
        # never timed
        ("none", None, None),
        ("none", T0, None),
    ]
    found = _summaries(sql_store, spans)
    assert found == _reference(spans)
    assert found["even"].median_low == micros(timedelta(seconds=3) - TICK)
    assert found["none"] == DurationTally(rows=2)


_sqlite: dict[str, SqlStore] = {}


def _memory_sqlite() -> SqlStore:
    if "store" not in _sqlite:
        _sqlite["store"] = SqlStore("sqlite://")
    return _sqlite["store"]


_INSTANTS = st.datetimes(
    min_value=datetime(1971, 1, 1),  # noqa: DTZ001 - bounds of naive values, in UTC
    max_value=datetime(2099, 12, 31),  # noqa: DTZ001
    timezones=st.just(UTC),
)


@settings(max_examples=100, deadline=None)
@given(
    st.lists(
        st.tuples(st.sampled_from(["a", "b"]), st.none() | _INSTANTS, st.none() | _INSTANTS),
        max_size=9,
    )
)
def test_sqlite_durations_are_the_reference_for_any_instants(spans: list[Span]) -> None:
    assert _summaries(_memory_sqlite(), spans) == _reference(spans)


@pytest.mark.postgres
def test_postgres_durations_and_middles_are_the_reference_for_any_instants(
    pg_store: SqlStore,
) -> None:
    # percentile_disc in rising and falling order gives the middle ones, as the window.
    @settings(max_examples=60, deadline=None)
    @given(
        st.lists(
            st.tuples(st.sampled_from(["a", "b"]), st.none() | _INSTANTS, st.none() | _INSTANTS),
            max_size=9,
        )
    )
    def check(spans: list[Span]) -> None:
        assert _summaries(pg_store, spans) == _reference(spans)

    check()
