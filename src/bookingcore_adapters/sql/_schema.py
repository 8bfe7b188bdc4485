"""The schema's shared parts: the metadata, the column types, the column helpers.

Each aggregate family's module defines its own tables on :data:`metadata`;
this module is the bottom of the adapter's imports and imports none of them.

Columns are plain SQL types chosen to read back exactly what was written:

* times are :class:`UtcDateTime` (``TIMESTAMP WITH TIME ZONE`` on PostgreSQL, a
  fixed-width UTC text on SQLite) and always come back timezone-aware in UTC;
* amounts are :class:`ExactDecimal` (``NUMERIC`` on PostgreSQL, decimal text on
  SQLite, which has no exact numeric type) next to a three-letter currency;
* ids are :class:`sqlalchemy.Uuid`, enums their string values, and free-form
  mappings JSON (``JSONB`` on PostgreSQL).

Constraint names follow :data:`NAMING_CONVENTION`, so migrations and error
messages can rely on them.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    JSON,
    Column,
    DateTime,
    ForeignKey,
    Index,
    MetaData,
    Numeric,
    String,
    Table,
    Uuid,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator, TypeEngine

__all__ = [
    "CODE",
    "CURRENCY",
    "ENUM",
    "NAMING_CONVENTION",
    "PHONE",
    "ExactDecimal",
    "UtcDateTime",
    "index_where_set",
    "json_type",
    "metadata",
    "money",
    "ref",
    "when",
]

#: How constraints and indexes are named (stable names for Alembic and error messages).
NAMING_CONVENTION: dict[str, str] = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UtcDateTime(TypeDecorator[datetime]):
    """A timezone-aware datetime stored in UTC, read back aware in UTC on every backend.

    SQLite keeps no offset, so the value is converted to UTC and stored without
    one; its fixed-width text then sorts in time order.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        utc = _in_utc(value)
        return utc.replace(tzinfo=None) if dialect.name == "sqlite" else utc

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)

    def bind_processor(self, dialect: Dialect) -> Callable[[Any], Any] | None:
        """On SQLite, one step to SQLAlchemy's text form; elsewhere the usual two.

        A bulk import binds a dozen datetimes a row: chaining the UTC conversion
        into SQLAlchemy's own formatting costs twice as much as doing both at once.
        ``test_utc_datetime_text_matches_sqlalchemy`` keeps the two forms equal.
        """
        if dialect.name != "sqlite":
            return super().bind_processor(dialect)

        def to_text(value: datetime | None) -> str | None:
            if value is None:
                return None
            if value.tzinfo is UTC:  # most are: "...+00:00" without its offset, no copy
                return value.isoformat(" ", "microseconds")[:-6]
            return _in_utc(value).replace(tzinfo=None).isoformat(" ", "microseconds")

        return to_text

    def result_processor(self, dialect: Dialect, coltype: object) -> Callable[[Any], Any] | None:
        """On SQLite, the stored text parsed in C and marked UTC; elsewhere as usual."""
        if dialect.name != "sqlite":
            return super().result_processor(dialect, coltype)

        def from_text(value: str | None) -> datetime | None:
            if value is None:
                return None
            return datetime.fromisoformat(value).replace(tzinfo=UTC)

        return from_text


def _in_utc(value: datetime) -> datetime:
    """``value`` in UTC; a naive datetime is refused (its zone would be a guess)."""
    if value.tzinfo is UTC:
        return value
    if value.tzinfo is None or value.utcoffset() is None:
        msg = f"refusing to store the naive datetime {value!r}; give it a timezone"
        raise ValueError(msg)
    return value.astimezone(UTC)


class ExactDecimal(TypeDecorator[Decimal]):
    """A :class:`~decimal.Decimal` stored exactly: ``NUMERIC`` where the backend has
    it, decimal text on SQLite (whose numbers are binary floats)."""

    impl = Numeric
    cache_ok = True

    def __init__(self, precision: int | None = None, scale: int | None = None) -> None:
        super().__init__()
        self.precision = precision
        self.scale = scale

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name == "sqlite":
            return dialect.type_descriptor(String())
        return dialect.type_descriptor(Numeric(self.precision, self.scale, asdecimal=True))

    def process_bind_param(self, value: Decimal | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        return str(value) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Dialect) -> Decimal | None:
        if value is None:
            return None
        return value if isinstance(value, Decimal) else Decimal(str(value))


def json_type() -> TypeEngine[Any]:
    """A JSON column type: ``JSONB`` on PostgreSQL, ``JSON`` elsewhere."""
    return JSON().with_variant(JSONB(), "postgresql")


#: ``json.dumps`` with its default settings, without its keyword checks.
_ENCODE = json.JSONEncoder().encode


def json_text(value: Any) -> str:
    """``json.dumps(value)``, the text the JSON columns store on SQLite.

    The serializer of the engines :class:`~bookingcore_adapters.sql.SqlStore`
    makes for SQLite: the same text, with an empty dict or list written at once
    rather than through the encoder (most metadata and an audit entry's old
    values of a new row are empty: a bulk import writes a few a row).
    ``test_json_text_is_what_json_dumps_gives`` keeps the two equal.
    """
    if not value and type(value) in _EMPTY_TEXT:
        return _EMPTY_TEXT[type(value)]
    return _ENCODE(value)


_EMPTY_TEXT: dict[type, str] = {dict: "{}", list: "[]"}


def money(name: str) -> Column[Decimal]:
    """A required amount column (exact, 18 digits, 4 after the point)."""
    return Column(name, ExactDecimal(18, 4), nullable=False)


def when(name: str, *, nullable: bool = False) -> Column[datetime]:
    """A UTC timestamp column."""
    return Column(name, UtcDateTime(), nullable=nullable)


def ref(
    name: str,
    target: str,
    *,
    nullable: bool = True,
    index: bool = False,
    ondelete: str | None = None,
) -> Column[Any]:
    """A UUID column referring to ``target`` (``"table.column"``)."""
    return Column(
        name, Uuid(), ForeignKey(target, ondelete=ondelete), nullable=nullable, index=index
    )


#: Column types shared by several tables.
PHONE = String(20)
CODE = String(50)
CURRENCY = String(3)
ENUM = String(40)

#: Every table of the SQL adapter (pass it to Alembic's ``target_metadata``).
metadata = MetaData(naming_convention=NAMING_CONVENTION)


def index_where_set(table: Table, column: str, *rest: str) -> Index:
    """An index on ``column`` and ``rest`` of the rows whose ``column`` is not NULL.

    Nobody looks rows up by a missing value, and a row without one writes no
    entry. ``column = :value`` implies ``column IS NOT NULL``, so PostgreSQL and
    SQLite both use the index for it.
    """
    leading = table.c[column]
    present = leading.is_not(None)
    columns = [leading, *(table.c[name] for name in rest)]
    return Index(None, *columns, postgresql_where=present, sqlite_where=present)
