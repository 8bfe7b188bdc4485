"""Seed 001's reports on a million bookings: bookingcore's report calls against hand-written SQL.

The bench loads (not timed) ``--rows`` bookings (1 000 000) into a schema of its
own with the booking-queries bench's generator and its ``COPY`` loader, so both
benches read the same data. For each report it times ``core.reports.<report>``
against one hand-written psycopg query giving the same figures, checks that
both give the same figures (every figure of a line: the hand-written side
derives the rates from its counts, as the library does), and prints each side's
median time per call (a fast report timed over runs of many calls) and their
ratio (hand-written time / library time; the target is at least 0.8). The
business's clock is ``--timezone`` (Asia/Kolkata, UTC+05:30): reports grouped by
a period group by its calendar days and months, and so does the hand-written SQL
(``timezone(zone, created_at)``); the bench first describes that zone's periods to
PostgreSQL (``SqlStore.describe_report_periods``), as a deployment in it would, which
serves both sides. From the repository root::

    .venv/bin/python bench/reports.py                 # 1 000 000 bookings; ~3 min
    .venv/bin/python bench/reports.py --quick         # 20 000 bookings; seconds
    .venv/bin/python bench/reports.py --rows 200000 --repeats 9 --json out.json
    .venv/bin/python bench/reports.py --keep          # ... and keep the loaded schema
    .venv/bin/python bench/reports.py --schema bench_r_<hex>   # measure it again, no load
    .venv/bin/python bench/reports.py --quick --timezone UTC  # periods in UTC
"""

from __future__ import annotations

import os
import re
import statistics
import sys
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any
from uuid import uuid4
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy.engine import URL

from _common import (
    MIN_SAMPLE_SECONDS,
    BenchError,
    Database,
    bench_schema,
    calls_per_sample,
    conninfo,
    library_core,
    parser,
    positive,
    postgres_url,
    ratio,
    report_text,
    run_bench,
    say,
    server_description,
    table,
    time_calls,
)
from booking_queries import BOOKINGS_PER_CUSTOMER, DEFAULT_SLOTS, Dataset, load
from bookingcore import BookingCore, Money, Principal, Settings, StaffId, StaffRole
from bookingcore.domain import RESERVATION
from bookingcore_adapters.sql import SqlStore

DEFAULT_ROWS = 1_000_000
QUICK_ROWS = 20_000
DEFAULT_REPEATS = 5
QUICK_REPEATS = 2
SEED = 11
TARGET = 0.8
#: Rates in the reports have four decimals.
RATE = Decimal("0.0001")
SCHEMA_PREFIX = "bench_r_"
#: The business's time zone unless ``--timezone`` names another: a half-hour offset.
DEFAULT_TIMEZONE = "Asia/Kolkata"

#: The dataset's bookings all follow this lifecycle; its seat-holding statuses are revenue.
HOLDING = sorted(RESERVATION.holding)

#: Figures keyed by group: what both sides must agree on.
Figures = dict[Any, tuple[Any, ...]]


@dataclass(frozen=True)
class Report:
    """One report: the library's call and the hand-written SQL for the same figures."""

    name: str
    library: Callable[[BookingCore, Principal], Figures]
    sql: str
    reader: Callable[[Sequence[tuple[Any, ...]]], Figures]


def _revenue(by: str) -> Callable[[BookingCore, Principal], Figures]:
    def call(core: BookingCore, admin: Principal) -> Figures:
        return {
            (line.key, line.currency): (line.bookings, line.travelers, line.amount.amount)
            for line in core.reports.revenue(principal=admin, by=by)
        }

    return call


def _by_key_and_currency(rows: Sequence[tuple[Any, ...]]) -> Figures:
    return {(row[0], row[1]): (row[2], row[3], Decimal(row[4])) for row in rows}


def _rate(part: int, whole: int) -> Decimal:
    """A report's rate: ``part`` over ``whole`` to four decimals (0 over nothing)."""
    return (Decimal(part) / Decimal(whole)).quantize(RATE) if whole else Decimal(0)


def _cancellations(by: str) -> Callable[[BookingCore, Principal], Figures]:
    def call(core: BookingCore, admin: Principal) -> Figures:
        return {
            line.key: (
                line.bookings,
                line.cancelled,
                line.no_shows,
                line.cancellation_rate,
                line.no_show_rate,
            )
            for line in core.reports.cancellations(principal=admin, by=by)
        }

    return call


