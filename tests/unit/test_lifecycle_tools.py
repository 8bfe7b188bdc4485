"""The lifecycle tools: check(), plain-data round trips, Mermaid and Graphviz drawings, replay()."""

from __future__ import annotations

import json
import re
from datetime import timedelta
from typing import Any
from uuid import uuid4

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from bookingcore import BookingId, InvalidTransitionError, Lifecycle, Settings, ValidationError
from bookingcore.domain import APPOINTMENT, PRESETS, RESERVATION, TRAVEL, Actor, LifecycleEvent
from bookingcore.domain.lifecycle import ProblemKind, check, replay
from bookingcore.testing import strategies as bst
from bookingcore.testing.builders import T0

# ---------------------------------------------------------------------- sound lifecycles


def _fresh_name(lifecycle: Lifecycle, stem: str) -> str:
    """A state name the lifecycle does not have yet."""
    taken = {state.casefold() for state in lifecycle.states}
    return next(f"{stem}{i}" for i in range(100) if f"{stem}{i}".casefold() not in taken)


def _table(lifecycle: Lifecycle) -> dict[str, set[str]]:
    return {state: set(lifecycle.targets(state)) for state in lifecycle.states}


def _moves(lifecycle: Lifecycle) -> set[tuple[str, str]]:
    return {(a, b) for a in lifecycle.states for b in lifecycle.targets(a)}


def _found(problems: tuple[Any, ...]) -> list[tuple[ProblemKind, str, str]]:
    return [(p.kind, p.state, p.where) for p in problems]


def _rebuilt(lifecycle: Lifecycle, **changes: Any) -> Lifecycle:
    parts: dict[str, Any] = {
        "name": lifecycle.name,
        "states": lifecycle.states,
        "initial": lifecycle.initial,
        "transitions": _table(lifecycle),
        "terminal": lifecycle.terminal,
        "holding": lifecycle.holding,
        "cancelled": lifecycle.cancelled,
        "entry": lifecycle.entry,
        "money_states": lifecycle.money_states,
    }
    return Lifecycle(**(parts | changes))


#: A small plain-data definition the example tests change one part of.
BASE: dict[str, Any] = {
    "name": "rental",
    "states": ["open", "out", "returned"],
    "initial": "open",
    "transitions": {"open": ["out"], "out": ["returned"]},
    "terminal": ["returned"],
    "holding": ["open", "out"],
    "cancelled": None,
    "entry": [],
    "money_states": [],
}


# ---------------------------------------------------------------------- checking definitions


