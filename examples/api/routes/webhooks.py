"""Partner webhooks sent by the library: staff see and re-send every partner's, a partner its own.

A delivery another partner's token asks for answers 404, as if it did not exist.
"""

from __future__ import annotations

from enum import Enum
from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Query, Request

from bookingcore import (
    AuthenticationError,
    IdempotencyConflictError,
    NotFoundError,
    PartnerId,
    PermissionDeniedError,
    Principal,
    RateLimitedError,
)
from examples.api.deps import Core, IdempotencyKey, PartnerPrincipal, StaffPrincipal
from examples.api.errors import problem_responses
from examples.api.routes._paging import Cursor, Limit, page_request, paged
from examples.api.schemas import Paged
from examples.api.schemas_ops import WebhookAttemptOut, WebhookDeliveryOut

__all__ = ["router"]

router = APIRouter()

_ADMIN: list[str | Enum] = ["admin webhooks"]
_PARTNER: list[str | Enum] = ["partner webhooks"]

Status = Annotated[str | None, Query(max_length=16, description="pending, delivered or dead")]


def _page(
    request: Request,
    core: Core,
    caller: Principal,
    partner_id: UUID | None,
    status: str | None,
    limit: int,
    cursor: str | None,
) -> Paged[WebhookDeliveryOut]:
    page = core.webhooks.list(
        principal=caller,
        partner_id=None if partner_id is None else PartnerId(partner_id),
        status=status,
        page=page_request(limit, cursor),
    )
    return paged(Paged[WebhookDeliveryOut], request, page, WebhookDeliveryOut.of)


# ---------------------------------------------------------------------- staff


@router.get(
    "/api/admin/webhooks",
    tags=_ADMIN,
    operation_id="admin_list_webhooks",
    responses=problem_responses(AuthenticationError, PermissionDeniedError),
)
def admin_list(
    request: Request,
    core: Core,
    staff: StaffPrincipal,
    partner_id: UUID | None = None,
    status: Status = None,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> Paged[WebhookDeliveryOut]:
    """Webhook deliveries to every partner (or one), newest first."""
    return _page(request, core, staff, partner_id, status, limit, cursor)


@router.get(
    "/api/admin/webhooks/{delivery_id}",
    tags=_ADMIN,
    operation_id="admin_get_webhook",
    responses=problem_responses(AuthenticationError, NotFoundError),
)
def admin_get(delivery_id: UUID, core: Core, staff: StaffPrincipal) -> WebhookDeliveryOut:
    """One delivery: its payload, status and last outcome."""
    return WebhookDeliveryOut.of(core.webhooks.get(delivery_id, principal=staff))


@router.get(
    "/api/admin/webhooks/{delivery_id}/attempts",
    tags=_ADMIN,
    operation_id="admin_webhook_attempts",
    responses=problem_responses(AuthenticationError, NotFoundError),
)
def admin_attempts(delivery_id: UUID, core: Core, staff: StaffPrincipal) -> list[WebhookAttemptOut]:
    """A delivery's attempts, first attempt first."""
    return [WebhookAttemptOut.of(a) for a in core.webhooks.attempts(delivery_id, principal=staff)]


@router.post(
    "/api/admin/webhooks/{delivery_id}/resend",
    tags=_ADMIN,
    operation_id="admin_resend_webhook",
    responses=problem_responses(
        AuthenticationError, PermissionDeniedError, NotFoundError, IdempotencyConflictError
    ),
)
def admin_resend(
    delivery_id: UUID, core: Core, staff: StaffPrincipal, idempotency_key: IdempotencyKey = None
) -> WebhookDeliveryOut:
    """Send a delivered or dead webhook again (same ``webhook-id``), due at once.

    With an ``Idempotency-Key`` a retry answers the delivery as it is now and
    re-sends nothing more.
    """
    delivery = core.webhooks.resend(delivery_id, principal=staff, idempotency_key=idempotency_key)
    return WebhookDeliveryOut.of(delivery)


# ---------------------------------------------------------------------- partners


@router.get(
    "/api/partner/webhooks",
    tags=_PARTNER,
    operation_id="partner_list_webhooks",
    responses=problem_responses(AuthenticationError, RateLimitedError, PermissionDeniedError),
)
def partner_list(
    request: Request,
    core: Core,
    partner: PartnerPrincipal,
    status: Status = None,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> Paged[WebhookDeliveryOut]:
    """The webhooks sent (or to be sent) to me, newest first."""
    return _page(request, core, partner, None, status, limit, cursor)


@router.get(
    "/api/partner/webhooks/{delivery_id}",
    tags=_PARTNER,
    operation_id="partner_get_webhook",
    responses=problem_responses(AuthenticationError, RateLimitedError, NotFoundError),
)
def partner_get(delivery_id: UUID, core: Core, partner: PartnerPrincipal) -> WebhookDeliveryOut:
    """One of my deliveries."""
    return WebhookDeliveryOut.of(core.webhooks.get(delivery_id, principal=partner))


@router.get(
    "/api/partner/webhooks/{delivery_id}/attempts",
    tags=_PARTNER,
    operation_id="partner_webhook_attempts",
    responses=problem_responses(AuthenticationError, RateLimitedError, NotFoundError),
)
def partner_attempts(
    delivery_id: UUID, core: Core, partner: PartnerPrincipal
) -> list[WebhookAttemptOut]:
    """The attempts at one of my deliveries, first attempt first."""
    return [WebhookAttemptOut.of(a) for a in core.webhooks.attempts(delivery_id, principal=partner)]
