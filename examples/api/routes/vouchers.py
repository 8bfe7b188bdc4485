"""Vouchers (promo codes such as ``SUMMER10``): staff make and change them under
``/api/admin/vouchers``; anyone signed in checks what a code would take off with
``POST /api/v1/vouchers/check``; bookings name one in ``voucher_code``.

Staff tokens with ``set_prices`` make and change vouchers; staff who see everything
read them. Creating takes an ``Idempotency-Key``: a retry answers the voucher the first
call made. The request and answer models live here, with the routes they serve.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Query, Request, status
from pydantic import BaseModel, Field

from bookingcore import (
    AuthenticationError,
    DuplicateError,
    IdempotencyConflictError,
    LocationId,
    NotFoundError,
    PermissionDeniedError,
    ProductId,
    SlotId,
    StaleVersionError,
)
from bookingcore.domain.pricing import PriceBreakdown
from bookingcore.domain.values import CustomerId
from bookingcore.domain.vouchers import Voucher, VoucherFilter, VoucherId, VoucherRedemption
from examples.api.deps import AnyPrincipal, Core, IdempotencyKey, StaffPrincipal
from examples.api.errors import problem_responses
from examples.api.routes._paging import Cursor, Limit, page_request, paged
from examples.api.schemas import MoneyIn, MoneyOut, Paged, StrictIn

__all__ = ["check_router", "router"]

router = APIRouter(prefix="/api/admin/vouchers", tags=["admin vouchers"])
check_router = APIRouter(prefix="/api/v1/vouchers", tags=["vouchers"])

_ERRORS = (AuthenticationError, PermissionDeniedError, NotFoundError)
_PERCENT = r"^\d{1,3}(\.\d{1,4})?$"


class VoucherIn(StrictIn):
    """A new voucher: ``percent_off`` (``"10"`` for 10 %) or ``amount_off`` per booking."""

    code: str = Field(max_length=64, examples=["SUMMER10"])
    percent_off: str | None = Field(default=None, max_length=9, pattern=_PERCENT)
    amount_off: MoneyIn | None = None
    valid_from: datetime | None = None
    valid_until: datetime | None = Field(default=None, description="The first instant it is not")
    product_ids: list[UUID] = Field(default_factory=list, max_length=500)
    location_ids: list[UUID] = Field(default_factory=list, max_length=500)
    max_uses: int | None = Field(default=None, description="Bookings in all; null: unlimited")
    max_uses_per_customer: int | None = None
    min_travelers: int = 1
    description: str | None = Field(default=None, max_length=1000)


class VoucherChangeIn(StrictIn):
    """New terms for a voucher: only the fields given change (its code and uses never)."""

    percent_off: str | None = Field(default=None, max_length=9, pattern=_PERCENT)
    amount_off: MoneyIn | None = None
    valid_from: datetime | None = None
    valid_until: datetime | None = None
    product_ids: list[UUID] | None = Field(default=None, max_length=500)
    location_ids: list[UUID] | None = Field(default=None, max_length=500)
    max_uses: int | None = None
    max_uses_per_customer: int | None = None
    min_travelers: int | None = None
    active: bool | None = None
    description: str | None = Field(default=None, max_length=1000)
    expected_version: int | None = None

    def changes(self) -> dict[str, object]:
        """The fields the body sets, as the library takes them."""
        given = self.model_dump(exclude_unset=True, exclude={"expected_version"})
        if "percent_off" in given:
            given["percent_off"] = None if self.percent_off is None else Decimal(self.percent_off)
        if "amount_off" in given:
            given["amount_off"] = None if self.amount_off is None else self.amount_off.to_money()
        for name, kind in (("product_ids", ProductId), ("location_ids", LocationId)):
            if name in given:
                given[name] = [kind(UUID(str(x))) for x in given[name] or ()]
        return given


class VoucherOut(BaseModel):
    """A voucher with its terms and the bookings it was used on so far (``uses``)."""

    id: UUID
    code: str
    percent_off: str | None
    amount_off: MoneyOut | None
    valid_from: datetime | None
    valid_until: datetime | None
    product_ids: list[UUID]
    location_ids: list[UUID]
    max_uses: int | None
    uses: int
    max_uses_per_customer: int | None
    min_travelers: int
    active: bool
    description: str | None
    created_at: datetime
    updated_at: datetime
    version: int

    @classmethod
    def of(cls, v: Voucher) -> VoucherOut:
        """The voucher's fields."""
        return cls(
            id=v.id,
            code=v.code,
            percent_off=None if v.percent_off is None else str(v.percent_off),
            amount_off=None if v.amount_off is None else MoneyOut.of(v.amount_off),
            valid_from=v.valid_from,
            valid_until=v.valid_until,
            product_ids=sorted(v.product_ids, key=str),
            location_ids=sorted(v.location_ids, key=str),
            max_uses=v.max_uses,
            uses=v.uses,
            max_uses_per_customer=v.max_uses_per_customer,
            min_travelers=v.min_travelers,
            active=v.active,
            description=v.description,
            created_at=v.created_at,
            updated_at=v.updated_at,
            version=v.version,
        )