class TestCheck:
    @pytest.mark.parametrize("lifecycle", [RESERVATION, APPOINTMENT, TRAVEL], ids=str)
    def test_the_presets_are_sound(self, lifecycle: Lifecycle) -> None:
        assert check(lifecycle) == ()
        assert check(lifecycle.to_dict()) == ()

    def test_the_example_definition_is_sound(self) -> None:
        assert check(BASE) == ()

    @given(bst.lifecycles())
    def test_generated_lifecycles_are_sound(self, lifecycle: Lifecycle) -> None:
        assert check(lifecycle) == ()
        assert check(lifecycle.to_dict()) == ()
        Settings(lifecycles={**PRESETS, lifecycle.name: lifecycle})  # accepted

    def test_an_unreachable_state_is_reported_on_states(self) -> None:
        lifecycle = Lifecycle(
            "rental",
            ("open", "out", "lost", "returned"),
            "open",
            {"open": {"out"}, "out": {"returned"}, "lost": {"returned"}},
            terminal={"returned"},
        )
        (problem,) = check(lifecycle)
        assert (problem.kind, problem.state, problem.where) == (
            ProblemKind.UNREACHABLE,
            "lost",
            "states",
        )
        assert "'lost'" in problem.message

    def test_a_state_reached_only_from_an_entry_state_is_reachable(self) -> None:
        lifecycle = Lifecycle(
            "queue",
            ("open", "waiting", "later", "done"),
            "open",
            {"open": {"done"}, "waiting": {"later"}, "later": {"done"}},
            terminal={"done"},
            entry={"waiting"},
        )
        assert check(lifecycle) == ()
        assert sorted(_found(check(_rebuilt(lifecycle, entry=())))) == [
            (ProblemKind.UNREACHABLE, "later", "states"),
            (ProblemKind.UNREACHABLE, "waiting", "states"),
        ]

    def test_a_dead_end_is_reported_on_its_transitions(self) -> None:
        lifecycle = Lifecycle(
            "rental",
            ("open", "out", "stuck", "returned"),
            "open",
            {"open": {"out", "stuck"}, "out": {"returned"}},
            terminal={"returned"},
        )
        (problem,) = check(lifecycle)
        assert (problem.kind, problem.state, problem.where) == (
            ProblemKind.DEAD_END,
            "stuck",
            "transitions.stuck",
        )
        assert problem.as_field_error().field == "lifecycle.transitions.stuck"
        assert problem.as_field_error().code == "dead_end"

    @given(bst.lifecycles(), st.booleans(), st.booleans(), st.data())
    def test_a_planted_unreachable_state_is_named(
        self, lifecycle: Lifecycle, terminal: bool, first: bool, data: st.DataObject
    ) -> None:
        new = _fresh_name(lifecycle, "island ")
        table = _table(lifecycle)
        if not terminal:
            # It has a way out, so the one thing wrong with it is that nobody gets there.
            table[new] = {data.draw(st.sampled_from(lifecycle.states))}
        states = (new, *lifecycle.states) if first else (*lifecycle.states, new)
        planted = _rebuilt(
            lifecycle,
            states=states,
            transitions=table,
            terminal={*lifecycle.terminal, *([new] if terminal else [])},
        )
        assert _found(check(planted)) == [(ProblemKind.UNREACHABLE, new, "states")]
        with pytest.raises(ValidationError) as refused:
            Settings(lifecycles={**PRESETS, planted.name: planted})
        assert refused.value.fields == (f"lifecycles.{planted.name}.states",)
        assert refused.value.errors[0].code == "unreachable"

    @given(bst.lifecycles(), st.booleans(), st.data())
    def test_a_planted_dead_end_is_named(
        self, lifecycle: Lifecycle, listed_empty: bool, data: st.DataObject
    ) -> None:
        new = _fresh_name(lifecycle, "stuck ")
        way_in = data.draw(
            st.sampled_from([s for s in lifecycle.states if not lifecycle.is_terminal(s)])
        )
        table = _table(lifecycle)
        table[way_in].add(new)
        if listed_empty:
            table[new] = set()  # listed with no targets is as much a dead end as not listed
        planted = _rebuilt(lifecycle, states=(*lifecycle.states, new), transitions=table)
        assert _found(check(planted)) == [(ProblemKind.DEAD_END, new, f"transitions.{new}")]
        assert check(planted.to_dict()) == check(planted)

    @given(bst.lifecycles(), st.data())
    def test_settings_refuses_a_dead_end_on_the_lifecycles_field(
        self, lifecycle: Lifecycle, data: st.DataObject
    ) -> None:
        new = _fresh_name(lifecycle, "stuck ")
        way_in = data.draw(
            st.sampled_from([s for s in lifecycle.states if not lifecycle.is_terminal(s)])
        )
        table = _table(lifecycle)
        table[way_in].add(new)
        planted = _rebuilt(lifecycle, states=(*lifecycle.states, new), transitions=table)
        with pytest.raises(ValidationError) as refused:
            Settings(lifecycles={**PRESETS, planted.name: planted})
        assert refused.value.fields == (f"lifecycles.{planted.name}.transitions.{new}",)
        assert refused.value.errors[0].code == "dead_end"

    def test_settings_refuses_a_dead_end_example(self) -> None:
        broken = Lifecycle(
            "rental", ("open", "out", "returned"), "open", {"open": {"out"}}, terminal={"returned"}
        )
        with pytest.raises(ValidationError) as refused:
            Settings(lifecycles={"rental": broken}, default_lifecycle="rental")
        assert set(refused.value.fields) == {
            "lifecycles.rental.transitions.out",  # dead end
            "lifecycles.rental.states",  # returned is unreachable
        }


