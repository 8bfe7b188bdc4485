"""The data mapper: explicit functions from each entity to its rows and back.

The domain classes stay plain attrs classes; nothing here instruments them.
Each :class:`Mapper` knows its table, the column that holds the entity's id,
whether the entity carries an optimistic ``version``, and (for bookings) the
child table that holds its travelers.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping, Sequence
from decimal import Decimal
from typing import Any, Generic, TypeVar
from uuid import UUID

import attrs
from sqlalchemy import Table

from bookingcore.domain.audit import AuditEntry
from bookingcore.domain.auth import AuthSession, RevocationReason
from bookingcore.domain.bookings import Booking, BookingTraveler
from bookingcore.domain.catalog import Location, Product, ProductKind, Supplier
from bookingcore.domain.communications import (
    Channel,
    Communication,
    CommunicationStatus,
    CommunicationType,
)
from bookingcore.domain.customers import Customer, Gender, Traveler
from bookingcore.domain.documents import Document, DocumentKind
from bookingcore.domain.events import Delivery, DeliveryStatus, OutboxMessage
from bookingcore.domain.groups import BookingGroup
from bookingcore.domain.imports import CellProblem, ImportJob, ImportRowError, ImportStatus
from bookingcore.domain.items import BookingItem
from bookingcore.domain.lifecycle import LifecycleEvent
from bookingcore.domain.partners import Partner
from bookingcore.domain.payments import Payment, Refund
from bookingcore.domain.policy import PrincipalKind, StaffRole
from bookingcore.domain.pricing import DiscountTier
from bookingcore.domain.slots import Slot
from bookingcore.domain.sources import BookingSource
from bookingcore.domain.staff import StaffMember
from bookingcore.domain.values import Actor, EmailAddress, LocationId, Money, PhoneNumber
from bookingcore.domain.waitlist import WaitlistEntry
from bookingcore.serialization import event_from_dict, event_to_dict
from bookingcore_adapters.sql import _commerce as commerce
from bookingcore_adapters.sql import _tables as t

__all__ = [
    "AUDIT",
    "AUTH_SESSIONS",
    "BOOKINGS",
    "BOOKING_GROUPS",
    "BOOKING_ITEMS",
    "COMMUNICATIONS",
    "CUSTOMERS",
    "DELIVERIES",
    "DOCUMENTS",
    "IMPORTS",
    "IMPORT_ERRORS",
    "LIFECYCLE_EVENTS",
    "LOCATIONS",
    "MAPPERS",
    "OUTBOX",
    "PARTNERS",
    "PAYMENTS",
    "PRODUCTS",
    "REFUNDS",
    "SLOTS",
    "STAFF",
    "SUPPLIERS",
    "TRAVELERS",
    "WAITLIST",
    "Mapper",
    "Row",
]

E = TypeVar("E")

#: One row as column name -> Python value (before the column types convert it).
Row = dict[str, Any]
#: A row as it comes back from a query.
Stored = Mapping[Any, Any]


def _no_children(entity: Any) -> list[Row]:
    return []


@attrs.frozen
class Mapper(Generic[E]):
    """How one entity type is stored.

    ``dump`` gives the entity's row, ``load`` rebuilds the entity from its row
    and its child rows; ``dump(load(row, children)) == dump(entity)`` for every
    stored entity, which is what change detection relies on.
    """

    entity: str
    table: Table
    dump: Callable[[E], Row]
    load: Callable[[Stored, Sequence[Stored]], E]
    key: str = "id"
    versioned: bool = False
    child_table: Table | None = None
    dump_children: Callable[[E], list[Row]] = _no_children

    def identity(self, entity: E) -> UUID:
        """The entity's id (the value of its key column)."""
        ident: UUID = getattr(entity, "id")  # noqa: B009 - every stored entity has an id
        return ident


# --------------------------------------------------------------------------- helpers


def _json(value: Mapping[str, Any] | None) -> dict[str, Any]:
    """A private copy, so a snapshot never shares a mutable value with its entity.

    Strings, numbers, booleans and None are shared (they cannot change); nested
    containers are copied deeply. Most metadata is flat, and a deep copy of
    every value costs more than the rest of a row's dump.
    """
    copied = dict(value or {})
    for key, item in copied.items():
        if not isinstance(item, _IMMUTABLE):
            copied[key] = copy.deepcopy(item)
    return copied


_IMMUTABLE = (str, int, float, type(None))


def _phone(value: PhoneNumber | None) -> str | None:
    return None if value is None else value.e164


def _email(value: EmailAddress | None) -> str | None:
    return None if value is None else value.value


