"""The SQL schema: one SQLAlchemy Core table per entity, named as the seeds name them.

Columns are plain SQL types chosen to read back exactly what was written:

* times are :class:`UtcDateTime` (``TIMESTAMP WITH TIME ZONE`` on PostgreSQL, a
  fixed-width UTC text on SQLite) and always come back timezone-aware in UTC;
* amounts are :class:`ExactDecimal` (``NUMERIC`` on PostgreSQL, decimal text on
  SQLite, which has no exact numeric type) next to a three-letter currency;
* ids are :class:`sqlalchemy.Uuid`, enums their string values, and free-form
  mappings JSON (``JSONB`` on PostgreSQL).

Constraint names follow :data:`NAMING_CONVENTION`, so migrations and error
messages can rely on them.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    Date,
    DateTime,
    ForeignKey,
    Identity,
    Index,
    Integer,
    MetaData,
    Numeric,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
    UniqueConstraint,
    Uuid,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator, TypeEngine

__all__ = [
    "NAMING_CONVENTION",
    "ExactDecimal",
    "UtcDateTime",
    "audit_logs",
    "auth_sessions",
    "booking_groups",
    "booking_import_errors",
    "booking_imports",
    "booking_items",
    "booking_travelers",
    "bookings",
    "communications",
    "customers",
    "deliveries",
    "documents",
    "lifecycle_events",
    "locations",
    "metadata",
    "otp_challenges",
    "outbox",
    "partners",
    "payment_refunds",
    "payments",
    "products",
    "rate_limit_hits",
    "rate_limits",
    "slots",
    "staff_members",
    "suppliers",
    "travelers",
    "waiting_lists",
]

#: How constraints and indexes are named (stable names for Alembic and error messages).
NAMING_CONVENTION: dict[str, str] = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UtcDateTime(TypeDecorator[datetime]):
    """A timezone-aware datetime stored in UTC, read back aware in UTC on every backend.

    SQLite keeps no offset, so the value is converted to UTC and stored without
    one; its fixed-width text then sorts in time order.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        utc = _in_utc(value)
        return utc.replace(tzinfo=None) if dialect.name == "sqlite" else utc

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)

    def bind_processor(self, dialect: Dialect) -> Callable[[Any], Any] | None:
        """On SQLite, one step to SQLAlchemy's text form; elsewhere the usual two.

        A bulk import binds a dozen datetimes a row: chaining the UTC conversion
        into SQLAlchemy's own formatting costs twice as much as doing both at once.
        ``test_utc_datetime_text_matches_sqlalchemy`` keeps the two forms equal.
        """
        if dialect.name != "sqlite":
            return super().bind_processor(dialect)

        def to_text(value: datetime | None) -> str | None:
            if value is None:
                return None
            return _in_utc(value).replace(tzinfo=None).isoformat(" ", "microseconds")

        return to_text

    def result_processor(self, dialect: Dialect, coltype: object) -> Callable[[Any], Any] | None:
        """On SQLite, the stored text parsed in C and marked UTC; elsewhere as usual."""
        if dialect.name != "sqlite":
            return super().result_processor(dialect, coltype)

        def from_text(value: str | None) -> datetime | None:
            if value is None:
                return None
            return datetime.fromisoformat(value).replace(tzinfo=UTC)

        return from_text


def _in_utc(value: datetime) -> datetime:
    """``value`` in UTC; a naive datetime is refused (its zone would be a guess)."""
    if value.tzinfo is UTC:
        return value
    if value.tzinfo is None or value.utcoffset() is None:
        msg = f"refusing to store the naive datetime {value!r}; give it a timezone"
        raise ValueError(msg)
    return value.astimezone(UTC)


class ExactDecimal(TypeDecorator[Decimal]):
    """A :class:`~decimal.Decimal` stored exactly: ``NUMERIC`` where the backend has
    it, decimal text on SQLite (whose numbers are binary floats)."""

    impl = Numeric
    cache_ok = True

    def __init__(self, precision: int | None = None, scale: int | None = None) -> None:
        super().__init__()
        self.precision = precision
        self.scale = scale

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name == "sqlite":
            return dialect.type_descriptor(String())
        return dialect.type_descriptor(Numeric(self.precision, self.scale, asdecimal=True))

    def process_bind_param(self, value: Decimal | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        return str(value) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Dialect) -> Decimal | None:
        if value is None:
            return None
        return value if isinstance(value, Decimal) else Decimal(str(value))