class TestCheckPlainData:
    @pytest.mark.parametrize(
        ("changes", "where"),
        [
            ({"initial": "nowhere"}, "initial"),
            ({"entry": ["nowhere"]}, "entry"),
            ({"terminal": ["returned", "nowhere"]}, "terminal"),
            ({"holding": ["nowhere"]}, "holding"),
            ({"cancelled": "nowhere"}, "cancelled"),
            (
                {"transitions": {"open": ["out"], "out": ["returned"], "nowhere": ["out"]}},
                "transitions",
            ),
            (
                {"transitions": {"open": ["out", "nowhere"], "out": ["returned"]}},
                "transitions.open",
            ),
        ],
    )
    def test_an_unknown_name_is_reported_where_it_is_named(
        self, changes: dict[str, Any], where: str
    ) -> None:
        definition = BASE | changes
        (problem,) = check(definition)
        assert (problem.kind, problem.state, problem.where) == (
            ProblemKind.UNKNOWN_STATE,
            "nowhere",
            where,
        )
        assert "'nowhere'" in problem.message
        with pytest.raises(ValidationError) as refused:
            Lifecycle.from_dict(definition)
        assert refused.value.fields == (f"lifecycle.{where}",)
        assert refused.value.errors[0].code == "unknown_state"

    def test_every_unknown_name_is_reported_once_per_place(self) -> None:
        definition = BASE | {
            "initial": "x",
            "holding": ["x", "y"],
            "transitions": {"open": ["x", "out"], "out": ["returned"]},
        }
        assert sorted(_found(check(definition))) == [
            (ProblemKind.UNKNOWN_STATE, "x", "holding"),
            (ProblemKind.UNKNOWN_STATE, "x", "initial"),
            (ProblemKind.UNKNOWN_STATE, "x", "transitions.open"),
            (ProblemKind.UNKNOWN_STATE, "y", "holding"),
        ]

    def test_a_state_listed_twice_and_a_terminal_exit_are_reported(self) -> None:
        definition = BASE | {
            "states": ["open", "out", "returned", "out"],
            "transitions": {"open": ["out"], "out": ["returned"], "returned": ["open"]},
        }
        assert _found(check(definition)) == [
            (ProblemKind.DUPLICATE_STATE, "out", "states"),
            (ProblemKind.TERMINAL_EXIT, "returned", "transitions.returned"),
        ]

    @given(bst.lifecycles(), st.data())
    def test_a_planted_unknown_name_is_reported_with_its_place(
        self, lifecycle: Lifecycle, data: st.DataObject
    ) -> None:
        ghost = _fresh_name(lifecycle, "ghost ")
        definition = lifecycle.to_dict()
        place = data.draw(
            st.sampled_from(
                ["initial", "entry", "terminal", "holding", "cancelled", "source", "target"]
            )
        )
        sources = [s for s in lifecycle.states if not lifecycle.is_terminal(s)]
        if place in ("initial", "cancelled"):
            definition[place] = ghost
            where = place
        elif place == "source":
            definition["transitions"][ghost] = [lifecycle.initial]
            where = "transitions"
        elif place == "target":
            source = data.draw(st.sampled_from(sources))
            definition["transitions"][source] = [*lifecycle.targets(source), ghost]
            where = f"transitions.{source}"
        else:
            definition[place] = [*definition[place], ghost]
            where = place
        assert _found(check(definition)) == [(ProblemKind.UNKNOWN_STATE, ghost, where)]
        with pytest.raises(ValidationError) as refused:
            Lifecycle.from_dict(definition)
        assert refused.value.fields == (f"lifecycle.{where}",)

    def test_malformed_plain_data_is_refused_by_check(self) -> None:
        with pytest.raises(ValidationError) as refused:
            check(BASE | {"states": "open, out"})
        assert "lifecycle.states" in refused.value.fields


# ---------------------------------------------------------------------- plain data


