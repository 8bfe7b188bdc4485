"""The outbox, the event dispatcher, the relay and the built-in automations over memory storage."""

from __future__ import annotations

import threading
from collections import Counter
from datetime import timedelta
from typing import Any, ClassVar
from uuid import uuid4

import attrs
import pytest
from tests._threads import at_once, split

from bookingcore import (
    Automations,
    BookingCore,
    BookingId,
    BookingRequest,
    CapacityError,
    CustomerDetails,
    Money,
    NewTraveler,
    NotFoundError,
    Principal,
    RetryPolicy,
    Settings,
    TravelerDetails,
    ValidationError,
)
from bookingcore.domain import (
    CommunicationStatus,
    CommunicationType,
    Document,
    DocumentKind,
    DomainEvent,
    Slot,
)
from bookingcore.domain.events import (
    BookingCreated,
    BookingStatusChanged,
    Delivery,
    DeliveryStatus,
    DocumentGenerated,
    OutboxMessage,
)
from bookingcore.services import HandlerContext, MessageHandler
from bookingcore.services.events import MAX_BATCH
from bookingcore.testing import FixedClock, RecordingNotifier, RecordingPublisher, SequentialIds
from bookingcore_adapters.documents import PlainRenderer
from bookingcore_adapters.memory import MemoryStore

TRAVEL_TO_PAYMENT = (
    "quotation_sent",
    "quotation_approved",
    "booking_created",
    "payment_pending",
    "payment_confirmed",
)


@attrs.frozen(kw_only=True)
class FollowUpRaised(DomainEvent):
    """A follow-up event a test handler emits through its context."""

    name: ClassVar[str] = "tests.events.follow_up_raised"

    booking_id: BookingId


# ---------------------------------------------------------------------- helpers


def make_core(store: MemoryStore, clock: FixedClock, **options: Any) -> BookingCore:
    return BookingCore(
        uow_factory=store.unit_of_work,
        clock=clock,
        ids=SequentialIds(),
        settings=Settings(default_region="IN", outbox_relayed=True),
        **options,
    )


def open_slot(
    core: BookingCore, admin: Principal, clock: FixedClock, *, capacity: int | None = 10
) -> Slot:
    code = f"LOC{uuid4().hex[:8].upper()}"
    location = core.catalog.add_location(code, "Camp <North> & Co", principal=admin)
    return core.catalog.create_slot(
        location_id=location.id,
        starts_at=clock.now() + timedelta(days=10),
        price_per_traveler=Money("2500", "INR"),
        capacity=capacity,
        principal=admin,
    )


_phones = iter(range(10_000))


def book(
    core: BookingCore,
    slot: Slot,
    admin: Principal,
    *,
    travelers: int = 1,
    lifecycle: str | None = None,
    customer_name: str | None = None,
) -> Any:
    phone = f"+9198{next(_phones):08d}"
    return core.bookings.book(
        BookingRequest(
            slot.id,
            [
                NewTraveler(TravelerDetails(f"Guest {i}"), is_primary=i == 0)
                for i in range(travelers)
            ],
            customer=CustomerDetails(phone, name=customer_name),
            lifecycle=lifecycle,
        ),
        principal=admin,
    )


def outbox(store: MemoryStore) -> list[OutboxMessage]:
    with store.lock:
        return sorted(store.rows["outbox"].values(), key=lambda m: m.sequence or 0)


def outbox_events(store: MemoryStore, kind: type[DomainEvent] = DomainEvent) -> list[Any]:
    return [m.event for m in outbox(store) if isinstance(m.event, kind)]


def delivery(store: MemoryStore, event_id: Any, handler: str) -> Delivery | None:
    with store.unit_of_work() as uow:
        return uow.deliveries.get(event_id, handler)


def documents_of(store: MemoryStore) -> list[Document]:
    with store.lock:
        return list(store.rows["documents"].values())


class Recorder:
    """A handler that keeps every event (and attempt) it was given."""

    def __init__(self) -> None:
        self.events: list[DomainEvent] = []
        self.attempts: list[int] = []

    def __call__(self, event: DomainEvent, context: HandlerContext) -> None:
        self.events.append(event)
        self.attempts.append(context.attempt)

    @property
    def ids(self) -> list[Any]:
        return [e.id for e in self.events]


class Flaky(Recorder):
    """A handler that raises while ``broken`` is set."""

    def __init__(self, *, broken: bool = True) -> None:
        super().__init__()
        self.broken = broken

    def __call__(self, event: DomainEvent, context: HandlerContext) -> None:
        super().__call__(event, context)
        if self.broken:
            msg = "boom"
            raise RuntimeError(msg)


@pytest.fixture
def inline(store: MemoryStore, clock: FixedClock) -> BookingCore:
    return make_core(store, clock, automations=False)


@pytest.fixture
def deferred(store: MemoryStore, clock: FixedClock) -> BookingCore:
    return make_core(store, clock, automations=False, dispatch="deferred")


# ---------------------------------------------------------------------- the outbox


