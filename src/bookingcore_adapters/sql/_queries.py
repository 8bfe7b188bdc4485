"""What the query filters share in SQL: text search, keyset pages, ranges, value lists.

Each family module's ``*_where`` function mirrors one ``matches`` method of
:mod:`bookingcore.domain.queries`: lower bounds are inclusive, upper bounds
exclusive, and ``text`` is a case-insensitive substring search that also
matches the digits of a phone number when the query has three or more digits.

The conditions are written so that PostgreSQL can use indexes on large tables
(``bench/booking_queries.py`` measures them on a million bookings): the keyset
is one row-value comparison, which starts an index range scan at the cursor;
a booking's customer is matched in a sub-query rather than a join; and digits
are matched with one regular expression rather than by stripping every value.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import (
    BigInteger,
    BindParameter,
    ColumnElement,
    Date,
    Integer,
    Select,
    String,
    Subquery,
    Table,
    and_,
    bindparam,
    case,
    cast,
    extract,
    false,
    func,
    literal,
    literal_column,
    or_,
    select,
    tuple_,
    type_coerce,
)

from bookingcore.domain.queries import Cursor, fold_case
from bookingcore.domain.tallies import UTC_ZONE, DurationTally, StatusSet

__all__ = [
    "SQLITE_DIGITS",
    "SQLITE_FOLD",
    "SQLITE_LOCAL_PERIOD",
    "ZERO",
    "TextSearch",
    "digits",
    "duration_summary",
    "exact_sum",
    "fold",
    "keyset_after",
    "keyset_after_earliest",
    "keyset_after_newest",
    "local_period",
    "local_period_start",
    "micros_between",
    "one_of",
    "read_duration",
    "read_period",
    "read_sum",
    "total",
    "within",
]

# The same normalisation as bookingcore.domain.queries.text_matches.
_PHONE_PUNCTUATION = re.compile(r"[\s\-().+]")
_MIN_DIGITS = 3

#: The SQLite functions the store registers on every connection.
SQLITE_FOLD = "bookingcore_fold_case"
SQLITE_DIGITS = "bookingcore_digits"
SQLITE_LOCAL_PERIOD = "bookingcore_local_period"


def fold(value: str | None) -> str | None:
    """:func:`~bookingcore.domain.queries.fold_case` for SQLite, whose own ``lower()``
    only knows ASCII."""
    return None if value is None else fold_case(value)


def digits(value: str | None) -> str | None:
    """Only the digits of ``value`` (how phone numbers are compared)."""
    return None if value is None else re.sub(r"\D", "", value)


class TextSearch:
    """Builds the ``text`` condition for one backend.

    Case is compared as :func:`~bookingcore.domain.queries.fold_case` compares
    it, letter by letter: SQLite gets that function and a digit filter as
    registered functions; PostgreSQL uses ``lower()`` (the same, letter for
    letter, under a UTF-8 libc locale; with an ICU collation, the capital I with
    a dot lowers to an i and a combining dot, and a word-final capital sigma to
    the final sigma), with the needle
    folded by ``fold_case`` in Python, and matches digits with a regular expression:
    ``value ~ '9\\D*8\\D*7'`` holds exactly when the digits of ``value`` contain
    ``987``, and costs a seventh of ``regexp_replace(value, '\\D', '', 'g') LIKE
    '%987%'``, which rewrites every value it reads.
    """

    def __init__(self, dialect: str) -> None:
        self.sqlite = dialect == "sqlite"

    def _fold(self, column: ColumnElement[Any]) -> ColumnElement[str]:
        if self.sqlite:
            return getattr(func, SQLITE_FOLD)(column)  # type: ignore[no-any-return]
        return func.lower(column)

    def _has_digits(self, column: ColumnElement[Any], digits: str) -> ColumnElement[bool]:
        """``column``'s digits contain ``digits`` (which are all digits) in a row."""
        if self.sqlite:
            found: ColumnElement[str] = getattr(func, SQLITE_DIGITS)(column)
            return found.contains(digits, autoescape=True)
        # The digits in order, with nothing but non-digits between them. Digits are
        # no regular expression operators, so they need no escaping.
        return column.regexp_match(r"\D*".join(digits))

    def contains(
        self, query: str | None, columns: Iterable[ColumnElement[Any]]
    ) -> ColumnElement[bool] | None:
        """One of ``columns`` holds ``query`` case-insensitively (no digit matching),
        or ``None`` when it matches everything."""
        needle = fold_case((query or "").strip())
        if not needle:
            return None
        return or_(*(self._fold(column).contains(needle, autoescape=True) for column in columns))

    def matches(
        self, query: str | None, columns: Iterable[ColumnElement[Any]]
    ) -> ColumnElement[bool] | None:
        """The condition for ``query`` over ``columns``, or ``None`` when it matches everything."""
        needle = fold_case((query or "").strip())
        if not needle:
            return None
        columns = list(columns)
        found = [self._fold(column).contains(needle, autoescape=True) for column in columns]
        compact = _PHONE_PUNCTUATION.sub("", needle)
        if len(compact) >= _MIN_DIGITS and compact.isdigit():
            found += [self._has_digits(column, compact) for column in columns]
        return or_(*found)


