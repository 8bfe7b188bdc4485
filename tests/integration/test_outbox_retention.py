"""Outbox retention: what ``core.events.prune()`` deletes, what it keeps, and the
``outbox.prune`` job; on memory, SQLite and PostgreSQL, and on PostgreSQL next to a
relay holding a claimed batch.
"""

from __future__ import annotations

import threading
import time
from datetime import timedelta
from uuid import UUID, uuid4

import pytest
from sqlalchemy import text

from bookingcore import (
    BookingCore,
    BookingRequest,
    IdempotencyConflictError,
    Money,
    NewTraveler,
    NotFoundError,
    Principal,
    Settings,
    StaffId,
    StaffRole,
    TravelerDetails,
    ValidationError,
)
from bookingcore.domain import CustomerRegistered, JobRequested
from bookingcore.domain.events import Delivery, RetryPolicy
from bookingcore.services import JobAttempt
from bookingcore.services.events import MAX_BATCH, HandlerContext
from bookingcore.testing import FixedClock, RecordingPublisher, SequentialIds
from bookingcore_adapters.memory import MemoryStore
from bookingcore_adapters.sql import SqlStore

ADMIN = Principal.staff(StaffId(uuid4()), StaffRole.ADMIN)
MONTH = timedelta(days=31)


def _core(store: MemoryStore | SqlStore, clock: FixedClock, **settings: object) -> BookingCore:
    return BookingCore(
        uow_factory=store.unit_of_work,
        clock=clock,
        ids=SequentialIds(),
        settings=Settings(default_region="IN", **settings),  # type: ignore[arg-type]
        retry=RetryPolicy(max_attempts=2, first_delay=timedelta(minutes=1)),
    )


def _kept(store: MemoryStore | SqlStore, *event_ids: UUID) -> list[bool]:
    with store.unit_of_work() as uow:
        return [uow.outbox.get(event_id) is not None for event_id in event_ids]


def _registered(core: BookingCore, phone: str) -> UUID:
    core.customers.register(phone, principal=ADMIN)
    with core.context.uow_factory() as uow:
        found = [
            m.id
            for m in uow.outbox.list_unpublished(1000)
            if isinstance(m.event, CustomerRegistered)
        ]
    return found[-1]


def test_a_message_is_pruned_once_every_handler_is_done_with_it_for_the_retention(
    any_store: MemoryStore | SqlStore,
) -> None:
    clock = FixedClock()
    core = _core(any_store, clock)
    crm_down = [False]

    def crm(event: CustomerRegistered, context: HandlerContext) -> None:
        if crm_down[0]:
            raise ConnectionError("CRM down")

    core.events.subscribe(CustomerRegistered, lambda event, context: None, name="audit.copy")
    core.events.subscribe(CustomerRegistered, crm, name="crm")
    handled = _registered(core, "+919800000001")
    crm_down[0] = True
    waiting = _registered(core, "+919800000002")
    with any_store.unit_of_work() as uow:
        statuses = {d.handler: d.status.value for d in uow.deliveries.list_for_event(waiting)}
        assert statuses == {"audit.copy": "done", "crm": "retrying"}
        message = uow.outbox.get(waiting)
        assert message is not None
        assert message.dispatched_at is not None  # dispatched, but not done with

    assert core.events.prune() == 0  # nothing is older than the retention yet
    clock.advance(MONTH)
    assert core.events.prune() == 1  # no relay: published or not does not matter
    assert _kept(any_store, handled, waiting) == [False, True]
    with any_store.unit_of_work() as uow:
        assert list(uow.deliveries.list_for_event(handled)) == []
        assert len(uow.deliveries.list_for_event(waiting)) == 2
    with pytest.raises(NotFoundError):  # an operator's replay is bounded by the retention
        core.events.retry(handled, "crm")

    core.events.run_pending()  # the last attempt fails too: it gives up now
    with any_store.unit_of_work() as uow:
        gave_up = uow.deliveries.get(waiting, "crm")
        assert gave_up is not None
        assert gave_up.status.value == "gave_up"
    assert core.events.prune() == 0  # gave up just now: kept for an operator a while
    clock.advance(MONTH)
    assert core.events.prune(limit=1) == 1
    assert _kept(any_store, waiting) == [False]