class VoucherPage(Paged[VoucherOut]):
    """One page of vouchers."""


class RedemptionOut(BaseModel):
    """One booking made with a voucher."""

    booking_id: UUID
    customer_id: UUID
    at: datetime
    amount: MoneyOut

    @classmethod
    def of(cls, r: VoucherRedemption) -> RedemptionOut:
        """The redemption's fields."""
        return cls(
            booking_id=r.booking_id,
            customer_id=r.customer_id,
            at=r.at,
            amount=MoneyOut.of(r.amount),
        )


class VoucherCheckIn(StrictIn):
    """A code to try on a slot for a party of ``travelers`` at the slot's price."""

    code: str = Field(max_length=64, examples=["SUMMER10"])
    slot_id: UUID
    travelers: int = Field(default=1, ge=1, le=200)
    customer_id: UUID | None = Field(
        default=None,
        description="Staff and partners: count this customer's own uses and loyalty tier "
        "(a customer they may see; 422 on customer_id otherwise)",
    )


class VoucherCheckOut(BaseModel):
    """What the booking would cost: the voucher's part is ``voucher_discount``; a known
    customer's loyalty tier discount (``loyalty_discount``) comes off before it."""

    code: str
    subtotal: MoneyOut
    tier_discount: MoneyOut
    voucher_discount: MoneyOut
    total: MoneyOut
    loyalty_discount: MoneyOut | None = Field(
        default=None, description="What the customer's loyalty tier takes off, if anything"
    )

    @classmethod
    def of(cls, b: PriceBreakdown) -> VoucherCheckOut:
        """The breakdown's fields."""
        assert b.voucher_code is not None
        assert b.voucher_discount is not None
        return cls(
            code=b.voucher_code,
            subtotal=MoneyOut.of(b.subtotal),
            tier_discount=MoneyOut.of(b.tier_discount),
            voucher_discount=MoneyOut.of(b.voucher_discount),
            total=MoneyOut.of(b.total),
            loyalty_discount=None
            if b.loyalty_discount is None
            else MoneyOut.of(b.loyalty_discount),
        )


