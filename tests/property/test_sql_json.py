"""The SQL adapter's JSON text on SQLite: what ``json.dumps`` gives, whatever the value."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from bookingcore_adapters.sql._schema import json_text

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda children: st.lists(children) | st.dictionaries(st.text(), children),
    max_leaves=20,
)


@given(json_values)
def test_json_text_is_what_json_dumps_gives(value: Any) -> None:
    # Rows stored before, and other tools reading them, see json.dumps's own text.
    assert json_text(value) == json.dumps(value)


def test_empty_containers_and_their_subclasses_are_written_as_json_dumps_writes_them() -> None:
    class Ordered(dict[str, Any]):
        pass

    for value in ({}, [], Ordered(), (), "", 0, False, None):
        assert json_text(value) == json.dumps(value)