def within(
    column: ColumnElement[datetime], start: datetime | None, end: datetime | None
) -> list[ColumnElement[bool]]:
    """``start <= column < end``, for the bounds that are given."""
    found: list[ColumnElement[bool]] = []
    if start is not None:
        found.append(column >= start)
    if end is not None:
        found.append(column < end)
    return found


def one_of(
    column: ColumnElement[Any], values: Iterable[object] | None
) -> list[ColumnElement[bool]]:
    """``column IN values`` (as strings); nothing when ``values`` is None, false when empty."""
    if values is None:
        return []
    wanted = sorted(str(value) for value in values)
    return [column.in_(wanted) if wanted else false()]


def keyset_after(table: Table, cursor: Cursor | None) -> list[ColumnElement[bool]]:
    """Rows after ``cursor`` in newest-first order: older, or as old with a smaller id.

    One row-value comparison, ``(created_at, id) < (:created_at, :id)``: PostgreSQL
    and SQLite both start an index range scan there (on ``(created_at, id)``, or on
    ``(x, created_at, id)`` after ``x = :x``), so a page deep in a list costs what
    the first one does. The same test written as ``created_at < :created_at OR
    (created_at = :created_at AND id < :id)`` is only a filter: each page reads
    every row before its cursor again.
    """
    return keyset_after_newest(table.c.created_at, table.c.id, cursor)


def keyset_after_newest(
    moment: ColumnElement[Any], ident: ColumnElement[Any], cursor: Cursor | None
) -> list[ColumnElement[bool]]:
    """:func:`keyset_after` over any time column: rows after ``cursor`` in a
    newest-first list by ``(moment, ident)``."""
    if cursor is None:
        return []
    at = literal(cursor.created_at, moment.type)  # bound as the column binds it
    return [tuple_(moment, ident) < tuple_(at, literal(cursor.id, ident.type))]


def keyset_after_earliest(
    moment: ColumnElement[Any], ident: ColumnElement[Any], cursor: Cursor | None
) -> list[ColumnElement[bool]]:
    """Rows after ``cursor`` in an earliest-first list by ``(moment, ident)``: later, or
    as late with a larger id (:meth:`Cursor.precedes`). One row-value comparison, as
    :func:`keyset_after`, so an index on ``moment`` starts its range scan there."""
    if cursor is None:
        return []
    at = literal(cursor.created_at, moment.type)
    return [tuple_(moment, ident) > tuple_(at, literal(cursor.id, ident.type))]


