"""The SQL unit of work and its repositories."""

from __future__ import annotations

import builtins
import contextlib
import functools
import logging
import random
import time
from collections import defaultdict
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from datetime import datetime
from types import TracebackType
from typing import TYPE_CHECKING, Any, Generic, Self, TypeVar, cast
from uuid import UUID

import attrs
from sqlalchemy import (
    ColumnElement,
    Connection,
    FromClause,
    RootTransaction,
    Select,
    Table,
    bindparam,
    delete,
    func,
    literal,
    select,
)
from sqlalchemy.exc import DBAPIError, IntegrityError, SQLAlchemyError

from bookingcore.domain.audit import AuditEntry
from bookingcore.domain.auth import AuthSession
from bookingcore.domain.bookings import Booking
from bookingcore.domain.catalog import Location, Product, Supplier
from bookingcore.domain.communications import Communication
from bookingcore.domain.customers import Customer, Traveler
from bookingcore.domain.documents import Document
from bookingcore.domain.events import Delivery, DeliveryStatus, DomainEvent, OutboxMessage
from bookingcore.domain.imports import ImportJob, ImportRowError
from bookingcore.domain.lifecycle import LifecycleEvent
from bookingcore.domain.partners import Partner
from bookingcore.domain.queries import (
    BookingFilter,
    Cursor,
    CustomerFilter,
    Page,
    PageRequest,
    SlotFilter,
)
from bookingcore.domain.slots import Slot
from bookingcore.domain.staff import StaffMember
from bookingcore.domain.values import (
    BookingId,
    CommunicationId,
    CustomerId,
    DocumentId,
    EmailAddress,
    LocationId,
    PartnerId,
    PhoneNumber,
    ProductId,
    SlotId,
    StaffId,
    SupplierId,
    TravelerId,
)
from bookingcore.errors import (
    ConcurrentUpdateError,
    ConflictError,
    DuplicateError,
    StaleVersionError,
)
from bookingcore_adapters.sql import _commerce as commerce
from bookingcore_adapters.sql import _driver as d
from bookingcore_adapters.sql import _mapping as m
from bookingcore_adapters.sql import _queries as q
from bookingcore_adapters.sql._repository import Repository
from bookingcore_adapters.sql._store import BEGIN_STATEMENT
from bookingcore_adapters.sql._tables import UtcDateTime

if TYPE_CHECKING:
    from bookingcore_adapters.sql._store import SqlStore

__all__ = ["SqlUnitOfWork"]

E = TypeVar("E")
T = TypeVar("T")
Snapshot = tuple[m.Row, list[m.Row]]

# SQLSTATEs a concurrent transaction causes on PostgreSQL: serialization failure, deadlock.
_CONCURRENCY_STATES = frozenset({"40001", "40P01"})

#: The first pause before repeating an aborted step (seconds); it doubles each time, jittered.
_RETRY_PAUSE = 0.005

_log = logging.getLogger("bookingcore.sql")