def _phone_of(value: str | None) -> PhoneNumber | None:
    return None if value is None else PhoneNumber.from_stored(value)


def _email_of(value: str | None) -> EmailAddress | None:
    return None if value is None else EmailAddress.from_stored(value)


def _actor_columns(kind: str, ident: str, actor: Actor | None) -> Row:
    if actor is None:
        return {kind: None, ident: None}
    return {kind: actor.kind.value, ident: actor.id}


def _actor_of(row: Stored, kind: str, ident: str) -> Actor | None:
    return None if row[kind] is None else Actor(row[kind], row[ident])


def _required_actor(row: Stored, kind: str, ident: str) -> Actor:
    return Actor(row[kind], row[ident])


# --------------------------------------------------------------------------- customers


def _dump_customer(c: Customer) -> Row:
    return {
        "id": c.id,
        "phone": c.phone.e164,
        "name": c.name,
        "email": _email(c.email),
        "source": c.source.value,
        "partner_id": c.partner_id,
        "created_by_partner_id": c.created_by_partner_id,
        **_actor_columns("created_by_kind", "created_by_id", c.created_by),
        "created_at": c.created_at,
        "updated_at": c.updated_at,
        "version": c.version,
    }


def _load_customer(r: Stored, _: Sequence[Stored]) -> Customer:
    return Customer(
        id=r["id"],
        phone=PhoneNumber.from_stored(r["phone"]),
        created_at=r["created_at"],
        updated_at=r["updated_at"],
        name=r["name"],
        email=_email_of(r["email"]),
        source=BookingSource(r["source"]),
        partner_id=r["partner_id"],
        created_by_partner_id=r["created_by_partner_id"],
        created_by=_actor_of(r, "created_by_kind", "created_by_id"),
        version=r["version"],
    )


def _dump_traveler(x: Traveler) -> Row:
    return {
        "id": x.id,
        "customer_id": x.customer_id,
        "name": x.name,
        "age": x.age,
        "birth_date": x.birth_date,
        "gender": None if x.gender is None else x.gender.value,
        "phone": _phone(x.phone),
        "emergency_contact_name": x.emergency_contact_name,
        "emergency_contact_phone": _phone(x.emergency_contact_phone),
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
        phone=_phone_of(r["phone"]),
        emergency_contact_name=r["emergency_contact_name"],
        emergency_contact_phone=_phone_of(r["emergency_contact_phone"]),
        special_requirements=r["special_requirements"],
        deleted_at=r["deleted_at"],
        version=r["version"],
    )


# --------------------------------------------------------------------------- catalog


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
        "email": _email(x.email),
        "phone": _phone(x.phone),
        "is_active": x.is_active,
        "created_at": x.created_at,
    }


def _load_supplier(r: Stored, _: Sequence[Stored]) -> Supplier:
    return Supplier(
        id=r["id"],
        code=r["code"],
        name=r["name"],
        created_at=r["created_at"],
        email=_email_of(r["email"]),
        phone=_phone_of(r["phone"]),
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
    }


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
        version=r["version"],
    )


# --------------------------------------------------------------------------- bookings


def _dump_booking(b: Booking) -> Row:
    return {
        "id": b.id,
        "reference": b.reference,
        "customer_id": b.customer_id,
        "slot_id": b.slot_id,
        "location_id": b.location_id,
        "product_id": b.product_id,
        "supplier_id": b.supplier_id,
        "partner_id": b.partner_id,
        "created_by_partner_id": b.created_by_partner_id,
        "starts_at": b.starts_at,
        "lifecycle": b.lifecycle,
        "status": b.status,
        "source": b.source.value,
        "total_travelers": b.total_travelers,
        "primary_contact_traveler_id": b.primary_traveler.traveler_id,
        "subtotal_amount": b.subtotal.amount,
        "discount_amount": b.discount.amount,
        "total_amount": b.total.amount,
        "currency": b.total.currency,
        **_actor_columns("created_by_kind", "created_by_id", b.created_by),
        "referral_source": b.referral_source,
        "internal_notes": b.internal_notes,
        "external_id": b.external_id,
        "assignee_id": b.assignee_id,
        "group_id": b.group_id,
        "idempotency_key": b.idempotency_key,
        "request_fingerprint": b.request_fingerprint,
        "cancelled_at": b.cancelled_at,
        "cancellation_reason": b.cancellation_reason,
        "metadata": _json(b.metadata),
        "created_at": b.created_at,
        "updated_at": b.updated_at,
        "version": b.version,
    }


