"""The catalog in SQL: locations, suppliers, products and slots.

Tables, mapping and repositories together.
"""

from __future__ import annotations

import builtins
import functools
from collections.abc import Callable, Collection, Mapping, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any, Generic, TypeVar
from uuid import UUID
from zoneinfo import ZoneInfo

from sqlalchemy import (
    Boolean,
    Column,
    ColumnElement,
    Index,
    Integer,
    Select,
    String,
    Table,
    Text,
    Uuid,
    false,
    func,
    literal,
    or_,
    select,
)

from bookingcore.domain.cancellation import CancellationPolicy
from bookingcore.domain.catalog import (
    Location,
    Product,
    ProductFilter,
    ProductKind,
    Supplier,
    SupplierFilter,
)
from bookingcore.domain.pricing import DiscountTier
from bookingcore.domain.queries import (
    Cursor,
    Page,
    PageRequest,
    SlotFilter,
)
from bookingcore.domain.requirements import ProductRequirements
from bookingcore.domain.slots import Slot
from bookingcore.domain.tallies import UTC_ZONE, Grouping, SlotTally, check_slot_grouping
from bookingcore.domain.values import (
    LocationId,
    Money,
    ProductId,
    SlotId,
    SupplierId,
)
from bookingcore.errors import ValidationError
from bookingcore_adapters.sql._driver import TUPLE_COUNTS
from bookingcore_adapters.sql._mapper import (
    Mapper,
    Row,
    Stored,
    email_of,
    email_text,
    phone_of,
    phone_text,
)
from bookingcore_adapters.sql._queries import (
    ZERO,
    keyset_after_earliest,
    local_period,
    read_period,
    total,
    within,
)
from bookingcore_adapters.sql._repository import Repository
from bookingcore_adapters.sql._schema import (
    CODE,
    CURRENCY,
    ENUM,
    PHONE,
    json_type,
    metadata,
    money,
    ref,
    when,
)

__all__ = [
    "LOCATIONS",
    "PRODUCTS",
    "SLOTS",
    "SUPPLIERS",
    "CodedRepository",
    "LocationRepository",
    "ProductRepository",
    "SlotRepository",
    "SupplierRepository",
    "locations",
    "products",
    "slot_where",
    "slots",
    "suppliers",
]

E = TypeVar("E")


# --------------------------------------------------------------------------- tables


locations = Table(
    "locations",
    metadata,
    Column("id", Uuid(), primary_key=True),
    Column("code", CODE, nullable=False, unique=True),
    Column("name", String(), nullable=False),
    Column("kind", String(), nullable=False),
    Column("address", Text()),
    Column("is_active", Boolean(), nullable=False),
    when("created_at"),
)


suppliers = Table(
    "suppliers",
    metadata,
    Column("id", Uuid(), primary_key=True),
    Column("code", CODE, nullable=False, unique=True),
    Column("name", String(), nullable=False),
    Column("email", String()),
    Column("phone", PHONE),
    Column("is_active", Boolean(), nullable=False),
    when("created_at"),
    # Listed newest first by (created_at, id), keyset-paged.
    Index(None, "created_at", "id"),
)


products = Table(
    "products",
    metadata,
    Column("id", Uuid(), primary_key=True),
    Column("code", CODE, nullable=False, unique=True),
    Column("name", String(), nullable=False),
    Column("kind", ENUM, nullable=False),
    ref("supplier_id", "suppliers.id", index=True),
    Column("description", Text()),
    Column("is_active", Boolean(), nullable=False),
    when("created_at"),
    # travel (revision 0012): where the product is delivered.
    ref("location_id", "locations.id", index=True),
    # revision 0036: the product's own cancellation terms, CancellationPolicy.as_data()
    # (versioned JSON); NULL: its bookings follow the settings.
    Column("cancellation_policy", json_type()),
    # revision 0039: who may be booked on it, ProductRequirements.as_data() (versioned
    # JSON); NULL: anyone.
    Column("requirements", json_type()),
    # Listed newest first by (created_at, id), keyset-paged.
    Index(None, "created_at", "id"),
)