class SqlUnitOfWork:
    """One database transaction over a :class:`~bookingcore_adapters.sql.SqlStore`.

    Entities read through the repositories are tracked in an identity map (one
    object per id) with a snapshot of their rows. Nothing is written until
    :meth:`commit`, which inserts the added entities and updates the changed
    ones, parents before children, in one transaction: an entity with a
    ``version`` is updated only if the stored version is still the one read
    (:class:`~bookingcore.errors.StaleVersionError` otherwise), and a unique key
    held twice is a :class:`~bookingcore.errors.DuplicateError`. Either error
    rolls the whole commit back. Reads see this unit's own additions and changes.

    ``slots.get_for_update`` locks the slot's row until the unit of work ends:
    ``SELECT ... FOR UPDATE`` on PostgreSQL, the database's write lock
    (``BEGIN IMMEDIATE``) on SQLite. On SQLite, writing also takes the write lock
    only when the unit of work commits, so readers never wait for writers.

    .. versionadded:: 0.1
    """

    def __init__(self, store: SqlStore) -> None:
        self._store = store
        self._sqlite = store.dialect == "sqlite"
        self._postgres = store.dialect == "postgresql"
        self._search = q.TextSearch(store.dialect)
        self._connection: Connection | None = None
        self._transaction: RootTransaction | None = None
        self._holds_write_lock = False
        self._locked: list[tuple[m.Mapper[Any], UUID]] = []
        # Locked rows whose snapshot was read under the lock: their versions cannot move.
        self._settled: set[tuple[str, UUID]] = set()
        # SQLite: rows read while this transaction held the write lock. Nobody can
        # change them until it ends, so locking one of them again needs no query.
        self._fresh: set[tuple[str, UUID]] = set()
        self._pipeline = store.pipelined
        self._active = False
        self._tracked: dict[str, dict[UUID, Any]] = {}
        self._snapshots: dict[str, dict[UUID, Snapshot]] = {}
        self._added: dict[str, dict[UUID, None]] = {}
        self._forget()
        self.customers = _CustomerRepository(self, m.CUSTOMERS)
        self.travelers = _TravelerRepository(self, m.TRAVELERS)
        self.locations = _CodedRepository[Location, LocationId](self, m.LOCATIONS)
        self.products = _CodedRepository[Product, ProductId](self, m.PRODUCTS)
        self.suppliers = _CodedRepository[Supplier, SupplierId](self, m.SUPPLIERS)
        self.slots = _SlotRepository(self, m.SLOTS)
        self.bookings = _BookingRepository(self, m.BOOKINGS)
        self.partners = _PartnerRepository(self, m.PARTNERS)
        self.lifecycle_events = _LifecycleEventRepository(self, m.LIFECYCLE_EVENTS)
        self.audit = _AuditRepository(self, m.AUDIT)
        self.outbox = _OutboxRepository(self, m.OUTBOX)
        self.deliveries = _DeliveryRepository(self, m.DELIVERIES)
        self.communications = _CommunicationRepository(self, m.COMMUNICATIONS)
        self.documents = _DocumentRepository(self, m.DOCUMENTS)
        self.staff = _StaffRepository(self, m.STAFF)
        self.imports = _ImportJobRepository(self, m.IMPORTS)
        self.import_errors = _ImportErrorRepository(self, m.IMPORT_ERRORS)
        self.auth_sessions = _AuthSessionRepository(self, m.AUTH_SESSIONS)
        self.groups = commerce.BookingGroupRepository(self, m.BOOKING_GROUPS)
        self.booking_items = commerce.BookingItemRepository(self, m.BOOKING_ITEMS)
        self.waitlist = commerce.WaitlistRepository(self, m.WAITLIST)
        self.payments = commerce.PaymentRepository(self, m.PAYMENTS)
        self.refunds = commerce.RefundRepository(self, m.REFUNDS)

    # ------------------------------------------------------------------ the protocol

    def __enter__(self) -> Self:
        self._active = True
        self.rollback()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        try:
            self.rollback()
        finally:
            self._active = False
            connection, self._connection = self._connection, None
            if connection is not None:
                connection.close()

    def commit(self) -> None:
        """Write every added and changed entity in one transaction, or nothing.

        Raises:
            DuplicateError: a unique key (id, phone, code, reference, idempotency
                key, external id, API key, contact email, dedupe key, ...) would
                be held twice.
            StaleVersionError: an entity changed in the database after it was read.
            ConflictError: another constraint refused the change (a reference to a
                row that does not exist).
            ConcurrentUpdateError: deadlocks or serialization failures outlasted
                the store's ``retries``, or a row this unit of work had locked
                changed while it retried.
        """
        self._require_active()
        writes = self._changes()
        if not writes:
            self._end_transaction()
            return
        if self._sqlite:
            self._take_write_lock()
        try:
            sequences = self._retrying(lambda: self._write_and_commit(writes))
        except d.Refused as refused:
            self._abandon_transaction()
            raise self._explain(refused, writes) from refused.error
        except IntegrityError as exc:  # a constraint the database checks at COMMIT
            self._abandon_transaction()
            msg = f"the database refused the commit: {exc.orig}"
            raise ConflictError(msg) from exc
        except BaseException:
            self._abandon_transaction()
            raise
        for write in writes:
            ident = write.mapper.identity(write.entity)
            if ident in sequences:
                write.entity.sequence = sequences[ident]
            self._snapshots[write.mapper.entity][ident] = (write.row, write.children)
        for added in self._added.values():
            added.clear()

    def rollback(self) -> None:
        """Forget every change since the last commit, and every entity read."""
        try:
            self._abandon_transaction()
        finally:
            self._forget()

    # ------------------------------------------------------------------ transactions

    def _require_active(self) -> None:
        if not self._active:
            msg = "use the unit of work as a context manager: `with uow: ...`"
            raise RuntimeError(msg)

    def _forget(self) -> None:
        names = [mapper.entity for mapper in m.MAPPERS]
        self._tracked = {name: {} for name in names}
        self._snapshots = {name: {} for name in names}
        self._added = {name: {} for name in names}

    def _begin(self, *, write_lock: bool = False) -> Connection:
        """The connection, inside a transaction (begun now if none is open)."""
        self._require_active()
        if self._connection is None:
            self._connection = self._store.engine.connect()
        if self._transaction is None:
            if self._sqlite:
                statement = "BEGIN IMMEDIATE" if write_lock else "BEGIN"
                self._connection.info[BEGIN_STATEMENT] = statement
            self._transaction = self._connection.begin()
            self._holds_write_lock = write_lock
        return self._connection

    def _take_write_lock(self) -> None:
        """SQLite: make sure this transaction holds the write lock.

        A transaction that has only read cannot safely upgrade to writing in WAL
        mode (it fails at once if another writer committed since it began), so
        the read transaction ends and a ``BEGIN IMMEDIATE`` one starts, waiting
        for other writers. Nothing is lost: this unit of work has written
        nothing yet, and versions catch any entity that changed meanwhile.
        """
        if self._transaction is not None and self._holds_write_lock:
            return
        self._abandon_transaction()
        self._begin(write_lock=True)

    def _end_transaction(self) -> None:
        transaction, self._transaction = self._transaction, None
        self._holds_write_lock = False
        self._locked = []
        self._settled.clear()
        self._fresh.clear()
        if transaction is None:
            return
        try:
            transaction.commit()
        except BaseException:
            # A failed COMMIT can leave the driver's transaction open: start afresh.
            connection, self._connection = self._connection, None
            if connection is not None:
                with contextlib.suppress(SQLAlchemyError):
                    connection.invalidate()
                    connection.close()
            raise

    def _abandon_transaction(self) -> None:
        transaction, self._transaction = self._transaction, None
        self._holds_write_lock = False
        self._locked = []
        self._settled.clear()
        self._fresh.clear()
        if transaction is not None and transaction.is_active:
            transaction.rollback()

    def _retrying(self, step: Callable[[], T]) -> T:
        """Run ``step``; after a deadlock or serialization failure, roll back and repeat it.

        The database has already undone the transaction, so before each repeat
        the rows this unit of work had locked are locked again, in the same
        order, and must read exactly as they did: everything decided under
        those locks (seats left, a version) still holds, and the step can run
        again as if nothing happened. Up to the store's ``retries`` repeats,
        with a short random pause; then :class:`ConcurrentUpdateError`.
        """
        locked: list[tuple[m.Mapper[Any], UUID]] = []
        attempt = 0
        while True:
            try:
                if attempt:
                    self._lock_again(locked)
                return step()
            except DBAPIError as exc:
                if _sqlstate(exc) not in _CONCURRENCY_STATES:
                    raise
                if not attempt:
                    locked = list(self._locked)
                self._abandon_transaction()
                attempt += 1
                if attempt > self._store.retries:
                    msg = (
                        "concurrent transactions kept aborting this one "
                        f"({exc.orig.__class__.__name__}); nothing was written, try again"
                    )
                    raise ConcurrentUpdateError(msg, attempts=attempt) from exc
                _log.warning(
                    "%s; retrying the transaction (%d of %d)",
                    exc.orig.__class__.__name__,
                    attempt,
                    self._store.retries,
                )
                time.sleep(random.uniform(0, _RETRY_PAUSE * 2**attempt))  # noqa: S311 - jitter

    def _lock_again(self, locked: Sequence[tuple[m.Mapper[Any], UUID]]) -> None:
        """Take ``locked`` rows' locks again; refuse if one changed since it was first locked."""
        for mapper, ident in locked:
            table = mapper.table
            rows = self._rows_by(table, {mapper.key: ident}, lock=True)
            self._locked.append((mapper, ident))
            self._settled.add((mapper.entity, ident))
            first = self._snapshots[mapper.entity].get(ident)
            fresh = self._load(mapper, rows)[0] if rows else None
            if fresh is None or (mapper.dump(fresh), mapper.dump_children(fresh)) != first:
                self._abandon_transaction()
                msg = (
                    f"{mapper.entity} {ident} changed while this transaction waited to "
                    "retry after a deadlock; nothing was written, try again"
                )
                raise ConcurrentUpdateError(msg, attempts=len(locked))

    def _write_and_commit(self, writes: list[d.Write]) -> dict[UUID, int]:
        connection = self._begin()
        statements = d.plan(writes, connection.dialect)
        if self._pipeline:
            outcome = d.run_pipelined(connection, statements, commit=self._settled_all(writes))
        else:
            outcome = d.run_each(connection, statements)
        if outcome.stale:
            stale = outcome.stale[0]
            mapper, table = stale.mapper, stale.mapper.table
            ident = stale.row[mapper.key]
            read = stale.before[0]["version"] if stale.before else 0
            actual = connection.execute(
                select(table.c.version).where(table.c[mapper.key] == ident)
            ).scalar()
            raise StaleVersionError(mapper.entity, ident, read, actual or 0)
        self._end_transaction()
        return outcome.sequences

    def _settled_all(self, writes: list[d.Write]) -> bool:
        """Whether no versioned UPDATE of ``writes`` can find its row changed.

        True when every one is of a row this transaction locked and read under
        its lock: nobody else can have moved its version since, so the
        statements can be committed without first looking at their results.
        """
        return all(
            write.before is None
            or not write.mapper.versioned
            or (write.mapper.entity, write.row[write.mapper.key]) in self._settled
            for write in writes
        )

    # ------------------------------------------------------------------ writing

    def _changes(self) -> list[d.Write]:
        writes: list[d.Write] = []
        for mapper in m.MAPPERS:
            added = self._added[mapper.entity]
            snapshots = self._snapshots[mapper.entity]
            for ident, entity in self._tracked[mapper.entity].items():
                row, children = mapper.dump(entity), mapper.dump_children(entity)
                before = None if ident in added else snapshots[ident]
                if before is None or before != (row, children):
                    writes.append(d.Write(mapper, entity, row, children, before))
        return writes

    def _explain(self, refused: d.Refused, writes: list[d.Write]) -> ConflictError:
        """The bookingcore error for a write the database refused (after the rollback)."""
        mapper, table = refused.mapper, refused.mapper.table
        columns = _unique_columns(refused.error)
        if columns is None:
            msg = f"the database refused this {mapper.entity}: {refused.error.orig}"
            return ConflictError(msg)
        if not columns or not set(columns) <= set(table.c.keys()):
            columns = [mapper.key]
        batch = [write for write in writes if write.mapper is mapper]
        holder, values = self._holder(mapper, batch, columns)
        if columns == [mapper.key]:
            msg = f"{mapper.entity} {holder or 'with this id'} exists already"
        else:
            value = ""
            if values is not None:
                value = f" {values[0]!r}" if len(values) == 1 else f" {values!r}"
            msg = f"{mapper.entity} {', '.join(columns)}{value} is already taken"
        return DuplicateError(msg, entity=mapper.entity, existing_id=holder)

    def _holder(
        self, mapper: m.Mapper[Any], batch: list[d.Write], columns: list[str]
    ) -> tuple[UUID | None, tuple[Any, ...] | None]:
        """Which stored row holds the key one of ``batch`` wanted, and the key's value."""
        table, key = mapper.table, mapper.table.c[mapper.key]
        try:
            with contextlib.suppress(SQLAlchemyError):
                for write in batch:
                    values = tuple(write.row[column] for column in columns)
                    if any(value is None for value in values):
                        continue
                    where = [table.c[c] == v for c, v in zip(columns, values, strict=True)]
                    if columns != [mapper.key]:
                        where.append(key != write.row[mapper.key])
                        where.extend(_partial_unique_where(table, columns))
                    found = self._begin().execute(select(key).where(*where).limit(1)).scalar()
                    if found is not None:
                        return found, values
            return None, None
        finally:
            self._abandon_transaction()

    # ------------------------------------------------------------------ reading (for repositories)

    def _add(self, mapper: m.Mapper[E], entity: E) -> None:
        self._require_active()
        ident = mapper.identity(entity)
        self._tracked[mapper.entity][ident] = entity
        self._added[mapper.entity][ident] = None

    def _track(self, mapper: m.Mapper[E], entity: E) -> E:
        """The tracked object for ``entity``'s id, tracking ``entity`` if there is none."""
        ident = mapper.identity(entity)
        tracked = self._tracked[mapper.entity]
        known: E | None = tracked.get(ident)
        if known is not None:
            return known
        tracked[ident] = entity
        self._snapshots[mapper.entity][ident] = (mapper.dump(entity), mapper.dump_children(entity))
        if self._holds_write_lock and self._sqlite:
            self._fresh.add((mapper.entity, ident))
        return entity

    def _rows(self, statement: Select[Any], params: dict[str, Any] | None = None) -> list[m.Stored]:
        return list(self._begin().execute(statement, params).mappings())

    def _rows_by(
        self,
        table: Table,
        wanted: Mapping[str, object],
        lock: bool = False,
        parent: tuple[m.Mapper[Any], str] | None = None,
    ) -> list[m.Row]:
        """Rows whose columns equal ``wanted``: the hot look-up, sent straight to the driver.

        With ``parent``, the parent rows come in the same query and are tracked.
        """
        connection = self._begin()
        columns = tuple(wanted)
        if parent is None:
            query = d.lookup(table, columns, connection.dialect, lock=lock)
            return d.fetch(connection, query, wanted)
        parent_mapper, foreign_key = parent
        joined = (parent_mapper.table, foreign_key)
        query = d.lookup(table, columns, connection.dialect, lock=lock, parent=joined)
        found = d.fetch_with_parent(connection, query, wanted)
        for _, parent_row in found:
            if parent_row is not None:
                self._track(parent_mapper, parent_mapper.load(parent_row, []))
        return [row for row, _ in found]

    def _load(self, mapper: m.Mapper[E], rows: Sequence[m.Stored]) -> list[E]:
        """Entities built from ``rows`` (not tracked), with their child rows."""
        children: dict[Any, list[m.Stored]] = defaultdict(list)
        if mapper.child_table is not None and rows:
            child = mapper.child_table
            ids = [row[mapper.key] for row in rows]
            for found in self._rows(_children_select(child), {"ids": ids}):
                children[found["booking_id"]].append(found)
        return [mapper.load(row, children[row[mapper.key]]) for row in rows]

    def _get(self, mapper: m.Mapper[E], ident: UUID) -> E | None:
        self._require_active()
        known: E | None = self._tracked[mapper.entity].get(ident)
        if known is not None:
            return known
        table = mapper.table
        rows = self._rows_by(table, {mapper.key: ident})
        return self._track(mapper, self._load(mapper, rows)[0]) if rows else None

    def _peek(self, mapper: m.Mapper[E], ident: UUID) -> E | None:
        """The entity as this unit of work sees it, without tracking it."""
        known: E | None = self._tracked[mapper.entity].get(ident)
        if known is not None:
            return known
        table = mapper.table
        rows = self._rows_by(table, {mapper.key: ident})
        return self._load(mapper, rows)[0] if rows else None

    def _find_unique(
        self, mapper: m.Mapper[E], column: str, value: object, read: Callable[[E], object]
    ) -> E | None:
        self._require_active()
        tracked: dict[UUID, E] = self._tracked[mapper.entity]
        for entity in tracked.values():
            if read(entity) == value:
                return entity
        table = mapper.table
        rows = self._rows_by(table, {column: value})
        if not rows or rows[0][mapper.key] in tracked:
            return None  # the tracked holder gave the value up in this unit of work
        return self._track(mapper, self._load(mapper, rows)[0])

    def _select_equal(
        self, mapper: m.Mapper[E], wanted: Mapping[str, object], sort_key: Callable[[E], Any]
    ) -> list[E]:
        """Entities whose columns (and attributes of the same names) equal ``wanted``.

        Like :meth:`_select`, this unit's own additions and changes are seen; the
        stored rows come from one look-up sent straight to the driver.
        """
        self._require_active()
        tracked: dict[UUID, E] = self._tracked[mapper.entity]

        def keep(entity: E) -> bool:
            return all(getattr(entity, name) == value for name, value in wanted.items())

        mine = [entity for entity in tracked.values() if keep(entity)]
        rows = [
            row for row in self._rows_by(mapper.table, wanted) if row[mapper.key] not in tracked
        ]
        found = sorted([*self._load(mapper, rows), *mine], key=sort_key)
        return [self._track(mapper, entity) for entity in found]

    def _select_tuples(
        self,
        mapper: m.Mapper[E],
        columns: tuple[str, ...],
        tuples: Sequence[tuple[Any, ...]],
        keep: Callable[[E], bool],
    ) -> list[E]:
        """Entities whose ``columns`` equal one of ``tuples`` (``keep``: the same test).

        As :meth:`_select_equal`: this unit's own additions and changes are seen,
        and the stored rows come from one look-up sent straight to the driver.
        """
        self._require_active()
        if not tuples:
            return []
        tracked: dict[UUID, E] = self._tracked[mapper.entity]
        mine = [entity for entity in tracked.values() if keep(entity)]
        connection = self._begin()
        count, parameters = d.tuple_parameters(columns, tuples)
        query = d.by_tuples(mapper.table, columns, count, connection.dialect)
        seen: set[UUID] = set()
        rows = []
        for row in d.fetch(connection, query, parameters):
            ident = row[mapper.key]
            if ident not in tracked and ident not in seen:
                seen.add(ident)
                rows.append(row)
        return [self._track(mapper, entity) for entity in [*self._load(mapper, rows), *mine]]

    def _select(
        self,
        mapper: m.Mapper[E],
        where: Iterable[ColumnElement[bool]],
        keep: Callable[[E], bool],
        sort_key: Callable[[E], Any],
        *,
        order_by: Sequence[ColumnElement[Any]],
        limit: int | None = None,
        newest_first: bool = False,
        source: FromClause | None = None,
    ) -> list[E]:
        """Entities matching ``where`` (in SQL) and ``keep`` (the same test in Python).

        Stored rows come from the database; entities this unit of work tracks
        are judged as they are now in memory, so uncommitted additions and
        changes are seen. With a ``limit``, enough rows are fetched to make up
        for tracked ones, so the result is exactly the first ``limit``.
        """
        self._require_active()
        tracked: dict[UUID, E] = self._tracked[mapper.entity]
        mine = [entity for entity in tracked.values() if keep(entity)]
        statement = select(mapper.table)
        if source is not None:
            statement = statement.select_from(source)
        statement = statement.where(*where).order_by(*order_by)
        if limit is not None:
            statement = statement.limit(limit + len(tracked))
        rows = [row for row in self._rows(statement) if row[mapper.key] not in tracked]
        found = sorted([*self._load(mapper, rows), *mine], key=sort_key, reverse=newest_first)
        if limit is not None:
            found = found[:limit]
        return [self._track(mapper, entity) for entity in found]

    def _page(
        self,
        mapper: m.Mapper[E],
        where: list[ColumnElement[bool]],
        keep: Callable[[E], bool],
        page: PageRequest,
        source: FromClause | None = None,
    ) -> Page[E]:
        """Newest first by ``(created_at, id)``, ``page.limit`` after ``page.cursor``."""
        after = page.after
        table = mapper.table

        def wanted(entity: Any) -> bool:
            return keep(entity) and (after is None or after.is_after(entity.created_at, entity.id))

        found = self._select(
            mapper,
            [*where, *q.keyset_after(table, after)],
            wanted,
            lambda entity: (entity.created_at, entity.id.bytes),  # type: ignore[attr-defined]
            order_by=[table.c.created_at.desc(), table.c.id.desc()],
            limit=page.limit + 1,
            newest_first=True,
            source=source,
        )
        chosen = found[: page.limit]
        if len(found) > page.limit and chosen:
            last: Any = chosen[-1]
            return Page(chosen, Cursor(last.created_at, last.id).encode())
        return Page(chosen, None)

    def _lock_row(
        self, mapper: m.Mapper[E], ident: UUID, *, parent: tuple[m.Mapper[Any], str] | None = None
    ) -> E | None:
        """The entity, its row locked until the transaction ends; refreshed if untouched.

        With ``parent=(mapper, foreign_key)``, the row the entity's ``foreign_key``
        points at comes in the same query (unlocked), and a later ``get`` of it is
        answered from memory: the caller saves a round trip while holding the lock.
        """
        self._require_active()
        tracked: dict[UUID, E] = self._tracked[mapper.entity]
        if ident in self._added[mapper.entity]:
            return tracked[ident]
        if self._sqlite:
            self._take_write_lock()
            if (mapper.entity, ident) in self._fresh:
                # Read under the write lock this transaction still holds: as locked.
                self._locked.append((mapper, ident))
                self._settled.add((mapper.entity, ident))
                return tracked[ident]
        lock = not self._sqlite
        wanted = {mapper.key: ident}
        rows = self._retrying(lambda: self._rows_by(mapper.table, wanted, lock, parent))
        if not rows:
            return None
        self._locked.append((mapper, ident))
        fresh = self._load(mapper, rows)[0]
        known = tracked.get(ident)
        if known is None:
            self._settled.add((mapper.entity, ident))
            return self._track(mapper, fresh)
        snapshot = self._snapshots[mapper.entity][ident]
        if (mapper.dump(known), mapper.dump_children(known)) == snapshot:
            self._settled.add((mapper.entity, ident))
            # Read before the lock and not changed since: bring it up to date.
            for field in attrs.fields(cast("type[attrs.AttrsInstance]", type(known))):
                if field.init:
                    setattr(known, field.name, getattr(fresh, field.name))
            self._snapshots[mapper.entity][ident] = (
                mapper.dump(known),
                mapper.dump_children(known),
            )
        return known

    def _count_by_assignee(self, statuses: set[str]) -> dict[StaffId, int]:
        """Bookings per assignee in ``statuses``: stored rows plus this unit's own view."""
        self._require_active()
        c = m.BOOKINGS.table.c
        tracked: dict[UUID, Booking] = self._tracked[m.BOOKINGS.entity]
        counts: dict[StaffId, int] = defaultdict(int)
        if statuses:
            statement = (
                select(c.assignee_id, func.count())
                .where(c.assignee_id.is_not(None), c.status.in_(sorted(statuses)))
                .group_by(c.assignee_id)
            )
            if tracked:
                statement = statement.where(c.id.not_in(list(tracked)))
            for assignee, count in self._begin().execute(statement):
                counts[StaffId(assignee)] += count
        for booking in tracked.values():
            if booking.assignee_id is not None and booking.status in statuses:
                counts[booking.assignee_id] += 1
        return dict(counts)

    def _ordered_text(self, column: ColumnElement[str]) -> ColumnElement[str]:
        """``column`` in code-point order, as Python sorts strings."""
        return column.collate("C") if self._postgres else column


