"""Lifecycles: named, data-driven state machines that bookings follow.

A :class:`Lifecycle` lists its states, the initial one, the allowed moves, the
terminal states, the states that hold seats, which state "cancel" means, and
the states only money moves a booking into (``money_states``).
Three presets ship, one per kind of business:

* :data:`RESERVATION` for treks, courses and dives,
* :data:`APPOINTMENT` for dealer appointments (a dealership system's ``ALLOWED_TRANSITIONS``),
* :data:`TRAVEL` for a travel agency's operating system (``lead_created`` to ``refunded``).

Users build their own with the same type. Construction refuses definitions that
name unknown states or give a terminal state a way out.

.. versionadded:: 0.1
"""

from __future__ import annotations

import enum
import functools
import re
from collections import deque
from collections.abc import Iterable, Mapping
from datetime import datetime
from types import MappingProxyType
from typing import Any
from uuid import UUID

import attrs

from bookingcore.domain.values import Actor, BookingId
from bookingcore.errors import FieldError, InvalidTransitionError, ValidationError

__all__ = [
    "APPOINTMENT",
    "PRESETS",
    "RESERVATION",
    "TRAVEL",
    "Lifecycle",
    "LifecycleEvent",
    "LifecycleProblem",
    "ProblemKind",
    "check",
    "replay",
]


class ProblemKind(enum.StrEnum):
    """What :func:`check` found wrong with a lifecycle definition.

    All but the last two make a definition unusable and :class:`Lifecycle`
    refuses them; ``unreachable`` and ``dead_end`` are legal but almost always
    a mistake, and :class:`~bookingcore.Settings` refuses a lifecycle that has
    them. The ``cancelled_*`` kinds are about the ``cancelled`` state, the one
    :meth:`~bookingcore.services.BookingService.cancel` moves to: it must give
    the seats back (``cancelled_holds_seats``), be a state a move by hand may
    reach (``cancelled_money_state``), and not be where a booking starts
    (``cancelled_is_start``). It need not be terminal: appointments reactivate
    a cancelled booking.

    .. versionadded:: 0.1
    .. versionchanged:: 0.4 ``cancelled_holds_seats``, ``cancelled_money_state``
       and ``cancelled_is_start``.
    """

    DUPLICATE_STATE = "duplicate_state"
    UNKNOWN_STATE = "unknown_state"
    TERMINAL_EXIT = "terminal_exit"
    CANCELLED_HOLDS_SEATS = "cancelled_holds_seats"
    CANCELLED_MONEY_STATE = "cancelled_money_state"
    CANCELLED_IS_START = "cancelled_is_start"
    UNREACHABLE = "unreachable"
    DEAD_END = "dead_end"


#: Problems that make a definition impossible to build.
_FATAL = frozenset(
    {
        ProblemKind.DUPLICATE_STATE,
        ProblemKind.UNKNOWN_STATE,
        ProblemKind.TERMINAL_EXIT,
        ProblemKind.CANCELLED_HOLDS_SEATS,
        ProblemKind.CANCELLED_MONEY_STATE,
        ProblemKind.CANCELLED_IS_START,
    }
)


@attrs.frozen
class LifecycleProblem:
    """One finding of :func:`check`: its kind, the state it concerns and where it was named.

    ``where`` is the part of the definition that names the state
    (``states``, ``initial``, ``transitions.pending``, ...).

    .. versionadded:: 0.1
    """

    kind: ProblemKind
    state: str
    where: str
    message: str

    def as_field_error(self, prefix: str = "lifecycle") -> FieldError:
        """This problem as a :class:`~bookingcore.errors.FieldError` on ``prefix.where``."""
        return FieldError(f"{prefix}.{self.where}", self.message, self.kind.value)


def _names(values: Iterable[str]) -> frozenset[str]:
    return frozenset(values)


def _ordered(values: Iterable[str]) -> tuple[str, ...]:
    return tuple(values)


def _freeze(table: Mapping[str, Iterable[str]]) -> Mapping[str, frozenset[str]]:
    return MappingProxyType({state: frozenset(targets) for state, targets in table.items()})