class TestOutbox:
    def test_a_booking_writes_booking_created_with_the_booking(
        self, inline: BookingCore, store: MemoryStore, admin: Principal, clock: FixedClock
    ) -> None:
        slot = open_slot(inline, admin, clock)
        booking = book(inline, slot, admin, travelers=2)
        created = outbox_events(store, BookingCreated)
        assert len(created) == 1
        event = created[0]
        assert (event.booking_id, event.reference, event.slot_id) == (
            booking.id,
            booking.reference,
            slot.id,
        )
        assert (event.customer_id, event.status, event.lifecycle) == (
            booking.customer_id,
            "pending",
            "reservation",
        )
        assert event.travelers == 2
        assert event.actor == admin.actor
        assert event.occurred_at == clock.now()
        assert all(m.sequence is not None for m in outbox(store))

    def test_a_refused_booking_leaves_no_outbox_history_or_audit_row(
        self, inline: BookingCore, store: MemoryStore, admin: Principal, clock: FixedClock
    ) -> None:
        slot = open_slot(inline, admin, clock, capacity=2)
        book(inline, slot, admin, travelers=2)
        tables = ("outbox", "lifecycle_events", "audit", "bookings", "customers", "travelers")
        before = {t: store.count(t) for t in tables}
        with pytest.raises(CapacityError):
            book(inline, slot, admin)
        assert {t: store.count(t) for t in tables} == before

    def test_each_transition_writes_a_status_changed_event(
        self, inline: BookingCore, store: MemoryStore, admin: Principal, clock: FixedClock
    ) -> None:
        slot = open_slot(inline, admin, clock)
        booking = book(inline, slot, admin)
        clock.advance(minutes=5)
        inline.bookings.transition(
            booking.id, "confirmed", principal=admin, note="paid", metadata={"ref": "pay_1"}
        )
        inline.bookings.cancel(booking.id, principal=admin, reason="weather")
        changes = outbox_events(store, BookingStatusChanged)
        assert [(e.from_status, e.to_status) for e in changes] == [
            ("pending", "confirmed"),
            ("confirmed", "cancelled"),
        ]
        assert changes[0].booking_id == booking.id
        assert (changes[0].note, dict(changes[0].metadata)) == ("paid", {"ref": "pay_1"})
        assert changes[1].note == "weather"
        assert changes[0].actor == admin.actor
        assert changes[0].occurred_at == clock.now()
        names = [
            m.name for m in outbox(store) if getattr(m.event, "booking_id", None) == booking.id
        ]
        assert names == ["booking.created", "booking.status_changed", "booking.status_changed"]

    def test_sequences_increase_in_the_order_events_were_written(
        self, deferred: BookingCore, store: MemoryStore, admin: Principal, clock: FixedClock
    ) -> None:
        slot = open_slot(deferred, admin, clock)
        first = book(deferred, slot, admin)
        second = book(deferred, slot, admin)
        deferred.bookings.transition(first.id, "confirmed", principal=admin)
        messages = outbox(store)
        sequences = [m.sequence for m in messages]
        assert sequences == sorted(sequences)
        assert len(set(sequences)) == len(sequences)
        ours = [m.event for m in messages if getattr(m.event, "booking_id", None)]
        assert [(type(e), e.booking_id) for e in ours] == [  # type: ignore[attr-defined]
            (BookingCreated, first.id),
            (BookingCreated, second.id),
            (BookingStatusChanged, first.id),
        ]


# ---------------------------------------------------------------------- dispatching


class TestInlineAndDeferred:
    def test_inline_dispatch_hands_committed_events_over_before_the_call_returns(
        self, inline: BookingCore, store: MemoryStore, admin: Principal, clock: FixedClock
    ) -> None:
        slot = open_slot(inline, admin, clock)
        created, changed = Recorder(), Recorder()
        inline.events.subscribe(BookingCreated, created, name="created")
        inline.events.subscribe(BookingStatusChanged, changed, name="changed")
        booking = book(inline, slot, admin)
        assert [e.booking_id for e in created.events] == [booking.id]  # type: ignore[attr-defined]
        assert changed.events == []
        inline.bookings.transition(booking.id, "confirmed", principal=admin)
        assert [e.to_status for e in changed.events] == ["confirmed"]  # type: ignore[attr-defined]
        assert len(created.events) == 1
        record = delivery(store, created.ids[0], "created")
        assert record is not None
        assert (record.status, record.attempts, record.completed_at) == (
            DeliveryStatus.DONE,
            1,
            clock.now(),
        )
        assert all(m.dispatched_at is not None for m in outbox(store))

    def test_deferred_dispatch_runs_nothing_until_run_pending(
        self, deferred: BookingCore, store: MemoryStore, admin: Principal, clock: FixedClock
    ) -> None:
        slot = open_slot(deferred, admin, clock)
        seen = Recorder()
        deferred.events.subscribe(BookingCreated, seen, name="seen")
        booking = book(deferred, slot, admin)
        deferred.bookings.transition(booking.id, "confirmed", principal=admin)
        assert seen.events == []
        assert all(m.dispatched_at is None for m in outbox(store))
        report = deferred.events.run_pending()
        assert [e.booking_id for e in seen.events] == [booking.id]  # type: ignore[attr-defined]
        assert report.events == len(outbox(store))
        assert report.applied == 1
        assert all(m.dispatched_at == clock.now() for m in outbox(store))
        again = deferred.events.run_pending()
        assert (again.events, again.applied) == (0, 0)
        assert len(seen.events) == 1

    def test_a_dispatch_setting_other_than_inline_or_deferred_is_refused(
        self, store: MemoryStore, clock: FixedClock
    ) -> None:
        with pytest.raises(ValidationError) as error:
            make_core(store, clock, dispatch="later")
        assert error.value.fields == ("dispatch",)


# ---------------------------------------------------------------------- failures and retries


