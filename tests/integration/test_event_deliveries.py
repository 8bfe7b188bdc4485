"""Handler deliveries on every backend: a retry two workers reach at once runs once, a
handler whose writes the store refuses is retried, an operator's replay runs now.
"""

from __future__ import annotations

import threading
from datetime import timedelta
from typing import Any
from uuid import UUID, uuid4

import pytest

from bookingcore import (
    BookingCore,
    BookingRequest,
    Money,
    NewTraveler,
    NotFoundError,
    Principal,
    RetryPolicy,
    Settings,
    StaffId,
    StaffRole,
    TravelerDetails,
)
from bookingcore.domain import Document, DocumentKind
from bookingcore.domain.events import BookingCreated, BookingStatusChanged, Delivery, DeliveryStatus
from bookingcore.services import HandlerContext
from bookingcore.testing import FixedClock, SequentialIds
from bookingcore_adapters.memory import MemoryStore
from bookingcore_adapters.sql import SqlStore

ADMIN = Principal.staff(StaffId(uuid4()), StaffRole.ADMIN)
RETRY = RetryPolicy(max_attempts=3, first_delay=timedelta(minutes=1))

Store = MemoryStore | SqlStore


def _core(store: Store, clock: FixedClock, **options: Any) -> BookingCore:
    return BookingCore(
        uow_factory=store.unit_of_work,
        clock=clock,
        ids=SequentialIds(),
        settings=Settings(default_region="IN"),
        automations=False,
        retry=RETRY,
        **options,
    )


def _book(core: BookingCore, clock: FixedClock, phone: str = "+919800000077") -> Any:
    camp = core.catalog.add_location(f"C{uuid4().hex[:6].upper()}", "Camp", principal=ADMIN)
    slot = core.catalog.create_slot(
        location_id=camp.id,
        starts_at=clock.now() + timedelta(days=30),
        price_per_traveler=Money("8500", "INR"),
        capacity=10,
        principal=ADMIN,
    )
    customer = core.customers.register(phone, principal=ADMIN).customer
    return core.bookings.book(
        BookingRequest(
            slot.id, [NewTraveler(TravelerDetails("Asha"), is_primary=True)], customer.id
        ),
        principal=ADMIN,
    )


def _created_event(store: Store) -> UUID:
    with store.unit_of_work() as uow:
        found = [
            m.id for m in uow.outbox.list_unpublished(100) if isinstance(m.event, BookingCreated)
        ]
    assert len(found) == 1
    return found[0]


def _delivery(store: Store, event_id: UUID, handler: str) -> Delivery:
    with store.unit_of_work() as uow:
        found = uow.deliveries.get(event_id, handler)
    assert found is not None
    return found


def _documents(store: Store, booking_id: Any) -> list[Document]:
    with store.unit_of_work() as uow:
        return list(uow.documents.list_for_booking(booking_id))


def _document(event: Any, context: HandlerContext, document_id: UUID | None = None) -> Document:
    return Document(
        id=document_id or uuid4(),  # type: ignore[arg-type]
        booking_id=event.booking_id,
        kind=DocumentKind.CERTIFICATE,
        filename="welcome.txt",
        media_type="text/plain",
        content=f"handled {event.id}",
        created_at=context.now,
        source_event_id=event.id,
    )


def test_a_retry_two_workers_reach_at_once_is_applied_once(any_store: Store) -> None:
    """Both workers may run the handler; only one stores its writes with the attempt,
    the other finds the delivery moved on and drops its own."""
    clock = FixedClock()
    failing = [True]

    def first_try(event: BookingCreated, context: HandlerContext) -> None:
        if failing[0]:
            raise ConnectionError("archive down")

    writer = _core(any_store, clock)
    writer.events.subscribe(BookingCreated, first_try, name="archive")
    booking = _book(writer, clock)
    event_id = _created_event(any_store)
    assert _delivery(any_store, event_id, "archive").status is DeliveryStatus.RETRYING
    clock.advance(minutes=1)

    calls: list[str] = []
    second_called = threading.Event()
    reports: dict[str, Any] = {}

    def archive_as(worker: str, start_other: Any = None) -> Any:
        def archive(event: BookingCreated, context: HandlerContext) -> None:
            calls.append(worker)
            context.uow.documents.add(_document(event, context))
            if start_other is not None:
                start_other()
                # Give the other worker its chance to apply the same retry meanwhile.
                second_called.wait(timeout=1.0)
            else:
                second_called.set()

        return archive

    second = _core(any_store, clock)
    second.events.subscribe(BookingCreated, archive_as("second"), name="archive")
    thread = threading.Thread(target=lambda: reports.update(second=second.events.run_pending()))
    first = _core(any_store, clock)
    first.events.subscribe(BookingCreated, archive_as("first", thread.start), name="archive")
    reports["first"] = first.events.run_pending()
    thread.join(timeout=30)
    assert not thread.is_alive()

    assert calls[0] == "first"
    assert len(_documents(any_store, booking.id)) == 1
    record = _delivery(any_store, event_id, "archive")
    assert (record.status, record.attempts) == (DeliveryStatus.DONE, 2)
    assert sorted(report.applied for report in reports.values()) == [0, 1]