slots = Table(
    "slots",
    metadata,
    Column("id", Uuid(), primary_key=True),
    ref("location_id", "locations.id", nullable=False, index=True),
    ref("product_id", "products.id", index=True),
    Column("name", String()),
    when("starts_at"),
    when("ends_at", nullable=True),
    money("price_amount"),
    Column("currency", CURRENCY, nullable=False),
    Column("capacity", Integer()),
    Column("seats_held", Integer(), nullable=False),
    Column("group_discounts", json_type(), nullable=False),
    Column("is_active", Boolean(), nullable=False),
    when("created_at"),
    Column("version", Integer(), nullable=False),
    # revision 0031: someone has joined the slot's waiting list.
    Column("has_waitlist", Boolean(), nullable=False, server_default=false()),
    # revision 0037: the operator called the slot off.
    when("cancelled_at", nullable=True),
    Column("cancellation_reason", Text()),
    Index(None, "starts_at"),
    Index(None, "location_id", "starts_at"),
)


# --------------------------------------------------------------------------- mapping


def _dump_location(x: Location) -> Row:
    return {
        "id": x.id,
        "code": x.code,
        "name": x.name,
        "kind": x.kind,
        "address": x.address,
        "is_active": x.is_active,
        "created_at": x.created_at,
    }


def _load_location(r: Stored, _: Sequence[Stored]) -> Location:
    return Location(
        id=r["id"],
        code=r["code"],
        name=r["name"],
        created_at=r["created_at"],
        kind=r["kind"],
        address=r["address"],
        is_active=r["is_active"],
    )


def _dump_supplier(x: Supplier) -> Row:
    return {
        "id": x.id,
        "code": x.code,
        "name": x.name,
        "email": email_text(x.email),
        "phone": phone_text(x.phone),
        "is_active": x.is_active,
        "created_at": x.created_at,
    }


def _load_supplier(r: Stored, _: Sequence[Stored]) -> Supplier:
    return Supplier(
        id=r["id"],
        code=r["code"],
        name=r["name"],
        created_at=r["created_at"],
        email=email_of(r["email"]),
        phone=phone_of(r["phone"]),
        is_active=r["is_active"],
    )


def _dump_product(x: Product) -> Row:
    return {
        "id": x.id,
        "code": x.code,
        "name": x.name,
        "kind": x.kind.value,
        "supplier_id": x.supplier_id,
        "description": x.description,
        "is_active": x.is_active,
        "created_at": x.created_at,
        "location_id": x.location_id,
        "cancellation_policy": (
            None if x.cancellation_policy is None else x.cancellation_policy.as_data()
        ),
        "requirements": None if x.requirements is None else x.requirements.as_data(),
    }


def _stored_policy(data: object) -> CancellationPolicy | None:
    """A product's stored policy, checked again: a row edited into a policy the
    library would refuse raises ``ValidationError`` on ``cancellation_policy.<part>``."""
    if data is None:
        return None
    try:
        return CancellationPolicy.from_data(data)
    except ValidationError as error:
        raise error.prefixed("cancellation_policy") from None


def _stored_requirements(data: object) -> ProductRequirements | None:
    """A product's stored requirements, checked again: a row edited into requirements
    the library would refuse raises ``ValidationError`` on ``requirements.<part>``."""
    if data is None:
        return None
    try:
        return ProductRequirements.from_data(data)
    except ValidationError as error:
        raise error.prefixed("requirements") from None


def _load_product(r: Stored, _: Sequence[Stored]) -> Product:
    return Product(
        id=r["id"],
        code=r["code"],
        name=r["name"],
        kind=ProductKind(r["kind"]),
        created_at=r["created_at"],
        supplier_id=r["supplier_id"],
        description=r["description"],
        is_active=r["is_active"],
        location_id=r["location_id"],
        cancellation_policy=_stored_policy(r["cancellation_policy"]),
        requirements=_stored_requirements(r["requirements"]),
    )


# --------------------------------------------------------------------------- slots


def _dump_slot(s: Slot) -> Row:
    return {
        "id": s.id,
        "location_id": s.location_id,
        "product_id": s.product_id,
        "name": s.name,
        "starts_at": s.starts_at,
        "ends_at": s.ends_at,
        "price_amount": s.price_per_traveler.amount,
        "currency": s.price_per_traveler.currency,
        "capacity": s.capacity,
        "seats_held": s.seats_held,
        "group_discounts": [
            {"min_travelers": tier.min_travelers, "percent": str(tier.percent)}
            for tier in s.group_discounts
        ],
        "is_active": s.is_active,
        "created_at": s.created_at,
        "version": s.version,
        "has_waitlist": s.has_waitlist,
        "cancelled_at": s.cancelled_at,
        "cancellation_reason": s.cancellation_reason,
    }


