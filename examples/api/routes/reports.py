"""Reports: reconciliation, revenue, cancellations, workload, customer value, capacity,
waiting-list conversion and import statistics; booking frequency and cohort retention,
conversion by source, status transitions and import performance, communication
engagement (open and click rates): each
what the library's report service computes.

Staff tokens; the library decides what each role may read (an advisor's
booking reports cover the bookings assigned to them, capacity needs ``view_all``).
Booking reports take a period of creation (``created_from``/``created_before``)
and a grouping ``by`` (``source``, ``partner``, ``location``, ``product``,
``assignee``, ``created_day``, ``created_month``, ``starts_month`` or ``none``);
periods are the business's calendar days and months (``Settings.timezone``).
"""

from __future__ import annotations

from typing import Annotated, Literal
from uuid import UUID

from fastapi import APIRouter, Query
from pydantic import AwareDatetime

from bookingcore import (
    AuthenticationError,
    BookingFilter,
    LocationId,
    PermissionDeniedError,
    SlotFilter,
)
from bookingcore.services import DEFAULT_FREQUENCY_BUCKETS
from examples.api.deps import Core, StaffPrincipal
from examples.api.errors import problem_responses
from examples.api.schemas import ReconciliationOut
from examples.api.schemas_admin import WaitlistConversionOut
from examples.api.schemas_ops import (
    AdvisorWorkloadOut,
    CancellationLineOut,
    CustomerValueOut,
    ImportTallyOut,
    RevenueLineOut,
    UtilisationLineOut,
)
from examples.api.schemas_reports import (
    CohortLineOut,
    EngagementLineOut,
    FrequencyLineOut,
    ImportPerformanceOut,
    SourceConversionOut,
    TransitionLineOut,
)

__all__ = ["router"]

router = APIRouter(prefix="/api/admin/reports", tags=["reports"])

_RESPONSES = problem_responses(AuthenticationError, PermissionDeniedError)

By = Annotated[
    str,
    Query(max_length=32, description="How lines are grouped (source, partner, location, ...)"),
]


def _period(start: AwareDatetime | None, end: AwareDatetime | None) -> BookingFilter:
    return BookingFilter(created_from=start, created_before=end)


@router.get("/reconciliation", operation_id="report_reconciliation", responses=_RESPONSES)
def reconciliation(
    start: AwareDatetime, end: AwareDatetime, core: Core, staff: StaffPrincipal
) -> ReconciliationOut:
    """Bookings created in ``[start, end)`` against what was captured and refunded for them."""
    return ReconciliationOut.of(core.reports.reconciliation(start, end, principal=staff))


@router.get("/revenue", operation_id="report_revenue", responses=_RESPONSES)
def revenue(
    core: Core,
    staff: StaffPrincipal,
    by: By = "none",
    created_from: AwareDatetime | None = None,
    created_before: AwareDatetime | None = None,
) -> list[RevenueLineOut]:
    """Bookings that hold seats and their totals, per group and currency."""
    lines = core.reports.revenue(
        principal=staff, by=by, where=_period(created_from, created_before)
    )
    return [RevenueLineOut.of(line) for line in lines]


@router.get("/cancellations", operation_id="report_cancellations", responses=_RESPONSES)
def cancellations(
    core: Core,
    staff: StaffPrincipal,
    by: By = "none",
    created_from: AwareDatetime | None = None,
    created_before: AwareDatetime | None = None,
) -> list[CancellationLineOut]:
    """Cancelled bookings and no-shows against all bookings, per group, with their rates."""
    lines = core.reports.cancellations(
        principal=staff, by=by, where=_period(created_from, created_before)
    )
    return [CancellationLineOut.of(line) for line in lines]


@router.get("/advisor-workload", operation_id="report_advisor_workload", responses=_RESPONSES)
def advisor_workload(
    core: Core,
    staff: StaffPrincipal,
    created_from: AwareDatetime | None = None,
    created_before: AwareDatetime | None = None,
) -> list[AdvisorWorkloadOut]:
    """Each assignee's open, completed, cancelled and no-show bookings (an advisor: their own)."""
    lines = core.reports.advisor_workload(
        principal=staff, where=_period(created_from, created_before)
    )
    return [AdvisorWorkloadOut.of(line) for line in lines]


@router.get("/customer-value", operation_id="report_customer_value", responses=_RESPONSES)
def customer_value(
    core: Core,
    staff: StaffPrincipal,
    created_from: AwareDatetime | None = None,
    created_before: AwareDatetime | None = None,
) -> list[CustomerValueOut]:
    """Repeat-customer rate and lifetime value per currency."""
    lines = core.reports.customer_value(
        principal=staff, where=_period(created_from, created_before)
    )
    return [CustomerValueOut.of(line) for line in lines]


@router.get(
    "/capacity-utilisation", operation_id="report_capacity_utilisation", responses=_RESPONSES
)
def capacity_utilisation(
    core: Core,
    staff: StaffPrincipal,
    by: By = "none",
    starts_from: AwareDatetime | None = None,
    starts_before: AwareDatetime | None = None,
) -> list[UtilisationLineOut]:
    """Seats held against capacity of the slots starting in the period, per group."""
    where = SlotFilter(starts_from=starts_from, starts_before=starts_before, only_active=False)
    lines = core.reports.capacity_utilisation(principal=staff, by=by, where=where)
    return [UtilisationLineOut.of(line) for line in lines]