def _same_definition(a: Lifecycle, b: Lifecycle) -> None:
    assert a.name == b.name
    assert a.states == b.states
    assert a.initial == b.initial
    assert _table(a) == _table(b)
    assert a.terminal == b.terminal
    assert a.holding == b.holding
    assert a.cancelled == b.cancelled
    assert a.entry == b.entry
    assert a.money_states == b.money_states
    assert a.starts == b.starts


class TestPlainData:
    @pytest.mark.parametrize("lifecycle", [RESERVATION, APPOINTMENT, TRAVEL], ids=str)
    def test_presets_round_trip(self, lifecycle: Lifecycle) -> None:
        _same_definition(Lifecycle.from_dict(lifecycle.to_dict()), lifecycle)

    @given(bst.lifecycles())
    def test_generated_lifecycles_round_trip_through_json(self, lifecycle: Lifecycle) -> None:
        data = json.loads(json.dumps(lifecycle.to_dict()))
        again = Lifecycle.from_dict(data)
        _same_definition(again, lifecycle)
        assert again.to_dict() == lifecycle.to_dict()

    def test_to_dict_writes_sorted_lists_and_leaves_out_empty_targets(self) -> None:
        data = APPOINTMENT.to_dict()
        assert data["states"] == list(APPOINTMENT.states)
        assert data["entry"] == ["WAITLISTED"]
        assert data["transitions"]["PENDING"] == ["ASSIGNED", "CANCELLED"]
        assert "COMPLETED" not in data["transitions"]
        assert data["terminal"] == ["COMPLETED"]
        assert data["cancelled"] == "CANCELLED"

    def test_missing_optional_parts_default_to_empty(self) -> None:
        minimal = {"name": "m", "states": ["a", "b"], "initial": "a", "transitions": {"a": ["b"]}}
        lifecycle = Lifecycle.from_dict(minimal)
        assert lifecycle.terminal == lifecycle.holding == lifecycle.entry == frozenset()
        assert lifecycle.cancelled is None
        assert lifecycle.allows("a", "b")

    @pytest.mark.parametrize(
        ("changes", "fields"),
        [
            ({"name": None}, {"lifecycle.name"}),
            ({"name": "   "}, {"lifecycle.name"}),
            ({"initial": 3}, {"lifecycle.initial"}),
            ({"cancelled": 5}, {"lifecycle.cancelled"}),
            ({"cancelled": ""}, {"lifecycle.cancelled"}),
            ({"states": "open, out"}, {"lifecycle.states"}),
            ({"states": []}, {"lifecycle.states"}),
            ({"states": ["open", 1]}, {"lifecycle.states"}),
            ({"transitions": ["open", "out"]}, {"lifecycle.transitions"}),
            ({"transitions": {"open": "out"}}, {"lifecycle.transitions.open"}),
            ({"transitions": {"open": 5}}, {"lifecycle.transitions.open"}),
            ({"colour": "blue"}, {"lifecycle.colour"}),
            ({"name": 1, "colour": "blue"}, {"lifecycle.name", "lifecycle.colour"}),
            ({"terminal": "returned"}, {"lifecycle.terminal"}),
            ({"holding": ["open", 2]}, {"lifecycle.holding"}),
            ({"entry": 7}, {"lifecycle.entry"}),
        ],
        # Sets are shown sorted: test ids must not depend on the hash seed.
        ids=lambda value: repr(sorted(value) if isinstance(value, set) else value)[:40],
    )
    def test_malformed_data_is_refused_on_the_part_at_fault(
        self, changes: dict[str, Any], fields: set[str]
    ) -> None:
        with pytest.raises(ValidationError) as refused:
            Lifecycle.from_dict(BASE | changes)
        assert set(refused.value.fields) == fields

    def test_a_missing_name_is_refused(self) -> None:
        data = {k: v for k, v in BASE.items() if k != "name"}
        with pytest.raises(ValidationError) as refused:
            Lifecycle.from_dict(data)
        assert refused.value.fields == ("lifecycle.name",)
        assert refused.value.errors[0].code == "invalid_type"

    def test_an_unknown_part_is_refused_with_its_own_code(self) -> None:
        with pytest.raises(ValidationError) as refused:
            Lifecycle.from_dict(BASE | {"colour": "blue"})
        assert refused.value.fields == ("lifecycle.colour",)
        assert refused.value.errors[0].code == "unknown_field"


