"""A group's confirmation and the automatic confirmation of its bookings send one message.

The rule (docs/notifications.md, "Confirmations of bookings in a group"): each
time a booking is confirmed it gets one confirmation, whoever sends it. The
group confirmation's message to a participant is their booking's latest
confirmation, or its first if the booking is not confirmed yet; the automatic
message of a booking reaching ``confirmed`` is that confirmation too. Both log it
under one dedupe key, so whichever comes first sends it, the other sends nothing
(or sends it again when it failed), in either order and when they run at once.
"""

from __future__ import annotations

import threading
from typing import Any

import pytest
from tests._threads import at_once
from tests.integration._worlds import ADMIN, INSTANT, camp_slot

from bookingcore import (
    Automations,
    BookingCore,
    BookingRequest,
    Lifecycle,
    NewTraveler,
    Settings,
    TravelerDetails,
    ValidationError,
)
from bookingcore.domain import Channel, Communication, CommunicationType, MessageTemplate
from bookingcore.domain.lifecycle import PRESETS
from bookingcore.services import CommunicationService
from bookingcore.testing import FixedClock, RecordingNotifier, SequentialIds
from bookingcore_adapters.memory import MemoryStore
from bookingcore_adapters.sql import SqlStore
from bookingcore_adapters.sql._events import CommunicationRepository as SqlCommunications

CONFIRMATION = CommunicationType.CONFIRMATION
SUMMARY = CommunicationType.GROUP_CONFIRMATION

#: A booking that can be confirmed, put on hold and confirmed again.
HELD = Lifecycle(
    name="held",
    states=("pending", "confirmed", "on_hold", "completed", "cancelled"),
    initial="pending",
    transitions={
        "pending": {"confirmed", "cancelled"},
        "confirmed": {"on_hold", "completed", "cancelled"},
        "on_hold": {"confirmed", "cancelled"},
    },
    terminal={"completed", "cancelled"},
    holding={"pending", "confirmed", "on_hold", "completed"},
    cancelled="cancelled",
)


class Party:
    """A core with automatic messages on, a slot, an organiser and a group of two."""

    def __init__(
        self,
        store: MemoryStore | SqlStore,
        *,
        templates: dict[tuple[CommunicationType, Channel], MessageTemplate] | None = None,
        **options: Any,
    ) -> None:
        self.clock = FixedClock()
        self.notifier = RecordingNotifier()
        self.core = BookingCore(
            uow_factory=store.unit_of_work,
            clock=self.clock,
            ids=SequentialIds(),
            settings=Settings(
                default_region="IN",
                lifecycles={**PRESETS, "held": HELD, "instant": INSTANT},
                templates=templates or {},
            ),
            notifier=self.notifier,
            **options,
        )
        self.slot = camp_slot(self.core, self.clock)
        register = self.core.customers.register
        organiser = register("+919800000001", principal=ADMIN, email="olga@acme.example")
        self.group = self.core.groups.create(
            "OFFSITE", organizer_id=organiser.customer.id, principal=ADMIN
        )
        self.people = [
            register(f"+91980000001{i}", principal=ADMIN, name=f"P{i}").customer.id
            for i in range(2)
        ]

    def book(self, n: int, lifecycle: str = "reservation") -> Any:
        return self.core.bookings.book(
            BookingRequest(
                self.slot.id,
                [NewTraveler(TravelerDetails(f"P{n}", phone=f"+91990000001{n}"), is_primary=True)],
                customer_id=self.people[n],
                group_id=self.group.id,
                lifecycle=lifecycle,
            ),
            principal=ADMIN,
        )

    def confirm(self, booking: Any, status: str = "confirmed") -> None:
        self.core.bookings.transition(booking.id, status, principal=ADMIN)

    def confirmations(self, booking: Any) -> list[Communication]:
        logged = self.core.communications.for_booking(booking.id, principal=ADMIN)
        return [c for c in logged if c.type is CONFIRMATION]

    def texts(self, booking: Any) -> int:
        """How many confirmations of ``booking`` the notifier took."""
        ids = {c.id for c in self.confirmations(booking)}
        return sum(1 for m in self.notifier.sent if m.communication_id in ids)

    def summaries(self) -> int:
        return sum(1 for m in self.notifier.sent if m.recipient == "olga@acme.example")