def _sqlstate(exc: DBAPIError) -> str | None:
    state = getattr(exc.orig, "sqlstate", None) or getattr(exc.orig, "pgcode", None)
    return state if isinstance(state, str) else None


def _partial_unique_where(table: Table, columns: list[str]) -> list[ColumnElement[bool]]:
    """The condition of a partial unique index on ``columns`` (only rows it covers clash)."""
    for index in table.indexes:
        if index.unique and [column.name for column in index.columns] == columns:
            found = (index.dialect_kwargs.get(f"{name}_where") for name in ("postgresql", "sqlite"))
            return [where for where in found if where is not None][:1]
    return []


def _unique_columns(exc: IntegrityError) -> list[str] | None:
    """The columns of the unique key ``exc`` reports, or None when it is another violation."""
    orig = exc.orig
    if _sqlstate(exc) == "23505":
        name = getattr(getattr(orig, "diag", None), "constraint_name", None)
        for table in m.MAPPERS:
            for constraint in [*table.table.constraints]:
                if constraint.name == name:
                    return [column.name for column in constraint.columns]  # type: ignore[attr-defined]
            for index in table.table.indexes:  # a partial unique key is an index
                if index.name == name:
                    return [column.name for column in index.columns]
        return []
    text = str(orig)
    if text.startswith("UNIQUE constraint failed:"):
        listed = text.partition(":")[2].split(",")
        return [item.strip().rpartition(".")[2] for item in listed]
    return None


