"""Lifecycles: the shipped presets match the seeds, definitions are checked, moves too."""

from __future__ import annotations

import pytest

from bookingcore import InvalidTransitionError, Lifecycle, Settings, ValidationError
from bookingcore.domain import APPOINTMENT, PRESETS, RESERVATION, TRAVEL

#: Seed 004's ALLOWED_TRANSITIONS, written out independently of the library.
SEED_004_ALLOWED_TRANSITIONS: dict[str, set[str]] = {
    "PENDING": {"ASSIGNED", "CANCELLED"},
    "ASSIGNED": {"IN_PROGRESS", "CANCELLED", "NO_SHOW"},
    "IN_PROGRESS": {"COMPLETED", "RESCHEDULED", "CANCELLED"},
    "COMPLETED": set(),
    "CANCELLED": {"PENDING"},
    "NO_SHOW": {"RESCHEDULED", "CANCELLED"},
    "WAITLISTED": {"PENDING", "CANCELLED"},
    "RESCHEDULED": {"PENDING", "ASSIGNED"},
}

#: Seed 003's travel operating system flow.
SEED_003_TRAVEL: dict[str, set[str]] = {
    "lead_created": {"quotation_sent", "cancelled"},
    "quotation_sent": {"quotation_approved", "cancelled"},
    "quotation_approved": {"booking_created", "cancelled"},
    "booking_created": {"payment_pending", "cancelled"},
    "payment_pending": {"payment_confirmed", "cancelled", "refunded"},
    "payment_confirmed": {"supplier_confirmed", "cancelled", "refunded"},
    "supplier_confirmed": {"documents_generated", "cancelled", "refunded"},
    "documents_generated": {"completed", "cancelled", "refunded"},
    "completed": {"refunded"},
    "cancelled": {"refunded"},
    "refunded": set(),
}


def _table(lifecycle: Lifecycle) -> dict[str, set[str]]:
    return {state: set(lifecycle.targets(state)) for state in lifecycle.states}


class TestPresets:
    def test_appointment_transitions_equal_seed_004_exactly(self) -> None:
        assert _table(APPOINTMENT) == SEED_004_ALLOWED_TRANSITIONS
        assert set(APPOINTMENT.states) == set(SEED_004_ALLOWED_TRANSITIONS)

    def test_appointment_completed_is_terminal_and_cancel_means_cancelled(self) -> None:
        assert APPOINTMENT.terminal == frozenset({"COMPLETED"})
        assert APPOINTMENT.initial == "PENDING"
        assert APPOINTMENT.cancelled == "CANCELLED"

    def test_travel_transitions_equal_seed_003_exactly(self) -> None:
        assert _table(TRAVEL) == SEED_003_TRAVEL
        assert set(TRAVEL.states) == set(SEED_003_TRAVEL)

    def test_travel_starts_at_lead_created_and_ends_at_refunded(self) -> None:
        assert TRAVEL.initial == "lead_created"
        assert TRAVEL.terminal == frozenset({"refunded"})
        assert TRAVEL.cancelled == "cancelled"

    def test_a_travel_lead_holds_no_seats_until_a_booking_is_created(self) -> None:
        assert not TRAVEL.holds_capacity("lead_created")
        assert not TRAVEL.holds_capacity("quotation_approved")
        assert TRAVEL.holds_capacity("booking_created")
        assert not TRAVEL.holds_capacity("cancelled")

    def test_reservation_runs_pending_confirmed_completed(self) -> None:
        assert RESERVATION.initial == "pending"
        assert RESERVATION.allows("pending", "confirmed")
        assert RESERVATION.allows("confirmed", "completed")
        assert not RESERVATION.allows("cancelled", "pending")
        assert RESERVATION.holds_capacity("pending")
        assert not RESERVATION.holds_capacity("cancelled")

    def test_presets_are_keyed_by_name(self) -> None:
        assert PRESETS == {"reservation": RESERVATION, "appointment": APPOINTMENT, "travel": TRAVEL}

    def test_the_transition_table_cannot_be_changed(self) -> None:
        with pytest.raises(TypeError):
            APPOINTMENT.transitions["COMPLETED"] = frozenset({"PENDING"})  # type: ignore[index]


