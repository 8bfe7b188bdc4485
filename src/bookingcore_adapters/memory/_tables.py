"""The tables behind the in-memory store: rows by id, unique indexes, one lock.

Kept apart from :mod:`._store` so that the unit of work (:mod:`._uow`) needs
only this module and the store needs both: no import cycle.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Mapping
from typing import Any
from uuid import UUID

import attrs

from bookingcore.domain.audit import AuditEntry
from bookingcore.domain.auth import AuthSession
from bookingcore.domain.bookings import Booking
from bookingcore.domain.catalog import Location, Product, Supplier
from bookingcore.domain.certificates import Certificate
from bookingcore.domain.commissions import CommissionEntry
from bookingcore.domain.communications import Communication
from bookingcore.domain.customers import Customer, Traveler
from bookingcore.domain.devices import PushDevice
from bookingcore.domain.documents import Document
from bookingcore.domain.events import Delivery, OutboxMessage
from bookingcore.domain.families import Family, FamilyInvitation, FamilyMember
from bookingcore.domain.groups import BookingGroup
from bookingcore.domain.idempotency import KeyClaim
from bookingcore.domain.imports import ImportJob, ImportRowError
from bookingcore.domain.inbox import WebhookReceipt
from bookingcore.domain.invoices import Invoice, InvoiceSeries
from bookingcore.domain.items import BookingItem
from bookingcore.domain.leads import Lead
from bookingcore.domain.lifecycle import LifecycleEvent
from bookingcore.domain.partner_webhooks import WebhookAttempt, WebhookDelivery
from bookingcore.domain.partners import Partner
from bookingcore.domain.payments import Payment, Refund
from bookingcore.domain.quotations import Quotation
from bookingcore.domain.sharing import ShareLink
from bookingcore.domain.slots import Slot
from bookingcore.domain.staff import StaffMember
from bookingcore.domain.trips import Itinerary, Trip
from bookingcore.domain.values import Versioned
from bookingcore.domain.vouchers import Voucher, VoucherRedemption
from bookingcore.domain.waitlist import WaitlistEntry

__all__ = ["TABLES", "MemoryTables", "Reference", "Table"]


@attrs.frozen
class Reference:
    """A field of an entity that names rows of another table: a SQL store's foreign key.

    On commit, a new row, or a row whose ``field`` changed, must name rows that exist
    (stored and not deleted, or added in the same unit of work); ``read`` gives the
    ids it names, when ``field`` is not one id itself (a booking's travelers), and
    ``field`` is then only its name in the error.

    On commit, deleting a row that stored rows still name is refused, unless
    ``cascade`` (the SQL key is ``ON DELETE CASCADE``): then those rows go with it.
    """

    field: str
    table: str
    read: Callable[[Any], Iterable[object]] | None = None
    cascade: bool = False

    @property
    def restricts(self) -> bool:
        """Whether deleting a row this field names is refused while it names it (the
        SQL key's ``NO ACTION``); otherwise (``ON DELETE CASCADE``) the row goes too."""
        return not self.cascade

    def ids(self, entity: Any) -> tuple[object, ...]:
        """The ids ``entity`` names through this field (``None`` for none)."""
        if self.read is None:
            return (getattr(entity, self.field),)
        return tuple(self.read(entity))


def _references(table: str, *fields: str, cascade: bool = False) -> tuple[Reference, ...]:
    return tuple(Reference(field, table, cascade=cascade) for field in fields)


@attrs.frozen
class Table:
    """How one entity type is stored: its unique keys and how to read them.

    A row that takes several keys other rows hold is refused naming the first of
    them in ``unique``'s order, the order of the SQL tables' columns.

    A table of a :class:`~bookingcore.domain.values.Versioned` entity refuses, on
    commit, a change to an entity whose stored ``version`` moved on since the
    unit of work read it (``StaleVersionError``).

    ``label`` is the entity's name in the errors the table raises, where it is not
    the class's name in lower case: the name the SQL adapter and the services give it.

    ``references`` are the fields that must name existing rows of other tables, as
    the SQL tables' foreign keys make them (``ConflictError`` on commit otherwise).
    """

    name: str
    entity: type[Any]
    unique: Mapping[str, Callable[[Any], object]] = attrs.field(factory=dict)
    label: str | None = None
    references: tuple[Reference, ...] = ()

    @property
    def entity_name(self) -> str:
        """The entity's name in ``DuplicateError``, ``StaleVersionError`` and
        ``ReadOnlyError`` (``"customer"``, ``"push device"``)."""
        return self.label or self.entity.__name__.lower()

    @property
    def versioned(self) -> bool:
        """True when the entity carries an optimistic ``version`` that commits check."""
        return issubclass(self.entity, Versioned)


TABLES: tuple[Table, ...] = (
    Table(
        "customers",
        Customer,
        {"phone": lambda c: c.phone.e164, "external_id": lambda c: c.external_id},
        references=(
            # Named as the SQL store's column (customers.merged_into_id).
            Reference("merged_into_id", "customers", lambda c: (c.merged_into,)),
            *_references("partners", "partner_id", "created_by_partner_id"),
        ),
    ),
    Table("travelers", Traveler, references=_references("customers", "customer_id")),
    Table("locations", Location, {"code": lambda x: x.code}),
    Table(
        "products",
        Product,
        {"code": lambda x: x.code},
        references=(
            *_references("suppliers", "supplier_id"),
            *_references("locations", "location_id"),
        ),
    ),
    Table("suppliers", Supplier, {"code": lambda x: x.code}),
    Table(
        "slots",
        Slot,
        references=(
            *_references("locations", "location_id"),
            *_references("products", "product_id"),
        ),
    ),
    Table(
        "bookings",
        Booking,
        {
            "reference": lambda b: b.reference,
            "external_id": lambda b: b.external_id,
            "idempotency_key": lambda b: b.idempotency_key,
        },
        references=(
            *_references("customers", "customer_id"),
            *_references("slots", "slot_id"),
            # Named as the SQL store's column (booking_travelers.traveler_id).
            Reference("traveler_id", "travelers", lambda b: (t.traveler_id for t in b.travelers)),
            *_references("locations", "location_id"),
            *_references("products", "product_id"),
            *_references("suppliers", "supplier_id"),
            *_references("partners", "partner_id", "created_by_partner_id"),
            *_references("trips", "trip_id"),
        ),
    ),
    Table(
        "partners",
        Partner,
        {
            "contact_email_key": lambda p: p.contact_email.match_key,
            "api_key": lambda p: p.api_key,
        },
    ),
    Table(
        "lifecycle_events",
        LifecycleEvent,
        {
            "booking_version": lambda e: (e.booking_id, e.booking_version),
            "idempotency_key": lambda e: e.idempotency_key,
        },
        references=_references("bookings", "booking_id"),
    ),
    Table("audit", AuditEntry, references=_references("bookings", "booking_id")),
    Table("outbox", OutboxMessage),
    Table("deliveries", Delivery),
    Table(
        "communications",
        Communication,
        {
            "dedupe_key": lambda c: c.dedupe_key,
            "provider_message_id": lambda c: c.provider_message_id,
        },
        references=(
            *_references("customers", "customer_id"),
            *_references("bookings", "booking_id", cascade=True),
        ),
    ),
    Table(
        "documents",
        Document,
        references=(
            *_references("bookings", "booking_id", cascade=True),
            *_references("quotations", "quotation_id"),
        ),
    ),
    Table(
        "staff",
        StaffMember,
        {"email_key": lambda x: x.email.match_key},
        references=_references("suppliers", "supplier_id"),
    ),
    Table("imports", ImportJob),
    Table(
        "import_errors",
        ImportRowError,
        # Named as the SQL store's column (booking_import_errors.import_id).
        references=(Reference("import_id", "imports", lambda e: (e.job_id,), cascade=True),),
    ),
    Table("auth_sessions", AuthSession),
    Table(
        "groups",
        BookingGroup,
        {"group_reference": lambda g: g.group_reference},
        references=_references("customers", "company_id", "organizer_id"),
    ),
    Table(
        "booking_items",
        BookingItem,
        references=(
            *_references("bookings", "booking_id", cascade=True),
            *_references("products", "product_id"),
            *_references("suppliers", "supplier_id"),
        ),
    ),
    # Only an active (waiting or offered) entry claims its customer's place on the slot.
    Table(
        "waitlist",
        WaitlistEntry,
        {"active_entry": lambda w: (w.slot_id, w.customer_id) if w.is_active else None},
        references=(
            *_references("slots", "slot_id"),
            *_references("customers", "customer_id"),
            *_references("bookings", "booking_id"),
        ),
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
        references=(
            *_references("bookings", "booking_id"),
            *_references("customers", "customer_id"),
        ),
    ),
    Table(
        "refunds",
        Refund,
        {"provider_reference": lambda r: r.provider_reference},
        references=_references("payments", "payment_id"),
    ),
    Table("webhook_inbox", WebhookReceipt, {"event": lambda w: (w.provider, w.event_id)}),
    Table(
        "invoices",
        Invoice,
        {"number": lambda i: i.number},
        references=(
            *_references("bookings", "booking_id"),
            *_references("customers", "customer_id"),
            *_references("payments", "payment_id"),
            *_references("refunds", "refund_id"),
            *_references("invoices", "credited_invoice_id"),
        ),
    ),
    Table("invoice_series", InvoiceSeries, {"key": lambda s: s.key}),
    # Partner commissions: an append-only ledger, one entry per key.
    Table(
        "commissions",
        CommissionEntry,
        {"key": lambda e: e.key},
        references=(
            *_references("bookings", "booking_id"),
            *_references("partners", "partner_id"),
        ),
    ),
    # ---- partner webhooks
    Table(
        "webhook_deliveries",
        WebhookDelivery,
        {"webhook_id": lambda d: d.webhook_id},
        label="webhook_delivery",
        references=_references("partners", "partner_id"),
    ),
    Table(
        "webhook_attempts",
        WebhookAttempt,
        {"number": lambda a: (a.delivery_id, a.number)},
        label="webhook_attempt",
        references=_references("webhook_deliveries", "delivery_id", cascade=True),
    ),
    # The travel operating system: leads and quotations.
    Table(
        "leads",
        Lead,
        {"idempotency_key": lambda x: x.idempotency_key},
        references=(
            *_references("partners", "partner_id"),
            *_references("customers", "customer_id"),
        ),
    ),
    Table(
        "quotations",
        Quotation,
        {
            "revision": lambda q: (q.reference, q.revision),
            "idempotency_key": lambda q: q.idempotency_key,
        },
        references=(
            *_references("leads", "lead_id"),
            *_references("slots", "slot_id"),
            *_references("customers", "customer_id"),
            *_references("bookings", "booking_id"),
        ),
    ),
    Table("trips", Trip, references=_references("customers", "customer_id")),
    Table(
        "itineraries",
        Itinerary,
        {"booking_id": lambda i: i.booking_id},
        references=_references("bookings", "booking_id", cascade=True),
    ),
    # ------------------------------------------------------------ customer care (0.3)
    Table(
        "certificates",
        Certificate,
        {"number": lambda c: (c.kind, c.number)},
        references=(
            *_references("bookings", "booking_id"),
            *_references("customers", "customer_id"),
            *_references("travelers", "traveler_id"),
        ),
    ),
    # ---------------------------------------------------------- promo codes: vouchers
    Table("vouchers", Voucher, {"code": lambda v: v.code}),
    Table(
        "voucher_redemptions",
        VoucherRedemption,
        {"booking_id": lambda x: x.booking_id},
        label="voucher redemption",
        references=(
            *_references("vouchers", "voucher_id"),
            *_references("customers", "customer_id"),
            *_references("bookings", "booking_id"),
        ),
    ),
    # ---------------------------------------------------------- push notifications: devices
    Table(
        "push_devices",
        PushDevice,
        {"token": lambda d: d.token},
        label="push device",
        references=_references("customers", "customer_id"),
    ),
    # ---------------------------------------------------------- sharing trips (0.4)
    Table(
        "share_links",
        ShareLink,
        {"token_hash": lambda link: link.token_hash},
        label="share link",
        references=(
            *_references("bookings", "booking_id"),
            *_references("customers", "customer_id"),
        ),
    ),
    # ---------------------------------------------------------- family accounts (0.4)
    Table("families", Family, references=_references("customers", "owner_id")),
    Table(
        "family_members",
        FamilyMember,
        {"customer_id": lambda m: m.customer_id},
        label="family member",
        references=(
            *_references("customers", "customer_id"),
            *_references("families", "family_id"),
        ),
    ),
    Table(
        "family_invitations",
        FamilyInvitation,
        label="family invitation",
        references=(
            *_references("families", "family_id"),
            *_references("customers", "customer_id", "invited_by"),
        ),
    ),
    # ------------------------------------------------------------ the idempotency key registry
    # The key registry: one claim per key (its id derives from the key).
    Table("idempotency_keys", KeyClaim, {"key": lambda k: k.key}),
)


class MemoryTables:
    """Rows by table and id, unique indexes, and the lock every unit of work takes.

    The committed state of a :class:`~bookingcore_adapters.memory.MemoryStore`;
    only its units of work change it.

    .. versionadded:: 0.1
    """

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.rows: dict[str, dict[UUID, Any]] = {t.name: {} for t in TABLES}
        self.indexes: dict[str, dict[str, dict[object, UUID]]] = {
            t.name: {key: {} for key in t.unique} for t in TABLES
        }
        self.last_sequence = 0

    def count(self, table: str) -> int:
        """How many rows ``table`` holds (committed only)."""
        with self.lock:
            return len(self.rows[table])
