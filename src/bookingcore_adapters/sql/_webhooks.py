"""Partner webhooks in SQL: deliveries and their attempt log; tables, mapping and repositories.

Due deliveries are claimed with ``SELECT ... FOR UPDATE SKIP LOCKED`` on
PostgreSQL (SQLite takes its write lock first), so workers that claim at the
same time get different deliveries.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
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
    UniqueConstraint,
    Uuid,
)

from bookingcore.domain.partner_webhooks import (
    WebhookAttempt,
    WebhookDelivery,
    WebhookDeliveryStatus,
    WebhookTopic,
)
from bookingcore.domain.queries import Page, PageRequest
from bookingcore.domain.values import BookingId, PartnerId
from bookingcore_adapters.sql._mapper import Mapper, Row, Stored, json_copy
from bookingcore_adapters.sql._repository import Repository
from bookingcore_adapters.sql._schema import ENUM, json_type, metadata, ref, when

__all__ = [
    "WEBHOOK_ATTEMPTS",
    "WEBHOOK_DELIVERIES",
    "WebhookAttemptRepository",
    "WebhookDeliveryRepository",
    "webhook_attempts",
    "webhook_deliveries",
]

_PENDING = WebhookDeliveryStatus.PENDING.value


# --------------------------------------------------------------------------- tables


webhook_deliveries = Table(
    "webhook_deliveries",
    metadata,
    Column("id", Uuid(), primary_key=True),
    Column("webhook_id", String(40), nullable=False, unique=True),
    ref("partner_id", "partners.id", nullable=False),
    Column("event_id", Uuid(), nullable=False),
    Column("topic", ENUM, nullable=False),
    Column("booking_id", Uuid(), index=True),
    Column("payload", json_type(), nullable=False),
    Column("status", ENUM, nullable=False),
    Column("attempts", Integer(), nullable=False),
    Column("failures", Integer(), nullable=False),
    when("created_at"),
    when("next_attempt_at"),
    when("claimed_until", nullable=True),
    when("last_attempt_at", nullable=True),
    Column("last_status_code", Integer()),
    Column("last_error", Text()),
    when("delivered_at", nullable=True),
    when("dead_at", nullable=True),
    Column("version", Integer(), nullable=False),
)
# What the job claims: only pending rows are in it.
Index(
    "ix_webhook_deliveries_due",
    webhook_deliveries.c.next_attempt_at,
    postgresql_where=webhook_deliveries.c.status == _PENDING,
    sqlite_where=webhook_deliveries.c.status == _PENDING,
)
Index(
    "ix_webhook_deliveries_partner",
    webhook_deliveries.c.partner_id,
    webhook_deliveries.c.created_at,
    webhook_deliveries.c.id,
)
Index("ix_webhook_deliveries_created", webhook_deliveries.c.created_at, webhook_deliveries.c.id)

webhook_attempts = Table(
    "webhook_attempts",
    metadata,
    Column("id", Uuid(), primary_key=True),
    ref("delivery_id", "webhook_deliveries.id", nullable=False, ondelete="CASCADE"),
    Column("number", Integer(), nullable=False),
    when("started_at"),
    Column("url", Text(), nullable=False),
    Column("succeeded", Boolean(), nullable=False),
    Column("latency_ms", Integer(), nullable=False),
    Column("status_code", Integer()),
    Column("error", Text()),
    Column("response_excerpt", Text()),
    UniqueConstraint("delivery_id", "number"),
)


# --------------------------------------------------------------------------- mapping


def _dump_delivery(d: WebhookDelivery) -> Row:
    return {
        "id": d.id,
        "webhook_id": d.webhook_id,
        "partner_id": d.partner_id,
        "event_id": d.event_id,
        "topic": d.topic.value,
        "booking_id": d.booking_id,
        "payload": json_copy(d.payload),
        "status": d.status.value,
        "attempts": d.attempts,
        "failures": d.failures,
        "created_at": d.created_at,
        "next_attempt_at": d.next_attempt_at,
        "claimed_until": d.claimed_until,
        "last_attempt_at": d.last_attempt_at,
        "last_status_code": d.last_status_code,
        "last_error": d.last_error,
        "delivered_at": d.delivered_at,
        "dead_at": d.dead_at,
        "version": d.version,
    }


def _load_delivery(r: Stored, _: Sequence[Stored]) -> WebhookDelivery:
    return WebhookDelivery(
        id=r["id"],
        webhook_id=r["webhook_id"],
        partner_id=PartnerId(r["partner_id"]),
        event_id=r["event_id"],
        topic=WebhookTopic(r["topic"]),
        payload=json_copy(r["payload"]),
        created_at=r["created_at"],
        next_attempt_at=r["next_attempt_at"],
        booking_id=r["booking_id"],
        status=WebhookDeliveryStatus(r["status"]),
        attempts=r["attempts"],
        failures=r["failures"],
        claimed_until=r["claimed_until"],
        last_attempt_at=r["last_attempt_at"],
        last_status_code=r["last_status_code"],
        last_error=r["last_error"],
        delivered_at=r["delivered_at"],
        dead_at=r["dead_at"],
        version=r["version"],
    )


def _dump_attempt(a: WebhookAttempt) -> Row:
    return {
        "id": a.id,
        "delivery_id": a.delivery_id,
        "number": a.number,
        "started_at": a.started_at,
        "url": a.url,
        "succeeded": a.succeeded,
        "latency_ms": a.latency_ms,
        "status_code": a.status_code,
        "error": a.error,
        "response_excerpt": a.response_excerpt,
    }


def _load_attempt(r: Stored, _: Sequence[Stored]) -> WebhookAttempt:
    return WebhookAttempt(
        id=r["id"],
        delivery_id=r["delivery_id"],
        number=r["number"],
        started_at=r["started_at"],
        url=r["url"],
        succeeded=bool(r["succeeded"]),
        latency_ms=r["latency_ms"],
        status_code=r["status_code"],
        error=r["error"],
        response_excerpt=r["response_excerpt"],
    )


WEBHOOK_DELIVERIES = Mapper[WebhookDelivery](
    "webhook_delivery", webhook_deliveries, _dump_delivery, _load_delivery, versioned=True
)
WEBHOOK_ATTEMPTS = Mapper[WebhookAttempt](
    "webhook_attempt", webhook_attempts, _dump_attempt, _load_attempt
)


# --------------------------------------------------------------------------- repositories


class WebhookDeliveryRepository(Repository[WebhookDelivery]):
    """:class:`~bookingcore.ports.WebhookDeliveryRepository` in SQL."""

    def get(self, delivery_id: UUID) -> WebhookDelivery | None:
        return self._get(delivery_id)

    def claim_due(self, now: datetime, limit: int) -> Sequence[WebhookDelivery]:
        c = self._table.c
        return self._session.claim(
            self._mapper,
            [
                c.status == _PENDING,
                c.next_attempt_at <= now,
                c.claimed_until.is_(None) | (c.claimed_until <= now),
            ],
            lambda d: d.is_due(now),
            lambda d: (d.next_attempt_at, d.id.bytes),
            order_by=[c.next_attempt_at, c.id],
            limit=limit,
        )

    def list(
        self,
        page: PageRequest,
        *,
        partner_id: PartnerId | None = None,
        status: WebhookDeliveryStatus | None = None,
    ) -> Page[WebhookDelivery]:
        c = self._table.c
        where: list[ColumnElement[bool]] = []
        if partner_id is not None:
            where.append(c.partner_id == partner_id)
        if status is not None:
            where.append(c.status == status.value)
        return self._session.page(
            self._mapper,
            where,
            lambda d: (
                (partner_id is None or d.partner_id == partner_id)
                and (status is None or d.status is status)
            ),
            page,
        )

    def list_for_booking(self, booking_id: BookingId) -> Sequence[WebhookDelivery]:
        return self._oldest_first(
            [self._table.c.booking_id == booking_id], lambda d: d.booking_id == booking_id
        )


class WebhookAttemptRepository(Repository[WebhookAttempt]):
    """:class:`~bookingcore.ports.WebhookAttemptRepository` in SQL."""

    def list_for_delivery(self, delivery_id: UUID) -> Sequence[WebhookAttempt]:
        c = self._table.c
        return self._session.select(
            self._mapper,
            [c.delivery_id == delivery_id],
            lambda a: a.delivery_id == delivery_id,
            lambda a: a.number,
            order_by=[c.number],
        )
