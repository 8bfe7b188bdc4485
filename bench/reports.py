"""Every report on a million bookings: bookingcore's report calls against hand-written SQL.

The bench loads (not timed) ``--rows`` bookings (1 000 000) into a schema of its
own with the booking-queries bench's generator and its ``COPY`` loader, so both
benches read the same data; then, with the same loader, the analytics' other
inputs in proportion (each booking's status history, reminders and follow-ups,
leads, waiting-list entries, an import job per imported batch with its failed
rows, payments: :class:`OtherInputs`). For each report it times ``core.reports.<report>``
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
    .venv/bin/python bench/reports.py --schema bench_r_<hex> --only capacity  # some reports
    .venv/bin/python bench/reports.py --quick --timezone UTC  # periods in UTC
"""

from __future__ import annotations

import json
import os
import random
import re
import statistics
import sys
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any
from uuid import uuid4
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import psycopg
from sqlalchemy.engine import URL

from _common import (
    MIN_SAMPLE_SECONDS,
    BenchError,
    Database,
    bench_schema,
    calls_per_sample,
    conninfo,
    copy_into,
    copy_rows,
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
from booking_queries import (
    BOOKINGS_PER_CUSTOMER,
    DEFAULT_SLOTS,
    FIRST_DAY,
    LIFECYCLE,
    MICROS,
    NULL,
    TODAY,
    Dataset,
    Row,
    _micros,
    _stamp,
    _uid,
    _weighted,
    _without_foreign_key_checks,
    load,
)
from bookingcore import BookingCore, Money, Principal, Settings, StaffId, StaffRole
from bookingcore.domain import RESERVATION
from bookingcore.services import DurationSummary
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


# --------------------------------------------------------------------------- the analytics

#: The period the reports that take one are also timed over: a month of the data's year.
PERIOD_FROM = datetime(2025, 6, 1, tzinfo=UTC)
PERIOD_BEFORE = datetime(2025, 7, 1, tzinfo=UTC)
#: Months after a cohort's first that the retention report follows (its default).
COHORT_MONTHS = 12
#: Leads still being worked on: neither won nor lost.
OPEN_LEADS = ("new", "contacted", "qualified", "quoted")
#: A duration's figures: timed, mean, median, shortest, longest (microseconds).
_NO_DURATION = (0, None, None, None, None)


def _micros_of(span: timedelta | None) -> int | None:
    return None if span is None else span // timedelta(microseconds=1)


def _duration(summary: DurationSummary) -> tuple[Any, ...]:
    return (
        summary.timed,
        _micros_of(summary.mean),
        _micros_of(summary.median),
        _micros_of(summary.shortest),
        _micros_of(summary.longest),
    )


def _halves_up(value: Decimal) -> int:
    return int(value.quantize(Decimal(1), rounding=ROUND_HALF_UP))


def _duration_rows(timed: int, total: Any, least: Any, most: Any, middle: Any) -> tuple[Any, ...]:
    """The figures of a duration from ``count``, ``sum``, ``min``, ``max`` and
    ``percentile_cont(0.5)`` of its microseconds; mean and median to the microsecond,
    halves up, as the library's."""
    if not timed:
        return _NO_DURATION
    mean = _halves_up(Decimal(int(total)) / Decimal(timed))
    return (timed, mean, _halves_up(Decimal(middle)), int(least), int(most))


#: A duration's figures over the bigint microseconds ``d`` of the rows in a group.
_DURATION_SQL = "count(d), sum(d), min(d), max(d), percentile_cont(0.5) WITHIN GROUP (ORDER BY d)"


def _micros_sql(start: str, end: str) -> str:
    return f"((extract(epoch FROM {end}) - extract(epoch FROM {start})) * 1000000)::bigint"


def _frequency(core: BookingCore, admin: Principal) -> Figures:
    return {
        line.label: (line.least, line.most, line.customers, line.bookings)
        for line in core.reports.booking_frequency(principal=admin)
    }


#: The default buckets' lines: label, least and most bookings.
_BUCKETS = (("1", 1, 1), ("2", 2, 2), ("3-5", 3, 5), ("6+", 6, None))


def _frequency_rows(rows: Sequence[tuple[Any, ...]]) -> Figures:
    found = {least: (customers, int(booked)) for least, customers, booked in rows}
    return {label: (least, most, *found.get(least, (0, 0))) for label, least, most in _BUCKETS}


def _cohorts(core: BookingCore, admin: Principal) -> Figures:
    return {
        line.cohort: (line.customers, line.active, line.retention)
        for line in core.reports.cohort_retention(principal=admin, months=COHORT_MONTHS)
    }


def _cohort_rows(rows: Sequence[tuple[Any, ...]]) -> Figures:
    active: dict[date, list[int]] = {}
    for cohort, month, customers in rows:
        after = (month.year - cohort.year) * 12 + month.month - cohort.month
        if after <= COHORT_MONTHS:
            active.setdefault(cohort, [0] * (COHORT_MONTHS + 1))[after] += customers
    return {
        cohort: (counts[0], tuple(counts), tuple(_rate(n, counts[0]) for n in counts))
        for cohort, counts in active.items()
    }


def _conversion(core: BookingCore, admin: Principal) -> Figures:
    found = core.reports.source_conversion(principal=admin)
    figures: Figures = {
        ("lead", line.source): (
            line.leads,
            line.converted,
            line.lost,
            line.open,
            line.conversion_rate,
        )
        for line in found.leads
    }
    figures.update(
        (("booking", line.source), (line.bookings, line.cancelled)) for line in found.bookings
    )
    figures[("several",)] = (found.overlap_customers,)
    figures.update((("pair", *line.sources), (line.customers,)) for line in found.overlaps)
    return figures


def _conversion_rows(rows: Sequence[tuple[Any, ...]]) -> Figures:
    leads: dict[str, dict[str, int]] = {}
    figures: Figures = {}
    for kind, first, second, count, cancelled in rows:
        if kind == "lead":
            leads.setdefault(first, {})[second] = count
        elif kind == "booking":
            figures[("booking", first)] = (int(count), int(cancelled))
        elif kind == "several":
            figures[("several",)] = (count,)
        else:
            figures[("pair", *sorted((first, second)))] = (count,)
    for source, by_status in leads.items():
        total, won = sum(by_status.values()), by_status.get("won", 0)
        open_ = sum(by_status.get(status, 0) for status in OPEN_LEADS)
        figures[("lead", source)] = (total, won, by_status.get("lost", 0), open_, _rate(won, total))
    return figures


def _transitions(period: bool) -> Callable[[BookingCore, Principal], Figures]:
    bounds = {"occurred_from": PERIOD_FROM, "occurred_before": PERIOD_BEFORE} if period else {}

    def call(core: BookingCore, admin: Principal) -> Figures:
        return {
            (line.lifecycle, line.from_status, line.to_status): (
                line.transitions,
                *_duration(line.time_before),
            )
            for line in core.reports.status_transitions(principal=admin, **bounds)
        }

    return call


def _transition_rows(rows: Sequence[tuple[Any, ...]]) -> Figures:
    return {
        (lifecycle, before, after): (moves, *_duration_rows(*rest))
        for lifecycle, before, after, moves, *rest in rows
    }


def _transitions_sql(period: bool) -> str:
    """Each move with the time of its booking's previous event (``lag``); with a period,
    over the histories of the bookings that moved in it only."""
    moved, in_period = "", ""
    if period:
        in_period = " AND occurred_at >= %(start)s AND occurred_at < %(end)s"
        moved = (
            "  WHERE booking_id IN (SELECT booking_id FROM booking_lifecycle_events"
            f"   WHERE from_status IS NOT NULL{in_period})"
        )
    return (
        f"SELECT lifecycle, from_status, to_status, count(*), {_DURATION_SQL} FROM"
        " (SELECT lifecycle, from_status, to_status, occurred_at,"
        f"  {_micros_sql('lag(occurred_at) OVER w', 'occurred_at')} AS d"
        f"  FROM booking_lifecycle_events{moved}"
        "  WINDOW w AS (PARTITION BY booking_id ORDER BY booking_version)) AS moves"
        f" WHERE from_status IS NOT NULL{in_period} GROUP BY 1, 2, 3"
    )


def _import_performance(core: BookingCore, admin: Principal) -> Figures:
    found = core.reports.import_performance(principal=admin)
    figures: Figures = {
        ("timing", line.status): (line.jobs, *_duration(line.processing)) for line in found.timings
    }
    figures.update(
        (("error", line.error_type), (line.errors, line.jobs, line.unresolved))
        for line in found.errors
    )
    return figures


def _import_performance_rows(rows: Sequence[tuple[Any, ...]]) -> Figures:
    figures: Figures = {}
    for kind, key, count, *rest in rows:
        if kind == "timing":
            figures[("timing", key)] = (int(count), *_duration_rows(*rest))
        else:
            figures[("error", key)] = (int(count), int(rest[0]), int(rest[1]))
    return figures


_IMPORT_PERFORMANCE_SQL = (
    f"SELECT 'timing', status, count(*), {_DURATION_SQL} FROM"
    f" (SELECT status, {_micros_sql('started_at', 'completed_at')} AS d FROM booking_imports)"
    " AS jobs GROUP BY 2"
    " UNION ALL SELECT 'error', error_type, count(*), count(DISTINCT import_id),"
    " count(*) FILTER (WHERE resolved_at IS NULL), NULL, NULL, NULL"
    " FROM booking_import_errors GROUP BY 2"
)


def _engagement(by: str, period: bool) -> Callable[[BookingCore, Principal], Figures]:
    bounds = {"sent_from": PERIOD_FROM, "sent_before": PERIOD_BEFORE} if period else {}

    def call(core: BookingCore, admin: Principal) -> Figures:
        return {
            line.key: (
                line.sent,
                line.delivered,
                line.opened,
                line.clicked,
                line.failed,
                line.open_rate,
                line.click_rate,
            )
            for line in core.reports.communication_engagement(principal=admin, by=by, **bounds)
        }

    return call


def _engagement_rows(rows: Sequence[tuple[Any, ...]]) -> Figures:
    return {
        key: (
            sent,
            delivered,
            opened,
            clicked,
            failed,
            _rate(opened, delivered),
            _rate(clicked, delivered),
        )
        for key, sent, delivered, opened, clicked, failed in rows
    }


def _engagement_sql(key: str, period: bool) -> str:
    went_out = "sent_at IS NOT NULL OR failed_at IS NOT NULL"
    if period:
        went_out = (
            "sent_at >= %(start)s AND sent_at < %(end)s"
            " OR sent_at IS NULL AND failed_at >= %(start)s AND failed_at < %(end)s"
        )
    return (
        f"SELECT {key}, count(sent_at),"
        " count(*) FILTER (WHERE delivered_at IS NOT NULL OR opened_at IS NOT NULL"
        "  OR clicked_at IS NOT NULL),"
        " count(opened_at), count(clicked_at), count(*) FILTER (WHERE status = 'failed')"
        f" FROM booking_communications WHERE {went_out} GROUP BY 1"
    )


def _waitlist(core: BookingCore, admin: Principal) -> Figures:
    found = core.reports.waitlist_conversion(principal=admin)
    return {
        None: (
            found.joined,
            found.seats,
            found.waiting,
            found.offered,
            found.booked,
            found.expired,
            found.cancelled,
            found.conversion_rate,
            found.acceptance_rate,
        )
    }


def _waitlist_rows(rows: Sequence[tuple[Any, ...]]) -> Figures:
    joined, seats, waiting, offered, booked, expired, cancelled = rows[0]
    return {
        None: (
            joined,
            int(seats or 0),
            waiting,
            offered,
            booked,
            expired,
            cancelled,
            _rate(booked, joined),
            _rate(booked, offered),
        )
    }


def _import_statistics(core: BookingCore, admin: Principal) -> Figures:
    return {
        row.status: (row.jobs, row.rows, row.created, row.updated, row.skipped, row.failed)
        for row in core.reports.import_statistics(principal=admin)
    }


def _import_statistics_rows(rows: Sequence[tuple[Any, ...]]) -> Figures:
    return {row[0]: (row[1], *(int(n) for n in row[2:])) for row in rows}


#: The reconciliation's period: a week of bookings (a line each) and their payments,
#: some 1 600 bookings at 100 000 and 19 000 at a million (see bench/README.md).
RECONCILED_FROM = datetime(2025, 6, 2, tzinfo=UTC)
RECONCILED_BEFORE = datetime(2025, 6, 9, tzinfo=UTC)


def _reconciliation(core: BookingCore, admin: Principal) -> Figures:
    found = core.reports.reconciliation(RECONCILED_FROM, RECONCILED_BEFORE, principal=admin)
    figures: Figures = {
        ("line", line.booking_id): (
            line.reference,
            line.status,
            line.total.currency,
            line.total.amount,
            line.captured.amount,
            line.refunded.amount,
            line.net_paid.amount,
            line.state.value,
            frozenset(line.payment_ids),
        )
        for line in found.bookings
    }
    figures.update(
        (
            ("stray", stray.payment_id),
            (
                stray.booking_id,
                stray.provider,
                stray.provider_reference,
                stray.captured.currency,
                stray.captured.amount,
                stray.refunded.amount,
                stray.net_paid.amount,
                stray.reason.value,
            ),
        )
        for stray in found.stray_payments
    )
    figures.update(
        (
            ("totals", t.currency),
            (t.total.amount, t.captured.amount, t.refunded.amount, t.net_paid.amount,
             t.stray_net_paid.amount),
        )
        for t in found.totals
    )  # fmt: skip
    return figures


def _reconciled_state(total: Decimal, captured: Decimal, net: Decimal) -> str:
    if not captured:
        return "paid" if not total else "unpaid"
    if not net:
        return "refunded"
    return "part_paid" if net < total else "over_paid" if net > total else "paid"


def _reconciliation_rows(rows: Sequence[tuple[Any, ...]]) -> Figures:
    figures: Figures = {}
    totals: dict[str, list[Decimal]] = {}
    for kind, ident, reference, status, currency, total, captured, refunded, paid, *rest in rows:
        net = captured - refunded
        sums = totals.setdefault(currency, [Decimal(0)] * 5)
        if kind == "line":
            state = _reconciled_state(total, captured, net)
            figures[("line", ident)] = (
                reference, status, currency, total, captured, refunded, net, state, frozenset(paid)
            )  # fmt: skip
            for index, amount in enumerate((total, captured, refunded, net)):
                sums[index] += amount
        else:
            booking, provider, provider_reference = rest
            figures[("stray", ident)] = (
                booking, provider, provider_reference, currency, captured, refunded, net, status
            )  # fmt: skip
            sums[4] += net
    figures.update((("totals", currency), tuple(sums)) for currency, sums in totals.items())
    return figures


#: The period's bookings with what their payments in their currency took and gave
#: back; then the payments holding money that no active booking of it accounts for:
#: those of its cancelled bookings, those in another currency than their booking's,
#: and those taken in it by its customers for bookings made outside it.
_RECONCILIATION_SQL = """
WITH period AS (
  SELECT id, reference, status, customer_id, total_amount, currency FROM bookings
  WHERE created_at >= %(reconciled_from)s AND created_at < %(reconciled_before)s)
SELECT 'line', b.id, b.reference, b.status, b.currency, b.total_amount,
  coalesce(sum(p.captured_amount) FILTER (WHERE p.currency = b.currency), 0),
  coalesce(sum(p.refunded_amount) FILTER (WHERE p.currency = b.currency), 0),
  coalesce(array_agg(p.id) FILTER (WHERE p.currency = b.currency), '{}'),
  NULL::uuid, NULL, NULL
FROM period AS b LEFT JOIN payments AS p ON p.booking_id = b.id
WHERE b.status <> 'cancelled' GROUP BY 2, 3, 4, 5, 6
UNION ALL
SELECT 'stray', p.id, NULL,
  CASE WHEN b.status = 'cancelled' THEN 'paid_for_cancelled' ELSE 'no_booking_in_period' END,
  p.currency, NULL, p.captured_amount, p.refunded_amount, NULL, p.booking_id, p.provider,
  p.provider_reference
FROM period AS b JOIN payments AS p ON p.booking_id = b.id
WHERE p.captured_amount <> 0 AND (b.status = 'cancelled' OR p.currency <> b.currency)
UNION ALL
SELECT 'stray', p.id, NULL, 'no_booking_in_period', p.currency, NULL, p.captured_amount,
  p.refunded_amount, NULL, p.booking_id, p.provider, p.provider_reference
FROM payments AS p
WHERE p.customer_id IN (SELECT customer_id FROM period)
  AND p.booking_id NOT IN (SELECT id FROM period)
  AND p.created_at >= %(reconciled_from)s AND p.created_at < %(reconciled_before)s
  AND p.captured_amount <> 0
"""


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
    Report(
        "waitlist conversion",
        _waitlist,
        "SELECT count(*), sum(seats), count(*) FILTER (WHERE status = 'waiting'),"
        " count(offered_at), count(*) FILTER (WHERE status = 'booked'),"
        " count(*) FILTER (WHERE status = 'expired'),"
        " count(*) FILTER (WHERE status = 'cancelled') FROM waiting_lists",
        _waitlist_rows,
    ),
    Report(
        "import statistics",
        _import_statistics,
        "SELECT status, count(*), sum(total_rows), sum(created_rows), sum(updated_rows),"
        " sum(skipped_rows), sum(failed_rows) FROM booking_imports GROUP BY 1",
        _import_statistics_rows,
    ),
    Report(
        "booking frequency",
        _frequency,
        "SELECT CASE WHEN n >= 6 THEN 6 WHEN n >= 3 THEN 3 ELSE n END, count(*), sum(n) FROM"
        " (SELECT count(*) AS n FROM bookings WHERE status = ANY(%(holding)s)"
        "  GROUP BY customer_id) AS per_customer GROUP BY 1",
        _frequency_rows,
    ),
    Report(
        "cohort retention",
        _cohorts,
        "WITH months AS (SELECT customer_id,"
        "  date_trunc('month', timezone(%(zone)s, created_at))::date AS month FROM bookings"
        "  WHERE status = ANY(%(holding)s) GROUP BY 1, 2)"
        " SELECT f.cohort, m.month, count(*) FROM months AS m JOIN"
        " (SELECT customer_id, min(month) AS cohort FROM months GROUP BY 1) AS f"
        " USING (customer_id) GROUP BY 1, 2",
        _cohort_rows,
    ),
    Report(
        "source conversion",
        _conversion,
        "WITH per_customer AS (SELECT customer_id, source, count(*) AS n,"
        "  count(*) FILTER (WHERE status = 'cancelled') AS cancelled FROM bookings GROUP BY 1, 2)"
        " SELECT 'lead', source, status, count(*), 0 FROM leads GROUP BY 2, 3"
        " UNION ALL SELECT 'booking', source, NULL, sum(n), sum(cancelled) FROM per_customer"
        "  GROUP BY 2"
        " UNION ALL SELECT 'several', NULL, NULL, count(*), 0 FROM"
        "  (SELECT customer_id FROM per_customer GROUP BY 1 HAVING count(*) > 1) AS several"
        " UNION ALL SELECT 'pair', one.source, other.source, count(*), 0 FROM per_customer AS one"
        "  JOIN per_customer AS other ON other.customer_id = one.customer_id"
        "  AND one.source < other.source GROUP BY 2, 3",
        _conversion_rows,
    ),
    *(
        Report(
            f"status transitions{' in a month' if period else ''}",
            _transitions(period),
            _transitions_sql(period),
            _transition_rows,
        )
        for period in (False, True)
    ),
    Report(
        "import performance",
        _import_performance,
        _IMPORT_PERFORMANCE_SQL,
        _import_performance_rows,
    ),
    *(
        Report(
            f"communication engagement by {by}{' in a month' if period else ''}",
            _engagement(by, period),
            _engagement_sql(by, period),
            _engagement_rows,
        )
        for by, period in (("type", False), ("channel", False), ("type", True))
    ),
    Report(
        "reconciliation of a week",
        _reconciliation,
        _RECONCILIATION_SQL,
        _reconciliation_rows,
    ),
)


