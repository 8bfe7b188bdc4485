"""The relay's ``jsonb`` loader gives what psycopg's own (``json.loads``) gives."""

from __future__ import annotations

import json
from typing import Any

import pytest

from bookingcore_adapters.sql._driver import canonical_jsonb_loader

pytest.importorskip("psycopg")

#: As PostgreSQL prints ``jsonb``: one document, keys sorted by length then bytes,
#: ``", "`` and ``": "`` between items, non-ASCII text as is.
PRINTED = [
    '{"a": 1, "b": [1, 2.5, -3e-07, 12345678901234567890, null, true, false]}',
    '{"é": "ça \\"va\\" \\\\ \\n \\t \\u0000", "😀": {"x": {"y": []}}, "z": {}}',
    '"just a string"',
    "42",
    "-0.5",
    "null",
    "[]",
    '[{"a": [{"b": [{"c": "d"}]}]}]',
]


def _load(text: str | bytes, *, view: bool = False) -> Any:
    loader = canonical_jsonb_loader()(0, None)
    data = text.encode() if isinstance(text, str) else text
    return loader.load(memoryview(data) if view else data)


@pytest.mark.parametrize("text", PRINTED)
@pytest.mark.parametrize("view", [False, True])
def test_it_reads_what_postgresql_prints_as_json_loads_does(text: str, view: bool) -> None:
    assert _load(text, view=view) == json.loads(text)
    assert type(_load(text, view=view)) is type(json.loads(text))


@pytest.mark.parametrize("text", [' {"a": 1}', '{"a": 1}\n', "\t[1] "])
def test_whitespace_around_the_document_is_read_as_json_loads_reads_it(text: str) -> None:
    assert _load(text) == json.loads(text)


@pytest.mark.parametrize("text", ['{"a": 1} x', "[1] [2]", "{", "", "nan?"])
def test_anything_but_one_document_is_refused_as_json_loads_refuses_it(text: str) -> None:
    with pytest.raises(json.JSONDecodeError):
        json.loads(text)
    with pytest.raises(json.JSONDecodeError):
        _load(text)