# ---------------------------------------------------------------------- Mermaid

_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
#: A label is quoted; a quote inside it is written as Mermaid's ``#quot;`` entity.
_MERMAID_ALIAS = re.compile(r'state "([^"]*)" as (\w+)')
_MERMAID_ARROW = re.compile(r"(\S+) --> (\S+)(?P<paid> : payment)?")


def _read_mermaid(text: str) -> dict[str, Any]:
    """The states, starts, ends and moves a Mermaid diagram draws, by state name."""
    lines = [line.strip() for line in text.splitlines()]
    assert lines[0] == "stateDiagram-v2"
    aliases: dict[str, str] = {}
    arrows: list[tuple[str, str]] = []
    paid: list[str] = []
    for line in lines[1:]:
        if alias := _MERMAID_ALIAS.fullmatch(line):
            assert alias.group(2) not in aliases, f"alias {alias.group(2)} used twice"
            aliases[alias.group(2)] = alias.group(1).replace("#quot;", '"')
        elif arrow := _MERMAID_ARROW.fullmatch(line):
            arrows.append((arrow.group(1), arrow.group(2)))
            if arrow["paid"]:
                paid.append(arrow.group(2))
        else:
            assert not line.startswith("state "), f"unreadable state line {line!r}"

    def name(node: str) -> str:
        return aliases.get(node, node)

    return {
        "aliases": aliases,
        "starts": [name(b) for a, b in arrows if a == "[*]"],
        "ends": [name(a) for a, b in arrows if b == "[*]"],
        "moves": [(name(a), name(b)) for a, b in arrows if "[*]" not in (a, b)],
        "paid": {name(b) for b in paid},
    }


class TestMermaid:
    def test_a_preset_draws_every_move_once(self) -> None:
        text = APPOINTMENT.to_mermaid()
        lines = text.splitlines()
        assert lines[0] == "stateDiagram-v2"
        for state in APPOINTMENT.states:
            for target in APPOINTMENT.targets(state):
                assert lines.count(f"    {state} --> {target}") == 1
        arrows = [line for line in lines if " --> " in line and "[*]" not in line]
        assert len(arrows) == len(_moves(APPOINTMENT)) == 15
        assert "    [*] --> PENDING" in lines
        assert "    [*] --> WAITLISTED" in lines  # an entry state is a start too
        assert "    COMPLETED --> [*]" in lines
        assert "    CANCELLED --> [*]" not in lines  # cancelled is not terminal here
        assert not any(line.strip().startswith("state ") for line in lines)
        assert text.endswith("\n")

    def test_moves_into_money_states_are_labelled_payment(self) -> None:
        drawn = _read_mermaid(TRAVEL.to_mermaid())
        assert drawn["paid"] == {"payment_confirmed", "refunded"}
        assert "    payment_pending --> payment_confirmed : payment" in TRAVEL.to_mermaid()
        assert "    payment_pending --> cancelled" in TRAVEL.to_mermaid().splitlines()
        assert _read_mermaid(APPOINTMENT.to_mermaid())["paid"] == set()

    def test_states_that_are_not_identifiers_get_aliases(self) -> None:
        lifecycle = Lifecycle(
            "repair",
            ("booked", "in progress", 'say "done"'),
            "booked",
            {"booked": {"in progress"}, "in progress": {'say "done"'}},
            terminal={'say "done"'},
            holding={"in progress"},
        )
        lines = lifecycle.to_mermaid().splitlines()
        assert '    state "in progress" as s1' in lines
        assert '    state "say #quot;done#quot;" as s2' in lines
        assert "    booked --> s1" in lines
        assert "    s1 --> s2" in lines
        assert "    s2 --> [*]" in lines
        assert "    [*] --> booked" in lines
        assert "    class s1 holding" in lines

    @given(bst.lifecycles())
    def test_the_diagram_draws_exactly_the_table(self, lifecycle: Lifecycle) -> None:
        drawn = _read_mermaid(lifecycle.to_mermaid())
        assert sorted(drawn["moves"]) == sorted(_moves(lifecycle))  # each move once
        assert sorted(drawn["starts"]) == sorted(lifecycle.starts)
        assert sorted(drawn["ends"]) == sorted(lifecycle.terminal)
        named = set(drawn["aliases"].values())
        assert named == {s for s in lifecycle.states if not _IDENTIFIER.fullmatch(s)}
        plain = {s for s in lifecycle.states if s not in named}
        assert not plain & set(drawn["aliases"]), "an alias is also a state's own name"

    def test_an_alias_never_clashes_with_a_state_named_like_it(self) -> None:
        # "in progress" is state number 1 and gets the alias s1, which is also a state.
        lifecycle = Lifecycle(
            "clash",
            ("s1", "in progress", "done"),
            "s1",
            {"s1": {"in progress"}, "in progress": {"done"}},
            terminal={"done"},
        )
        drawn = _read_mermaid(lifecycle.to_mermaid())
        assert sorted(drawn["moves"]) == [("in progress", "done"), ("s1", "in progress")]
        assert drawn["starts"] == ["s1"]