class TestFailingHandlers:
    def test_a_failing_handler_never_fails_the_booking_nor_stops_other_handlers(
        self, inline: BookingCore, store: MemoryStore, admin: Principal, clock: FixedClock
    ) -> None:
        slot = open_slot(inline, admin, clock)
        before, flaky, after = Recorder(), Flaky(), Recorder()
        inline.events.subscribe(BookingCreated, before, name="before")
        inline.events.subscribe(BookingCreated, flaky, name="flaky")
        inline.events.subscribe(BookingCreated, after, name="after")
        booking = book(inline, slot, admin)
        assert inline.bookings.get(booking.id, principal=admin).status == "pending"
        assert before.ids == flaky.ids == after.ids
        assert len(flaky.ids) == 1
        record = delivery(store, flaky.ids[0], "flaky")
        assert record is not None
        assert (record.status, record.attempts) == (DeliveryStatus.RETRYING, 1)
        assert record.last_error == "RuntimeError: boom"
        policy = inline.events.retry_policy
        assert record.next_attempt_at == clock.now() + policy.delay(1)
        assert record.next_attempt_at == clock.now() + timedelta(seconds=10)
        for name in ("before", "after"):
            done = delivery(store, flaky.ids[0], name)
            assert done is not None
            assert done.status is DeliveryStatus.DONE

    def test_a_when_filter_that_raises_is_the_handlers_failure_never_the_callers(
        self, inline: BookingCore, store: MemoryStore, admin: Principal, clock: FixedClock
    ) -> None:
        """The booking is made and answered, the other handlers run, and the delivery
        is retried like a handler's failure; a retry whose filter then says no is done."""
        slot = open_slot(inline, admin, clock)
        picky, after = Recorder(), Recorder()
        broken = [True]

        def partner_bookings(event: BookingCreated) -> bool:
            if broken[0]:
                return event.partner_id.hex != ""  # type: ignore[union-attr]
            return event.partner_id is not None

        inline.events.subscribe(BookingCreated, picky, name="picky", when=partner_bookings)
        inline.events.subscribe(BookingCreated, after, name="after")
        booking = book(inline, slot, admin)
        assert inline.bookings.get(booking.id, principal=admin).status == "pending"
        assert picky.events == []
        assert len(after.events) == 1
        event_id = after.ids[0]
        assert all(message.dispatched_at is not None for message in outbox(store))
        record = delivery(store, event_id, "picky")
        assert record is not None
        assert (record.status, record.attempts) == (DeliveryStatus.RETRYING, 1)
        assert record.last_error is not None
        assert record.last_error.startswith("AttributeError")
        broken[0] = False
        clock.advance(seconds=10)
        report = inline.events.run_pending()
        assert report.applied == 1
        assert picky.events == []
        record = delivery(store, event_id, "picky")
        assert record is not None
        assert record.status is DeliveryStatus.DONE

    def test_a_retry_waits_for_its_delay_and_then_runs(
        self, inline: BookingCore, store: MemoryStore, admin: Principal, clock: FixedClock
    ) -> None:
        slot = open_slot(inline, admin, clock)
        flaky = Flaky()
        inline.events.subscribe(BookingCreated, flaky, name="flaky")
        book(inline, slot, admin)
        clock.advance(seconds=9)
        early = inline.events.run_pending()
        assert (early.events, early.applied, early.failed) == (0, 0, 0)
        assert flaky.attempts == [1]
        clock.advance(seconds=1)
        flaky.broken = False
        report = inline.events.run_pending()
        assert (report.events, report.applied) == (1, 1)
        assert flaky.attempts == [1, 2]
        record = delivery(store, flaky.ids[0], "flaky")
        assert record is not None
        assert (record.status, record.attempts, record.next_attempt_at) == (
            DeliveryStatus.DONE,
            2,
            None,
        )
        inline.events.run_pending()
        clock.advance(hours=1)
        inline.events.run_pending()
        assert flaky.attempts == [1, 2]

    def test_delays_grow_by_the_policy_until_the_delivery_gives_up(
        self, store: MemoryStore, admin: Principal, clock: FixedClock
    ) -> None:
        policy = RetryPolicy(
            max_attempts=5,
            first_delay=timedelta(seconds=10),
            factor=2,
            max_delay=timedelta(seconds=50),
        )
        core = make_core(store, clock, automations=False, retry=policy)
        slot = open_slot(core, admin, clock)
        flaky = Flaky()
        core.events.subscribe(BookingCreated, flaky, name="flaky")
        book(core, slot, admin)
        event_id = flaky.ids[0]
        waits = []
        for failures in range(1, 5):
            record = delivery(store, event_id, "flaky")
            assert record is not None
            assert (record.status, record.attempts) == (DeliveryStatus.RETRYING, failures)
            assert record.next_attempt_at is not None
            wait = record.next_attempt_at - clock.now()
            waits.append(wait.total_seconds())
            clock.advance(wait - timedelta(microseconds=1))
            assert core.events.run_pending().events == 0
            clock.advance(microseconds=1)
            report = core.events.run_pending()
            assert report.events == 1
        assert waits == [10, 20, 40, 50]
        assert flaky.attempts == [1, 2, 3, 4, 5]
        record = delivery(store, event_id, "flaky")
        assert record is not None
        assert (record.status, record.attempts) == (DeliveryStatus.GAVE_UP, 5)
        assert (record.next_attempt_at, record.completed_at) == (None, clock.now())
        assert record.last_error == "RuntimeError: boom"
        clock.advance(days=30)
        quiet = core.events.run_pending()
        assert (quiet.events, quiet.failed, quiet.gave_up) == (0, 0, 0)
        assert len(flaky.attempts) == 5

    def test_the_last_failure_is_reported_as_gave_up(
        self, store: MemoryStore, admin: Principal, clock: FixedClock
    ) -> None:
        core = make_core(store, clock, automations=False, retry=RetryPolicy(max_attempts=2))
        slot = open_slot(core, admin, clock)
        flaky = Flaky()
        core.events.subscribe(BookingCreated, flaky, name="flaky")
        book(core, slot, admin)
        clock.advance(seconds=10)
        report = core.events.run_pending()
        assert (report.failed, report.gave_up, report.applied) == (0, 1, 0)

    def test_an_operator_replays_a_delivery_that_gave_up(
        self, store: MemoryStore, admin: Principal, clock: FixedClock
    ) -> None:
        core = make_core(store, clock, automations=False, retry=RetryPolicy(max_attempts=1))
        slot = open_slot(core, admin, clock)
        flaky, other = Flaky(), Recorder()
        core.events.subscribe(BookingCreated, flaky, name="flaky")
        core.events.subscribe(BookingCreated, other, name="other")
        book(core, slot, admin)
        event_id = flaky.ids[0]
        record = delivery(store, event_id, "flaky")
        assert record is not None
        assert record.status is DeliveryStatus.GAVE_UP
        flaky.broken = False
        report = core.events.retry(event_id, "flaky")
        assert (report.events, report.applied) == (1, 1)
        assert flaky.attempts == [1, 2]
        assert len(other.events) == 1
        record = delivery(store, event_id, "flaky")
        assert record is not None
        assert (record.status, record.attempts) == (DeliveryStatus.DONE, 2)
        again = core.events.retry(event_id, "flaky")
        assert (again.applied, again.skipped) == (0, 1)
        assert flaky.attempts == [1, 2]

    def test_retry_names_an_unknown_handler_or_event(
        self, inline: BookingCore, admin: Principal, clock: FixedClock
    ) -> None:
        slot = open_slot(inline, admin, clock)
        seen = Recorder()
        inline.events.subscribe(BookingCreated, seen, name="seen")
        book(inline, slot, admin)
        with pytest.raises(NotFoundError) as no_handler:
            inline.events.retry(seen.ids[0], "nobody")
        assert no_handler.value.entity == "handler"
        with pytest.raises(NotFoundError) as no_event:
            inline.events.retry(uuid4(), "seen")
        assert no_event.value.entity == "event"

    def test_the_retry_policy_delay_formula(self) -> None:
        policy = RetryPolicy(
            first_delay=timedelta(seconds=5), factor=3, max_delay=timedelta(minutes=10)
        )
        assert [policy.delay(n).total_seconds() for n in range(1, 6)] == [5, 15, 45, 135, 405]
        assert policy.delay(6) == timedelta(minutes=10)
        with pytest.raises(ValidationError):
            RetryPolicy(max_attempts=0)
        with pytest.raises(ValidationError):
            RetryPolicy(first_delay=timedelta(0))

    @pytest.mark.parametrize(
        ("options", "field"),
        [
            ({"max_attempts": 0}, "max_attempts"),
            ({"max_attempts": 2.5}, "max_attempts"),
            ({"max_attempts": True}, "max_attempts"),
            ({"first_delay": timedelta(0)}, "first_delay"),
            ({"first_delay": 10}, "first_delay"),
            ({"factor": 0.5}, "factor"),
            ({"factor": float("nan")}, "factor"),
            ({"factor": "3"}, "factor"),
            ({"max_delay": timedelta(0)}, "max_delay"),
            ({"max_delay": timedelta(seconds=5)}, "max_delay"),
        ],
    )
    def test_a_retry_policy_that_cannot_schedule_retries_is_refused_on_its_field(
        self, options: dict[str, Any], field: str
    ) -> None:
        """A NaN factor, say, would fail the dispatcher when a handler fails, not here."""
        with pytest.raises(ValidationError) as refused:
            RetryPolicy(**options)
        assert refused.value.fields == (field,)

    def test_the_delay_stays_capped_for_any_number_of_failures(self) -> None:
        policy = RetryPolicy(first_delay=timedelta(seconds=10), factor=10)
        assert policy.delay(13) == policy.max_delay
        assert policy.delay(14) == policy.max_delay
        assert policy.delay(100) == policy.max_delay

    def test_a_late_retry_waits_max_delay_however_many_failures_came_before(
        self, store: MemoryStore, admin: Principal, clock: FixedClock
    ) -> None:
        policy = RetryPolicy(
            max_attempts=30,
            first_delay=timedelta(seconds=10),
            factor=10,
            max_delay=timedelta(hours=1),
        )
        core = make_core(store, clock, automations=False, retry=policy)
        slot = open_slot(core, admin, clock)
        flaky = Flaky()
        core.events.subscribe(BookingCreated, flaky, name="flaky")
        book(core, slot, admin)
        for _ in range(20):
            clock.advance(hours=1)
            core.events.run_pending()
        record = delivery(store, flaky.ids[0], "flaky")
        assert record is not None
        assert (record.status, record.attempts) == (DeliveryStatus.RETRYING, 21)
        assert record.next_attempt_at == clock.now() + timedelta(hours=1)