class TestDefinitionChecks:
    def test_a_transition_to_an_unknown_state_is_refused(self) -> None:
        with pytest.raises(ValidationError) as caught:
            Lifecycle("bad", ("a", "b"), "a", {"a": {"b", "zzz"}})
        assert caught.value.fields == ("lifecycle.transitions.a",)
        assert "'zzz'" in caught.value.errors[0].message
        assert caught.value.errors[0].code == "unknown_state"

    def test_an_unknown_initial_state_is_refused(self) -> None:
        with pytest.raises(ValidationError) as caught:
            Lifecycle("bad", ("a", "b"), "start", {"a": {"b"}})
        assert caught.value.fields == ("lifecycle.initial",)
        assert "'start'" in caught.value.errors[0].message

    def test_an_unknown_cancelled_state_is_refused(self) -> None:
        with pytest.raises(ValidationError) as caught:
            Lifecycle("bad", ("a", "b"), "a", {"a": {"b"}}, cancelled="void")
        assert caught.value.fields == ("lifecycle.cancelled",)

    def test_an_unknown_money_state_is_refused(self) -> None:
        with pytest.raises(ValidationError) as caught:
            Lifecycle("bad", ("a", "b"), "a", {"a": {"b"}}, money_states={"paid"})
        assert caught.value.fields == ("lifecycle.money_states",)

    def test_a_terminal_state_with_a_way_out_is_refused(self) -> None:
        with pytest.raises(ValidationError) as caught:
            Lifecycle("bad", ("a", "b"), "a", {"a": {"b"}, "b": {"a"}}, terminal={"b"})
        assert caught.value.fields == ("lifecycle.transitions.b",)
        assert "terminal state 'b'" in caught.value.errors[0].message
        assert caught.value.errors[0].code == "terminal_exit"

    def test_a_state_listed_twice_is_refused(self) -> None:
        with pytest.raises(ValidationError) as caught:
            Lifecycle("bad", ("a", "b", "a"), "a", {"a": {"b"}})
        assert caught.value.fields == ("lifecycle.states",)
        assert caught.value.errors[0].code == "duplicate_state"

    def test_a_cancelled_state_that_holds_seats_is_refused(self) -> None:
        """Cancelling would keep the seats: it used to be accepted, and a cancelled
        booking went on holding its seats, never offered to the waiting list."""
        with pytest.raises(ValidationError) as caught:
            Lifecycle(
                "bad",
                ("open", "void"),
                "open",
                {"open": {"void"}},
                terminal={"void"},
                holding={"open", "void"},
                cancelled="void",
            )
        assert caught.value.fields == ("lifecycle.holding",)
        assert caught.value.errors[0].code == "cancelled_holds_seats"
        assert "'void'" in caught.value.errors[0].message

    def test_a_cancelled_state_that_only_money_reaches_is_refused(self) -> None:
        """``cancel`` is a move by hand, which a money state refuses: it could never work."""
        with pytest.raises(ValidationError) as caught:
            Lifecycle(
                "bad",
                ("open", "void"),
                "open",
                {"open": {"void"}},
                terminal={"void"},
                cancelled="void",
                money_states={"void"},
            )
        assert caught.value.fields == ("lifecycle.money_states",)
        assert caught.value.errors[0].code == "cancelled_money_state"

    @pytest.mark.parametrize("part", ["initial", "entry"])
    def test_a_cancelled_state_a_booking_starts_in_is_refused(self, part: str) -> None:
        initial, entry = ("void", set()) if part == "initial" else ("open", {"void"})
        with pytest.raises(ValidationError) as caught:
            Lifecycle(
                "bad",
                ("open", "void"),
                initial,
                {"open": {"void"}, "void": {"open"}},
                cancelled="void",
                entry=entry,
            )
        assert caught.value.fields == (f"lifecycle.{part}",)
        assert caught.value.errors[0].code == "cancelled_is_start"

    def test_a_cancelled_state_no_booking_reaches_is_refused_by_settings(self) -> None:
        lifecycle = Lifecycle(
            "odd",
            ("open", "done", "void"),
            "open",
            {"open": {"done"}},
            terminal={"done", "void"},
            cancelled="void",
        )
        with pytest.raises(ValidationError) as caught:
            Settings(lifecycles={**PRESETS, "odd": lifecycle})
        assert [(e.field, e.code) for e in caught.value.errors] == [
            ("lifecycles.odd.states", "unreachable")
        ]
        assert "'void'" in caught.value.errors[0].message

    def test_a_cancelled_state_need_not_be_terminal(self) -> None:
        """Appointments reactivate a cancelled booking (CANCELLED -> PENDING)."""
        assert APPOINTMENT.cancelled is not None
        assert not APPOINTMENT.is_terminal(APPOINTMENT.cancelled)
        for preset in PRESETS.values():
            assert preset.cancelled is not None
            assert not preset.holds_capacity(preset.cancelled)

    def test_every_fatal_problem_is_reported_at_once(self) -> None:
        with pytest.raises(ValidationError) as caught:
            Lifecycle("bad", ("a", "b"), "x", {"a": {"y"}}, holding={"z"})
        assert set(caught.value.fields) == {
            "lifecycle.initial",
            "lifecycle.transitions.a",
            "lifecycle.holding",
        }

    def test_a_valid_custom_lifecycle_is_accepted(self) -> None:
        custom = Lifecycle(
            "rental",
            ("open", "out", "returned"),
            "open",
            {"open": {"out"}, "out": {"returned"}},
            terminal={"returned"},
            holding={"open", "out"},
        )
        assert custom.allows("open", "out")
        assert not custom.allows("open", "returned")