# ---------------------------------------------------------------------- Graphviz

_DOT_ID = r'"((?:[^"\\]|\\.)*)"'
_DOT_NODE = re.compile(rf"{_DOT_ID}(?: \[(.*)\])?;")
_DOT_EDGE = re.compile(rf'{_DOT_ID} -> {_DOT_ID}(?: \[label="payment", style=dashed\])?;')


def _unquote(text: str) -> str:
    return re.sub(r"\\(.)", r"\1", text)


def _quote(name: str) -> str:
    return '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _read_dot(text: str) -> dict[str, Any]:
    """The nodes (with attributes), start edges and moves a DOT digraph draws."""
    lines = [line.strip() for line in text.splitlines()]
    assert re.fullmatch(rf"digraph {_DOT_ID} \{{", lines[0])
    assert lines[-1] == "}"
    nodes: dict[str, str] = {}
    edges: list[tuple[str, str]] = []
    for line in lines[1:-1]:
        if edge := _DOT_EDGE.fullmatch(line):
            edges.append((_unquote(edge.group(1)), _unquote(edge.group(2))))
        elif node := _DOT_NODE.fullmatch(line):
            nodes[_unquote(node.group(1))] = node.group(2) or ""
        else:
            assert line.endswith(";"), f"unreadable line {line!r}"
            assert not line.startswith('"'), f"unreadable line {line!r}"
    return {
        "nodes": nodes,
        "starts": [b for a, b in edges if a == "__start__"],
        "moves": [(a, b) for a, b in edges if a != "__start__"],
    }