@pytest.fixture
def party(any_store: MemoryStore | SqlStore) -> Party:
    return Party(any_store)


def test_a_confirmation_that_cannot_be_made_is_logged_failed_and_the_others_go_out(
    any_store: MemoryStore | SqlStore,
) -> None:
    long = MessageTemplate("confirmation.sms", "$reference " + "x" * 1600)
    party = Party(any_store, templates={(CONFIRMATION, Channel.SMS): long})
    first, second = party.book(0), party.book(1)
    listed = party.core.groups.send_confirmations(party.group.id, principal=ADMIN)
    assert [m.type for m in listed] == [SUMMARY, CONFIRMATION, CONFIRMATION]
    assert party.summaries() == 1
    for booking in (first, second):
        (failed,) = party.confirmations(booking)
        assert (failed.status.value, failed.retryable) == ("failed", False)
        assert "an SMS carries at most 1600 characters" in (failed.failed_reason or "")
        assert party.texts(booking) == 0
    party.confirm(first)  # its automatic confirmation is the one logged failed
    assert party.texts(first) == 0
    assert len(party.confirmations(first)) == 1


def test_bookings_confirmed_before_the_group_get_no_second_confirmation(party: Party) -> None:
    booked = [party.book(0), party.book(1)]
    for booking in booked:
        party.confirm(booking)
    assert [party.texts(b) for b in booked] == [1, 1]
    sent = party.core.groups.send_confirmations(party.group.id, principal=ADMIN)
    assert party.summaries() == 1
    assert [party.texts(b) for b in booked] == [1, 1]
    assert [len(party.confirmations(b)) for b in booked] == [1, 1]
    # The answer still lists each booking's confirmation: the one already sent.
    assert [c.type for c in sent] == [SUMMARY, CONFIRMATION, CONFIRMATION]
    assert {c.id for c in sent[1:]} == {party.confirmations(b)[0].id for b in booked}
    assert {c.status.value for c in sent[1:]} == {"sent"}


def test_bookings_confirmed_after_the_group_get_no_second_confirmation(party: Party) -> None:
    booked = [party.book(0), party.book(1)]
    party.core.groups.send_confirmations(party.group.id, principal=ADMIN)
    assert [party.texts(b) for b in booked] == [1, 1]
    for booking in booked:
        party.confirm(booking)
    assert [party.texts(b) for b in booked] == [1, 1]
    assert [len(party.confirmations(b)) for b in booked] == [1, 1]
    # The group's message went to the primary contact's phone, and stands.
    (message,) = party.confirmations(booked[0])
    assert message.recipient == "+919900000010"


def test_a_confirmation_waiting_in_the_outbox_is_not_doubled_by_the_group(
    any_store: MemoryStore | SqlStore,
) -> None:
    party = Party(any_store, dispatch="deferred")
    booking = party.book(0)
    party.confirm(booking)  # its automatic confirmation waits for the dispatcher
    assert party.notifier.attempts == 0
    party.core.groups.send_confirmations(party.group.id, principal=ADMIN)
    assert party.texts(booking) == 1
    party.core.events.run_pending()
    party.clock.advance(days=1)
    party.core.events.run_pending()
    assert party.texts(booking) == 1
    assert len(party.confirmations(booking)) == 1


def test_a_second_group_confirmation_tells_the_organiser_again_but_no_participant(
    party: Party,
) -> None:
    booking = party.book(0)
    party.core.groups.send_confirmations(party.group.id, principal=ADMIN)
    again = party.core.groups.send_confirmations(party.group.id, principal=ADMIN)
    assert party.summaries() == 2
    assert party.texts(booking) == 1
    assert [c.type for c in again] == [SUMMARY, CONFIRMATION]


