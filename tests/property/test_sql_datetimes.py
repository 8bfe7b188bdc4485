"""The SQL adapter's UTC datetimes: SQLite text identical to SQLAlchemy's, round trips exact."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import DateTime
from sqlalchemy.dialects import postgresql, sqlite

from bookingcore_adapters.sql._schema import UtcDateTime

SQLITE = sqlite.dialect()  # type: ignore[no-untyped-call]

aware = st.datetimes(
    min_value=datetime(1900, 1, 2),  # noqa: DTZ001 - bounds of naive values, zoned below
    max_value=datetime(9999, 12, 30),  # noqa: DTZ001
    timezones=st.sampled_from(
        [UTC, timezone(timedelta(hours=5, minutes=30)), timezone(timedelta(hours=-7))]
    ),
)


def _processors(dialect: object) -> tuple[object, object]:
    column_type = UtcDateTime().dialect_impl(dialect)  # type: ignore[arg-type]
    return (
        column_type.bind_processor(dialect),  # type: ignore[arg-type]
        column_type.result_processor(dialect, None),  # type: ignore[arg-type]
    )


@given(aware)
def test_utc_datetime_text_matches_sqlalchemy(value: datetime) -> None:
    # Rows stored before, and SQL that compares with them, use SQLAlchemy's own text.
    to_text, from_text = _processors(SQLITE)
    sqlalchemy_text = DateTime().dialect_impl(SQLITE).bind_processor(SQLITE)
    assert callable(to_text)
    assert callable(from_text)
    assert sqlalchemy_text is not None
    naive_utc = value.astimezone(UTC).replace(tzinfo=None)
    text = to_text(value)
    assert text == sqlalchemy_text(naive_utc)
    back = from_text(text)
    assert back == value
    assert back.tzinfo is UTC


@given(aware, aware)
def test_sqlite_text_sorts_in_time_order(first: datetime, second: datetime) -> None:
    to_text, _ = _processors(SQLITE)
    assert callable(to_text)
    assert (to_text(first) < to_text(second)) == (first < second)


def test_text_written_by_other_tools_reads_back_in_utc() -> None:
    _, from_text = _processors(SQLITE)
    assert callable(from_text)
    assert from_text("2026-11-21 16:19:29") == datetime(2026, 11, 21, 16, 19, 29, tzinfo=UTC)
    assert from_text(None) is None


@pytest.mark.parametrize("dialect", [SQLITE, postgresql.dialect()], ids=["sqlite", "postgresql"])  # type: ignore[no-untyped-call]
def test_a_naive_datetime_is_refused(dialect: object) -> None:
    to_db, _ = _processors(dialect)
    assert callable(to_db)
    with pytest.raises(ValueError, match="naive datetime"):
        to_db(datetime(2026, 1, 1))  # noqa: DTZ001 - the point of the test
