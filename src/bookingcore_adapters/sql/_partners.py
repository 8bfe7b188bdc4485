"""Third-party partners in SQL: table, mapping and repository."""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from typing import TypeVar
from uuid import UUID

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

from bookingcore.domain.partners import Partner, PartnerFilter
from bookingcore.domain.queries import Page, PageRequest
from bookingcore.domain.values import (
    EmailAddress,
    LocationId,
    PartnerId,
)
from bookingcore_adapters.sql._mapper import (
    Mapper,
    Row,
    Stored,
    json_copy,
    phone_of,
    phone_text,
)
from bookingcore_adapters.sql._repository import Repository
from bookingcore_adapters.sql._schema import (
    PHONE,
    ExactDecimal,
    json_type,
    metadata,
    when,
)

__all__ = ["PARTNERS", "PartnerRepository", "partners"]

E = TypeVar("E")


# --------------------------------------------------------------------------- tables


#: Partners by id. ``contact_email`` keeps the address as given; ``contact_email_key``
#: holds its :attr:`~bookingcore.domain.EmailAddress.match_key` (case folded), unique,
#: so two partners whose addresses differ only in case cannot both exist (migration
#: 0052), and a partner is found by its contact email through it.
partners = Table(
    "partners",
    metadata,
    Column("id", Uuid(), primary_key=True),
    Column("name", String(), nullable=False),
    Column("company_name", String(), nullable=False),
    Column("contact_email", String(), nullable=False),
    Column("contact_email_key", String(), nullable=False, unique=True),
    Column("contact_phone", PHONE),
    Column("api_key", String(), nullable=False, unique=True),
    Column("api_secret_hash", String()),
    Column("api_secret_last4", String()),
    Column("webhook_url", Text()),
    Column("webhook_secret", String()),
    Column("commission_rate", ExactDecimal()),
    Column("allowed_locations", json_type(), nullable=False),
    Column("is_active", Boolean(), nullable=False),
    Column("settings", json_type(), nullable=False),
    when("created_at"),
    when("updated_at"),
    Column("version", Integer(), nullable=False),
    # A rotated secret kept for a grace period (migration 0030).
    Column("previous_api_secret_hash", String()),
    when("previous_api_secret_expires_at", nullable=True),
    Column("previous_webhook_secret", String()),
    when("previous_webhook_secret_expires_at", nullable=True),
    # Its webhook endpoint answered 410 Gone: disabled since when, and why (migration 0053).
    when("webhook_disabled_at", nullable=True),
    Column("webhook_disabled_reason", Text()),
    Index(None, "is_active"),
    # Listed newest first by (created_at, id), keyset-paged.
    Index(None, "created_at", "id"),
)


# --------------------------------------------------------------------------- mapping


def _dump_partner(p: Partner) -> Row:
    return {
        "id": p.id,
        "name": p.name,
        "company_name": p.company_name,
        "contact_email": p.contact_email.value,
        "contact_email_key": p.contact_email.match_key,
        "contact_phone": phone_text(p.contact_phone),
        "api_key": p.api_key,
        "api_secret_hash": p.api_secret_hash,
        "api_secret_last4": p.api_secret_last4,
        "webhook_url": p.webhook_url,
        "webhook_secret": p.webhook_secret,
        "commission_rate": p.commission_rate,
        "allowed_locations": sorted(str(location) for location in p.allowed_location_ids),
        "is_active": p.is_active,
        "settings": json_copy(p.settings),
        "created_at": p.created_at,
        "updated_at": p.updated_at,
        "version": p.version,
        "previous_api_secret_hash": p.previous_api_secret_hash,
        "previous_api_secret_expires_at": p.previous_api_secret_expires_at,
        "previous_webhook_secret": p.previous_webhook_secret,
        "previous_webhook_secret_expires_at": p.previous_webhook_secret_expires_at,
        "webhook_disabled_at": p.webhook_disabled_at,
        "webhook_disabled_reason": p.webhook_disabled_reason,
    }


def _load_partner(r: Stored, _: Sequence[Stored]) -> Partner:
    return Partner(
        id=r["id"],
        name=r["name"],
        company_name=r["company_name"],
        contact_email=EmailAddress.from_stored(r["contact_email"]),
        api_key=r["api_key"],
        created_at=r["created_at"],
        updated_at=r["updated_at"],
        contact_phone=phone_of(r["contact_phone"]),
        api_secret_hash=r["api_secret_hash"],
        api_secret_last4=r["api_secret_last4"],
        webhook_url=r["webhook_url"],
        webhook_secret=r["webhook_secret"],
        commission_rate=r["commission_rate"],
        allowed_location_ids=frozenset(LocationId(UUID(value)) for value in r["allowed_locations"]),
        is_active=r["is_active"],
        settings=dict(r["settings"]),
        version=r["version"],
        previous_api_secret_hash=r["previous_api_secret_hash"],
        previous_api_secret_expires_at=r["previous_api_secret_expires_at"],
        previous_webhook_secret=r["previous_webhook_secret"],
        previous_webhook_secret_expires_at=r["previous_webhook_secret_expires_at"],
        webhook_disabled_at=r["webhook_disabled_at"],
        webhook_disabled_reason=r["webhook_disabled_reason"],
    )


PARTNERS = Mapper[Partner]("partner", partners, _dump_partner, _load_partner, versioned=True)


# --------------------------------------------------------------------------- repositories


class PartnerRepository(Repository[Partner]):
    """:class:`~bookingcore.ports.PartnerRepository` in SQL."""

    def get(self, partner_id: PartnerId) -> Partner | None:
        return self._get(partner_id)

    def get_many(self, partner_ids: Collection[PartnerId]) -> Mapping[PartnerId, Partner]:
        return self._get_many(partner_ids, lambda p: p.id)

    def get_by_api_key(self, api_key: str) -> Partner | None:
        return self._session.find_unique(self._mapper, "api_key", api_key, lambda p: p.api_key)

    def list(self, query: PartnerFilter, page: PageRequest) -> Page[Partner]:
        c = self._table.c
        where: list[ColumnElement[bool]] = []
        if query.only_active:
            where.append(c.is_active.is_(True))
        if query.contact_email is not None:
            where.append(c.contact_email_key == query.contact_email.match_key)
        text = self._session.search.contains(query.text, [c.name, c.company_name, c.contact_email])
        if text is not None:
            where.append(text)
        return self._session.page(self._mapper, where, query.matches, page)