def _json() -> TypeEngine[Any]:
    return JSON().with_variant(JSONB(), "postgresql")


def _money(name: str) -> Column[Decimal]:
    return Column(name, ExactDecimal(18, 4), nullable=False)


def _when(name: str, *, nullable: bool = False) -> Column[datetime]:
    return Column(name, UtcDateTime(), nullable=nullable)


def _ref(
    name: str,
    target: str,
    *,
    nullable: bool = True,
    index: bool = False,
    ondelete: str | None = None,
) -> Column[Any]:
    return Column(
        name, Uuid(), ForeignKey(target, ondelete=ondelete), nullable=nullable, index=index
    )


_PHONE = String(20)
_CODE = String(50)
_CURRENCY = String(3)
_ENUM = String(40)

#: Every table of the SQL adapter (pass it to Alembic's ``target_metadata``).
metadata = MetaData(naming_convention=NAMING_CONVENTION)

partners = Table(
    "partners",
    metadata,
    Column("id", Uuid(), primary_key=True),
    Column("name", String(), nullable=False),
    Column("company_name", String(), nullable=False),
    Column("contact_email", String(), nullable=False, unique=True),
    Column("contact_phone", _PHONE),
    Column("api_key", String(), nullable=False, unique=True),
    Column("api_secret_hash", String()),
    Column("api_secret_last4", String()),
    Column("webhook_url", Text()),
    Column("webhook_secret", String()),
    Column("commission_rate", ExactDecimal()),
    Column("allowed_locations", _json(), nullable=False),
    Column("is_active", Boolean(), nullable=False),
    Column("settings", _json(), nullable=False),
    _when("created_at"),
    _when("updated_at"),
    Column("version", Integer(), nullable=False),
    Index(None, "is_active"),
)

locations = Table(
    "locations",
    metadata,
    Column("id", Uuid(), primary_key=True),
    Column("code", _CODE, nullable=False, unique=True),
    Column("name", String(), nullable=False),
    Column("kind", String(), nullable=False),
    Column("address", Text()),
    Column("is_active", Boolean(), nullable=False),
    _when("created_at"),
)

suppliers = Table(
    "suppliers",
    metadata,
    Column("id", Uuid(), primary_key=True),
    Column("code", _CODE, nullable=False, unique=True),
    Column("name", String(), nullable=False),
    Column("email", String()),
    Column("phone", _PHONE),
    Column("is_active", Boolean(), nullable=False),
    _when("created_at"),
)

products = Table(
    "products",
    metadata,
    Column("id", Uuid(), primary_key=True),
    Column("code", _CODE, nullable=False, unique=True),
    Column("name", String(), nullable=False),
    Column("kind", _ENUM, nullable=False),
    _ref("supplier_id", "suppliers.id", index=True),
    Column("description", Text()),
    Column("is_active", Boolean(), nullable=False),
    _when("created_at"),
)

customers = Table(
    "customers",
    metadata,
    Column("id", Uuid(), primary_key=True),
    Column("phone", _PHONE, nullable=False, unique=True),
    Column("name", String()),
    Column("email", String()),
    Column("source", _ENUM, nullable=False, index=True),
    _ref("partner_id", "partners.id", index=True),
    _ref("created_by_partner_id", "partners.id", index=True),
    Column("created_by_kind", _ENUM),
    Column("created_by_id", String()),
    _when("created_at"),
    _when("updated_at"),
    Column("version", Integer(), nullable=False),
    Index(None, "created_at", "id"),
    Index(None, "email"),
)

travelers = Table(
    "travelers",
    metadata,
    Column("id", Uuid(), primary_key=True),
    _ref("customer_id", "customers.id", nullable=False, index=True),
    Column("name", String(), nullable=False),
    Column("age", Integer()),
    Column("birth_date", Date()),
    Column("gender", _ENUM),
    Column("phone", _PHONE),
    Column("emergency_contact_name", String()),
    Column("emergency_contact_phone", _PHONE),
    Column("special_requirements", Text()),
    _when("created_at"),
    _when("updated_at"),
    _when("deleted_at", nullable=True),
    Column("version", Integer(), nullable=False),
)

