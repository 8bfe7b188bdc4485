"""Statements compiled once per table, shape and dialect, and run with their parameters.

Building and caching a SQLAlchemy statement on every call costs more than a
round trip to a local PostgreSQL. The unit of work's hottest statements are
therefore compiled once (``ClauseElement.compile``), their parameters and
results converted by the columns' own processors (the public
``TypeEngine.dialect_impl(dialect).bind_processor(dialect)`` and
``result_processor(dialect, coltype)``), and run with
``Connection.exec_driver_sql``, in the transaction SQLAlchemy began: the
engine's ``before_cursor_execute``/``after_cursor_execute`` listeners
(statement counters, tracers) see them, and driver errors come wrapped as
SQLAlchemy wraps them.

Only documented API is used here: no private SQLAlchemy or psycopg names, no
events fired by hand, no driver cursor kept between calls
(``tests/unit/test_no_private_api.py`` checks the first).

A store that pipelines its writes (psycopg 3, the default there) also sends
its look-ups straight to psycopg, each on a cursor of its own
(``Connection.connection.driver_connection.cursor()``): ``exec_driver_sql``
costs some 0.08 ms of client CPU a look-up, mostly building result metadata
from the driver's description, as much as the round trip. Those statements
are logged on the ``bookingcore.sql`` logger at DEBUG level, without their
parameters unless the store was built with ``log_parameters=True``; the
engine's cursor listeners do not see them. ``SqlStore(..., pipeline=False)``
sends everything through SQLAlchemy.

Reads: :func:`lookup` and :func:`fetch` give the rows whose columns equal
given values, optionally locked (``get``, ``get_for_update``, unique look-ups,
a booking's children, a customer's bookings of a slot).

Writes: :func:`plan` turns the entities to write into :class:`Statement` s, each
compiled once per table, shape and dialect, with its parameters already
converted by the columns' bind processors. Two runners send them:

* :func:`run_each` executes them one after the other through SQLAlchemy's
  connection (SQLite, and PostgreSQL drivers without a pipeline);
* :func:`run_pipelined` sends them all in one psycopg 3 pipeline
  (``Connection.connection.driver_connection`` and psycopg's public
  ``pipeline()``), and when nothing in them can fail a version check, the
  ``COMMIT`` too: a booking's six writes and its commit cost one network round
  trip instead of seven. These statements go to the driver directly, so
  SQLAlchemy's cursor events do not see them (they are logged on the
  ``bookingcore.sql`` logger at DEBUG level); ``SqlStore(..., pipeline=False)``
  sends them through :func:`run_each` for listeners that must see every write.

Both report the same :class:`Outcome`; the unit of work checks versions and
explains refusals from it, whichever runner ran.
"""

from __future__ import annotations

import functools
import itertools
import logging
import operator
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any, cast
from uuid import UUID

