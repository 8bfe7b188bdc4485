"""What :class:`~bookingcore.Automations` maps each status to, and how it is configured."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import cast
from uuid import uuid4

import attrs
import pytest

from bookingcore import (
    Automations,
    BookingId,
    CustomerId,
    Lifecycle,
    NotFoundError,
    SlotId,
    StaffId,
    ValidationError,
)
from bookingcore.domain import (
    PRESETS,
    Actor,
    ActorKind,
    BookingCreated,
    BookingSource,
    BookingUpdated,
    CommunicationType,
)
from bookingcore.services import AssigneeNoticeHandler, CommunicationService, HandlerContext
from bookingcore.services.automations import DEFAULT_MESSAGES
from bookingcore_adapters.memory import MemoryStore

CONFIRMATION = CommunicationType.CONFIRMATION
CANCELLATION = CommunicationType.CANCELLATION
FOLLOW_UP = CommunicationType.FOLLOW_UP


def messages_of(lifecycle: Lifecycle, automations: Automations) -> dict[str, CommunicationType]:
    """Each state of ``lifecycle`` that sends a message, with its message."""
    found = {}
    for state in lifecycle.states:
        kind = automations.message_for(lifecycle.name, state)
        if kind is not None:
            found[state] = kind
    return found


class TestPresets:
    @pytest.mark.parametrize("lifecycle", PRESETS.values(), ids=list(PRESETS))
    def test_every_preset_confirms_once_and_never_on_a_booking_that_merely_started(
        self, lifecycle: Lifecycle
    ) -> None:
        sent = messages_of(lifecycle, Automations())
        (confirmed,) = [state for state, kind in sent.items() if kind is CONFIRMATION]
        assert confirmed not in lifecycle.starts
        assert lifecycle.holds_capacity(confirmed)
        assert lifecycle.is_active(confirmed)
        assert lifecycle.cancelled is not None
        assert sent[lifecycle.cancelled] is CANCELLATION
        completed = next(s for s in lifecycle.states if s.casefold() == "completed")
        assert sent[completed] is FOLLOW_UP
        assert set(sent) == {confirmed, lifecycle.cancelled, completed}

    def test_the_confirmed_state_of_each_preset(self) -> None:
        confirmed = {
            name: [s for s, k in messages_of(lc, Automations()).items() if k is CONFIRMATION]
            for name, lc in PRESETS.items()
        }
        # reservation: confirmed; travel: once paid (seed 001); appointment: an advisor took it
        assert confirmed == {
            "reservation": ["confirmed"],
            "travel": ["payment_confirmed"],
            "appointment": ["ASSIGNED"],
        }


class TestConfiguration:
    def test_names_match_whatever_their_case_and_a_lifecycle_key_wins(self) -> None:
        automations = Automations(
            messages={
                "Confirmed": "confirmation",
                "appointment:ASSIGNED": None,
                "ASSIGNED": "reminder",
            }
        )
        assert automations.message_for("reservation", "CONFIRMED") is CONFIRMATION
        assert automations.message_for("appointment", "ASSIGNED") is None
        assert automations.message_for("dealer", "assigned") is CommunicationType.REMINDER
        assert automations.message_for("reservation", "completed") is None

    def test_the_defaults_are_the_documented_table(self) -> None:
        assert Automations().messages == DEFAULT_MESSAGES
        assert Automations().message_on_create is True
        assert Automations().notify_assignee is True
        assert Automations() == Automations()

    def test_an_unknown_message_type_is_refused_naming_its_status(self) -> None:
        with pytest.raises(ValidationError) as caught:
            Automations(messages={"confirmed": "telegram"})
        assert [(e.field, e.code) for e in caught.value.errors] == [
            ("messages.confirmed", "invalid_choice")
        ]
        with pytest.raises(ValidationError) as blank:
            Automations(messages={" ": "confirmation"})
        assert blank.value.fields == ("messages",)

    @pytest.mark.parametrize(
        "kind",
        [
            "family_invitation",
            "waitlist_offer",
            "sign_in_code",
            "quotation",
            "group_confirmation",
            "assignment",
        ],
    )
    def test_a_message_about_something_else_than_the_booking_is_refused(self, kind: str) -> None:
        with pytest.raises(ValidationError) as caught:
            Automations(messages={"confirmed": kind})
        assert [(e.field, e.code) for e in caught.value.errors] == [
            ("messages.confirmed", "invalid_choice")
        ]
        assert kind in caught.value.errors[0].message
        with pytest.raises(ValidationError) as old:
            Automations(message_on={"completed"}, message_type=kind)
        assert old.value.fields == ("message_type",)

    def test_every_message_about_a_booking_may_be_mapped(self) -> None:
        about_a_booking = ["confirmation", "reminder", "follow_up", "certificate"]
        about_a_booking += ["cancellation", "schedule_change"]
        for kind in about_a_booking:
            assert Automations(messages={"confirmed": kind}).message_for("x", "confirmed") == kind

    def test_the_deprecated_fields_say_exactly_what_they_said_before(self) -> None:
        with pytest.warns(DeprecationWarning, match="messages="):
            old = Automations(message_on={"Completed", "no_show"})
        assert old.messages == {"completed": FOLLOW_UP, "no_show": FOLLOW_UP}
        with pytest.warns(DeprecationWarning, match="deprecated"):
            typed = Automations(message_type="reminder")
        assert typed.messages == {"completed": CommunicationType.REMINDER}
        with (
            pytest.warns(DeprecationWarning, match="deprecated"),
            pytest.raises(ValidationError) as both,
        ):
            Automations(message_on={"completed"}, messages={"completed": "follow_up"})
        assert both.value.fields == ("message_on",)


class TestAssigneeNotice:
    def event(
        self, fields: tuple[str, ...], assignee: StaffId | None, actor: Actor
    ) -> BookingUpdated:
        return BookingUpdated(
            id=uuid4(),
            occurred_at=datetime(2026, 1, 1, tzinfo=UTC),
            booking_id=BookingId(uuid4()),
            fields=fields,
            actor=actor,
            assignee_id=assignee,
        )

    def test_only_an_assignment_to_someone_else_is_noticed(self) -> None:
        ana = StaffId(uuid4())
        admin = Actor(ActorKind.STAFF, str(uuid4()))
        wants = AssigneeNoticeHandler.wants
        assert wants(self.event(("assignee_id",), ana, admin))
        assert wants(self.event(("assignee_id", "internal_notes"), ana, Actor.system("import")))
        assert not wants(self.event(("assignee_id",), None, admin))  # unassigned
        assert not wants(self.event(("internal_notes",), None, admin))
        assert not wants(self.event(("assignee_id",), ana, Actor(ActorKind.STAFF, str(ana))))

    def test_a_booking_created_assigned_is_noticed(self) -> None:
        ana = StaffId(uuid4())
        created = BookingCreated(
            id=uuid4(),
            occurred_at=datetime(2026, 1, 1, tzinfo=UTC),
            booking_id=BookingId(uuid4()),
            reference="BK-1",
            customer_id=CustomerId(uuid4()),
            slot_id=SlotId(uuid4()),
            lifecycle="appointment",
            status="PENDING",
            source=BookingSource.IMPORT,
            actor=Actor.system("import"),
            travelers=1,
            assignee_id=ana,
        )
        assert AssigneeNoticeHandler.wants(created)
        assert not AssigneeNoticeHandler.wants(attrs.evolve(created, assignee_id=None))

    def test_only_a_missing_subject_the_event_names_ends_the_notice(self) -> None:
        """A vanished booking or staff member is done with; any other NotFoundError
        (another entity, another id) is a fault the dispatcher must see and retry."""
        ana = StaffId(uuid4())
        event = self.event(("assignee_id",), ana, Actor(ActorKind.STAFF, str(uuid4())))
        context = HandlerContext(MemoryStore().unit_of_work(), event.occurred_at, 1)
        for missing in (
            NotFoundError("staff member", ana),
            NotFoundError("booking", event.booking_id),
        ):
            handler = AssigneeNoticeHandler(cast("CommunicationService", _Refusing(missing)))
            handler(event, context)  # done with: nothing to send, nothing raised
        for unrelated in (
            NotFoundError("staff member", StaffId(uuid4())),
            NotFoundError("booking", BookingId(uuid4())),
            NotFoundError("customer", CustomerId(uuid4())),
            NotFoundError("traveler", ana),
        ):
            handler = AssigneeNoticeHandler(cast("CommunicationService", _Refusing(unrelated)))
            with pytest.raises(NotFoundError) as raised:
                handler(event, context)
            assert raised.value is unrelated


class _Refusing:
    """A communications service whose every send raises ``error``."""

    def __init__(self, error: Exception) -> None:
        self.error = error

    def send_to_staff(self, *args: object, **kwargs: object) -> None:
        raise self.error