@router.get("/waitlist-conversion", operation_id="report_waitlist_conversion", responses=_RESPONSES)
def waitlist_conversion(
    core: Core,
    staff: StaffPrincipal,
    created_from: AwareDatetime | None = None,
    created_before: AwareDatetime | None = None,
    location_id: UUID | None = None,
) -> WaitlistConversionOut:
    """Waiting-list entries that joined in the period (at one location, if given), by
    outcome, with the share booked of those who joined and of those offered seats."""
    found = core.reports.waitlist_conversion(
        principal=staff,
        created_from=created_from,
        created_before=created_before,
        location_id=None if location_id is None else LocationId(location_id),
    )
    return WaitlistConversionOut.of(found)


@router.get("/imports", operation_id="report_import_statistics", responses=_RESPONSES)
def import_statistics(
    core: Core,
    staff: StaffPrincipal,
    created_from: AwareDatetime | None = None,
    created_before: AwareDatetime | None = None,
) -> list[ImportTallyOut]:
    """Import jobs per status and the rows they created, updated, skipped and failed."""
    tallies = core.reports.import_statistics(
        principal=staff, created_from=created_from, created_before=created_before
    )
    return [ImportTallyOut.of(tally) for tally in tallies]


@router.get("/booking-frequency", operation_id="report_booking_frequency", responses=_RESPONSES)
def booking_frequency(
    core: Core,
    staff: StaffPrincipal,
    buckets: Annotated[
        list[int] | None,
        Query(
            max_length=20,
            description="Lower bounds of the buckets, rising from 1 (default 1, 2, 3, 6)",
        ),
    ] = None,
    created_from: AwareDatetime | None = None,
    created_before: AwareDatetime | None = None,
) -> list[FrequencyLineOut]:
    """Customers by their number of bookings that hold seats, in buckets (1, 2, 3-5, 6+)."""
    lines = core.reports.booking_frequency(
        principal=staff,
        where=_period(created_from, created_before),
        buckets=buckets or DEFAULT_FREQUENCY_BUCKETS,
    )
    return [FrequencyLineOut.of(line) for line in lines]


@router.get("/cohort-retention", operation_id="report_cohort_retention", responses=_RESPONSES)
def cohort_retention(
    core: Core,
    staff: StaffPrincipal,
    months: Annotated[int, Query(ge=0, le=120, description="Later months to follow")] = 12,
    created_from: AwareDatetime | None = None,
    created_before: AwareDatetime | None = None,
) -> list[CohortLineOut]:
    """Customers per month of their first booking, and how many booked in each month after."""
    lines = core.reports.cohort_retention(
        principal=staff, where=_period(created_from, created_before), months=months
    )
    return [CohortLineOut.of(line) for line in lines]


@router.get("/source-conversion", operation_id="report_source_conversion", responses=_RESPONSES)
def source_conversion(
    core: Core,
    staff: StaffPrincipal,
    created_from: AwareDatetime | None = None,
    created_before: AwareDatetime | None = None,
) -> SourceConversionOut:
    """Leads and their conversion per source, bookings per source, customers of several."""
    report = core.reports.source_conversion(
        principal=staff, created_from=created_from, created_before=created_before
    )
    return SourceConversionOut.of(report)


@router.get("/status-transitions", operation_id="report_status_transitions", responses=_RESPONSES)
def status_transitions(
    core: Core,
    staff: StaffPrincipal,
    occurred_from: AwareDatetime | None = None,
    occurred_before: AwareDatetime | None = None,
) -> list[TransitionLineOut]:
    """Moves between statuses in the period, and the time bookings spent before them."""
    lines = core.reports.status_transitions(
        principal=staff, occurred_from=occurred_from, occurred_before=occurred_before
    )
    return [TransitionLineOut.of(line) for line in lines]


@router.get("/import-performance", operation_id="report_import_performance", responses=_RESPONSES)
def import_performance(
    core: Core,
    staff: StaffPrincipal,
    created_from: AwareDatetime | None = None,
    created_before: AwareDatetime | None = None,
) -> ImportPerformanceOut:
    """Processing times of import jobs per status, and failed rows per error type."""
    report = core.reports.import_performance(
        principal=staff, created_from=created_from, created_before=created_before
    )
    return ImportPerformanceOut.of(report)


@router.get(
    "/communication-engagement",
    operation_id="report_communication_engagement",
    responses=_RESPONSES,
)
def communication_engagement(
    core: Core,
    staff: StaffPrincipal,
    sent_from: AwareDatetime | None = None,
    sent_before: AwareDatetime | None = None,
    by: Literal["type", "channel", "type_and_channel"] = "type",
) -> list[EngagementLineOut]:
    """Messages that went out in the period per type or channel: sent, delivered, opened,
    clicked, failed, and the open and click rates."""
    lines = core.reports.communication_engagement(
        principal=staff, sent_from=sent_from, sent_before=sent_before, by=by
    )
    return [EngagementLineOut.of(line) for line in lines]
