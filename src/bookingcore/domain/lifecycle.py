"""Lifecycles: named, data-driven state machines that bookings follow.

A :class:`Lifecycle` lists its states, the initial one, the allowed moves, the
terminal states, the states that hold seats, and which state "cancel" means.
Three presets ship, taken from the seeds:

* :data:`RESERVATION` for treks, courses and dives,
* :data:`APPOINTMENT` for dealer appointments (seed 004's ``ALLOWED_TRANSITIONS``),
* :data:`TRAVEL` for the travel operating system (seed 003, ``lead_created`` to ``refunded``).

Users build their own with the same type. Construction refuses definitions that
name unknown states or give a terminal state a way out.

.. versionadded:: 0.1
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from types import MappingProxyType

import attrs

from bookingcore.errors import InvalidTransitionError, ValidationError

__all__ = ["APPOINTMENT", "PRESETS", "RESERVATION", "TRAVEL", "Lifecycle"]


def _names(values: Iterable[str]) -> frozenset[str]:
    return frozenset(values)


def _ordered(values: Iterable[str]) -> tuple[str, ...]:
    return tuple(values)


def _freeze(table: Mapping[str, Iterable[str]]) -> Mapping[str, frozenset[str]]:
    return MappingProxyType({state: frozenset(targets) for state, targets in table.items()})


@attrs.frozen(eq=False)
class Lifecycle:
    """An immutable state machine definition.

    Args:
        name: how bookings refer to this lifecycle (stored on each booking).
        states: every state, in display order.
        initial: the state a new booking starts in.
        transitions: ``{state: targets}``; a state missing from it has no way out.
        terminal: states that end the lifecycle; they may have no outgoing moves.
        holding: states whose bookings hold seats on their slot.
        cancelled: the state :meth:`~bookingcore.services.BookingService.cancel` moves to.

    Raises:
        ValidationError: on field ``lifecycle`` when the definition names an unknown
            state or a terminal state has outgoing transitions.

    .. versionadded:: 0.1
    """

    name: str
    states: tuple[str, ...] = attrs.field(converter=_ordered)
    initial: str
    transitions: Mapping[str, frozenset[str]] = attrs.field(converter=_freeze)
    terminal: frozenset[str] = attrs.field(converter=_names, factory=frozenset)
    holding: frozenset[str] = attrs.field(converter=_names, factory=frozenset)
    cancelled: str | None = None

    def __attrs_post_init__(self) -> None:
        known = set(self.states)
        problems: list[str] = []
        if len(known) != len(self.states):
            problems.append("a state is listed twice")
        named = {self.initial, *self.terminal, *self.holding, *self.transitions}
        if self.cancelled is not None:
            named.add(self.cancelled)
        for targets in self.transitions.values():
            named |= targets
        problems.extend(f"unknown state {s!r}" for s in sorted(named - known))
        problems.extend(
            f"terminal state {s!r} has outgoing transitions"
            for s in sorted(self.terminal)
            if self.transitions.get(s)
        )
        if problems:
            raise ValidationError.single(
                "lifecycle", f"{self.name}: " + "; ".join(problems), "invalid_lifecycle"
            )

    def targets(self, state: str) -> frozenset[str]:
        """The states ``state`` may move to."""
        return self.transitions.get(state, frozenset())

    def allows(self, from_state: str, to_state: str) -> bool:
        """True when the table has the move ``from_state -> to_state``."""
        return to_state in self.targets(from_state)

    def check_move(self, from_state: str, to_state: str) -> None:
        """Raise unless the move is allowed.

        Raises:
            InvalidTransitionError: naming both states.
        """
        if not self.allows(from_state, to_state):
            raise InvalidTransitionError(self.name, from_state, to_state)

    def holds_capacity(self, state: str) -> bool:
        """True when a booking in ``state`` keeps its seats."""
        return state in self.holding

    def is_active(self, state: str) -> bool:
        """True while a booking in ``state`` is still under way (not ended, not cancelled)."""
        return state not in self.terminal and state != self.cancelled

    def is_terminal(self, state: str) -> bool:
        """True when ``state`` ends the lifecycle."""
        return state in self.terminal

    def resolve(self, name: str, *, field: str = "status") -> str:
        """Return the state called ``name``, matched case-insensitively.

        Raises:
            ValidationError: no state has that name.
        """
        wanted = name.strip().casefold()
        for state in self.states:
            if state.casefold() == wanted:
                return state
        msg = f"{name!r} is not a state of the {self.name} lifecycle"
        raise ValidationError.single(field, msg, "invalid_choice")


RESERVATION = Lifecycle(
    name="reservation",
    states=("pending", "confirmed", "completed", "cancelled", "no_show"),
    initial="pending",
    transitions={
        "pending": {"confirmed", "cancelled"},
        "confirmed": {"completed", "cancelled", "no_show"},
    },
    terminal={"completed", "cancelled", "no_show"},
    holding={"pending", "confirmed", "completed", "no_show"},
    cancelled="cancelled",
)

APPOINTMENT = Lifecycle(
    name="appointment",
    states=(
        "PENDING",
        "ASSIGNED",
        "IN_PROGRESS",
        "COMPLETED",
        "CANCELLED",
        "NO_SHOW",
        "WAITLISTED",
        "RESCHEDULED",
    ),
    initial="PENDING",
    transitions={
        "PENDING": {"ASSIGNED", "CANCELLED"},
        "ASSIGNED": {"IN_PROGRESS", "CANCELLED", "NO_SHOW"},
        "IN_PROGRESS": {"COMPLETED", "RESCHEDULED", "CANCELLED"},
        "CANCELLED": {"PENDING"},
        "NO_SHOW": {"RESCHEDULED", "CANCELLED"},
        "WAITLISTED": {"PENDING", "CANCELLED"},
        "RESCHEDULED": {"PENDING", "ASSIGNED"},
    },
    terminal={"COMPLETED"},
    holding={"PENDING", "ASSIGNED", "IN_PROGRESS", "COMPLETED", "NO_SHOW"},
    cancelled="CANCELLED",
)

_CANCELLABLE_TRAVEL = (
    "lead_created",
    "quotation_sent",
    "quotation_approved",
    "booking_created",
    "payment_pending",
    "payment_confirmed",
    "supplier_confirmed",
    "documents_generated",
)

TRAVEL = Lifecycle(
    name="travel",
    states=(*_CANCELLABLE_TRAVEL, "completed", "cancelled", "refunded"),
    initial="lead_created",
    transitions={
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
    },
    terminal={"refunded"},
    holding={
        "booking_created",
        "payment_pending",
        "payment_confirmed",
        "supplier_confirmed",
        "documents_generated",
        "completed",
    },
    cancelled="cancelled",
)

#: The shipped lifecycles by name.
PRESETS: Mapping[str, Lifecycle] = MappingProxyType(
    {lc.name: lc for lc in (RESERVATION, APPOINTMENT, TRAVEL)}
)
