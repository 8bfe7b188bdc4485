"""The base every SQL repository shares: it hands its calls to the unit of work."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime
from typing import TYPE_CHECKING, Any, Generic, TypeVar
from uuid import UUID

from sqlalchemy import ColumnElement

if TYPE_CHECKING:
    from bookingcore_adapters.sql._mapping import Mapper
    from bookingcore_adapters.sql._uow import SqlUnitOfWork

__all__ = ["Repository"]

E = TypeVar("E")


def _oldest_key(entity: Any) -> tuple[datetime, bytes]:
    return (entity.created_at, entity.id.bytes)


class Repository(Generic[E]):
    """One entity type's repository over a :class:`SqlUnitOfWork`."""

    def __init__(self, uow: SqlUnitOfWork, mapper: Mapper[E]) -> None:
        self._uow = uow
        self._mapper = mapper
        self._table = mapper.table

    def add(self, entity: E) -> None:
        """Write ``entity`` when the unit of work commits."""
        self._uow._add(self._mapper, entity)

    def _get(self, ident: UUID) -> E | None:
        return self._uow._get(self._mapper, ident)

    def _lock(self, ident: UUID) -> E | None:
        return self._uow._lock_row(self._mapper, ident)

    def _oldest_first(
        self, where: Iterable[ColumnElement[bool]], keep: Callable[[E], bool]
    ) -> list[E]:
        """Matching entities by ``(created_at, id)``: ``where`` in SQL, ``keep`` in memory."""
        c = self._table.c
        return self._uow._select(
            self._mapper, where, keep, _oldest_key, order_by=[c.created_at, c.id]
        )

    def _oldest_with(self, **wanted: object) -> list[E]:
        """Entities whose columns (and attributes of the same names) equal ``wanted``, oldest first.

        One look-up sent straight to the driver: a booking's children, a
        customer's bookings of a slot and the like are read on hot paths.
        """
        return self._uow._select_equal(self._mapper, wanted, _oldest_key)

    def _first(self, where: Iterable[ColumnElement[bool]], keep: Callable[[E], bool]) -> E | None:
        """The oldest entity matching (the one holding a unique key, when there is one)."""
        found = self._oldest_first(where, keep)
        return found[0] if found else None