def keyset_after_ranked(
    rank: ColumnElement[Any],
    moment: ColumnElement[Any],
    ident: ColumnElement[Any],
    cursor: Cursor | None,
    at_rank: object = None,
) -> list[ColumnElement[bool]]:
    """Rows after ``cursor`` in a list ranked smallest first by ``(rank, moment, ident)``
    (:meth:`Cursor.ranks_before`); ``at_rank`` is the cursor's rank as the column
    holds it (the rank itself when omitted). One row-value comparison, as
    :func:`keyset_after`, so an index on ``(rank, moment, ident)`` (after equality
    columns) starts its range scan there.

    Raises:
        ValidationError: on ``cursor`` when the cursor holds no rank.
    """
    if cursor is None:
        return []
    value = cursor.ranked if at_rank is None else at_rank
    return [
        tuple_(rank, moment, ident)
        > tuple_(
            literal(value, rank.type),
            literal(cursor.created_at, moment.type),
            literal(cursor.id, ident.type),
        )
    ]


# --------------------------------------------------------------------------- tallies

#: Constants of tally queries are written into the SQL, not bound: a grouped query with
#: bound constants costs PostgreSQL a new plan per run (about 1 ms on a small table).
ZERO: ColumnElement[Any] = literal_column("0")


def total(column: ColumnElement[Any]) -> ColumnElement[Any]:
    """``coalesce(sum(column), 0)``: the sum of a count column, 0 over no rows."""
    return func.coalesce(func.sum(column), ZERO)


_PERIODS = ("day", "month")

#: Amounts are summed as whole ten-thousandths on SQLite, which keeps decimals as text
#: and would otherwise add them as binary floats; the columns hold four decimals.
_AMOUNT_UNITS = 10_000
_AMOUNT_DIGITS = 4


#: What a zone's name may hold to be written into SQL (IANA names: ``America/New_York``,
#: ``Etc/GMT+5``); anything else is refused rather than quoted.
_ZONE_NAME = re.compile(r"[A-Za-z0-9_+\-]+(/[A-Za-z0-9_+\-]+)*")


def zone_name(zone: ZoneInfo) -> str:
    """The IANA name of ``zone``, checked to be safe to write into SQL.

    Raises:
        ValueError: a zone with no name (``ZoneInfo.from_file``) or an odd one.
    """
    key: str | None = zone.key  # None for a zone read from a file
    if key is None or len(key) > 64 or not _ZONE_NAME.fullmatch(key):
        msg = f"{zone!r} has no IANA name to group periods in"
        raise ValueError(msg)
    return key


def local_period(
    column: ColumnElement[datetime], period: str, dialect: str, zone: ZoneInfo = UTC_ZONE
) -> ColumnElement[Any]:
    """The first day (``"day"`` or ``"month"``) of ``column``'s period in ``zone``, grouped on.

    PostgreSQL truncates the wall time in ``zone`` (``timezone(zone, column)``,
    which follows the zone's daylight-saving changes) and gives a ``date``.
    SQLite, which stores UTC timestamps as fixed-width text and knows no zones,
    gives the text's ``YYYY-MM-DD`` prefix in UTC, and otherwise calls
    :func:`local_period_start`, which the store registers on each connection.
    :func:`read_period` turns either into a :class:`~datetime.date`.

    On PostgreSQL the period and the zone are written into the SQL, not bound:
    the expression is then the one the statistics on the bookings' periods
    describe (the bookings' ``PERIOD_STATISTICS``, in UTC), so the planner knows
    how few groups it makes, and a prepared statement's generic plan groups the
    same way. Revision 0025's statistics describe UTC periods; another zone's
    are made by ``SqlStore.describe_report_periods``, without which the planner
    estimates the groups from ``column`` alone.

    Raises:
        ValueError: an unknown period, or a zone with no IANA name.
    """
    if period not in _PERIODS:
        msg = f"no period {period!r}"
        raise ValueError(msg)
    name = zone_name(zone)
    if dialect == "postgresql":
        zoned = func.timezone(literal_column(f"'{name}'"), column)
        return cast(func.date_trunc(literal_column(f"'{period}'"), zoned), Date)
    if name == "UTC":
        if period == "day":
            return func.substr(column, 1, 10)
        return func.substr(column, 1, 7).concat("-01")
    local: ColumnElement[Any] = getattr(func, SQLITE_LOCAL_PERIOD)(
        column, literal_column(f"'{name}'"), literal_column(f"'{period}'")
    )
    return local


