"""The "Coming from your own bookings schema" guide names only what exists.

Each table row of ``docs/guides/existing-schema.md`` says where a seed column
lives: its bookingcore cell names ``table.column`` of the SQL schema,
``Class.attribute`` of a public class, ``Class`` alone, ``PRESET:state`` of a
lifecycle preset, or a ``"literal"``. Every name is checked against the code,
so a rename fails here naming the guide's line and the stale cell.
"""

from __future__ import annotations

import enum
import re
from pathlib import Path

import attrs
import pytest

import bookingcore
import bookingcore.domain
import bookingcore.services
from bookingcore import Lifecycle
from bookingcore_adapters.sql import metadata

ROOT = Path(__file__).resolve().parents[2]
GUIDE = ROOT / "docs" / "guides" / "existing-schema.md"
HEADER = ["seed table", "seed column", "bookingcore", "note"]
#: Where a class named in the guide may come from, searched in this order.
NAMESPACES = (bookingcore.domain, bookingcore, bookingcore.services)
NO_HOME = "no home"

_TABLE_COLUMN = re.compile(r"[a-z][a-z0-9_]*\.[a-z][a-z0-9_]*")
_TABLE = re.compile(r"[a-z][a-z0-9_]*")
_CLASS_ATTRIBUTE = re.compile(r"[A-Z][A-Za-z0-9]*\.[A-Za-z_][A-Za-z0-9_]*")
_CLASS = re.compile(r"[A-Z][A-Za-z0-9]*")
_STATE = re.compile(r"[A-Z][A-Z_]*:[A-Za-z_]+")
_LITERAL = re.compile(r'"[^"]*"')


def _rows(text: str) -> list[tuple[int, list[str]]]:
    """(line number, cells) of every data row of the guide's mapping tables."""
    rows: list[tuple[int, list[str]]] = []
    in_table = False
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.startswith("|"):
            in_table = False
            continue
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if cells == HEADER:
            in_table = True
        elif in_table and not set("".join(cells)) <= set("-: "):
            assert len(cells) == len(HEADER), f"line {number}: {len(cells)} cells: {line}"
            rows.append((number, cells))
    return rows


ROWS = _rows(GUIDE.read_text(encoding="utf-8"))


def _find_class(name: str) -> object | None:
    for namespace in NAMESPACES:
        if name in getattr(namespace, "__all__", ()):
            return getattr(namespace, name)
    return None


def _has_attribute(cls: object, name: str) -> bool:
    if isinstance(cls, type) and attrs.has(cls) and name in attrs.fields_dict(cls):
        return True
    if isinstance(cls, type) and issubclass(cls, enum.Enum):
        return name in cls.__members__
    return hasattr(cls, name)


def stale(reference: str) -> str | None:
    """Why ``reference`` (a backticked name of a bookingcore cell) names nothing, or None."""
    if _LITERAL.fullmatch(reference):
        return None
    if _STATE.fullmatch(reference):
        preset, state = reference.split(":")
        lifecycle = getattr(bookingcore.domain, preset, None)
        if not isinstance(lifecycle, Lifecycle):
            return f"{preset} is not a lifecycle preset of bookingcore.domain"
        return None if state in lifecycle.states else f"{preset} has no state {state!r}"
    if _CLASS_ATTRIBUTE.fullmatch(reference):
        name, attribute = reference.split(".")
        cls = _find_class(name)
        if cls is None:
            return f"no public class {name}"
        return None if _has_attribute(cls, attribute) else f"{name} has no {attribute}"
    if _CLASS.fullmatch(reference):
        return None if _find_class(reference) is not None else f"no public class {reference}"
    if _TABLE_COLUMN.fullmatch(reference):
        table, column = reference.split(".")
        if table not in metadata.tables:
            return f"no table {table} in bookingcore_adapters.sql.metadata"
        return None if column in metadata.tables[table].c else f"table {table} has no {column}"
    if _TABLE.fullmatch(reference):
        return None if reference in metadata.tables else f"no table {reference}"
    return "is none of table.column, Class.attribute, Class, PRESET:state or a literal"


def test_the_guide_has_its_mapping_tables() -> None:
    seeds = {cells[0].strip("`") for _, cells in ROWS}
    assert len(ROWS) > 150
    assert {"bookings", "waiting_lists", "partners", "booking_imports", "dealers"} <= seeds


def test_every_row_names_a_home_or_says_it_has_none() -> None:
    homeless = [
        f"line {number}: {cells[1]}"
        for number, cells in ROWS
        if not re.search(r"`[^`]+`", cells[2]) and cells[2] != NO_HOME
    ]
    assert homeless == [], "a bookingcore cell names nothing and does not say 'no home'"


def test_every_name_in_the_bookingcore_column_exists() -> None:
    problems = [
        f"{GUIDE.name} line {number}, seed {cells[0]} {cells[1]}: `{reference}`: {why}"
        for number, cells in ROWS
        for reference in re.findall(r"`([^`]+)`", cells[2])
        if (why := stale(reference)) is not None
    ]
    assert problems == [], "stale cells in the guide:\n" + "\n".join(problems)


@pytest.mark.parametrize(
    ("reference", "expected"),
    [
        ("bookings.location_id", None),
        ("bookings.dealer_id", "table bookings has no dealer_id"),
        ("dealers.code", "no table dealers in bookingcore_adapters.sql.metadata"),
        ("Booking.internal_notes", None),
        ("Booking.booking_notes", "Booking has no booking_notes"),
        ("Booking.total_travelers", None),
        ("BookingSource.WALK_IN", None),
        ("BookingSource.WEBSITE", "BookingSource has no WEBSITE"),
        ("Dealer.code", "no public class Dealer"),
        ("APPOINTMENT:NO_SHOW", None),
        ("APPOINTMENT:no_show", "APPOINTMENT has no state 'no_show'"),
        ("BOOKINGS:PENDING", "BOOKINGS is not a lifecycle preset of bookingcore.domain"),
        ('"quotation"', None),
        (
            "quotation_id=1",
            "is none of table.column, Class.attribute, Class, PRESET:state or a literal",
        ),
    ],
)
def test_a_stale_name_is_reported_with_why(reference: str, expected: str | None) -> None:
    assert stale(reference) == expected
