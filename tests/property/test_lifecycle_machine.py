"""Property: bookings move through any sound lifecycle exactly as its table says.

A stateful model drives the real services over the memory store for each shipped
lifecycle and for randomly built ones: it books, moves bookings to random states
(allowed or not), retries idempotency keys with the same and with a different
request, and after every step compares what is stored with what the table allows:
the history replays to the current status, refused moves write nothing, and every
slot holds exactly the seats of its bookings in seat-holding states.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from uuid import uuid4

import attrs
import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
)

from bookingcore import (
    BookingCore,
    BookingId,
    BookingRequest,
    CapacityError,
    CustomerDetails,
    IdempotencyConflictError,
    InvalidTransitionError,
    Lifecycle,
    Money,
    NewTraveler,
    Principal,
    Settings,
    SlotId,
    StaffId,
    StaffRole,
    TravelerDetails,
    ValidationError,
)
from bookingcore.domain import APPOINTMENT, PRESETS, RESERVATION, TRAVEL, LifecycleEvent
from bookingcore.domain.lifecycle import check, replay
from bookingcore.testing import FixedClock, SequentialIds
from bookingcore.testing import strategies as bst
from bookingcore_adapters.memory import MemoryStore

# ---------------------------------------------------------------------- sound lifecycles


# ---------------------------------------------------------------------- the model


@attrs.define
class _Booking:
    id: BookingId
    slot_id: SlotId
    travelers: int
    start: str
    status: str
    version: int = 1
    events: int = 1


@attrs.frozen
class _Call:
    """A transition that was written under an idempotency key."""

    booking_id: BookingId
    to: str
    note: str | None
    metadata: Mapping[str, str] | None
    event: LifecycleEvent


_CAPACITIES = st.one_of(st.none(), st.integers(1, 5))
_NOTES = st.sampled_from([None, "asked by phone", "late"])
_METADATA = st.sampled_from([None, {"channel": "desk"}, {"channel": "app", "agent": "7"}])


class LifecycleMachine(RuleBasedStateMachine):
    """Books and moves bookings of one lifecycle; subclasses say which lifecycle."""

    def __init__(self) -> None:
        super().__init__()
        self.clock = FixedClock()
        self.admin = Principal.staff(StaffId(uuid4()), StaffRole.ADMIN)
        self.slot_ids: list[SlotId] = []
        self.capacity: dict[SlotId, int | None] = {}
        self.bookings: list[_Booking] = []
        self.calls: dict[str, _Call] = {}
        self.paid: set[BookingId] = set()
        self.serial = 0

    def start(self, lifecycle: Lifecycle) -> None:
        assert check(lifecycle) == ()
        self.lifecycle = lifecycle
        # Settings refuses any lifecycle check() finds a problem in; a sound one is taken.
        configured = Settings(
            default_region="IN",
            lifecycles={**PRESETS, lifecycle.name: lifecycle},
            default_lifecycle=lifecycle.name,
        )
        self.core = BookingCore(
            uow_factory=MemoryStore().unit_of_work,
            clock=self.clock,
            ids=SequentialIds(),
            settings=configured,
        )
        location = self.core.catalog.add_location("HERE", "Here", principal=self.admin)
        self.location_id = location.id
        # How many moves each state is from a terminal state, to steer some bookings all
        # the way through the lifecycle.
        self.distance = dict.fromkeys(lifecycle.terminal, 0)
        for _ in lifecycle.states:
            for state in lifecycle.states:
                known = [self.distance[t] for t in lifecycle.targets(state) if t in self.distance]
                if known and state not in self.distance:
                    self.distance[state] = min(known) + 1

    # ------------------------------------------------------------------ helpers

    def _next(self) -> int:
        self.serial += 1
        return self.serial

    def _seats_held(self, slot_id: SlotId) -> int:
        return sum(
            b.travelers
            for b in self.bookings
            if b.slot_id == slot_id and self.lifecycle.holds_capacity(b.status)
        )

    def _room_for(self, slot_id: SlotId, travelers: int) -> bool:
        capacity = self.capacity[slot_id]
        return capacity is None or capacity - self._seats_held(slot_id) >= travelers

    def _needs_seats(self, booking: _Booking, target: str) -> bool:
        holds = self.lifecycle.holds_capacity
        return holds(target) and not holds(booking.status)

    def _assert_untouched(self, booking: _Booking) -> None:
        stored = self.core.bookings.get(booking.id, principal=self.admin)
        assert stored.status == booking.status
        assert stored.version == booking.version
        history = self.core.bookings.history(booking.id, principal=self.admin)
        assert len(history) == booking.events

    def _expect_move(
        self,
        booking: _Booking,
        target: str,
        *,
        note: str | None,
        key: str | None,
        metadata: Mapping[str, str] | None,
        cancel: bool = False,
    ) -> None:
        """Make the move through the service and check the outcome the table predicts."""
        if not cancel and target in self.lifecycle.money_states:
            # Only money moves a booking there (pay_in_full), never a transition.
            with pytest.raises(ValidationError) as by_hand:
                self.core.bookings.transition(booking.id, target, principal=self.admin)
            assert by_hand.value.fields == ("status",)
            assert by_hand.value.errors[0].code == "money_state"
            self._assert_untouched(booking)
            return
        allowed = self.lifecycle.allows(booking.status, target)
        short = allowed and self._needs_seats(booking, target)
        short = short and not self._room_for(booking.slot_id, booking.travelers)
        refusal: InvalidTransitionError | CapacityError | None = None
        try:
            if cancel:
                moved = self.core.bookings.cancel(
                    booking.id, principal=self.admin, reason=note, idempotency_key=key
                )
                event = self.core.bookings.history(booking.id, principal=self.admin)[-1]
                replayed = False
            else:
                outcome = self.core.bookings.transition(
                    booking.id,
                    target,
                    principal=self.admin,
                    note=note,
                    idempotency_key=key,
                    metadata=metadata,
                )
                moved, event, replayed = outcome.booking, outcome.event, outcome.replayed
        except (InvalidTransitionError, CapacityError) as caught:
            refusal = caught
        if isinstance(refusal, InvalidTransitionError):
            assert not allowed, f"{booking.status!r} -> {target!r} is in the table"
            assert refusal.from_state == booking.status
            assert refusal.to_state == target
            assert refusal.lifecycle == self.lifecycle.name
            self._assert_untouched(booking)
            return
        if isinstance(refusal, CapacityError):
            assert short, f"{booking.status!r} -> {target!r} needed no seats it lacked"
            assert refusal.requested == booking.travelers
            self._assert_untouched(booking)
            return
        assert allowed, f"{booking.status!r} -> {target!r} is not in the table"
        assert not short, "the move took seats the slot did not have"
        assert not replayed
        assert moved.id == booking.id
        assert moved.status == target
        assert moved.version == booking.version + 1
        assert event.booking_id == booking.id
        assert event.from_status == booking.status
        assert event.to_status == target
        assert event.lifecycle == self.lifecycle.name
        assert event.booking_version == moved.version
        assert event.note == note
        # Keys are stored scoped to their principal (docs/security.md, "Limits").
        assert event.idempotency_key == (key and f"staff:{self.admin.id}:{key}")
        assert dict(event.metadata) == dict(metadata or {})
        if target == self.lifecycle.cancelled:
            assert moved.cancelled_at == self.clock.now()
            assert moved.cancellation_reason == note
        history = self.core.bookings.history(booking.id, principal=self.admin)
        assert len(history) == booking.events + 1
        assert history[-1] == event
        booking.status = target
        booking.version += 1
        booking.events += 1
        if key is not None:
            self.calls[key] = _Call(booking.id, target, note, metadata, event)

    # ------------------------------------------------------------------ rules

    @precondition(lambda self: len(self.slot_ids) < 3)
    @rule(capacity=_CAPACITIES)
    def open_slot(self, capacity: int | None) -> None:
        slot = self.core.catalog.create_slot(
            location_id=self.location_id,
            starts_at=self.clock.now() + timedelta(days=30),
            price_per_traveler=Money("100", "INR"),
            capacity=capacity,
            principal=self.admin,
        )
        assert slot.seats_held == 0
        self.slot_ids.append(slot.id)
        self.capacity[slot.id] = capacity

    @precondition(lambda self: self.slot_ids and len(self.bookings) < 6)
    @rule(
        slot_index=st.integers(0, 2),
        travelers=st.integers(1, 4),
        start_choice=st.integers(0, 9),
        name_lifecycle=st.booleans(),
    )
    def book(
        self, slot_index: int, travelers: int, start_choice: int, name_lifecycle: bool
    ) -> None:
        lifecycle = self.lifecycle
        slot_id = self.slot_ids[slot_index % len(self.slot_ids)]
        entries = sorted(lifecycle.entry)
        # Mostly the default (initial) state; sometimes an entry state or the initial by name.
        status: str | None = None
        if start_choice >= 7:
            status = lifecycle.initial
        elif start_choice >= 4 and entries:
            status = entries[start_choice % len(entries)]
        start = status or lifecycle.initial
        request = BookingRequest(
            slot_id,
            [
                NewTraveler(TravelerDetails(f"Guest {i}"), is_primary=i == 0)
                for i in range(travelers)
            ],
            customer=CustomerDetails(f"+9198{self._next():08d}"),
            lifecycle=lifecycle.name if name_lifecycle else None,
            status=status,
        )
        short = lifecycle.holds_capacity(start) and not self._room_for(slot_id, travelers)
        seats_before = self.core.catalog.get_slot(slot_id, principal=self.admin).seats_held
        if short:
            with pytest.raises(CapacityError) as refused:
                self.core.bookings.book(request, principal=self.admin)
            assert refused.value.requested == travelers
            slot = self.core.catalog.get_slot(slot_id, principal=self.admin)
            assert slot.seats_held == seats_before
            return
        booking = self.core.bookings.book(request, principal=self.admin)
        assert booking.lifecycle == lifecycle.name
        assert booking.status == start
        assert booking.total_travelers == travelers
        history = self.core.bookings.history(booking.id, principal=self.admin)
        assert len(history) == 1
        assert history[0].from_status is None
        assert history[0].to_status == start
        assert history[0].booking_version == booking.version == 1
        self.bookings.append(_Booking(booking.id, slot_id, travelers, start, start))

    @precondition(lambda self: self.slot_ids)
    @rule(data=st.data())
    def book_in_a_state_that_is_no_start(self, data: st.DataObject) -> None:
        others = [s for s in self.lifecycle.states if s not in self.lifecycle.starts]
        if not others:
            return
        status = data.draw(st.sampled_from(others))
        request = BookingRequest(
            self.slot_ids[0],
            [NewTraveler(TravelerDetails("Guest 0"), is_primary=True)],
            customer=CustomerDetails(f"+9198{self._next():08d}"),
            status=status,
        )
        seats_before = self.core.catalog.get_slot(self.slot_ids[0], principal=self.admin)
        with pytest.raises(ValidationError) as refused:
            self.core.bookings.book(request, principal=self.admin)
        assert refused.value.fields == ("status",)
        assert refused.value.errors[0].code == "not_a_start_state"
        slot = self.core.catalog.get_slot(self.slot_ids[0], principal=self.admin)
        assert slot.seats_held == seats_before.seats_held

    @precondition(lambda self: self.bookings)
    @rule(
        which=st.integers(0, 5),
        state=st.integers(0, 10),
        with_key=st.booleans(),
        note=_NOTES,
        metadata=_METADATA,
    )
    def move(
        self,
        which: int,
        state: int,
        with_key: bool,
        note: str | None,
        metadata: Mapping[str, str] | None,
    ) -> None:
        booking = self.bookings[which % len(self.bookings)]
        states = self.lifecycle.states
        key = f"move-{self._next()}" if with_key else None
        self._expect_move(
            booking, states[state % len(states)], note=note, key=key, metadata=metadata
        )

    @precondition(lambda self: self.bookings)
    @rule(
        which=st.integers(0, 5),
        choice=st.integers(0, 10),
        with_key=st.booleans(),
        toward_seats=st.booleans(),
    )
    def move_along_the_table(
        self, which: int, choice: int, with_key: bool, toward_seats: bool
    ) -> None:
        """Random targets are mostly refused; this one picks an allowed move when there is one,
        preferring (when ``toward_seats``) moves that need seats, to run slots out of them."""
        booking = self.bookings[which % len(self.bookings)]
        targets = sorted(self.lifecycle.targets(booking.status))
        if not targets:
            assert self.lifecycle.is_terminal(booking.status)
            return
        hungry = [t for t in targets if self._needs_seats(booking, t)]
        if toward_seats and hungry:
            targets = hungry
        else:
            # Away from the cancelled state, so bookings get far along their lifecycle.
            targets = [t for t in targets if t != self.lifecycle.cancelled] or targets
        key = f"along-{self._next()}" if with_key else None
        target = targets[choice % len(targets)]
        self._expect_move(booking, target, note=None, key=key, metadata=None)

    @precondition(lambda self: self.bookings)
    @rule(which=st.integers(0, 5), choice=st.integers(0, 10))
    def move_toward_the_end(self, which: int, choice: int) -> None:
        """One step along a shortest way to a terminal state (any allowed step without one)."""
        booking = self.bookings[which % len(self.bookings)]
        here = self.distance.get(booking.status)
        targets = sorted(self.lifecycle.targets(booking.status))
        closer = [t for t in targets if here is not None and self.distance.get(t) == here - 1]
        if not (closer or targets):
            assert self.lifecycle.is_terminal(booking.status)
            return
        chosen = (closer or targets)[choice % len(closer or targets)]
        self._expect_move(booking, chosen, note=None, key=None, metadata=None)

    @precondition(lambda self: self.bookings)
    @rule(which=st.integers(0, 5), reason=_NOTES, with_key=st.booleans())
    def cancel(self, which: int, reason: str | None, with_key: bool) -> None:
        booking = self.bookings[which % len(self.bookings)]
        cancelled = self.lifecycle.cancelled
        key = f"cancel-{self._next()}" if with_key else None
        if cancelled is None:
            with pytest.raises(ValidationError) as refused:
                self.core.bookings.cancel(booking.id, principal=self.admin, reason=reason)
            assert refused.value.fields == ("lifecycle",)
            assert refused.value.errors[0].code == "not_cancellable"
            self._assert_untouched(booking)
            return
        self._expect_move(booking, cancelled, note=reason, key=key, metadata=None, cancel=True)

    @precondition(lambda self: any(self.lifecycle.is_terminal(b.status) for b in self.bookings))
    @rule(which=st.integers(0, 5))
    def terminal_states_accept_no_move(self, which: int) -> None:
        ended = [b for b in self.bookings if self.lifecycle.is_terminal(b.status)]
        booking = ended[which % len(ended)]
        for target in self.lifecycle.states:
            if target in self.lifecycle.money_states:
                with pytest.raises(ValidationError):
                    self.core.bookings.transition(booking.id, target, principal=self.admin)
                continue
            with pytest.raises(InvalidTransitionError) as refused:
                self.core.bookings.transition(booking.id, target, principal=self.admin)
            assert (refused.value.from_state, refused.value.to_state) == (booking.status, target)
        self._assert_untouched(booking)

    @precondition(lambda self: self.bookings and self.lifecycle.money_states)
    @rule(which=st.integers(0, 5))
    def pay_in_full(self, which: int) -> None:
        """The desk records the whole total: the payment service moves the booking on, to
        the money state a transition may not reach; nothing is due twice, nor once closed."""
        booking = self.bookings[which % len(self.bookings)]
        lifecycle = self.lifecycle
        closed = booking.status == lifecycle.cancelled or (
            lifecycle.is_terminal(booking.status) and not lifecycle.holds_capacity(booking.status)
        )
        total = self.core.bookings.get(booking.id, principal=self.admin).total
        pay = self.core.payments.record_manual_payment
        if closed or booking.id in self.paid:
            with pytest.raises(ValidationError) as refused:
                pay(booking.id, total, principal=self.admin, reference=f"CASH-{self._next()}")
            assert refused.value.fields == ("amount",)
            self._assert_untouched(booking)
            return
        pay(booking.id, total, principal=self.admin, reference=f"CASH-{self._next()}")
        self.paid.add(booking.id)
        expected, status = [], booking.status
        if lifecycle.allows(status, "payment_pending"):
            expected.append(status := "payment_pending")
        expected += [s for s in ("payment_confirmed", "confirmed") if lifecycle.allows(status, s)][
            :1
        ]
        history = self.core.bookings.history(booking.id, principal=self.admin)
        assert [e.to_status for e in history[booking.events :]] == expected
        if expected:
            booking.status = expected[-1]
            booking.version += len(expected)
            booking.events += len(expected)
        self._assert_untouched(booking)

    @precondition(lambda self: self.bookings)
    @rule(which=st.integers(0, 5))
    def move_to_a_state_the_lifecycle_does_not_have(self, which: int) -> None:
        booking = self.bookings[which % len(self.bookings)]
        known = {state.casefold() for state in self.lifecycle.states}
        missing = next(n for n in (f"#nowhere-{i}" for i in range(99)) if n not in known)
        with pytest.raises(ValidationError) as refused:
            self.core.bookings.transition(booking.id, missing, principal=self.admin)
        assert refused.value.fields == ("to",)
        self._assert_untouched(booking)

    @precondition(lambda self: self.calls)
    @rule(which=st.integers(0, 20))
    def repeat_a_key_with_the_same_request(self, which: int) -> None:
        key = sorted(self.calls)[which % len(self.calls)]
        call = self.calls[key]
        booking = next(b for b in self.bookings if b.id == call.booking_id)
        seats = {s: self._seats_held(s) for s in self.slot_ids}
        outcome = self.core.bookings.transition(
            call.booking_id,
            call.to,
            principal=self.admin,
            note=call.note,
            idempotency_key=key,
            metadata=call.metadata,
        )
        assert outcome.replayed
        assert outcome.event == call.event
        # The booking as it is now, not as it was after the first call.
        assert outcome.booking.status == booking.status
        assert outcome.booking.version == booking.version
        self._assert_untouched(booking)
        for slot_id, held in seats.items():
            assert self.core.catalog.get_slot(slot_id, principal=self.admin).seats_held == held

    @precondition(lambda self: self.calls)
    @rule(which=st.integers(0, 20), change=st.sampled_from(["note", "to", "booking", "metadata"]))
    def repeat_a_key_with_a_different_request(self, which: int, change: str) -> None:
        key = sorted(self.calls)[which % len(self.calls)]
        call = self.calls[key]
        booking_id, to, note, metadata = call.booking_id, call.to, call.note, call.metadata
        other_states = [s for s in self.lifecycle.states if s != call.to]
        other_bookings = [b.id for b in self.bookings if b.id != call.booking_id]
        if change == "to" and other_states:
            to = other_states[which % len(other_states)]
        elif change == "booking" and other_bookings:
            booking_id = other_bookings[which % len(other_bookings)]
        elif change == "metadata":
            metadata = {"changed": "yes", **(metadata or {})}
        else:
            note = f"{note or ''} (again)"
        with pytest.raises(IdempotencyConflictError) as refused:
            self.core.bookings.transition(
                booking_id,
                to,
                principal=self.admin,
                note=note,
                idempotency_key=key,
                metadata=metadata,
            )
        assert refused.value.key == key
        for booking in self.bookings:
            self._assert_untouched(booking)

    # ------------------------------------------------------------------ invariants

    @invariant()
    def stored_bookings_follow_their_history(self) -> None:
        for booking in self.bookings:
            stored = self.core.bookings.get(booking.id, principal=self.admin)
            history = self.core.bookings.history(booking.id, principal=self.admin)
            assert stored.status == booking.status
            assert stored.version == booking.version
            assert len(history) == booking.events
            assert history[0].from_status is None
            assert history[0].to_status == booking.start
            assert replay(self.lifecycle, history) == stored.status
            assert [e.booking_version for e in history] == list(range(1, len(history) + 1))

    @invariant()
    def slots_hold_the_seats_of_bookings_in_holding_states(self) -> None:
        for slot_id in self.slot_ids:
            slot = self.core.catalog.get_slot(slot_id, principal=self.admin)
            held = 0
            for booking in self.bookings:
                if booking.slot_id != slot_id:
                    continue
                stored = self.core.bookings.get(booking.id, principal=self.admin)
                if self.lifecycle.holds_capacity(stored.status):
                    held += stored.total_travelers
            assert slot.seats_held == held == self._seats_held(slot_id)
            capacity = self.capacity[slot_id]
            assert capacity is None or slot.seats_held <= capacity


def _machine_for(lifecycles: st.SearchStrategy[Lifecycle], name: str) -> type[LifecycleMachine]:
    class Machine(LifecycleMachine):
        @initialize(lifecycle=lifecycles, capacity=_CAPACITIES)
        def choose_lifecycle(self, lifecycle: Lifecycle, capacity: int | None) -> None:
            self.start(lifecycle)
            self.open_slot(capacity)

    Machine.__name__ = Machine.__qualname__ = name
    return Machine


# A stateful machine finds its bugs through long runs of steps rather than through many
# runs: a quarter of the profile's examples for the built-in lifecycles (50 in CI), half
# for generated ones, each of 30 steps.
_STATEFUL = settings(
    max_examples=max(10, settings.default.max_examples // 4), stateful_step_count=30
)
_GENERATED = settings(
    max_examples=max(10, settings.default.max_examples // 2), stateful_step_count=30
)

ReservationMachine = _machine_for(st.just(RESERVATION), "ReservationMachine")
AppointmentMachine = _machine_for(st.just(APPOINTMENT), "AppointmentMachine")
TravelMachine = _machine_for(st.just(TRAVEL), "TravelMachine")
CustomLifecycleMachine = _machine_for(bst.lifecycles(), "CustomLifecycleMachine")

TestReservationLifecycle = ReservationMachine.TestCase
TestReservationLifecycle.settings = _STATEFUL
TestAppointmentLifecycle = AppointmentMachine.TestCase
TestAppointmentLifecycle.settings = _STATEFUL
TestTravelLifecycle = TravelMachine.TestCase
TestTravelLifecycle.settings = _STATEFUL
TestCustomLifecycle = CustomLifecycleMachine.TestCase
TestCustomLifecycle.settings = _GENERATED
