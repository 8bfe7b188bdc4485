"""Certificates in SQL: the table, its mapping and the repository."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime

from sqlalchemy import Column, ColumnElement, Index, Integer, String, Table, UniqueConstraint, Uuid

from bookingcore.domain.certificates import Certificate, CertificateFilter, CertificateId
from bookingcore.domain.queries import Page, PageRequest
from bookingcore.domain.values import CustomerId, TravelerId
from bookingcore_adapters.sql._mapper import Mapper, Row, Stored
from bookingcore_adapters.sql._repository import Repository
from bookingcore_adapters.sql._schema import metadata, ref, when

__all__ = ["CERTIFICATES", "CertificateRepository", "certificates"]

#: Seed 001's certificates: earned on a booking, by its customer or one of their travelers.
certificates = Table(
    "certificates",
    metadata,
    Column("id", Uuid(), primary_key=True),
    ref("customer_id", "customers.id", nullable=False, index=True),
    ref("booking_id", "bookings.id", nullable=False, index=True),
    ref("traveler_id", "travelers.id", index=True),
    Column("kind", String(100), nullable=False),
    Column("number", String(100), nullable=False),
    when("issued_at"),
    when("expires_at", nullable=True),
    when("reminded_for", nullable=True),
    when("created_at"),
    when("updated_at"),
    Column("version", Integer(), nullable=False),
    UniqueConstraint("kind", "number"),
    Index(None, "expires_at"),
    Index(None, "created_at", "id"),
)


def _dump(c: Certificate) -> Row:
    return {
        "id": c.id,
        "customer_id": c.customer_id,
        "booking_id": c.booking_id,
        "traveler_id": c.traveler_id,
        "kind": c.kind,
        "number": c.number,
        "issued_at": c.issued_at,
        "expires_at": c.expires_at,
        "reminded_for": c.reminded_for,
        "created_at": c.created_at,
        "updated_at": c.updated_at,
        "version": c.version,
    }


def _load(r: Stored, _: Sequence[Stored]) -> Certificate:
    return Certificate(
        id=r["id"],
        customer_id=r["customer_id"],
        booking_id=r["booking_id"],
        traveler_id=r["traveler_id"],
        kind=r["kind"],
        number=r["number"],
        issued_at=r["issued_at"],
        expires_at=r["expires_at"],
        reminded_for=r["reminded_for"],
        created_at=r["created_at"],
        updated_at=r["updated_at"],
        version=r["version"],
    )


CERTIFICATES = Mapper[Certificate]("certificate", certificates, _dump, _load, versioned=True)


class CertificateRepository(Repository[Certificate]):
    """:class:`~bookingcore.ports.CertificateRepository` in SQL."""

    def get(self, certificate_id: CertificateId) -> Certificate | None:
        return self._get(certificate_id)

    def get_by_number(self, kind: str, number: str) -> Certificate | None:
        found = self._oldest_with(kind=kind, number=number)
        return found[0] if found else None

    def list(self, query: CertificateFilter, page: PageRequest) -> Page[Certificate]:
        c = self._table.c
        where: list[ColumnElement[bool]] = []
        if query.kind is not None:
            where.append(c.kind == query.kind)
        if query.customer_id is not None:
            where.append(c.customer_id == query.customer_id)
        if query.expires_from is not None or query.expires_before is not None:
            where.append(c.expires_at.is_not(None))
        if query.expires_from is not None:
            where.append(c.expires_at >= query.expires_from)
        if query.expires_before is not None:
            where.append(c.expires_at < query.expires_before)
        return self._session.page(self._mapper, where, query.matches, page)

    def list_expiring(
        self, expires_by: datetime, *, after: datetime, limit: int
    ) -> Sequence[Certificate]:
        c = self._table.c
        return self._session.select(
            self._mapper,
            [
                c.expires_at > after,
                c.expires_at <= expires_by,
                (c.reminded_for.is_(None)) | (c.reminded_for != c.expires_at),
            ],
            lambda x: (
                x.expires_at is not None
                and after < x.expires_at <= expires_by
                and x.reminded_for != x.expires_at
            ),
            lambda x: (x.expires_at, x.id.bytes),
            order_by=[c.expires_at, c.id],
            limit=limit,
        )

    def held_by(
        self,
        customer_ids: Collection[CustomerId],
        traveler_ids: Collection[TravelerId],
        kinds: Collection[str],
    ) -> Sequence[Certificate]:
        travelers, owners, wanted = set(traveler_ids), set(customer_ids), set(kinds)
        if not wanted or not (travelers or owners):
            return []
        c = self._table.c
        own = (c.traveler_id.is_(None)) & (c.customer_id.in_(owners))
        holder = (c.traveler_id.in_(travelers) | own) if travelers else own
        return self._session.select(
            self._mapper,
            [c.kind.in_(wanted), holder],
            lambda x: (
                x.kind in wanted
                and (
                    x.traveler_id in travelers
                    or (x.traveler_id is None and x.customer_id in owners)
                )
            ),
            lambda x: (x.created_at, x.id.bytes),
            order_by=[c.created_at, c.id],
        )