def _dump_booking_travelers(b: Booking) -> list[Row]:
    return [
        {
            "booking_id": b.id,
            "traveler_id": x.traveler_id,
            "position": position,
            "price_amount": x.price.amount,
            "price_currency": x.price.currency,
            "is_primary": x.is_primary,
            "special_requirements": x.special_requirements,
        }
        for position, x in enumerate(b.travelers)
    ]


def _load_booking(r: Stored, children: Sequence[Stored]) -> Booking:
    currency = r["currency"]
    travelers = tuple(
        BookingTraveler(
            traveler_id=c["traveler_id"],
            price=Money(c["price_amount"], c["price_currency"]),
            is_primary=c["is_primary"],
            special_requirements=c["special_requirements"],
        )
        for c in sorted(children, key=lambda c: c["position"])
    )
    return Booking(
        id=r["id"],
        reference=r["reference"],
        customer_id=r["customer_id"],
        slot_id=r["slot_id"],
        location_id=r["location_id"],
        starts_at=r["starts_at"],
        lifecycle=r["lifecycle"],
        status=r["status"],
        travelers=travelers,
        subtotal=Money(r["subtotal_amount"], currency),
        discount=Money(r["discount_amount"], currency),
        total=Money(r["total_amount"], currency),
        created_at=r["created_at"],
        updated_at=r["updated_at"],
        created_by=_required_actor(r, "created_by_kind", "created_by_id"),
        source=BookingSource(r["source"]),
        product_id=r["product_id"],
        supplier_id=r["supplier_id"],
        partner_id=r["partner_id"],
        created_by_partner_id=r["created_by_partner_id"],
        referral_source=r["referral_source"],
        internal_notes=r["internal_notes"],
        external_id=r["external_id"],
        assignee_id=r["assignee_id"],
        group_id=r["group_id"],
        idempotency_key=r["idempotency_key"],
        request_fingerprint=r["request_fingerprint"],
        cancelled_at=r["cancelled_at"],
        cancellation_reason=r["cancellation_reason"],
        metadata=dict(r["metadata"]),
        version=r["version"],
    )


# --------------------------------------------------------------------------- partners


def _dump_partner(p: Partner) -> Row:
    return {
        "id": p.id,
        "name": p.name,
        "company_name": p.company_name,
        "contact_email": p.contact_email.value,
        "contact_phone": _phone(p.contact_phone),
        "api_key": p.api_key,
        "api_secret_hash": p.api_secret_hash,
        "api_secret_last4": p.api_secret_last4,
        "webhook_url": p.webhook_url,
        "webhook_secret": p.webhook_secret,
        "commission_rate": p.commission_rate,
        "allowed_locations": sorted(str(location) for location in p.allowed_location_ids),
        "is_active": p.is_active,
        "settings": _json(p.settings),
        "created_at": p.created_at,
        "updated_at": p.updated_at,
        "version": p.version,
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
        contact_phone=_phone_of(r["contact_phone"]),
        api_secret_hash=r["api_secret_hash"],
        api_secret_last4=r["api_secret_last4"],
        webhook_url=r["webhook_url"],
        webhook_secret=r["webhook_secret"],
        commission_rate=r["commission_rate"],
        allowed_location_ids=frozenset(LocationId(UUID(value)) for value in r["allowed_locations"]),
        is_active=r["is_active"],
        settings=dict(r["settings"]),
        version=r["version"],
    )


# --------------------------------------------------------------------------- history


def _dump_lifecycle_event(e: LifecycleEvent) -> Row:
    return {
        "id": e.id,
        "booking_id": e.booking_id,
        "booking_version": e.booking_version,
        "lifecycle": e.lifecycle,
        "from_status": e.from_status,
        "to_status": e.to_status,
        **_actor_columns("actor_type", "actor_id", e.actor),
        "note": e.note,
        "idempotency_key": e.idempotency_key,
        "request_fingerprint": e.request_fingerprint,
        "metadata": _json(e.metadata),
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
        actor=_required_actor(r, "actor_type", "actor_id"),
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
        **_actor_columns("changed_by_kind", "changed_by_id", a.actor),
        "old_value": _json(a.old_values),
        "new_value": _json(a.new_values),
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
        actor=_required_actor(r, "changed_by_kind", "changed_by_id"),
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
        **_actor_columns("created_by_kind", "created_by_id", c.created_by),
        "created_at": c.created_at,
        "source_event_id": c.source_event_id,
    }


def _load_communication(r: Stored, _: Sequence[Stored]) -> Communication:
    return Communication(
        id=r["id"],
        customer_id=r["customer_id"],
        type=CommunicationType(r["type"]),
        channel=Channel(r["channel"]),
        recipient=r["recipient"],
        created_at=r["created_at"],
        created_by=_required_actor(r, "created_by_kind", "created_by_id"),
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
    )


