"""Payments: intents, provider webhooks, refunds, a booking's payments and invoices,
and the payments flagged for staff, with the refunds and attention items they resolve.

The webhook route reads the request's raw bytes and hands them to
:meth:`~bookingcore.services.PaymentService.handle_webhook` before anything
parses them: providers sign the exact bytes they sent, so a body that was
parsed and re-serialised would no longer verify.
"""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Query, Request, status
from starlette.concurrency import run_in_threadpool

from bookingcore import (
    AuthenticationError,
    BookingId,
    FieldError,
    IdempotencyConflictError,
    InvalidTransitionError,
    NotFoundError,
    PaymentId,
    PaymentProviderError,
    PermissionDeniedError,
    RateLimitedError,
    RefundId,
)
from examples.api.deps import AnyPrincipal, Core, RequiredIdempotencyKey, StaffPrincipal
from examples.api.errors import problem_responses
from examples.api.schemas import (
    AttentionResolutionIn,
    IntentIn,
    IntentOut,
    InvoiceOut,
    PaymentAttentionLeftOut,
    PaymentAttentionOut,
    PaymentOut,
    RefundIn,
    RefundOut,
    RefundResolutionIn,
    WebhookOut,
)
from examples.api.uploads import UploadTooLargeError

__all__ = ["MAX_WEBHOOK_BYTES", "router"]

router = APIRouter(tags=["payments"])

#: Provider deliveries larger than this are refused unread (413).
MAX_WEBHOOK_BYTES = 256 * 1024


@router.post(
    "/api/payments/create-intent",
    operation_id="payments_create_intent",
    status_code=status.HTTP_201_CREATED,
    responses=problem_responses(
        AuthenticationError,
        RateLimitedError,
        NotFoundError,
        PermissionDeniedError,
        IdempotencyConflictError,
        PaymentProviderError,
    ),
)
def create_intent(
    body: IntentIn, core: Core, caller: AnyPrincipal, idempotency_key: RequiredIdempotencyKey
) -> IntentOut:
    """Ask a provider to collect money for a booking; a retry with the key answers the same one."""
    intent = core.payments.create_intent(
        BookingId(body.booking_id),
        body.provider,
        principal=caller,
        idempotency_key=idempotency_key,
        amount=None if body.amount is None else body.amount.to_money(),
    )
    return IntentOut.of(intent)


@router.post(
    "/api/payments/webhook",
    operation_id="payments_webhook",
    responses=problem_responses(AuthenticationError, UploadTooLargeError),
    openapi_extra={
        "requestBody": {
            "required": True,
            "description": "The provider's delivery, exactly as it signed it",
            "content": {"application/json": {"schema": {"type": "object"}}},
        }
    },
)
async def webhook(
    request: Request,
    core: Core,
    provider: Annotated[str, Query(max_length=64, examples=["razorpay"])],
) -> WebhookOut:
    """Verify and apply one provider delivery (a redelivery changes nothing).

    The signature is checked over the raw bytes before they are parsed; a
    delivery that does not verify answers 401 and nothing is stored.
    """
    raw = bytearray()
    async for chunk in request.stream():
        raw += chunk
        if len(raw) > MAX_WEBHOOK_BYTES:
            msg = f"is larger than {MAX_WEBHOOK_BYTES:,} bytes"
            raise UploadTooLargeError(FieldError("body", msg, "too_large"))
    headers = dict(request.headers.items())
    receipt = await run_in_threadpool(core.payments.handle_webhook, provider, headers, bytes(raw))
    return WebhookOut.of(receipt)


@router.get(
    "/api/bookings/{booking_id}/payments",
    operation_id="booking_payments",
    responses=problem_responses(AuthenticationError, RateLimitedError, NotFoundError),
)
def booking_payments(booking_id: UUID, core: Core, caller: AnyPrincipal) -> list[PaymentOut]:
    """The booking's payments, oldest first."""
    return [
        PaymentOut.of(p) for p in core.payments.for_booking(BookingId(booking_id), principal=caller)
    ]


@router.get(
    "/api/bookings/{booking_id}/invoices",
    operation_id="booking_invoices",
    responses=problem_responses(AuthenticationError, RateLimitedError, NotFoundError),
)
def booking_invoices(booking_id: UUID, core: Core, caller: AnyPrincipal) -> list[InvoiceOut]:
    """The booking's invoices, credit notes and debit notes, in the order they were issued."""
    found = core.payments.invoices_for(BookingId(booking_id), principal=caller)
    return [InvoiceOut.of(i) for i in found]


@router.post(
    "/api/payments/{payment_id}/refunds",
    operation_id="payments_refund",
    status_code=status.HTTP_201_CREATED,
    responses=problem_responses(
        AuthenticationError,
        NotFoundError,
        PermissionDeniedError,
        InvalidTransitionError,
        PaymentProviderError,
    ),
)
def refund(
    payment_id: UUID,
    body: RefundIn,
    core: Core,
    staff: StaffPrincipal,
    idempotency_key: RequiredIdempotencyKey,
) -> RefundOut:
    """Give back part or all of a captured payment (staff only), once per key."""
    made = core.payments.refund(
        PaymentId(payment_id),
        body.amount.to_money(),
        principal=staff,
        idempotency_key=idempotency_key,
        reason=body.reason,
    )
    return RefundOut.of(made)


@router.get(
    "/api/payments/needing-attention",
    operation_id="payments_needing_attention",
    responses=problem_responses(AuthenticationError, PermissionDeniedError),
)
def needing_attention(
    core: Core,
    staff: StaffPrincipal,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> list[PaymentAttentionOut]:
    """Payments flagged for staff, oldest first, with their unreconciled refunds."""
    found = core.payments.needing_attention(principal=staff, limit=limit)
    return [PaymentAttentionOut.of(f) for f in found]


@router.post(
    "/api/refunds/{refund_id}/resolution",
    operation_id="refunds_resolve",
    responses=problem_responses(
        AuthenticationError,
        NotFoundError,
        PermissionDeniedError,
        InvalidTransitionError,
    ),
)
def resolve_refund(
    refund_id: UUID, body: RefundResolutionIn, core: Core, staff: StaffPrincipal
) -> RefundOut:
    """Apply a refund made at the provider that now fits, or dismiss it with a note (staff
    only); repeating a resolution returns the refund as it is."""
    resolved = core.payments.resolve_refund(
        RefundId(refund_id), body.action, principal=staff, note=body.note
    )
    return RefundOut.of(resolved)


@router.post(
    "/api/payments/{payment_id}/attention/resolution",
    operation_id="payments_resolve_attention",
    responses=problem_responses(
        AuthenticationError,
        NotFoundError,
        PermissionDeniedError,
        InvalidTransitionError,
    ),
)
def resolve_attention(
    payment_id: UUID, body: AttentionResolutionIn, core: Core, staff: StaffPrincipal
) -> PaymentAttentionLeftOut:
    """Close one open attention item of a payment with a note (staff only); its other
    items stay open. An unreconciled refund's item closes when its refunds are resolved.
    Repeating a resolution returns the payment as it is."""
    payment = core.payments.resolve_attention(
        PaymentId(payment_id), body.reason_code, principal=staff, note=body.note
    )
    return PaymentAttentionLeftOut.of(payment)