def _load_slot(r: Stored, _: Sequence[Stored]) -> Slot:
    return Slot(
        id=r["id"],
        location_id=r["location_id"],
        starts_at=r["starts_at"],
        price_per_traveler=Money(r["price_amount"], r["currency"]),
        created_at=r["created_at"],
        capacity=r["capacity"],
        seats_held=r["seats_held"],
        product_id=r["product_id"],
        ends_at=r["ends_at"],
        name=r["name"],
        group_discounts=tuple(
            DiscountTier(tier["min_travelers"], Decimal(tier["percent"]))
            for tier in r["group_discounts"]
        ),
        is_active=r["is_active"],
        has_waitlist=r["has_waitlist"],
        version=r["version"],
        cancelled_at=r["cancelled_at"],
        cancellation_reason=r["cancellation_reason"],
    )


LOCATIONS = Mapper[Location]("location", locations, _dump_location, _load_location)
PRODUCTS = Mapper[Product]("product", products, _dump_product, _load_product)
SUPPLIERS = Mapper[Supplier]("supplier", suppliers, _dump_supplier, _load_supplier)
SLOTS = Mapper[Slot]("slot", slots, _dump_slot, _load_slot, versioned=True)


# --------------------------------------------------------------------------- queries


@functools.lru_cache(maxsize=256)
def _slot_tally(by: Grouping, dialect: str, zone: ZoneInfo) -> Select[Any]:
    """The grouped query of a slot tally, without its filter: built once per grouping
    and zone (building a statement costs more than running this one on a few hundred
    slots)."""
    c = slots.c
    key: ColumnElement[Any]
    match by:
        case Grouping.LOCATION:
            key = c.location_id
        case Grouping.PRODUCT:
            key = c.product_id
        case Grouping.STARTS_MONTH:
            key = local_period(c.starts_at, "month", dialect, zone)
        case _:
            key = literal(None)
    key = key.label("key")
    limited = c.capacity.is_not(None)
    return select(
        key,
        func.count(),
        func.count().filter(c.capacity.is_(None)),
        total(c.capacity),
        func.coalesce(func.sum(c.seats_held).filter(limited), ZERO),
    ).group_by(key)


def slot_where(query: SlotFilter) -> list[ColumnElement[bool]]:
    """:meth:`SlotFilter.matches` as SQL over ``slots``."""
    s = slots.c
    found: list[ColumnElement[bool]] = []
    if query.location_id is not None:
        found.append(s.location_id == query.location_id)
    if query.location_ids is not None:
        ids = sorted(query.location_ids, key=lambda location: location.bytes)
        found.append(s.location_id.in_(ids) if ids else false())
    if query.product_id is not None:
        found.append(s.product_id == query.product_id)
    if query.only_active:
        found.append(s.is_active.is_(True))
    if query.only_available:
        found.append(or_(s.capacity.is_(None), s.seats_held + 1 <= s.capacity))
    found += within(s.starts_at, query.starts_from, query.starts_before)
    return found


# --------------------------------------------------------------------------- repositories


I = TypeVar("I", bound=UUID)  # noqa: E741


class CodedRepository(Repository[E], Generic[E, I]):
    """The locations, products or suppliers repository (a coded catalog entry) in SQL."""

    def get(self, row_id: I) -> E | None:
        return self._get(row_id)

    def get_many(self, row_ids: Collection[I]) -> Mapping[I, E]:
        return self._get_many(row_ids, lambda e: e.id)  # type: ignore[attr-defined]

    def get_by_code(self, code: str) -> E | None:
        clean = code.strip().upper()
        return self._session.find_unique(self._mapper, "code", clean, lambda e: e.code)  # type: ignore[attr-defined]


class LocationRepository(CodedRepository[Location, LocationId]):
    """:class:`~bookingcore.ports.LocationRepository` in SQL."""

    def get_for_update(self, location_id: LocationId) -> Location | None:
        return self._session.lock(self._mapper, location_id)

    def list(self, *, only_active: bool = False) -> Sequence[Location]:
        c = self._table.c
        return self._session.select(
            self._mapper,
            [c.is_active.is_(True)] if only_active else [],
            lambda e: e.is_active or not only_active,
            lambda e: e.code,
            order_by=[self._session.ordered_text(c.code)],
        )


class SupplierRepository(CodedRepository[Supplier, SupplierId]):
    """:class:`~bookingcore.ports.SupplierRepository` in SQL."""

    def list(self, query: SupplierFilter, page: PageRequest) -> Page[Supplier]:
        c = self._table.c
        where: list[ColumnElement[bool]] = []
        if query.only_active:
            where.append(c.is_active.is_(True))
        text = self._session.search.contains(query.text, [c.code, c.name, c.email])
        if text is not None:
            where.append(text)
        return self._session.page(self._mapper, where, query.matches, page)


