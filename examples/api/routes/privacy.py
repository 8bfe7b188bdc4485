"""The business's records of people: data export and erasure (GDPR), merging duplicate
customers, the booking export as CSV, and adding staff and advisors.

Staff tokens; each call is allowed by the library's permissions, never here: export
needs ``view_all`` (a customer exports their own at ``GET /api/v1/customer/export``),
erasing and merging ``change_all``, adding staff ``manage_staff``; the CSV holds the
bookings the caller may list, customer columns only where they may read the customer.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from enum import Enum
from io import StringIO
from itertools import chain
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Query, status
from fastapi.responses import StreamingResponse
from pydantic import AwareDatetime

from bookingcore import (
    AuthenticationError,
    BookingFilter,
    BookingGroupId,
    CustomerId,
    DuplicateError,
    IdempotencyConflictError,
    LocationId,
    NotFoundError,
    PartnerId,
    PermissionDeniedError,
    ProductId,
    SlotId,
    StaffId,
)
from bookingcore_adapters.importers import write_rows_csv
from examples.api.deps import Core, IdempotencyKey, StaffPrincipal
from examples.api.errors import problem_responses
from examples.api.routes._filters import OnDay, Sources, booking_sources, starts_within
from examples.api.schemas import CustomerOut, StaffOut
from examples.api.schemas_admin import CustomerEraseIn, CustomerMergeIn, StaffIn

__all__ = ["router"]

router = APIRouter()

_CUSTOMERS: list[str | Enum] = ["customers"]


@router.get(
    "/api/admin/customers/{customer_id}/export",
    tags=_CUSTOMERS,
    operation_id="admin_export_customer",
    responses=problem_responses(AuthenticationError, PermissionDeniedError, NotFoundError),
)
def export_customer(customer_id: UUID, core: Core, staff: StaffPrincipal) -> dict[str, Any]:
    """Everything stored about the customer as JSON (the right of access): profile,
    travelers, bookings, payments, messages, certificates, documents, audit, ..."""
    return core.privacy.export_customer(CustomerId(customer_id), principal=staff)


@router.post(
    "/api/admin/customers/{customer_id}/erase",
    tags=_CUSTOMERS,
    operation_id="admin_erase_customer",
    responses=problem_responses(
        AuthenticationError, PermissionDeniedError, NotFoundError, IdempotencyConflictError
    ),
)
def erase_customer(
    customer_id: UUID,
    body: CustomerEraseIn,
    core: Core,
    staff: StaffPrincipal,
    idempotency_key: IdempotencyKey = None,
) -> CustomerOut:
    """Anonymise the customer and their travelers in one transaction, keeping bookings and
    money; their sessions end. A second call answers 422 (erased already), unless it is a
    retry with the same ``Idempotency-Key``: that answers the erased customer again."""
    erased = core.privacy.erase_customer(
        CustomerId(customer_id),
        principal=staff,
        reason=body.reason,
        idempotency_key=idempotency_key,
    )
    return CustomerOut.of(erased)


@router.post(
    "/api/admin/customers/{customer_id}/merge",
    tags=_CUSTOMERS,
    operation_id="admin_merge_customers",
    responses=problem_responses(
        AuthenticationError,
        PermissionDeniedError,
        NotFoundError,
        DuplicateError,
        IdempotencyConflictError,
    ),
)
def merge_customers(
    customer_id: UUID,
    body: CustomerMergeIn,
    core: Core,
    staff: StaffPrincipal,
    idempotency_key: IdempotencyKey = None,
) -> CustomerOut:
    """Merge ``duplicate_id`` into this customer: its bookings, travelers, messages,
    payments, certificates, ... move here, and it is never found again (its phone finds
    this customer).

    With an ``Idempotency-Key`` a retry answers this customer as it is now instead of 404
    for the duplicate merged already.
    """
    survivor = core.customers.merge(
        CustomerId(customer_id),
        CustomerId(body.duplicate_id),
        principal=staff,
        reason=body.reason,
        idempotency_key=idempotency_key,
    )
    return CustomerOut.of(survivor)


@router.get(
    "/api/admin/exports/bookings.csv",
    tags=["exports"],
    operation_id="admin_export_bookings_csv",
    response_class=StreamingResponse,
    responses={
        **problem_responses(AuthenticationError, PermissionDeniedError),
        200: {
            "description": "A header row, then one row per booking, newest first",
            "content": {"text/csv": {"schema": {"type": "string"}}},
        },
    },
)
def export_bookings(
    core: Core,
    staff: StaffPrincipal,
    status: Annotated[list[str] | None, Query(description="Any of these statuses")] = None,
    source: Sources = None,
    partner_id: UUID | None = None,
    location_id: UUID | None = None,
    slot_id: UUID | None = None,
    product_id: UUID | None = None,
    customer_id: UUID | None = None,
    group_id: UUID | None = None,
    assignee_id: UUID | None = None,
    starts_from: AwareDatetime | None = None,
    starts_before: AwareDatetime | None = None,
    booking_date: OnDay = None,
    created_from: AwareDatetime | None = None,
    created_before: AwareDatetime | None = None,
    q: Annotated[
        str | None,
        Query(max_length=200, description="Reference, external id, customer name, email, phone"),
    ] = None,
) -> StreamingResponse:
    """Seed 001's booking export: the bookings matching every filter (those of
    ``GET /api/admin/bookings``) as CSV, streamed a page at a time; cells a spreadsheet
    would read as formulas are escaped."""
    starts_from, starts_before = starts_within(
        core.context.settings.zone, booking_date, starts_from, starts_before
    )
    query = BookingFilter(
        statuses=frozenset(status) if status else None,
        sources=booking_sources(source),
        partner_id=None if partner_id is None else PartnerId(partner_id),
        location_id=None if location_id is None else LocationId(location_id),
        slot_id=None if slot_id is None else SlotId(slot_id),
        product_id=None if product_id is None else ProductId(product_id),
        customer_id=None if customer_id is None else CustomerId(customer_id),
        group_id=None if group_id is None else BookingGroupId(group_id),
        assignee_id=None if assignee_id is None else StaffId(assignee_id),
        starts_from=starts_from,
        starts_before=starts_before,
        created_from=created_from,
        created_before=created_before,
        text=q,
    )
    rows = core.exports.booking_rows(query, principal=staff)
    header = next(rows)  # a refusal is raised here, before the answer starts
    return StreamingResponse(
        _csv_lines(header, rows),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": 'attachment; filename="bookings.csv"'},
    )


def _csv_lines(header: Sequence[str], rows: Iterator[Sequence[str]]) -> Iterator[bytes]:
    """Each row as one CSV line (escaped by ``write_rows_csv``), the header first."""
    for row in chain([header], rows):
        line = StringIO(newline="")
        write_rows_csv([row], line)
        yield line.getvalue().encode("utf-8")


@router.post(
    "/api/admin/staff",
    tags=["admin staff"],
    operation_id="admin_add_staff",
    status_code=status.HTTP_201_CREATED,
    responses=problem_responses(AuthenticationError, PermissionDeniedError, DuplicateError),
)
def add_staff(body: StaffIn, core: Core, staff: StaffPrincipal) -> StaffOut:
    """Add a staff member or advisor (``role``); ``locations`` (location codes) is an
    advisor's territory. The email is unique whatever its case: a retry answers 409
    naming the member it added. They sign in once a password is set."""
    member = core.staff.add(
        body.email, body.name, principal=staff, role=body.role, locations=body.locations
    )
    return StaffOut.of(member)
