"""Certificates (``/api/admin/certificates``): issue, renew, a customer's, compliance.

Staff tokens; the library decides who may do what: staff who may change a booking
issue on it (completed bookings only), staff who may change everything renew, staff
who see everything read the compliance report. Renewal reminders are no route: the
library's ``certificates.renewal_reminders`` job sends them daily (docs/jobs.md).
Customers read their own at ``GET /api/v1/customer/certificates``.
"""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Query, status
from pydantic import AwareDatetime

from bookingcore import (
    AuthenticationError,
    BookingId,
    CustomerId,
    DuplicateError,
    IdempotencyConflictError,
    NotFoundError,
    PermissionDeniedError,
    TravelerId,
)
from bookingcore.domain import CertificateFilter, CertificateId
from examples.api.deps import Core, IdempotencyKey, StaffPrincipal
from examples.api.errors import problem_responses
from examples.api.schemas_admin import CertificateIssueIn, CertificateRenewIn, ComplianceReportOut
from examples.api.schemas_ops import CertificateOut

__all__ = ["router"]

router = APIRouter(prefix="/api/admin/certificates", tags=["admin certificates"])


@router.post(
    "",
    operation_id="admin_issue_certificate",
    status_code=status.HTTP_201_CREATED,
    responses=problem_responses(
        AuthenticationError,
        PermissionDeniedError,
        NotFoundError,
        DuplicateError,
        IdempotencyConflictError,
    ),
)
def issue_certificate(
    body: CertificateIssueIn,
    core: Core,
    staff: StaffPrincipal,
    idempotency_key: IdempotencyKey = None,
) -> CertificateOut:
    """Record a certificate earned on a completed booking (422 on ``booking_id`` otherwise);
    ``(kind, number)`` is unique.

    With an ``Idempotency-Key`` a retry answers the certificate the first call recorded,
    as it is now, instead of 409.
    """
    certificate = core.certificates.issue(
        BookingId(body.booking_id),
        kind=body.kind,
        number=body.number,
        principal=staff,
        traveler_id=None if body.traveler_id is None else TravelerId(body.traveler_id),
        issued_at=body.issued_at,
        expires_at=body.expires_at,
        idempotency_key=idempotency_key,
    )
    return CertificateOut.of(certificate)


@router.post(
    "/{certificate_id}/renew",
    operation_id="admin_renew_certificate",
    responses=problem_responses(
        AuthenticationError, PermissionDeniedError, NotFoundError, IdempotencyConflictError
    ),
)
def renew_certificate(
    certificate_id: UUID,
    body: CertificateRenewIn,
    core: Core,
    staff: StaffPrincipal,
    idempotency_key: IdempotencyKey = None,
) -> CertificateOut:
    """Move the certificate's expiry (to a day after today); a reminder goes out again
    before the new date.

    With an ``Idempotency-Key`` a retry answers the certificate as it is now and changes
    nothing more.
    """
    certificate = core.certificates.renew(
        CertificateId(certificate_id),
        body.expires_at,
        principal=staff,
        idempotency_key=idempotency_key,
    )
    return CertificateOut.of(certificate)


@router.get(
    "",
    operation_id="admin_list_customer_certificates",
    responses=problem_responses(AuthenticationError, NotFoundError),
)
def customer_certificates(
    customer_id: Annotated[UUID, Query(description="The customer who holds them")],
    core: Core,
    staff: StaffPrincipal,
) -> list[CertificateOut]:
    """A customer's certificates, newest first (bounded by the bookings they completed)."""
    found = core.certificates.for_customer(CustomerId(customer_id), principal=staff)
    return [CertificateOut.of(c) for c in found]


@router.get(
    "/compliance",
    operation_id="admin_certificate_compliance",
    responses=problem_responses(AuthenticationError, PermissionDeniedError),
)
def compliance_report(
    core: Core,
    staff: StaffPrincipal,
    kind: Annotated[str | None, Query(max_length=100, examples=["PADI Open Water"])] = None,
    customer_id: UUID | None = None,
    expires_from: AwareDatetime | None = None,
    expires_before: AwareDatetime | None = None,
) -> ComplianceReportOut:
    """Who holds which certificate and where each stands now (valid, expiring within the
    reminder lead, expired, permanent), soonest expiry first, with counts per state.

    ``expires_from``/``expires_before`` bound the expiry (certificates that never expire
    fall outside any bound).
    """
    query = CertificateFilter(
        kind=kind,
        customer_id=None if customer_id is None else CustomerId(customer_id),
        expires_from=expires_from,
        expires_before=expires_before,
    )
    return ComplianceReportOut.of(core.certificates.compliance_report(query, principal=staff))