class TestMoves:
    def test_check_move_allows_a_listed_move(self) -> None:
        APPOINTMENT.check_move("PENDING", "ASSIGNED")  # must not raise
        assert APPOINTMENT.allows("PENDING", "ASSIGNED")

    def test_check_move_refuses_an_unlisted_move_naming_both_states(self) -> None:
        with pytest.raises(InvalidTransitionError) as caught:
            APPOINTMENT.check_move("COMPLETED", "PENDING")
        assert caught.value.from_state == "COMPLETED"
        assert caught.value.to_state == "PENDING"
        assert caught.value.lifecycle == "appointment"
        assert "'COMPLETED'" in str(caught.value)
        assert "'PENDING'" in str(caught.value)

    def test_a_state_without_transitions_has_no_targets(self) -> None:
        assert TRAVEL.targets("refunded") == frozenset()
        assert TRAVEL.targets("no_such_state") == frozenset()

    def test_resolve_matches_case_insensitively(self) -> None:
        assert APPOINTMENT.resolve("in_progress") == "IN_PROGRESS"
        assert TRAVEL.resolve("  Payment_Pending ") == "payment_pending"

    def test_resolve_refuses_an_unknown_name_on_the_given_field(self) -> None:
        with pytest.raises(ValidationError) as caught:
            RESERVATION.resolve("shipped", field="target")
        assert caught.value.fields == ("target",)
        assert caught.value.errors[0].code == "invalid_choice"

    def test_is_active_is_false_for_terminal_and_cancelled_states(self) -> None:
        assert RESERVATION.is_active("pending")
        assert RESERVATION.is_active("confirmed")
        assert not RESERVATION.is_active("completed")
        assert not RESERVATION.is_active("cancelled")
        assert APPOINTMENT.is_active("NO_SHOW")
        assert not APPOINTMENT.is_active("CANCELLED")
        assert TRAVEL.is_active("completed")
        assert not TRAVEL.is_active("refunded")

    def test_only_money_moves_a_travel_booking_to_paid_or_refunded(self) -> None:
        assert TRAVEL.money_states == {"payment_confirmed", "refunded"}
        for state in ("payment_confirmed", "refunded"):
            with pytest.raises(ValidationError) as caught:
                TRAVEL.check_by_hand(state)
            assert caught.value.fields == ("status",)
            assert caught.value.errors[0].code == "money_state"
        for state in ("payment_pending", "cancelled", "supplier_confirmed"):
            TRAVEL.check_by_hand(state)

    def test_a_travel_booking_is_past_payment_confirmed_only_after_a_payment(self) -> None:
        assert TRAVEL.reached_by_hand == {
            "lead_created", "quotation_sent", "quotation_approved", "booking_created",
            "payment_pending", "cancelled",
        }  # fmt: skip
        for state, code in [
            ("payment_confirmed", "money_state"),
            ("refunded", "money_state"),
            ("supplier_confirmed", "after_money_state"),
            ("documents_generated", "after_money_state"),
            ("completed", "after_money_state"),
        ]:
            with pytest.raises(ValidationError) as caught:
                TRAVEL.check_reached_by_hand(state, field="row.status")
            assert caught.value.fields == ("row.status",)
            assert caught.value.errors[0].code == code
        for state in sorted(TRAVEL.reached_by_hand):
            TRAVEL.check_reached_by_hand(state)

    def test_every_state_of_a_lifecycle_without_money_states_is_reached_by_hand(self) -> None:
        assert RESERVATION.reached_by_hand == set(RESERVATION.states)
        assert APPOINTMENT.reached_by_hand == set(APPOINTMENT.states)

    def test_reservations_and_appointments_have_no_money_states(self) -> None:
        # A reservation is confirmed at the desk too (paid on arrival, free treks).
        assert RESERVATION.money_states == APPOINTMENT.money_states == frozenset()
        RESERVATION.check_by_hand("confirmed")

    def test_is_terminal(self) -> None:
        assert TRAVEL.is_terminal("refunded")
        assert not TRAVEL.is_terminal("completed")


@pytest.mark.parametrize("name", sorted(PRESETS))
def test_a_lifecycle_pickles_to_an_equal_working_copy(name: str) -> None:
    import pickle  # noqa: PLC0415

    original = PRESETS[name]
    copy = pickle.loads(pickle.dumps(original))
    assert (copy.name, copy.states, copy.initial, copy.cancelled) == (
        original.name,
        original.states,
        original.initial,
        original.cancelled,
    )
    assert dict(copy.transitions) == dict(original.transitions)
    assert (copy.terminal, copy.holding, copy.entry, copy.money_states) == (
        original.terminal,
        original.holding,
        original.entry,
        original.money_states,
    )
    for state in original.states:
        assert copy.targets(state) == original.targets(state)
