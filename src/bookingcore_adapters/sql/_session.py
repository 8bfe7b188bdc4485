"""The data mapper's session: an identity map, snapshots, and one transaction.

:class:`Session` is what :class:`~bookingcore_adapters.sql.SqlUnitOfWork` runs
on and what every repository reads and writes through: it tracks each entity
read (one object per id) with a snapshot of its rows, and on :meth:`Session.commit`
writes the additions and changes, parents before children, each versioned row
only if its version is still the one read. It knows mappers, not families:
the unit of work hands it the mappers in the order a commit writes them.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import random
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from types import MappingProxyType
from typing import Any, TypeVar, cast
from uuid import UUID

import attrs
from sqlalchemy import (
    ColumnElement,
    Connection,
    FromClause,
    RootTransaction,
    Select,
    Table,
    UniqueConstraint,
    bindparam,
    delete,
    insert,
    select,
    update,
)
from sqlalchemy.exc import DBAPIError, IntegrityError, SQLAlchemyError

from bookingcore.domain.queries import Cursor, Page, PageRequest
from bookingcore.errors import (
    ConcurrentUpdateError,
    ConflictError,
    DuplicateError,
    ReadOnlyError,
    StaleVersionError,
    ValidationError,
)
from bookingcore_adapters.sql import _driver as d
from bookingcore_adapters.sql import _mapper as m
from bookingcore_adapters.sql import _queries as q
from bookingcore_adapters.sql._engine import (
    BEGIN_STATEMENT,
    CONCURRENCY_STATES,
    RETRY_PAUSE,
    StoreSettings,
    sqlstate,
)

__all__ = ["Session"]

E = TypeVar("E")
T = TypeVar("T")
Snapshot = tuple[m.Row, Sequence[m.Row]]

_log = logging.getLogger("bookingcore.sql")
#: What :meth:`Session._own` gives in a read-only unit of work.
_NOTHING: Mapping[UUID, Any] = MappingProxyType({})


class Session:
    """The identity map, snapshots and transaction of one unit of work over a store.

    ``mappers`` are every entity type the session may track, parents before
    children: the order a commit writes in. Repositories call its public
    methods; :class:`~bookingcore_adapters.sql.SqlUnitOfWork` opens, commits,
    rolls back and closes it.
    """

    def __init__(self, store: StoreSettings, mappers: Sequence[m.Mapper[Any]]) -> None:
        self._store = store
        self._mappers = tuple(mappers)
        self._sqlite = store.dialect == "sqlite"
        self._postgres = store.dialect == "postgresql"
        #: The text search of this store's dialect (for the repositories' filters).
        self.search = q.TextSearch(store.dialect)
        self._connection: Connection | None = None
        self._transaction: RootTransaction | None = None
        # A read-only session's connection in autocommit (PostgreSQL at READ COMMITTED):
        # no transaction of SQLAlchemy's is begun on it, none being sent to the server.
        self._autocommit = False
        self._holds_write_lock = False
        self._locked: list[tuple[m.Mapper[Any], UUID]] = []
        # Rows inserted at once by add_if_new (mapper, row, conflict columns), to redo on a retry.
        self._claimed: list[tuple[m.Mapper[Any], m.Row, tuple[str, ...]]] = []
        # Counters moved on at once by increment_now (mapper, id, column), to redo on a retry.
        self._bumped: list[tuple[m.Mapper[Any], UUID, str]] = []
        # Locked rows whose snapshot was read under the lock: their versions cannot move.
        self._settled: set[tuple[str, UUID]] = set()
        # SQLite: rows read while this transaction held the write lock. Nobody can
        # change them until it ends, so locking one of them again needs no query.
        self._fresh: set[tuple[str, UUID]] = set()
        # (entity, column, value): every stored row with that value was read under a lock
        # this transaction holds (lock_unique's ``along``), so select_equal needs no query.
        self._complete: set[tuple[str, str, object]] = set()
        # psycopg: look-ups on cursors of their own and the writes in one pipeline, straight
        # to the driver (see _driver); otherwise every statement goes through SQLAlchemy.
        self._direct = store.pipelined
        # Whether the statements sent straight to the driver are logged with their values.
        self._log_parameters = store.log_parameters
        self._active = False
        self._read_only = False
        self._tracked: dict[str, dict[UUID, Any]] = defaultdict(dict)
        self._snapshots: dict[str, dict[UUID, Snapshot]] = defaultdict(dict)
        self._added: dict[str, dict[UUID, None]] = defaultdict(dict)

    # ------------------------------------------------------------------ the protocol

    def make_read_only(self) -> None:
        """Refuse every write and lock from now on (before :meth:`open`).

        On PostgreSQL, when the store runs at the server's ``READ COMMITTED``,
        statements then run on an autocommit connection: no ``BEGIN`` and
        ``ROLLBACK`` round trips, and each statement sees what was committed
        when it started, as it would inside a ``READ COMMITTED`` transaction.
        On SQLite the reads keep one transaction (one snapshot).
        """
        if self._active:
            msg = "make the unit of work read-only before its `with` block begins"
            raise RuntimeError(msg)
        self._read_only = True

    def _require_writable(self, operation: str, mapper: m.Mapper[Any] | None = None) -> None:
        if self._read_only:
            raise ReadOnlyError(operation, None if mapper is None else mapper.entity)

    def open(self) -> None:
        """Start using the session (the unit of work's ``with`` block begins)."""
        self._active = True
        self.rollback()

    def close(self) -> None:
        """Roll back what is left and give the connection back to the pool."""
        try:
            self.rollback()
        finally:
            self._active = False
            self._autocommit = False
            connection, self._connection = self._connection, None
            if connection is not None:
                connection.close()

    def commit(self) -> None:
        """Write every added and changed entity in one transaction, or nothing.

        Raises (see :meth:`SqlUnitOfWork.commit`):
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
        if self._read_only:
            raise ReadOnlyError("commit a change to", writes[0].mapper.entity)
        if self._sqlite:
            self._take_write_lock()
        try:
            sequences = self.retrying(lambda: self._write_and_commit(writes))
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
        for batch in writes:
            mapper = batch.mapper
            snapshots = self._snapshots[mapper.entity]
            for write in batch.changed:
                snapshots[mapper.identity(write.entity)] = (write.row, write.children)
            if sequences and mapper.generated is not None:
                for ident, entity in zip(batch.idents, batch.added, strict=True):
                    if ident in sequences:
                        entity.sequence = sequences[ident]
            states = zip(batch.rows, batch.children, strict=True)
            snapshots.update(zip(batch.idents, states, strict=True))
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
        # Each entity's map is made when first used: a unit of work touches a few of
        # the thirty-odd entities, and forgets three times (made, opened, closed):
        # maps still empty are kept.
        if self._tracked:
            self._tracked = defaultdict(dict)
        if self._snapshots:
            self._snapshots = defaultdict(dict)
        if self._added:
            self._added = defaultdict(dict)

    def _begin(self, *, write_lock: bool = False) -> Connection:
        """The connection, inside a transaction (begun now if none is open); in
        autocommit (a read-only session on PostgreSQL), without one."""
        self._require_active()
        connection = self._connection
        if connection is None:
            connection = self._store.engine.connect()
            if self._read_only and self._postgres and _read_committed(connection):
                connection = connection.execution_options(isolation_level="AUTOCOMMIT")
                self._autocommit = True
            self._connection = connection
        if self._transaction is None and not self._autocommit:
            if self._sqlite:
                statement = "BEGIN IMMEDIATE" if write_lock else "BEGIN"
                connection.info[BEGIN_STATEMENT] = statement
            self._transaction = connection.begin()
            self._holds_write_lock = write_lock
        return connection

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
        self._claimed = []
        self._bumped = []
        self._settled.clear()
        self._fresh.clear()
        self._complete.clear()
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
        self._claimed = []
        self._bumped = []
        self._settled.clear()
        self._fresh.clear()
        self._complete.clear()
        if transaction is not None and transaction.is_active:
            transaction.rollback()

    def retrying(self, step: Callable[[], T]) -> T:
        """Run ``step``; after a deadlock or serialization failure, roll back and repeat it.

        The database has already undone the transaction, so before each repeat
        the rows this unit of work had locked are locked again, in the same
        order, and must read exactly as they did: everything decided under
        those locks (seats left, a version) still holds, and the step can run
        again as if nothing happened. Up to the store's ``retries`` repeats,
        with a short random pause; then :class:`ConcurrentUpdateError`.
        """
        locked: list[tuple[m.Mapper[Any], UUID]] = []
        claimed: list[tuple[m.Mapper[Any], m.Row, tuple[str, ...]]] = []
        bumped: list[tuple[m.Mapper[Any], UUID, str]] = []
        attempt = 0
        while True:
            try:
                if attempt:
                    self._claim_again(claimed)
                    self._lock_again(locked)
                    self._bump_again(bumped)
                return step()
            except DBAPIError as exc:
                if sqlstate(exc) not in CONCURRENCY_STATES:
                    raise
                if not attempt:
                    locked = list(self._locked)
                    claimed = list(self._claimed)
                    bumped = list(self._bumped)
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
                time.sleep(random.uniform(0, RETRY_PAUSE * 2**attempt))  # noqa: S311 - jitter

    def _claim_again(self, claimed: Sequence[tuple[m.Mapper[Any], m.Row, tuple[str, ...]]]) -> None:
        """Insert again the rows ``add_if_new`` had inserted; refuse if one is taken meanwhile."""
        for mapper, row, conflict in claimed:
            if not self._insert_if_new(mapper, row, conflict):
                self._abandon_transaction()
                msg = (
                    f"another transaction stored {mapper.entity} {row[mapper.key]} while this "
                    "one waited to retry after a deadlock; nothing was written, try again"
                )
                raise ConcurrentUpdateError(msg, attempts=len(claimed))
            self._claimed.append((mapper, row, conflict))

    def _lock_again(self, locked: Sequence[tuple[m.Mapper[Any], UUID]]) -> None:
        """Take ``locked`` rows' locks again; refuse if one changed since it was first locked."""
        for mapper, ident in locked:
            rows = self._rows_by(mapper.table, {mapper.key: ident}, lock=True)
            self._locked.append((mapper, ident))
            self._still_as_first_read(mapper, ident, rows, attempts=len(locked))

    def _bump_again(self, bumped: Sequence[tuple[m.Mapper[Any], UUID, str]]) -> None:
        """Move ``bumped`` counters on again; refuse if one is not where it was first taken."""
        for mapper, ident, column in bumped:
            rows = self._increment(mapper, ident, column)
            self._bumped.append((mapper, ident, column))
            self._still_as_first_read(mapper, ident, rows, attempts=len(bumped))

    def _still_as_first_read(
        self, mapper: m.Mapper[Any], ident: UUID, rows: Sequence[m.Stored], *, attempts: int
    ) -> None:
        """Settle ``ident`` as re-read in ``rows``, or abandon the transaction and refuse
        when it no longer reads as it did the first time."""
        self._settled.add((mapper.entity, ident))
        first = self._snapshots[mapper.entity].get(ident)
        fresh = self._load(mapper, rows)[0] if rows else None
        if fresh is None or (mapper.dump(fresh), mapper.dump_children(fresh)) != first:
            self._abandon_transaction()
            msg = (
                f"{mapper.entity} {ident} changed while this transaction waited to "
                "retry after a deadlock; nothing was written, try again"
            )
            raise ConcurrentUpdateError(msg, attempts=attempts)

    def _write_and_commit(self, writes: list[d.Writes]) -> dict[UUID, int]:
        connection = self._begin()
        statements = d.plan(writes, connection.dialect)
        if self._direct:
            commit = self._settled_all(writes)
            outcome = d.run_pipelined(
                connection, list(statements), commit=commit, log_parameters=self._log_parameters
            )
        else:
            outcome = d.run_each(connection, statements)
        if outcome.stale:
            raise self._stale(outcome.stale[0])
        self._end_transaction()
        return outcome.sequences

    def _stale(self, suspects: tuple[d.Write, ...]) -> StaleVersionError:
        """The error for the first of ``suspects`` (the entities of one versioned UPDATE
        that changed fewer rows than it has entities) whose stored version moved since
        it was read. Leaves the transaction abandoned when there are several.
        """
        if len(suspects) == 1:
            return self._stale_now(suspects[0], self._begin())
        # In this transaction the rows the UPDATE did change hold their new versions,
        # which another writer may have given the stale row too: the versions are read
        # once this transaction's writes are undone.
        self._abandon_transaction()
        connection = self._begin()
        for write in suspects:
            error = self._stale_now(write, connection)
            if error.actual != error.expected:
                return error
        return self._stale_now(suspects[0], connection)  # pragma: no cover - deleted meanwhile

    @staticmethod
    def _stale_now(write: d.Write, connection: Connection) -> StaleVersionError:
        """``write``'s entity as stale: the version it was read at and the one stored now."""
        mapper, table = write.mapper, write.mapper.table
        ident = write.row[mapper.key]
        read = write.before[0]["version"]
        actual = connection.execute(
            select(table.c.version).where(table.c[mapper.key] == ident)
        ).scalar()
        return StaleVersionError(mapper.entity, ident, read, actual or 0)

    def _settled_all(self, writes: list[d.Writes]) -> bool:
        """Whether no versioned UPDATE of ``writes`` can find its row changed.

        True when every one is of a row this transaction locked and read under
        its lock: nobody else can have moved its version since, so the
        statements can be committed without first looking at their results.
        """
        settled = self._settled
        return all(
            not batch.mapper.versioned
            or all(
                (batch.mapper.entity, write.row[batch.mapper.key]) in settled
                for write in batch.changed
            )
            for batch in writes
        )

    # ------------------------------------------------------------------ writing

    def _changes(self) -> list[d.Writes]:
        """What a commit writes, one :class:`~bookingcore_adapters.sql._driver.Writes` per
        mapper that has something to write, in the order of the mappers."""
        writes: list[d.Writes] = []
        for mapper in self._mappers:
            tracked = self._tracked.get(mapper.entity)
            if not tracked:
                continue
            added = self._added[mapper.entity]
            snapshots = self._snapshots[mapper.entity]
            dump, dump_children = mapper.dump, mapper.dump_children
            batch = d.Writes(mapper)
            changed = batch.changed.append
            new, idents, rows, children_of = (
                batch.added.append,
                batch.idents.append,
                batch.rows.append,
                batch.children.append,
            )
            for ident, entity in tracked.items():
                row, children = dump(entity), dump_children(entity)
                if ident in added:
                    new(entity)
                    idents(ident)
                    rows(row)
                    children_of(children)
                    continue
                before = snapshots[ident]
                if before != (row, children):
                    changed(d.Write(mapper, entity, row, children, before))
            if batch:
                writes.append(batch)
        return writes

    def _explain(self, refused: d.Refused, writes: list[d.Writes]) -> ConflictError:
        """The bookingcore error for a write the database refused (after the rollback)."""
        mapper, table = refused.mapper, refused.mapper.table
        columns = _unique_columns(refused.error, self._mappers)
        if columns is None:
            missing = self._missing(mapper, writes) if _foreign_key(refused.error) else None
            if missing is not None:
                return missing
            msg = f"the database refused this {mapper.entity}: {refused.error.orig}"
            return ConflictError(msg)
        if not columns or not set(columns) <= set(table.c.keys()):
            columns = [mapper.key]
        # The rows the mapper wrote, in the order its entities were tracked.
        written: dict[UUID, m.Row] = {}
        inserted: dict[UUID, m.Row] = {}
        for batch in writes:
            if batch.mapper is mapper:
                written.update((mapper.identity(w.entity), w.row) for w in batch.changed)
                inserted.update(zip(batch.idents, batch.rows, strict=True))
        written.update(inserted)
        tracked = self._tracked[mapper.entity]
        rows = [written[ident] for ident in tracked if ident in written]
        # The database names the first key it found taken, and SQLite and PostgreSQL
        # check a row's keys in different orders: the error names the first one taken
        # in one order, the same on both (the id of a new row, then each unique key by
        # its first column's place in the table).
        holder: UUID | None = None
        values: tuple[Any, ...] | None = None
        if inserted:
            new = [inserted[ident] for ident in tracked if ident in inserted]
            holder, values = self._holder(mapper, new, [mapper.key])
            if holder is not None:
                columns = [mapper.key]
        # First leaving out rows this commit gives a key up from (their key moves to
        # another row: no clash), then with them (rows swapping keys clash).
        for moving in (written, None):
            if holder is not None:
                break
            for key_columns in _unique_keys(table):
                holder, values = self._holder(mapper, rows, key_columns, moving)
                if holder is not None:
                    columns = key_columns
                    break
        if columns == [mapper.key]:
            msg = f"{mapper.entity} {holder or 'with this id'} exists already"
        else:
            value = ""
            if values is not None:
                value = f" {values[0]!r}" if len(values) == 1 else f" {values!r}"
            msg = f"{mapper.entity} {', '.join(columns)}{value} is already taken"
        return DuplicateError(msg, entity=mapper.entity, existing_id=holder)

    def _missing(self, mapper: m.Mapper[Any], writes: list[d.Writes]) -> ConflictError | None:
        """The error naming the first foreign key of ``mapper``'s rows (or child rows)
        written by this commit that names a row neither stored nor added by the commit
        (after the rollback), as the memory store words it; None if none is found."""
        added: dict[str, set[Any]] = defaultdict(set)
        for batch in writes:
            added[batch.mapper.table.name].update(batch.idents)
        rows: list[tuple[Any, Table, m.Row]] = []
        for batch in writes:
            if batch.mapper is not mapper:
                continue
            written = [(w.row, w.children) for w in batch.changed]
            written += zip(batch.rows, batch.children, strict=True)
            for row, children in written:
                rows.append((row[mapper.key], mapper.table, row))
                if mapper.child_table is not None:
                    rows += [(row[mapper.key], mapper.child_table, child) for child in children]
        # (owner's id, column, parent column, value) of every reference to check, in order.
        named = [
            (owner, key.parent.name, key.column, row[key.parent.name])
            for owner, table, row in rows
            for key in table.foreign_keys
            if row.get(key.parent.name) is not None
            and row[key.parent.name] not in added[key.column.table.name]
        ]
        entities = {mp.table.name: mp.entity for mp in self._mappers}
        try:
            with contextlib.suppress(SQLAlchemyError):
                stored: set[tuple[str, Any]] = set()
                for parent in {column for _, _, column, _ in named}:
                    wanted = sorted({value for _, _, c, value in named if c is parent}, key=str)
                    for start in range(0, len(wanted), 500):
                        chunk = wanted[start : start + 500]
                        found = self._begin().execute(select(parent).where(parent.in_(chunk)))
                        stored.update((parent.table.name, value) for value in found.scalars())
                for owner, column, parent, value in named:
                    if (parent.table.name, value) in stored:
                        continue
                    name = entities.get(parent.table.name, parent.table.name)
                    msg = (
                        f"{mapper.entity} {owner}: {column} names {name} {value}, "
                        "which does not exist; nothing was stored"
                    )
                    return ConflictError(msg)
            return None
        finally:
            self._abandon_transaction()

    def _holder(
        self,
        mapper: m.Mapper[Any],
        rows: list[m.Row],
        columns: list[str],
        written: Mapping[UUID, m.Row] | None = None,
    ) -> tuple[UUID | None, tuple[Any, ...] | None]:
        """Which stored row holds the key one of ``rows`` wanted, and the key's value.

        A stored row the commit was giving the key up from (one of ``written`` with
        other values) holds nothing the commit wanted.
        """
        table, key = mapper.table, mapper.table.c[mapper.key]
        try:
            with contextlib.suppress(SQLAlchemyError):
                for row in rows:
                    values = tuple(row[column] for column in columns)
                    if any(value is None for value in values):
                        continue
                    where = [table.c[c] == v for c, v in zip(columns, values, strict=True)]
                    if columns != [mapper.key]:
                        where.append(key != row[mapper.key])
                        where.extend(_partial_unique_where(table, columns))
                        giving = [
                            ident
                            for ident, other in (written or {}).items()
                            if tuple(other[column] for column in columns) != values
                        ]
                        if giving:
                            where.append(key.not_in(giving))
                    found = self._begin().execute(select(key).where(*where).limit(1)).scalar()
                    if found is not None:
                        return found, values
            return None, None
        finally:
            self._abandon_transaction()

    # ------------------------------------------------------------------ for repositories

    def connection(self) -> Connection:
        """The connection, inside this session's transaction (begun now if none is open)."""
        return self._begin()

    def fixed_rows(self, statement: Select[Any]) -> Sequence[Sequence[Any]]:
        """The rows of ``statement``, a query without parameters built once and reused
        (a cached tally), in this session's transaction: straight on the driver when
        the store pipelines (see :func:`~bookingcore_adapters.sql._driver.fetch_fixed`)."""
        return d.fetch_fixed(self._begin(), statement, direct=self._direct)

    def tracked(self, mapper: m.Mapper[E]) -> Mapping[UUID, E]:
        """The entities of ``mapper``'s type this session tracks, by id (read-only)."""
        self._require_active()
        return MappingProxyType(self._tracked[mapper.entity])

    def _own(self, mapper: m.Mapper[E]) -> Mapping[UUID, E]:
        """The tracked entities of ``mapper``'s type that may differ from their stored
        rows, by id: those this unit of work may have added or changed, which the
        reads judge as they are in memory.

        In a unit of work that can write, every entity it tracks: it may change any
        of them, and a change shows only when the entity is compared with its
        snapshot (on commit). A read-only one adds nothing and can write no change,
        so none: its reads give what storage holds, a row of an entity tracked
        already as that entity, and a long read-only unit of work (a report over
        thousands of bookings) judges nothing in memory however much it has read.
        """
        return _NOTHING if self._read_only else self._tracked[mapper.entity]

    def _stored(
        self, mapper: m.Mapper[E], rows: Iterable[m.Stored], own: Mapping[UUID, Any]
    ) -> list[E]:
        """The entities of stored ``rows`` (in their order), leaving out those in ``own``
        (judged in memory instead): the tracked entity for a row of one tracked
        already, else one built from the row (not tracked yet)."""
        key = mapper.key
        kept = [row for row in rows if row[key] not in own]
        tracked: dict[UUID, E] = self._tracked[mapper.entity]
        if own is tracked or not tracked:  # no row kept is of a tracked entity
            return self._load(mapper, kept)
        built = iter(self._load(mapper, [row for row in kept if row[key] not in tracked]))
        return [tracked[row[key]] if row[key] in tracked else next(built) for row in kept]

    def ordered_text(self, column: ColumnElement[str]) -> ColumnElement[str]:
        """``column`` in code-point order, as Python sorts strings."""
        return column.collate("C") if self._postgres else column

    def delete_now(
        self, mapper: m.Mapper[E], where: Sequence[ColumnElement[bool]], gone: Callable[[E], bool]
    ) -> int:
        """DELETE the rows matching ``where`` at once, in this transaction; how many went.

        Tracked entities are judged by ``gone`` as they are in memory (the same
        test as ``where``) and forgotten when they go, so commit neither writes
        nor resurrects them. Undone by a rollback, like every other write.
        """
        self._require_active()
        self._require_writable("delete", mapper)
        name, table = mapper.entity, mapper.table
        key = table.c[mapper.key]
        tracked: dict[UUID, E] = self._tracked[name]
        added = self._added[name]
        going = [ident for ident, entity in tracked.items() if gone(entity)]
        stored = [ident for ident in going if ident not in added]
        untracked = list(where)
        if tracked:
            untracked.append(key.not_in(list(tracked)))
        if self._sqlite:
            self._take_write_lock()

        def remove() -> int:
            connection = self._begin()
            removed = connection.execute(delete(table).where(*untracked)).rowcount
            if stored:
                removed += connection.execute(delete(table).where(key.in_(stored))).rowcount
            return removed

        removed = self.retrying(remove) + len(going) - len(stored)
        for ident in going:
            del tracked[ident]
            self._snapshots[name].pop(ident, None)
            added.pop(ident, None)
        return removed

    def write_now(self, mapper: m.Mapper[Any], step: Callable[[Connection], T]) -> T:
        """Run ``step`` on this transaction's connection at once, as a write to
        ``mapper``'s table (and others): refused in a read-only unit of work, under
        SQLite's write lock, repeated after a deadlock (see :meth:`retrying`).

        For a repository's own statements (a batch of deletions); the caller
        leaves out the rows of entities this session tracks. Undone by a rollback.
        """
        self._require_active()
        self._require_writable("delete", mapper)
        if self._sqlite:
            self._take_write_lock()
        return self.retrying(lambda: step(self._begin()))

    def update_now(
        self,
        mapper: m.Mapper[E],
        where: Sequence[ColumnElement[bool]],
        values: Mapping[str, object],
        matches: Callable[[E], bool],
        change: Callable[[E], E | None],
    ) -> int:
        """UPDATE the stored rows matching ``where`` with ``values`` at once, in this
        transaction; how many matched.

        Tracked entities are left out of the statement: those ``matches``
        accepts get ``change`` in memory instead and are written on commit like
        any other change (a ``change`` that returns an entity, a changed copy of
        a frozen one, replaces it). Undone by a rollback. For bulk marks (the
        outbox relay's "published") and moves (a merge's redemptions) that need
        not load what they change.
        """
        self._require_active()
        self._require_writable("update", mapper)
        table = mapper.table
        key = table.c[mapper.key]
        tracked: dict[UUID, E] = self._tracked[mapper.entity]
        changed = 0
        for ident, entity in list(tracked.items()):
            if matches(entity):
                replaced = change(entity)
                if replaced is not None:
                    tracked[ident] = replaced
                changed += 1
        untracked = list(where)
        if tracked:
            untracked.append(key.not_in(list(tracked)))
        if self._sqlite:
            self._take_write_lock()
        result = self._begin().execute(update(table).where(*untracked).values(**values))
        return int(result.rowcount) + changed

    def update_if_now(
        self,
        mapper: m.Mapper[E],
        ident: UUID,
        where: Sequence[ColumnElement[bool]],
        values: Mapping[str, object],
    ) -> E | None:
        """UPDATE the stored row ``ident`` with ``values`` at once, in this transaction,
        if it matches ``where`` as stored: the entity as it is now, or None when no
        row matched (none stored, or another transaction changed it first).

        A compare-and-set: the database decides, under the row's lock, so of two
        transactions that set the same row from the same state one gets the
        entity and the other None (on PostgreSQL the second waits for the first
        to end and then finds the row changed; SQLite runs one writer at a time).
        The row stays locked until the transaction ends, as :meth:`lock` leaves
        it, and the entity counts as read under that lock: tracked, or brought up
        to date when this unit of work read it before (and has not changed it).
        A rollback undoes it; after a deadlock the retry refuses
        (:class:`ConcurrentUpdateError`) rather than take the row again. For
        entities without child rows.
        """
        self._require_active()
        self._require_writable("update", mapper)
        name = mapper.entity
        tracked: dict[UUID, E] = self._tracked[name]
        known = tracked.get(ident)
        if known is not None and (
            ident in self._added[name]
            or (mapper.dump(known), mapper.dump_children(known)) != self._snapshots[name][ident]
        ):  # pragma: no cover - a programming error
            msg = f"{name} {ident} was added or changed in this unit of work: change it in memory"
            raise RuntimeError(msg)
        if self._sqlite:
            self._take_write_lock()
        table = mapper.table
        statement = (
            update(table)
            .where(table.c[mapper.key] == ident, *where)
            .values(**values)
            .returning(*table.c)
        )
        rows = self.retrying(lambda: list(self._begin().execute(statement).mappings()))
        if not rows:
            return None
        fresh = self._load(mapper, rows)[0]
        self._locked.append((mapper, ident))
        self._settled.add((name, ident))
        if known is None:
            return self._track(mapper, fresh)
        for field in attrs.fields(cast("type[attrs.AttrsInstance]", type(known))):
            if field.init:
                setattr(known, field.name, getattr(fresh, field.name))
        self._snapshots[name][ident] = (mapper.dump(known), mapper.dump_children(known))
        return known

    def claim_and_update_now(
        self,
        mapper: m.Mapper[Any],
        *,
        unset: Sequence[str],
        order_by: Sequence[str],
        limit: int,
        values: Mapping[str, object],
        returning: Sequence[str],
    ) -> list[list[Any]]:
        """UPDATE with ``values``, at once, the first ``limit`` stored rows whose
        ``unset`` columns are NULL, in ``order_by`` order, skipping rows another
        transaction has locked; their ``returning`` columns as lists, in no
        particular order.

        A queue's claim and mark in one statement (``_driver.claim_and_update``),
        compiled once and, on a store that pipelines, sent straight to psycopg.
        The rows stay locked until the transaction ends, and a rollback undoes
        the update. Only while this unit of work tracks no entity of ``mapper``
        (their state in memory is what a commit writes: the caller judges those
        itself, as ``OutboxRepository.claim_to_publish`` does).
        """
        self._require_active()
        self._require_writable("claim", mapper)
        if self._tracked[mapper.entity]:  # pragma: no cover - a programming error
            msg = f"{mapper.entity} rows are tracked: judge those in memory, claim the others"
            raise RuntimeError(msg)
        if self._sqlite:
            self._take_write_lock()
        table = mapper.table
        setting = tuple(values)
        wanted: dict[str, Any] = {f"new_{name}": value for name, value in values.items()}
        wanted["limit"] = limit
        wanted["offset"] = 0  # bound on SQLite only
        connection = self._begin()
        query = d.claim_and_update(
            table,
            mapper.key,
            connection.dialect,
            unset=tuple(unset),
            order_by=tuple(order_by),
            setting=setting,
            returning=tuple(returning),
        )
        return self.retrying(
            lambda: d.claimed(
                self._begin(),
                query,
                wanted,
                direct=self._direct,
                log_parameters=self._log_parameters,
            )
        )

    def add(self, mapper: m.Mapper[E], entity: E) -> None:
        """Track ``entity`` as new: it is inserted on commit."""
        if not self._active or self._read_only:  # a bulk import adds some five a row
            self._require_active()
            self._require_writable("add", mapper)
        ident = mapper.identity(entity)
        name = mapper.entity
        self._tracked[name][ident] = entity
        self._added[name][ident] = None

    def add_if_new(self, mapper: m.Mapper[E], entity: E, conflict: Sequence[str]) -> bool:
        """INSERT ``entity`` now unless the unique key ``conflict`` is taken: True when inserted.

        An empty ``conflict`` means any unique key of the table.

        The row is written at once, in this transaction (on PostgreSQL a
        concurrent insert of the same key makes this wait for its end); an
        inserted entity is tracked as if read, so later changes are an UPDATE on
        commit, and its row counts as locked by this transaction. For entities
        without child rows.
        """
        self._require_active()
        self._require_writable("add", mapper)
        name = mapper.entity
        ident = mapper.identity(entity)
        if ident in self._tracked[name]:
            return False
        row, children = mapper.dump(entity), mapper.dump_children(entity)
        if children:  # pragma: no cover - a programming error
            msg = f"add_if_new cannot store the child rows of a {name}"
            raise TypeError(msg)
        key = tuple(conflict)
        if self._sqlite:
            self._take_write_lock()
        if not self.retrying(lambda: self._insert_if_new(mapper, row, key)):
            return False
        self._claimed.append((mapper, row, key))
        self._tracked[name][ident] = entity
        self._snapshots[name][ident] = (row, children)
        self._settled.add((name, ident))
        return True

    def _insert_if_new(self, mapper: m.Mapper[Any], row: m.Row, conflict: tuple[str, ...]) -> bool:
        connection = self._begin()
        table = mapper.table
        statement = d.insert_if_new(table, conflict, tuple(row), connection.dialect)
        if statement is not None:
            return d.inserted(
                connection, statement, row, direct=self._direct, log_parameters=self._log_parameters
            )
        try:
            with connection.begin_nested():
                connection.execute(insert(table), row)
        except IntegrityError:
            return False
        return True

    def increment_now(self, mapper: m.Mapper[E], ident: UUID, column: str) -> E | None:
        """Move the stored entity ``ident``'s ``column`` (and its version) on by one at once,
        in this transaction: the entity as it is now (tracked), or None when none is stored.

        One ``UPDATE ... RETURNING`` (:func:`~bookingcore_adapters.sql._driver.increment`):
        the row stays locked until the transaction ends, as :meth:`lock` leaves it,
        and the entity counts as read under that lock, so a commit writes it only if
        it changes again. A rollback gives the value back; after a deadlock the
        retry moves it on again, and refuses if another transaction moved it
        meanwhile. For entities this unit of work does not track yet (lock a
        tracked one and change it in memory instead) and without child rows.
        """
        self._require_active()
        self._require_writable("update", mapper)
        name = mapper.entity
        if ident in self._tracked[name]:  # pragma: no cover - a programming error
            msg = f"{name} {ident} is tracked: lock it and change it in memory"
            raise RuntimeError(msg)
        if self._sqlite:
            self._take_write_lock()
        rows = self.retrying(lambda: self._increment(mapper, ident, column))
        if not rows:
            return None
        self._bumped.append((mapper, ident, column))
        self._settled.add((name, ident))
        return self._track(mapper, self._load(mapper, rows)[0])

    def _increment(self, mapper: m.Mapper[Any], ident: UUID, column: str) -> list[m.Row]:
        connection = self._begin()
        query = d.increment(mapper.table, mapper.key, column, connection.dialect)
        return d.fetch(
            connection,
            query,
            {mapper.key: ident},
            direct=self._direct,
            log_parameters=self._log_parameters,
        )

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
            return d.fetch(
                connection, query, wanted, direct=self._direct, log_parameters=self._log_parameters
            )
        parent_mapper, foreign_key = parent
        joined = (parent_mapper.table, foreign_key)
        query = d.lookup(table, columns, connection.dialect, lock=lock, parent=joined)
        found = d.fetch_with_parent(
            connection, query, wanted, direct=self._direct, log_parameters=self._log_parameters
        )
        for _, parent_row in found:
            if parent_row is not None:
                self._track(parent_mapper, parent_mapper.load(parent_row, []))
        return [row for row, _ in found]

    def _by_id(
        self,
        mapper: m.Mapper[E],
        ident: UUID,
        lock: bool = False,
        parent: tuple[m.Mapper[Any], str] | None = None,
    ) -> E | None:
        """The stored entity ``ident`` (not tracked), read as :meth:`_rows_by` reads.

        An entity with child rows gets them in the same round trip on a store
        that pipelines (a booking and its travelers, locked or not); locked, also
        the rows its children point at (``Mapper.child_refers``), tracked.
        """
        child = mapper.child_table
        if child is None or not self._direct:
            rows = self._rows_by(mapper.table, {mapper.key: ident}, lock, parent)
            return self._load(mapper, rows)[0] if rows else None
        connection = self._begin()
        joined = None if parent is None else (parent[0].table, parent[1])
        query = d.lookup(mapper.table, (mapper.key,), connection.dialect, lock=lock, parent=joined)
        refers = mapper.child_refers if lock else None
        referred = None if refers is None else (refers[0].table, refers[1])
        of_it = d.lookup(child, ("booking_id",), connection.dialect, parent=referred)
        found, children = d.fetch_with_children(
            connection,
            query,
            {mapper.key: ident},
            of_it,
            {"booking_id": ident},
            log_parameters=self._log_parameters,
        )
        for owner, pairs in ((parent, found), (refers, children)):
            if owner is not None:
                for _, owner_row in pairs:
                    if owner_row is not None:
                        self._track(owner[0], owner[0].load(owner_row, []))
        child_rows = [row for row, _ in children]
        return mapper.load(found[0][0], child_rows) if found else None

    def _load(self, mapper: m.Mapper[E], rows: Sequence[m.Stored]) -> list[E]:
        """Entities built from ``rows`` (not tracked), with their child rows."""
        children: dict[Any, list[m.Stored]] = defaultdict(list)
        if mapper.child_table is not None and rows:
            child = mapper.child_table
            ids = [row[mapper.key] for row in rows]
            for found in self._rows(_children_select(child), {"ids": ids}):
                children[found["booking_id"]].append(found)
        return [mapper.load(row, children[row[mapper.key]]) for row in rows]

    def get(self, mapper: m.Mapper[E], ident: UUID) -> E | None:
        """The entity with id ``ident`` (tracked from now on), or None."""
        self._require_active()
        known: E | None = self._tracked[mapper.entity].get(ident)
        if known is not None:
            return known
        found = self._by_id(mapper, ident)
        return None if found is None else self._track(mapper, found)

    def peek(self, mapper: m.Mapper[E], ident: UUID) -> E | None:
        """The entity as this unit of work sees it, without tracking it."""
        known: E | None = self._tracked[mapper.entity].get(ident)
        if known is not None:
            return known
        return self._by_id(mapper, ident)

    def find_unique(
        self, mapper: m.Mapper[E], column: str, value: object, read: Callable[[E], object]
    ) -> E | None:
        """The entity whose unique ``column`` holds ``value`` (``read``: the attribute)."""
        self._require_active()
        own = self._own(mapper)
        for entity in own.values():
            if read(entity) == value:
                return entity
        table = mapper.table
        rows = self._rows_by(table, {column: value})
        if not rows or rows[0][mapper.key] in own:
            return None  # the tracked holder gave the value up in this unit of work
        (found,) = self._stored(mapper, rows[:1], own)
        return self._track(mapper, found)

    def select_equal(
        self, mapper: m.Mapper[E], wanted: Mapping[str, object], sort_key: Callable[[E], Any]
    ) -> list[E]:
        """Entities whose columns (and attributes of the same names) equal ``wanted``.

        Like :meth:`select`, this unit's own additions and changes are seen; the
        stored rows come from one look-up sent straight to the driver.
        """
        self._require_active()
        own = self._own(mapper)

        def keep(entity: E) -> bool:
            return all(getattr(entity, name) == value for name, value in wanted.items())

        mine = [entity for entity in own.values() if keep(entity)]
        if len(wanted) == 1 and (mapper.entity, *next(iter(wanted.items()))) in self._complete:
            return sorted(mine, key=sort_key)  # every stored one is tracked already
        stored = self._stored(mapper, self._rows_by(mapper.table, wanted), own)
        found = sorted([*stored, *mine], key=sort_key)
        return [self._track(mapper, entity) for entity in found]

    def select_tuples(
        self,
        mapper: m.Mapper[E],
        columns: tuple[str, ...],
        tuples: Sequence[tuple[Any, ...]],
        keep: Callable[[E], bool],
    ) -> list[E]:
        """Entities whose ``columns`` equal one of ``tuples`` (``keep``: the same test).

        As :meth:`select_equal`: this unit's own additions and changes are seen,
        and the stored rows come from one look-up sent straight to the driver.
        """
        self._require_active()
        if not tuples:
            return []
        own = self._own(mapper)
        mine = [entity for entity in own.values() if keep(entity)]
        connection = self._begin()
        count, parameters = d.tuple_parameters(columns, tuples)
        query = d.by_tuples(mapper.table, columns, count, connection.dialect)
        seen: set[UUID] = set()
        rows = []
        for row in d.fetch(
            connection, query, parameters, direct=self._direct, log_parameters=self._log_parameters
        ):
            ident = row[mapper.key]
            if ident not in seen:
                seen.add(ident)
                rows.append(row)
        stored = self._stored(mapper, rows, own)
        return [self._track(mapper, entity) for entity in [*stored, *mine]]

    def select(
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
        skip_locked: bool = False,
        track: bool = True,
    ) -> list[E]:
        """Entities matching ``where`` (in SQL) and ``keep`` (the same test in Python).

        Stored rows come from the database; entities this unit of work may have
        added or changed (:meth:`_own`) are judged as they are now in memory, so
        uncommitted additions and changes are seen, and a stored row of an entity
        tracked already is that entity. With a ``limit``, enough rows are fetched
        to make up for those judged in memory, so the result is exactly the first
        ``limit``.
        ``skip_locked`` locks the rows it returns and skips rows another
        transaction locked (PostgreSQL; SQLite's one writer needs nothing).
        ``track=False`` returns stored rows as entities this session does not
        track (read-only uses: changes to them are never written).
        """
        self._require_active()
        if skip_locked:
            self._require_writable("lock", mapper)
        own = self._own(mapper)
        mine = [entity for entity in own.values() if keep(entity)]
        statement = select(mapper.table)
        if source is not None:
            statement = statement.select_from(source)
        statement = statement.where(*where).order_by(*order_by)
        if limit is not None:
            statement = statement.limit(limit + len(own))
        if skip_locked and self._begin().dialect.name == "postgresql":
            statement = statement.with_for_update(skip_locked=True)
        stored = self._stored(mapper, self._rows(statement), own)
        found = sorted([*stored, *mine], key=sort_key, reverse=newest_first)
        if limit is not None:
            found = found[:limit]
        if not track:
            return found
        return [self._track(mapper, entity) for entity in found]

    def claim(
        self,
        mapper: m.Mapper[E],
        where: Iterable[ColumnElement[bool]],
        keep: Callable[[E], bool],
        sort_key: Callable[[E], Any],
        *,
        order_by: Sequence[ColumnElement[Any]],
        limit: int,
    ) -> list[E]:
        """Up to ``limit`` entities matching ``where``, locked until the transaction ends,
        skipping rows another transaction has locked: a queue's ``claim``.

        PostgreSQL: ``SELECT ... FOR UPDATE SKIP LOCKED``, so concurrent claimers
        get different rows instead of waiting for each other. SQLite: the write
        lock first (``BEGIN IMMEDIATE``), one claimer at a time. Entities this
        unit of work already tracks are judged in memory by ``keep``.
        """
        self._require_active()
        self._require_writable("claim", mapper)
        if self._sqlite:
            self._take_write_lock()
        tracked: dict[UUID, E] = self._tracked[mapper.entity]
        mine = [entity for entity in tracked.values() if keep(entity)]
        statement = select(mapper.table).where(*where).order_by(*order_by)
        statement = statement.limit(limit + len(tracked))
        if not self._sqlite:
            statement = statement.with_for_update(skip_locked=True)
        rows = self.retrying(lambda: self._rows(statement))
        fresh = self._load(mapper, [row for row in rows if row[mapper.key] not in tracked])
        for entity in fresh:
            ident = mapper.identity(entity)
            self._locked.append((mapper, ident))
            self._settled.add((mapper.entity, ident))
        found = sorted([*fresh, *mine], key=sort_key)[:limit]
        return [self._track(mapper, entity) for entity in found]

    def page(
        self,
        mapper: m.Mapper[E],
        where: list[ColumnElement[bool]],
        keep: Callable[[E], bool],
        page: PageRequest,
        source: FromClause | None = None,
        *,
        at: str = "created_at",
    ) -> Page[E]:
        """Newest first by ``(created_at, id)``, ``page.limit`` after ``page.cursor``;
        ``at`` names another time (the column and the attribute share its name)."""
        after = page.after
        table = mapper.table
        moment = table.c[at]

        def wanted(entity: Any) -> bool:
            return keep(entity) and (
                after is None or after.is_after(getattr(entity, at), entity.id)
            )

        found = self.select(
            mapper,
            [*where, *q.keyset_after_newest(moment, table.c.id, after)],
            wanted,
            lambda entity: (getattr(entity, at), entity.id.bytes),  # type: ignore[attr-defined]
            order_by=[moment.desc(), table.c.id.desc()],
            limit=page.limit + 1,
            newest_first=True,
            source=source,
        )
        chosen = found[: page.limit]
        if len(found) > page.limit and chosen:
            last: Any = chosen[-1]
            return Page(chosen, Cursor(getattr(last, at), last.id).encode())
        return Page(chosen, None)

    def ranked_page(
        self,
        mapper: m.Mapper[E],
        where: list[ColumnElement[bool]],
        keep: Callable[[E], bool],
        page: PageRequest,
        rank: tuple[str, Callable[[E], int], Callable[[int], object]],
    ) -> Page[E]:
        """Smallest rank first by ``(rank, created_at, id)``, ``page.limit`` after
        ``page.cursor``. ``rank`` is the column's name, an entity's rank (a whole
        number) and a rank as the column holds it.

        Raises:
            ValidationError: on ``cursor`` when it holds no rank, or one the column
                cannot hold.
        """
        name, rank_of, stored = rank
        after = page.after
        c = mapper.table.c
        try:
            at_rank = None if after is None else stored(after.ranked)
        except (ValueError, OverflowError):  # a rank no row of this list holds (a day 0)
            msg = "is not a cursor from this list"
            raise ValidationError.single("cursor", msg, "invalid_cursor") from None

        def wanted(entity: Any) -> bool:
            return keep(entity) and (
                after is None or after.ranks_before(rank_of(entity), entity.created_at, entity.id)
            )

        found = self.select(
            mapper,
            [*where, *q.keyset_after_ranked(c[name], c.created_at, c.id, after, at_rank)],
            wanted,
            lambda entity: (rank_of(entity), entity.created_at, entity.id.bytes),  # type: ignore[attr-defined]
            order_by=[c[name], c.created_at, c.id],
            limit=page.limit + 1,
        )
        chosen = found[: page.limit]
        if len(found) > page.limit and chosen:
            last: Any = chosen[-1]
            return Page(chosen, Cursor(last.created_at, last.id, rank_of(last)).encode())
        return Page(chosen, None)

    def lock(
        self, mapper: m.Mapper[E], ident: UUID, *, parent: tuple[m.Mapper[Any], str] | None = None
    ) -> E | None:
        """The entity, its row locked until the transaction ends; refreshed if untouched.

        With ``parent=(mapper, foreign_key)``, the row the entity's ``foreign_key``
        points at comes in the same query (unlocked), and a later ``get`` of it is
        answered from memory: the caller saves a round trip while holding the lock.
        """
        self._require_active()
        self._require_writable("lock", mapper)
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
        elif (mapper.entity, ident) in self._settled and ident in tracked:
            # Locked and read under the lock in this transaction already (with the row
            # that pointed at it, say): nobody can have changed it since.
            return tracked[ident]
        lock = not self._sqlite
        fresh = self.retrying(lambda: self._by_id(mapper, ident, lock, parent))
        if fresh is None:
            return None
        return self._locked_now(mapper, fresh)

    def _locked_now(self, mapper: m.Mapper[E], fresh: E) -> E:
        """The tracked entity for ``fresh``, just read under its row's lock: ``fresh``
        itself if none was tracked, else the tracked one, brought up to date unless this
        unit of work changed it."""
        ident = mapper.identity(fresh)
        tracked: dict[UUID, E] = self._tracked[mapper.entity]
        self._locked.append((mapper, ident))
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

    def lock_unique(
        self,
        mapper: m.Mapper[E],
        wanted: Mapping[str, object],
        holds: Callable[[E], bool],
        *,
        along: str | None = None,
        owner: tuple[str, tuple[m.Mapper[Any], str] | None] | None = None,
    ) -> E | None:
        """The entity whose unique columns equal ``wanted``, its row locked as :meth:`lock` does.

        ``holds`` is the same test on an entity. One locked query finds and
        locks it; an entity this unit of work tracks already is locked by id.

        ``along`` names a column whose other holders the caller reads next (a
        payment's ``booking_id``: its booking's other payments). On a store
        that pipelines, they are read in the same round trip, once the lock is
        held, and tracked; until the transaction ends, :meth:`select_equal` of
        that column and value answers from memory. For entities without child
        rows.

        ``owner=(entity, parent)`` (with ``along``) names the entity ``along``
        points at (``"booking"``) when the caller locks it next: on a store that
        pipelines it is locked in the same round trip, after this row, with its
        child rows and what they point at and the row its ``parent`` foreign key
        points at (as :meth:`lock` with ``parent`` reads it), and tracked, so
        that :meth:`lock` of it answers from memory.
        """
        self._require_active()
        self._require_writable("lock", mapper)
        name = mapper.entity
        tracked: dict[UUID, E] = self._tracked[name]
        for ident, entity in tracked.items():
            if holds(entity):
                return self.lock(mapper, ident)
        if self._sqlite:
            self._take_write_lock()
        lock = not self._sqlite
        others: list[m.Row] | None = None
        owned: _Owned | None = None
        if along is not None and self._direct and mapper.child_table is None:
            chosen = None if owner is None else self._owner(owner)
            rows, others, owned = self.retrying(
                lambda: self._rows_and_siblings(mapper, wanted, along, chosen)
            )
        else:
            rows = self.retrying(lambda: self._rows_by(mapper.table, wanted, lock))
        if not rows:
            return None
        ident = rows[0][mapper.key]
        if ident in tracked:
            return None  # the tracked holder gave the value up in this unit of work
        self._locked.append((mapper, ident))
        self._settled.add((name, ident))
        found = self._track(mapper, self._load(mapper, rows)[0])
        if others is not None and along is not None:
            # The siblings include the locked row itself (tracked now): built once, not twice.
            known = self._tracked[name]
            for sibling in self._load(
                mapper, [row for row in others if row[mapper.key] not in known]
            ):
                self._track(mapper, sibling)
            self._complete.add((name, along, rows[0][along]))
        if owned is not None:
            self._owned_locked(owned)
        return found

    def _owner(
        self, owner: tuple[str, tuple[m.Mapper[Any], str] | None]
    ) -> tuple[m.Mapper[Any], tuple[m.Mapper[Any], str] | None] | None:
        """The mapper of the entity ``owner`` names, with the parent to read with it; None
        when no mapper of this session with child rows has that name (then the owner is
        locked by id when asked for, as without ``owner``)."""
        entity, parent = owner
        for mapper in self._mappers:
            if mapper.entity == entity and mapper.child_table is not None:
                return mapper, parent
        return None  # pragma: no cover - a programming error

    def _rows_and_siblings(
        self,
        mapper: m.Mapper[Any],
        wanted: Mapping[str, object],
        along: str,
        owner: tuple[m.Mapper[Any], tuple[m.Mapper[Any], str] | None] | None = None,
    ) -> tuple[list[m.Row], list[m.Row], _Owned | None]:
        """The row ``wanted`` names, locked, and the rows sharing its ``along``; with
        ``owner``, the row ``along`` points at, locked after it, with its parent's row,
        its child rows and theirs: one pipeline."""
        connection = self._begin()
        dialect = connection.dialect
        columns = tuple(wanted)
        sent: list[tuple[d.Lookup, Mapping[str, object]]] = [
            (d.lookup(mapper.table, columns, dialect, lock=True), wanted),
            (d.siblings(mapper.table, columns, along, dialect), wanted),
        ]
        if owner is not None:
            owning, parent = owner
            child = owning.child_table
            assert child is not None
            joined = None if parent is None else (parent[0].table, parent[1])
            refers = owning.child_refers
            referred = None if refers is None else (refers[0].table, refers[1])
            table = mapper.table
            owner_lookup = d.through(
                owning.table,
                owning.key,
                table,
                columns,
                along=along,
                dialect=dialect,
                lock=True,
                parent=joined,
            )
            children = d.through(
                child,
                "booking_id",
                table,
                columns,
                along=along,
                dialect=dialect,
                parent=referred,
            )
            sent += [(owner_lookup, wanted), (children, wanted)]
        found = d.fetch_together(connection, sent, log_parameters=self._log_parameters)
        rows, siblings = [row for row, _ in found[0]], [row for row, _ in found[1]]
        if owner is None:
            return rows, siblings, None
        return rows, siblings, _Owned(owner[0], owner[1], found[2], found[3])

    def _owned_locked(self, owned: _Owned) -> None:
        """Track what :meth:`_rows_and_siblings` read of a locked row's owner: the owner
        as locked now, its parent's row, its children's rows."""
        mapper = owned.mapper
        if not owned.rows:
            return
        refers = mapper.child_refers
        for owner, pairs in ((owned.parent, owned.rows), (refers, owned.children)):
            if owner is not None:
                for _, owner_row in pairs:
                    if owner_row is not None:
                        self._track(owner[0], owner[0].load(owner_row, []))
        fresh = mapper.load(owned.rows[0][0], [row for row, _ in owned.children])
        self._locked_now(mapper, fresh)


@attrs.frozen
class _Owned:
    """The owner of a locked row, read in its pipeline (see :meth:`Session.lock_unique`)."""

    mapper: m.Mapper[Any]
    parent: tuple[m.Mapper[Any], str] | None
    rows: list[tuple[m.Row, m.Row | None]]
    children: list[tuple[m.Row, m.Row | None]]


def _read_committed(connection: Connection) -> bool:
    """Whether ``connection`` runs at PostgreSQL's ``READ COMMITTED`` (no stricter
    level set on the engine or the server), where autocommit reads see what a
    transaction would."""
    chosen = connection.get_execution_options().get("isolation_level")
    level = chosen or connection.default_isolation_level
    return str(level).upper() == "READ COMMITTED"


def _partial_unique_where(table: Table, columns: list[str]) -> list[ColumnElement[bool]]:
    """The condition of a partial unique index on ``columns`` (only rows it covers clash)."""
    for index in table.indexes:
        if index.unique and [column.name for column in index.columns] == columns:
            found = (index.dialect_kwargs.get(f"{name}_where") for name in ("postgresql", "sqlite"))
            return [where for where in found if where is not None][:1]
    return []


@functools.cache
def _unique_keys(table: Table) -> list[list[str]]:
    """The column lists of ``table``'s unique keys (constraints and unique indexes, the
    primary key left out), by the place of their first column in the table."""
    keys = [
        [column.name for column in constraint.columns]
        for constraint in table.constraints
        if isinstance(constraint, UniqueConstraint)
    ]
    keys.extend(
        [column.name for column in index.columns]
        for index in table.indexes
        if index.unique and index.columns
    )
    places = {name: place for place, name in enumerate(table.c.keys())}
    return sorted(keys, key=lambda names: [places[name] for name in names])


def _foreign_key(exc: IntegrityError) -> bool:
    """Whether ``exc`` reports a foreign key naming a missing row (PostgreSQL, SQLite)."""
    return sqlstate(exc) == "23503" or str(exc.orig).startswith("FOREIGN KEY constraint failed")


def _unique_columns(exc: IntegrityError, mappers: Sequence[m.Mapper[Any]]) -> list[str] | None:
    """The columns of the unique key ``exc`` reports, or None when it is another violation."""
    orig = exc.orig
    if sqlstate(exc) == "23505":
        name = getattr(getattr(orig, "diag", None), "constraint_name", None)
        for table in mappers:
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