# ---------------------------------------------------------------------- exactly once


class TestExactlyOnce:
    def test_repeated_dispatch_and_run_pending_apply_each_event_once_per_handler(
        self, deferred: BookingCore, store: MemoryStore, admin: Principal, clock: FixedClock
    ) -> None:
        slot = open_slot(deferred, admin, clock)
        one, two = Recorder(), Recorder()
        deferred.events.subscribe(DomainEvent, one, name="one")
        deferred.events.subscribe(BookingCreated, two, name="two")
        booking = book(deferred, slot, admin)
        deferred.bookings.transition(booking.id, "confirmed", principal=admin)
        events = outbox_events(store)
        for _ in range(3):
            deferred.events.run_pending()
        repeat = deferred.events.dispatch(events)
        deferred.events.dispatch(events)
        for event in events:
            deferred.events.dispatch_one(event)
        deferred.events.run_pending()
        assert Counter(one.ids) == Counter({e.id: 1 for e in events})
        assert two.ids == [e.id for e in events if isinstance(e, BookingCreated)]
        assert repeat.applied == 0
        assert repeat.skipped == len(events) + 1  # "one" sees every event, "two" one of them

    def test_a_handlers_writes_and_follow_up_events_commit_with_its_delivery(
        self, inline: BookingCore, store: MemoryStore, admin: Principal, clock: FixedClock
    ) -> None:
        slot = open_slot(inline, admin, clock)
        follow_ups = Recorder()

        def write_and_emit(event: BookingCreated, context: HandlerContext) -> None:
            context.uow.documents.add(_document_for(event, context))
            context.emit(
                FollowUpRaised(id=uuid4(), occurred_at=context.now, booking_id=event.booking_id)
            )

        inline.events.subscribe(BookingCreated, write_and_emit, name="writer")
        inline.events.subscribe(FollowUpRaised, follow_ups, name="follow_ups")
        booking = book(inline, slot, admin)
        stored = documents_of(store)
        assert [(d.booking_id, d.source_event_id) for d in stored] == [
            (booking.id, outbox_events(store, BookingCreated)[0].id)
        ]
        raised = outbox_events(store, FollowUpRaised)
        assert [e.booking_id for e in raised] == [booking.id]
        assert follow_ups.ids == [raised[0].id]
        assert outbox(store)[-1].event == raised[0]

    def test_a_handler_that_raises_leaves_no_writes_and_no_follow_ups(
        self, inline: BookingCore, store: MemoryStore, admin: Principal, clock: FixedClock
    ) -> None:
        slot = open_slot(inline, admin, clock)
        follow_ups = Recorder()
        state = {"broken": True, "calls": 0}

        def write_emit_then_maybe_fail(event: BookingCreated, context: HandlerContext) -> None:
            state["calls"] += 1
            context.uow.documents.add(_document_for(event, context))
            context.emit(
                FollowUpRaised(id=uuid4(), occurred_at=context.now, booking_id=event.booking_id)
            )
            if state["broken"]:
                msg = "disk full"
                raise OSError(msg)

        inline.events.subscribe(BookingCreated, write_emit_then_maybe_fail, name="writer")
        inline.events.subscribe(FollowUpRaised, follow_ups, name="follow_ups")
        book(inline, slot, admin)
        assert state["calls"] == 1
        assert documents_of(store) == []
        assert outbox_events(store, FollowUpRaised) == []
        assert follow_ups.events == []
        state["broken"] = False
        clock.advance(seconds=10)
        inline.events.run_pending()
        inline.events.run_pending()
        assert state["calls"] == 2
        assert len(documents_of(store)) == 1
        assert len(outbox_events(store, FollowUpRaised)) == 1
        assert len(follow_ups.events) == 1

    def test_dispatchers_racing_from_threads_apply_each_event_once_per_handler(
        self, store: MemoryStore, admin: Principal, clock: FixedClock
    ) -> None:
        writer_core = make_core(store, clock, automations=False, dispatch="deferred")
        slot = open_slot(writer_core, admin, clock, capacity=None)
        bookings = [book(writer_core, slot, admin) for _ in range(6)]
        calls: list[tuple[str, Any]] = []
        guard = threading.Lock()

        def handler_named(name: str) -> Any:
            def apply(event: BookingCreated, context: HandlerContext) -> None:
                with guard:
                    calls.append((name, event.id))
                document = _document_for(event, context)
                context.uow.documents.add(attrs.evolve(document, filename=f"{name}.txt"))

            return apply

        # Two dispatchers in separate "processes" over one store, each with both handlers.
        dispatchers = []
        for _ in range(2):
            worker = make_core(store, clock, automations=False, dispatch="deferred")
            worker.events.subscribe(BookingCreated, handler_named("docs"), name="docs")
            worker.events.subscribe(BookingCreated, handler_named("audit"), name="audit")
            dispatchers.append(worker.events)

        def run(index: int) -> None:
            for _ in range(3):
                dispatchers[index % 2].run_pending()

        assert split(at_once(4, run))[1] == []
        created = outbox_events(store, BookingCreated)
        assert {e.booking_id for e in created} == {b.id for b in bookings}
        applied = Counter((d.filename, d.source_event_id) for d in documents_of(store))
        expected = {(f"{name}.txt", e.id): 1 for e in created for name in ("docs", "audit")}
        assert applied == expected
        for event in created:
            for name in ("docs", "audit"):
                record = delivery(store, event.id, name)
                assert record is not None
                assert (record.status, record.attempts) == (DeliveryStatus.DONE, 1)
        assert Counter(calls) == Counter(
            {(name, e.id): 1 for e in created for name in ("docs", "audit")}
        )


