"""The data mapper's base: :class:`Mapper` and the helpers every family's row functions share.

The domain classes stay plain attrs classes; nothing here instruments them.
Each :class:`Mapper` knows its table, the column that holds the entity's id,
whether the entity carries an optimistic ``version``, and (for bookings) the
child table that holds its travelers. The mappers themselves live with their
tables and repositories, one module per aggregate family.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Generic, TypeVar
from uuid import UUID

import attrs
from sqlalchemy import Table

from bookingcore.domain.values import Actor, EmailAddress, PhoneNumber

__all__ = [
    "Mapper",
    "Row",
    "Stored",
    "actor_columns",
    "actor_of",
    "email_of",
    "email_text",
    "json_copy",
    "phone_of",
    "phone_text",
    "required_actor",
]

E = TypeVar("E")

#: One row as column name -> Python value (before the column types convert it).
Row = dict[str, Any]
#: A row as it comes back from a query.
Stored = Mapping[Any, Any]


#: The child rows of an entity that has none: one shared empty tuple, not a new list
#: for every entity dumped (a snapshot each read, a dump each commit).
_NO_CHILDREN: tuple[Row, ...] = ()


def _no_children(entity: Any) -> Sequence[Row]:
    return _NO_CHILDREN


@attrs.frozen
class Mapper(Generic[E]):
    """How one entity type is stored.

    ``dump`` gives the entity's row, ``load`` rebuilds the entity from its row
    and its child rows; ``dump(load(row, children)) == dump(entity)`` for every
    stored entity, which is what change detection relies on.
    """

    entity: str
    table: Table
    dump: Callable[[E], Row]
    load: Callable[[Stored, Sequence[Stored]], E]
    key: str = "id"
    versioned: bool = False
    child_table: Table | None = None
    dump_children: Callable[[E], Sequence[Row]] = _no_children
    #: What each child row points at, ``(mapper, column)``: read with the child rows
    #: when the entity is locked by id, and tracked (a booking's travelers).
    child_refers: tuple[Mapper[Any], str] | None = None
    #: A column the database fills in on insert (the outbox's ``sequence``): each
    #: insert returns it, and the unit of work sets it on the entity after commit.
    generated: str | None = None

    def identity(self, entity: E) -> UUID:
        """The entity's id (the value of its key column)."""
        ident: UUID = getattr(entity, "id")  # noqa: B009 - every stored entity has an id
        return ident


# --------------------------------------------------------------------------- helpers


def json_copy(value: Mapping[str, Any] | None) -> dict[str, Any]:
    """A private copy, so a snapshot never shares a mutable value with its entity.

    Strings, numbers, booleans and None are shared (they cannot change); nested
    containers are copied deeply. Most metadata is flat, and a deep copy of
    every value costs more than the rest of a row's dump.
    """
    copied = dict(value or {})
    for key, item in copied.items():
        if not isinstance(item, _IMMUTABLE):
            copied[key] = copy.deepcopy(item)
    return copied


_IMMUTABLE = (str, int, float, type(None))


def phone_text(value: PhoneNumber | None) -> str | None:
    """The stored E.164 text of a phone number."""
    return None if value is None else value.e164


def email_text(value: EmailAddress | None) -> str | None:
    """The stored text of an e-mail address."""
    return None if value is None else value.value


def phone_of(value: str | None) -> PhoneNumber | None:
    """The phone number stored as ``value``."""
    return None if value is None else PhoneNumber.from_stored(value)


def email_of(value: str | None) -> EmailAddress | None:
    """The e-mail address stored as ``value``."""
    return None if value is None else EmailAddress.from_stored(value)


def actor_columns(kind: str, ident: str, actor: Actor | None) -> Row:
    """The ``kind`` and ``ident`` columns of ``actor``."""
    if actor is None:
        return {kind: None, ident: None}
    return {kind: actor.kind.value, ident: actor.id}


def actor_of(row: Stored, kind: str, ident: str) -> Actor | None:
    """The actor stored in the ``kind`` and ``ident`` columns, if any."""
    return None if row[kind] is None else Actor(row[kind], row[ident])


def required_actor(row: Stored, kind: str, ident: str) -> Actor:
    """The actor stored in the ``kind`` and ``ident`` columns."""
    return Actor(row[kind], row[ident])
