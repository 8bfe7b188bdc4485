"""Customers and their travelers in SQL: tables, mapping and repositories."""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from typing import TypeVar

from sqlalchemy import (
    Column,
    ColumnElement,
    Date,
    Index,
    Integer,
    String,
    Table,
    Text,
    Uuid,
)

from bookingcore.domain.customers import Customer, Gender, Traveler
from bookingcore.domain.queries import (
    CustomerFilter,
    Page,
    PageRequest,
)
from bookingcore.domain.sources import BookingSource
from bookingcore.domain.values import (
    CustomerId,
    EmailAddress,
    PhoneNumber,
    TravelerId,
)
from bookingcore_adapters.sql._mapper import (
    Mapper,
    Row,
    Stored,
    actor_columns,
    actor_of,
    email_of,
    email_text,
    phone_of,
    phone_text,
)
from bookingcore_adapters.sql._queries import TextSearch, one_of, within
from bookingcore_adapters.sql._repository import Repository
from bookingcore_adapters.sql._schema import (
    ENUM,
    PHONE,
    metadata,
    ref,
    when,
)

__all__ = [
    "CUSTOMERS",
    "TRAVELERS",
    "CustomerRepository",
    "TravelerRepository",
    "customer_where",
    "customers",
    "travelers",
]

E = TypeVar("E")


# --------------------------------------------------------------------------- tables


customers = Table(
    "customers",
    metadata,
    Column("id", Uuid(), primary_key=True),
    Column("phone", PHONE, nullable=False, unique=True),
    Column("name", String()),
    Column("email", String()),
    # What customers are matched by: the address case folded (EmailAddress.match_key).
    Column("email_key", String()),
    Column("source", ENUM, nullable=False, index=True),
    ref("partner_id", "partners.id", index=True),
    ref("created_by_partner_id", "partners.id", index=True),
    Column("created_by_kind", ENUM),
    Column("created_by_id", String()),
    when("created_at"),
    when("updated_at"),
    Column("version", Integer(), nullable=False),
    ref("merged_into_id", "customers.id"),
    when("erased_at", nullable=True),
    Column("external_id", String(), unique=True),
    Index(None, "created_at", "id"),
    Index(None, "email_key"),
)


travelers = Table(
    "travelers",
    metadata,
    Column("id", Uuid(), primary_key=True),
    ref("customer_id", "customers.id", nullable=False, index=True),
    Column("name", String(), nullable=False),
    Column("age", Integer()),
    Column("birth_date", Date()),
    Column("gender", ENUM),
    Column("phone", PHONE),
    Column("emergency_contact_name", String()),
    Column("emergency_contact_phone", PHONE),
    Column("special_requirements", Text()),
    when("created_at"),
    when("updated_at"),
    when("deleted_at", nullable=True),
    Column("version", Integer(), nullable=False),
)


# --------------------------------------------------------------------------- mapping


def _dump_customer(c: Customer) -> Row:
    return {
        "id": c.id,
        "phone": c.phone.e164,
        "name": c.name,
        "email": email_text(c.email),
        "email_key": None if c.email is None else c.email.match_key,
        "source": c.source.value,
        "partner_id": c.partner_id,
        "created_by_partner_id": c.created_by_partner_id,
        **actor_columns("created_by_kind", "created_by_id", c.created_by),
        "created_at": c.created_at,
        "updated_at": c.updated_at,
        "version": c.version,
        "merged_into_id": c.merged_into,
        "erased_at": c.erased_at,
        "external_id": c.external_id,
    }


def _load_customer(r: Stored, _: Sequence[Stored]) -> Customer:
    return Customer(
        id=r["id"],
        phone=PhoneNumber.from_stored(r["phone"]),
        created_at=r["created_at"],
        updated_at=r["updated_at"],
        name=r["name"],
        email=email_of(r["email"]),
        source=BookingSource(r["source"]),
        partner_id=r["partner_id"],
        created_by_partner_id=r["created_by_partner_id"],
        created_by=actor_of(r, "created_by_kind", "created_by_id"),
        version=r["version"],
        merged_into=r["merged_into_id"],
        erased_at=r["erased_at"],
        external_id=r["external_id"],
    )


def _dump_traveler(x: Traveler) -> Row:
    return {
        "id": x.id,
        "customer_id": x.customer_id,
        "name": x.name,
        "age": x.age,
        "birth_date": x.birth_date,
        "gender": None if x.gender is None else x.gender.value,
        "phone": phone_text(x.phone),
        "emergency_contact_name": x.emergency_contact_name,
        "emergency_contact_phone": phone_text(x.emergency_contact_phone),
        "special_requirements": x.special_requirements,
        "created_at": x.created_at,
        "updated_at": x.updated_at,
        "deleted_at": x.deleted_at,
        "version": x.version,
    }


def _load_traveler(r: Stored, _: Sequence[Stored]) -> Traveler:
    return Traveler(
        id=r["id"],
        customer_id=r["customer_id"],
        name=r["name"],
        created_at=r["created_at"],
        updated_at=r["updated_at"],
        age=r["age"],
        birth_date=r["birth_date"],
        gender=None if r["gender"] is None else Gender(r["gender"]),
        phone=phone_of(r["phone"]),
        emergency_contact_name=r["emergency_contact_name"],
        emergency_contact_phone=phone_of(r["emergency_contact_phone"]),
        special_requirements=r["special_requirements"],
        deleted_at=r["deleted_at"],
        version=r["version"],
    )