# --------------------------------------------------------------------------- staff


def _dump_staff(x: StaffMember) -> Row:
    return {
        "id": x.id,
        "email": x.email.value,
        "name": x.name,
        "role": x.role.value,
        "locations": sorted(str(location) for location in x.location_ids),
        "supplier_id": x.supplier_id,
        "password_hash": x.password_hash,
        "is_active": x.is_active,
        "created_at": x.created_at,
        "updated_at": x.updated_at,
        "version": x.version,
    }


def _load_staff(r: Stored, _: Sequence[Stored]) -> StaffMember:
    return StaffMember(
        id=r["id"],
        email=EmailAddress.from_stored(r["email"]),
        name=r["name"],
        role=StaffRole(r["role"]),
        created_at=r["created_at"],
        updated_at=r["updated_at"],
        location_ids=frozenset(LocationId(UUID(v)) for v in r["locations"]),
        supplier_id=r["supplier_id"],
        password_hash=r["password_hash"],
        is_active=r["is_active"],
        version=r["version"],
    )


# --------------------------------------------------------------------------- import jobs


def _dump_import(x: ImportJob) -> Row:
    return {
        "id": x.id,
        "filename": x.filename,
        "file_format": x.file_format,
        "file_size": x.file_size,
        "file_digest": x.file_digest,
        **_actor_columns("created_by_kind", "created_by_id", x.created_by),
        "status": x.status.value,
        "import_settings": _json(x.settings),
        "total_rows": x.total_rows,
        "processed_rows": x.processed_rows,
        "created_rows": x.created,
        "updated_rows": x.updated,
        "skipped_rows": x.skipped,
        "failed_rows": x.failed,
        "error_summary": _json(x.error_summary),
        "cancel_requested": x.cancel_requested,
        "started_at": x.started_at,
        "completed_at": x.completed_at,
        "created_at": x.created_at,
        "updated_at": x.updated_at,
        "version": x.version,
    }


def _load_import(r: Stored, _: Sequence[Stored]) -> ImportJob:
    return ImportJob(
        id=r["id"],
        filename=r["filename"],
        file_format=r["file_format"],
        file_size=r["file_size"],
        file_digest=r["file_digest"],
        created_by=_required_actor(r, "created_by_kind", "created_by_id"),
        created_at=r["created_at"],
        updated_at=r["updated_at"],
        status=ImportStatus(r["status"]),
        settings=_json(r["import_settings"]),
        total_rows=r["total_rows"],
        processed_rows=r["processed_rows"],
        created=r["created_rows"],
        updated=r["updated_rows"],
        skipped=r["skipped_rows"],
        failed=r["failed_rows"],
        error_summary=_json(r["error_summary"]),
        cancel_requested=r["cancel_requested"],
        started_at=r["started_at"],
        completed_at=r["completed_at"],
        version=r["version"],
    )


def _dump_import_error(x: ImportRowError) -> Row:
    return {
        "id": x.id,
        "import_id": x.job_id,
        "row_number": x.row_number,
        "raw_row": dict(x.raw_row),
        "error_message": x.message,
        "error_type": x.error_type,
        "field_errors": [attrs.asdict(problem) for problem in x.problems],
        "created_at": x.created_at,
        "resolved_at": x.resolved_at,
    }


def _load_import_error(r: Stored, _: Sequence[Stored]) -> ImportRowError:
    return ImportRowError(
        id=r["id"],
        job_id=r["import_id"],
        row_number=r["row_number"],
        raw_row=dict(r["raw_row"]),
        problems=tuple(CellProblem(**problem) for problem in r["field_errors"]),
        created_at=r["created_at"],
        resolved_at=r["resolved_at"],
    )


# --------------------------------------------------------------------------- signed-in sessions


def _dump_auth_session(x: AuthSession) -> Row:
    return {
        "id": x.id,
        "kind": x.kind.value,
        "subject_id": x.subject_id,
        "created_at": x.created_at,
        "expires_at": x.expires_at,
        "refresh_jti": x.refresh_jti,
        "refreshed_at": x.refreshed_at,
        "revoked_at": x.revoked_at,
        "revoked_reason": None if x.revoked_reason is None else x.revoked_reason.value,
        "version": x.version,
    }


