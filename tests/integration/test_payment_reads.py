"""On PostgreSQL, locking a payment by its provider reference also reads its booking's other
payments, in the same round trip: adding up what the booking was paid sends nothing more,
and still sees every payment of the booking, this transaction's own included. A capture
locks the booking in that round trip too. A redelivered webhook changes nothing and ends its
transaction with a commit."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import uuid4

import attrs
import pytest
from psycopg import pq
from sqlalchemy import event
from sqlalchemy.exc import DBAPIError

from bookingcore import (
    BookingCore,
    BookingRequest,
    Money,
    NewTraveler,
    PaymentId,
    Principal,
    StaffId,
    StaffRole,
    TravelerDetails,
)
from bookingcore.domain import Booking, Customer, Payment, PaymentStatus, ReceiptStatus, Slot
from bookingcore.testing import FakePaymentProvider
from bookingcore_adapters.sql import SqlStore

PRICE = Money("1000", "INR")


@attrs.frozen
class Shop:
    """A core over PostgreSQL with a fake card provider, an open slot and a paying customer."""

    store: SqlStore
    provider: FakePaymentProvider
    core: BookingCore
    admin: Principal
    slot: Slot
    customer: Customer
    payer: Principal

    def book(self, name: str = "Asha Rao") -> Booking:
        return self.core.bookings.book(
            BookingRequest(self.slot.id, [NewTraveler(TravelerDetails(name), True)]),
            principal=self.payer,
        )

    def intent(self, booking: Booking, key: str, amount: Money | None = None) -> Payment:
        return self.core.payments.create_intent(
            booking.id, "fake", principal=self.payer, idempotency_key=key, amount=amount
        ).payment


@pytest.fixture
def shop(pg_store: SqlStore) -> Shop:
    provider = FakePaymentProvider("fake", secret="s")
    core = BookingCore(uow_factory=pg_store.unit_of_work, payment_providers=[provider])
    admin = Principal.staff(StaffId(uuid4()), StaffRole.ADMIN)
    location = core.catalog.add_location("PR01", "Pay reads", principal=admin)
    slot = core.catalog.create_slot(
        location_id=location.id,
        starts_at=datetime.now(UTC) + timedelta(days=9),
        price_per_traveler=PRICE,
        capacity=None,
        principal=admin,
    )
    customer = core.customers.register("+919800000077", principal=admin).customer
    payer = Principal.customer(customer.id)
    return Shop(pg_store, provider, core, admin, slot, customer, payer)


@pytest.mark.postgres
def test_a_locked_payment_brings_its_booking_payments_along(
    shop: Shop, caplog: pytest.LogCaptureFixture
) -> None:
    pg_store = shop.store

    def booked(name: str) -> tuple[Payment, Payment]:
        booking = shop.book(name)
        half = Money("500", "INR")
        first, second = (shop.intent(booking, f"{booking.id}-{n}", half) for n in (1, 2))
        return first, second

    first, second = booked("Asha Rao")
    other, _ = booked("Ravi Rao")  # another booking's payments are not its siblings
    assert first.provider_reference is not None

    with pg_store.unit_of_work() as uow, caplog.at_level(logging.DEBUG, logger="bookingcore.sql"):
        locked = uow.payments.get_by_provider_reference_for_update("fake", first.provider_reference)
        assert locked is not None
        assert locked.id == first.id
        caplog.clear()
        listed = uow.payments.list_for_booking(first.booking_id)
        assert [p.id for p in listed] == [first.id, second.id]
        assert not caplog.records  # answered from what the lock's round trip read
        # The siblings are the tracked entities: a change made here is seen on a later read.
        assert listed[0] is locked
        assert uow.payments.get(second.id) is listed[1]
        assert other.id not in {p.id for p in listed}
        uow.rollback()
        # A new transaction reads them again.
        caplog.clear()
        again = uow.payments.list_for_booking(first.booking_id)
        assert [p.id for p in again] == [first.id, second.id]
        assert caplog.records


@pytest.mark.postgres
def test_a_payment_added_after_the_lock_is_listed_with_its_siblings(shop: Shop) -> None:
    pg_store, customer = shop.store, shop.customer
    booking = shop.book()
    first = shop.intent(booking, "one", Money("400", "INR"))
    assert first.provider_reference is not None
    with pg_store.unit_of_work() as uow:
        locked = uow.payments.get_by_provider_reference_for_update("fake", first.provider_reference)
        assert locked is not None
        now = datetime.now(UTC)
        added = Payment(
            id=PaymentId(uuid4()),
            booking_id=booking.id,
            customer_id=customer.id,
            provider="manual",
            amount=Money("600", "INR"),
            created_at=now,
            updated_at=now,
            provider_reference="desk-1",
        )
        uow.payments.add(added)
        assert {p.id for p in uow.payments.list_for_booking(booking.id)} == {first.id, added.id}
        uow.commit()
    with pg_store.unit_of_work() as uow:
        stored = uow.payments.list_for_booking(booking.id)
        assert {p.id for p in stored} == {first.id, added.id}


@pytest.mark.postgres
def test_a_redelivery_changes_nothing_and_ends_with_a_commit(shop: Shop) -> None:
    # A rollback would make psycopg drop the connection's prepared statements, so every
    # capture after a duplicate would parse and plan its statements again.
    pg_store, provider, core, admin = shop.store, shop.provider, shop.core, shop.admin
    booking = shop.book()
    payment = shop.intent(booking, "one")
    assert payment.provider_reference is not None
    headers, body = provider.webhook("captured", payment.provider_reference, amount=PRICE)
    first = core.payments.handle_webhook("fake", headers, body)
    assert first.status is ReceiptStatus.APPLIED

    ended: list[str] = []
    commits, rollbacks = (lambda _: ended.append("commit")), (lambda _: ended.append("rollback"))
    event.listen(pg_store.engine, "commit", commits)
    event.listen(pg_store.engine, "rollback", rollbacks)
    try:
        again = core.payments.handle_webhook("fake", headers, body)
    finally:
        event.remove(pg_store.engine, "commit", commits)
        event.remove(pg_store.engine, "rollback", rollbacks)
    assert again.id == first.id
    assert again.status is ReceiptStatus.APPLIED
    assert ended == ["commit"]
    (stored,) = core.payments.for_booking(booking.id, principal=admin)
    assert stored.status is PaymentStatus.CAPTURED
    assert stored.processed_event_ids == {first.event_id}
    history = core.bookings.history(booking.id, principal=admin)
    assert [entry.to_status for entry in history].count("confirmed") == 1


@pytest.mark.postgres
def test_a_payment_locked_with_its_booking_locks_both_in_one_round_trip(
    shop: Shop, caplog: pytest.LogCaptureFixture
) -> None:
    pg_store = shop.store
    booking = shop.book("Meera Iyer")
    payment = shop.intent(booking, "with-booking")
    assert payment.provider_reference is not None
    with pg_store.unit_of_work() as uow, caplog.at_level(logging.DEBUG, logger="bookingcore.sql"):
        locked = uow.payments.get_by_provider_reference_for_update(
            "fake", payment.provider_reference, with_booking=True
        )
        assert locked is not None
        assert locked.id == payment.id
        sent = [record.getMessage() for record in caplog.records]
        assert len(sent) == 4  # the payment, its booking's payments, the booking, its travelers
        assert "FOR UPDATE OF bookings" in sent[2]
        caplog.clear()
        # The booking's lock and read are answered from memory, with its location and
        # travelers, as bookings.get_for_update gives them.
        held = uow.bookings.get_for_update(booking.id)
        assert held is not None
        assert held.version == booking.version
        assert [seat.traveler_id for seat in held.travelers] == [
            seat.traveler_id for seat in booking.travelers
        ]
        traveler = uow.travelers.get(held.travelers[0].traveler_id)
        assert traveler is not None
        assert traveler.name == "Meera Iyer"
        location = uow.locations.get(held.location_id)
        assert location is not None
        assert location.code == "PR01"
        assert [p.id for p in uow.payments.list_for_booking(booking.id)] == [payment.id]
        assert not caplog.records
        # Both rows are locked until the transaction ends.
        with pg_store.engine.connect() as other:
            other.exec_driver_sql("SET lock_timeout = '100ms'")
            for table, ident in (("payments", payment.id), ("bookings", booking.id)):
                with pytest.raises(DBAPIError, match="lock"):
                    other.exec_driver_sql(
                        f"SELECT id FROM {table} WHERE id = %(id)s FOR UPDATE",
                        {"id": ident},
                    )
                other.rollback()
                other.exec_driver_sql("SET lock_timeout = '100ms'")
        # A change made under the lock is written as usual.
        held.metadata = {"seen": "yes"}
        uow.commit()
    assert shop.core.bookings.get(booking.id, principal=shop.admin).metadata == {"seen": "yes"}


@pytest.mark.postgres
def test_a_capture_locks_its_booking_with_its_payment_and_reads_no_refunds(
    shop: Shop, caplog: pytest.LogCaptureFixture
) -> None:
    # The receipt, the payment locked with its booking, the invoice number, the writes
    # with COMMIT; an unflagged payment has no unreconciled refund, so its refunds are
    # not read.
    booking = shop.book()
    payment = shop.intent(booking, "four-trips")
    assert payment.provider_reference is not None
    headers, body = shop.provider.webhook("captured", payment.provider_reference, amount=PRICE)
    with caplog.at_level(logging.DEBUG, logger="bookingcore.sql"):
        receipt = shop.core.payments.handle_webhook("fake", headers, body)
    assert receipt.status is ReceiptStatus.APPLIED
    sent = [record.getMessage() for record in caplog.records]
    assert not [one for one in sent if "payment_refunds" in one]
    assert len([one for one in sent if one.startswith("SELECT bookings.")]) == 1
    assert len([one for one in sent if "FOR UPDATE" in one]) == 2  # the payment, the booking
    stored = shop.core.bookings.get(booking.id, principal=shop.admin)
    assert stored.status == "confirmed"


@attrs.define
class Traffic:
    """What one call sent to PostgreSQL.

    ``statements``: each statement as it reached the driver, through SQLAlchemy
    (its ``before_cursor_execute`` event) or straight to psycopg (the adapter's
    ``bookingcore.sql`` logger at DEBUG names those); ``BEGIN`` and ``COMMIT`` are
    not among them. ``messages``: libpq's trace of what the client sent, as
    ``(message type, text)``, ``BEGIN`` and ``COMMIT`` included.
    """

    statements: list[str] = attrs.Factory(list)
    messages: list[tuple[str, str]] = attrs.Factory(list)

    @property
    def round_trips(self) -> int:
        """How many times the client waited for the server: each simple ``Query`` and
        each ``Sync`` that ends a batch of statements (one pipeline is one batch)."""
        return sum(kind in ("Query", "Sync") for kind, _ in self.messages)

    def sent(self, text: str) -> int:
        """How many ``Query`` or ``Parse`` messages sent ``text`` (``BEGIN``, ``COMMIT``)."""
        return sum(
            kind in ("Query", "Parse") and f'"{text}"' in said for kind, said in self.messages
        )


@contextmanager
def traffic(store: SqlStore, trace: Path) -> Iterator[Traffic]:
    """Record :class:`Traffic` while the block runs (libpq's trace, psycopg's public
    ``PGconn.trace``, on every connection the store checks out)."""
    seen = Traffic()

    class Listener(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            seen.statements.append(record.getMessage())

    def before(*args: Any) -> None:
        seen.statements.append(args[2])

    with trace.open("w") as file:

        def checkout(dbapi_connection: Any, *_: Any) -> None:
            dbapi_connection.pgconn.trace(file.fileno())
            dbapi_connection.pgconn.set_trace_flags(pq.Trace.SUPPRESS_TIMESTAMPS)

        def checkin(dbapi_connection: Any, *_: Any) -> None:
            dbapi_connection.pgconn.untrace()

        log = logging.getLogger("bookingcore.sql")
        listener, level = Listener(), log.level
        log.addHandler(listener)
        log.setLevel(logging.DEBUG)
        engine = store.engine
        event.listen(engine, "before_cursor_execute", before)
        event.listen(engine, "checkout", checkout)
        event.listen(engine, "checkin", checkin)
        try:
            yield seen
        finally:
            event.remove(engine, "checkin", checkin)
            event.remove(engine, "checkout", checkout)
            event.remove(engine, "before_cursor_execute", before)
            log.removeHandler(listener)
            log.setLevel(level)
    for line in trace.read_text().splitlines():
        fields = line.split("\t")
        # "F <length> <type> <contents>"; a statement's text may go on over more lines.
        if len(fields) >= 3 and fields[0] == "F":
            seen.messages.append((fields[2], "\t".join(fields[3:])))


@pytest.mark.postgres
def test_a_webhook_capture_sends_what_the_payments_page_says(shop: Shop, tmp_path: Path) -> None:
    # docs/payments.md ("One transaction per delivery") gives these figures: a capture that
    # confirms its booking (no partner, its invoice series stored already, events left to a
    # relay), once psycopg has prepared its statements (the fifth run of one on a connection
    # prepares it, in a round trip of its own, as a real host's steady state has them).
    core = BookingCore(
        uow_factory=shop.store.unit_of_work,
        payment_providers=[shop.provider],
        dispatch="deferred",
    )

    def delivery(name: str) -> tuple[Booking, tuple[dict[str, str], bytes]]:
        booking = shop.book(name)
        payment = shop.intent(booking, f"key-{name}")
        assert payment.provider_reference is not None
        return booking, shop.provider.webhook("captured", payment.provider_reference, amount=PRICE)

    for n in range(6):
        core.payments.handle_webhook("fake", *delivery(f"Warm Up {n}")[1])
    booking, (headers, body) = delivery("Asha Rao")

    with traffic(shop.store, tmp_path / "capture.trace") as capture:
        receipt = core.payments.handle_webhook("fake", headers, body)
    assert receipt.status is ReceiptStatus.APPLIED
    assert core.bookings.get(booking.id, principal=shop.admin).status == "confirmed"
    shapes = [" ".join(sql.split()[:3]) for sql in capture.statements]
    assert shapes == [
        # the receipt
        "INSERT INTO webhook_inbox",
        # the payment and its booking locked, with the booking's payments, travelers and
        # location (joined to the booking)
        "SELECT payments.id, payments.booking_id,",
        "SELECT payments.id, payments.booking_id,",
        "SELECT bookings.id, bookings.reference,",
        "SELECT booking_travelers.booking_id, booking_travelers.traveler_id,",
        # the invoice number
        "UPDATE invoice_series SET",
        # the writes, with COMMIT
        "INSERT INTO outbox",
        "UPDATE webhook_inbox SET",
        "UPDATE bookings SET",
        "INSERT INTO booking_audit_logs",
        "INSERT INTO booking_lifecycle_events",
        "UPDATE payments SET",
        "INSERT INTO invoices",
    ]
    assert len(capture.statements) == 13
    assert (capture.sent("BEGIN"), capture.sent("COMMIT")) == (1, 1)
    assert capture.round_trips == 5

    with traffic(shop.store, tmp_path / "duplicate.trace") as duplicate:
        again = core.payments.handle_webhook("fake", headers, body)
    assert again.id == receipt.id
    shapes = [" ".join(sql.split()[:3]) for sql in duplicate.statements]
    assert shapes == [
        "INSERT INTO webhook_inbox",
        "SELECT webhook_inbox.id, webhook_inbox.provider,",
    ]
    assert (duplicate.sent("BEGIN"), duplicate.sent("COMMIT")) == (1, 1)
    assert duplicate.round_trips == 4