def _document_for(event: Any, context: HandlerContext) -> Document:
    return Document(
        id=uuid4(),  # type: ignore[arg-type]
        booking_id=event.booking_id,
        kind=DocumentKind.CERTIFICATE,
        filename="note.txt",
        media_type="text/plain",
        content=f"handled {event.id}",
        created_at=context.now,
        source_event_id=event.id,
    )


# ---------------------------------------------------------------------- order


class TestOrder:
    def test_run_pending_hands_events_over_in_the_order_they_were_written(
        self, deferred: BookingCore, store: MemoryStore, admin: Principal, clock: FixedClock
    ) -> None:
        slot = open_slot(deferred, admin, clock)
        seen = Recorder()
        deferred.events.subscribe(DomainEvent, seen, name="everything")
        first = book(deferred, slot, admin)
        second = book(deferred, slot, admin)
        deferred.bookings.transition(second.id, "confirmed", principal=admin)
        third = book(deferred, slot, admin)
        deferred.bookings.transition(first.id, "confirmed", principal=admin)
        deferred.bookings.cancel(third.id, principal=admin)
        deferred.bookings.transition(first.id, "completed", principal=admin)
        deferred.events.run_pending()
        written = outbox(store)
        assert seen.ids == [m.id for m in written]
        assert [m.sequence for m in written] == list(range(1, len(written) + 1))
        moves = [
            (e.booking_id, e.to_status) for e in seen.events if isinstance(e, BookingStatusChanged)
        ]
        assert moves == [
            (second.id, "confirmed"),
            (first.id, "confirmed"),
            (third.id, "cancelled"),
            (first.id, "completed"),
        ]

    def test_run_pending_honours_its_limit_and_catches_up_on_the_next_run(
        self, deferred: BookingCore, store: MemoryStore, admin: Principal, clock: FixedClock
    ) -> None:
        slot = open_slot(deferred, admin, clock)
        seen = Recorder()
        deferred.events.subscribe(DomainEvent, seen, name="everything")
        for _ in range(3):
            book(deferred, slot, admin)
        written = [m.id for m in outbox(store)]
        assert deferred.events.run_pending(limit=2).events == 2
        assert seen.ids == written[:2]
        deferred.events.run_pending()
        assert seen.ids == written


