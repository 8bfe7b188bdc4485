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
from typing import Any
from uuid import UUID

from fastapi import APIRouter, status
from fastapi.responses import StreamingResponse

from bookingcore import (
    AuthenticationError,
    CustomerId,
    DuplicateError,
    IdempotencyConflictError,
    NotFoundError,
    PermissionDeniedError,
)
from bookingcore_adapters.importers import write_rows_csv
from examples.api.deps import Core, IdempotencyKey, StaffPrincipal
from examples.api.errors import problem_responses
from examples.api.routes._filters import StaffBookingQuery
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
    core: Core, staff: StaffPrincipal, query: StaffBookingQuery
) -> StreamingResponse:
    """The booking export for spreadsheets: the bookings matching every filter (those of
    ``GET /api/admin/bookings``) as CSV, streamed a page at a time; cells a spreadsheet
    would read as formulas are escaped."""
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