def _cancellation_rows(rows: Sequence[tuple[Any, ...]]) -> Figures:
    return {
        key: (bookings, cancelled, no_shows, _rate(cancelled, bookings), _rate(no_shows, bookings))
        for key, bookings, cancelled, no_shows in rows
    }


def _workload(core: BookingCore, admin: Principal) -> Figures:
    return {
        line.assignee_id: (
            line.assigned,
            line.open,
            line.completed,
            line.cancelled,
            line.no_shows,
            line.completion_rate,
        )
        for line in core.reports.advisor_workload(principal=admin)
    }


def _workload_rows(rows: Sequence[tuple[Any, ...]]) -> Figures:
    return {
        key: (
            assigned,
            assigned - completed - cancelled - no_shows,
            completed,
            cancelled,
            no_shows,
            _rate(completed, assigned - cancelled),
        )
        for key, assigned, completed, cancelled, no_shows in rows
    }


def _customer_value(core: BookingCore, admin: Principal) -> Figures:
    return {
        line.currency: (
            line.customers,
            line.repeat_customers,
            line.repeat_rate,
            line.lifetime_value.amount,
        )
        for line in core.reports.customer_value(principal=admin)
    }


def _customer_rows(rows: Sequence[tuple[Any, ...]]) -> Figures:
    return {
        row[0]: (row[1], row[2], _rate(row[2], row[1]), Money(row[3] / row[1], row[0]).amount)
        for row in rows
    }


def _utilisation(by: str) -> Callable[[BookingCore, Principal], Figures]:
    def call(core: BookingCore, admin: Principal) -> Figures:
        return {
            line.key: (
                line.slots,
                line.unlimited_slots,
                line.capacity,
                line.seats_held,
                line.utilisation,
            )
            for line in core.reports.capacity_utilisation(principal=admin, by=by)
        }

    return call


def _utilisation_rows(rows: Sequence[tuple[Any, ...]]) -> Figures:
    return {
        key: (slots, unlimited, capacity, held, _rate(held, capacity))
        for key, slots, unlimited, capacity, held in rows
    }


_REVENUE_SQL = (
    "SELECT {key}, currency, count(*), sum(total_travelers), sum(total_amount) FROM bookings"
    " WHERE status = ANY(%(holding)s) GROUP BY 1, 2"
)

REPORTS = (
    *(
        Report(f"revenue by {by}", _revenue(by), _REVENUE_SQL.format(key=key), _by_key_and_currency)
        for by, key in (
            ("source", "source"),
            ("partner", "partner_id"),
            ("location", "location_id"),
            # The business's calendar months (--timezone), as the library's.
            ("created_month", "date_trunc('month', timezone(%(zone)s, created_at))::date"),
        )
    ),
    *(
        Report(
            f"cancellations by {by}",
            _cancellations(by),
            f"SELECT {key}, count(*), count(*) FILTER (WHERE status = 'cancelled'),"
            " count(*) FILTER (WHERE status = 'no_show') FROM bookings GROUP BY 1",
            _cancellation_rows,
        )
        for by, key in (
            ("location", "location_id"),
            ("created_day", "date_trunc('day', timezone(%(zone)s, created_at))::date"),
        )
    ),
    Report(
        "advisor workload",
        _workload,
        "SELECT assignee_id, count(*), count(*) FILTER (WHERE status = 'completed'),"
        " count(*) FILTER (WHERE status = 'cancelled'),"
        " count(*) FILTER (WHERE status = 'no_show') FROM bookings GROUP BY 1",
        _workload_rows,
    ),
    Report(
        "repeat customers and lifetime value",
        _customer_value,
        "SELECT currency, count(*), count(*) FILTER (WHERE n >= 2), sum(amount) FROM"
        " (SELECT currency, count(*) AS n, sum(total_amount) AS amount FROM bookings"
        "  WHERE status = ANY(%(holding)s) GROUP BY currency, customer_id) AS per_customer"
        " GROUP BY 1",
        _customer_rows,
    ),
    *(
        Report(
            f"capacity utilisation by {by}",
            _utilisation(by),
            f"SELECT {key}, count(*), count(*) FILTER (WHERE capacity IS NULL),"
            " coalesce(sum(capacity), 0),"
            " coalesce(sum(seats_held) FILTER (WHERE capacity IS NOT NULL), 0) FROM slots"
            " GROUP BY 1",
            _utilisation_rows,
        )
        for by, key in (
            ("location", "location_id"),
            ("starts_month", "date_trunc('month', timezone(%(zone)s, starts_at))::date"),
        )
    ),
)