def test_a_handler_whose_writes_the_store_refuses_is_recorded_and_retried(
    any_store: Store,
) -> None:
    """A conflict in the handler's own writes (a duplicate, a stale version) is the
    handler's failure, not another dispatcher's success: it is retried."""
    clock = FixedClock()
    taken = uuid4()
    clash = [True]

    def file_document(event: BookingCreated, context: HandlerContext) -> None:
        context.uow.documents.add(_document(event, context, taken if clash[0] else None))

    core = _core(any_store, clock)
    booking = _book(core, clock)
    with any_store.unit_of_work() as uow:  # a document that already holds the id
        uow.documents.add(
            Document(
                id=taken,  # type: ignore[arg-type]
                booking_id=booking.id,
                kind=DocumentKind.CERTIFICATE,
                filename="older.txt",
                media_type="text/plain",
                content="older",
                created_at=clock.now(),
            )
        )
        uow.commit()
    core.events.subscribe(BookingStatusChanged, file_document, name="filing")
    moved = core.bookings.transition(booking.id, "confirmed", principal=ADMIN)
    with any_store.unit_of_work() as uow:
        event_id = next(
            m.id
            for m in uow.outbox.list_unpublished(100)
            if isinstance(m.event, BookingStatusChanged)
        )
    assert moved.booking.status == "confirmed"
    record = _delivery(any_store, event_id, "filing")
    assert (record.status, record.attempts) == (DeliveryStatus.RETRYING, 1)
    assert record.last_error is not None
    assert record.last_error.startswith("DuplicateError")

    clash[0] = False
    clock.advance(minutes=1)
    report = core.events.run_pending()
    assert report.applied == 1
    assert _delivery(any_store, event_id, "filing").status is DeliveryStatus.DONE
    assert [d.filename for d in _documents(any_store, booking.id)] == ["older.txt", "welcome.txt"]


def test_an_operators_retry_runs_a_delivery_waiting_for_its_retry_now(any_store: Store) -> None:
    clock = FixedClock()
    failing = [True]
    calls: list[int] = []

    def flaky(event: BookingCreated, context: HandlerContext) -> None:
        calls.append(context.attempt)
        if failing[0]:
            raise ConnectionError("archive down")

    core = _core(any_store, clock)
    core.events.subscribe(BookingCreated, flaky, name="archive")
    _book(core, clock)
    event_id = _created_event(any_store)
    waiting = _delivery(any_store, event_id, "archive")
    assert waiting.status is DeliveryStatus.RETRYING
    assert waiting.next_attempt_at == clock.now() + timedelta(minutes=1)
    failing[0] = False
    report = core.events.retry(event_id, "archive")
    assert (report.applied, report.skipped) == (1, 0)
    assert calls == [1, 2]
    assert _delivery(any_store, event_id, "archive").status is DeliveryStatus.DONE


def test_an_operators_retry_refuses_a_handler_that_does_not_take_the_event(
    any_store: Store,
) -> None:
    """A handler is never handed an event of another type, or one its ``when`` leaves out."""
    clock = FixedClock()
    calls: list[Any] = []
    core = _core(any_store, clock)
    core.events.subscribe(
        BookingStatusChanged, lambda event, context: calls.append(event), name="moves"
    )
    core.events.subscribe(
        BookingCreated,
        lambda event, context: calls.append(event),
        name="partner_bookings",
        when=lambda event: event.partner_id is not None,
    )
    _book(core, clock)
    event_id = _created_event(any_store)
    for handler in ("moves", "partner_bookings"):
        with pytest.raises(NotFoundError) as refused:
            core.events.retry(event_id, handler)
        assert refused.value.entity == "delivery"
    assert calls == []
    with any_store.unit_of_work() as uow:
        assert list(uow.deliveries.list_for_event(event_id)) == []


def test_retries_of_handlers_no_longer_subscribed_never_hold_up_the_others(
    any_store: Store,
) -> None:
    """A handler renamed or removed leaves deliveries waiting for a retry: a worker
    without it passes them over instead of filling every batch with them."""
    clock = FixedClock()
    down = [True]

    def flaky(event: BookingCreated, context: HandlerContext) -> None:
        if down[0]:
            raise ConnectionError("CRM down")

    before = _core(any_store, clock)
    before.events.subscribe(BookingCreated, flaky, name="crm")
    before.events.subscribe(BookingCreated, flaky, name="audit.v1")  # removed below
    _book(before, clock)
    _book(before, clock, phone="+919800000078")
    down[0] = False
    clock.advance(minutes=1)

    after = _core(any_store, clock)
    after.events.subscribe(BookingCreated, flaky, name="crm")
    report = after.events.run_pending(limit=2)
    assert report.applied == 2
    with any_store.unit_of_work() as uow:
        waiting = uow.deliveries.list_due(clock.now(), 10)
    assert sorted(d.handler for d in waiting) == ["audit.v1", "audit.v1"]
