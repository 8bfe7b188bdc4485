"""Vouchers in SQL: the vouchers and their redemptions, their mappings and the repository."""

from __future__ import annotations

from collections.abc import Sequence
from uuid import UUID

import attrs
from sqlalchemy import (
    Boolean,
    Column,
    ColumnElement,
    Index,
    Integer,
    String,
    Table,
    Text,
    Uuid,
)

from bookingcore.domain.queries import Page, PageRequest
from bookingcore.domain.values import BookingId, CustomerId, LocationId, Money, ProductId
from bookingcore.domain.vouchers import (
    Voucher,
    VoucherFilter,
    VoucherId,
    VoucherRedemption,
    normalise_code,
    plain_percent,
)
from bookingcore.errors import ValidationError
from bookingcore_adapters.sql._mapper import Mapper, Row, Stored
from bookingcore_adapters.sql._repository import Repository
from bookingcore_adapters.sql._schema import (
    CURRENCY,
    ExactDecimal,
    json_type,
    metadata,
    money,
    ref,
    when,
)

__all__ = [
    "VOUCHERS",
    "VOUCHER_REDEMPTIONS",
    "VoucherRepository",
    "voucher_redemptions",
    "vouchers",
]

#: Promo codes (revision 0038): a percent or a fixed amount off, with their limits.
vouchers = Table(
    "vouchers",
    metadata,
    Column("id", Uuid(), primary_key=True),
    Column("code", String(40), nullable=False, unique=True),
    Column("percent_off", ExactDecimal(7, 4)),
    Column("amount_off_amount", ExactDecimal(18, 4)),
    Column("amount_off_currency", CURRENCY),
    when("valid_from", nullable=True),
    when("valid_until", nullable=True),
    Column("product_ids", json_type(), nullable=False),
    Column("location_ids", json_type(), nullable=False),
    Column("max_uses", Integer()),
    Column("uses", Integer(), nullable=False),
    Column("max_uses_per_customer", Integer()),
    Column("min_travelers", Integer(), nullable=False),
    Column("active", Boolean(), nullable=False),
    Column("description", Text()),
    when("created_at"),
    when("updated_at"),
    Column("version", Integer(), nullable=False),
    Index(None, "created_at", "id"),
)

#: One row per booking made with a voucher (revision 0038).
voucher_redemptions = Table(
    "voucher_redemptions",
    metadata,
    Column("id", Uuid(), primary_key=True),
    ref("voucher_id", "vouchers.id", nullable=False),
    ref("booking_id", "bookings.id", nullable=False),
    ref("customer_id", "customers.id", nullable=False, index=True),
    when("at"),
    money("amount"),
    Column("currency", CURRENCY, nullable=False),
    Index(None, "voucher_id", "customer_id"),
    Index(None, "booking_id", unique=True),
)


def _ids(values: frozenset[UUID]) -> list[str]:
    return sorted(str(value) for value in values)


def _dump(v: Voucher) -> Row:
    return {
        "id": v.id,
        "code": v.code,
        "percent_off": v.percent_off,
        "amount_off_amount": None if v.amount_off is None else v.amount_off.amount,
        "amount_off_currency": None if v.amount_off is None else v.amount_off.currency,
        "valid_from": v.valid_from,
        "valid_until": v.valid_until,
        "product_ids": _ids(v.product_ids),
        "location_ids": _ids(v.location_ids),
        "max_uses": v.max_uses,
        "uses": v.uses,
        "max_uses_per_customer": v.max_uses_per_customer,
        "min_travelers": v.min_travelers,
        "active": v.active,
        "description": v.description,
        "created_at": v.created_at,
        "updated_at": v.updated_at,
        "version": v.version,
    }


def _load(r: Stored, _: Sequence[Stored]) -> Voucher:
    amount = r["amount_off_amount"]
    return Voucher(
        id=r["id"],
        code=r["code"],
        percent_off=None if r["percent_off"] is None else plain_percent(r["percent_off"]),
        amount_off=None if amount is None else Money(amount, r["amount_off_currency"]),
        valid_from=r["valid_from"],
        valid_until=r["valid_until"],
        product_ids=frozenset(ProductId(UUID(x)) for x in r["product_ids"]),
        location_ids=frozenset(LocationId(UUID(x)) for x in r["location_ids"]),
        max_uses=r["max_uses"],
        uses=r["uses"],
        max_uses_per_customer=r["max_uses_per_customer"],
        min_travelers=r["min_travelers"],
        active=r["active"],
        description=r["description"],
        created_at=r["created_at"],
        updated_at=r["updated_at"],
        version=r["version"],
    )


def _dump_redemption(x: VoucherRedemption) -> Row:
    return {
        "id": x.id,
        "voucher_id": x.voucher_id,
        "booking_id": x.booking_id,
        "customer_id": x.customer_id,
        "at": x.at,
        "amount": x.amount.amount,
        "currency": x.amount.currency,
    }


def _load_redemption(r: Stored, _: Sequence[Stored]) -> VoucherRedemption:
    return VoucherRedemption(
        id=r["id"],
        voucher_id=r["voucher_id"],
        booking_id=r["booking_id"],
        customer_id=r["customer_id"],
        at=r["at"],
        amount=Money(r["amount"], r["currency"]),
    )


VOUCHERS = Mapper[Voucher]("voucher", vouchers, _dump, _load, versioned=True)
VOUCHER_REDEMPTIONS = Mapper[VoucherRedemption](
    "voucher redemption", voucher_redemptions, _dump_redemption, _load_redemption
)


def _at(x: VoucherRedemption) -> tuple[object, bytes]:
    return (x.at, x.id.bytes)


class VoucherRepository(Repository[Voucher]):
    """:class:`~bookingcore.ports.VoucherRepository` in SQL."""

    def get(self, voucher_id: VoucherId) -> Voucher | None:
        return self._get(voucher_id)

    def get_for_update(self, voucher_id: VoucherId) -> Voucher | None:
        return self._lock(voucher_id)

    def get_by_code(self, code: str) -> Voucher | None:
        try:
            normal = normalise_code(code)
        except ValidationError:
            return None
        return self._unique("code", normal, lambda v: v.code)

    def list(self, query: VoucherFilter, page: PageRequest) -> Page[Voucher]:
        c = self._table.c
        where: list[ColumnElement[bool]] = []
        if query.active is not None:
            where.append(c.active.is_(query.active))
        return self._session.page(self._mapper, where, query.matches, page)

    def add_redemption(self, redemption: VoucherRedemption) -> None:
        self._session.add(VOUCHER_REDEMPTIONS, redemption)

    def redemptions(
        self, voucher_id: VoucherId, *, customer_id: CustomerId | None = None
    ) -> Sequence[VoucherRedemption]:
        wanted: dict[str, object] = {"voucher_id": voucher_id}
        if customer_id is not None:
            wanted["customer_id"] = customer_id
        return self._session.select_equal(VOUCHER_REDEMPTIONS, wanted, _at)

    def redemption_for_booking(self, booking_id: BookingId) -> VoucherRedemption | None:
        found = self._session.select_equal(VOUCHER_REDEMPTIONS, {"booking_id": booking_id}, _at)
        return found[0] if found else None

    def move_redemptions(self, source: CustomerId, target: CustomerId) -> int:
        # One UPDATE; redemptions this session tracks are frozen: replaced by moved copies.
        return self._session.update_now(
            VOUCHER_REDEMPTIONS,
            [voucher_redemptions.c.customer_id == source],
            {"customer_id": target},
            lambda x: x.customer_id == source,
            lambda x: attrs.evolve(x, customer_id=target),
        )
