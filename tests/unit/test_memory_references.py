"""The memory store checks the references the SQL store's foreign keys check.

Every foreign key of a SQL table behind a unit of work's repositories is a
:class:`Reference` of the memory table holding the same entity: the same column,
the same table it names, and the same delete rule (``ON DELETE CASCADE`` or
refused while named); and the memory store checks none the SQL store does not.
"""

from __future__ import annotations

from typing import Any

import pytest

from bookingcore_adapters.memory._tables import TABLES
from bookingcore_adapters.sql._uow import MAPPERS

_SQL_ENTITY = {m.table.name: m.entity for m in MAPPERS}


def _sql_keys() -> set[tuple[str, str, str, bool]]:
    """(entity, column, named entity, cascades) for every foreign key of the SQL tables."""
    keys: set[tuple[str, str, str, bool]] = set()
    for mapper in MAPPERS:
        tables: list[Any] = [mapper.table]
        if mapper.child_table is not None:
            tables.append(mapper.child_table)
        for table in tables:
            for key in table.foreign_keys:
                named = _SQL_ENTITY[key.column.table.name]
                if table is not mapper.table and named == mapper.entity:
                    continue  # a child row's key to its own parent row: stored with it
                cascades = key.ondelete is not None and key.ondelete.upper() == "CASCADE"
                keys.add((mapper.entity, key.parent.name, named, cascades))
    return keys


def _memory_keys() -> set[tuple[str, str, str, bool]]:
    by_name = {t.name: t for t in TABLES}
    return {
        (t.entity_name, r.field, by_name[r.table].entity_name, not r.restricts)
        for t in TABLES
        for r in t.references
    }


SQL_KEYS = sorted(_sql_keys())


@pytest.mark.parametrize(("entity", "column", "named", "cascades"), SQL_KEYS)
def test_every_sql_foreign_key_is_a_memory_reference_with_its_delete_rule(
    entity: str, column: str, named: str, cascades: bool
) -> None:
    assert (entity, column, named, cascades) in _memory_keys()


def test_memory_checks_no_reference_the_sql_store_does_not() -> None:
    assert _memory_keys() - set(SQL_KEYS) == set()