@dataclass
class Timing:
    """Both sides' times of one report, and whether their figures agreed."""

    name: str
    library: list[float] = field(default_factory=list)
    baseline: list[float] = field(default_factory=list)
    groups: int = 0
    agree: bool = True
    #: Calls in each timed run of each side (see ``_compare``).
    calls: int = 1

    @property
    def ratio(self) -> float:
        """Hand-written median time over the library's: 1.0 is as fast."""
        return ratio(statistics.median(self.baseline), statistics.median(self.library))


@dataclass(frozen=True)
class Options:
    """The command line, resolved."""

    url: URL
    rows: int
    repeats: int
    json: Path | None
    keep: bool = False
    schema: str | None = None
    timezone: str = DEFAULT_TIMEZONE


def parse_options(argv: Sequence[str] | None = None) -> Options:
    """Read the command line (``argv`` without the program name)."""
    created = parser(
        "reports.py", "Reports on many bookings: bookingcore vs hand-written SQL.", url="PostgreSQL"
    )
    created.add_argument("--rows", type=positive, help=f"bookings (default {DEFAULT_ROWS:_})")
    created.add_argument(
        "--repeats", type=positive, help=f"timed runs per side (default {DEFAULT_REPEATS})"
    )
    created.add_argument("--keep", action="store_true", help="keep the schema (prints its name)")
    created.add_argument(
        "--schema", help=f"measure a schema kept by --keep ({SCHEMA_PREFIX}...) instead of loading"
    )
    created.add_argument(
        "--timezone",
        default=DEFAULT_TIMEZONE,
        help=f"the business's IANA time zone, which periods follow (default {DEFAULT_TIMEZONE})",
    )
    args = created.parse_args(argv)
    try:
        ZoneInfo(args.timezone)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        created.error(f"--timezone {args.timezone!r} is not an IANA time zone")
    try:
        url = postgres_url(args.url)
    except ValueError as exc:
        created.error(str(exc))
    if args.schema is not None and not re.fullmatch(f"{SCHEMA_PREFIX}[0-9a-f]+", args.schema):
        created.error(f"--schema names a schema kept by --keep ({SCHEMA_PREFIX}<hex>)")
    return Options(
        url=url,
        rows=args.rows or (QUICK_ROWS if args.quick else DEFAULT_ROWS),
        repeats=args.repeats or (QUICK_REPEATS if args.quick else DEFAULT_REPEATS),
        json=args.json,
        keep=args.keep,
        schema=args.schema,
        timezone=args.timezone,
    )


def _median_ms(values: Sequence[float]) -> str:
    milliseconds = statistics.median(values) * 1000
    return f"{milliseconds:.1f}" if milliseconds >= 10 else f"{milliseconds:.3f}"


@contextmanager
def _existing_schema(name: str) -> Iterator[str]:
    yield name


def _stored_rows(target: Database) -> int:
    with target.connect() as connection:
        found = connection.execute("SELECT count(*) FROM bookings").fetchone()
    return int(found[0]) if found else 0


def _compare(
    report: Report,
    core: BookingCore,
    admin: Principal,
    connection: Any,
    repeats: int,
    zone: str,
) -> Timing:
    """Time ``report`` on both sides, ``repeats`` runs each, and check their figures agree.

    Each side is called once untimed first (statements compiled and prepared,
    caches warm). A run times ``calls`` calls in a row, the same number on both
    sides (``calls_per_sample``), enough for the slower side's run to last
    ``MIN_SAMPLE_SECONDS``: one call of a report on a million bookings, some
    hundreds of one that answers in a fraction of a millisecond, whose single
    call would time the clock and the scheduler more than the report. The sides
    take turns to go first; each run's figures are compared.
    """
    timing = Timing(report.name)

    def library() -> Figures:
        return report.library(core, admin)

    def baseline() -> Figures:
        found = connection.execute(report.sql, {"holding": HOLDING, "zone": zone})
        return report.reader(found.fetchall())

    mine, first_mine = time_calls(library, 1)
    theirs, first_theirs = time_calls(baseline, 1)
    timing.agree = mine == theirs
    if max(first_mine, first_theirs) < MIN_SAMPLE_SECONDS:
        timing.calls = calls_per_sample(library, baseline)
    sides = ((library, timing.library), (baseline, timing.baseline))
    for round_ in range(repeats):
        for call, times in sides[::-1] if round_ % 2 else sides:
            figures, per_call = time_calls(call, timing.calls)
            times.append(per_call)
            if call is library:
                mine = figures
            else:
                theirs = figures
        timing.agree = timing.agree and mine == theirs
    timing.groups = len(theirs)
    return timing