# ---------------------------------------------------------------------- relay


class TestRelay:
    def test_the_relay_publishes_unpublished_messages_once_in_order(
        self, inline: BookingCore, store: MemoryStore, admin: Principal, clock: FixedClock
    ) -> None:
        slot = open_slot(inline, admin, clock)
        first = book(inline, slot, admin)
        inline.bookings.transition(first.id, "confirmed", principal=admin)
        publisher = RecordingPublisher()
        relay = inline.relay(publisher)
        written = [m.id for m in outbox(store)]
        assert relay.relay() == len(written)
        assert [m.id for m in publisher.published] == written
        assert all(m.published_at == clock.now() for m in outbox(store))
        assert relay.relay() == 0
        assert len(publisher.published) == len(written)
        book(inline, slot, admin)
        newer = [m.id for m in outbox(store)][len(written) :]
        assert relay.relay() == len(newer)
        assert [m.id for m in publisher.published] == written + newer

    def test_the_relay_sends_at_most_its_limit(
        self, inline: BookingCore, store: MemoryStore, admin: Principal, clock: FixedClock
    ) -> None:
        slot = open_slot(inline, admin, clock)
        for _ in range(3):
            book(inline, slot, admin)
        publisher = RecordingPublisher()
        relay = inline.relay(publisher)
        written = [m.id for m in outbox(store)]
        assert relay.relay(limit=2) == 2
        assert [m.id for m in publisher.published] == written[:2]
        relay.relay()
        assert [m.id for m in publisher.published] == written

    @pytest.mark.parametrize("limit", [0, -1, 10**9, True, "100"])
    def test_a_batch_size_out_of_range_is_refused_on_limit_and_nothing_moves(
        self,
        inline: BookingCore,
        store: MemoryStore,
        admin: Principal,
        clock: FixedClock,
        limit: Any,
    ) -> None:
        """A negative limit would mean "no limit" to SQLite; a huge one, the whole outbox
        in memory at once."""
        book(inline, open_slot(inline, admin, clock), admin)
        publisher = RecordingPublisher()
        for run in (
            lambda: inline.relay(publisher).relay(limit=limit),
            lambda: inline.events.run_pending(limit=limit),
        ):
            with pytest.raises(ValidationError) as caught:
                run()
            assert caught.value.fields == ("limit",)
        assert publisher.published == []
        assert inline.relay(publisher).relay(limit=MAX_BATCH) == len(outbox(store))

    def test_when_the_publisher_fails_nothing_is_marked_and_the_next_run_resends(
        self, inline: BookingCore, store: MemoryStore, admin: Principal, clock: FixedClock
    ) -> None:
        slot = open_slot(inline, admin, clock)
        booking = book(inline, slot, admin)
        inline.bookings.cancel(booking.id, principal=admin)
        publisher = RecordingPublisher()
        publisher.fail = True
        relay = inline.relay(publisher)
        with pytest.raises(ConnectionError):
            relay.relay()
        assert publisher.published == []
        assert all(m.published_at is None for m in outbox(store))
        publisher.fail = False
        written = [m.id for m in outbox(store)]
        assert relay.relay() == len(written)
        assert [m.id for m in publisher.published] == written
        assert relay.relay() == 0


# ---------------------------------------------------------------------- subscriptions


