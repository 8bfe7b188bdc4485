"""Events and records in SQL: lifecycle events, audit entries, the outbox, its
deliveries, communications, documents and the idempotency key registry.

Tables, mapping and repositories together.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Collection, Mapping, Sequence
from datetime import datetime
from uuid import UUID

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    ColumnElement,
    Connection,
    Identity,
    Index,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
    Uuid,
    and_,
    delete,
    event,
    func,
    literal,
    or_,
    select,
    text,
)

from bookingcore.domain.audit import AuditEntry
from bookingcore.domain.communications import (
    Channel,
    Communication,
    CommunicationStatus,
    CommunicationType,
)
from bookingcore.domain.documents import Document, DocumentKind
from bookingcore.domain.events import (
    Delivery,
    DeliveryStatus,
    DomainEvent,
    OutboxMessage,
    SerializedMessage,
)
from bookingcore.domain.idempotency import MAX_OPERATION, KeyClaim
from bookingcore.domain.lifecycle import LifecycleEvent
from bookingcore.domain.queries import Page, PageRequest
from bookingcore.domain.tallies import CommunicationTally, TransitionTally
from bookingcore.domain.values import (
    BookingId,
    CommunicationId,
    CustomerId,
    DocumentId,
)
from bookingcore.serialization import event_from_dict, event_to_dict, serialized_message
from bookingcore_adapters.sql._mapper import (
    Mapper,
    Row,
    Stored,
    actor_columns,
    json_copy,
    required_actor,
)
from bookingcore_adapters.sql._queries import (
    duration_summary,
    micros_between,
    read_duration,
    within,
)
from bookingcore_adapters.sql._repository import Repository
from bookingcore_adapters.sql._schema import (
    ENUM,
    UtcDateTime,
    json_type,
    metadata,
    ref,
    when,
)

__all__ = [
    "AUDIT",
    "COMMUNICATIONS",
    "DELIVERIES",
    "DOCUMENTS",
    "IDEMPOTENCY_KEYS",
    "LIFECYCLE_EVENTS",
    "OUTBOX",
    "AuditRepository",
    "CommunicationRepository",
    "DeliveryRepository",
    "DocumentRepository",
    "IdempotencyKeyRepository",
    "LifecycleEventRepository",
    "OutboxRepository",
    "audit_logs",
    "communications",
    "deliveries",
    "documents",
    "idempotency_keys",
    "lifecycle_events",
    "outbox",
]

#: Above every outbox sequence (a BIGINT identity).
_NO_SEQUENCE = 2**63 - 1
#: The first item of a row: the sort key of a relay's claimed rows (their sequence).
_FIRST = operator.itemgetter(0)


# --------------------------------------------------------------------------- tables


lifecycle_events = Table(
    "booking_lifecycle_events",
    metadata,
    Column("id", Uuid(), primary_key=True),
    ref("booking_id", "bookings.id", nullable=False),
    Column("booking_version", Integer(), nullable=False),
    Column("lifecycle", String(), nullable=False),
    Column("from_status", String()),
    Column("to_status", String(), nullable=False),
    Column("actor_type", ENUM, nullable=False),
    Column("actor_id", String()),
    Column("note", Text()),
    Column("idempotency_key", String(), unique=True),
    Column("request_fingerprint", String()),
    Column("metadata", json_type(), nullable=False),
    when("occurred_at"),
    UniqueConstraint("booking_id", "booking_version"),
)

audit_logs = Table(
    "booking_audit_logs",
    metadata,
    Column("id", Uuid(), primary_key=True),
    Column("entity", String(), nullable=False),
    Column("entity_id", Uuid(), nullable=False),
    ref("booking_id", "bookings.id", index=True),
    Column("action", ENUM, nullable=False),
    Column("changed_by_kind", ENUM, nullable=False),
    Column("changed_by_id", String()),
    Column("old_value", json_type(), nullable=False),
    Column("new_value", json_type(), nullable=False),
    Column("change_reason", Text()),
    Column("ip_address", String()),
    Column("user_agent", Text()),
    when("created_at"),
    # One entity's trail, oldest first whole or newest first by keyset pages.
    Index(None, "entity", "entity_id", "created_at", "id"),
)

outbox = Table(
    "outbox",
    metadata,
    Column(
        "sequence",
        BigInteger().with_variant(Integer(), "sqlite"),
        Identity(),
        primary_key=True,
    ),
    Column("event_id", Uuid(), nullable=False, unique=True),
    Column("event_name", String(), nullable=False),
    when("occurred_at"),
    Column("payload", json_type(), nullable=False),
    when("dispatched_at", nullable=True),
    when("published_at", nullable=True),
    sqlite_autoincrement=True,
)
Index(
    "ix_outbox_undispatched",
    outbox.c.sequence,
    postgresql_where=outbox.c.dispatched_at.is_(None),
    sqlite_where=outbox.c.dispatched_at.is_(None),
)
Index(
    "ix_outbox_unpublished",
    outbox.c.sequence,
    postgresql_where=outbox.c.published_at.is_(None),
    sqlite_where=outbox.c.published_at.is_(None),
)
#: Room left in each outbox page (PostgreSQL) for the two updates every message gets,
#: ``dispatched_at`` then ``published_at``: the new row version stays on its page.
OUTBOX_FILLFACTOR = 70


@event.listens_for(outbox, "after_create")
def _leave_room_in_outbox_pages(target: Table, connection: Connection, **_: object) -> None:
    if connection.dialect.name == "postgresql":
        name = connection.dialect.identifier_preparer.format_table(target)
        connection.execute(text(f"ALTER TABLE {name} SET (fillfactor = {OUTBOX_FILLFACTOR})"))


deliveries = Table(
    "event_deliveries",
    metadata,
    Column("id", Uuid(), primary_key=True),
    Column("event_id", Uuid(), nullable=False),
    Column("handler", String(), nullable=False),
    Column("status", ENUM, nullable=False),
    Column("attempts", Integer(), nullable=False),
    Column("last_error", Text()),
    when("next_attempt_at", nullable=True),
    when("completed_at", nullable=True),
    UniqueConstraint("event_id", "handler"),
    Index(None, "status", "next_attempt_at"),
)

communications = Table(
    "booking_communications",
    metadata,
    Column("id", Uuid(), primary_key=True),
    ref("booking_id", "bookings.id", index=True, ondelete="CASCADE"),
    ref("customer_id", "customers.id", nullable=False, index=True),
    Column("type", ENUM, nullable=False),
    Column("channel", ENUM, nullable=False),
    Column("status", ENUM, nullable=False),
    Column("recipient", String(), nullable=False),
    Column("subject", String()),
    Column("content", Text(), nullable=False),
    Column("template_used", String()),
    Column("dedupe_key", String(), unique=True),
    Column("request_fingerprint", String()),
    Column("provider_message_id", String(), unique=True),
    when("sent_at", nullable=True),
    when("delivered_at", nullable=True),
    when("opened_at", nullable=True),
    when("clicked_at", nullable=True),
    when("failed_at", nullable=True),
    Column("failed_reason", Text()),
    Column("created_by_kind", ENUM, nullable=False),
    Column("created_by_id", String()),
    when("created_at"),
    Column("source_event_id", Uuid()),
    when("sending_since", nullable=True),
    # The token of the sender holding the message at the gateway (migration 0049).
    Column("sending_claim", Uuid()),
    # How often it went to its channel, and whether its last failure may work later
    # (migration 0050; NULL when unknown).
    Column("attempts", Integer(), nullable=False, server_default="0"),
    Column("retryable", Boolean()),
    Index(None, "type", "status"),
    # The engagement report's period (migration 0043): sent messages by sent_at,
    # messages refused outright by failed_at.
    Index(None, "sent_at"),
    Index(None, "failed_at"),
    # Stalled messages (migration 0048): pending ones by when they were handed over.
    # Only pending messages carry sending_since, so the index holds just those.
    Index(
        "ix_booking_communications_sending_since",
        "sending_since",
        postgresql_where=text("sending_since IS NOT NULL"),
        sqlite_where=text("sending_since IS NOT NULL"),
    ),
)

documents = Table(
    "booking_documents",
    metadata,
    Column("id", Uuid(), primary_key=True),
    ref("booking_id", "bookings.id", nullable=False, index=True, ondelete="CASCADE"),
    Column("kind", ENUM, nullable=False),
    Column("filename", String(), nullable=False),
    Column("media_type", String(), nullable=False),
    Column("content", Text(), nullable=False),
    when("created_at"),
    Column("source_event_id", Uuid()),
    # The staff member who generated it on demand (an actor's id, no foreign key, as
    # every actor column); NULL for a document an automation made (source_event_id).
    Column("generated_by", Uuid()),
    # The quotation revision a quotation document was generated from (revision 0054).
    # Quotations are never deleted, so the reference restricts.
    ref("quotation_id", "quotations.id", index=True),
)

#: The key registry: which kind of operation each stored idempotency key belongs to.
#: The id derives from the key (``key_claim_id``); the key is unique on its own too.
idempotency_keys = Table(
    "idempotency_keys",
    metadata,
    Column("id", Uuid(), primary_key=True),
    Column("key", String(), nullable=False, unique=True),
    Column("operation", String(MAX_OPERATION), nullable=False),
    when("created_at"),
    Column("made_id", Uuid()),
)


# --------------------------------------------------------------------------- mapping


def _dump_lifecycle_event(e: LifecycleEvent) -> Row:
    return {
        "id": e.id,
        "booking_id": e.booking_id,
        "booking_version": e.booking_version,
        "lifecycle": e.lifecycle,
        "from_status": e.from_status,
        "to_status": e.to_status,
        **actor_columns("actor_type", "actor_id", e.actor),
        "note": e.note,
        "idempotency_key": e.idempotency_key,
        "request_fingerprint": e.request_fingerprint,
        "metadata": json_copy(e.metadata),
        "occurred_at": e.occurred_at,
    }


def _load_lifecycle_event(r: Stored, _: Sequence[Stored]) -> LifecycleEvent:
    return LifecycleEvent(
        id=r["id"],
        booking_id=r["booking_id"],
        booking_version=r["booking_version"],
        lifecycle=r["lifecycle"],
        from_status=r["from_status"],
        to_status=r["to_status"],
        actor=required_actor(r, "actor_type", "actor_id"),
        occurred_at=r["occurred_at"],
        note=r["note"],
        idempotency_key=r["idempotency_key"],
        request_fingerprint=r["request_fingerprint"],
        metadata=dict(r["metadata"]),
    )


def _dump_audit_entry(a: AuditEntry) -> Row:
    return {
        "id": a.id,
        "entity": a.entity,
        "entity_id": a.entity_id,
        "booking_id": a.booking_id,
        "action": a.action.value,
        **actor_columns("changed_by_kind", "changed_by_id", a.actor),
        "old_value": json_copy(a.old_values),
        "new_value": json_copy(a.new_values),
        "change_reason": a.reason,
        "ip_address": a.ip_address,
        "user_agent": a.user_agent,
        "created_at": a.occurred_at,
    }


def _load_audit_entry(r: Stored, _: Sequence[Stored]) -> AuditEntry:
    return AuditEntry(
        id=r["id"],
        entity=r["entity"],
        entity_id=r["entity_id"],
        action=r["action"],
        actor=required_actor(r, "changed_by_kind", "changed_by_id"),
        occurred_at=r["created_at"],
        old_values=r["old_value"],
        new_values=r["new_value"],
        reason=r["change_reason"],
        ip_address=r["ip_address"],
        user_agent=r["user_agent"],
        booking_id=r["booking_id"],
    )


# --------------------------------------------------------------------------- events


def _dump_outbox_message(m: OutboxMessage) -> Row:
    # ``sequence`` is the database's to give; it is never written from here.
    return {
        "event_id": m.event.id,
        "event_name": m.event.name,
        "occurred_at": m.event.occurred_at,
        "payload": event_to_dict(m.event)["data"],
        "dispatched_at": m.dispatched_at,
        "published_at": m.published_at,
    }


def _load_outbox_message(r: Stored, _: Sequence[Stored]) -> OutboxMessage:
    return OutboxMessage(
        event=event_from_dict({"name": r["event_name"], "data": r["payload"]}),
        sequence=r["sequence"],
        dispatched_at=r["dispatched_at"],
        published_at=r["published_at"],
    )


def _dump_delivery(d: Delivery) -> Row:
    return {
        "id": d.id,
        "event_id": d.event_id,
        "handler": d.handler,
        "status": d.status.value,
        "attempts": d.attempts,
        "last_error": d.last_error,
        "next_attempt_at": d.next_attempt_at,
        "completed_at": d.completed_at,
    }


def _load_delivery(r: Stored, _: Sequence[Stored]) -> Delivery:
    return Delivery(
        event_id=r["event_id"],
        handler=r["handler"],
        status=DeliveryStatus(r["status"]),
        attempts=r["attempts"],
        last_error=r["last_error"],
        next_attempt_at=r["next_attempt_at"],
        completed_at=r["completed_at"],
    )


# --------------------------------------------------------------------------- messages


def _dump_communication(c: Communication) -> Row:
    return {
        "id": c.id,
        "booking_id": c.booking_id,
        "customer_id": c.customer_id,
        "type": c.type.value,
        "channel": c.channel.value,
        "status": c.status.value,
        "recipient": c.recipient,
        "subject": c.subject,
        "content": c.content,
        "template_used": c.template_used,
        "dedupe_key": c.dedupe_key,
        "request_fingerprint": c.request_fingerprint,
        "provider_message_id": c.provider_message_id,
        "sent_at": c.sent_at,
        "delivered_at": c.delivered_at,
        "opened_at": c.opened_at,
        "clicked_at": c.clicked_at,
        "failed_at": c.failed_at,
        "failed_reason": c.failed_reason,
        **actor_columns("created_by_kind", "created_by_id", c.created_by),
        "created_at": c.created_at,
        "source_event_id": c.source_event_id,
        "sending_since": c.sending_since,
        "sending_claim": c.sending_claim,
        "attempts": c.attempts,
        "retryable": c.retryable,
    }


def _load_communication(r: Stored, _: Sequence[Stored]) -> Communication:
    return Communication(
        id=r["id"],
        customer_id=r["customer_id"],
        type=CommunicationType(r["type"]),
        channel=Channel(r["channel"]),
        recipient=r["recipient"],
        created_at=r["created_at"],
        created_by=required_actor(r, "created_by_kind", "created_by_id"),
        booking_id=r["booking_id"],
        status=CommunicationStatus(r["status"]),
        subject=r["subject"],
        content=r["content"],
        template_used=r["template_used"],
        dedupe_key=r["dedupe_key"],
        request_fingerprint=r["request_fingerprint"],
        provider_message_id=r["provider_message_id"],
        sent_at=r["sent_at"],
        delivered_at=r["delivered_at"],
        opened_at=r["opened_at"],
        clicked_at=r["clicked_at"],
        failed_at=r["failed_at"],
        failed_reason=r["failed_reason"],
        source_event_id=r["source_event_id"],
        sending_since=r["sending_since"],
        sending_claim=r["sending_claim"],
        attempts=r["attempts"],
        retryable=r["retryable"],
    )


def _dump_document(d: Document) -> Row:
    return {
        "id": d.id,
        "booking_id": d.booking_id,
        "kind": d.kind.value,
        "filename": d.filename,
        "media_type": d.media_type,
        "content": d.content,
        "created_at": d.created_at,
        "source_event_id": d.source_event_id,
        "generated_by": d.generated_by,
        "quotation_id": d.quotation_id,
    }


def _load_document(r: Stored, _: Sequence[Stored]) -> Document:
    return Document(
        id=r["id"],
        booking_id=r["booking_id"],
        kind=DocumentKind(r["kind"]),
        filename=r["filename"],
        media_type=r["media_type"],
        content=r["content"],
        created_at=r["created_at"],
        source_event_id=r["source_event_id"],
        generated_by=r["generated_by"],
        quotation_id=r["quotation_id"],
    )


LIFECYCLE_EVENTS = Mapper[LifecycleEvent](
    "lifecycleevent", lifecycle_events, _dump_lifecycle_event, _load_lifecycle_event
)
AUDIT = Mapper[AuditEntry]("auditentry", audit_logs, _dump_audit_entry, _load_audit_entry)
OUTBOX = Mapper[OutboxMessage](
    "outboxmessage",
    outbox,
    _dump_outbox_message,
    _load_outbox_message,
    key="event_id",
    generated="sequence",
)
DELIVERIES = Mapper[Delivery]("delivery", deliveries, _dump_delivery, _load_delivery)
COMMUNICATIONS = Mapper[Communication](
    "communication", communications, _dump_communication, _load_communication
)
DOCUMENTS = Mapper[Document]("document", documents, _dump_document, _load_document)


def _dump_key_claim(k: KeyClaim) -> Row:
    return {
        "id": k.id,
        "key": k.key,
        "operation": k.operation,
        "created_at": k.created_at,
        "made_id": k.made_id,
    }


def _load_key_claim(r: Stored, _: Sequence[Stored]) -> KeyClaim:
    return KeyClaim(
        key=r["key"],
        operation=r["operation"],
        created_at=r["created_at"],
        id=r["id"],
        made_id=r["made_id"],
    )


IDEMPOTENCY_KEYS = Mapper[KeyClaim]("keyclaim", idempotency_keys, _dump_key_claim, _load_key_claim)


# --------------------------------------------------------------------------- repositories


class LifecycleEventRepository(Repository[LifecycleEvent]):
    """:class:`~bookingcore.ports.LifecycleEventRepository` in SQL."""

    def list_for_booking(self, booking_id: BookingId) -> Sequence[LifecycleEvent]:
        c = self._table.c
        return self._session.select(
            self._mapper,
            [c.booking_id == booking_id],
            lambda e: e.booking_id == booking_id,
            lambda e: e.booking_version,
            order_by=[c.booking_version],
        )

    def get_by_idempotency_key(self, key: str) -> LifecycleEvent | None:
        return self._unique("idempotency_key", key, lambda e: e.idempotency_key)

    def tally_transitions(
        self, occurred_from: datetime | None, occurred_before: datetime | None
    ) -> Sequence[TransitionTally]:
        connection = self._session.connection()
        dialect = connection.dialect.name
        e = self._table.c
        # Each event with the time of the booking's event before it (``lag``, which may
        # be before the period): with a period, of the histories of the bookings that
        # moved in it only; without one, of every history, read once.
        where: list[ColumnElement[bool]] = []
        if occurred_from is not None or occurred_before is not None:
            moved = self._table.alias("moved")
            in_period = select(moved.c.booking_id).where(
                moved.c.from_status.is_not(None),
                *within(moved.c.occurred_at, occurred_from, occurred_before),
            )
            where.append(e.booking_id.in_(in_period))
        before = func.lag(e.occurred_at).over(partition_by=e.booking_id, order_by=e.booking_version)
        history = (
            select(
                e.lifecycle,
                e.from_status,
                e.to_status,
                e.occurred_at,
                before.label("before_at"),
            )
            .where(*where)
            .subquery()
        )
        h = history.c
        timed = (
            select(
                h.lifecycle,
                h.from_status,
                h.to_status,
                micros_between(h.before_at, h.occurred_at, dialect).label("micros"),
            )
            .where(
                h.from_status.is_not(None), *within(h.occurred_at, occurred_from, occurred_before)
            )
            .subquery()
        )
        keys = ["lifecycle", "from_status", "to_status"]
        return [
            TransitionTally(str(row[0]), str(row[1]), str(row[2]), read_duration(row[3:]))
            for row in connection.execute(duration_summary(timed, keys, dialect))
        ]


class AuditRepository(Repository[AuditEntry]):
    """:class:`~bookingcore.ports.AuditRepository` in SQL."""

    def list_for(self, entity: str, entity_id: UUID) -> Sequence[AuditEntry]:
        c = self._table.c
        return self._session.select(
            self._mapper,
            [c.entity == entity, c.entity_id == entity_id],
            lambda a: a.entity == entity and a.entity_id == entity_id,
            lambda a: (a.occurred_at, a.id.bytes),
            order_by=[c.created_at, c.id],
        )

    def page_for(self, entity: str, entity_id: UUID, page: PageRequest) -> Page[AuditEntry]:
        return self._page_with(page, entity=entity, entity_id=entity_id)


class OutboxRepository(Repository[OutboxMessage]):
    """:class:`~bookingcore.ports.OutboxRepository` in SQL."""

    def add(self, event: DomainEvent) -> None:  # type: ignore[override]
        self._session.add(self._mapper, OutboxMessage(event))

    def get(self, event_id: UUID) -> OutboxMessage | None:
        return self._get(event_id)

    def list_undispatched(self, limit: int) -> Sequence[OutboxMessage]:
        c = self._table.c
        return self._oldest(c.dispatched_at, lambda m: m.dispatched_at is None, limit)

    def list_unpublished(self, limit: int) -> Sequence[OutboxMessage]:
        c = self._table.c
        return self._oldest(c.published_at, lambda m: m.published_at is None, limit)

    def claim_unpublished(self, limit: int) -> Sequence[OutboxMessage]:
        c = self._table.c
        # Claimed to be marked with mark_published: no need to track what is only read.
        return self._oldest(
            c.published_at, lambda m: m.published_at is None, limit, skip_locked=True, track=False
        )

    def claim_to_publish(self, limit: int, at: datetime) -> Sequence[SerializedMessage]:
        # The relay's hot path: one UPDATE ... RETURNING claims, marks and reads the
        # batch (no second statement naming each message), the rows' JSON as stored.
        if self._session.tracked(self._mapper):
            # Messages this unit of work holds are judged as they are in memory.
            claimed = [m for m in self.claim_unpublished(limit) if m.sequence is not None]
            self.mark_published([m.id for m in claimed], at)
            return [serialized_message(m) for m in claimed]
        rows = self._session.claim_and_update_now(
            self._mapper,
            unset=("published_at",),
            order_by=("sequence",),
            limit=limit,
            values={"published_at": at},
            returning=("sequence", "event_id", "event_name", "occurred_at", "payload"),
        )
        rows.sort(key=_FIRST)  # RETURNING follows no order; the sequence comes first
        return [
            SerializedMessage(
                id=ident, name=name, occurred_at=when, payload=payload, sequence=sequence
            )
            for sequence, ident, name, when, payload in rows
        ]

    def mark_published(self, event_ids: Sequence[UUID], at: datetime) -> None:
        c = self._table.c
        wanted = set(event_ids)

        def published(message: OutboxMessage) -> None:
            message.published_at = at

        self._session.update_now(
            self._mapper,
            [c.event_id.in_(list(wanted)), c.published_at.is_(None)],
            {"published_at": at},
            lambda m: m.id in wanted and m.published_at is None,
            published,
        )

    def list_for_bookings(self, booking_ids: Collection[BookingId]) -> Sequence[OutboxMessage]:
        wanted = set(booking_ids)
        c = self._table.c
        about = c.payload["booking_id"].as_string()
        return self._session.select(
            self._mapper,
            [about.in_(sorted(str(ident) for ident in wanted))],
            lambda m: getattr(m.event, "booking_id", None) in wanted,
            lambda m: (m.sequence is None, m.sequence or 0),
            order_by=[c.sequence],
        )

    def delete_finished(self, before: datetime, *, published: bool, limit: int) -> int:
        c, dc = self._table.c, deliveries.c
        at = literal(before, UtcDateTime())
        unfinished = (
            (dc.status == DeliveryStatus.RETRYING.value)
            | dc.completed_at.is_(None)
            | (dc.completed_at >= at)
        )
        # The walk by sequence stops at the first message that occurred within the
        # retention: what follows is (all but clock skew) younger, and reading it
        # would make every short batch a scan of the whole retention's messages.
        young = select(func.min(c.sequence)).where(c.occurred_at >= at).scalar_subquery()
        where = [
            c.sequence < func.coalesce(young, literal(_NO_SEQUENCE, c.sequence.type)),
            c.occurred_at < at,
            c.dispatched_at < at,
            ~select(dc.id).where(dc.event_id == c.event_id, unfinished).exists(),
        ]
        if published:
            where.append(c.published_at < at)
        # This unit of work's own messages and deliveries are left alone.
        mine = list(self._session.tracked(self._mapper))
        mine += [d.event_id for d in self._session.tracked(DELIVERIES).values()]
        if mine:
            where.append(c.event_id.not_in(mine))
        chosen = select(c.event_id).where(*where).order_by(c.sequence).limit(limit)

        def prune(connection: Connection) -> int:
            locks = connection.dialect.name != "sqlite"  # SQLite: one writer at a time
            # Claimed (a relay's batch, a dispatcher's mark) rows are skipped, not waited for.
            claim = chosen.with_for_update(skip_locked=True, of=self._table) if locks else chosen
            found = list(connection.execute(claim).scalars())
            if not found:
                return 0
            # Their deliveries locked, then judged as they are now: one moved back to
            # retrying meanwhile (an operator's replay) keeps its message.
            current = select(dc.event_id, dc.status, dc.completed_at).where(dc.event_id.in_(found))
            if locks:
                current = current.with_for_update()
            kept = {
                event_id
                for event_id, status, completed_at in connection.execute(current)
                if status == DeliveryStatus.RETRYING.value
                or completed_at is None
                or completed_at >= before
            }
            going = [event_id for event_id in found if event_id not in kept]
            if going:
                connection.execute(delete(deliveries).where(dc.event_id.in_(going)))
                connection.execute(delete(self._table).where(c.event_id.in_(going)))
            return len(going)

        return self._session.write_now(self._mapper, prune)

    def _oldest(
        self,
        column: ColumnElement[datetime],
        keep: Callable[[OutboxMessage], bool],
        limit: int,
        *,
        skip_locked: bool = False,
        track: bool = True,
    ) -> list[OutboxMessage]:
        # Messages added in this unit of work have no sequence yet: they come last.
        return self._session.select(
            self._mapper,
            [column.is_(None)],
            keep,
            lambda m: (m.sequence is None, m.sequence or 0),
            order_by=[self._table.c.sequence],
            limit=limit,
            skip_locked=skip_locked,
            track=track,
        )


class DeliveryRepository(Repository[Delivery]):
    """:class:`~bookingcore.ports.DeliveryRepository` in SQL."""

    def get(self, event_id: UUID, handler: str) -> Delivery | None:
        return self._get(Delivery.key(event_id, handler))

    def claim_retry(self, event_id: UUID, handler: str, *, attempts: int) -> Delivery | None:
        c = self._table.c
        waiting = [c.status == DeliveryStatus.RETRYING.value, c.attempts == attempts]
        # Sets nothing new: the UPDATE is the row's lock and the database's check.
        return self._session.update_if_now(
            self._mapper, Delivery.key(event_id, handler), waiting, {"attempts": c.attempts}
        )

    def list_for_event(self, event_id: UUID) -> Sequence[Delivery]:
        c = self._table.c
        return self._session.select(
            self._mapper,
            [c.event_id == event_id],
            lambda d: d.event_id == event_id,
            lambda d: d.handler,
            order_by=[self._session.ordered_text(c.handler)],
        )

    def list_due(
        self, now: datetime, limit: int, *, handlers: Collection[str] | None = None
    ) -> Sequence[Delivery]:
        c = self._table.c
        due_at = func.coalesce(c.next_attempt_at, literal(now, UtcDateTime()))
        where = [
            c.status == DeliveryStatus.RETRYING.value,
            (c.next_attempt_at.is_(None)) | (c.next_attempt_at <= now),
        ]
        wanted = None if handlers is None else frozenset(handlers)
        if wanted is not None:
            where.append(c.handler.in_(sorted(wanted)))
        return self._session.select(
            self._mapper,
            where,
            lambda d: d.is_due(now) and (wanted is None or d.handler in wanted),
            lambda d: (d.next_attempt_at or now, d.handler, d.id.bytes),
            order_by=[due_at, self._session.ordered_text(c.handler), c.id],
            limit=limit,
        )


class CommunicationRepository(Repository[Communication]):
    """:class:`~bookingcore.ports.CommunicationRepository` in SQL."""

    def get(self, communication_id: CommunicationId) -> Communication | None:
        return self._get(communication_id)

    def get_by_dedupe_key(self, key: str) -> Communication | None:
        return self._unique("dedupe_key", key, lambda c: c.dedupe_key)

    def get_by_provider_message_id(self, provider_message_id: str) -> Communication | None:
        return self._unique(
            "provider_message_id", provider_message_id, lambda c: c.provider_message_id
        )

    def get_for_update(self, communication_id: CommunicationId) -> Communication | None:
        return self._session.lock(self._mapper, communication_id)

    def requeue_failed(
        self, communication_id: CommunicationId, *, at: datetime | None = None
    ) -> bool:
        # Communication.requeue() in one conditional UPDATE: the database decides.
        failed = self._table.c.status == CommunicationStatus.FAILED.value
        pending = {
            "status": CommunicationStatus.PENDING.value,
            "failed_at": None,
            "sending_since": at,
            "sending_claim": None,
        }
        return self._claim(communication_id, [failed], pending)

    def requeue_for_retry(
        self,
        communication_id: CommunicationId,
        *,
        at: datetime,
        failed_by: datetime,
        attempts_below: int,
    ) -> bool:
        # Communication.retry_due() and requeue() in one conditional UPDATE.
        c = self._table.c
        due = [
            c.status == CommunicationStatus.FAILED.value,
            c.retryable.is_(True),
            c.failed_at.is_not(None),
            c.failed_at <= failed_by,
            c.attempts < attempts_below,
        ]
        pending = {
            "status": CommunicationStatus.PENDING.value,
            "failed_at": None,
            "sending_since": at,
            "sending_claim": None,
        }
        return self._claim(communication_id, due, pending)

    def list_stalled(self, before: datetime, limit: int) -> Sequence[Communication]:
        return self._oldest_first(
            self._stalled(before),
            lambda m: (
                m.status is CommunicationStatus.PENDING
                and m.sending_since is not None
                and m.sending_since < before
            ),
            at="sending_since",
            limit=limit,
        )

    def claim_stalled(
        self,
        communication_id: CommunicationId,
        *,
        before: datetime,
        at: datetime,
        claim: UUID | None = None,
    ) -> bool:
        # The sweeper's claim in one conditional UPDATE: of two sweepers (or a
        # sweeper and a late resend) that listed it, the database lets one set it.
        values = {
            "sending_since": at,
            "sending_claim": claim,
            "attempts": self._table.c.attempts + 1,
        }
        return self._claim(communication_id, self._stalled(before), values)

    def claim_for_sending(
        self, communication_id: CommunicationId, *, claim: UUID, at: datetime
    ) -> bool:
        c = self._table.c
        free = [c.status == CommunicationStatus.PENDING.value, c.sending_claim.is_(None)]
        values = {"sending_claim": claim, "sending_since": at, "attempts": c.attempts + 1}
        return self._claim(communication_id, free, values)

    def settle_claim(self, communication_id: CommunicationId, claim: UUID) -> bool:
        held = [self._table.c.sending_claim == claim]
        return self._claim(communication_id, held, {"sending_claim": None})

    def _stalled(self, before: datetime) -> list[ColumnElement[bool]]:
        c = self._table.c
        return [
            c.status == CommunicationStatus.PENDING.value,
            c.sending_since.is_not(None),
            c.sending_since < before,
        ]

    def _claim(
        self,
        communication_id: CommunicationId,
        where: list[ColumnElement[bool]],
        values: Mapping[str, object],
    ) -> bool:
        claimed = self._session.update_if_now(self._mapper, communication_id, where, values)
        if claimed is None:
            # Another sender claimed it first: read it as that sender left it.
            self._session.lock(self._mapper, communication_id)
        return claimed is not None

    def list_for_booking(self, booking_id: BookingId) -> Sequence[Communication]:
        return self._oldest_with(booking_id=booking_id)

    def list_for_customer(self, customer_id: CustomerId) -> Sequence[Communication]:
        return self._oldest_with(customer_id=customer_id)

    def tally_engagement(
        self, sent_from: datetime | None, sent_before: datetime | None
    ) -> Sequence[CommunicationTally]:
        c = self._table.c
        # Two index-friendly halves: sent in the period, or never sent and failed in it.
        sent_in = and_(c.sent_at.is_not(None), *within(c.sent_at, sent_from, sent_before))
        refused_in = and_(
            c.sent_at.is_(None),
            c.failed_at.is_not(None),
            *within(c.failed_at, sent_from, sent_before),
        )
        delivered = or_(
            c.delivered_at.is_not(None), c.opened_at.is_not(None), c.clicked_at.is_not(None)
        )
        statement = (
            select(
                c.type,
                c.channel,
                func.count().filter(c.sent_at.is_not(None)),
                func.count().filter(delivered),
                func.count().filter(c.opened_at.is_not(None)),
                func.count().filter(c.clicked_at.is_not(None)),
                func.count().filter(c.status == CommunicationStatus.FAILED.value),
            )
            .where(or_(sent_in, refused_in))
            .group_by(c.type, c.channel)
        )
        return [
            CommunicationTally(str(row[0]), str(row[1]), *(int(n) for n in row[2:]))
            for row in self._session.connection().execute(statement)
        ]


class DocumentRepository(Repository[Document]):
    """:class:`~bookingcore.ports.DocumentRepository` in SQL."""

    def get(self, document_id: DocumentId) -> Document | None:
        return self._get(document_id)

    def list_for_booking(self, booking_id: BookingId) -> Sequence[Document]:
        return self._oldest_with(booking_id=booking_id)


class IdempotencyKeyRepository(Repository[KeyClaim]):
    """:class:`~bookingcore.ports.IdempotencyKeyRepository` in SQL."""

    def add_if_new(self, claim: KeyClaim) -> bool:
        # The id derives from the key: either unique key clashes with the other.
        return self._session.add_if_new(self._mapper, claim, ())

    def get(self, key: str) -> KeyClaim | None:
        return self._unique("key", key, lambda k: k.key)