# --------------------------------------------------------------------------- the other inputs

#: The tables written as the bookings are read back: table -> what its rows are.
PER_BOOKING = {
    "booking_lifecycle_events": "history events",
    "booking_communications": "messages",
    "payments": "payments",
}
#: Per booking, how often each of the analytics' other inputs is made (scale follows --rows).
LEADS_PER_BOOKING = 0.1
WAITLIST_PER_BOOKING = 0.02
REMINDER_SHARE = 0.35
FOLLOW_UP_SHARE = 0.3
#: Failed rows per imported row, and how many of them were fixed by a retry.
IMPORT_ERROR_SHARE = 0.04
RESOLVED_SHARE = 0.3
#: Import files of which no row could be booked, at the least.
EMPTY_JOBS = 5
LEAD_SOURCES = (
    ("web_form", 30), ("phone", 20), ("partner", 15), ("email", 10), ("walk_in", 10),
    ("referral", 10), ("other", 5),
)  # fmt: skip
LEAD_STATUSES = (
    ("new", 15), ("contacted", 15), ("qualified", 10), ("quoted", 10), ("won", 30), ("lost", 20)
)  # fmt: skip
WAITLIST_STATUSES = (
    ("waiting", 30), ("offered", 10), ("booked", 25), ("expired", 20), ("cancelled", 15)
)  # fmt: skip
JOB_STATUSES = (
    ("COMPLETED", 85), ("FAILED", 4), ("CANCELLED", 4), ("PROCESSING", 4), ("PENDING", 3)
)  # fmt: skip
ERROR_TYPES = (
    ("invalid_phone", 35), ("unknown_dealer", 20), ("invalid_date", 15), ("invalid_email", 12),
    ("duplicate_external_id", 10), ("invalid_status", 8),
)  # fmt: skip
MINUTE = 60 * MICROS
HOUR = 60 * MINUTE
DAY = 24 * HOUR