CUSTOMERS = Mapper[Customer]("customer", customers, _dump_customer, _load_customer, versioned=True)
TRAVELERS = Mapper[Traveler]("traveler", travelers, _dump_traveler, _load_traveler, versioned=True)


# --------------------------------------------------------------------------- queries


def customer_where(query: CustomerFilter, search: TextSearch) -> list[ColumnElement[bool]]:
    """:meth:`CustomerFilter.matches` as SQL over ``customers``."""
    c = customers.c
    found: list[ColumnElement[bool]] = [c.merged_into_id.is_(None)]
    if query.customer_id is not None:
        found.append(c.id == query.customer_id)
    if query.partner_id is not None:
        found.append(c.partner_id == query.partner_id)
    found += one_of(c.source, query.sources)
    found += within(c.created_at, query.created_from, query.created_before)
    text = search.matches(query.text, (c.name, c.email, c.phone))
    if text is not None:
        found.append(text)
    return found


# --------------------------------------------------------------------------- repositories


class CustomerRepository(Repository[Customer]):
    """:class:`~bookingcore.ports.CustomerRepository` in SQL."""

    def get(self, customer_id: CustomerId) -> Customer | None:
        return self._get(customer_id)

    def get_many(self, customer_ids: Collection[CustomerId]) -> Mapping[CustomerId, Customer]:
        return self._get_many(customer_ids, lambda c: c.id)

    def get_by_phone(self, phone: PhoneNumber) -> Customer | None:
        found = self._session.find_unique(self._mapper, "phone", phone.e164, lambda c: c.phone.e164)
        return self._survivor(found)

    def get_by_external_id(self, external_id: str) -> Customer | None:
        found = self._session.find_unique(
            self._mapper, "external_id", external_id, lambda c: c.external_id
        )
        return self._survivor(found)

    def _survivor(self, customer: Customer | None) -> Customer | None:
        """``customer``, or the customer it was merged into (merges never chain)."""
        if customer is None or customer.merged_into is None:
            return customer
        return self._get(customer.merged_into)

    def find_by_phones(self, phones: Collection[PhoneNumber]) -> Mapping[PhoneNumber, Customer]:
        wanted = {phone.e164 for phone in phones}
        if not wanted:
            return {}
        found = self._session.select(
            self._mapper,
            [self._table.c.phone.in_(sorted(wanted))],
            lambda c: c.phone.e164 in wanted,
            lambda c: c.phone.e164,
            order_by=[self._table.c.phone],
        )
        survivors = {
            c.merged_into: self._get(c.merged_into) for c in found if c.merged_into is not None
        }
        by_phone: dict[PhoneNumber, Customer] = {}
        for customer in found:
            if customer.merged_into is None:
                by_phone[customer.phone] = customer
            elif (survivor := survivors[customer.merged_into]) is not None:
                by_phone[customer.phone] = survivor
        return by_phone

    def find_by_emails(self, emails: Collection[EmailAddress]) -> Mapping[EmailAddress, Customer]:
        wanted = {email.match_key for email in emails}
        if not wanted:
            return {}
        c = self._table.c
        found = self._oldest_first(
            [c.email_key.in_(sorted(wanted)), c.merged_into_id.is_(None)],
            lambda x: x.email is not None and x.email.match_key in wanted and x.merged_into is None,
        )
        oldest: dict[str, Customer] = {}
        for customer in found:
            if customer.email is not None:
                oldest.setdefault(customer.email.match_key, customer)
        return {e: oldest[e.match_key] for e in emails if e.match_key in oldest}

    def list(self, query: CustomerFilter, page: PageRequest) -> Page[Customer]:
        where = customer_where(query, self._session.search)
        return self._session.page(self._mapper, where, query.matches, page)


class TravelerRepository(Repository[Traveler]):
    """:class:`~bookingcore.ports.TravelerRepository` in SQL."""

    def get(self, traveler_id: TravelerId) -> Traveler | None:
        return self._get(traveler_id)

    def list_for_customer(
        self, customer_id: CustomerId, *, include_deleted: bool = False
    ) -> Sequence[Traveler]:
        c = self._table.c
        where = [c.customer_id == customer_id]
        if not include_deleted:
            where.append(c.deleted_at.is_(None))
        return self._oldest_first(
            where,
            lambda t: t.customer_id == customer_id and (include_deleted or t.deleted_at is None),
        )

    def list_for_customers(
        self, customer_ids: Collection[CustomerId]
    ) -> Mapping[CustomerId, Sequence[Traveler]]:
        wanted = set(customer_ids)
        if not wanted:
            return {}
        c = self._table.c
        found = self._oldest_first(
            [c.customer_id.in_(sorted(wanted, key=lambda i: i.bytes)), c.deleted_at.is_(None)],
            lambda t: t.customer_id in wanted and t.deleted_at is None,
        )
        by_customer: dict[CustomerId, list[Traveler]] = {}
        for traveler in found:
            by_customer.setdefault(traveler.customer_id, []).append(traveler)
        return by_customer