class TestDot:
    def test_a_preset_is_a_digraph_with_one_edge_per_move(self) -> None:
        text = TRAVEL.to_dot()
        lines = text.splitlines()
        assert lines[0] == 'digraph "travel" {'
        for state in TRAVEL.states:
            for target in TRAVEL.targets(state):
                paid = ' [label="payment", style=dashed]' if target in TRAVEL.money_states else ""
                assert lines.count(f'    "{state}" -> "{target}"{paid};') == 1
        edges = [line for line in lines if " -> " in line and "__start__" not in line]
        assert len(edges) == len(_moves(TRAVEL))
        assert '    "__start__" -> "lead_created";' in lines
        assert '    "refunded" [peripheries=2];' in lines
        assert not any(line.startswith('    "completed" [peripheries') for line in lines)
        assert lines[-1] == "}"

    def test_names_with_quotes_and_backslashes_are_escaped(self) -> None:
        lifecycle = Lifecycle(
            'say "hi"',
            ('say "hi"', "a\\b", "done"),
            'say "hi"',
            {'say "hi"': {"a\\b"}, "a\\b": {"done"}},
            terminal={"done"},
            holding={"done"},
        )
        lines = lifecycle.to_dot().splitlines()
        assert lines[0] == 'digraph "say \\"hi\\"" {'
        assert '    "say \\"hi\\"" -> "a\\\\b";' in lines
        assert '    "a\\\\b" -> "done";' in lines
        assert '    "__start__" -> "say \\"hi\\"";' in lines
        (done,) = [line for line in lines if line.startswith('    "done" [')]
        assert "peripheries=2" in done
        assert "filled" in done

    @given(bst.lifecycles())
    def test_the_digraph_draws_exactly_the_table(self, lifecycle: Lifecycle) -> None:
        drawn = _read_dot(lifecycle.to_dot())
        assert sorted(drawn["moves"]) == sorted(_moves(lifecycle))  # each move once
        assert sorted(drawn["starts"]) == sorted(lifecycle.starts)
        assert set(drawn["nodes"]) == {*lifecycle.states, "__start__"}
        for state in lifecycle.states:
            attributes = drawn["nodes"][state]
            assert ("peripheries=2" in attributes) == lifecycle.is_terminal(state)
            assert ("filled" in attributes) == lifecycle.holds_capacity(state)
        lines = lifecycle.to_dot().splitlines()
        for a, b in _moves(lifecycle):
            assert lines.count(f"    {_quote(a)} -> {_quote(b)};") == 1

    def test_the_start_marker_is_not_confused_with_a_state_of_that_name(self) -> None:
        lifecycle = Lifecycle(
            "odd", ("__start__", "done"), "__start__", {"__start__": {"done"}}, terminal={"done"}
        )
        text = lifecycle.to_dot()
        # The start point has an edge into the initial state and is no state itself:
        # a state called "__start__" must not be drawn as (or merged with) that point.
        drawn = _read_dot(text)
        point = [name for name, attrs in drawn["nodes"].items() if "shape=point" in attrs]
        assert len(point) == 1
        assert point[0] not in lifecycle.states


# ---------------------------------------------------------------------- replaying histories


def _event(
    lifecycle: Lifecycle, version: int, from_status: str | None, to_status: str
) -> LifecycleEvent:
    return LifecycleEvent(
        id=uuid4(),
        booking_id=BookingId(uuid4()),
        booking_version=version,
        lifecycle=lifecycle.name,
        from_status=from_status,
        to_status=to_status,
        actor=Actor.system("tests"),
        occurred_at=T0 + timedelta(minutes=version),
    )


def _history(lifecycle: Lifecycle, *statuses: str) -> list[LifecycleEvent]:
    previous: list[str | None] = [None, *statuses[:-1]]
    return [
        _event(lifecycle, index + 1, before, after)
        for index, (before, after) in enumerate(zip(previous, statuses, strict=True))
    ]


@st.composite
def walks(draw: st.DrawFn) -> tuple[Lifecycle, list[str]]:
    """A sound lifecycle and a walk through it: a start state, then allowed moves."""
    lifecycle = draw(bst.lifecycles())
    path = [draw(st.sampled_from(sorted(lifecycle.starts)))]
    for _ in range(draw(st.integers(0, 8))):
        targets = sorted(lifecycle.targets(path[-1]))
        if not targets:
            break
        path.append(draw(st.sampled_from(targets)))
    return lifecycle, path


