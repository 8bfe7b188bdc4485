"""The base every SQL repository shares: it reads and writes through the unit of work's session."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Collection, Iterable
from datetime import datetime
from typing import Any, Generic, TypeVar
from uuid import UUID

from sqlalchemy import ColumnElement, func, select

from bookingcore.domain.queries import Page, PageRequest
from bookingcore_adapters.sql._mapper import Mapper
from bookingcore_adapters.sql._session import Session

__all__ = ["IDS_PER_STATEMENT", "Repository", "oldest_key"]

E = TypeVar("E")
K = TypeVar("K")
I = TypeVar("I", bound=UUID)  # noqa: E741

#: How many ids one statement of :meth:`Repository._oldest_in` binds: far below the
#: drivers' limits on a statement's parameters (SQLite 32,766, PostgreSQL 65,535).
IDS_PER_STATEMENT = 2000


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
        self,
        where: Iterable[ColumnElement[bool]],
        keep: Callable[[E], bool],
        *,
        at: str = "created_at",
        limit: int | None = None,
    ) -> list[E]:
        """Matching entities by ``(created_at, id)``, the first ``limit`` of them:
        ``where`` in SQL, ``keep`` in memory. ``at`` names another time (the column
        and the attribute share its name)."""

        def key(entity: Any) -> tuple[Any, bytes]:
            return (getattr(entity, at), entity.id.bytes)

        c = self._table.c
        return self._session.select(
            self._mapper, where, keep, key, order_by=[c[at], c.id], limit=limit
        )

    def _oldest_with(self, **wanted: object) -> list[E]:
        """Entities whose columns (and attributes of the same names) equal ``wanted``, oldest first.

        One compiled look-up: a booking's children, a customer's bookings of a
        slot and the like are read on hot paths.
        """
        return self._session.select_equal(self._mapper, wanted, oldest_key)

    def _page_with(self, page: PageRequest, **wanted: object) -> Page[E]:
        """A page of the entities whose columns (and attributes of the same names)
        equal ``wanted``, newest first."""
        c = self._table.c
        return self._session.page(
            self._mapper,
            [c[name] == value for name, value in wanted.items()],
            lambda entity: all(getattr(entity, name) == value for name, value in wanted.items()),
            page,
        )

    def _oldest_in(
        self,
        column: str,
        idents: Collection[I],
        where: Iterable[ColumnElement[bool]] = (),
        keep: Callable[[E], bool] = lambda entity: True,
    ) -> dict[I, list[E]]:
        """The entities whose ``column`` (and attribute of the same name) holds one of
        ``idents`` and that match ``where`` (in SQL) and ``keep`` (in memory), by that
        id, each group oldest first; :data:`IDS_PER_STATEMENT` ids a statement."""
        wanted = sorted(set(idents), key=lambda ident: ident.bytes)
        c = self._table.c
        found: dict[I, list[E]] = {}
        for start in range(0, len(wanted), IDS_PER_STATEMENT):
            chunk = wanted[start : start + IDS_PER_STATEMENT]
            asked = set(chunk)
            for entity in self._oldest_first(
                [c[column].in_(chunk), *where],
                lambda entity, asked=asked: getattr(entity, column) in asked and keep(entity),  # type: ignore[misc]
            ):
                found.setdefault(getattr(entity, column), []).append(entity)
        return found

    def _count_by(
        self,
        column: str,
        read: Callable[[Any], K],
        where: Iterable[ColumnElement[bool]],
        keep: Callable[[E], bool],
    ) -> dict[K, int]:
        """How many entities match, by their ``column`` (``read`` turns a stored value
        into the attribute of the same name): the stored rows that match ``where``
        counted in one statement, those this unit of work tracks judged by ``keep``."""
        c = self._table.c
        tracked = self._session.tracked(self._mapper)
        counts: dict[K, int] = defaultdict(int)
        statement = select(c[column], func.count()).where(*where).group_by(c[column])
        if tracked:
            statement = statement.where(c.id.not_in(list(tracked)))
        for value, count in self._session.connection().execute(statement):
            counts[read(value)] += count
        for entity in tracked.values():
            if keep(entity):
                counts[getattr(entity, column)] += 1
        return dict(counts)

    def _first(self, where: Iterable[ColumnElement[bool]], keep: Callable[[E], bool]) -> E | None:
        """The oldest entity matching (the one holding a unique key, when there is one)."""
        found = self._oldest_first(where, keep)
        return found[0] if found else None