@dataclass
class Booked:
    """What the other inputs need of a loaded booking (read back, oldest first)."""

    id: str
    customer_id: str
    status: str
    source: str
    created: int  # microseconds since the epoch, as the other times
    cancelled: int | None
    starts: int
    phone: str
    email: str | None
    total: Decimal
    currency: str


def _read_bookings(connection: psycopg.Connection[Any]) -> Iterator[Booked]:
    """The loaded bookings with their customers' contacts, oldest first, streamed."""
    with connection.cursor(name="bookings") as cursor:
        cursor.itersize = 20_000
        cursor.execute(
            "SELECT b.id::text, b.customer_id::text, b.status, b.source, b.created_at,"
            " b.cancelled_at, b.starts_at, c.phone, c.email, b.total_amount, b.currency"
            " FROM bookings AS b JOIN customers AS c ON c.id = b.customer_id"
            " ORDER BY b.created_at, b.id"
        )
        for row in cursor:
            yield Booked(
                row[0].replace("-", ""),
                row[1].replace("-", ""),
                row[2],
                row[3],
                _micros(row[4]),
                None if row[5] is None else _micros(row[5]),
                _micros(row[6]),
                row[7],
                row[8],
                row[9],
                row[10],
            )


class OtherInputs:
    """The rows the analytics reports read besides the bookings, made from the loaded
    bookings (read back) deterministically from ``seed``, as ``COPY`` text: each
    booking's status history, reminders and follow-ups with their outcomes, payments,
    leads, waiting-list entries, and an import job (with its failed rows) per
    imported batch."""

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        self.customers: list[str] = []
        self._seen: set[str] = set()
        #: imported batches: created (microseconds) -> bookings
        self.batches: dict[int, int] = {}
        self.bookings = 0
        self._messages = 0
        self._paid = 0

    def rows_of_bookings(
        self, bookings: Iterator[Booked], batch_rows: int = 5_000
    ) -> Iterator[dict[str, list[Row]]]:
        """Each booking's history events, messages and payments, in batches: table -> rows."""
        today = _micros(TODAY)
        batch: dict[str, list[Row]] = {name: [] for name in PER_BOOKING}
        for booked in bookings:
            self.bookings += 1
            if booked.customer_id not in self._seen:
                self._seen.add(booked.customer_id)
                self.customers.append(booked.customer_id)
            if booked.source == "import":
                self.batches[booked.created] = self.batches.get(booked.created, 0) + 1
            batch["booking_lifecycle_events"].extend(self._history(booked, today))
            batch["booking_communications"].extend(self._messages_of(booked, today))
            batch["payments"].extend(self._payments(booked))
            if len(batch["booking_lifecycle_events"]) >= batch_rows:
                yield batch
                batch = {name: [] for name in PER_BOOKING}
        yield batch

    def _payments(self, booked: Booked) -> list[Row]:
        """What the customer paid: most bookings that hold seats in full, some in part,
        over, refunded or failed; some cancelled ones refunded or kept; a few paid
        again in another currency. Payments come up to three days after the booking."""
        rng = self.rng
        total = booked.total
        fate = rng.random()
        made: list[tuple[str, Decimal, Decimal, Decimal, str]] = []  # status, amounts, currency
        if booked.status == "cancelled":
            if fate < 0.3:
                made.append(("refunded", total, total, total, booked.currency))
            elif fate < 0.35:
                made.append(("captured", total, total, Decimal(0), booked.currency))
        elif fate < 0.75:
            kind = rng.random()
            if kind < 0.8:
                made.append(("captured", total, total, Decimal(0), booked.currency))
            elif kind < 0.9:
                part = (total * rng.randint(30, 70) / 100).quantize(Decimal("0.01"))
                made.append(("captured", part, part, Decimal(0), booked.currency))
            elif kind < 0.93:
                part = (total * rng.randint(10, 50) / 100).quantize(Decimal("0.01"))
                made.append(("partially_refunded", total, total, part, booked.currency))
            elif kind < 0.95:
                made.append(("refunded", total, total, total, booked.currency))
            elif kind < 0.96:
                over = (total * Decimal("1.1")).quantize(Decimal("0.01"))
                made.append(("captured", over, over, Decimal(0), booked.currency))
            else:
                made.append(("failed", total, Decimal(0), Decimal(0), booked.currency))
            if rng.random() < 0.01:
                made.append(("captured", Decimal(40), Decimal(40), Decimal(0), "USD"))
        rows = []
        for status, amount, captured, refunded, currency in made:
            self._paid += 1
            created = booked.created + rng.randrange(3 * DAY)
            rows.append(
                {
                    "id": _uid(rng),
                    "booking_id": booked.id,
                    "customer_id": booked.customer_id,
                    "provider": "razorpay",
                    "provider_reference": f"pay_{self._paid:010d}",
                    "status": status,
                    "amount": f"{amount:.4f}",
                    "captured_amount": f"{captured:.4f}",
                    "refunded_amount": f"{refunded:.4f}",
                    "pending_refund_amount": "0.0000",
                    "currency": currency,
                    "processed_event_ids": "[]",
                    "captured_at": _stamp(created + MINUTE) if captured else NULL,
                    "metadata": "{}",
                    "attention": "[]",
                    "created_at": _stamp(created),
                    "updated_at": _stamp(created + MINUTE),
                    "version": "1",
                }
            )
        return rows

    def _history(self, booked: Booked, today: int) -> list[Row]:
        """Creation, then the moves of the reservation lifecycle to the booking's status."""
        rng = self.rng
        moves: list[tuple[str | None, str, int]] = [(None, "pending", booked.created)]
        end = booked.starts + 8 * HOUR
        if booked.status == "cancelled":
            cancelled = booked.cancelled or booked.created + HOUR
            if rng.random() < 0.4 and cancelled - booked.created > 2 * MINUTE:
                confirmed = booked.created + rng.randrange(MINUTE, cancelled - booked.created)
                moves.append(("pending", "confirmed", confirmed))
                moves.append(("confirmed", "cancelled", cancelled))
            else:
                moves.append(("pending", "cancelled", cancelled))
        elif booked.status != "pending":
            latest = min(booked.starts - HOUR, today)
            confirmed = booked.created + rng.randrange(MINUTE, 3 * DAY)
            confirmed = max(booked.created + MINUTE, min(confirmed, latest))
            moves.append(("pending", "confirmed", confirmed))
            if booked.status in ("completed", "no_show"):
                moves.append(("confirmed", booked.status, max(end, confirmed + MINUTE)))
        return [
            {
                "id": _uid(rng),
                "booking_id": booked.id,
                "booking_version": str(version),
                "lifecycle": LIFECYCLE,
                "from_status": NULL if before is None else before,
                "to_status": after,
                "actor_type": "system",
                "actor_id": "bench",
                "metadata": "{}",
                "occurred_at": _stamp(at),
            }
            for version, (before, after, at) in enumerate(moves, start=1)
        ]

    def _messages_of(self, booked: Booked, today: int) -> list[Row]:
        rng = self.rng
        found: list[Row] = []
        if booked.status != "cancelled" and rng.random() < REMINDER_SHARE:
            found.append(self._message(booked, "reminder", booked.starts - DAY, today))
        if booked.status == "completed" and rng.random() < FOLLOW_UP_SHARE:
            found.append(self._message(booked, "follow_up", booked.starts + 2 * DAY, today))
        return found

    def _message(self, booked: Booked, kind: str, at: int, today: int) -> Row:
        """A message made at ``at``: unsent if that is after today, else sent, refused,
        failed after sending, or delivered (emails opened and clicked, texts clicked)."""
        rng = self.rng
        self._messages += 1
        email = booked.email if rng.random() < 0.7 else None
        channel = "email" if email else "sms"
        at = max(at, booked.created + MINUTE)
        times = {"sent_at": NULL, "delivered_at": NULL, "opened_at": NULL, "clicked_at": NULL}
        failed_at = reason = NULL
        if at > today:
            status = "pending"
        else:
            fate = rng.random()
            if fate < 0.04:  # refused outright by the channel: never sent
                status, failed_at, reason = "failed", _stamp(at + MICROS), "rejected"
            elif fate < 0.06:
                status, failed_at, reason = "failed", _stamp(at + MINUTE), "bounced"
                times["sent_at"] = _stamp(at + MICROS)
            else:
                status = "delivered"
                times["sent_at"] = _stamp(at + MICROS)
                times["delivered_at"] = _stamp(at + 10 * MICROS)
                opens = channel == "email" and rng.random() < 0.45
                if opens:
                    status, times["opened_at"] = "opened", _stamp(at + rng.randrange(DAY))
                if rng.random() < (0.25 if opens else 0.03):  # a click without an open too
                    status, times["clicked_at"] = "clicked", _stamp(at + DAY + rng.randrange(DAY))
        return {
            "id": _uid(rng),
            "booking_id": booked.id,
            "customer_id": booked.customer_id,
            "type": kind,
            "channel": channel,
            "status": status,
            "recipient": email or booked.phone,
            "subject": f"Your trip: {kind.replace('_', ' ')}" if email else NULL,
            "content": f"About your booking ({kind}).",
            "template_used": kind,
            "provider_message_id": f"bench-{self._messages:09d}",
            **times,
            "failed_at": failed_at,
            "failed_reason": reason,
            "created_by_kind": "system",
            "created_by_id": "notifications",
            "created_at": _stamp(at),
        }

    def lead_lines(self) -> Iterator[Row]:
        rng = self.rng
        source, status = _weighted(rng, LEAD_SOURCES), _weighted(rng, LEAD_STATUSES)
        start, span = _micros(FIRST_DAY), _micros(TODAY) - _micros(FIRST_DAY)
        for _ in range(max(1, int(self.bookings * LEADS_PER_BOOKING))):
            created = _stamp(start + rng.randrange(span))
            yield {
                "id": _uid(rng),
                "customer_id": self.customers[rng.randrange(len(self.customers))],
                "source": source(),
                "status": status(),
                "travelers": str(rng.randint(1, 4)),
                "created_at": created,
                "updated_at": created,
                "version": "1",
            }

    def waitlist_lines(self, slots: Sequence[tuple[str, int]]) -> Iterator[Row]:
        """Entries on ``slots`` (id, start): one per customer and slot."""
        rng = self.rng
        status = _weighted(rng, WAITLIST_STATUSES)
        taken: set[tuple[int, int]] = set()
        positions: dict[int, int] = {}
        for _ in range(max(1, int(self.bookings * WAITLIST_PER_BOOKING))):
            slot, customer = rng.randrange(len(slots)), rng.randrange(len(self.customers))
            if (slot, customer) in taken:
                continue
            taken.add((slot, customer))
            positions[slot] = position = positions.get(slot, 0) + 1
            slot_id, starts = slots[slot]
            created = starts - rng.randrange(2 * DAY, 60 * DAY)
            now = status()
            offered = now in ("offered", "booked", "expired")
            offered_at = created + rng.randrange(HOUR, DAY)
            yield {
                "id": _uid(rng),
                "slot_id": slot_id,
                "customer_id": self.customers[customer],
                "seats": str(rng.randint(1, 3)),
                "position": str(position),
                "priority": "normal",
                "alternative_dates": "[]",
                "status": now,
                "offered_at": _stamp(offered_at) if offered else NULL,
                "offer_expires_at": _stamp(offered_at + DAY) if offered else NULL,
                "created_at": _stamp(created),
                "updated_at": _stamp(offered_at if offered else created),
                "version": "1",
            }

    def import_lines(self) -> tuple[list[Row], list[Row]]:
        """A job per imported batch of bookings, and the rows each could not take; and
        files that booked nothing (every row failed), one for ten batches, at least
        :data:`EMPTY_JOBS`."""
        rng = self.rng
        status, error_type = _weighted(rng, JOB_STATUSES), _weighted(rng, ERROR_TYPES)
        start, span = _micros(FIRST_DAY), _micros(TODAY) - _micros(FIRST_DAY)
        empty = max(EMPTY_JOBS, len(self.batches) // 10)
        files = [*self.batches.items(), *((start + rng.randrange(span), 0) for _ in range(empty))]
        jobs: list[Row] = []
        errors: list[Row] = []
        for n, (created, booked) in enumerate(sorted(files)):
            ident = _uid(rng)
            most = int(booked * IMPORT_ERROR_SHARE * 2) if booked else 40
            failed = rng.randrange(most + 1) if booked else rng.randint(1, most)
            now = status()
            started = None if now == "PENDING" else created + rng.randrange(MICROS, 30 * MICROS)
            completed = None
            if started is not None and now not in ("PROCESSING",):
                completed = started + (booked + failed) * rng.randrange(5_000, 40_000)
            kinds: dict[str, int] = {}
            for row in range(failed):
                kind = error_type()
                kinds[kind] = kinds.get(kind, 0) + 1
                resolved = completed is not None and rng.random() < RESOLVED_SHARE
                errors.append(
                    {
                        "id": _uid(rng),
                        "import_id": ident,
                        "row_number": str(2 + row * 7),
                        "raw_row": '{"customer_phone": "12345"}',
                        "error_message": f"bench: {kind}",
                        "error_type": kind,
                        "field_errors": "[]",
                        "created_at": _stamp(started or created),
                        "resolved_at": _stamp((completed or created) + DAY) if resolved else NULL,
                    }
                )
            jobs.append(
                {
                    "id": ident,
                    "filename": f"bookings-{n + 1:05d}.csv",
                    "file_format": "csv",
                    "file_size": str((booked + failed) * 120),
                    "file_digest": f"{n + 1:064x}",
                    "created_by_kind": "staff",
                    "created_by_id": "bench",
                    "status": now,
                    "import_settings": "{}",
                    "total_rows": str(booked + failed),
                    "processed_rows": str(0 if started is None else booked + failed),
                    "created_rows": str(booked),
                    "updated_rows": "0",
                    "skipped_rows": "0",
                    "failed_rows": str(failed),
                    "error_summary": json.dumps(kinds, sort_keys=True),
                    "cancel_requested": "t" if now == "CANCELLED" else "f",
                    "started_at": NULL if started is None else _stamp(started),
                    "completed_at": NULL if completed is None else _stamp(completed),
                    "created_at": _stamp(created),
                    "updated_at": _stamp(completed or started or created),
                    "version": "1",
                }
            )
        return jobs, errors


def load_other_inputs(target: Database, seed: int) -> dict[str, int]:
    """Load :class:`OtherInputs` after the bookings (``COPY``, foreign keys unchecked for
    a superuser, as the bookings' load), then ``VACUUM (ANALYZE)``; rows per table."""
    inputs = OtherInputs(seed)
    counts: dict[str, int] = {}
    with ExitStack() as connections:
        reader, main = (connections.enter_context(target.connect()) for _ in range(2))
        writers = {name: connections.enter_context(target.connect()) for name in PER_BOOKING}
        for connection in (main, *writers.values()):
            _without_foreign_key_checks(connection)
        with ExitStack() as copies:
            write = {
                name: copies.enter_context(copy_into(connection, name))
                for name, connection in writers.items()
            }
            for batch in inputs.rows_of_bookings(_read_bookings(reader)):
                for name, lines in batch.items():
                    write[name](lines)
                    counts[PER_BOOKING[name]] = counts.get(PER_BOOKING[name], 0) + len(lines)
        slots = [
            (ident.replace("-", ""), _micros(starts))
            for ident, starts in reader.execute("SELECT id::text, starts_at FROM slots ORDER BY 1")
        ]
        counts["leads"] = copy_rows(main, "leads", inputs.lead_lines())
        counts["waiting-list entries"] = copy_rows(
            main, "waiting_lists", inputs.waitlist_lines(slots)
        )
        jobs, errors = inputs.import_lines()
        counts["import jobs"] = copy_rows(main, "booking_imports", jobs)
        counts["failed import rows"] = copy_rows(main, "booking_import_errors", errors)
        for connection in (main, *writers.values()):
            connection.commit()
    with target.connect(autocommit=True) as connection:
        connection.execute("VACUUM (ANALYZE)")
    return counts


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
    #: Only the reports whose names contain one of these (all when empty).
    only: tuple[str, ...] = ()


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
    created.add_argument(
        "--only",
        action="append",
        default=[],
        metavar="TEXT",
        help="only the reports whose names contain TEXT (repeatable; e.g. --only capacity)",
    )
    args = created.parse_args(argv)
    if not any(_chosen(report.name, args.only) for report in REPORTS):
        created.error(f"--only {' '.join(args.only)!r} names no report")
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
        only=tuple(args.only),
    )


def _chosen(name: str, only: Sequence[str]) -> bool:
    """Whether the report ``name`` is measured: every one without ``--only``."""
    return not only or any(text in name for text in only)


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
        found = connection.execute(
            report.sql,
            {
                "holding": HOLDING,
                "zone": zone,
                "start": PERIOD_FROM,
                "end": PERIOD_BEFORE,
                "reconciled_from": RECONCILED_FROM,
                "reconciled_before": RECONCILED_BEFORE,
            },
        )
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
            say("  the analytics' other inputs ...")
            for what, count in load_other_inputs(target, SEED + 1).items():
                say(f"  {count:,} {what}")
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
                    if not _chosen(report.name, options.only):
                        continue
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
            "only": list(options.only),
        },
        json_path=options.json,
    )


if __name__ == "__main__":
    sys.exit(main())