class ProductRepository(CodedRepository[Product, ProductId]):
    """:class:`~bookingcore.ports.ProductRepository` in SQL."""

    def list(self, query: ProductFilter, page: PageRequest) -> Page[Product]:
        c = self._table.c
        where: list[ColumnElement[bool]] = []
        if query.only_active:
            active = select(suppliers.c.id).where(suppliers.c.is_active.is_(True))
            where += [
                c.is_active.is_(True),
                or_(c.supplier_id.is_(None), c.supplier_id.in_(active)),
            ]
        if query.kind is not None:
            where.append(c.kind == query.kind.value)
        if query.location_id is not None:
            where.append(c.location_id == query.location_id)
        if query.supplier_id is not None:
            where.append(c.supplier_id == query.supplier_id)
        text = self._session.search.contains(query.text, [c.code, c.name, c.description])
        if text is not None:
            where.append(text)
        # Rows this unit of work already holds are checked in Python without their
        # supplier: a catalogue read holds none but those this query loads.
        return self._session.page(self._mapper, where, query.matches, page)


class SlotRepository(Repository[Slot]):
    """:class:`~bookingcore.ports.SlotRepository` in SQL."""

    def get(self, slot_id: SlotId) -> Slot | None:
        return self._get(slot_id)

    def get_for_update(self, slot_id: SlotId) -> Slot | None:
        # Booking reads the slot's location next, while it holds the slot's lock.
        return self._session.lock(self._mapper, slot_id, parent=(LOCATIONS, "location_id"))

    def list(self, query: SlotFilter, page: PageRequest) -> Page[Slot]:
        c = self._table.c
        after = page.after
        found = self._session.select(
            self._mapper,
            [*slot_where(query), *keyset_after_earliest(c.starts_at, c.id, after)],
            lambda s: query.matches(s) and (after is None or after.precedes(s.starts_at, s.id)),
            lambda s: (s.starts_at, s.id.bytes),
            order_by=[c.starts_at, c.id],
            limit=page.limit + 1,
        )
        chosen = found[: page.limit]
        more = len(found) > page.limit and chosen
        return Page(chosen, Cursor(chosen[-1].starts_at, chosen[-1].id).encode() if more else None)

    def tally(
        self, query: SlotFilter, by: Grouping, *, zone: ZoneInfo = UTC_ZONE
    ) -> Sequence[SlotTally]:
        check_slot_grouping(by)
        connection = self._session.connection()
        statement = _slot_tally(by, connection.dialect.name, zone)
        where = slot_where(query)
        found: Sequence[Sequence[Any]]
        if where:
            found = connection.execute(statement.where(*where)).all()
        else:
            # Every slot (the whole catalogue's report): the statement is the cached
            # one, run as it was compiled the first time.
            found = self._session.fixed_rows(statement)
        if by is Grouping.STARTS_MONTH:
            return [
                SlotTally(read_period(key), slots, int(unlimited), int(capacity), int(held))
                for key, slots, unlimited, capacity, held in found
            ]
        return [
            SlotTally(key, slots, int(unlimited), int(capacity), int(held))
            for key, slots, unlimited, capacity, held in found
        ]

    def find_at(self, starts: Collection[tuple[LocationId, datetime]]) -> Sequence[Slot]:
        return self._find(("location_id", "starts_at"), starts, _slot_at)

    def find_exact(
        self, keys: Collection[tuple[LocationId, ProductId | None, datetime]]
    ) -> Sequence[Slot]:
        return self._find(("location_id", "product_id", "starts_at"), keys, _slot_key)

    def _find(
        self,
        columns: tuple[str, ...],
        wanted: Collection[tuple[Any, ...]],
        key: Callable[[Slot], tuple[Any, ...]],
    ) -> builtins.list[Slot]:
        ordered = list(set(wanted))
        found: builtins.list[Slot] = []
        for start in range(0, len(ordered), TUPLE_COUNTS[-1]):
            batch = ordered[start : start + TUPLE_COUNTS[-1]]
            asked = set(batch)
            found.extend(
                self._session.select_tuples(
                    self._mapper,
                    columns,
                    batch,
                    lambda s, asked=asked: key(s) in asked,  # type: ignore[misc]
                )
            )
        return sorted(found, key=lambda s: (s.starts_at, s.id.bytes))


def _slot_at(slot: Slot) -> tuple[Any, ...]:
    return (slot.location_id, slot.starts_at)


def _slot_key(slot: Slot) -> tuple[Any, ...]:
    return (slot.location_id, slot.product_id, slot.starts_at)