import attrs
from sqlalchemy import (
    JSON,
    ClauseElement,
    ColumnElement,
    Connection,
    Delete,
    Insert,
    Integer,
    Select,
    Table,
    UniqueConstraint,
    Update,
    and_,
    bindparam,
    column,
    delete,
    insert,
    literal_column,
    select,
    update,
    values,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import DBAPIError, IntegrityError

from bookingcore_adapters.sql import _mapper as m
from bookingcore_adapters.sql._schema import json_text

if TYPE_CHECKING:
    from sqlalchemy.sql.compiler import SQLCompiler

__all__ = [
    "Lookup",
    "Outcome",
    "Refused",
    "Statement",
    "Write",
    "Writes",
    "by_tuples",
    "claim_and_update",
    "claimed",
    "fetch",
    "fetch_fixed",
    "fetch_together",
    "fetch_with_children",
    "fetch_with_parent",
    "increment",
    "insert_if_new",
    "inserted",
    "lookup",
    "plan",
    "run_each",
    "run_pipelined",
    "siblings",
    "supports_pipeline",
    "through",
    "tuple_parameters",
]

Snapshot = tuple[m.Row, Sequence[m.Row]]

_log = logging.getLogger("bookingcore.sql")


@attrs.define
class Write:
    """One changed entity to write on commit: its rows now, and what was stored before."""

    mapper: m.Mapper[Any]
    entity: Any
    row: m.Row
    children: Sequence[m.Row]
    before: Snapshot


@attrs.define
class Writes:
    """One mapper's writes of a commit: the entities changed since they were read
    (an UPDATE each), then those added (INSERTed).

    The added entities are kept as parallel lists (``added``, ``idents``, ``rows``,
    ``children``: the same position is the same entity), not as an object each:
    a bulk import's chunk adds thousands, and every object that lives until the
    commit ends is one more for Python's cyclic garbage collector to walk.
    """

    mapper: m.Mapper[Any]
    changed: list[Write] = attrs.Factory(list)
    added: list[Any] = attrs.Factory(list)
    idents: list[UUID] = attrs.Factory(list)
    rows: list[m.Row] = attrs.Factory(list)
    children: list[Sequence[m.Row]] = attrs.Factory(list)

    def __bool__(self) -> bool:
        return bool(self.changed or self.added)


class Refused(Exception):  # noqa: N818 - internal signal, never leaves commit()
    """The database refused one mapper's writes; the unit of work explains it after the rollback."""

    def __init__(self, mapper: m.Mapper[Any], error: IntegrityError) -> None:
        super().__init__(str(error))
        self.mapper = mapper
        self.error = error


# --------------------------------------------------------------------------- compiling


@attrs.frozen(cache_hash=True)  # a key of caches, hashed on every look-up
class Compiled:
    """A statement compiled once for a dialect, with each bind parameter's processor."""

    sql: str
    names: tuple[str, ...]
    processors: tuple[Callable[[Any], Any] | None, ...]
    positional: bool
    #: Picks the bound values out of a row in ``names`` order, in one C call.
    pick: Callable[[Mapping[str, Any]], tuple[Any, ...]] = attrs.field(init=False, eq=False)
    #: The positions that have a processor, with it: the other values go as they are.
    steps: tuple[tuple[int, Callable[[Any], Any]], ...] = attrs.field(init=False, eq=False)
    #: The same processors by bind name, and every bind name (named parameters).
    named_steps: tuple[tuple[str, Callable[[Any], Any]], ...] = attrs.field(init=False, eq=False)
    name_set: frozenset[str] = attrs.field(init=False, eq=False)

    def __attrs_post_init__(self) -> None:
        object.__setattr__(self, "pick", _picker(self.names))
        steps = tuple((i, p) for i, p in enumerate(self.processors) if p is not None)
        object.__setattr__(self, "steps", steps)
        object.__setattr__(self, "named_steps", tuple((self.names[i], p) for i, p in steps))
        object.__setattr__(self, "name_set", frozenset(self.names))

    def bind(self, values: Mapping[str, Any]) -> tuple[Any, ...] | dict[str, Any]:
        """The driver's parameters for ``values`` (bind name -> Python value).

        A bulk import binds some six rows a booking: picking the values with one
        ``itemgetter`` and converting only the columns that have a processor costs
        half of a generic loop over every column. Named parameters for ``values``
        that hold exactly the bind names (a row to insert, a look-up's keys) are
        a copy of it, converted where a processor is: a third of picking and
        zipping a row of forty columns.
        """
        if not self.positional and values.keys() == self.name_set:
            bound = dict(values)
            for name, process in self.named_steps:
                bound[name] = process(bound[name])
            return bound
        picked = self.pick(values)
        if self.steps:
            converted = list(picked)
            for index, process in self.steps:
                converted[index] = process(converted[index])
            picked = tuple(converted)
        if self.positional:
            return picked
        return dict(zip(self.names, picked, strict=True))

    def bind_many(
        self, rows: Sequence[Mapping[str, Any]]
    ) -> list[tuple[Any, ...] | dict[str, Any]]:
        """:meth:`bind` of each of ``rows`` (an executemany's parameter sets), column by column.

        Each processed column is converted in one pass over its values, and a
        column that holds the same object in every row (a chunk's one creation
        time) is converted once: a bulk import's insert of a few hundred rows a
        table calls each processor once a row at most, from C. Processors are
        pure, so the parameters are those :meth:`bind` gives each row.
        """
        picked: list[tuple[Any, ...]] = list(map(self.pick, rows))
        if self.steps and picked:
            columns: list[Sequence[Any]] = list(zip(*picked, strict=True))
            for index, process in self.steps:
                columns[index] = _converted(process, columns[index])
            picked = list(zip(*columns, strict=True))
        if self.positional:
            return list(picked)
        names = self.names
        return [dict(zip(names, values, strict=True)) for values in picked]


def _converted(process: Callable[[Any], Any], values: Sequence[Any]) -> Sequence[Any]:
    """``process`` of each of ``values``; once only when every one is the same object."""
    first = values[0]
    if all(map(operator.is_, values, itertools.repeat(first))):
        return [process(first)] * len(values)
    return list(map(process, values))


def _picker(names: tuple[str, ...]) -> Callable[[Mapping[str, Any]], tuple[Any, ...]]:
    """A function that gives ``row[name]`` for each of ``names``, as a tuple."""
    if not names:
        return lambda _: ()
    if len(names) == 1:
        only = names[0]
        return lambda row: (row[only],)
    return operator.itemgetter(*names)


@functools.lru_cache(maxsize=1024)
def _compile(
    statement: ClauseElement, dialect: Dialect, column_keys: tuple[str, ...] | None = None
) -> Compiled:
    keys = None if column_keys is None else list(column_keys)
    compiled = cast("SQLCompiler", statement.compile(dialect=dialect, column_keys=keys))
    binds = compiled.binds
    names = tuple(compiled.positiontup or ()) if compiled.positional else tuple(binds)
    return Compiled(
        sql=compiled.string,
        names=names,
        processors=tuple(
            binds[name].type.dialect_impl(dialect).bind_processor(dialect) for name in names
        ),
        positional=compiled.positional,
    )


@functools.cache
def _insert(table: Table) -> Insert:
    return insert(table)


@functools.cache
def _insert_returning(table: Table, column: str) -> Insert:
    return insert(table).returning(table.c[column])


@functools.lru_cache(maxsize=64)
def insert_if_new(
    table: Table, conflict: tuple[str, ...], columns: tuple[str, ...], dialect: Dialect
) -> Compiled | None:
    """``INSERT`` of a row of ``columns`` that does nothing when ``conflict``'s unique key is taken.

    Run with :func:`inserted` (the row as the parameters): True when the row
    went in, False when the key was taken. It returns the row's key column, and
    only that: the caller has the row already, and reading it back (a webhook
    receipt's JSON payload parsed again, every column converted) cost more
    client CPU than the insert. Built with the PostgreSQL and SQLite dialects'
    public ``insert().on_conflict_do_nothing``; None for other dialects (insert
    in a savepoint instead). On PostgreSQL a row another transaction is
    inserting with the same key makes it wait for that transaction's end. An
    empty ``conflict`` means any unique key of the table (for rows whose id is
    derived from their natural key, where two unique indexes clash together).
    """
    elements = [table.c[column] for column in conflict] or None
    key = next(iter(table.primary_key.columns))
    if dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as postgresql_insert  # noqa: PLC0415

        on_postgresql = postgresql_insert(table).on_conflict_do_nothing(index_elements=elements)
        statement: ClauseElement = on_postgresql.returning(key)
    elif dialect.name == "sqlite":
        from sqlalchemy.dialects.sqlite import insert as sqlite_insert  # noqa: PLC0415

        on_sqlite = sqlite_insert(table).on_conflict_do_nothing(index_elements=elements)
        statement = on_sqlite.returning(key)
    else:
        return None
    return _compile(statement, dialect, columns)


def inserted(
    connection: Connection,
    statement: Compiled,
    row: Mapping[str, Any],
    *,
    direct: bool = False,
    log_parameters: bool = False,
) -> bool:
    """Run :func:`insert_if_new`'s ``statement`` for ``row``: whether the row went in.

    ``direct``: on a driver cursor of its own, as :func:`fetch` runs look-ups
    (``log_parameters``: see :func:`_debug`).
    """
    parameters = statement.bind(row)
    if direct:
        if _log.isEnabledFor(logging.DEBUG):
            _debug(statement.sql, parameters, shown=log_parameters)
        driver: Any = connection.connection.driver_connection
        try:
            with driver.cursor() as cursor:
                cursor.execute(statement.sql, parameters)
                return cursor.fetchone() is not None
        except connection.dialect.loaded_dbapi.Error as exc:
            hide = not log_parameters
            sql = statement.sql
            raise _wrapped(connection, sql, parameters, exc, hide_parameters=hide) from exc
    return connection.exec_driver_sql(statement.sql, parameters).first() is not None


@functools.lru_cache(maxsize=64)
def increment(table: Table, key: str, counter: str, dialect: Dialect) -> Lookup:
    """``UPDATE`` that moves the row ``key``'s ``counter`` (and its ``version``) on by one
    and returns the whole row as it is now.

    Run like a look-up (:func:`fetch`, the key's value under the parameter
    ``key``'s name): it finds the updated row, locked until the transaction
    ends, or nothing when there is no such row. A counter taken this way costs
    one statement instead of a locked read and a later update, and the row is
    locked from the moment its value is taken. Built with the public
    ``update().returning()`` (PostgreSQL; SQLite 3.35 or later).
    """
    c = table.c
    one: ColumnElement[int] = literal_column("1")  # a literal: the only parameter is the key
    statement = (
        update(table)
        .where(c[key] == bindparam(key, type_=c[key].type))
        .values({counter: c[counter] + one, "version": c.version + one})
        .returning(*table.c)
    )
    return Lookup(_compile(statement, dialect), (table,), dialect)


def _claim_statement(
    table: Table,
    key: str,
    where: Sequence[ColumnElement[bool]],
    *,
    order_by: tuple[str, ...],
    setting: tuple[str, ...],
    returning: tuple[str, ...],
    sqlite: bool,
) -> Update:
    """``UPDATE`` at once the first rows (parameter ``limit``; on SQLite also
    ``offset``, always 0) matching ``where`` in ``order_by`` order, skipping rows
    another transaction has locked: each ``setting`` column to the parameter
    ``new_<column>``; returns their ``returning`` columns.

    A queue's claim and mark in one statement. PostgreSQL: the rows are chosen
    once, in a materialized CTE (``WITH claimed AS MATERIALIZED (SELECT key ...
    LIMIT n FOR UPDATE SKIP LOCKED) UPDATE ... FROM claimed RETURNING ...``):
    PostgreSQL may run an ``IN (SELECT ... LIMIT n FOR UPDATE SKIP LOCKED)``
    subquery again for a plan's rescans, and so update more than ``limit`` rows
    (seen on a busy table whose statistics favour a semi-join). SQLite (one
    writer at a time, under the write lock): ``WHERE key IN (SELECT ...)``.
    """
    c = table.c
    chosen = (
        select(c[key])
        .where(*where)
        .order_by(*(c[name] for name in order_by))
        .limit(bindparam("limit", type_=Integer()))
    )
    if sqlite:
        # SQLite gives a bound LIMIT an OFFSET: bound as well (parameter ``offset``, 0),
        # or the compiled statement would keep a parameter of its own.
        chosen = chosen.offset(bindparam("offset", type_=Integer()))
        statement = update(table).where(c[key].in_(chosen.scalar_subquery()))
    else:
        claimed = chosen.with_for_update(skip_locked=True).cte("claimed")
        claimed = claimed.prefix_with("MATERIALIZED")
        statement = update(table).where(c[key] == claimed.c[key])
    return statement.values(
        {name: bindparam(f"new_{name}", type_=c[name].type) for name in setting}
    ).returning(*(c[name] for name in returning))


@functools.lru_cache(maxsize=64)
def claim_and_update(
    table: Table,
    key: str,
    dialect: Dialect,
    *,
    unset: tuple[str, ...],
    order_by: tuple[str, ...],
    setting: tuple[str, ...],
    returning: tuple[str, ...],
) -> Lookup:
    """:func:`_claim_statement` of the rows whose ``unset`` columns are NULL, compiled
    once per table, shape and dialect; run it with :func:`claimed`.

    A relay claims batch after batch with the same statement: building and
    caching it through SQLAlchemy on every batch, and making a SQLAlchemy row of
    each message it returns, cost more client CPU than everything else the
    relay does but decoding the messages' JSON.
    """
    where = [table.c[name].is_(None) for name in unset]
    statement = _claim_statement(
        table,
        key,
        where,
        order_by=order_by,
        setting=setting,
        returning=returning,
        sqlite=dialect.name == "sqlite",
    )
    columns = tuple(table.c[name] for name in returning)
    return Lookup(_compile(statement, dialect), (table,), dialect, columns)


@functools.cache
def _update(table: Table, key: str, columns: tuple[str, ...], *, versioned: bool) -> Update:
    """``UPDATE`` of ``columns`` (parameters ``new_<column>``) of the row ``ident``.

    A versioned row is updated only while its version is still ``read_version``.
    """
    c = table.c
    statement = update(table).where(c[key] == bindparam("ident", type_=c[key].type))
    if versioned:
        statement = statement.where(c.version == bindparam("read_version", type_=c.version.type))
    return statement.values(
        {column: bindparam(f"new_{column}", type_=c[column].type) for column in columns}
    )


@functools.cache
def _delete_children(child: Table) -> Delete:
    return delete(child).where(
        child.c.booking_id == bindparam("ident", type_=child.c.booking_id.type)
    )


# --------------------------------------------------------------------------- reading


@attrs.frozen(cache_hash=True)  # the key of its result processors, found on every look-up
class Lookup:
    """A compiled ``SELECT`` of a table's whole rows, and of its parent's when joined
    (or, with ``returned``, of those columns of the table only)."""

    compiled: Compiled
    tables: tuple[Table, ...]
    dialect: Dialect
    #: The columns the statement gives, when not every column of ``tables``.
    returned: tuple[Any, ...] = ()

    @functools.cached_property
    def columns(self) -> tuple[Any, ...]:
        """Every selected column, in order: the table's, then the parent's."""
        if self.returned:
            return self.returned
        return tuple(column for table in self.tables for column in table.c)

    @functools.cached_property
    def names(self) -> tuple[tuple[str, ...], ...]:
        """Each selected table's column names, in order: the table's, then the parent's.

        Read on every look-up: a ``Table.c`` walk costs more than the row's dict.
        """
        return tuple(tuple(column.name for column in table.c) for table in self.tables)


@functools.cache
def by_columns(
    table: Table,
    columns: tuple[str, ...],
    *,
    lock: bool = False,
    parent: tuple[Table, str] | None = None,
) -> Select[Any]:
    """``SELECT`` the rows whose ``columns`` equal the parameters of the same names.

    Locked, if asked. With ``parent=(table, foreign_key)``, each row comes with
    the row its ``foreign_key`` column points at (or NULLs); only ``table``'s
    row is locked.
    """
    where = and_(*(table.c[column] == bindparam(column) for column in columns))
    if parent is None:
        statement = select(table).where(where)
        return statement.with_for_update() if lock else statement
    other, foreign_key = parent
    joined = table.outerjoin(other, other.c.id == table.c[foreign_key])
    statement = select(table, other).select_from(joined).where(where)
    return statement.with_for_update(of=table) if lock else statement


@functools.lru_cache(maxsize=512)
def lookup(
    table: Table,
    columns: tuple[str, ...],
    dialect: Dialect,
    *,
    lock: bool = False,
    parent: tuple[Table, str] | None = None,
) -> Lookup:
    """The compiled look-up of ``table``'s rows by ``columns`` for ``dialect``."""
    compiled = _compile(by_columns(table, columns, lock=lock, parent=parent), dialect)
    return Lookup(compiled, (table,) if parent is None else (table, parent[0]), dialect)


@functools.lru_cache(maxsize=64)
def siblings(table: Table, columns: tuple[str, ...], along: str, dialect: Dialect) -> Lookup:
    """The compiled look-up of the rows sharing ``along`` with the row whose ``columns``
    equal the parameters of the same names (that row included): a payment's and its
    booking's other payments, found by the payment's unique key alone.

    Sent in one pipeline after the look-up that locks that row, it reads them once
    the lock is held, in the same round trip.
    """
    return through(table, along, table, columns, along=along, dialect=dialect)


@functools.lru_cache(maxsize=64)
def through(
    table: Table,
    column: str,
    source: Table,
    columns: tuple[str, ...],
    *,
    along: str,
    dialect: Dialect,
    lock: bool = False,
    parent: tuple[Table, str] | None = None,
) -> Lookup:
    """The compiled look-up of ``table``'s rows whose ``column`` equals the ``along``
    column of the ``source`` row whose ``columns`` equal the parameters of the same
    names: a payment's booking (or the booking's travelers) found by the payment's
    unique key alone, so it can go in one pipeline with the look-up that locks the
    payment. Locked, and joined to a ``parent`` (unlocked), as :func:`by_columns` does.
    """
    where = and_(*(source.c[name] == bindparam(name) for name in columns))
    owner = select(source.c[along]).where(where).scalar_subquery()
    if parent is None:
        statement = select(table).where(table.c[column] == owner)
        if lock:
            statement = statement.with_for_update()
        return Lookup(_compile(statement, dialect), (table,), dialect)
    other, foreign_key = parent
    joined = table.outerjoin(other, other.c.id == table.c[foreign_key])
    statement = select(table, other).select_from(joined).where(table.c[column] == owner)
    if lock:
        statement = statement.with_for_update(of=table)
    return Lookup(_compile(statement, dialect), (table, other), dialect)


@functools.lru_cache(maxsize=64)
def by_tuples(table: Table, columns: tuple[str, ...], count: int, dialect: Dialect) -> Lookup:
    """The compiled look-up of ``table``'s rows whose ``columns`` equal one of ``count`` tuples.

    The tuples are a ``VALUES`` list (parameters ``v<i>_<column>``) joined to the
    table, so an index on the leading columns is probed once a tuple: a row-value
    ``IN`` is a full scan on SQLite, and one ``IN`` list a column would fetch the
    lists' whole cross product. A nullable column matches NULL to NULL. Use
    :func:`tuple_parameters` for the values; ``count`` is one of
    :data:`TUPLE_COUNTS`, so few statements are ever compiled.
    """
    wanted = [table.c[name] for name in columns]
    rows = [tuple(bindparam(f"v{i}_{c.name}", type_=c.type) for c in wanted) for i in range(count)]
    tuples = (
        values(*(column(c.name, c.type) for c in wanted), name="wanted").data(rows).cte("wanted")
    )
    on = [
        c.is_not_distinct_from(tuples.c[c.name]) if c.nullable else c == tuples.c[c.name]
        for c in wanted
    ]
    statement = select(table).select_from(table.join(tuples, and_(*on)))
    return Lookup(_compile(statement, dialect), (table,), dialect)


#: The tuple counts :func:`by_tuples` is compiled for; a batch is padded up to one.
TUPLE_COUNTS = (8, 64, 512, 2048)


def tuple_parameters(
    columns: tuple[str, ...], tuples: Sequence[tuple[Any, ...]]
) -> tuple[int, dict[str, Any]]:
    """The smallest :data:`TUPLE_COUNTS` size holding ``tuples``, and its parameters.

    The last tuple repeats to fill the size (a repeated tuple finds the same rows).
    """
    count = next(size for size in TUPLE_COUNTS if size >= len(tuples))
    padded = [*tuples, *[tuples[-1]] * (count - len(tuples))]
    return count, {
        f"v{i}_{name}": value
        for i, one in enumerate(padded)
        for name, value in zip(columns, one, strict=True)
    }


#: The result processors of a look-up's columns that have one, with each one's position.
Steps = tuple[tuple[int, Callable[[Any], Any]], ...]

#: Each look-up's result processors, found from the driver's type codes of its first result.
_result_processors: dict[Lookup, Steps] = {}


def _processors_of(query: Lookup, description: Any) -> Steps:
    known = _result_processors.get(query)
    if known is None:
        processors = (
            column.type.dialect_impl(query.dialect).result_processor(query.dialect, described[1])
            for column, described in zip(query.columns, description, strict=True)
        )
        known = _result_processors[query] = tuple(
            (index, process) for index, process in enumerate(processors) if process is not None
        )
    return known


def fetch(
    connection: Connection,
    query: Lookup,
    wanted: Mapping[str, Any],
    *,
    direct: bool = False,
    log_parameters: bool = False,
) -> list[m.Row]:
    """The rows ``query`` finds for the ``wanted`` values, as column name -> Python value.

    ``direct``: on a driver cursor of its own rather than through SQLAlchemy
    (see :func:`_values`).
    """
    found = _values(connection, query, wanted, direct=direct, log_parameters=log_parameters)
    return _rows_of(query, found)


def _rows_of(query: Lookup, found: list[list[Any]]) -> list[m.Row]:
    names = query.names[0]
    return [dict(zip(names, row, strict=True)) for row in found]


def fetch_with_parent(
    connection: Connection,
    query: Lookup,
    wanted: Mapping[str, Any],
    *,
    direct: bool = False,
    log_parameters: bool = False,
) -> list[tuple[m.Row, m.Row | None]]:
    """The rows a joined ``query`` finds for ``wanted``, each with its parent's row, if any."""
    found = _values(connection, query, wanted, direct=direct, log_parameters=log_parameters)
    return _rows_with_parent_of(query, found)


def _rows_with_parent_of(
    query: Lookup, values: list[list[Any]]
) -> list[tuple[m.Row, m.Row | None]]:
    names, parent_names = query.names
    split = len(names)
    found: list[tuple[m.Row, m.Row | None]] = []
    for found_values in values:
        row = dict(zip(names, found_values[:split], strict=True))
        parent_row = dict(zip(parent_names, found_values[split:], strict=True))
        found.append((row, None if parent_row["id"] is None else parent_row))
    return found


def claimed(
    connection: Connection,
    query: Lookup,
    wanted: Mapping[str, Any],
    *,
    direct: bool = False,
    log_parameters: bool = False,
) -> list[list[Any]]:
    """The returned columns of the rows :func:`claim_and_update`'s ``query`` claimed
    and updated for ``wanted`` (``limit``, ``offset`` and each ``new_<column>``),
    converted to Python but for JSON columns, which come back as the JSON text
    storage holds (what a relay hands a broker), in no particular order.

    ``direct``: on a psycopg cursor of its own, as :func:`fetch` runs look-ups,
    which reads ``jsonb`` with :func:`json_text_loader`.
    """
    return _values(
        connection, query, wanted, direct=direct, json_as_text=True, log_parameters=log_parameters
    )


@functools.cache
def json_text_loader() -> type[Any]:
    """A psycopg loader of ``json`` and ``jsonb`` values as the text PostgreSQL sends.

    psycopg's own loaders parse the document (``json.loads``); an outbox relay
    hands the text on to a broker, which would only serialize the parsed value
    again: reading the text as it comes saves the parse, some 40 % of the relay's
    client CPU a message.

    Registered on one cursor at a time (``cursor.adapters.register_loader``), never
    on a connection: every other statement reads JSON as psycopg does.
    """
    from psycopg.adapt import Loader  # noqa: PLC0415 - psycopg is an optional dependency

    class JsonTextLoader(Loader):
        def load(self, data: Any) -> str:
            return str(data, "utf-8")

    return JsonTextLoader


def _json_as_text(value: Any) -> Any:
    """A JSON column's value as JSON text: the text a driver gave (SQLite's), or
    the document of a value a driver parsed already."""
    return value if value is None or type(value) is str else json_text(value)


_FIRST_ITEM = operator.itemgetter(0)

#: :func:`_processors_of` for JSON read as text, per look-up.
_text_json_processors: dict[Lookup, Steps] = {}


def _text_json_processors_of(query: Lookup, description: Any) -> Steps:
    known = _text_json_processors.get(query)
    if known is None:
        json_columns = {
            index for index, column in enumerate(query.columns) if isinstance(column.type, JSON)
        }
        others = (
            step for step in _processors_of(query, description) if step[0] not in json_columns
        )
        texts = ((index, _json_as_text) for index in sorted(json_columns))
        known = _text_json_processors[query] = tuple(sorted((*others, *texts), key=_FIRST_ITEM))
    return known


def _values(
    connection: Connection,
    query: Lookup,
    wanted: Mapping[str, Any],
    *,
    direct: bool,
    json_as_text: bool = False,
    log_parameters: bool = False,
) -> list[list[Any]]:
    """The values of each row ``query`` finds for ``wanted``, converted to Python.

    Through ``Connection.exec_driver_sql`` (the engine's cursor listeners see
    it), or, when ``direct``, on a psycopg cursor made for this look-up and
    closed after it, in the same transaction: a fifth of the client CPU (no
    execution context, no result metadata built from the driver's description),
    unseen by cursor listeners. ``json_as_text``: JSON columns as the JSON text
    storage holds, not parsed (that cursor reads them with
    :func:`json_text_loader`). Driver errors come wrapped as SQLAlchemy wraps
    them either way. ``log_parameters``: see :func:`_debug`.
    """
    compiled = query.compiled
    parameters = compiled.bind(wanted)
    processors_of = _text_json_processors_of if json_as_text else _processors_of
    processors = (_text_json_processors if json_as_text else _result_processors).get(query)
    if direct:
        if _log.isEnabledFor(logging.DEBUG):
            _debug(compiled.sql, parameters, shown=log_parameters)
        driver: Any = connection.connection.driver_connection
        try:
            with driver.cursor() as cursor:
                if json_as_text:
                    cursor.adapters.register_loader("jsonb", json_text_loader())
                    cursor.adapters.register_loader("json", json_text_loader())
                cursor.execute(compiled.sql, parameters)
                if processors is None:
                    processors = processors_of(query, cursor.description)
                found = cursor.fetchall()
        except connection.dialect.loaded_dbapi.Error as exc:
            hide = not log_parameters
            raise _wrapped(connection, compiled.sql, parameters, exc, hide_parameters=hide) from exc
    else:
        result = connection.exec_driver_sql(compiled.sql, parameters)
        if processors is None:
            # The driver's type codes of the columns, read once a look-up (psycopg
            # builds its description anew on every access).
            processors = processors_of(query, result.cursor.description)
        found = result.all()
    return _processed(found, processors)


def fetch_fixed(
    connection: Connection, statement: Select[Any], *, direct: bool = False
) -> Sequence[Sequence[Any]]:
    """The rows of ``statement``, a query built once and run again and again (a cached
    tally), as the driver gives them: the small report of a few hundred rows whose
    query costs less than a millisecond.

    ``direct``: compiled once (:func:`_compile` keeps it with the statement) and
    run on a psycopg cursor of its own, as :func:`_values` runs look-ups: a
    statement through SQLAlchemy costs some 0.1 ms of client CPU, as much as the
    query. Only for a statement without parameters whose columns need no result
    processing on this driver (ids, dates, counts); any other goes through
    ``Connection.execute``.
    """
    if direct:
        compiled = _compile(statement, connection.dialect)
        if not compiled.names:
            if _log.isEnabledFor(logging.DEBUG):
                _log.debug("%s", compiled.sql)
            driver: Any = connection.connection.driver_connection
            try:
                with driver.cursor() as cursor:
                    cursor.execute(compiled.sql)
                    found: list[Sequence[Any]] = cursor.fetchall()
            except connection.dialect.loaded_dbapi.Error as exc:
                raise _wrapped(connection, compiled.sql, None, exc) from exc
            return found
    return connection.execute(statement).all()


def fetch_with_children(
    connection: Connection,
    query: Lookup,
    wanted: Mapping[str, Any],
    children: Lookup,
    of: Mapping[str, Any],
    *,
    log_parameters: bool = False,
) -> tuple[list[tuple[m.Row, m.Row | None]], list[tuple[m.Row, m.Row | None]]]:
    """The rows ``query`` finds and the rows ``children`` finds for ``of``, each with its
    parent's row when the look-up joins one, both sent in one psycopg pipeline: one round trip.

    For an entity wanted by id whose child rows are wanted by the same id; only on
    a driver with a pipeline (a store that pipelines), on cursors of their own.
    """
    sent = [(query, wanted), (children, of)]
    found, of_it = fetch_together(connection, sent, log_parameters=log_parameters)
    return found, of_it


def fetch_together(
    connection: Connection,
    sent: Sequence[tuple[Lookup, Mapping[str, Any]]],
    *,
    log_parameters: bool = False,
) -> list[list[tuple[m.Row, m.Row | None]]]:
    """The rows each look-up of ``sent`` finds for its values, each row with its parent's
    row when the look-up joins one, all sent in one psycopg pipeline: one round trip.

    Only on a driver with a pipeline (a store that pipelines), on cursors of their own.
    """
    driver: Any = connection.connection.driver_connection
    bound = [(lookup_, lookup_.compiled.bind(values)) for lookup_, values in sent]
    cursors = []
    found: list[list[list[Any]]] = []
    error = connection.dialect.loaded_dbapi.Error

    def send() -> None:
        for lookup_, parameters in bound:
            if _log.isEnabledFor(logging.DEBUG):
                _debug(lookup_.compiled.sql, parameters, shown=log_parameters)
            cursor = driver.cursor()
            cursor.execute(lookup_.compiled.sql, parameters)
            cursors.append(cursor)

    try:
        _in_pipeline(driver, send, error)
        for (lookup_, _), cursor in zip(bound, cursors, strict=True):
            processors = _result_processors.get(lookup_)
            if processors is None:
                processors = _processors_of(lookup_, cursor.description)
            found.append(_processed(cursor.fetchall(), processors))
    except connection.dialect.loaded_dbapi.Error as exc:
        raise _wrapped(connection, bound[0][0].compiled.sql, None, exc) from exc
    finally:
        for cursor in cursors:
            cursor.close()
    return [
        _with_parents(lookup_, values) for (lookup_, _), values in zip(sent, found, strict=True)
    ]


def _with_parents(query: Lookup, values: list[list[Any]]) -> list[tuple[m.Row, m.Row | None]]:
    if len(query.tables) > 1:
        return _rows_with_parent_of(query, values)
    return [(row, None) for row in _rows_of(query, values)]


def _processed(found: Sequence[Sequence[Any]], steps: Steps) -> list[list[Any]]:
    """Each row of ``found`` as a list, its values converted where a column has a processor.

    Only those columns are visited: a slot's row has two dozen columns and a few
    processors.
    """
    rows = [list(row) for row in found]
    if steps:
        for row in rows:
            for index, process in steps:
                row[index] = process(row[index])
    return rows


def _debug(sql: str, parameters: Any, *, shown: bool) -> None:
    """Log ``sql``, a statement sent straight to the driver, on ``bookingcore.sql`` at DEBUG.

    Its parameters are logged only when ``shown`` (``SqlStore(..., log_parameters=True)``):
    they may be password or code hashes, tokens, secrets or personal data. Callers check
    ``_log.isEnabledFor(logging.DEBUG)`` first, so nothing is formatted otherwise.
    """
    if shown:
        _log.debug("%s %r", sql, parameters)
    else:
        _log.debug("%s", sql)


def _wrapped(
    connection: Connection,
    sql: str | None,
    parameters: Any,
    error: Exception,
    *,
    hide_parameters: bool = True,
) -> DBAPIError:
    """``error`` from the driver as the SQLAlchemy exception that wraps it; its message
    names the parameters only when not ``hide_parameters`` (as an engine's own option)."""
    base = connection.dialect.loaded_dbapi.Error
    wrapped = DBAPIError.instance(
        sql, parameters, error, base, hide_parameters=hide_parameters, dialect=connection.dialect
    )
    return cast("DBAPIError", wrapped)


# --------------------------------------------------------------------------- planning


@attrs.frozen
class Statement:
    """One statement of a commit and the parameters of each of its executions."""

    mapper: m.Mapper[Any]
    compiled: Compiled
    parameters: list[tuple[Any, ...] | dict[str, Any]]
    #: A versioned UPDATE of these entities, one parameter set each: it must change
    #: exactly one row per entity, else one of them (at least) was stale.
    checks: tuple[Write, ...] = ()
    #: An INSERT returning the value the database generated for the row ``returns``.
    returns: UUID | None = None

    @property
    def many(self) -> bool:
        """Whether the statement runs once per parameter set (an executemany)."""
        return len(self.parameters) > 1

    @property
    def arguments(self) -> Any:
        """The parameters as the driver takes them: all sets for an executemany, else the one."""
        return self.parameters if self.many else self.parameters[0]


def plan(writes: Sequence[Writes], dialect: Dialect) -> Iterator[Statement]:
    """The statements that write ``writes`` (one per mapper, parents before children),
    in their order, each mapper's updates before its inserts.

    Made one mapper at a time as they are asked for, so :func:`run_each` holds
    the parameters of one mapper's statements at a time, not of the whole commit
    (a bulk import's chunk binds thousands of rows).
    """
    together = dialect.supports_sane_multi_rowcount
    for batch in writes:
        # Updates first: a unique key one row gives up can be taken by a new row; and
        # among the updates, a row giving a key up before the row taking it.
        changed = _givers_first(batch.changed)
        updates = (s for write in changed for s in _updates(write, write.before, dialect))
        yield from _versioned_together(updates) if together else updates
        yield from _inserts(batch, dialect)


@functools.cache
def _unique_keys(table: Table) -> tuple[tuple[str, ...], ...]:
    """The column sets of ``table``'s unique constraints and plain unique indexes (a
    partial one, which holds only some rows, is left out)."""
    keys = [
        tuple(c.name for c in constraint.columns)
        for constraint in table.constraints
        if isinstance(constraint, UniqueConstraint)
    ]
    keys.extend(
        tuple(c.name for c in index.columns)
        for index in table.indexes
        if index.unique
        and index.columns
        and not any(v is not None for k, v in index.dialect_kwargs.items() if k.endswith("_where"))
    )
    return tuple(keys)


def _givers_first(changed: list[Write]) -> list[Write]:
    """``changed`` (one mapper's updates), in their order except that a row taking a
    unique key another of them gives up comes after that one.

    The database checks each UPDATE's unique keys as it runs, so a key moved from
    one stored row to another in one commit is written in that order, whichever
    row the unit of work read first. Two rows swapping keys wait for each other:
    they keep their order, and the database refuses the commit.
    """
    if len(changed) < 2:  # a pair is the least that can move a key
        return changed
    keys = _unique_keys(changed[0].mapper.table)
    if not keys:
        return changed

    def moved(write: Write) -> Iterator[tuple[tuple[str, ...], tuple[Any, ...], tuple[Any, ...]]]:
        before = write.before[0]
        for names in keys:
            was = tuple(before.get(name) for name in names)
            now = tuple(write.row.get(name) for name in names)
            if was != now:
                yield names, was, now

    given = {
        (names, was): index
        for index, write in enumerate(changed)
        for names, was, _ in moved(write)
        if None not in was
    }
    if not given:
        return changed
    waits: dict[int, set[int]] = {}
    for index, write in enumerate(changed):
        for names, _, now in moved(write):
            giver = given.get((names, now))
            if giver is not None and giver != index:
                waits.setdefault(index, set()).add(giver)
    if not waits:
        return changed
    ordered: list[Write] = []
    done: set[int] = set()
    pending = list(range(len(changed)))
    while pending:
        ready = [i for i in pending if waits.get(i, set()) <= done]
        if not ready:  # a cycle: left as it is, for the database to refuse
            ready = pending
        for index in ready:
            ordered.append(changed[index])
            done.add(index)
        pending = [i for i in pending if i not in done]
    return ordered


def _versioned_together(statements: Iterable[Statement]) -> Iterator[Statement]:
    """``statements``, in order, with each run of versioned UPDATEs of one compiled
    statement (the same columns of one table) sent as one executemany.

    A chunk of a bulk import changes hundreds of slots the same way (seats held and
    version): one statement each cost more client CPU than binding them. Only where
    the driver sums an executemany's row counts (``supports_sane_multi_rowcount``):
    the run changed as many rows as it has entities, or one of them was stale.
    """
    run: list[Statement] = []
    for statement in statements:
        if statement.checks and run and statement.compiled is run[0].compiled:
            run.append(statement)
            continue
        if run:
            yield _merged(run)
            run = []
        if statement.checks:
            run.append(statement)
        else:
            yield statement
    if run:
        yield _merged(run)


def _merged(run: list[Statement]) -> Statement:
    if len(run) == 1:
        return run[0]
    first = run[0]
    return Statement(
        first.mapper,
        first.compiled,
        [parameters for statement in run for parameters in statement.parameters],
        checks=tuple(write for statement in run for write in statement.checks),
    )


def _rows_into(
    mapper: m.Mapper[Any], table: Table, rows: Sequence[m.Row], dialect: Dialect
) -> list[Statement]:
    """INSERTs of ``rows``: one executemany per set of columns."""
    shapes: dict[tuple[str, ...], list[m.Row]] = {}
    # One mapper's rows nearly always share their columns: compare each row's keys with
    # the last shape's (a set comparison in C) before building a tuple of them.
    last_keys: Any = None
    last: list[m.Row] = []
    for row in rows:
        names = row.keys()
        if names != last_keys:
            last = shapes.setdefault(tuple(row), [])
            last_keys = names
        last.append(row)
    statements = []
    for keys, same in shapes.items():
        compiled = _compile(_insert(table), dialect, keys)
        statements.append(Statement(mapper, compiled, compiled.bind_many(same)))
    return statements


def _inserts(writes: Writes, dialect: Dialect) -> list[Statement]:
    mapper, rows = writes.mapper, writes.rows
    if not rows:
        return []
    if mapper.generated is not None:
        statements = []
        # Each row's generated value comes back from its own INSERT (RETURNING, or the row id).
        into = (
            _insert_returning(mapper.table, mapper.generated)
            if dialect.insert_returning
            else _insert(mapper.table)
        )
        for row in rows:
            compiled = _compile(into, dialect, tuple(row))
            statements.append(
                Statement(mapper, compiled, [compiled.bind(row)], returns=row[mapper.key])
            )
    else:
        statements = _rows_into(mapper, mapper.table, rows, dialect)
    if mapper.child_table is not None:
        children = [child for rows_of_one in writes.children for child in rows_of_one]
        if children:
            statements.extend(_rows_into(mapper, mapper.child_table, children, dialect))
    return statements


def _updates(write: Write, before: Snapshot, dialect: Dialect) -> list[Statement]:
    mapper = write.mapper
    ident = write.row[mapper.key]
    old_row, old_children = before
    changed = {k: v for k, v in write.row.items() if old_row.get(k) != v}
    if mapper.versioned:
        changed = changed or {"version": old_row["version"]}  # still check the version
    statements = []
    if changed:
        statement = _update(mapper.table, mapper.key, tuple(changed), versioned=mapper.versioned)
        values = {f"new_{k}": v for k, v in changed.items()}
        values["ident"] = ident
        if mapper.versioned:
            values["read_version"] = old_row["version"]
        compiled = _compile(statement, dialect)
        checks = (write,) if mapper.versioned else ()
        statements.append(Statement(mapper, compiled, [compiled.bind(values)], checks=checks))
    if mapper.child_table is not None and write.children != old_children:
        child = mapper.child_table
        compiled = _compile(_delete_children(child), dialect)
        statements.append(Statement(mapper, compiled, [compiled.bind({"ident": ident})]))
        if write.children:
            statements.extend(_rows_into(mapper, child, write.children, dialect))
    return statements


# --------------------------------------------------------------------------- running


@attrs.define
class Outcome:
    """What running a commit's statements reported."""

    #: The entities of each versioned UPDATE (one, or several sent as one executemany)
    #: that changed fewer rows than it has entities: another transaction got to one of
    #: them (at least) first.
    stale: list[tuple[Write, ...]] = attrs.Factory(list)
    #: Generated values (outbox sequences), by the id of the row they were generated for.
    sequences: dict[UUID, int] = attrs.Factory(dict)
    #: Whether the runner also committed the transaction.
    committed: bool = False


def run_each(connection: Connection, statements: Iterable[Statement]) -> Outcome:
    """Execute ``statements`` one by one; a refused write raises :class:`Refused`."""
    outcome = Outcome()
    for statement in statements:
        try:
            result = connection.exec_driver_sql(statement.compiled.sql, statement.arguments)
        except IntegrityError as exc:
            raise Refused(statement.mapper, exc) from exc
        returned = None
        if statement.returns is not None:
            returned = result.scalar() if connection.dialect.insert_returning else result.lastrowid
        _note(statement, outcome, result.rowcount, returned)
    return outcome


def supports_pipeline(dialect: Dialect) -> bool:
    """Whether ``dialect``'s driver can send many statements before reading their results.

    That is psycopg 3 over a libpq with pipeline mode (14 or later).
    """
    if dialect.driver != "psycopg":
        return False
    import psycopg  # noqa: PLC0415 - installed whenever the psycopg dialect is in use

    return bool(psycopg.Pipeline.is_supported())


def run_pipelined(
    connection: Connection,
    statements: Sequence[Statement],
    *,
    commit: bool,
    log_parameters: bool = False,
) -> Outcome:
    """Send ``statements`` (and ``COMMIT`` when ``commit``) in one psycopg pipeline.

    The driver sends every statement before it reads any result, so the whole
    commit is one round trip. A statement the database refuses aborts the rest
    (``COMMIT`` included) and raises here, wrapped as SQLAlchemy wraps driver
    errors, so deadlock retries and duplicate explanations work as for
    :func:`run_each`. Pass ``commit=False`` when a result must be checked before
    committing (a version check that can fail).
    """
    driver: Any = connection.connection.driver_connection
    cursors = []

    def send() -> None:
        for statement in statements:
            cursor = driver.cursor()
            sql, arguments = statement.compiled.sql, statement.arguments
            if _log.isEnabledFor(logging.DEBUG):
                _debug(sql, arguments, shown=log_parameters)
            if statement.many:
                cursor.executemany(sql, arguments)
            else:
                cursor.execute(sql, arguments)
            cursors.append(cursor)
        if commit:
            driver.execute("COMMIT")

    try:
        _in_pipeline(driver, send, connection.dialect.loaded_dbapi.Error)
    except connection.dialect.loaded_dbapi.Error as exc:
        wrapped = _wrapped(connection, None, None, exc)
        if isinstance(wrapped, IntegrityError):
            raise Refused(_refusing(statements, exc), wrapped) from exc
        raise wrapped from exc
    outcome = Outcome(committed=commit)
    for statement, cursor in zip(statements, cursors, strict=True):
        returned = cursor.fetchone()[0] if statement.returns is not None else None
        _note(statement, outcome, cursor.rowcount, returned)
        cursor.close()
    return outcome


def _in_pipeline(driver: Any, send: Callable[[], None], error: type[Exception]) -> None:
    """Run ``send`` in a psycopg pipeline of ``driver``; raise the first error the database
    reported only once the pipeline has ended.

    psycopg raises a refusal (a duplicate key, a deadlock) where it reads it, often in
    the middle of ``send``; ending the pipeline after that fails again ("pipeline
    aborted"), which psycopg logs as a warning when the block is left by an exception.
    Kept until the block ends normally, the first error is raised as the answer and
    nothing is logged for an ordinary refusal.
    """
    first: Exception | None = None
    try:
        with driver.pipeline():
            try:
                send()
            except error as exc:
                first = exc
    except error:
        if first is None:
            raise
    if first is not None:
        raise first


def _note(statement: Statement, outcome: Outcome, rowcount: int, returned: Any) -> None:
    if statement.checks and rowcount != len(statement.checks):
        outcome.stale.append(statement.checks)
    if statement.returns is not None:
        outcome.sequences[statement.returns] = returned


def _refusing(statements: Sequence[Statement], error: Exception) -> m.Mapper[Any]:
    """The mapper whose table the database names in ``error``, else the first statement's."""
    table = getattr(getattr(error, "diag", None), "table_name", None)
    for statement in statements:
        mapper = statement.mapper
        child = mapper.child_table
        if table in (mapper.table.name, None if child is None else child.name):
            return mapper
    return statements[0].mapper