class TestReplay:
    def test_a_history_replays_to_its_last_status(self) -> None:
        history = _history(RESERVATION, "pending", "confirmed", "completed")
        assert replay(RESERVATION, history) == "completed"
        assert replay(RESERVATION, iter(history)) == "completed"
        assert replay(RESERVATION, history[:1]) == "pending"

    def test_a_booking_may_start_in_an_entry_state(self) -> None:
        history = _history(APPOINTMENT, "WAITLISTED", "PENDING", "CANCELLED", "PENDING")
        assert replay(APPOINTMENT, history) == "PENDING"

    def test_an_empty_history_is_refused(self) -> None:
        with pytest.raises(ValidationError) as refused:
            replay(RESERVATION, [])
        assert refused.value.fields == ("events",)
        assert refused.value.errors[0].code == "required"

    def test_a_history_that_does_not_start_with_a_creation_is_refused(self) -> None:
        history = [_event(RESERVATION, 1, "pending", "confirmed")]
        with pytest.raises(ValidationError) as refused:
            replay(RESERVATION, history)
        assert refused.value.fields == ("events[0]",)
        assert refused.value.errors[0].code == "broken_history"

    def test_a_creation_outside_the_start_states_is_refused(self) -> None:
        with pytest.raises(ValidationError) as refused:
            replay(RESERVATION, _history(RESERVATION, "confirmed", "completed"))
        assert refused.value.fields == ("events[0]",)
        assert refused.value.errors[0].code == "broken_history"
        with pytest.raises(ValidationError):
            replay(RESERVATION, _history(APPOINTMENT, "WAITLISTED"))  # not a start here

    def test_a_from_status_that_does_not_match_is_refused_at_its_index(self) -> None:
        history = _history(RESERVATION, "pending", "confirmed")
        history.append(_event(RESERVATION, 3, "pending", "cancelled"))  # it was confirmed
        with pytest.raises(ValidationError) as refused:
            replay(RESERVATION, history)
        assert refused.value.fields == ("events[2]",)
        assert refused.value.errors[0].code == "broken_history"

    def test_a_second_creation_is_refused(self) -> None:
        history = [*_history(RESERVATION, "pending"), _event(RESERVATION, 2, None, "pending")]
        with pytest.raises(ValidationError) as refused:
            replay(RESERVATION, history)
        assert refused.value.fields == ("events[1]",)

    def test_a_move_the_table_does_not_have_is_refused_naming_both_states(self) -> None:
        history = _history(RESERVATION, "pending", "completed")
        with pytest.raises(InvalidTransitionError) as refused:
            replay(RESERVATION, history)
        assert (refused.value.from_state, refused.value.to_state) == ("pending", "completed")
        assert refused.value.lifecycle == "reservation"

    def test_a_move_out_of_a_terminal_state_is_refused(self) -> None:
        history = _history(TRAVEL, "lead_created", "cancelled", "refunded", "lead_created")
        with pytest.raises(InvalidTransitionError) as refused:
            replay(TRAVEL, history)
        assert (refused.value.from_state, refused.value.to_state) == ("refunded", "lead_created")

    @given(walks())
    def test_any_walk_replays_to_where_it_ends(self, walk: tuple[Lifecycle, list[str]]) -> None:
        lifecycle, path = walk
        assert replay(lifecycle, _history(lifecycle, *path)) == path[-1]

    @given(walks(), st.data())
    def test_a_walk_with_a_wrong_from_status_is_refused_there(
        self, walk: tuple[Lifecycle, list[str]], data: st.DataObject
    ) -> None:
        lifecycle, path = walk
        assume(len(lifecycle.states) >= 2)
        if len(path) < 2:
            path = [lifecycle.initial, *sorted(lifecycle.targets(lifecycle.initial))[:1]]
        history = _history(lifecycle, *path)
        index = data.draw(st.integers(1, len(history) - 1))
        wrong = data.draw(st.sampled_from([s for s in lifecycle.states if s != path[index - 1]]))
        original = history[index]
        history[index] = _event(lifecycle, original.booking_version, wrong, original.to_status)
        with pytest.raises(ValidationError) as refused:
            replay(lifecycle, history)
        assert refused.value.fields == (f"events[{index}]",)

    @given(walks(), st.data())
    def test_a_walk_with_a_move_off_the_table_is_refused_there(
        self, walk: tuple[Lifecycle, list[str]], data: st.DataObject
    ) -> None:
        lifecycle, path = walk
        index = data.draw(st.integers(0, len(path) - 1))
        here = path[index]
        off_table = [s for s in lifecycle.states if not lifecycle.allows(here, s)]
        if not off_table:
            # Every state is a target of this one; nothing to break here.
            assert lifecycle.targets(here) == frozenset(lifecycle.states)
            return
        bad = data.draw(st.sampled_from(off_table))
        history = _history(lifecycle, *path[: index + 1], bad)
        with pytest.raises(InvalidTransitionError) as refused:
            replay(lifecycle, history)
        assert (refused.value.from_state, refused.value.to_state) == (here, bad)