class TestSubscribe:
    @pytest.mark.parametrize("name", ["", "   "])
    def test_a_handler_needs_a_name(self, inline: BookingCore, name: str) -> None:
        with pytest.raises(ValidationError) as error:
            inline.events.subscribe(BookingCreated, Recorder(), name=name)
        assert error.value.fields == ("name",)
        assert error.value.errors[0].code == "required"
        assert inline.events.subscriptions == ()

    def test_a_name_is_subscribed_once(self, inline: BookingCore) -> None:
        first = inline.events.subscribe(BookingCreated, Recorder(), name="mailer")
        with pytest.raises(ValidationError) as error:
            inline.events.subscribe(BookingStatusChanged, Recorder(), name="mailer")
        assert error.value.fields == ("name",)
        assert error.value.errors[0].code == "duplicate"
        assert inline.events.subscriptions == (first,)

    def test_when_filters_events_and_the_event_type_filters_classes(
        self, inline: BookingCore, store: MemoryStore, admin: Principal, clock: FixedClock
    ) -> None:
        slot = open_slot(inline, admin, clock)
        confirmed = Recorder()
        inline.events.subscribe(
            BookingStatusChanged,
            confirmed,
            name="confirmed_only",
            when=lambda event: event.to_status == "confirmed",
        )
        booking = book(inline, slot, admin)
        inline.bookings.transition(booking.id, "confirmed", principal=admin)
        inline.bookings.cancel(booking.id, principal=admin)
        assert [e.to_status for e in confirmed.events] == ["confirmed"]  # type: ignore[attr-defined]
        cancelled = outbox_events(store, BookingStatusChanged)[-1]
        assert cancelled.to_status == "cancelled"
        assert delivery(store, cancelled.id, "confirmed_only") is None
        created = outbox_events(store, BookingCreated)[0]
        assert delivery(store, created.id, "confirmed_only") is None


# ---------------------------------------------------------------------- automations


class Travel:
    """A travel-lifecycle booking with a notifier and the plain renderer wired."""

    def __init__(
        self, store: MemoryStore, clock: FixedClock, admin: Principal, **options: Any
    ) -> None:
        self.notifier = RecordingNotifier()
        self.core = make_core(
            store, clock, renderer=PlainRenderer(), notifier=self.notifier, **options
        )
        self.admin = admin
        self.store = store
        slot = open_slot(self.core, admin, clock)
        self.booking = book(
            self.core, slot, admin, lifecycle="travel", customer_name='Ann "A&B" <Lee>'
        )

    def move(self, *statuses: str) -> None:
        """Move along ``statuses``; ``payment_confirmed`` follows from paying in full."""
        for status in statuses:
            if status == "payment_confirmed":
                self.core.payments.record_manual_payment(
                    self.booking.id, self.booking.total, principal=self.admin, reference="CASH-1"
                )
            else:
                self.core.bookings.transition(self.booking.id, status, principal=self.admin)

    def documents(self) -> list[Document]:
        return list(self.core.bookings.documents(self.booking.id, principal=self.admin))

    def status_event(self, to_status: str) -> BookingStatusChanged:
        return next(
            e
            for e in outbox_events(self.store, BookingStatusChanged)
            if e.booking_id == self.booking.id and e.to_status == to_status
        )