def _load_auth_session(r: Stored, _: Sequence[Stored]) -> AuthSession:
    return AuthSession(
        id=r["id"],
        kind=PrincipalKind(r["kind"]),
        subject_id=r["subject_id"],
        created_at=r["created_at"],
        expires_at=r["expires_at"],
        refresh_jti=r["refresh_jti"],
        refreshed_at=r["refreshed_at"],
        revoked_at=r["revoked_at"],
        revoked_reason=None
        if r["revoked_reason"] is None
        else RevocationReason(r["revoked_reason"]),
        version=r["version"],
    )


# --------------------------------------------------------------------------- the mappers

CUSTOMERS = Mapper[Customer](
    "customer", t.customers, _dump_customer, _load_customer, versioned=True
)
TRAVELERS = Mapper[Traveler](
    "traveler", t.travelers, _dump_traveler, _load_traveler, versioned=True
)
LOCATIONS = Mapper[Location]("location", t.locations, _dump_location, _load_location)
PRODUCTS = Mapper[Product]("product", t.products, _dump_product, _load_product)
SUPPLIERS = Mapper[Supplier]("supplier", t.suppliers, _dump_supplier, _load_supplier)
SLOTS = Mapper[Slot]("slot", t.slots, _dump_slot, _load_slot, versioned=True)
BOOKINGS = Mapper[Booking](
    "booking",
    t.bookings,
    _dump_booking,
    _load_booking,
    versioned=True,
    child_table=t.booking_travelers,
    dump_children=_dump_booking_travelers,
)
PARTNERS = Mapper[Partner]("partner", t.partners, _dump_partner, _load_partner, versioned=True)
LIFECYCLE_EVENTS = Mapper[LifecycleEvent](
    "lifecycleevent", t.lifecycle_events, _dump_lifecycle_event, _load_lifecycle_event
)
AUDIT = Mapper[AuditEntry]("auditentry", t.audit_logs, _dump_audit_entry, _load_audit_entry)
OUTBOX = Mapper[OutboxMessage](
    "outboxmessage", t.outbox, _dump_outbox_message, _load_outbox_message, key="event_id"
)
DELIVERIES = Mapper[Delivery]("delivery", t.deliveries, _dump_delivery, _load_delivery)
COMMUNICATIONS = Mapper[Communication](
    "communication", t.communications, _dump_communication, _load_communication
)
DOCUMENTS = Mapper[Document]("document", t.documents, _dump_document, _load_document)
STAFF = Mapper[StaffMember](
    "staffmember", t.staff_members, _dump_staff, _load_staff, versioned=True
)
IMPORTS = Mapper[ImportJob](
    "importjob", t.booking_imports, _dump_import, _load_import, versioned=True
)
IMPORT_ERRORS = Mapper[ImportRowError](
    "importrowerror", t.booking_import_errors, _dump_import_error, _load_import_error
)
AUTH_SESSIONS = Mapper[AuthSession](
    "authsession", t.auth_sessions, _dump_auth_session, _load_auth_session, versioned=True
)
# Groups, line items, waiting lists and payments: their rows are written in _commerce.
BOOKING_GROUPS = Mapper[BookingGroup](
    "bookinggroup",
    t.booking_groups,
    commerce.dump_booking_group,
    commerce.load_booking_group,
    versioned=True,
)
BOOKING_ITEMS = Mapper[BookingItem](
    "bookingitem",
    t.booking_items,
    commerce.dump_booking_item,
    commerce.load_booking_item,
    versioned=True,
)
WAITLIST = Mapper[WaitlistEntry](
    "waitlistentry",
    t.waiting_lists,
    commerce.dump_waitlist_entry,
    commerce.load_waitlist_entry,
    versioned=True,
)
PAYMENTS = Mapper[Payment](
    "payment", t.payments, commerce.dump_payment, commerce.load_payment, versioned=True
)
REFUNDS = Mapper[Refund](
    "refund", t.payment_refunds, commerce.dump_refund, commerce.load_refund, versioned=True
)

#: Every mapper, parents before children: the order a commit writes in.
MAPPERS: tuple[Mapper[Any], ...] = tuple(
    sorted(
        (
            CUSTOMERS,
            TRAVELERS,
            LOCATIONS,
            PRODUCTS,
            SUPPLIERS,
            SLOTS,
            BOOKINGS,
            PARTNERS,
            LIFECYCLE_EVENTS,
            AUDIT,
            OUTBOX,
            DELIVERIES,
            COMMUNICATIONS,
            DOCUMENTS,
            STAFF,
            IMPORTS,
            IMPORT_ERRORS,
            AUTH_SESSIONS,
            BOOKING_GROUPS,
            BOOKING_ITEMS,
            WAITLIST,
            PAYMENTS,
            REFUNDS,
        ),
        key=lambda m: t.metadata.sorted_tables.index(m.table),
    )
)