def test_a_relaying_core_prunes_only_what_it_published(
    any_store: MemoryStore | SqlStore,
) -> None:
    clock = FixedClock()
    relaying = _core(any_store, clock, outbox_relayed=True)
    first = _registered(relaying, "+919800000011")
    clock.advance(MONTH)
    assert relaying.events.prune() == 0  # dispatched long ago, never published
    publisher = RecordingPublisher()
    assert relaying.relay(publisher).relay() >= 1
    assert relaying.events.prune() == 0  # published just now
    clock.advance(MONTH)
    assert relaying.events.prune() >= 1
    assert _kept(any_store, first) == [False]

    not_relaying = _core(any_store, clock)
    for build in (
        lambda: not_relaying.relay(publisher),
        lambda: not_relaying.jobs.relay_outbox_to(publisher),
    ):
        with pytest.raises(ValidationError) as refused:
            build()
        assert refused.value.errors[0].field == "outbox_relayed"
    assert "outbox.relay" not in not_relaying.jobs.catalog.names()
    for limit in (0, MAX_BATCH + 1):
        with pytest.raises(ValidationError) as refused:
            relaying.events.prune(limit=limit)
        assert refused.value.errors[0].field == "limit"


def test_with_no_retention_nothing_is_pruned_and_no_job_is_registered(
    any_store: MemoryStore | SqlStore,
) -> None:
    clock = FixedClock()
    core = _core(any_store, clock, outbox_retention=None)
    message = _registered(core, "+919800000021")
    clock.advance(MONTH * 12)
    assert core.events.prune() == 0
    assert _kept(any_store, message) == [True]
    assert "outbox.prune" not in core.jobs.catalog.names()
    with pytest.raises(ValidationError) as refused:
        Settings(outbox_retention=timedelta(0))
    assert refused.value.errors[0].field == "outbox_retention"


def test_the_outbox_prune_job_prunes_batches_until_one_is_short(
    any_store: MemoryStore | SqlStore,
) -> None:
    clock = FixedClock()
    core = _core(any_store, clock)
    for n in range(5):
        _registered(core, f"+91980000003{n}")
    clock.advance(MONTH)
    pruned = core.jobs.catalog.run("outbox.prune", {"limit": 2}, JobAttempt("j-1", "outbox.prune"))
    assert pruned == 5
    with any_store.unit_of_work() as uow:
        assert list(uow.outbox.list_unpublished(100)) == []
    schedules = {s.name: s.every for s in core.jobs.catalog.schedules()}
    assert schedules["outbox.prune"] == timedelta(hours=1)


def test_a_keyed_reschedule_retried_after_its_event_was_pruned_is_refused_not_made_again(
    any_store: MemoryStore | SqlStore,
) -> None:
    """The key registry remembers the key; the answer (the event) is gone: a late
    retry is an ``IdempotencyConflictError`` and the booking stays where it is."""
    clock = FixedClock()
    core = _core(any_store, clock)
    camp = core.catalog.add_location("CAMP", "Base camp", principal=ADMIN)
    slots = [
        core.catalog.create_slot(
            location_id=camp.id,
            starts_at=clock.now() + timedelta(days=days),
            price_per_traveler=Money("8500", "INR"),
            capacity=10,
            principal=ADMIN,
        ).id
        for days in (200, 240)
    ]
    customer = core.customers.register("+919800000041", principal=ADMIN).customer
    booking = core.bookings.book(
        BookingRequest(
            slots[0], [NewTraveler(TravelerDetails("Asha"), is_primary=True)], customer.id
        ),
        principal=ADMIN,
    )
    core.bookings.reschedule(booking.id, slots[1], principal=ADMIN, idempotency_key="k-a")
    again = core.bookings.reschedule(booking.id, slots[1], principal=ADMIN, idempotency_key="k-a")
    assert again.replayed  # within the retention: replayed
    core.bookings.reschedule(booking.id, slots[0], principal=ADMIN, idempotency_key="k-b")
    clock.advance(MONTH)
    assert core.events.prune() > 0
    with pytest.raises(IdempotencyConflictError):
        core.bookings.reschedule(booking.id, slots[1], principal=ADMIN, idempotency_key="k-a")
    assert core.bookings.get(booking.id, principal=ADMIN).slot_id == slots[0]


