"""The relay's ``jsonb`` loader hands on the text PostgreSQL sends, which parses
to what psycopg's own loader (``json.loads``) gives."""

from __future__ import annotations

import json

import pytest

from bookingcore_adapters.sql._driver import json_text_loader

pytest.importorskip("psycopg")

#: As PostgreSQL prints ``jsonb``: one document, keys sorted by length then bytes,
#: ``", "`` and ``": "`` between items, non-ASCII text as is.
PRINTED = [
    '{"a": 1, "b": [1, 2.5, -3e-07, 12345678901234567890, null, true, false]}',
    '{"é": "ça \\"va\\" \\\\ \\n \\t \\u0000", "😀": {"x": {"y": []}}, "z": {}}',
    '"just a string"',
    "42",
    "null",
    "[]",
    '[{"a": [{"b": [{"c": "d"}]}]}]',
]


@pytest.mark.parametrize("text", PRINTED)
@pytest.mark.parametrize("view", [False, True])
def test_it_gives_the_text_postgresql_sent_unparsed(text: str, view: bool) -> None:
    """bytes or a memoryview (psycopg gives either) come back as the same text, a
    str: what json.loads would have parsed, parsed by nobody on the way."""
    data = text.encode()
    loaded = json_text_loader()(0, None).load(memoryview(data) if view else data)
    assert type(loaded) is str
    assert loaded == text
    assert json.loads(loaded) == json.loads(text)