# --------------------------------------------------------------------------- statements
# Built once per table and shape, then executed with parameters: SQLAlchemy skips
# constructing and keying a new statement on every call, which is most of its cost.


@functools.cache
def _children_select(child: Table) -> Select[Any]:
    """The child rows of the bookings whose ids are the parameter ``ids``."""
    return select(child).where(child.c.booking_id.in_(bindparam("ids", expanding=True)))


# --------------------------------------------------------------------------- repositories


I = TypeVar("I", bound=UUID)  # noqa: E741


class _CodedRepository(Repository[E], Generic[E, I]):
    def get(self, row_id: I) -> E | None:
        return self._get(row_id)

    def get_by_code(self, code: str) -> E | None:
        clean = code.strip().upper()
        return self._uow._find_unique(self._mapper, "code", clean, lambda e: e.code)  # type: ignore[attr-defined]

    def list(self, *, only_active: bool = False) -> Sequence[E]:
        c = self._table.c
        return self._uow._select(
            self._mapper,
            [c.is_active.is_(True)] if only_active else [],
            lambda e: e.is_active or not only_active,  # type: ignore[attr-defined]
            lambda e: e.code,  # type: ignore[attr-defined]
            order_by=[self._uow._ordered_text(c.code)],
        )


class _CustomerRepository(Repository[Customer]):
    def get(self, customer_id: CustomerId) -> Customer | None:
        return self._get(customer_id)

    def get_by_phone(self, phone: PhoneNumber) -> Customer | None:
        return self._uow._find_unique(self._mapper, "phone", phone.e164, lambda c: c.phone.e164)

    def find_by_phones(self, phones: Collection[PhoneNumber]) -> Mapping[PhoneNumber, Customer]:
        wanted = {phone.e164 for phone in phones}
        if not wanted:
            return {}
        found = self._uow._select(
            self._mapper,
            [self._table.c.phone.in_(sorted(wanted))],
            lambda c: c.phone.e164 in wanted,
            lambda c: c.phone.e164,
            order_by=[self._table.c.phone],
        )
        return {c.phone: c for c in found}

    def find_by_emails(self, emails: Collection[EmailAddress]) -> Mapping[EmailAddress, Customer]:
        wanted = {email.value for email in emails}
        if not wanted:
            return {}
        c = self._table.c
        found = self._oldest_first(
            [c.email.in_(sorted(wanted))],
            lambda x: x.email is not None and x.email.value in wanted,
        )
        by_email: dict[EmailAddress, Customer] = {}
        for customer in found:
            if customer.email is not None:
                by_email.setdefault(customer.email, customer)
        return by_email

    def list(self, query: CustomerFilter, page: PageRequest) -> Page[Customer]:
        where = q.customer_where(query, self._uow._search)
        return self._uow._page(self._mapper, where, query.matches, page)