def _analyse(
    *,
    states: tuple[str, ...],
    initial: str,
    entry: frozenset[str],
    transitions: Mapping[str, frozenset[str]],
    terminal: frozenset[str],
    holding: frozenset[str],
    cancelled: str | None,
    money_states: frozenset[str] = frozenset(),
) -> list[LifecycleProblem]:
    """Every problem of a definition, fatal ones first, in a stable order."""
    problems: list[LifecycleProblem] = []
    known = set(states)
    seen: set[str] = set()
    for state in states:
        if state in seen:
            problems.append(
                LifecycleProblem(
                    ProblemKind.DUPLICATE_STATE, state, "states", f"state {state!r} is listed twice"
                )
            )
        seen.add(state)
    named: list[tuple[str, str]] = [("initial", initial)]
    named += [("entry", s) for s in sorted(entry)]
    named += [("terminal", s) for s in sorted(terminal)]
    named += [("holding", s) for s in sorted(holding)]
    named += [("money_states", s) for s in sorted(money_states)]
    if cancelled is not None:
        named.append(("cancelled", cancelled))
    for source in transitions:
        named.append(("transitions", source))
        named += [(f"transitions.{source}", target) for target in sorted(transitions[source])]
    reported: set[tuple[str, str]] = set()
    for where, state in named:
        if state not in known and (where, state) not in reported:
            reported.add((where, state))
            problems.append(
                LifecycleProblem(
                    ProblemKind.UNKNOWN_STATE,
                    state,
                    where,
                    f"{where} names {state!r}, which is not one of the states",
                )
            )
    for state in sorted(terminal):
        if transitions.get(state):
            targets = ", ".join(sorted(transitions[state]))
            problems.append(
                LifecycleProblem(
                    ProblemKind.TERMINAL_EXIT,
                    state,
                    f"transitions.{state}",
                    f"terminal state {state!r} has outgoing transitions (to {targets})",
                )
            )
    if cancelled is not None:
        problems += _cancelled_problems(cancelled, initial, entry, holding, money_states)
    if any(p.kind in _FATAL for p in problems):
        return problems
    reachable = _reachable({initial, *entry}, transitions)
    for state in states:
        if state not in reachable:
            problems.append(
                LifecycleProblem(
                    ProblemKind.UNREACHABLE,
                    state,
                    "states",
                    f"state {state!r} cannot be reached from the initial or entry states",
                )
            )
        elif state not in terminal and not transitions.get(state):
            problems.append(
                LifecycleProblem(
                    ProblemKind.DEAD_END,
                    state,
                    f"transitions.{state}",
                    f"state {state!r} is not terminal but has no way out",
                )
            )
    return problems


def _cancelled_problems(
    cancelled: str,
    initial: str,
    entry: frozenset[str],
    holding: frozenset[str],
    money_states: frozenset[str],
) -> list[LifecycleProblem]:
    """What makes ``cancelled`` unusable as the state ``cancel`` moves to."""
    problems: list[LifecycleProblem] = []
    if cancelled in holding:
        problems.append(
            LifecycleProblem(
                ProblemKind.CANCELLED_HOLDS_SEATS,
                cancelled,
                "holding",
                f"the cancelled state {cancelled!r} holds seats: cancelling would keep "
                "them from everyone else; take it out of holding",
            )
        )
    if cancelled in money_states:
        problems.append(
            LifecycleProblem(
                ProblemKind.CANCELLED_MONEY_STATE,
                cancelled,
                "money_states",
                f"the cancelled state {cancelled!r} is a money state: only a payment "
                "may move a booking there, so cancelling could never work",
            )
        )
    starts = [("initial", initial)] if cancelled == initial else []
    starts += [("entry", cancelled)] if cancelled in entry else []
    problems += [
        LifecycleProblem(
            ProblemKind.CANCELLED_IS_START,
            cancelled,
            where,
            f"the cancelled state {cancelled!r} is a state bookings start in ({where}): "
            "a new booking would start cancelled",
        )
        for where, _ in starts
    ]
    return problems