def test_a_failed_group_confirmation_is_sent_by_the_automatic_one(party: Party) -> None:
    booking = party.book(0)
    party.notifier.fail_next(2)  # the summary and the participant's confirmation
    sent = party.core.groups.send_confirmations(party.group.id, principal=ADMIN)
    assert [c.status.value for c in sent] == ["failed", "failed"]
    party.confirm(booking)
    (message,) = party.confirmations(booking)
    assert (message.id, message.status.value) == (sent[1].id, "sent")
    assert party.texts(booking) == 1


def test_a_failed_automatic_confirmation_is_sent_by_the_group_once(party: Party) -> None:
    booking = party.book(0)
    party.notifier.fail_next(1)
    party.confirm(booking)
    (failed,) = party.confirmations(booking)
    assert failed.status.value == "failed"
    sent = party.core.groups.send_confirmations(party.group.id, principal=ADMIN)
    assert (sent[1].id, sent[1].status.value) == (failed.id, "sent")
    party.clock.advance(days=1)
    party.core.events.run_pending()  # the dispatcher's retry finds it sent
    assert party.texts(booking) == 1
    assert len(party.confirmations(booking)) == 1


def test_a_booking_confirmed_again_gets_its_new_confirmation_once(party: Party) -> None:
    booking = party.book(0, lifecycle="held")
    party.confirm(booking)
    party.confirm(booking, "on_hold")
    party.core.groups.send_confirmations(party.group.id, principal=ADMIN)
    assert party.texts(booking) == 1  # on hold: its latest confirmation stands
    party.confirm(booking, "confirmed")
    assert party.texts(booking) == 2  # confirmed again: a new confirmation
    party.core.groups.send_confirmations(party.group.id, principal=ADMIN)
    assert party.texts(booking) == 2
    keys = [c.dedupe_key for c in party.confirmations(booking)]
    assert keys == [f"confirmation:{booking.id}:1", f"confirmation:{booking.id}:2"]