class _TravelerRepository(Repository[Traveler]):
    def get(self, traveler_id: TravelerId) -> Traveler | None:
        return self._get(traveler_id)

    def list_for_customer(
        self, customer_id: CustomerId, *, include_deleted: bool = False
    ) -> Sequence[Traveler]:
        c = self._table.c
        where = [c.customer_id == customer_id]
        if not include_deleted:
            where.append(c.deleted_at.is_(None))
        return self._oldest_first(
            where,
            lambda t: t.customer_id == customer_id and (include_deleted or t.deleted_at is None),
        )

    def list_for_customers(
        self, customer_ids: Collection[CustomerId]
    ) -> Mapping[CustomerId, Sequence[Traveler]]:
        wanted = set(customer_ids)
        if not wanted:
            return {}
        c = self._table.c
        found = self._oldest_first(
            [c.customer_id.in_(sorted(wanted, key=lambda i: i.bytes)), c.deleted_at.is_(None)],
            lambda t: t.customer_id in wanted and t.deleted_at is None,
        )
        by_customer: dict[CustomerId, list[Traveler]] = {}
        for traveler in found:
            by_customer.setdefault(traveler.customer_id, []).append(traveler)
        return by_customer


class _SlotRepository(Repository[Slot]):
    def get(self, slot_id: SlotId) -> Slot | None:
        return self._get(slot_id)

    def get_for_update(self, slot_id: SlotId) -> Slot | None:
        # Booking reads the slot's location next, while it holds the slot's lock.
        return self._uow._lock_row(self._mapper, slot_id, parent=(m.LOCATIONS, "location_id"))

    def list(self, query: SlotFilter) -> Sequence[Slot]:
        c = self._table.c
        return self._uow._select(
            self._mapper,
            q.slot_where(query),
            query.matches,
            lambda s: (s.starts_at, s.id.bytes),
            order_by=[c.starts_at, c.id],
        )

    def find_at(self, starts: Collection[tuple[LocationId, datetime]]) -> Sequence[Slot]:
        return self._find(("location_id", "starts_at"), starts, _slot_at)

    def find_exact(
        self, keys: Collection[tuple[LocationId, ProductId | None, datetime]]
    ) -> Sequence[Slot]:
        return self._find(("location_id", "product_id", "starts_at"), keys, _slot_key)

    def _find(
        self,
        columns: tuple[str, ...],
        wanted: Collection[tuple[Any, ...]],
        key: Callable[[Slot], tuple[Any, ...]],
    ) -> builtins.list[Slot]:
        ordered = list(set(wanted))
        found: builtins.list[Slot] = []
        for start in range(0, len(ordered), d.TUPLE_COUNTS[-1]):
            batch = ordered[start : start + d.TUPLE_COUNTS[-1]]
            asked = set(batch)
            found.extend(
                self._uow._select_tuples(
                    self._mapper,
                    columns,
                    batch,
                    lambda s, asked=asked: key(s) in asked,  # type: ignore[misc]
                )
            )
        return sorted(found, key=lambda s: (s.starts_at, s.id.bytes))


