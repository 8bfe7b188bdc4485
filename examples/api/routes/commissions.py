"""Partners' commissions: staff read every partner's, a partner reads its own.

The library scopes every answer: a partner's report is always limited to
itself, and a booking of another partner answers 404.
"""

from __future__ import annotations

from enum import Enum
from uuid import UUID

from fastapi import APIRouter, Request
from pydantic import AwareDatetime

from bookingcore import (
    AuthenticationError,
    BookingId,
    NotFoundError,
    PartnerId,
    PermissionDeniedError,
    RateLimitedError,
)
from examples.api.deps import Core, PartnerPrincipal, StaffPrincipal
from examples.api.errors import problem_responses
from examples.api.routes._paging import Cursor, Limit, page_request, paged
from examples.api.schemas import Paged
from examples.api.schemas_ops import CommissionEntryOut, CommissionReportOut

__all__ = ["router"]

router = APIRouter()

_TAGS: list[str | Enum] = ["commissions"]


@router.get(
    "/api/admin/commissions",
    tags=_TAGS,
    operation_id="admin_commission_report",
    responses=problem_responses(AuthenticationError, PermissionDeniedError, NotFoundError),
)
def admin_report(
    start: AwareDatetime,
    end: AwareDatetime,
    core: Core,
    staff: StaffPrincipal,
    partner_id: UUID | None = None,
) -> CommissionReportOut:
    """What each partner (or one) is owed for the entries recorded in ``[start, end)``."""
    report = core.commissions.report(
        start,
        end,
        principal=staff,
        partner_id=None if partner_id is None else PartnerId(partner_id),
    )
    return CommissionReportOut.of(report)


@router.get(
    "/api/admin/commissions/entries",
    tags=_TAGS,
    operation_id="admin_commission_entries",
    responses=problem_responses(AuthenticationError, PermissionDeniedError, NotFoundError),
)
def admin_entries(
    request: Request,
    start: AwareDatetime,
    end: AwareDatetime,
    core: Core,
    staff: StaffPrincipal,
    partner_id: UUID | None = None,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> Paged[CommissionEntryOut]:
    """Every partner's (or one's) ledger entries recorded in ``[start, end)``, newest
    first, a page at a time (follow ``next``)."""
    page = core.commissions.entries(
        start,
        end,
        page_request(limit, cursor),
        principal=staff,
        partner_id=None if partner_id is None else PartnerId(partner_id),
    )
    return paged(Paged[CommissionEntryOut], request, page, CommissionEntryOut.of)


@router.get(
    "/api/admin/bookings/{booking_id}/commissions",
    tags=_TAGS,
    operation_id="admin_booking_commissions",
    responses=problem_responses(AuthenticationError, PermissionDeniedError, NotFoundError),
)
def admin_for_booking(
    booking_id: UUID, core: Core, staff: StaffPrincipal
) -> list[CommissionEntryOut]:
    """A booking's commission ledger, oldest first."""
    entries = core.commissions.for_booking(BookingId(booking_id), principal=staff)
    return [CommissionEntryOut.of(e) for e in entries]


@router.get(
    "/api/partner/commissions",
    tags=_TAGS,
    operation_id="partner_commission_report",
    responses=problem_responses(AuthenticationError, RateLimitedError, PermissionDeniedError),
)
def partner_report(
    start: AwareDatetime, end: AwareDatetime, core: Core, partner: PartnerPrincipal
) -> CommissionReportOut:
    """What I am owed for the entries recorded in ``[start, end)``."""
    return CommissionReportOut.of(core.commissions.report(start, end, principal=partner))


@router.get(
    "/api/partner/commissions/entries",
    tags=_TAGS,
    operation_id="partner_commission_entries",
    responses=problem_responses(AuthenticationError, RateLimitedError, PermissionDeniedError),
)
def partner_entries(
    request: Request,
    start: AwareDatetime,
    end: AwareDatetime,
    core: Core,
    partner: PartnerPrincipal,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> Paged[CommissionEntryOut]:
    """My ledger entries recorded in ``[start, end)``, newest first, a page at a time
    (follow ``next``)."""
    page = core.commissions.entries(start, end, page_request(limit, cursor), principal=partner)
    return paged(Paged[CommissionEntryOut], request, page, CommissionEntryOut.of)


@router.get(
    "/api/partner/bookings/{booking_id}/commissions",
    tags=_TAGS,
    operation_id="partner_booking_commissions",
    responses=problem_responses(AuthenticationError, RateLimitedError, NotFoundError),
)
def partner_for_booking(
    booking_id: UUID, core: Core, partner: PartnerPrincipal
) -> list[CommissionEntryOut]:
    """The commission ledger of one of my bookings, oldest first."""
    entries = core.commissions.for_booking(BookingId(booking_id), principal=partner)
    return [CommissionEntryOut.of(e) for e in entries]