def local_period_start(value: str | None, zone: str | None, period: str | None) -> str | None:
    """For SQLite: the first day (``YYYY-MM-DD``) of the ``period`` (``day``, ``month``) in
    the IANA ``zone`` that the stored UTC timestamp ``value`` falls in."""
    if value is None or zone is None:
        return None
    local = datetime.fromisoformat(value).replace(tzinfo=UTC).astimezone(ZoneInfo(zone))
    day = local.date()
    return (day if period == "day" else day.replace(day=1)).isoformat()


def read_period(value: object) -> date | None:
    """A period key as read back from :func:`local_period`."""
    if value is None or isinstance(value, date):
        return value
    return date.fromisoformat(str(value))


def exact_sum(column: ColumnElement[Decimal], dialect: str) -> ColumnElement[Any]:
    """``SUM(column)`` of an amount column, exactly on every backend (see :func:`read_sum`):
    ``NUMERIC`` on PostgreSQL, whole ten-thousandths (:func:`_ten_thousandths`) on SQLite,
    0 over no rows."""
    if dialect == "postgresql":
        return total(column)
    return total(_ten_thousandths(column))


def _ten_thousandths(amount: ColumnElement[Any]) -> ColumnElement[int]:
    """SQLite: an amount stored as decimal text (``"-12.5"``) as whole ten-thousandths
    (``-125000``), read from the digits of the text itself: a binary float (``CAST(...
    AS REAL) * 10000``) is a ten-thousandth off for amounts near 10^12, where an
    ``INTEGER`` holds them exactly. ``NULL`` stays ``NULL`` (``SUM`` skips it).

    The amounts are what :class:`~bookingcore.domain.values.Money` writes: plain
    decimal text (never an exponent) with at most four decimals.
    """
    text = type_coerce(amount, String())  # text already: functions read numbers as text
    point = func.instr(text, ".")
    decimals = func.substr(
        func.substr(text, point + 1).concat("0" * _AMOUNT_DIGITS), 1, _AMOUNT_DIGITS
    )
    fraction = case((point == 0, 0), else_=cast(decimals, Integer()))
    negative = type_coerce(func.substr(text, 1, 1) == "-", Integer())  # 1 or 0
    whole = cast(text, Integer())  # SQLite reads the leading integer: "-12.5" -> -12
    units: ColumnElement[int] = literal_column(str(_AMOUNT_UNITS))
    # The fraction written once: SQLite evaluates each copy of it on every row.
    return whole * units + fraction * (literal_column("1") - literal_column("2") * negative)


def read_sum(value: object, dialect: str) -> Decimal:
    """An amount summed by :func:`exact_sum`, as a :class:`~decimal.Decimal`."""
    if dialect == "postgresql":
        # NUMERIC comes back a Decimal already (its text again would be the same one).
        return value if type(value) is Decimal else Decimal(str(value))
    return Decimal(int(str(value))) / _AMOUNT_UNITS


# --------------------------------------------------------------------------- durations

_MICROS: ColumnElement[Any] = literal_column("1000000")


def _epoch_micros(moment: ColumnElement[Any], dialect: str) -> ColumnElement[Any]:
    """``moment`` as whole microseconds since 1970, exactly (no binary float)."""
    if dialect == "postgresql":
        return extract("epoch", moment) * _MICROS  # numeric since PostgreSQL 14
    # SQLite keeps "YYYY-MM-DD HH:MM:SS.ffffff" in UTC (UtcDateTime): seconds from the
    # first 19 characters, the six digits of microseconds from the text itself.
    seconds = cast(func.strftime(literal_column("'%s'"), func.substr(moment, 1, 19)), Integer)
    fraction = cast(func.substr(moment, 21, 6), Integer)
    return seconds * _MICROS + fraction