def _slot_at(slot: Slot) -> tuple[Any, ...]:
    return (slot.location_id, slot.starts_at)


def _slot_key(slot: Slot) -> tuple[Any, ...]:
    return (slot.location_id, slot.product_id, slot.starts_at)


class _BookingRepository(Repository[Booking]):
    def get(self, booking_id: BookingId) -> Booking | None:
        return self._get(booking_id)

    def _by(self, column: str, value: str) -> Booking | None:
        return self._uow._find_unique(
            self._mapper, column, value, lambda b: getattr(b, column, None)
        )

    def get_for_update(self, booking_id: BookingId) -> Booking | None:
        return self._uow._lock_row(self._mapper, booking_id)

    def get_by_reference(self, reference: str) -> Booking | None:
        return self._by("reference", reference)

    def get_by_idempotency_key(self, key: str) -> Booking | None:
        return self._by("idempotency_key", key)

    def get_by_external_id(self, external_id: str) -> Booking | None:
        return self._by("external_id", external_id)

    def _find_by(self, column: str, values: Collection[str]) -> dict[str, Booking]:
        wanted = set(values)
        if not wanted:
            return {}
        found = self._uow._select(
            self._mapper,
            [self._table.c[column].in_(sorted(wanted))],
            lambda b: getattr(b, column) in wanted,
            lambda b: getattr(b, column),
            order_by=[self._table.c[column]],
        )
        return {getattr(b, column): b for b in found if getattr(b, column) is not None}

    def find_by_external_ids(self, external_ids: Collection[str]) -> Mapping[str, Booking]:
        return self._find_by("external_id", external_ids)

    def find_by_idempotency_keys(self, keys: Collection[str]) -> Mapping[str, Booking]:
        return self._find_by("idempotency_key", keys)

    def count_by_assignee(self, statuses: Collection[str]) -> Mapping[StaffId, int]:
        return self._uow._count_by_assignee(set(statuses))

    def list_for_customer_slot(self, customer_id: CustomerId, slot_id: SlotId) -> Sequence[Booking]:
        return self._oldest_with(customer_id=customer_id, slot_id=slot_id)

    def list(self, query: BookingFilter, page: PageRequest) -> Page[Booking]:
        where, source = q.booking_where(query, self._uow._search)
        customers: dict[UUID, Customer | None] = {}

        def customer(customer_id: CustomerId) -> Customer | None:
            if customer_id not in customers:
                customers[customer_id] = self._uow._peek(m.CUSTOMERS, customer_id)
            return customers[customer_id]

        def keep(booking: Booking) -> bool:
            return query.matches(booking, customer(booking.customer_id) if query.text else None)

        return self._uow._page(self._mapper, where, keep, page, source)


