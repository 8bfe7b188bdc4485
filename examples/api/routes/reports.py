"""Seed 001's reports: what the library's report service offers (the payment reconciliation)."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import AwareDatetime

from bookingcore import AuthenticationError, PermissionDeniedError
from examples.api.deps import Core, StaffPrincipal
from examples.api.errors import problem_responses
from examples.api.schemas import ReconciliationOut

__all__ = ["router"]

router = APIRouter(prefix="/api/admin/reports", tags=["reports"])


@router.get(
    "/reconciliation",
    operation_id="report_reconciliation",
    responses=problem_responses(AuthenticationError, PermissionDeniedError),
)
def reconciliation(
    start: AwareDatetime, end: AwareDatetime, core: Core, staff: StaffPrincipal
) -> ReconciliationOut:
    """Bookings created in ``[start, end)`` against what was captured and refunded for them."""
    return ReconciliationOut.of(core.reports.reconciliation(start, end, principal=staff))
