"""Seed 001's reports: reconciliation, revenue, cancellations, workload, customer value,
capacity, waiting-list conversion and import statistics, each what the library's report
service computes.

Staff tokens; the library decides what each role may read (an advisor's
booking reports cover the bookings assigned to them, capacity needs ``view_all``).
Booking reports take a period of creation (``created_from``/``created_before``)
and a grouping ``by`` (``source``, ``partner``, ``location``, ``product``,
``assignee``, ``created_day``, ``created_month``, ``starts_month`` or ``none``);
periods are the business's calendar days and months (``Settings.timezone``).
"""

from __future__ import annotations

from typing import Annotated
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