slots = Table(
    "slots",
    metadata,
    Column("id", Uuid(), primary_key=True),
    _ref("location_id", "locations.id", nullable=False, index=True),
    _ref("product_id", "products.id", index=True),
    Column("name", String()),
    _when("starts_at"),
    _when("ends_at", nullable=True),
    _money("price_amount"),
    Column("currency", _CURRENCY, nullable=False),
    Column("capacity", Integer()),
    Column("seats_held", Integer(), nullable=False),
    Column("group_discounts", _json(), nullable=False),
    Column("is_active", Boolean(), nullable=False),
    _when("created_at"),
    Column("version", Integer(), nullable=False),
    Index(None, "starts_at"),
    Index(None, "location_id", "starts_at"),
)

#: The columns a staff booking list filters on by equality.
_BOOKING_FILTERS = (
    "customer_id",
    "slot_id",
    "location_id",
    "product_id",
    "supplier_id",
    "partner_id",
    "assignee_id",
    "status",
    "source",
)
#: Those a booking may leave empty: their indexes hold only the bookings that have one.
_OPTIONAL_BOOKING_FILTERS = frozenset({"product_id", "supplier_id", "partner_id", "assignee_id"})

bookings = Table(
    "bookings",
    metadata,
    Column("id", Uuid(), primary_key=True),
    Column("reference", String(), nullable=False, unique=True),
    _ref("customer_id", "customers.id", nullable=False),
    _ref("slot_id", "slots.id", nullable=False),
    _ref("location_id", "locations.id", nullable=False),
    _ref("product_id", "products.id"),
    _ref("supplier_id", "suppliers.id"),
    _ref("partner_id", "partners.id"),
    _ref("created_by_partner_id", "partners.id"),
    _when("starts_at"),
    Column("lifecycle", String(), nullable=False),
    Column("status", String(), nullable=False),
    Column("source", _ENUM, nullable=False),
    Column("total_travelers", Integer(), nullable=False),
    Column("primary_contact_traveler_id", Uuid(), nullable=False),
    _money("subtotal_amount"),
    _money("discount_amount"),
    _money("total_amount"),
    Column("currency", _CURRENCY, nullable=False),
    Column("created_by_kind", _ENUM, nullable=False),
    Column("created_by_id", String()),
    Column("referral_source", String()),
    Column("internal_notes", Text()),
    Column("external_id", String(), unique=True),
    Column("assignee_id", Uuid()),
    Column("group_id", Uuid()),
    Column("idempotency_key", String(), unique=True),
    Column("request_fingerprint", String()),
    _when("cancelled_at", nullable=True),
    Column("cancellation_reason", Text()),
    Column("metadata", _json(), nullable=False),
    _when("created_at"),
    _when("updated_at"),
    Column("version", Integer(), nullable=False),
    # Staff lists are newest first by (created_at, id), keyset-paged: each filter
    # column leads an index that also holds that order, so a page of a filtered
    # list is one index range scan however deep it is (bench/booking_queries.py).
    Index(None, "created_at", "id"),
    *(
        Index(None, column, "created_at", "id")
        for column in _BOOKING_FILTERS
        if column not in _OPTIONAL_BOOKING_FILTERS
    ),
    Index(None, "starts_at"),
)


def _index_where_set(table: Table, column: str, *rest: str) -> Index:
    """An index on ``column`` and ``rest`` of the rows whose ``column`` is not NULL.

    Nobody looks rows up by a missing value, and a row without one writes no
    entry. ``column = :value`` implies ``column IS NOT NULL``, so PostgreSQL and
    SQLite both use the index for it.
    """
    leading = table.c[column]
    present = leading.is_not(None)
    columns = [leading, *(table.c[name] for name in rest)]
    return Index(None, *columns, postgresql_where=present, sqlite_where=present)


# A direct booking (no product, supplier, partner, advisor or group) writes five
# index entries fewer.
for _column in sorted(_OPTIONAL_BOOKING_FILTERS):
    _index_where_set(bookings, _column, "created_at", "id")
_index_where_set(bookings, "group_id")

booking_travelers = Table(
    "booking_travelers",
    metadata,
    _ref("booking_id", "bookings.id", nullable=False, ondelete="CASCADE"),
    _ref("traveler_id", "travelers.id", nullable=False, index=True),
    Column("position", Integer(), nullable=False),
    _money("price_amount"),
    Column("price_currency", _CURRENCY, nullable=False),
    Column("is_primary", Boolean(), nullable=False),
    Column("special_requirements", Text()),
    PrimaryKeyConstraint("booking_id", "traveler_id"),
    UniqueConstraint("booking_id", "position"),
)

