"""Helpers the bench scripts share: the command line, the PostgreSQL to use, tables, figures.

The benches are scripts run by path (``.venv/bin/python bench/<name>.py``), so
Python puts this folder first on ``sys.path`` and they import this module as
``_common``. Importing it imports only the standard library (psycopg and
SQLAlchemy are imported by the functions that need them), so a bench that
measures its own memory can use it; nothing here imports bookingcore.
"""

from __future__ import annotations

import argparse
import math
import os
import statistics
import sys
from collections.abc import Collection, Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING
from uuid import uuid4

if TYPE_CHECKING:
    from sqlalchemy.engine import URL

__all__ = [
    "DEFAULT_POSTGRES_URL",
    "POSTGRES_URL_VARIABLES",
    "bench_schema",
    "conninfo",
    "percentile",
    "positive",
    "postgres_url",
    "say",
    "server_description",
    "table",
    "whole_numbers",
    "zero_or_more",
]

DEFAULT_POSTGRES_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
#: Where the PostgreSQL benches look for a database when ``--url`` is not given, in order.
POSTGRES_URL_VARIABLES = ("BOOKINGCORE_BENCH_POSTGRES_URL", "BOOKINGCORE_TEST_POSTGRES_URL")


# --------------------------------------------------------------------------- the command line


def positive(text: str) -> int:
    """An ``argparse`` type: a whole number of at least 1."""
    value = int(text)
    if value < 1:
        msg = f"expected a positive whole number, got {text!r}"
        raise argparse.ArgumentTypeError(msg)
    return value


def zero_or_more(text: str) -> int:
    """An ``argparse`` type: a whole number of at least 0."""
    value = int(text)
    if value < 0:
        msg = f"expected zero or more, got {text!r}"
        raise argparse.ArgumentTypeError(msg)
    return value


def whole_numbers(text: str, *, most: int | None = None) -> tuple[int, ...]:
    """Positive whole numbers separated by commas (``1,2,4``), each at most ``most``.

    For ``argparse``, wrap it: ``type=lambda text: whole_numbers(text, most=64)``.
    """
    try:
        numbers = tuple(int(part) for part in text.split(","))
    except ValueError:
        numbers = ()
    if not numbers or min(numbers) < 1 or (most is not None and max(numbers) > most):
        upper = "" if most is None else f" from 1 to {most}"
        kind = "positive whole numbers" if most is None else f"whole numbers{upper}"
        msg = f"expected {kind} separated by commas, got {text!r}"
        raise argparse.ArgumentTypeError(msg)
    return numbers


def postgres_url(given: str | None) -> URL:
    """The database a PostgreSQL bench uses, with the psycopg (3) driver.

    ``given`` (``--url``), else the first of :data:`POSTGRES_URL_VARIABLES` that is
    set, else :data:`DEFAULT_POSTGRES_URL`.

    Raises:
        ValueError: the URL names another database than PostgreSQL.
    """
    from sqlalchemy.engine import make_url  # noqa: PLC0415 - see the module docstring

    raw = given or next(
        (value for name in POSTGRES_URL_VARIABLES if (value := os.environ.get(name, "").strip())),
        DEFAULT_POSTGRES_URL,
    )
    url = make_url(raw)
    if url.get_backend_name() != "postgresql":
        msg = f"the bench needs PostgreSQL, not {url.get_backend_name()}"
        raise ValueError(msg)
    return url.set(drivername="postgresql+psycopg")


def conninfo(url: URL) -> str:
    """``url`` as a libpq connection string, for psycopg."""
    return url.set(drivername="postgresql").render_as_string(hide_password=False)


# --------------------------------------------------------------------------- the database


@contextmanager
def bench_schema(dsn: str, prefix: str = "bench_", *, keep: bool = False) -> Iterator[str]:
    """A new schema ``<prefix><random>``, dropped with everything in it when the block ends.

    The schema goes even when the block fails, unless ``keep``.
    """
    import psycopg  # noqa: PLC0415 - see the module docstring

    schema = f"{prefix}{uuid4().hex[:12]}"
    with psycopg.connect(dsn, autocommit=True) as admin:
        admin.execute(f'CREATE SCHEMA "{schema}"')
    try:
        yield schema
    finally:
        if not keep:
            with psycopg.connect(dsn, autocommit=True) as admin:
                admin.execute(f'DROP SCHEMA "{schema}" CASCADE')


def server_description(dsn: str) -> str:
    """The server's version and commit setting, for the report's header.

    Raises:
        psycopg.OperationalError: the server cannot be reached.
    """
    import psycopg  # noqa: PLC0415 - see the module docstring

    with psycopg.connect(dsn) as connection:
        version, synchronous_commit = connection.execute(
            "SELECT current_setting('server_version'), current_setting('synchronous_commit')"
        ).fetchone() or ("?", "?")
    return f"PostgreSQL {version}, synchronous_commit={synchronous_commit}"


# --------------------------------------------------------------------------- the report


def table(
    headers: Sequence[str], rows: Sequence[Sequence[str]], left: int | Collection[int] = 0
) -> str:
    """Columns padded to their widest cell, right-aligned but for those ``left`` names.

    ``left`` is how many columns, from the first, are left-aligned, or the
    positions of those columns.
    """
    widths = [max(len(row[i]) for row in [headers, *rows]) for i in range(len(headers))]
    lefts = set(range(left)) if isinstance(left, int) else set(left)

    def line(cells: Sequence[str]) -> str:
        padded = (
            cell.ljust(width) if i in lefts else cell.rjust(width)
            for i, (cell, width) in enumerate(zip(cells, widths, strict=True))
        )
        return "  ".join(padded).rstrip()

    return "\n".join([line(headers), *(line(row) for row in rows)])


def percentile(values: Sequence[float], percent: int) -> float:
    """The ``percent``-th percentile of ``values`` (inclusive method); NaN when empty."""
    if not values:
        return math.nan
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[percent - 1]


def say(text: str) -> None:
    """A progress line on standard error, so standard output holds only the report."""
    print(text, file=sys.stderr, flush=True)