def test_the_group_losing_the_race_to_the_automatic_confirmation_sends_nothing_more(
    any_store: MemoryStore | SqlStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    party = Party(any_store, dispatch="deferred")
    booking = party.book(0)
    party.confirm(booking)
    original = CommunicationService.log_confirmation
    raced: list[bool] = []

    def log_then_race(self: CommunicationService, *args: Any, **kwargs: Any) -> Any:
        logged = original(self, *args, **kwargs)
        if not raced:
            # Both have read that nothing is logged: the dispatcher commits first.
            raced.append(True)
            party.core.events.run_pending()
        return logged

    monkeypatch.setattr(CommunicationService, "log_confirmation", log_then_race)
    sent = party.core.groups.send_confirmations(party.group.id, principal=ADMIN)
    assert raced
    assert party.texts(booking) == 1
    (message,) = party.confirmations(booking)
    assert sent[1].id == message.id


def test_the_automatic_confirmation_losing_the_race_to_the_group_sends_nothing_more(
    any_store: MemoryStore | SqlStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    party = Party(any_store, dispatch="deferred")
    booking = party.book(0)
    party.confirm(booking)
    original = CommunicationService.log_confirmation
    raced: list[bool] = []

    def log_then_race(self: CommunicationService, *args: Any, **kwargs: Any) -> Any:
        logged = original(self, *args, **kwargs)
        if not raced:
            raced.append(True)
            party.core.groups.send_confirmations(party.group.id, principal=ADMIN)
        return logged

    monkeypatch.setattr(CommunicationService, "log_confirmation", log_then_race)
    report = party.core.events.run_pending()
    assert raced
    assert report.failed == 0
    assert party.texts(booking) == 1
    assert len(party.confirmations(booking)) == 1


def test_a_booking_created_confirmed_is_not_confirmed_again_by_its_group(party: Party) -> None:
    booking = party.book(0, lifecycle="instant")  # its confirmation on creation
    assert party.texts(booking) == 1
    party.core.groups.send_confirmations(party.group.id, principal=ADMIN)
    assert party.texts(booking) == 1


def test_a_booking_created_confirmed_without_a_message_gets_the_groups_once(
    any_store: MemoryStore | SqlStore,
) -> None:
    party = Party(any_store, automations=Automations(message_on_create=False))
    booking = party.book(0, lifecycle="instant")
    assert party.texts(booking) == 0
    for _ in range(2):
        party.core.groups.send_confirmations(party.group.id, principal=ADMIN)
    assert party.texts(booking) == 1
    (message,) = party.confirmations(booking)
    assert message.dedupe_key == f"confirmation:{booking.id}:1"


def test_without_automations_a_group_still_confirms_each_booking_once(
    any_store: MemoryStore | SqlStore,
) -> None:
    party = Party(any_store, automations=False)
    booking = party.book(0)
    party.core.groups.send_confirmations(party.group.id, principal=ADMIN)
    party.confirm(booking)
    party.core.groups.send_confirmations(party.group.id, principal=ADMIN)
    assert party.texts(booking) == 1
    assert party.summaries() == 2


def test_confirmations_are_counted_from_one(party: Party) -> None:
    booking = party.book(0)
    with pytest.raises(ValidationError) as refused:
        party.core.communications.send_confirmation(booking.id, 0, principal=ADMIN)
    assert refused.value.errors[0].field == "number"
    sent = party.core.communications.send_confirmation(booking.id, 1, principal=ADMIN)
    again = party.core.communications.send_confirmation(booking.id, 1, principal=ADMIN)
    assert again.id == sent.id
    assert party.texts(booking) == 1


@pytest.mark.postgres
@pytest.mark.parametrize("rival", ["the group", "another retry"])
def test_two_resends_of_a_failed_confirmation_at_once_send_it_once(
    pg_store: SqlStore, monkeypatch: pytest.MonkeyPatch, rival: str
) -> None:
    """Both senders read the confirmation failed before either claims it (a barrier
    after each one's read): storage lets one of them send it again, not both."""
    party = Party(pg_store)
    booking = party.book(0)
    party.notifier.fail_next(1)
    party.confirm(booking)
    (failed,) = party.confirmations(booking)
    assert failed.status.value == "failed"
    assert party.notifier.attempts == 1

    barrier = threading.Barrier(2, timeout=30)
    waited = threading.local()
    original = SqlCommunications.get_by_dedupe_key

    def read_then_wait(self: SqlCommunications, key: str) -> Communication | None:
        found = original(self, key)
        if key == failed.dedupe_key and not getattr(waited, "done", False):
            waited.done = True
            assert found is not None
            assert found.status.value == "failed"
            barrier.wait()  # the other sender has read it failed too
        return found

    monkeypatch.setattr(SqlCommunications, "get_by_dedupe_key", read_then_wait)

    def retry() -> object:
        return party.core.communications.send_confirmation(booking.id, 1, principal=ADMIN)

    def group() -> object:
        return party.core.groups.send_confirmations(party.group.id, principal=ADMIN)

    senders = [retry, group if rival == "the group" else retry]
    results = at_once(2, lambda index: senders[index]())
    assert not [r for r in results if isinstance(r, Exception)], results
    assert party.texts(booking) == 1  # one resend, by whoever claimed it
    assert party.notifier.attempts == 1 + 1 + (rival == "the group")  # + the summary
    (message,) = party.confirmations(booking)
    assert (message.id, message.status.value) == (failed.id, "sent")
    # The sender that lost the claim answers the message as it found it.
    answered = results[0]
    assert isinstance(answered, Communication)
    assert answered.id == failed.id
    assert answered.status.value in {"pending", "sent"}