class TestAutomations:
    def test_payment_confirmed_stores_an_escaped_invoice(
        self, store: MemoryStore, clock: FixedClock, admin: Principal
    ) -> None:
        travel = Travel(store, clock, admin)
        assert travel.booking.status == "lead_created"
        travel.move(*TRAVEL_TO_PAYMENT[:-1])
        assert travel.documents() == []
        travel.move("payment_confirmed")
        (invoice,) = travel.documents()
        reference = travel.booking.reference
        assert invoice.kind is DocumentKind.INVOICE
        assert invoice.filename == f"invoice-{reference}.html"
        assert invoice.media_type.startswith("text/html")
        assert invoice.source_event_id == travel.status_event("payment_confirmed").id
        assert f"Invoice {reference}" in invoice.content
        assert "Ann &quot;A&amp;B&quot; &lt;Lee&gt;" in invoice.content
        assert "Camp &lt;North&gt; &amp; Co" in invoice.content
        assert "<Lee>" not in invoice.content
        assert "<North>" not in invoice.content
        assert f"<td>{travel.booking.total}</td>" in invoice.content
        generated = outbox_events(store, DocumentGenerated)
        assert [(e.document_id, e.kind) for e in generated] == [(invoice.id, "invoice")]

    def test_supplier_confirmed_adds_a_voucher_and_an_itinerary(
        self, store: MemoryStore, clock: FixedClock, admin: Principal
    ) -> None:
        travel = Travel(store, clock, admin)
        travel.move(*TRAVEL_TO_PAYMENT, "supplier_confirmed")
        kinds = [d.kind for d in travel.documents()]
        assert Counter(kinds) == Counter(
            [DocumentKind.INVOICE, DocumentKind.VOUCHER, DocumentKind.ITINERARY]
        )
        voucher = next(d for d in travel.documents() if d.kind is DocumentKind.VOUCHER)
        assert travel.booking.reference in voucher.content
        assert voucher.source_event_id == travel.status_event("supplier_confirmed").id
        # the one message is payment_confirmed's confirmation; supplier_confirmed sends none
        (message,) = travel.notifier.sent
        assert "confirmed" in message.body

    def test_completed_sends_one_follow_up_and_replays_do_not_send_again(
        self, store: MemoryStore, clock: FixedClock, admin: Principal
    ) -> None:
        travel = Travel(store, clock, admin)
        travel.move(*TRAVEL_TO_PAYMENT, "supplier_confirmed", "documents_generated")
        assert len(travel.notifier.sent) == 1  # payment_confirmed's confirmation
        travel.move("completed")
        assert len(travel.notifier.sent) == 2
        message = travel.notifier.sent[-1]
        assert travel.booking.reference in message.body
        confirmation, communication = travel.core.communications.for_booking(
            travel.booking.id, principal=admin
        )
        assert confirmation.type is CommunicationType.CONFIRMATION
        assert communication.type is CommunicationType.FOLLOW_UP
        assert communication.status is CommunicationStatus.SENT
        assert message.communication_id == communication.id
        completed = travel.status_event("completed")
        travel.core.events.run_pending()
        travel.core.events.retry(completed.id, "messages.on_status")
        clock.advance(days=1)
        travel.core.events.run_pending()
        assert len(travel.notifier.sent) == 2
        assert travel.notifier.attempts == 2

    def test_a_delivery_retried_after_sending_does_not_message_the_customer_twice(
        self, store: MemoryStore, clock: FixedClock, admin: Principal
    ) -> None:
        travel = Travel(store, clock, admin, automations=False)
        send = MessageHandler(travel.core.communications, CommunicationType.FOLLOW_UP)

        def send_then_crash(event: BookingStatusChanged, context: HandlerContext) -> None:
            send(event, context)
            if context.attempt == 1:
                msg = "worker crashed after the send"
                raise RuntimeError(msg)

        travel.core.events.subscribe(
            BookingStatusChanged,
            send_then_crash,
            name="send_then_crash",
            when=lambda event: event.to_status == "completed",
        )
        travel.move(*TRAVEL_TO_PAYMENT, "supplier_confirmed", "documents_generated", "completed")
        completed = travel.status_event("completed")
        record = delivery(store, completed.id, "send_then_crash")
        assert record is not None
        assert record.status is DeliveryStatus.RETRYING
        clock.advance(seconds=10)
        travel.core.events.run_pending()
        record = delivery(store, completed.id, "send_then_crash")
        assert record is not None
        assert (record.status, record.attempts) == (DeliveryStatus.DONE, 2)
        assert len(travel.notifier.sent) == 1
        assert len(travel.core.communications.for_booking(travel.booking.id, principal=admin)) == 1

    def test_a_failed_send_is_retried_after_the_delay_and_ends_sent(
        self, store: MemoryStore, clock: FixedClock, admin: Principal
    ) -> None:
        follow_up_only = Automations(messages={"completed": CommunicationType.FOLLOW_UP})
        travel = Travel(store, clock, admin, automations=follow_up_only)
        travel.move(*TRAVEL_TO_PAYMENT, "supplier_confirmed", "documents_generated")
        travel.notifier.fail_next(1)
        travel.move("completed")
        assert travel.core.bookings.get(travel.booking.id, principal=admin).status == "completed"
        assert travel.notifier.sent == []
        completed = travel.status_event("completed")
        record = delivery(store, completed.id, "messages.on_status")
        assert record is not None
        assert (record.status, record.attempts) == (DeliveryStatus.RETRYING, 1)
        assert record.last_error is not None
        assert "DeliveryError" in record.last_error
        assert "gateway unavailable" in record.last_error
        assert record.next_attempt_at == clock.now() + timedelta(seconds=10)
        (failed,) = travel.core.communications.for_booking(travel.booking.id, principal=admin)
        assert failed.status is CommunicationStatus.FAILED
        clock.advance(seconds=9)
        travel.core.events.run_pending()
        assert travel.notifier.attempts == 1
        clock.advance(seconds=1)
        travel.core.events.run_pending()
        assert len(travel.notifier.sent) == 1
        record = delivery(store, completed.id, "messages.on_status")
        assert record is not None
        assert (record.status, record.attempts) == (DeliveryStatus.DONE, 2)
        (communication,) = travel.core.communications.for_booking(
            travel.booking.id, principal=admin
        )
        assert communication.id == failed.id
        assert communication.sent_at == clock.now()
        assert communication.status is CommunicationStatus.SENT

    def test_the_built_in_handlers_follow_the_wired_ports(
        self, store: MemoryStore, clock: FixedClock
    ) -> None:
        both = make_core(store, clock, renderer=PlainRenderer(), notifier=RecordingNotifier())
        assert [s.name for s in both.events.subscriptions] == [
            "documents.invoice",
            "documents.voucher_itinerary",
            "messages.on_status",
            "messages.on_create",
            "messages.to_assignee",
            "messages.to_assignee_on_create",
            "messages.family_invitation",
            "waitlist.offer_message",
            "slots.cancellation_messages",
            "slots.move_messages",
        ]
        renderer_only = make_core(store, clock, renderer=PlainRenderer())
        assert [s.name for s in renderer_only.events.subscriptions] == [
            "documents.invoice",
            "documents.voucher_itinerary",
        ]
        assert make_core(store, clock).events.subscriptions == ()

    def test_automations_false_subscribes_nothing(
        self, store: MemoryStore, clock: FixedClock, admin: Principal
    ) -> None:
        travel = Travel(store, clock, admin, automations=False)
        assert travel.core.events.subscriptions == ()
        travel.move(*TRAVEL_TO_PAYMENT, "supplier_confirmed", "documents_generated", "completed")
        assert travel.documents() == []
        assert travel.notifier.attempts == 0
        assert store.count("deliveries") == 0
