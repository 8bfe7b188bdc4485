"""Payments, refunds, the webhook inbox and invoices in SQL: tables, mapping and repositories."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

from sqlalchemy import (
    Column,
    ColumnElement,
    Index,
    Integer,
    Numeric,
    String,
    Table,
    Text,
    UniqueConstraint,
    Uuid,
    and_,
    any_,
    bindparam,
    cast,
    func,
    not_,
    or_,
    select,
    true,
)
from sqlalchemy.dialects.postgresql import ARRAY, aggregate_order_by

from bookingcore.domain.inbox import ReceiptStatus, WebhookReceipt
from bookingcore.domain.invoices import (
    Invoice,
    InvoiceId,
    InvoiceKind,
    InvoiceLine,
    InvoiceSeries,
    series_id,
)
from bookingcore.domain.payments import (
    AttentionItem,
    Payment,
    PaymentStatus,
    Refund,
    RefundStatus,
    normalise_provider,
)
from bookingcore.domain.tallies import (
    HeldPaymentTally,
    PaidBookingTally,
    ReconciliationTally,
    StatusSet,
)
from bookingcore.domain.values import (
    BookingId,
    CustomerId,
    Money,
    PaymentId,
    RefundId,
)
from bookingcore.errors import (
    ValidationError,
)
from bookingcore_adapters.sql._catalog import LOCATIONS
from bookingcore_adapters.sql._mapper import (
    Mapper,
    Row,
    Stored,
    json_copy,
)
from bookingcore_adapters.sql._queries import ZERO, exact_sum, read_sum, status_in, within
from bookingcore_adapters.sql._repository import Repository
from bookingcore_adapters.sql._schema import (
    CURRENCY,
    ENUM,
    json_type,
    metadata,
    money,
    ref,
    when,
)

__all__ = [
    "INVOICES",
    "INVOICE_SERIES",
    "PAYMENTS",
    "REFUNDS",
    "WEBHOOK_INBOX",
    "InvoiceRepository",
    "InvoiceSeriesRepository",
    "PaymentRepository",
    "RefundRepository",
    "WebhookInboxRepository",
    "invoice_series",
    "invoices",
    "payment_refunds",
    "payments",
    "webhook_inbox",
]

# --------------------------------------------------------------------------- tables


#: Seed 003's ``payments``: one row per attempt to collect money for a booking.
payments = Table(
    "payments",
    metadata,
    Column("id", Uuid(), primary_key=True),
    ref("booking_id", "bookings.id", nullable=False, index=True),
    ref("customer_id", "customers.id", nullable=False, index=True),
    Column("provider", String(40), nullable=False),
    Column("provider_reference", String(255)),
    Column("status", ENUM, nullable=False, index=True),
    money("amount"),
    money("captured_amount"),
    money("refunded_amount"),
    money("pending_refund_amount"),
    Column("currency", CURRENCY, nullable=False),
    Column("processed_event_ids", json_type(), nullable=False),
    Column("idempotency_key", String(), unique=True),
    Column("failure_reason", Text()),
    when("captured_at", nullable=True),
    Column("metadata", json_type(), nullable=False),
    Column("attention", json_type(), nullable=False),
    when("attention_since", nullable=True),
    when("created_at"),
    when("updated_at"),
    Column("version", Integer(), nullable=False),
    UniqueConstraint("provider", "provider_reference"),
)
#: The payments needing staff, oldest item first; only those (revision 0033).
Index(
    "ix_payments_attention_since_id",
    payments.c.attention_since,
    payments.c.id,
    postgresql_where=payments.c.attention_since.is_not(None),
    sqlite_where=payments.c.attention_since.is_not(None),
)

#: Seed 003's ``payment_refunds``: money given back from a payment.
payment_refunds = Table(
    "payment_refunds",
    metadata,
    Column("id", Uuid(), primary_key=True),
    ref("payment_id", "payments.id", nullable=False, index=True),
    money("amount"),
    Column("currency", CURRENCY, nullable=False),
    Column("reason", Text()),
    Column("status", ENUM, nullable=False),
    Column("provider_reference", String(255), unique=True),
    Column("failure_reason", Text()),
    when("completed_at", nullable=True),
    when("created_at"),
    when("updated_at"),
    Column("version", Integer(), nullable=False),
    # Migration 0051: what the provider last reported; NULL until it reported (and before).
    Column("provider_status", ENUM, nullable=True),
)


#: Every verified provider webhook delivery, once: ``(provider, event_id)`` is unique.
webhook_inbox = Table(
    "webhook_inbox",
    metadata,
    Column("id", Uuid(), primary_key=True),
    Column("provider", String(40), nullable=False),
    Column("event_id", String(255), nullable=False),
    Column("kind", String(100), nullable=False),
    Column("payload", json_type(), nullable=False),
    Column("payment_reference", String(255), index=True),
    Column("status", ENUM, nullable=False),
    Column("attempts", Integer(), nullable=False),
    Column("error", Text()),
    when("received_at", nullable=False),
    when("applied_at", nullable=True),
    Column("version", Integer(), nullable=False),
    UniqueConstraint("provider", "event_id"),
    Index("ix_webhook_inbox_unsettled", "status", "received_at"),
)

#: Invoices and credit notes; ``number`` is unique (and gapless per series).
invoices = Table(
    "invoices",
    metadata,
    Column("id", Uuid(), primary_key=True),
    Column("number", String(80), nullable=False, unique=True),
    Column("kind", ENUM, nullable=False),
    Column("series_key", String(80), nullable=False),
    Column("sequence", Integer(), nullable=False),
    ref("booking_id", "bookings.id", nullable=False, index=True),
    ref("customer_id", "customers.id", nullable=False, index=True),
    ref("payment_id", "payments.id", nullable=False, index=True),
    ref("refund_id", "payment_refunds.id"),
    ref("credited_invoice_id", "invoices.id"),
    when("issued_at"),
    Column("currency", CURRENCY, nullable=False),
    Column("lines", json_type(), nullable=False),
    money("subtotal"),
    money("discount"),
    money("tax"),
    money("total"),
    money("paid"),
    money("due"),
    Column("version", Integer(), nullable=False),
)

#: The counters invoice numbers are taken from: one row per key, locked to take one.
invoice_series = Table(
    "invoice_series",
    metadata,
    Column("id", Uuid(), primary_key=True),
    Column("key", String(80), nullable=False, unique=True),
    Column("next_number", Integer(), nullable=False),
    Column("version", Integer(), nullable=False),
)


# --------------------------------------------------------------------------- mapping


def dump_payment(p: Payment) -> Row:
    """The ``payments`` row of ``p``."""
    return {
        "id": p.id,
        "booking_id": p.booking_id,
        "customer_id": p.customer_id,
        "provider": p.provider,
        "provider_reference": p.provider_reference,
        "status": p.status.value,
        "amount": p.amount.amount,
        "captured_amount": p.captured_amount.amount,
        "refunded_amount": p.refunded_amount.amount,
        "pending_refund_amount": p.pending_refund_amount.amount,
        "currency": p.currency,
        "processed_event_ids": sorted(p.processed_event_ids),
        "idempotency_key": p.idempotency_key,
        "failure_reason": p.failure_reason,
        "captured_at": p.captured_at,
        "metadata": json_copy(p.metadata),
        "attention": [
            {"code": i.code.value, "text": i.text, "since": i.since.astimezone(UTC).isoformat()}
            for i in p.attention
        ],
        "attention_since": p.attention_since,
        "created_at": p.created_at,
        "updated_at": p.updated_at,
        "version": p.version,
    }


def load_payment(r: Stored, _: Sequence[Stored]) -> Payment:
    """The payment stored in ``r``."""
    currency = r["currency"]
    return Payment(
        id=r["id"],
        booking_id=r["booking_id"],
        customer_id=r["customer_id"],
        provider=r["provider"],
        amount=Money(r["amount"], currency),
        created_at=r["created_at"],
        updated_at=r["updated_at"],
        provider_reference=r["provider_reference"],
        status=PaymentStatus(r["status"]),
        captured_amount=Money(r["captured_amount"], currency),
        refunded_amount=Money(r["refunded_amount"], currency),
        pending_refund_amount=Money(r["pending_refund_amount"], currency),
        processed_event_ids=frozenset(r["processed_event_ids"]),
        idempotency_key=r["idempotency_key"],
        failure_reason=r["failure_reason"],
        captured_at=r["captured_at"],
        metadata=dict(r["metadata"]),
        attention=tuple(
            AttentionItem(i["code"], i["text"], datetime.fromisoformat(i["since"]))
            for i in r["attention"]
        ),
        version=r["version"],
    )


def dump_refund(x: Refund) -> Row:
    """The ``payment_refunds`` row of ``x``."""
    return {
        "id": x.id,
        "payment_id": x.payment_id,
        "amount": x.amount.amount,
        "currency": x.amount.currency,
        "reason": x.reason,
        "status": x.status.value,
        "provider_reference": x.provider_reference,
        "failure_reason": x.failure_reason,
        "completed_at": x.completed_at,
        "created_at": x.created_at,
        "updated_at": x.updated_at,
        "version": x.version,
        "provider_status": None if x.provider_status is None else x.provider_status.value,
    }


def load_refund(r: Stored, _: Sequence[Stored]) -> Refund:
    """The refund stored in ``r``."""
    return Refund(
        id=r["id"],
        payment_id=r["payment_id"],
        amount=Money(r["amount"], r["currency"]),
        created_at=r["created_at"],
        updated_at=r["updated_at"],
        reason=r["reason"],
        status=RefundStatus(r["status"]),
        provider_reference=r["provider_reference"],
        failure_reason=r["failure_reason"],
        completed_at=r["completed_at"],
        version=r["version"],
        provider_status=r["provider_status"],
    )


PAYMENTS = Mapper[Payment]("payment", payments, dump_payment, load_payment, versioned=True)
REFUNDS = Mapper[Refund]("refund", payment_refunds, dump_refund, load_refund, versioned=True)


def dump_receipt(w: WebhookReceipt) -> Row:
    """The ``webhook_inbox`` row of ``w``."""
    return {
        "id": w.id,
        "provider": w.provider,
        "event_id": w.event_id,
        "kind": w.kind,
        "payload": json_copy(w.payload),
        "payment_reference": w.payment_reference,
        "status": w.status.value,
        "attempts": w.attempts,
        "error": w.error,
        "received_at": w.received_at,
        "applied_at": w.applied_at,
        "version": w.version,
    }


def load_receipt(r: Stored, _: Sequence[Stored]) -> WebhookReceipt:
    """The receipt stored in ``r``."""
    return WebhookReceipt(
        id=r["id"],
        provider=r["provider"],
        event_id=r["event_id"],
        kind=r["kind"],
        received_at=r["received_at"],
        payload=json_copy(r["payload"]),
        payment_reference=r["payment_reference"],
        status=ReceiptStatus(r["status"]),
        attempts=r["attempts"],
        error=r["error"],
        applied_at=r["applied_at"],
        version=r["version"],
    )


WEBHOOK_INBOX = Mapper[WebhookReceipt](
    "webhookreceipt", webhook_inbox, dump_receipt, load_receipt, versioned=True
)


def _dump_line(line: InvoiceLine) -> dict[str, Any]:
    return {
        "description": line.description,
        "quantity": line.quantity,
        "unit_price": str(line.unit_price.amount),
        "amount": str(line.amount.amount),
        "tax_rate": None if line.tax_rate is None else str(line.tax_rate),
        "discount": None if line.discount is None else str(line.discount.amount),
        "tax": None if line.tax_amount is None else str(line.tax_amount.amount),
    }


def _load_line(row: dict[str, Any], currency: str) -> InvoiceLine:
    rate = row["tax_rate"]
    return InvoiceLine(
        description=row["description"],
        quantity=row["quantity"],
        unit_price=Money(Decimal(row["unit_price"]), currency),
        amount=Money(Decimal(row["amount"]), currency),
        tax_rate=None if rate is None else Decimal(rate),
        discount=_line_money(row.get("discount"), currency),
        tax_amount=_line_money(row.get("tax"), currency),
    )


def _line_money(value: str | None, currency: str) -> Money | None:
    """An optional amount of an invoice line (lines stored before 0.2 have none)."""
    return None if value is None else Money(Decimal(value), currency)


def dump_invoice(i: Invoice) -> Row:
    """The ``invoices`` row of ``i``."""
    return {
        "id": i.id,
        "number": i.number,
        "kind": i.kind.value,
        "series_key": i.series_key,
        "sequence": i.sequence,
        "booking_id": i.booking_id,
        "customer_id": i.customer_id,
        "payment_id": i.payment_id,
        "refund_id": i.refund_id,
        "credited_invoice_id": i.credited_invoice_id,
        "issued_at": i.issued_at,
        "currency": i.currency,
        "lines": [_dump_line(line) for line in i.lines],
        "subtotal": i.subtotal.amount,
        "discount": i.discount.amount,
        "tax": i.tax.amount,
        "total": i.total.amount,
        "paid": i.paid.amount,
        "due": i.due.amount,
        "version": i.version,
    }


def load_invoice(r: Stored, _: Sequence[Stored]) -> Invoice:
    """The invoice stored in ``r``."""
    currency = r["currency"]
    return Invoice(
        id=r["id"],
        number=r["number"],
        kind=InvoiceKind(r["kind"]),
        series_key=r["series_key"],
        sequence=r["sequence"],
        booking_id=r["booking_id"],
        customer_id=r["customer_id"],
        payment_id=r["payment_id"],
        refund_id=r["refund_id"],
        credited_invoice_id=r["credited_invoice_id"],
        issued_at=r["issued_at"],
        currency=currency,
        lines=tuple(_load_line(line, currency) for line in r["lines"]),
        subtotal=Money(r["subtotal"], currency),
        discount=Money(r["discount"], currency),
        tax=Money(r["tax"], currency),
        total=Money(r["total"], currency),
        paid=Money(r["paid"], currency),
        due=Money(r["due"], currency),
        version=r["version"],
    )


def dump_series(x: InvoiceSeries) -> Row:
    """The ``invoice_series`` row of ``x``."""
    return {"id": x.id, "key": x.key, "next_number": x.next_number, "version": x.version}


def load_series(r: Stored, _: Sequence[Stored]) -> InvoiceSeries:
    """The series stored in ``r``."""
    return InvoiceSeries(
        id=r["id"], key=r["key"], next_number=r["next_number"], version=r["version"]
    )


INVOICES = Mapper[Invoice]("invoice", invoices, dump_invoice, load_invoice, versioned=True)
INVOICE_SERIES = Mapper[InvoiceSeries](
    "invoiceseries", invoice_series, dump_series, load_series, versioned=True
)


# --------------------------------------------------------------------------- repositories


def _provider_or_none(provider: str) -> str | None:
    """``provider`` normalised, or ``None`` when malformed: no payment or receipt names it."""
    try:
        return normalise_provider(provider)
    except ValidationError:
        return None


def _series_id_or_none(key: str) -> UUID | None:
    """The id of the series with ``key``, or ``None`` when malformed: no series has it."""
    try:
        return series_id(key)
    except ValidationError:
        return None


class PaymentRepository(Repository[Payment]):
    """:class:`~bookingcore.ports.PaymentRepository` in SQL."""

    def get(self, payment_id: PaymentId) -> Payment | None:
        return self._get(payment_id)

    def get_for_update(self, payment_id: PaymentId) -> Payment | None:
        return self._lock(payment_id)

    def get_by_provider_reference(self, provider: str, reference: str) -> Payment | None:
        name = _provider_or_none(provider)
        if name is None:
            return None
        c = self._table.c
        return self._first(
            [c.provider == name, c.provider_reference == reference],
            lambda p: p.provider == name and p.provider_reference == reference,
        )

    def get_by_provider_reference_for_update(
        self, provider: str, reference: str, *, with_booking: bool = False
    ) -> Payment | None:
        name = _provider_or_none(provider)
        if name is None:
            return None
        # The booking's other payments come in the same round trip: applying a capture
        # adds up what the booking was paid next (list_for_booking answers from memory).
        # With the booking: locked after the payment, in the same round trip, with its
        # location and travelers (as bookings.get_for_update reads it, from memory then).
        return self._session.lock_unique(
            self._mapper,
            {"provider": name, "provider_reference": reference},
            lambda p: p.provider == name and p.provider_reference == reference,
            along="booking_id",
            owner=("booking", (LOCATIONS, "location_id")) if with_booking else None,
        )

    def get_by_idempotency_key(self, key: str) -> Payment | None:
        return self._unique("idempotency_key", key, lambda p: p.idempotency_key)

    def list_for_booking(self, booking_id: BookingId) -> Sequence[Payment]:
        return self._oldest_with(booking_id=booking_id)

    def list_for_customer(self, customer_id: CustomerId) -> Sequence[Payment]:
        return self._oldest_with(customer_id=customer_id)

    def tally_reconciliation(
        self, created_from: datetime, created_before: datetime, cancelled: StatusSet
    ) -> ReconciliationTally:
        # Only the columns the report needs, never the payments' JSON columns: the
        # period's bookings with their sums (GROUP BY), the ids of the payments
        # counted, then the payments holding money that no active booking accounts
        # for. Three statements on PostgreSQL, four elsewhere, whatever the number
        # of bookings.
        connection = self._session.connection()
        dialect = connection.dialect.name
        # The bookings table by name: the payments' module does not import the
        # bookings' (they are on one layer).
        bookings = self._table.metadata.tables["bookings"]
        b, p = bookings.c, self._table.c
        period = (b.created_at >= created_from, b.created_at < created_before)
        gone = status_in(cancelled, b.status, b.lifecycle)
        counted = and_(p.booking_id == b.id, p.currency == b.currency)
        paid: dict[UUID, list[UUID]] = {}
        if dialect == "postgresql":
            # Each booking's payments in its currency read through their booking's
            # index (a lateral join: some rows a booking, where a hash join reads every
            # payment), summed with their ids in order: one statement where a second
            # one read the payments again for their ids.
            # The same read gives the ids of the booking's payments holding money for
            # a cancelled booking or in another currency, the stray ones.
            same = p.currency == b.currency
            strays = and_(p.captured_amount != 0, or_(gone, p.currency != b.currency))
            sums = (
                select(
                    func.coalesce(func.sum(p.captured_amount).filter(same), ZERO).label("captured"),
                    func.coalesce(func.sum(p.refunded_amount).filter(same), ZERO).label("refunded"),
                    func.array_agg(aggregate_order_by(p.id, p.created_at, p.id))
                    .filter(same)
                    .label("ids"),
                    func.array_agg(p.id).filter(strays).label("strays"),
                )
                .where(p.booking_id == b.id)
                .lateral("paid")
            )
            booked = connection.execute(
                select(
                    b.id,
                    b.reference,
                    b.status,
                    b.currency,
                    b.total_amount,
                    sums.c.captured,
                    sums.c.refunded,
                    b.customer_id,
                    gone,
                    sums.c.ids,
                    sums.c.strays,
                )
                .select_from(bookings.join(sums, true()))
                .where(*period)
                .order_by(b.created_at, b.id)
            ).all()
        else:
            booked = connection.execute(
                select(
                    b.id,
                    b.reference,
                    b.status,
                    b.currency,
                    b.total_amount,
                    exact_sum(p.captured_amount, dialect),
                    exact_sum(p.refunded_amount, dialect),
                    b.customer_id,
                    gone,
                )
                .select_from(bookings.outerjoin(self._table, counted))
                .where(*period)
                .group_by(b.id)
                .order_by(b.created_at, b.id)
            ).all()
            for booking_id, payment_id in connection.execute(
                select(p.booking_id, p.id)
                .select_from(self._table.join(bookings, counted))
                .where(*period, not_(gone))
                .order_by(p.created_at, p.id)
            ):
                paid.setdefault(booking_id, []).append(payment_id)
        place = {row[0]: index for index, row in enumerate(booked)}
        customers: dict[UUID, int] = {}
        for row in booked:
            customers.setdefault(row[7], len(customers))
        held = [p.id, p.booking_id, p.provider, p.provider_reference, p.currency]
        amounts = [p.captured_amount, p.refunded_amount]
        holding = _not_zero(p.captured_amount, dialect)
        of_bookings: Sequence[Sequence[Any]]
        if dialect == "postgresql":
            # The stray payments the lateral read found, by their ids (primary key).
            cancelled_ones = {row[0]: row[8] for row in booked}
            wanted = [ident for row in booked for ident in row[10] or ()]
            of_bookings = [
                (*row[:7], cancelled_ones[row[1]], row[7])
                for row in connection.execute(
                    select(*held, *amounts, p.created_at).where(
                        p.id == any_(bindparam("strays", wanted, type_=ARRAY(Uuid())))
                    )
                )
            ]
        else:
            of_bookings = connection.execute(
                select(*held, *amounts, gone, p.created_at)
                .select_from(self._table.join(bookings, p.booking_id == b.id))
                .where(*period, holding, or_(gone, p.currency != b.currency))
            ).all()
        in_period = select(b.id).where(*period)
        of_customers = connection.execute(
            select(*held, *amounts, p.customer_id, p.created_at).where(
                p.customer_id.in_(select(b.customer_id).where(*period)),
                p.booking_id.not_in(in_period),
                *within(p.created_at, created_from, created_before),
                holding,
            )
        ).all()
        # The report's order: each booking's payments in the bookings' order, then
        # each customer's in the order of their first booking of the period.
        of_bookings = sorted(of_bookings, key=lambda row: (place[row[1]], row[8], row[0].bytes))
        of_customers = sorted(
            of_customers, key=lambda row: (customers[row[7]], row[8], row[0].bytes)
        )
        if dialect == "postgresql":
            ids = [tuple(row[9] or ()) for row in booked]
        else:
            ids = [tuple(paid.get(row[0], ())) for row in booked]
        return ReconciliationTally(
            tuple(
                PaidBookingTally(
                    row[0],
                    row[1],
                    row[2],
                    row[3],
                    row[4],
                    read_sum(row[5], dialect),
                    read_sum(row[6], dialect),
                    payment_ids,
                )
                for row, payment_ids in zip(booked, ids, strict=True)
                if not row[8]
            ),
            (
                *(
                    HeldPaymentTally(
                        row[0], row[1], row[2], row[3], row[4], row[5], row[6], bool(row[7])
                    )
                    for row in of_bookings
                ),
                *(HeldPaymentTally(*row[:7], False) for row in of_customers),
            ),
        )

    def list_needing_attention(self, limit: int) -> Sequence[Payment]:
        return self._oldest_first(
            [self._table.c.attention_since.is_not(None)],
            lambda p: p.attention_since is not None,
            at="attention_since",
            limit=limit,
        )


class RefundRepository(Repository[Refund]):
    """:class:`~bookingcore.ports.RefundRepository` in SQL."""

    def get(self, refund_id: RefundId) -> Refund | None:
        return self._get(refund_id)

    def get_by_provider_reference(self, reference: str) -> Refund | None:
        return self._unique("provider_reference", reference, lambda r: r.provider_reference)

    def list_for_payment(self, payment_id: PaymentId) -> Sequence[Refund]:
        return self._oldest_with(payment_id=payment_id)


class WebhookInboxRepository(Repository[WebhookReceipt]):
    """:class:`~bookingcore.ports.WebhookInboxRepository` in SQL."""

    def get(self, receipt_id: UUID) -> WebhookReceipt | None:
        return self._get(receipt_id)

    def get_by_event(self, provider: str, event_id: str) -> WebhookReceipt | None:
        name = _provider_or_none(provider)
        if name is None:
            return None
        found = self._session.select_equal(
            self._mapper, {"provider": name, "event_id": event_id}, lambda w: w.received_at
        )
        return found[0] if found else None

    def add_if_new(self, receipt: WebhookReceipt) -> bool:
        return self._session.add_if_new(self._mapper, receipt, ("provider", "event_id"))

    def list_unsettled(self, limit: int) -> Sequence[WebhookReceipt]:
        c = self._table.c
        unsettled = (ReceiptStatus.RECEIVED, ReceiptStatus.FAILED)
        return self._oldest_first(
            [c.status.in_([s.value for s in unsettled])],
            lambda w: w.status in unsettled,
            at="received_at",
            limit=limit,
        )

    def list_for_payment(self, provider: str, payment_reference: str) -> Sequence[WebhookReceipt]:
        name = _provider_or_none(provider)
        if name is None:
            return []
        c = self._table.c
        return self._oldest_first(
            [c.payment_reference == payment_reference, c.provider == name],
            lambda w: w.provider == name and w.payment_reference == payment_reference,
            at="received_at",
        )


class InvoiceRepository(Repository[Invoice]):
    """:class:`~bookingcore.ports.InvoiceRepository` in SQL."""

    def get(self, invoice_id: InvoiceId) -> Invoice | None:
        return self._get(invoice_id)

    def get_by_number(self, number: str) -> Invoice | None:
        return self._unique("number", number, lambda i: i.number)

    def list_for_booking(self, booking_id: BookingId) -> Sequence[Invoice]:
        return self._session.select_equal(
            self._mapper,
            {"booking_id": booking_id},
            lambda i: (i.issued_at, i.series_key, i.sequence),
        )


class InvoiceSeriesRepository(Repository[InvoiceSeries]):
    """:class:`~bookingcore.ports.InvoiceSeriesRepository` in SQL.

    A series' id derives from its key, so ``get_for_update`` locks its row by
    primary key: ``SELECT ... FOR UPDATE`` on PostgreSQL, the write lock on SQLite.
    ``take_number`` takes a number with one ``UPDATE ... RETURNING``, which locks
    the row as it moves the series on.
    """

    def add_if_new(self, series: InvoiceSeries) -> bool:
        # The id is derived from the key: a concurrent twin clashes on both unique
        # indexes, so any unique key decides (PostgreSQL checks only the target's).
        return self._session.add_if_new(self._mapper, series, ())

    def get(self, key: str) -> InvoiceSeries | None:
        wanted = _series_id_or_none(key)
        return None if wanted is None else self._get(wanted)

    def get_for_update(self, key: str) -> InvoiceSeries | None:
        wanted = _series_id_or_none(key)
        return None if wanted is None else self._lock(wanted)

    def take_number(self, key: str) -> int | None:
        wanted = _series_id_or_none(key)
        if wanted is None:
            return None
        if wanted in self._session.tracked(self._mapper):
            series = self._lock(wanted)  # read in this unit of work: taken in memory
            return None if series is None else series.take()
        moved = self._session.increment_now(self._mapper, wanted, "next_number")
        return None if moved is None else moved.next_number - 1


def _not_zero(amount: ColumnElement[Decimal], dialect: str) -> ColumnElement[bool]:
    """``amount <> 0`` (on SQLite the amount is decimal text, compared as a number)."""
    if dialect == "postgresql":
        return amount != 0
    return cast(amount, Numeric()) != 0