def _reachable(starts: Iterable[str], transitions: Mapping[str, Iterable[str]]) -> set[str]:
    found = set(starts)
    todo = deque(found)
    while todo:
        for target in transitions.get(todo.popleft(), ()):
            if target not in found:
                found.add(target)
                todo.append(target)
    return found


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
        entry: other states a booking may be created in (``WAITLISTED`` for
            appointments); they count as starting points when checking reachability.
        money_states: states that follow from money alone (``payment_confirmed``
            and ``refunded`` for travel): only the payment service moves a booking
            into them, when captures or refunds settle; :meth:`check_by_hand`
            refuses a move into them by anyone else, staff included.

    Raises:
        ValidationError: one field error per problem (``lifecycle.<part>``, code
            the :class:`ProblemKind`, message naming the state) when the
            definition lists a state twice, names an unknown state, gives a
            terminal state a way out, or makes ``cancelled`` a state that holds
            seats, a money state, or the initial or an entry state.
            Unreachable states and dead ends are reported by :func:`check`, not
            here (and :class:`~bookingcore.Settings` refuses them).

    .. versionadded:: 0.1
    .. versionchanged:: 0.4 the ``cancelled`` state is checked.
    """

    name: str
    states: tuple[str, ...] = attrs.field(converter=_ordered)
    initial: str
    transitions: Mapping[str, frozenset[str]] = attrs.field(converter=_freeze)
    terminal: frozenset[str] = attrs.field(converter=_names, factory=frozenset)
    holding: frozenset[str] = attrs.field(converter=_names, factory=frozenset)
    cancelled: str | None = None
    entry: frozenset[str] = attrs.field(converter=_names, factory=frozenset)
    money_states: frozenset[str] = attrs.field(converter=_names, factory=frozenset)

    def __attrs_post_init__(self) -> None:
        fatal = [p for p in self._problems() if p.kind in _FATAL]
        if fatal:
            raise ValidationError(
                [p.as_field_error() for p in fatal],
                f"lifecycle {self.name!r} is not a valid definition",
            )

    def __reduce__(self) -> tuple[Any, tuple[Any, ...]]:
        # The read-only transitions table does not pickle; rebuild from plain parts
        # (a lifecycle travels to the worker processes of a parallel import).
        return (
            Lifecycle,
            (
                self.name,
                self.states,
                self.initial,
                {state: set(targets) for state, targets in self.transitions.items()},
                self.terminal,
                self.holding,
                self.cancelled,
                self.entry,
                self.money_states,
            ),
        )

    def _problems(self) -> list[LifecycleProblem]:
        return _analyse(
            states=self.states,
            initial=self.initial,
            entry=self.entry,
            transitions=self.transitions,
            terminal=self.terminal,
            holding=self.holding,
            cancelled=self.cancelled,
            money_states=self.money_states,
        )

    # ------------------------------------------------------------------ questions

    @property
    def starts(self) -> frozenset[str]:
        """The states a booking may be created in: ``initial`` and the ``entry`` states."""
        return frozenset({self.initial, *self.entry})

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

    def check_by_hand(self, to_state: str, *, field: str = "status") -> None:
        """Raise when a move into ``to_state`` may only follow from money.

        Every move that is not the payment service settling money (a staff
        transition, a use case's move, an import) calls this before moving.

        Raises:
            ValidationError: on ``field`` (code ``money_state``) when ``to_state``
                is one of :attr:`money_states`.

        .. versionadded:: 0.4
        """
        if to_state in self.money_states:
            msg = (
                f"{to_state!r} follows from money: the payment service moves a "
                f"{self.name} booking there when captures or refunds settle; "
                "record or refund the payment instead"
            )
            raise ValidationError.single(field, msg, "money_state")

    @functools.cached_property
    def reached_by_hand(self) -> frozenset[str]:
        """The states a booking reaches from where it starts without money moving it:
        by moves into states that are not :attr:`money_states`.

        Every state of a lifecycle without money states; for :data:`TRAVEL`, the
        states before ``payment_confirmed`` and ``cancelled``. A state outside it
        is one a booking is in only after a payment (``supplier_confirmed``,
        ``completed``) or a refund.

        .. versionadded:: 0.4
        """
        manual = {
            state: frozenset(targets - self.money_states)
            for state, targets in self.transitions.items()
        }
        return frozenset(_reachable(self.starts - self.money_states, manual))

    def check_reached_by_hand(self, state: str, *, field: str = "status") -> None:
        """Raise unless a booking may be *in* ``state`` without money having moved it.

        For what records a booking made elsewhere directly in ``state`` (an
        import): a money state is refused as :meth:`check_by_hand` refuses it,
        and so is a state the lifecycle reaches only through one.

        Raises:
            ValidationError: on ``field``: code ``money_state`` when ``state`` is
                one of :attr:`money_states`, ``after_money_state`` when it is not
                in :attr:`reached_by_hand`.

        .. versionadded:: 0.4
        """
        self.check_by_hand(state, field=field)
        if state in self.reached_by_hand:
            return
        money = ", ".join(sorted(self.money_states))
        msg = (
            f"a {self.name} booking is {state!r} only after money moved it ({money}); "
            "create it in an earlier state and record its payment"
        )
        raise ValidationError.single(field, msg, "after_money_state")

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

    # ------------------------------------------------------------------ data and drawings

    def to_dict(self) -> dict[str, Any]:
        """The definition as plain JSON-ready data; :meth:`from_dict` reads it back."""
        return {
            "name": self.name,
            "states": list(self.states),
            "initial": self.initial,
            "entry": sorted(self.entry),
            "transitions": {
                state: sorted(targets) for state, targets in self.transitions.items() if targets
            },
            "terminal": sorted(self.terminal),
            "holding": sorted(self.holding),
            "cancelled": self.cancelled,
            "money_states": sorted(self.money_states),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Lifecycle:
        """Build a lifecycle from configuration data (JSON, YAML, TOML).

        Raises:
            ValidationError: a missing or mistyped part, or a fatal problem of the
                definition, each on its own field.
        """
        return cls(**_read_definition(data))

    def to_mermaid(self) -> str:
        """A Mermaid ``stateDiagram-v2`` of this lifecycle.

        Seat-holding states are drawn bold; ``[*]`` marks where bookings start
        and which states end the lifecycle; a move into a money state is
        labelled ``payment`` (only the payment service makes it).
        """
        ids = _diagram_ids(self.states)
        lines = ["stateDiagram-v2", f"    %% lifecycle: {self.name}"]
        lines += [
            f'    state "{_mermaid_label(state)}" as {ids[state]}'
            for state in self.states
            if ids[state] != state
        ]
        lines += [f"    [*] --> {ids[state]}" for state in self._ordered(self.starts)]
        for state in self.states:
            lines += [
                f"    {ids[state]} --> {ids[target]}{self._mermaid_edge(target)}"
                for target in self._ordered(self.targets(state))
            ]
        lines += [f"    {ids[state]} --> [*]" for state in self._ordered(self.terminal)]
        if self.holding:
            lines.append("    classDef holding font-weight:bold")
            held = ",".join(ids[state] for state in self._ordered(self.holding))
            lines.append(f"    class {held} holding")
        return "\n".join(lines) + "\n"

    def to_dot(self) -> str:
        """A Graphviz ``digraph`` of this lifecycle.

        Terminal states get a double border, seat-holding states are filled,
        a move into a money state is a dashed edge labelled ``payment``.
        """
        start = _dot_quote(_start_node(self.states))
        lines = [
            f"digraph {_dot_quote(self.name)} {{",
            "    rankdir=LR;",
            '    node [shape=box, style="rounded"];',
            f'    {start} [shape=point, label=""];',
        ]
        for state in self.states:
            attributes = []
            if state in self.terminal:
                attributes.append("peripheries=2")
            if state in self.holding:
                attributes.append('style="rounded,filled", fillcolor="#e8f0fe"')
            suffix = f" [{', '.join(attributes)}]" if attributes else ""
            lines.append(f"    {_dot_quote(state)}{suffix};")
        lines += [f"    {start} -> {_dot_quote(state)};" for state in self._ordered(self.starts)]
        for state in self.states:
            lines += [
                f"    {_dot_quote(state)} -> {_dot_quote(target)}{self._dot_edge(target)};"
                for target in self._ordered(self.targets(state))
            ]
        lines.append("}")
        return "\n".join(lines) + "\n"

    def _mermaid_edge(self, target: str) -> str:
        return f" : {_MONEY_LABEL}" if target in self.money_states else ""

    def _dot_edge(self, target: str) -> str:
        if target not in self.money_states:
            return ""
        return f' [label="{_MONEY_LABEL}", style=dashed]'

    def _ordered(self, states: Iterable[str]) -> list[str]:
        wanted = set(states)
        return [state for state in self.states if state in wanted]

    def __repr__(self) -> str:
        return f"Lifecycle({self.name!r}, {len(self.states)} states)"


#: How a drawing labels a move only the payment service makes.
_MONEY_LABEL = "payment"

_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def _diagram_ids(states: Iterable[str]) -> dict[str, str]:
    """Mermaid ids: the state itself when it is an identifier, else ``s<position>``
    (with underscores added if a state already has that name)."""
    ordered = list(states)
    taken = set(ordered)
    ids: dict[str, str] = {}
    for index, state in enumerate(ordered):
        if _IDENTIFIER.match(state):
            ids[state] = state
            continue
        alias = f"s{index}"
        while alias in taken:
            alias += "_"
        ids[state] = alias
        taken.add(alias)
    return ids


def _mermaid_label(state: str) -> str:
    """A state name inside a Mermaid label: quotes as the ``#quot;`` entity."""
    return state.replace('"', "#quot;")


def _start_node(states: Iterable[str]) -> str:
    """A DOT node name for the start marker that no state has."""
    taken = set(states)
    name = "__start__"
    while name in taken:
        name = f"_{name}_"
    return name


def _dot_quote(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace('"', '\\"')
    return f'"{escaped}"'


def _read_definition(data: Mapping[str, Any]) -> dict[str, Any]:
    """The keyword arguments of :class:`Lifecycle` from plain data, every type checked."""
    errors: list[FieldError] = []

    def text(key: str, *, optional: bool = False) -> str | None:
        value = data.get(key)
        if value is None and optional:
            return None
        if not isinstance(value, str) or not value.strip():
            errors.append(
                FieldError(f"lifecycle.{key}", "must be a non-empty string", "invalid_type")
            )
            return None
        return value

    def names(key: str) -> list[str]:
        value = data.get(key, [])
        if isinstance(value, str) or not isinstance(value, Iterable):
            errors.append(
                FieldError(f"lifecycle.{key}", "must be a list of state names", "invalid_type")
            )
            return []
        items = list(value)
        if not all(isinstance(item, str) for item in items):
            errors.append(FieldError(f"lifecycle.{key}", "must hold only strings", "invalid_type"))
            return []
        return items

    name, initial = text("name"), text("initial")
    cancelled = text("cancelled", optional=True)
    states = names("states")
    if not states:
        errors.append(FieldError("lifecycle.states", "a lifecycle needs states", "required"))
    table: dict[str, list[str]] = {}
    raw_table = data.get("transitions", {})
    if not isinstance(raw_table, Mapping):
        errors.append(
            FieldError("lifecycle.transitions", "must map a state to its targets", "invalid_type")
        )
    else:
        for source, targets in raw_table.items():
            if isinstance(targets, str) or not isinstance(targets, Iterable):
                errors.append(
                    FieldError(f"lifecycle.transitions.{source}", "must be a list", "invalid_type")
                )
                continue
            table[str(source)] = [str(t) for t in targets]
    terminal, holding, entry = names("terminal"), names("holding"), names("entry")
    money_states = names("money_states")
    unknown = sorted(set(data) - {f.name for f in attrs.fields(Lifecycle)})
    errors += [
        FieldError(f"lifecycle.{key}", "is not part of a lifecycle", "unknown_field")
        for key in unknown
    ]
    if errors:
        raise ValidationError(errors, "the lifecycle definition is malformed")
    return {
        "name": name,
        "states": states,
        "initial": initial,
        "transitions": table,
        "terminal": terminal,
        "holding": holding,
        "cancelled": cancelled,
        "entry": entry,
        "money_states": money_states,
    }


def check(definition: Lifecycle | Mapping[str, Any]) -> tuple[LifecycleProblem, ...]:
    """Find what is wrong with a lifecycle before bookings follow it.

    Reports states listed twice, names that are not states, terminal states
    with a way out, states no booking can reach from ``initial`` or ``entry``,
    and non-terminal states with no way out (dead ends). Pass a built
    :class:`Lifecycle` or the plain data you would give :meth:`Lifecycle.from_dict`;
    only plain data can still hold the fatal problems. An empty tuple means the
    definition is sound.

    Raises:
        ValidationError: plain data that is malformed (not the right types).
    """
    if isinstance(definition, Lifecycle):
        return tuple(definition._problems())
    parts = _read_definition(definition)
    return tuple(
        _analyse(
            states=tuple(parts["states"]),
            initial=parts["initial"],
            entry=frozenset(parts["entry"]),
            transitions=_freeze(parts["transitions"]),
            terminal=frozenset(parts["terminal"]),
            holding=frozenset(parts["holding"]),
            cancelled=parts["cancelled"],
            money_states=frozenset(parts["money_states"]),
        )
    )


def _plain_dict(value: Mapping[str, str] | None) -> Mapping[str, str]:
    return dict(value or {})


@attrs.frozen
class LifecycleEvent:
    """One accepted move of a booking, as written to its history.

    The first event of a booking has ``from_status=None`` (its creation), so
    :func:`replay` of the whole history gives the current status.
    ``booking_version`` is the booking's version after the move: it orders a
    booking's events and is unique per booking.

    .. versionadded:: 0.1
    """

    id: UUID
    booking_id: BookingId
    booking_version: int
    lifecycle: str
    from_status: str | None
    to_status: str
    actor: Actor
    occurred_at: datetime
    note: str | None = None
    idempotency_key: str | None = None
    request_fingerprint: str | None = None
    metadata: Mapping[str, str] = attrs.field(factory=dict, converter=_plain_dict)

    def erase(self, placeholder: str, *, keep: Iterable[str] = ()) -> bool:
        """Replace the note and the metadata values (but those of ``keep``) with
        ``placeholder``, in place (GDPR).

        The one change a history entry ever takes, as
        :meth:`~bookingcore.domain.audit.AuditEntry.redact`: the move, its time
        and actor stay. Returns whether anything changed; the unit of work that
        read the event stores the change on commit.

        .. versionadded:: 0.3
        """
        kept = frozenset(keep)
        note = placeholder if self.note else self.note
        metadata = {k: v if k in kept or not v else placeholder for k, v in self.metadata.items()}
        if note == self.note and metadata == dict(self.metadata):
            return False
        object.__setattr__(self, "note", note)  # frozen: see the docstring
        object.__setattr__(self, "metadata", _plain_dict(metadata))
        return True


def replay(lifecycle: Lifecycle, events: Iterable[LifecycleEvent]) -> str:
    """Run a booking's history through ``lifecycle`` and return the status it ends in.

    Raises:
        InvalidTransitionError: the history holds a move the lifecycle does not allow.
        ValidationError: the history is empty, does not start with a creation in a
            start state, or an event's ``from_status`` is not the status before it.
    """
    status: str | None = None
    for index, event in enumerate(events):
        if index == 0:
            if event.from_status is not None or event.to_status not in lifecycle.starts:
                msg = f"history must start with the creation in one of {sorted(lifecycle.starts)}"
                raise ValidationError.single("events[0]", msg, "broken_history")
        elif status is None or event.from_status != status:
            msg = f"moves from {event.from_status!r} but the booking was {status!r}"
            raise ValidationError.single(f"events[{index}]", msg, "broken_history")
        else:
            lifecycle.check_move(status, event.to_status)
        status = event.to_status
    if status is None:
        raise ValidationError.single("events", "a booking's history is never empty", "required")
    return status


#: Seats on a dated slot (treks, courses, dives): pending, confirmed, then completed,
#: cancelled or a no-show.
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

#: A car dealer's appointments: pending, assigned to an advisor, in progress,
#: completed; a waitlisted entry status, and cancelled bookings may be reactivated.
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
    entry={"WAITLISTED"},
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

#: A travel agency's booking, from the lead through quotation, payment and
#: supplier confirmation to completion, cancellation or refund. ``payment_confirmed``
#: and ``refunded`` follow from money: only the payment service moves a booking there.
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
    money_states={"payment_confirmed", "refunded"},
)

#: The shipped lifecycles by name.
PRESETS: Mapping[str, Lifecycle] = MappingProxyType(
    {lc.name: lc for lc in (RESERVATION, APPOINTMENT, TRAVEL)}
)
