"""The data behind the in-memory unit of work."""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any
from uuid import UUID

import attrs

from bookingcore.domain.audit import AuditEntry
from bookingcore.domain.auth import AuthSession
from bookingcore.domain.bookings import Booking
from bookingcore.domain.catalog import Location, Product, Supplier
from bookingcore.domain.communications import Communication
from bookingcore.domain.customers import Customer, Traveler
from bookingcore.domain.documents import Document
from bookingcore.domain.events import Delivery, OutboxMessage
from bookingcore.domain.groups import BookingGroup
from bookingcore.domain.imports import ImportJob, ImportRowError
from bookingcore.domain.items import BookingItem
from bookingcore.domain.lifecycle import LifecycleEvent
from bookingcore.domain.partners import Partner
from bookingcore.domain.payments import Payment, Refund
from bookingcore.domain.slots import Slot
from bookingcore.domain.staff import StaffMember
from bookingcore.domain.waitlist import WaitlistEntry

if TYPE_CHECKING:
    from bookingcore_adapters.memory._uow import MemoryUnitOfWork

__all__ = ["TABLES", "MemoryStore", "Table"]


@attrs.frozen
class Table:
    """How one entity type is stored: its unique keys and how to read them.

    ``versioned`` tables refuse, on commit, a change to an entity whose stored
    ``version`` moved on since this unit of work read it (``StaleVersionError``).
    """

    name: str
    entity: type[Any]
    unique: Mapping[str, Callable[[Any], object]] = attrs.field(factory=dict)
    versioned: bool = False


TABLES: tuple[Table, ...] = (
    Table("customers", Customer, {"phone": lambda c: c.phone.e164}),
    Table("travelers", Traveler),
    Table("locations", Location, {"code": lambda x: x.code}),
    Table("products", Product, {"code": lambda x: x.code}),
    Table("suppliers", Supplier, {"code": lambda x: x.code}),
    Table("slots", Slot),
    Table(
        "bookings",
        Booking,
        {
            "reference": lambda b: b.reference,
            "idempotency_key": lambda b: b.idempotency_key,
            "external_id": lambda b: b.external_id,
        },
    ),
    Table(
        "partners",
        Partner,
        {"api_key": lambda p: p.api_key, "contact_email": lambda p: p.contact_email.value},
    ),
    Table(
        "lifecycle_events",
        LifecycleEvent,
        {
            "idempotency_key": lambda e: e.idempotency_key,
            "booking_version": lambda e: (e.booking_id, e.booking_version),
        },
    ),
    Table("audit", AuditEntry),
    Table("outbox", OutboxMessage),
    Table("deliveries", Delivery),
    Table(
        "communications",
        Communication,
        {
            "dedupe_key": lambda c: c.dedupe_key,
            "provider_message_id": lambda c: c.provider_message_id,
        },
    ),
    Table("documents", Document),
    Table("staff", StaffMember, {"email": lambda x: x.email.value}),
    Table("imports", ImportJob),
    Table("import_errors", ImportRowError),
    Table("auth_sessions", AuthSession, versioned=True),
    Table("groups", BookingGroup, {"group_reference": lambda g: g.group_reference}, versioned=True),
    Table("booking_items", BookingItem, versioned=True),
    # Only an active (waiting or offered) entry claims its customer's place on the slot.
    Table(
        "waitlist",
        WaitlistEntry,
        {"active_entry": lambda w: (w.slot_id, w.customer_id) if w.is_active else None},
        versioned=True,
    ),
    Table(
        "payments",
        Payment,
        {
            "provider_reference": lambda p: (
                None if p.provider_reference is None else (p.provider, p.provider_reference)
            ),
            "idempotency_key": lambda p: p.idempotency_key,
        },
        versioned=True,
    ),
    Table(
        "refunds", Refund, {"provider_reference": lambda r: r.provider_reference}, versioned=True
    ),
)


class MemoryStore:
    """Rows by table and id, unique indexes, and the lock every unit of work takes.

    .. versionadded:: 0.1
    """

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.rows: dict[str, dict[UUID, Any]] = {t.name: {} for t in TABLES}
        self.indexes: dict[str, dict[str, dict[object, UUID]]] = {
            t.name: {key: {} for key in t.unique} for t in TABLES
        }
        self.last_sequence = 0

    def unit_of_work(self) -> MemoryUnitOfWork:
        """A new transaction over this store (pass the bound method as ``uow_factory``)."""
        from bookingcore_adapters.memory._uow import MemoryUnitOfWork  # noqa: PLC0415

        return MemoryUnitOfWork(self)

    def count(self, table: str) -> int:
        """How many rows ``table`` holds (committed only)."""
        with self.lock:
            return len(self.rows[table])
