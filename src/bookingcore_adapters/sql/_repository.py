"""The base every SQL repository shares: it reads and writes through the unit of work's session."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any, Generic, TypeVar
from uuid import UUID

from sqlalchemy import ColumnElement

from bookingcore_adapters.sql._mapper import Mapper
from bookingcore_adapters.sql._session import Session

__all__ = ["Repository", "oldest_key"]

E = TypeVar("E")
I = TypeVar("I", bound=UUID)  # noqa: E741


def oldest_key(entity: Any) -> tuple[datetime, bytes]:
    """The ``(created_at, id)`` sort key of oldest-first lists."""
    return (entity.created_at, entity.id.bytes)


class Repository(Generic[E]):
    """One entity type's repository over a unit of work's :class:`Session`."""

    def __init__(self, session: Session, mapper: Mapper[E]) -> None:
        self._session = session
        self._mapper = mapper
        self._table = mapper.table

    def add(self, entity: E) -> None:
        """Write ``entity`` when the unit of work commits."""
        self._session.add(self._mapper, entity)

    def _get(self, ident: UUID) -> E | None:
        return self._session.get(self._mapper, ident)

    def _lock(self, ident: UUID) -> E | None:
        return self._session.lock(self._mapper, ident)

    def _get_many(self, idents: Iterable[I], ident_of: Callable[[E], I]) -> dict[I, E]:
        """The entities with these ids (``ident_of`` reads one's id), in one query."""
        wanted = set(idents)
        if not wanted:
            return {}
        found = self._session.select(
            self._mapper,
            [self._table.c.id.in_(sorted(wanted, key=lambda i: i.bytes))],
            lambda entity: ident_of(entity) in wanted,
            lambda entity: ident_of(entity).bytes,
            order_by=[self._table.c.id],
        )
        return {ident_of(entity): entity for entity in found}

    def _unique(self, column: str, value: object, read: Callable[[E], object]) -> E | None:
        """The entity whose unique ``column`` (attribute: ``read``) holds ``value``."""
        return self._session.find_unique(self._mapper, column, value, read)

    def _oldest_first(
        self, where: Iterable[ColumnElement[bool]], keep: Callable[[E], bool]
    ) -> list[E]:
        """Matching entities by ``(created_at, id)``: ``where`` in SQL, ``keep`` in memory."""
        c = self._table.c
        return self._session.select(
            self._mapper, where, keep, oldest_key, order_by=[c.created_at, c.id]
        )

    def _oldest_with(self, **wanted: object) -> list[E]:
        """Entities whose columns (and attributes of the same names) equal ``wanted``, oldest first.

        One compiled look-up: a booking's children, a customer's bookings of a
        slot and the like are read on hot paths.
        """
        return self._session.select_equal(self._mapper, wanted, oldest_key)

    def _first(self, where: Iterable[ColumnElement[bool]], keep: Callable[[E], bool]) -> E | None:
        """The oldest entity matching (the one holding a unique key, when there is one)."""
        found = self._oldest_first(where, keep)
        return found[0] if found else None