@router.post(
    "",
    operation_id="admin_create_voucher",
    status_code=status.HTTP_201_CREATED,
    responses=problem_responses(
        AuthenticationError, PermissionDeniedError, DuplicateError, IdempotencyConflictError
    ),
)
def create_voucher(
    body: VoucherIn, core: Core, staff: StaffPrincipal, idempotency_key: IdempotencyKey = None
) -> VoucherOut:
    """Make a voucher. A code taken already (in any case) answers 409; with an
    ``Idempotency-Key`` a retry answers the voucher the first call made."""
    voucher = core.vouchers.create(
        code=body.code,
        percent_off=None if body.percent_off is None else Decimal(body.percent_off),
        amount_off=None if body.amount_off is None else body.amount_off.to_money(),
        valid_from=body.valid_from,
        valid_until=body.valid_until,
        product_ids=[ProductId(p) for p in body.product_ids],
        location_ids=[LocationId(x) for x in body.location_ids],
        max_uses=body.max_uses,
        max_uses_per_customer=body.max_uses_per_customer,
        min_travelers=body.min_travelers,
        description=body.description,
        principal=staff,
        idempotency_key=idempotency_key,
    )
    return VoucherOut.of(voucher)


@router.get(
    "",
    operation_id="admin_list_vouchers",
    responses=problem_responses(AuthenticationError, PermissionDeniedError),
)
def list_vouchers(
    request: Request,
    core: Core,
    staff: StaffPrincipal,
    active: Annotated[bool | None, Query(description="Only active (or inactive) ones")] = None,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> VoucherPage:
    """Vouchers, newest first."""
    page = core.vouchers.list(
        VoucherFilter(active=active), page_request(limit, cursor), principal=staff
    )
    return paged(VoucherPage, request, page, VoucherOut.of)


@router.get(
    "/{voucher_id}", operation_id="admin_get_voucher", responses=problem_responses(*_ERRORS)
)
def get_voucher(voucher_id: UUID, core: Core, staff: StaffPrincipal) -> VoucherOut:
    """One voucher, with its uses so far."""
    return VoucherOut.of(core.vouchers.get(VoucherId(voucher_id), principal=staff))


@router.patch(
    "/{voucher_id}",
    operation_id="admin_update_voucher",
    responses=problem_responses(*_ERRORS, StaleVersionError),
)
def update_voucher(
    voucher_id: UUID, body: VoucherChangeIn, core: Core, staff: StaffPrincipal
) -> VoucherOut:
    """Change a voucher's terms (``active: false`` stops offering it). Bookings made
    already keep what they were given."""
    voucher = core.vouchers.update(
        VoucherId(voucher_id),
        principal=staff,
        expected_version=body.expected_version,
        **body.changes(),
    )
    return VoucherOut.of(voucher)


@router.post(
    "/{voucher_id}/deactivate",
    operation_id="admin_deactivate_voucher",
    responses=problem_responses(*_ERRORS),
)
def deactivate_voucher(voucher_id: UUID, core: Core, staff: StaffPrincipal) -> VoucherOut:
    """Stop offering a voucher: bookings naming it are refused from now on."""
    return VoucherOut.of(core.vouchers.deactivate(VoucherId(voucher_id), principal=staff))


@router.get(
    "/{voucher_id}/redemptions",
    operation_id="admin_list_voucher_redemptions",
    responses=problem_responses(*_ERRORS),
)
def list_redemptions(voucher_id: UUID, core: Core, staff: StaffPrincipal) -> list[RedemptionOut]:
    """The bookings made with a voucher, oldest first. A cancelled booking keeps its use."""
    found = core.vouchers.redemptions(VoucherId(voucher_id), principal=staff)
    return [RedemptionOut.of(r) for r in found]


@check_router.post(
    "/check",
    operation_id="check_voucher",
    responses=problem_responses(AuthenticationError),
)
def check_voucher(body: VoucherCheckIn, core: Core, principal: AnyPrincipal) -> VoucherCheckOut:
    """What a code would take off a booking of the slot, counting nothing. A code a
    booking would refuse answers 422 with the reason's code on ``voucher_code``
    (``unknown``, ``expired``, ``used_up``, ``not_for_this_slot``, ...)."""
    breakdown = core.vouchers.check(
        body.code,
        SlotId(body.slot_id),
        body.travelers,
        principal=principal,
        customer_id=None if body.customer_id is None else CustomerId(body.customer_id),
    )
    return VoucherCheckOut.of(breakdown)