def micros_between(
    start: ColumnElement[datetime], end: ColumnElement[datetime], dialect: str
) -> ColumnElement[Any]:
    """``end - start`` in whole microseconds, computed by the database; NULL when
    either is NULL. Exact on both backends, as :func:`~bookingcore.domain.tallies.micros`.

    On PostgreSQL the epoch of the interval between them (days of 24 hours and the
    time, as subtracting two ``timestamptz`` gives): one ``numeric`` product a row
    instead of two.
    """
    if dialect == "postgresql":
        return cast(extract("epoch", end - start) * _MICROS, BigInteger)
    return cast(_epoch_micros(end, dialect) - _epoch_micros(start, dialect), BigInteger)


def duration_summary(timed: Subquery, keys: list[str], dialect: str) -> Select[Any]:
    """Per group of ``keys`` of ``timed`` (a sub-query with those columns and
    ``micros``, NULL when a row has no duration): the rows, the timed rows, their
    total, shortest and longest, and the middle one or two durations in order.

    On PostgreSQL the middle ones are ``percentile_disc(0.5)`` of the durations in
    rising and in falling order (ordered-set aggregates, NULLs left out): the
    lower and the upper middle, the same one for an odd count. Elsewhere each
    group's rows are numbered by duration (NULLs last, as every backend is told,
    not left to its default) in a window, keeping the rows whose number ``n`` has
    ``2n - timed`` in ``0..2``: one row for an odd count, two for an even one.
    Read a row with :func:`read_duration`.
    """
    c = timed.c
    group = [c[key] for key in keys]
    if dialect == "postgresql":
        half: ColumnElement[Any] = literal_column("0.5")
        return select(
            *group,
            func.count(),
            func.count(c.micros),
            total(c.micros),
            func.min(c.micros),
            func.max(c.micros),
            func.percentile_disc(half).within_group(c.micros),
            func.percentile_disc(half).within_group(c.micros.desc()),
        ).group_by(*group)
    untimed = case((c.micros.is_(None), 1), else_=0)
    ranked = select(
        *group,
        c.micros,
        func.row_number().over(partition_by=group, order_by=[untimed, c.micros]).label("n"),
        func.count(c.micros).over(partition_by=group).label("timed"),
    ).subquery()
    r = ranked.c
    offset = r.n * literal_column("2") - r.timed
    middle = case((and_(offset >= ZERO, offset <= literal_column("2")), r.micros))
    return select(
        *(r[key] for key in keys),
        func.count(),
        func.count(r.micros),
        total(r.micros),
        func.min(r.micros),
        func.max(r.micros),
        func.min(middle),
        func.max(middle),
    ).group_by(*(r[key] for key in keys))


def read_duration(values: Iterable[Any]) -> DurationTally:
    """The last seven columns of a :func:`duration_summary` row."""
    rows, timed, summed, *rest = values
    return DurationTally(
        int(rows), int(timed), int(summed), *(None if v is None else int(v) for v in rest)
    )


def status_in(
    statuses: StatusSet, status: ColumnElement[str], lifecycle: ColumnElement[str] | None
) -> ColumnElement[bool]:
    """A row's ``status`` (and ``lifecycle``) is in ``statuses``, as SQL (see
    :func:`bookingcore_adapters.sql._bookings.in_statuses`)."""
    found: list[ColumnElement[bool]] = []
    if statuses.names:
        found.append(status.in_(_written(sorted(statuses.names))))
    for name, names in statuses.by_lifecycle().items():
        if lifecycle is None:
            msg = "a status set with (lifecycle, status) pairs needs the lifecycle column"
            raise ValueError(msg)
        found.append(and_(lifecycle == _written(name), status.in_(_written(names))))
    return or_(*found) if found else false()


def _written(value: str | list[str]) -> BindParameter[Any]:
    """``value`` rendered into the statement's text when it runs (a list for ``IN``)."""
    return bindparam(
        None, value, type_=String(), expanding=isinstance(value, list), literal_execute=True
    )