# ------------------------------------------------------------------ PostgreSQL, concurrently


def _stored(
    store: SqlStore,
    count: int,
    *,
    published: bool,
    retrying: bool = False,
) -> list[UUID]:
    clock = FixedClock()
    events = [
        JobRequested(id=uuid4(), occurred_at=clock.now(), job="echo", args={"n": n})
        for n in range(count)
    ]
    with store.unit_of_work() as uow:
        for event in events:
            uow.outbox.add(event)
        uow.commit()
    with store.unit_of_work() as uow:
        for event in events:
            message = uow.outbox.get(event.id)
            assert message is not None
            message.dispatched_at = clock.now()
            message.published_at = clock.now() if published else None
            delivery = Delivery(event.id, "handler")
            if retrying:
                delivery.fail("down", clock.now(), RetryPolicy())
            else:
                delivery.succeed(clock.now())
            uow.deliveries.add(delivery)
        uow.commit()
    return [event.id for event in events]


@pytest.mark.postgres
@pytest.mark.parametrize("published", [True, False], ids=["relayed", "not-relayed"])
def test_pruning_next_to_a_relay_holding_a_claimed_batch_deletes_nothing_claimed(
    pg_store: SqlStore, published: bool
) -> None:
    """A relay's claimed rows are skipped (``FOR UPDATE SKIP LOCKED``), not waited for
    and not deleted; messages with a delivery waiting for a retry are kept."""
    done = _stored(pg_store, 4, published=True)
    unfinished = _stored(pg_store, 2, published=True, retrying=True)
    claimed = _stored(pg_store, 3, published=False)
    before = FixedClock().now() + MONTH
    with pg_store.unit_of_work() as relay:
        batch = relay.outbox.claim_to_publish(10, FixedClock().now())
        assert [m.id for m in batch] == claimed
        with pg_store.unit_of_work() as pruner:  # while the relay holds its batch
            started = time.perf_counter()
            assert pruner.outbox.delete_finished(before, published=published, limit=100) == 4
            pruner.commit()
            assert time.perf_counter() - started < 5  # skipped, not waited for
        relay.commit()
    assert _kept(pg_store, *done) == [False] * 4
    assert _kept(pg_store, *unfinished, *claimed) == [True] * 5
    with pg_store.unit_of_work() as uow:
        assert all(m is not None and m.published_at for m in map(uow.outbox.get, claimed))
        assert all(len(uow.deliveries.list_for_event(e)) == 1 for e in unfinished + claimed)


@pytest.mark.postgres
def test_a_delivery_moved_back_to_retrying_while_pruning_keeps_its_message(
    pg_store: SqlStore,
) -> None:
    """An operator's replay (``gave_up`` back to ``retrying``) committing while a
    prune runs: the prune locks the deliveries and judges them as committed."""
    [message] = _stored(pg_store, 1, published=True)
    [other] = _stored(pg_store, 1, published=True)
    before = FixedClock().now() + MONTH
    outcome: list[int] = []
    with pg_store.engine.connect() as operator:
        operator.execute(
            text("UPDATE event_deliveries SET status = 'retrying' WHERE event_id = :e"),
            {"e": message},
        )

        def prune() -> None:
            with pg_store.unit_of_work() as uow:
                outcome.append(uow.outbox.delete_finished(before, published=True, limit=10))
                uow.commit()

        pruning = threading.Thread(target=prune)
        pruning.start()
        time.sleep(0.5)  # the prune waits on the delivery the operator holds
        operator.commit()
        pruning.join(timeout=30)
    assert outcome == [1]
    assert _kept(pg_store, message, other) == [True, False]