lifecycle_events = Table(
    "booking_lifecycle_events",
    metadata,
    Column("id", Uuid(), primary_key=True),
    _ref("booking_id", "bookings.id", nullable=False),
    Column("booking_version", Integer(), nullable=False),
    Column("lifecycle", String(), nullable=False),
    Column("from_status", String()),
    Column("to_status", String(), nullable=False),
    Column("actor_type", _ENUM, nullable=False),
    Column("actor_id", String()),
    Column("note", Text()),
    Column("idempotency_key", String(), unique=True),
    Column("request_fingerprint", String()),
    Column("metadata", _json(), nullable=False),
    _when("occurred_at"),
    UniqueConstraint("booking_id", "booking_version"),
)

audit_logs = Table(
    "booking_audit_logs",
    metadata,
    Column("id", Uuid(), primary_key=True),
    Column("entity", String(), nullable=False),
    Column("entity_id", Uuid(), nullable=False),
    _ref("booking_id", "bookings.id", index=True),
    Column("action", _ENUM, nullable=False),
    Column("changed_by_kind", _ENUM, nullable=False),
    Column("changed_by_id", String()),
    Column("old_value", _json(), nullable=False),
    Column("new_value", _json(), nullable=False),
    Column("change_reason", Text()),
    Column("ip_address", String()),
    Column("user_agent", Text()),
    _when("created_at"),
    Index(None, "entity", "entity_id"),
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
    _when("occurred_at"),
    Column("payload", _json(), nullable=False),
    _when("dispatched_at", nullable=True),
    _when("published_at", nullable=True),
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

deliveries = Table(
    "event_deliveries",
    metadata,
    Column("id", Uuid(), primary_key=True),
    Column("event_id", Uuid(), nullable=False),
    Column("handler", String(), nullable=False),
    Column("status", _ENUM, nullable=False),
    Column("attempts", Integer(), nullable=False),
    Column("last_error", Text()),
    _when("next_attempt_at", nullable=True),
    _when("completed_at", nullable=True),
    UniqueConstraint("event_id", "handler"),
    Index(None, "status", "next_attempt_at"),
)

communications = Table(
    "booking_communications",
    metadata,
    Column("id", Uuid(), primary_key=True),
    _ref("booking_id", "bookings.id", index=True, ondelete="CASCADE"),
    _ref("customer_id", "customers.id", nullable=False, index=True),
    Column("type", _ENUM, nullable=False),
    Column("channel", _ENUM, nullable=False),
    Column("status", _ENUM, nullable=False),
    Column("recipient", String(), nullable=False),
    Column("subject", String()),
    Column("content", Text(), nullable=False),
    Column("template_used", String()),
    Column("dedupe_key", String(), unique=True),
    Column("request_fingerprint", String()),
    Column("provider_message_id", String(), unique=True),
    _when("sent_at", nullable=True),
    _when("delivered_at", nullable=True),
    _when("opened_at", nullable=True),
    _when("clicked_at", nullable=True),
    _when("failed_at", nullable=True),
    Column("failed_reason", Text()),
    Column("created_by_kind", _ENUM, nullable=False),
    Column("created_by_id", String()),
    _when("created_at"),
    Column("source_event_id", Uuid()),
    Index(None, "type", "status"),
)

documents = Table(
    "booking_documents",
    metadata,
    Column("id", Uuid(), primary_key=True),
    _ref("booking_id", "bookings.id", nullable=False, index=True, ondelete="CASCADE"),
    Column("kind", _ENUM, nullable=False),
    Column("filename", String(), nullable=False),
    Column("media_type", String(), nullable=False),
    Column("content", Text(), nullable=False),
    _when("created_at"),
    Column("source_event_id", Uuid()),
)

staff_members = Table(
    "staff_members",
    metadata,
    Column("id", Uuid(), primary_key=True),
    Column("email", String(), nullable=False, unique=True),
    Column("name", String(), nullable=False),
    Column("role", _ENUM, nullable=False, index=True),
    Column("locations", _json(), nullable=False),
    _ref("supplier_id", "suppliers.id", index=True),
    Column("password_hash", String()),
    Column("is_active", Boolean(), nullable=False),
    _when("created_at"),
    _when("updated_at"),
    Column("version", Integer(), nullable=False),
)

#: Seed 004's ``booking_imports``: one row per file imported.
booking_imports = Table(
    "booking_imports",
    metadata,
    Column("id", Uuid(), primary_key=True),
    Column("filename", String(512), nullable=False),
    Column("file_format", String(10), nullable=False),
    Column("file_size", BigInteger(), nullable=False),
    Column("file_digest", String(64), nullable=False),
    Column("created_by_kind", _ENUM, nullable=False),
    Column("created_by_id", String()),
    Column("status", _ENUM, nullable=False, index=True),
    Column("import_settings", _json(), nullable=False),
    Column("total_rows", Integer(), nullable=False),
    Column("processed_rows", Integer(), nullable=False),
    Column("created_rows", Integer(), nullable=False),
    Column("updated_rows", Integer(), nullable=False),
    Column("skipped_rows", Integer(), nullable=False),
    Column("failed_rows", Integer(), nullable=False),
    Column("error_summary", _json(), nullable=False),
    Column("cancel_requested", Boolean(), nullable=False),
    _when("started_at", nullable=True),
    _when("completed_at", nullable=True),
    _when("created_at"),
    _when("updated_at"),
    Column("version", Integer(), nullable=False),
    Index(None, "created_at", "id"),
)

#: Seed 004's ``booking_import_errors``: the rows an import could not take.
booking_import_errors = Table(
    "booking_import_errors",
    metadata,
    Column("id", Uuid(), primary_key=True),
    _ref("import_id", "booking_imports.id", nullable=False, ondelete="CASCADE"),
    Column("row_number", Integer(), nullable=False),
    Column("raw_row", _json(), nullable=False),
    Column("error_message", Text(), nullable=False),
    Column("error_type", String(50), nullable=False),
    Column("field_errors", _json(), nullable=False),
    _when("created_at"),
    _when("resolved_at", nullable=True),
    Index(None, "import_id", "row_number"),
)

#: Signed-in sessions: one per sign-in, the family of its refresh tokens. ``subject_id``
#: is a customer, staff member or partner id (by ``kind``), so it has no foreign key.
auth_sessions = Table(
    "auth_sessions",
    metadata,
    Column("id", Uuid(), primary_key=True),
    Column("kind", _ENUM, nullable=False),
    Column("subject_id", Uuid(), nullable=False),
    _when("created_at"),
    _when("expires_at"),
    Column("refresh_jti", Uuid(), nullable=False),
    _when("refreshed_at", nullable=True),
    _when("revoked_at", nullable=True),
    Column("revoked_reason", _ENUM),
    Column("version", Integer(), nullable=False),
    Index(None, "kind", "subject_id", "created_at"),
    Index(None, "expires_at"),
)

#: Seed 000's OTP challenges: at most one per phone, the code kept only as its hash.
otp_challenges = Table(
    "otp_challenges",
    metadata,
    Column("phone", _PHONE, primary_key=True),
    Column("id", Uuid(), nullable=False),
    Column("code_hash", String(), nullable=False),
    _when("created_at"),
    _when("expires_at"),
    Column("max_attempts", Integer(), nullable=False),
    Column("attempts", Integer(), nullable=False),
    _when("consumed_at", nullable=True),
    Index(None, "expires_at"),
    Index(None, "consumed_at"),
)

#: One row per rate-limited key: the row a hit locks, and when its last hit leaves
#: its window (``expires_at``), after which the key and its hits may be swept.
rate_limits = Table(
    "rate_limits",
    metadata,
    Column("key", String(), primary_key=True),
    _when("expires_at"),
    Index(None, "expires_at"),
)

#: The accepted hits of each key (a sliding log); refused hits are never written.
rate_limit_hits = Table(
    "rate_limit_hits",
    metadata,
    Column(
        "id",
        BigInteger().with_variant(Integer(), "sqlite"),
        Identity(),
        primary_key=True,
    ),
    Column(
        "key",
        String(),
        ForeignKey("rate_limits.key", ondelete="CASCADE"),
        nullable=False,
    ),
    _when("hit_at"),
    Index(None, "key", "hit_at"),
)


#: Seed 001's ``booking_groups``: corporate and group bookings under one reference.
#: ``bookings.group_id`` points here by value only: adding a foreign key to the
#: existing ``bookings`` table would mean rebuilding it on SQLite (see docs/sql.md).
booking_groups = Table(
    "booking_groups",
    metadata,
    Column("id", Uuid(), primary_key=True),
    Column("group_reference", String(100), nullable=False, unique=True),
    _ref("company_id", "customers.id", index=True),
    _ref("organizer_id", "customers.id", nullable=False, index=True),
    Column("group_name", String(255)),
    Column("total_participants", Integer()),
    Column("status", _ENUM, nullable=False, index=True),
    _when("created_at"),
    _when("updated_at"),
    Column("version", Integer(), nullable=False),
    CheckConstraint("total_participants >= 1", name="total_participants_positive"),
    Index(None, "created_at", "id"),
)

#: Seed 003's ``booking_items``: a booking's products, rooms, flights and services.
#: ``total_amount`` is ``unit_price_amount * quantity``, kept for reports.
booking_items = Table(
    "booking_items",
    metadata,
    Column("id", Uuid(), primary_key=True),
    _ref("booking_id", "bookings.id", nullable=False, index=True, ondelete="CASCADE"),
    Column("item_type", _ENUM, nullable=False),
    _ref("product_id", "products.id", index=True),
    _ref("supplier_id", "suppliers.id", index=True),
    Column("description", Text(), nullable=False),
    Column("quantity", Integer(), nullable=False),
    _money("unit_price_amount"),
    _money("total_amount"),
    Column("currency", _CURRENCY, nullable=False),
    Column("service_starts_on", Date()),
    Column("service_ends_on", Date()),
    Column("status", _ENUM, nullable=False),
    Column("supplier_reference", String()),
    Column("metadata", _json(), nullable=False),
    _when("created_at"),
    _when("updated_at"),
    Column("version", Integer(), nullable=False),
    CheckConstraint("quantity >= 1", name="quantity_positive"),
)

#: Seed 001's ``waiting_lists``, on slots: at most one active entry per customer and slot.
waiting_lists = Table(
    "waiting_lists",
    metadata,
    Column("id", Uuid(), primary_key=True),
    _ref("slot_id", "slots.id", nullable=False),
    _ref("customer_id", "customers.id", nullable=False, index=True),
    Column("seats", Integer(), nullable=False),
    Column("position", Integer(), nullable=False),
    Column("priority", _ENUM, nullable=False),
    Column("preferred_contact_method", _ENUM),
    Column("alternative_dates", _json(), nullable=False),
    Column("status", _ENUM, nullable=False),
    _when("offered_at", nullable=True),
    _when("offer_expires_at", nullable=True),
    _ref("booking_id", "bookings.id", index=True),
    Column("notes", Text()),
    _when("created_at"),
    _when("updated_at"),
    Column("version", Integer(), nullable=False),
    CheckConstraint("seats >= 1", name="seats_positive"),
    CheckConstraint("position >= 1", name="position_positive"),
    Index(None, "slot_id", "position"),
    Index(None, "status", "offer_expires_at"),
)
_ACTIVE_WAITLIST_ENTRY = waiting_lists.c.status.in_(["waiting", "offered"])
Index(
    "uq_waiting_lists_active_slot_id_customer_id",
    waiting_lists.c.slot_id,
    waiting_lists.c.customer_id,
    unique=True,
    postgresql_where=_ACTIVE_WAITLIST_ENTRY,
    sqlite_where=_ACTIVE_WAITLIST_ENTRY,
)

#: Seed 003's ``payments``: one row per attempt to collect money for a booking.
payments = Table(
    "payments",
    metadata,
    Column("id", Uuid(), primary_key=True),
    _ref("booking_id", "bookings.id", nullable=False, index=True),
    _ref("customer_id", "customers.id", nullable=False, index=True),
    Column("provider", String(40), nullable=False),
    Column("provider_reference", String(255)),
    Column("status", _ENUM, nullable=False, index=True),
    _money("amount"),
    _money("captured_amount"),
    _money("refunded_amount"),
    _money("pending_refund_amount"),
    Column("currency", _CURRENCY, nullable=False),
    Column("processed_event_ids", _json(), nullable=False),
    Column("idempotency_key", String(), unique=True),
    Column("failure_reason", Text()),
    _when("captured_at", nullable=True),
    Column("metadata", _json(), nullable=False),
    _when("created_at"),
    _when("updated_at"),
    Column("version", Integer(), nullable=False),
    UniqueConstraint("provider", "provider_reference"),
)

#: Seed 003's ``payment_refunds``: money given back from a payment.
payment_refunds = Table(
    "payment_refunds",
    metadata,
    Column("id", Uuid(), primary_key=True),
    _ref("payment_id", "payments.id", nullable=False, index=True),
    _money("amount"),
    Column("currency", _CURRENCY, nullable=False),
    Column("reason", Text()),
    Column("status", _ENUM, nullable=False),
    Column("provider_reference", String(255), unique=True),
    Column("failure_reason", Text()),
    _when("completed_at", nullable=True),
    _when("created_at"),
    _when("updated_at"),
    Column("version", Integer(), nullable=False),
)