class _PartnerRepository(Repository[Partner]):
    def get(self, partner_id: PartnerId) -> Partner | None:
        return self._get(partner_id)

    def get_by_api_key(self, api_key: str) -> Partner | None:
        return self._uow._find_unique(self._mapper, "api_key", api_key, lambda p: p.api_key)

    def list(self, *, only_active: bool = False) -> Sequence[Partner]:
        c = self._table.c
        return self._uow._select(
            self._mapper,
            [c.is_active.is_(True)] if only_active else [],
            lambda p: p.is_active or not only_active,
            lambda p: (p.name, p.id.bytes),
            order_by=[self._uow._ordered_text(c.name), c.id],
        )


class _LifecycleEventRepository(Repository[LifecycleEvent]):
    def list_for_booking(self, booking_id: BookingId) -> Sequence[LifecycleEvent]:
        c = self._table.c
        return self._uow._select(
            self._mapper,
            [c.booking_id == booking_id],
            lambda e: e.booking_id == booking_id,
            lambda e: e.booking_version,
            order_by=[c.booking_version],
        )

    def get_by_idempotency_key(self, key: str) -> LifecycleEvent | None:
        return self._uow._find_unique(
            self._mapper, "idempotency_key", key, lambda e: e.idempotency_key
        )


class _AuditRepository(Repository[AuditEntry]):
    def list_for(self, entity: str, entity_id: UUID) -> Sequence[AuditEntry]:
        c = self._table.c
        return self._uow._select(
            self._mapper,
            [c.entity == entity, c.entity_id == entity_id],
            lambda a: a.entity == entity and a.entity_id == entity_id,
            lambda a: (a.occurred_at, a.id.bytes),
            order_by=[c.created_at, c.id],
        )


class _OutboxRepository(Repository[OutboxMessage]):
    def add(self, event: DomainEvent) -> None:  # type: ignore[override]
        self._uow._add(self._mapper, OutboxMessage(event))

    def get(self, event_id: UUID) -> OutboxMessage | None:
        return self._get(event_id)

    def list_undispatched(self, limit: int) -> Sequence[OutboxMessage]:
        c = self._table.c
        return self._oldest(c.dispatched_at, lambda m: m.dispatched_at is None, limit)

    def list_unpublished(self, limit: int) -> Sequence[OutboxMessage]:
        c = self._table.c
        return self._oldest(c.published_at, lambda m: m.published_at is None, limit)

    def _oldest(
        self,
        column: ColumnElement[datetime],
        keep: Callable[[OutboxMessage], bool],
        limit: int,
    ) -> list[OutboxMessage]:
        # Messages added in this unit of work have no sequence yet: they come last.
        return self._uow._select(
            self._mapper,
            [column.is_(None)],
            keep,
            lambda m: (m.sequence is None, m.sequence or 0),
            order_by=[self._table.c.sequence],
            limit=limit,
        )


