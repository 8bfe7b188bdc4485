"""The pydantic models of the analytics report routes (booking frequency, cohort retention,
conversion by source, status transitions, import performance, communication engagement);
each ``*Out`` built from what :class:`~bookingcore.services.ReportService` returns.

Durations are given in seconds as decimal strings to the microsecond (``"7200.000001"``),
``null`` when nothing was timed; rates are decimals with four places.
"""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

from pydantic import BaseModel, Field

from bookingcore.services import (
    CohortLine,
    DurationSummary,
    EngagementLine,
    FrequencyLine,
    ImportPerformance,
    SourceConversion,
    TransitionLine,
)

__all__ = [
    "CohortLineOut",
    "DurationOut",
    "EngagementLineOut",
    "FrequencyLineOut",
    "ImportPerformanceOut",
    "SourceConversionOut",
    "TransitionLineOut",
]

_MICRO = Decimal("0.000001")


def _seconds(span: timedelta | None) -> str | None:
    if span is None:
        return None
    whole = span // timedelta(microseconds=1)
    return str((Decimal(whole) / 1_000_000).quantize(_MICRO))


class DurationOut(BaseModel):
    """How long something took over the ``timed`` cases, in seconds (null: none timed)."""

    timed: int
    mean_seconds: str | None = Field(examples=["7200.000001"])
    median_seconds: str | None
    shortest_seconds: str | None
    longest_seconds: str | None

    @classmethod
    def of(cls, summary: DurationSummary) -> DurationOut:
        """The figures of ``summary``."""
        return cls(
            timed=summary.timed,
            mean_seconds=_seconds(summary.mean),
            median_seconds=_seconds(summary.median),
            shortest_seconds=_seconds(summary.shortest),
            longest_seconds=_seconds(summary.longest),
        )


class FrequencyLineOut(BaseModel):
    """Customers whose number of bookings is in ``least..most`` (``most`` null: or more)."""

    label: str = Field(examples=["3-5"])
    least: int
    most: int | None
    customers: int
    bookings: int

    @classmethod
    def of(cls, line: FrequencyLine) -> FrequencyLineOut:
        """The figures of ``line``."""
        return cls(
            label=line.label,
            least=line.least,
            most=line.most,
            customers=line.customers,
            bookings=line.bookings,
        )


class CohortLineOut(BaseModel):
    """A month's new customers and how many of them booked in each month after
    (``active[0]`` is ``customers``), with the same as fractions."""

    cohort: date
    customers: int
    active: list[int]
    retention: list[Decimal]

    @classmethod
    def of(cls, line: CohortLine) -> CohortLineOut:
        """The figures of ``line``."""
        return cls(
            cohort=line.cohort,
            customers=line.customers,
            active=list(line.active),
            retention=list(line.retention),
        )


class LeadSourceOut(BaseModel):
    """The leads of one source: converted (won), lost, open, and the conversion rate."""

    source: str
    leads: int
    converted: int
    lost: int
    open: int
    conversion_rate: Decimal


class BookingSourceOut(BaseModel):
    """The bookings made through one source, and how many were cancelled."""

    source: str
    bookings: int
    cancelled: int


class SourceOverlapOut(BaseModel):
    """Customers who booked through both ``sources``."""

    sources: list[str]
    customers: int


class SourceConversionOut(BaseModel):
    """Leads per lead source, bookings per booking source, and customers who booked
    through more than one source (in all, and per two sources)."""

    leads: list[LeadSourceOut]
    bookings: list[BookingSourceOut]
    overlap_customers: int
    overlaps: list[SourceOverlapOut]

    @classmethod
    def of(cls, report: SourceConversion) -> SourceConversionOut:
        """The figures of ``report``."""
        return cls(
            leads=[
                LeadSourceOut(
                    source=line.source,
                    leads=line.leads,
                    converted=line.converted,
                    lost=line.lost,
                    open=line.open,
                    conversion_rate=line.conversion_rate,
                )
                for line in report.leads
            ],
            bookings=[
                BookingSourceOut(
                    source=line.source, bookings=line.bookings, cancelled=line.cancelled
                )
                for line in report.bookings
            ],
            overlap_customers=report.overlap_customers,
            overlaps=[
                SourceOverlapOut(sources=list(line.sources), customers=line.customers)
                for line in report.overlaps
            ],
        )


class TransitionLineOut(BaseModel):
    """Moves of one lifecycle from one status to another, and the time spent before them."""

    lifecycle: str
    from_status: str
    to_status: str
    transitions: int
    time_before: DurationOut

    @classmethod
    def of(cls, line: TransitionLine) -> TransitionLineOut:
        """The figures of ``line``."""
        return cls(
            lifecycle=line.lifecycle,
            from_status=line.from_status,
            to_status=line.to_status,
            transitions=line.transitions,
            time_before=DurationOut.of(line.time_before),
        )


class ImportTimingOut(BaseModel):
    """The import jobs in one status and how long those that ran took."""

    status: str
    jobs: int
    processing: DurationOut


class ImportErrorOut(BaseModel):
    """Failed rows of one error type across jobs: rows, jobs, rows still unresolved."""

    error_type: str
    errors: int
    jobs: int
    unresolved: int


class ImportPerformanceOut(BaseModel):
    """Processing times of import jobs per status, and failed rows per error type."""

    timings: list[ImportTimingOut]
    errors: list[ImportErrorOut]

    @classmethod
    def of(cls, report: ImportPerformance) -> ImportPerformanceOut:
        """The figures of ``report``."""
        return cls(
            timings=[
                ImportTimingOut(
                    status=line.status, jobs=line.jobs, processing=DurationOut.of(line.processing)
                )
                for line in report.timings
            ],
            errors=[
                ImportErrorOut(
                    error_type=line.error_type,
                    errors=line.errors,
                    jobs=line.jobs,
                    unresolved=line.unresolved,
                )
                for line in report.errors
            ],
        )


class EngagementLineOut(BaseModel):
    """The messages of one type (or channel) that went out in the period, how far they
    got, and their open and click rates (of the delivered ones)."""

    key: str = Field(description="the message type, or the channel when grouped by channel")
    channel: str | None = Field(description="the channel when grouped by type_and_channel")
    sent: int
    delivered: int
    opened: int
    clicked: int
    failed: int
    open_rate: Decimal = Field(description="opened / delivered, four places")
    click_rate: Decimal = Field(description="clicked / delivered, four places")

    @classmethod
    def of(cls, line: EngagementLine) -> EngagementLineOut:
        """The figures of ``line``."""
        return cls(
            key=line.key,
            channel=line.channel,
            sent=line.sent,
            delivered=line.delivered,
            opened=line.opened,
            clicked=line.clicked,
            failed=line.failed,
            open_rate=line.open_rate,
            click_rate=line.click_rate,
        )