def measure(options: Options) -> tuple[str, dict[str, Any]]:
    """Load the bookings (or reuse a kept schema), then time every report on both sides."""
    dsn = conninfo(options.url)
    timings: list[Timing] = []
    schemas = (
        bench_schema(dsn, SCHEMA_PREFIX, keep=options.keep)
        if options.schema is None
        else _existing_schema(options.schema)
    )
    with schemas as schema:
        target = Database(options.url, schema)
        if options.schema is None:
            say(f"loading {options.rows:,} bookings into {schema} ...")
            customers = max(options.rows // BOOKINGS_PER_CUSTOMER, 100)
            loaded = load(target, Dataset(options.rows, customers, DEFAULT_SLOTS, SEED)).rows
        else:
            loaded = _stored_rows(target)
        store = SqlStore(target.engine())
        # As a deployment in that zone does once: statistics on its periods (not timed).
        store.describe_report_periods(ZoneInfo(options.timezone))
        core = library_core(store.unit_of_work, settings=Settings(timezone=options.timezone))
        admin = Principal.staff(StaffId(uuid4()), StaffRole.ADMIN)
        started_load = os.getloadavg()[0]
        try:
            # One statement needs no transaction: the hand-written side runs in autocommit.
            with target.connect(autocommit=True) as connection:
                for report in REPORTS:
                    say(f"  {report.name}")
                    timings.append(
                        _compare(report, core, admin, connection, options.repeats, options.timezone)
                    )
        finally:
            store.dispose()
        load_average = (started_load, os.getloadavg()[0])
        if options.keep or options.schema is not None:
            say(f"the schema {schema} is kept; drop it with DROP SCHEMA {schema} CASCADE")
    if not timings:
        raise BenchError("no report was measured")
    rows_out = [
        (
            t.name,
            str(t.groups),
            str(t.calls),
            _median_ms(t.library),
            _median_ms(t.baseline),
            f"{t.ratio:.2f}",
            "same" if t.agree else "DIFFER",
        )
        for t in timings
    ]
    worst = min(t.ratio for t in timings)
    text = report_text(
        [
            table(
                ("report", "groups", "calls/run", "library ms", "hand SQL ms", "ratio", "figures"),
                rows_out,
                left=1,
            ),
            "",
            f"loaded {loaded:,} bookings; load average {load_average[0]:.2f} at the start,"
            f" {load_average[1]:.2f} at the end ({os.cpu_count()} CPUs)",
            f"worst ratio {worst:.2f}"
            f" (target >= {TARGET}: {'met' if worst >= TARGET else 'missed'})",
        ]
    )
    figures: Mapping[str, Any] = {
        "ok": all(t.agree for t in timings),
        "rows": loaded,
        "worst_ratio": worst,
        "load_average": {"start": load_average[0], "end": load_average[1]},
        "target_met": worst >= TARGET,
        "reports": {
            t.name: {
                "groups": t.groups,
                "library_ms": statistics.median(t.library) * 1000,
                "baseline_ms": statistics.median(t.baseline) * 1000,
                "ratio": t.ratio,
                "calls_per_run": t.calls,
                "agree": t.agree,
            }
            for t in timings
        },
    }
    return text, dict(figures)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the bench and print the report; 0 when both sides agree on every figure."""
    options = parse_options(argv)
    database = options.url.render_as_string(hide_password=True)
    try:
        server = server_description(conninfo(options.url))
    except BenchError as exc:
        print(f"{database}: {exc}", file=sys.stderr)
        return 1
    return run_bench(
        f"bookingcore reports: {options.rows:,} bookings, {options.repeats} runs per side,"
        f" periods in {options.timezone}\n"
        f"{database}: {server}",
        lambda: measure(options),
        settings={
            "rows": options.rows,
            "repeats": options.repeats,
            "seed": SEED,
            "timezone": options.timezone,
        },
        json_path=options.json,
    )


if __name__ == "__main__":
    sys.exit(main())