class _DeliveryRepository(Repository[Delivery]):
    def get(self, event_id: UUID, handler: str) -> Delivery | None:
        return self._get(Delivery.key(event_id, handler))

    def list_for_event(self, event_id: UUID) -> Sequence[Delivery]:
        c = self._table.c
        return self._uow._select(
            self._mapper,
            [c.event_id == event_id],
            lambda d: d.event_id == event_id,
            lambda d: d.handler,
            order_by=[self._uow._ordered_text(c.handler)],
        )

    def list_due(self, now: datetime, limit: int) -> Sequence[Delivery]:
        c = self._table.c
        due_at = func.coalesce(c.next_attempt_at, literal(now, UtcDateTime()))
        return self._uow._select(
            self._mapper,
            [
                c.status == DeliveryStatus.RETRYING.value,
                (c.next_attempt_at.is_(None)) | (c.next_attempt_at <= now),
            ],
            lambda d: d.is_due(now),
            lambda d: (d.next_attempt_at or now, d.handler, d.id.bytes),
            order_by=[due_at, self._uow._ordered_text(c.handler), c.id],
            limit=limit,
        )


class _CommunicationRepository(Repository[Communication]):
    def get(self, communication_id: CommunicationId) -> Communication | None:
        return self._get(communication_id)

    def get_by_dedupe_key(self, key: str) -> Communication | None:
        return self._uow._find_unique(self._mapper, "dedupe_key", key, lambda c: c.dedupe_key)

    def get_by_provider_message_id(self, provider_message_id: str) -> Communication | None:
        return self._uow._find_unique(
            self._mapper,
            "provider_message_id",
            provider_message_id,
            lambda c: c.provider_message_id,
        )

    def list_for_booking(self, booking_id: BookingId) -> Sequence[Communication]:
        return self._oldest_with(booking_id=booking_id)

    def list_for_customer(self, customer_id: CustomerId) -> Sequence[Communication]:
        return self._oldest_with(customer_id=customer_id)


class _DocumentRepository(Repository[Document]):
    def get(self, document_id: DocumentId) -> Document | None:
        return self._get(document_id)

    def list_for_booking(self, booking_id: BookingId) -> Sequence[Document]:
        return self._oldest_with(booking_id=booking_id)


class _StaffRepository(Repository[StaffMember]):
    def get(self, staff_id: StaffId) -> StaffMember | None:
        return self._get(staff_id)

    def get_by_email(self, email: EmailAddress) -> StaffMember | None:
        return self._uow._find_unique(self._mapper, "email", email.value, lambda s: s.email.value)

    def list(self, *, role: str | None = None, only_active: bool = False) -> Sequence[StaffMember]:
        c = self._table.c
        where: list[ColumnElement[bool]] = []
        if role is not None:
            where.append(c.role == role)
        if only_active:
            where.append(c.is_active.is_(True))
        return self._uow._select(
            self._mapper,
            where,
            lambda s: (role is None or s.role == role) and (s.is_active or not only_active),
            lambda s: s.email.value,
            order_by=[c.email],
        )


class _ImportJobRepository(Repository[ImportJob]):
    def get(self, job_id: UUID) -> ImportJob | None:
        return self._get(job_id)

    def get_for_update(self, job_id: UUID) -> ImportJob | None:
        return self._uow._lock_row(self._mapper, job_id)

    def list(self, page: PageRequest) -> Page[ImportJob]:
        return self._uow._page(self._mapper, [], lambda _: True, page)


class _ImportErrorRepository(Repository[ImportRowError]):
    def list_for_job(
        self, job_id: UUID, *, unresolved_only: bool = False
    ) -> Sequence[ImportRowError]:
        c = self._table.c
        where = [c.import_id == job_id]
        if unresolved_only:
            where.append(c.resolved_at.is_(None))
        return self._uow._select(
            self._mapper,
            where,
            lambda e: e.job_id == job_id and (e.resolved_at is None or not unresolved_only),
            lambda e: (e.row_number, e.created_at),
            order_by=[c.row_number, c.created_at],
        )


class _AuthSessionRepository(Repository[AuthSession]):
    def get(self, session_id: UUID) -> AuthSession | None:
        return self._get(session_id)

    def get_for_update(self, session_id: UUID) -> AuthSession | None:
        return self._uow._lock_row(self._mapper, session_id)

    def list_for_subject(
        self, kind: str, subject_id: UUID, *, active_at: datetime | None = None
    ) -> Sequence[AuthSession]:
        c = self._table.c
        where = [c.kind == str(kind), c.subject_id == subject_id]
        if active_at is not None:
            where += [c.revoked_at.is_(None), c.expires_at > active_at]
        return self._uow._select(
            self._mapper,
            where,
            lambda s: (
                s.kind == kind
                and s.subject_id == subject_id
                and (active_at is None or s.is_active(active_at))
            ),
            lambda s: (s.created_at, s.id.bytes),
            order_by=[c.created_at.desc(), c.id.desc()],
            newest_first=True,
        )

    def delete_expired(self, now: datetime) -> int:
        """DELETE at once, inside this unit of work's transaction (undone without a commit).

        Sessions this unit of work tracks are judged as they are in memory and
        forgotten when they go, so commit neither writes nor resurrects them.
        """
        uow = self._uow
        uow._require_active()
        name, c = self._mapper.entity, self._table.c
        tracked: dict[UUID, AuthSession] = uow._tracked[name]
        added = uow._added[name]
        gone = [ident for ident, session in tracked.items() if session.expires_at <= now]
        stored = [ident for ident in gone if ident not in added]
        untracked = [c.expires_at <= now]
        if tracked:
            untracked.append(c.id.not_in(list(tracked)))
        if uow._sqlite:
            uow._take_write_lock()

        def remove() -> int:
            connection = uow._begin()
            removed = connection.execute(delete(self._table).where(*untracked)).rowcount
            if stored:
                statement = delete(self._table).where(c.id.in_(stored))
                removed += connection.execute(statement).rowcount
            return removed

        removed = uow._retrying(remove) + len(gone) - len(stored)
        for ident in gone:
            del tracked[ident]
            uow._snapshots[name].pop(ident, None)
            added.pop(ident, None)
        return removed
