"""Bulk import throughput: bookingcore's full import against parse + strict validation only.

One generated bookings file (seed 004's columns, about 2 % bad rows of eight
kinds, each breaking one rule) as CSV and XLSX; the baseline parses and
validates it strictly on one core, the library runs ``core.imports.run_file``
into a fresh SQLite store, and ``--statements`` replays the library's own SQL
with raw sqlite3 (the storage floor). Each measurement runs in a fresh process
of this script (its hidden ``--measure`` mode), so its peak RSS is its own.
bench/README.md says what runs, how to read the output and the exit status.
From the repository root, as a script::

    .venv/bin/python bench/import_throughput.py                  # 100 000 rows; about 10 minutes
    .venv/bin/python bench/import_throughput.py --quick          # 5 000 rows; under a minute
    .venv/bin/python bench/import_throughput.py --workers 1 --formats csv --json out.json
    .venv/bin/python bench/import_throughput.py --growth         # 100 000 and 1 000 000 rows: long
    .venv/bin/python bench/import_throughput.py --formats csv --statements  # + the storage floor
"""

from __future__ import annotations

import argparse
import csv
import gc
import json
import os
import random
import resource
import shutil
import subprocess
import sys
import tempfile
import time
import traceback
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

from _common import (
    BenchError,
    current_rss_mb,
    fresh_store,
    library_core,
    parser,
    peak_rss_mb,
    positive,
    ratio,
    report_text,
    run_bench,
    say,
    some_of,
    table,
    whole_numbers,
)

DEFAULT_ROWS = 100_000
QUICK_ROWS = 5_000
DEFAULT_WORKERS = (1, 2)
DEFAULT_SEED = 4
DEFAULT_BAD_RATE = 0.02
GROWTH_FACTOR = 10

#: The issue's targets.
TARGET_RATIO = 0.9
TARGET_RSS_MB = 150.0
#: The growth check's tolerance: peak RSS at 10 x N over peak RSS at N.
GROWTH_TOLERANCE = 1.10

#: How long one measurement may take before the bench gives up (seconds).
MEASURE_TIMEOUT = 4 * 3600
#: The line prefix of a measurement's result on its standard output.
RESULT_MARK = "@@import-bench-result "

FORMATS = ("csv", "xlsx")
XLSX_READERS = ("openpyxl", "calamine")

# --------------------------------------------------------------------------- the data

HEADER = (
    "customer_name",
    "customer_phone",
    "customer_email",
    "dealer_code",
    "booking_date",
    "external_id",
    "car_variant",
    "advisor_email",
    "status",
    "notes",
)
DEALERS = tuple(f"DL{n:02d}" for n in range(1, 21))
ADVISORS_PER_DEALER = 2
ADVISORS = tuple(
    (f"advisor{dealer[2:]}{k}@autohub.in", f"Advisor {dealer} {k}", dealer)
    for dealer in DEALERS
    for k in range(1, ADVISORS_PER_DEALER + 1)
)
#: Car variants the rows name; the first six are products of the catalog, the
#: others end up in the bookings' metadata.
VARIANTS = (
    ("CITY-VX", "City VX"),
    ("CRETA-SX", "Creta SX"),
    ("NEXON-XZ", "Nexon XZ+"),
    ("SWIFT-ZXI", "Swift ZXi"),
    ("XUV700-AX7", "XUV700 AX7"),
    ("SELTOS-HTX", "Seltos HTX"),
    ("", "Baleno Alpha"),
    ("", "Venue SX(O)"),
    ("", "Innova Crysta GX"),
    ("", "Thar LX"),
    ("", "Verna SX"),
    ("", "Brezza VXi"),
)
PRODUCTS = tuple((code, name) for code, name in VARIANTS if code)
#: The product a variant cell names ("" for none): the import finds products by name.
PRODUCT_OF = {"": "", **{name: code for code, name in VARIANTS}}
STATES = (
    "PENDING",
    "ASSIGNED",
    "IN_PROGRESS",
    "COMPLETED",
    "CANCELLED",
    "NO_SHOW",
    "WAITLISTED",
    "RESCHEDULED",
)
STATE_WEIGHTS = (40, 20, 8, 12, 8, 4, 4, 4)
FIRST_NAMES = (
    "Asha", "Ravi", "Meera", "Arjun", "Priya", "Vikram", "Sneha", "Rahul", "Ananya", "Karan",
    "Divya", "Rohan", "Emily", "James", "Olivia", "Noah", "Sophia", "Liam", "Amelia", "Oliver",
    "Isla", "Harry", "Grace", "Jack", "Fatima", "Omar", "Aisha", "Yusuf", "Neha", "Sanjay",
    "Lakshmi", "Suresh", "Kavya", "Aditya", "Pooja", "Nikhil", "Chloe", "Ethan", "Mia", "Lucas",
)  # fmt: skip
LAST_NAMES = (
    "Rao", "Sharma", "Iyer", "Patel", "Reddy", "Nair", "Gupta", "Singh", "Kumar", "Menon",
    "Das", "Joshi", "Smith", "Johnson", "Brown", "Taylor", "Wilson", "Davies", "Evans", "Thomas",
    "Roberts", "Walker", "Khan", "Ali", "Hussain", "Chopra", "Mehta", "Bose", "Pillai", "Shah",
)  # fmt: skip
EMAIL_DOMAINS = ("gmail.com", "yahoo.co.in", "outlook.com", "hotmail.co.uk", "icloud.com")
US_AREAS = ("201", "202", "212", "305", "312", "415", "617", "646", "718", "917")
UK_PREFIXES = "1234585"  # +44 7x: mobile ranges that phonenumbers accepts in full
NOTES = (
    "Test drive requested",
    "Customer prefers a morning slot",
    "Exchange offer enquiry",
    "Finance pre-approved",
    "Call before visiting",
)
FIRST_DAY = date(2026, 1, 1)
DAYS = 181

#: The kinds of bad rows and the error code the library gives each.
BAD_KINDS = {
    "short_name": "invalid_length",
    "bad_phone": "invalid_phone",
    "bad_email": "invalid_email",
    "unknown_dealer": "unknown_dealer",
    "bad_date": "invalid_date",
    "bad_status": "invalid_status",
    "unknown_advisor": "unknown_advisor",
    "duplicate_external_id": "duplicate_in_file",
}
BAD_PHONES = ("+91 12345", "+1 555 0100", "98765 43210", "+44 20 7946")
BAD_EMAILS = ("{a}.{b}.gmail.com", "{a}@", "{a}@@gmail.com", "{a} {b}@gmail.com", "{a}@gmail..com")
BAD_DATES = ("31-02-2026", "2026-13-05", "05/13/2026", "next tuesday", "2026-02-30")
BAD_STATUSES = ("teleported", "DONE", "confirmed", "booked")

#: Share of rows that are a customer seen before, and how far back they come from.
REPEAT_SHARE = 0.3
REPEAT_WINDOW = 5_000


def customer(index: int) -> tuple[str, str, str]:
    """Customer ``index``'s name, phone (international format) and email (may be blank)."""
    first = FIRST_NAMES[index % len(FIRST_NAMES)]
    last = LAST_NAMES[(index // len(FIRST_NAMES)) % len(LAST_NAMES)]
    serial = (index * 7919 + 12345) % 10**8  # a bijection of 0..10**8-1: distinct numbers
    country = index % 10
    if country < 6:  # India: +91 9x xxx xxxxx
        digits = f"9{'6789'[(index // 10) % 4]}{serial:08d}"
        phone = f"+91 {digits[:5]} {digits[5:]}"
    elif country < 8:  # United States: +1 AAA EEE LLLL
        area = US_AREAS[(index // 10) % len(US_AREAS)]
        phone = f"+1 {area} {200 + serial % 800:03d} {serial // 800 % 10_000:04d}"
    else:  # United Kingdom mobile: +44 7x xxxx xxxx
        digits = f"7{UK_PREFIXES[(index // 10) % len(UK_PREFIXES)]}{serial:08d}"
        phone = f"+44 {digits[:4]} {digits[4:]}"
    email = ""
    if index % 7:  # one customer in seven gives no email
        domain = EMAIL_DOMAINS[index % len(EMAIL_DOMAINS)]
        email = f"{first}.{last}{index}@{domain}".lower()
    return f"{first} {last}", phone, email


@dataclass
class FileSpec:
    """What was generated: the rows, and the bad ones by kind."""

    rows: int
    seed: int
    bad_rate: float
    good: int
    bad: dict[str, int]
    customers: int

    @property
    def bad_total(self) -> int:
        return sum(self.bad.values())

    @property
    def expected_codes(self) -> dict[str, int]:
        """The library's error summary this file should give."""
        return {BAD_KINDS[kind]: count for kind, count in self.bad.items() if count}

    def as_json(self) -> dict[str, Any]:
        return {
            "rows": self.rows,
            "seed": self.seed,
            "bad_rate": self.bad_rate,
            "good": self.good,
            "bad": self.bad_total,
            "bad_by_kind": self.bad,
            "customers": self.customers,
        }


class RowMaker:
    """Deterministic rows of a bookings file; tallies what it made."""

    def __init__(self, rows: int, seed: int, bad_rate: float) -> None:
        self.rows = rows
        self.seed = seed
        self.bad_rate = bad_rate
        self._rng = random.Random(seed)
        self._recent: list[int] = []  # a ring of recent customers
        self._recent_external: list[str] = []  # a ring of external ids of good rows
        self._next_customer = 0
        self._plain_rows: set[tuple[object, ...]] = set()  # good rows without an external id
        self._booked: set[tuple[object, ...]] = set()  # (customer, slot) of every good row
        self.good = 0
        self.bad: Counter[str] = Counter(dict.fromkeys(BAD_KINDS, 0))

    def spec(self) -> FileSpec:
        return FileSpec(
            rows=self.rows,
            seed=self.seed,
            bad_rate=self.bad_rate,
            good=self.good,
            bad=dict(self.bad),
            customers=self._next_customer,
        )

    def __iter__(self) -> Iterator[tuple[str, ...]]:
        for number in range(self.rows):
            yield self._row(number)

    def _customer_index(self) -> int:
        rng = self._rng
        if self._recent and rng.random() < REPEAT_SHARE:
            return self._recent[rng.randrange(len(self._recent))]
        index = self._next_customer
        self._next_customer += 1
        if len(self._recent) < REPEAT_WINDOW:
            self._recent.append(index)
        else:
            self._recent[index % REPEAT_WINDOW] = index
        return index

    def _row(self, number: int) -> tuple[str, ...]:
        rng = self._rng
        index = self._customer_index()
        name, phone, email = customer(index)
        dealer = DEALERS[rng.randrange(len(DEALERS))]
        day = FIRST_DAY + timedelta(days=rng.randrange(DAYS))
        hour = 9 + rng.randrange(9) if rng.random() < 0.25 else None
        if rng.random() < 0.6:
            when = day.isoformat() + (f"T{hour:02d}:00" if hour is not None else "")
        else:
            when = f"{day:%d-%m-%Y}" + (f" {hour:02d}:00" if hour is not None else "")
        external = f"DMS-{number + 1:08d}" if rng.random() < 0.85 else ""
        variant = VARIANTS[rng.randrange(len(VARIANTS))][1] if rng.random() < 0.9 else ""
        advisor = ""
        if rng.random() < 0.4:
            first = DEALERS.index(dealer) * ADVISORS_PER_DEALER
            advisor = ADVISORS[first + rng.randrange(ADVISORS_PER_DEALER)][0]
        status = ""
        if rng.random() < 0.9:
            state = rng.choices(STATES, STATE_WEIGHTS)[0]
            status = (state, state.lower(), state.title())[rng.randrange(3)]
        notes = NOTES[rng.randrange(len(NOTES))] if rng.random() < 0.25 else ""
        if dealer and rng.random() < 0.1:
            dealer = dealer.lower()

        kind = None
        if rng.random() < self.bad_rate:
            kind = list(BAD_KINDS)[rng.randrange(len(BAD_KINDS))]
            if kind == "duplicate_external_id" and not self._recent_external:
                kind = None
        if kind is None:
            # A customer's traveler books a slot once: the booking rules refuse a second
            # active booking of it, so a good row moves to a free day instead. The slot is
            # the dealer, the product and the time: variants that name no product (and
            # none) share the dealer's product-less slot.
            product = PRODUCT_OF[variant]
            while (index, dealer.upper(), day, hour, product) in self._booked:
                day += timedelta(days=1)
                when = day.isoformat() + (f"T{hour:02d}:00" if hour is not None else "")
            self._booked.add((index, dealer.upper(), day, hour, product))
            if external:
                self._remember_external(external)
            else:
                state = (status or "PENDING").upper()
                same: tuple[object, ...] = (index, dealer.upper(), day, hour, state, variant)
                if (*same, advisor, notes) in self._plain_rows:  # it would be skipped
                    notes = f"Follow-up {number + 1}"
                self._plain_rows.add((*same, advisor, notes))
            self.good += 1
        else:
            self.bad[kind] += 1
            first_name, _, last_name = name.lower().partition(" ")
            if kind == "short_name":
                name = name[0]
            elif kind == "bad_phone":
                phone = BAD_PHONES[rng.randrange(len(BAD_PHONES))]
            elif kind == "bad_email":
                pattern = BAD_EMAILS[rng.randrange(len(BAD_EMAILS))]
                email = pattern.format(a=first_name, b=last_name)
            elif kind == "unknown_dealer":
                dealer = f"ZZ{rng.randrange(100):02d}"
            elif kind == "bad_date":
                when = BAD_DATES[rng.randrange(len(BAD_DATES))]
            elif kind == "bad_status":
                status = BAD_STATUSES[rng.randrange(len(BAD_STATUSES))]
            elif kind == "unknown_advisor":
                advisor = f"ghost{number % 50}@autohub.in"
            else:
                external = self._recent_external[rng.randrange(len(self._recent_external))]
        return (name, phone, email, dealer, when, external, variant, advisor, status, notes)

    def _remember_external(self, external: str) -> None:
        if len(self._recent_external) < REPEAT_WINDOW:
            self._recent_external.append(external)
        else:
            self._recent_external[self._rng.randrange(REPEAT_WINDOW)] = external


def write_csv(path: Path, rows: int, seed: int, bad_rate: float) -> FileSpec:
    """Write the bookings file as UTF-8 CSV."""
    maker = RowMaker(rows, seed, bad_rate)
    with path.open("w", newline="", encoding="utf-8") as file:
        writer = csv.writer(file)
        writer.writerow(HEADER)
        writer.writerows(maker)
    return maker.spec()


def write_xlsx(path: Path, rows: int, seed: int, bad_rate: float) -> FileSpec:
    """Write the same rows as an XLSX workbook (openpyxl, write-only; every cell is text)."""
    import openpyxl  # noqa: PLC0415 - only the parent writes workbooks

    maker = RowMaker(rows, seed, bad_rate)
    workbook = openpyxl.Workbook(write_only=True)
    sheet = workbook.create_sheet("Bookings")
    sheet.append(list(HEADER))
    for row in maker:
        sheet.append(list(row))
    workbook.save(path)
    return maker.spec()


# --------------------------------------------------------------------------- measurements


def _csv_dicts(path: Path) -> Iterator[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as file:
        yield from csv.DictReader(file)


def _xlsx_dicts(path: Path) -> Iterator[dict[str, str]]:
    import openpyxl  # noqa: PLC0415 - the baseline loads only what it uses

    workbook = openpyxl.load_workbook(path, read_only=True, data_only=True)
    try:
        rows = workbook.worksheets[0].iter_rows(values_only=True)
        header = [str(cell) for cell in next(rows)]
        for values in rows:
            yield {
                name: "" if value is None else str(value)
                for name, value in zip(header, values, strict=False)
            }
    finally:
        workbook.close()


def _naive_date(text: str) -> datetime | None:
    for pattern in ("%Y-%m-%d", "%Y-%m-%dT%H:%M", "%d-%m-%Y", "%d-%m-%Y %H:%M"):
        try:
            return datetime.strptime(text, pattern)  # noqa: DTZ007 - naive, like the importer
        except ValueError:
            continue
    return None


def measure_baseline(path: Path, file_format: str) -> dict[str, Any]:
    """Parse + strict validation only, on one core, no caching; nothing is stored."""
    import email_validator  # noqa: PLC0415
    import phonenumbers  # noqa: PLC0415

    dealers = set(DEALERS)
    advisors = {email for email, _, _ in ADVISORS}
    states = set(STATES)
    e164 = phonenumbers.PhoneNumberFormat.E164
    gc.collect()
    start_rss = current_rss_mb()
    started = time.perf_counter()
    reader = _csv_dicts(path) if file_format == "csv" else _xlsx_dicts(path)
    seen_external: set[str] = set()
    found: Counter[str] = Counter()
    rows = valid = 0
    for row in reader:
        rows += 1
        problem = None
        name = " ".join(row["customer_name"].split())
        if not 2 <= len(name) <= 255:
            problem = "short_name"
        phone = row["customer_phone"].strip()
        if phone:
            try:
                parsed = phonenumbers.parse(phone, None)
                if not phonenumbers.is_valid_number(parsed):
                    problem = problem or "bad_phone"
                else:
                    phone = phonenumbers.format_number(parsed, e164)
            except phonenumbers.NumberParseException:
                problem = problem or "bad_phone"
        email = row["customer_email"].strip()
        if email:
            try:
                email = email_validator.validate_email(email, check_deliverability=False).normalized
            except email_validator.EmailNotValidError:
                problem = problem or "bad_email"
        if row["dealer_code"].strip().upper() not in dealers:
            problem = problem or "unknown_dealer"
        if _naive_date(row["booking_date"].strip()) is None:
            problem = problem or "bad_date"
        status = row["status"].strip().upper()
        if status and status not in states:
            problem = problem or "bad_status"
        advisor = row["advisor_email"].strip().lower()
        if advisor and advisor not in advisors:
            problem = problem or "unknown_advisor"
        external = row["external_id"].strip()
        if external and problem is None:
            if external in seen_external:
                problem = "duplicate_external_id"
            else:
                seen_external.add(external)
        if problem is None:
            valid += 1
        else:
            found[problem] += 1
    seconds = time.perf_counter() - started
    return {
        "side": "baseline",
        "format": file_format,
        "reader": "csv" if file_format == "csv" else "openpyxl",
        "workers": 1,
        "rows": rows,
        "seconds": seconds,
        "rows_per_second": rows / seconds if seconds > 0 else 0.0,
        "start_rss_mb": start_rss,
        "peak_rss_mb": peak_rss_mb(),
        "valid": valid,
        "bad_by_kind": {kind: found.get(kind, 0) for kind in BAD_KINDS},
    }


def _library_setup(database: Path) -> tuple[Any, Any, Any]:
    """A fresh SQLite store with the dealers, advisors and products; its core; an admin."""
    from uuid import uuid4  # noqa: PLC0415

    from bookingcore import Principal, StaffId, StaffRole  # noqa: PLC0415

    admin = Principal.staff(StaffId(uuid4()), StaffRole.ADMIN)
    store = fresh_store(f"sqlite:///{database}")
    core = library_core(store.unit_of_work)
    for code in DEALERS:
        core.catalog.add_location(code, f"Dealer {code}", principal=admin)
    for email, name, dealer in ADVISORS:
        core.staff.add(email, name, principal=admin, locations=[dealer])
    for code, name in PRODUCTS:
        core.catalog.add_product(code, name, "car_variant", principal=admin)
    return store, core, admin


def measure_library(
    path: Path, file_format: str, reader: str, workers: int, database: Path, chunk_size: int | None
) -> dict[str, Any]:
    """The full import into a fresh SQLite file; setup (catalog, staff) is not timed."""
    from sqlalchemy import func, select  # noqa: PLC0415

    from bookingcore import ImportSettings  # noqa: PLC0415
    from bookingcore_adapters.importers import FileLimits, open_rows  # noqa: PLC0415
    from bookingcore_adapters.sql import metadata  # noqa: PLC0415

    store, core, admin = _library_setup(database)
    size = path.stat().st_size
    limits = FileLimits(max_bytes=max(2 * size, 10 * 2**20), max_uncompressed_bytes=2**33)
    options: dict[str, Any] = {"workers": workers}
    if chunk_size is not None:
        options["chunk_size"] = chunk_size
    settings = ImportSettings(**options)

    gc.collect()
    start_rss = current_rss_mb()
    started = time.perf_counter()
    xlsx_reader = "auto" if file_format == "csv" else reader  # CSV ignores it
    source = open_rows(path, limits=limits, reader=xlsx_reader)  # type: ignore[arg-type]
    opened = time.perf_counter()
    job = core.imports.run_file(source, principal=admin, settings=settings)
    finished = time.perf_counter()
    peak = peak_rss_mb()
    workers_peak = peak_rss_mb(resource.RUSAGE_CHILDREN) if workers > 1 else None

    with store.engine.connect() as connection:
        stored = connection.execute(
            select(func.count()).select_from(metadata.tables["bookings"])
        ).scalar_one()
    store.dispose()
    seconds = finished - started
    rows = job.total_rows
    return {
        "side": "library",
        "format": file_format,
        "reader": getattr(source, "reader", "csv"),
        "workers": workers,
        "rows": rows,
        "open_seconds": opened - started,
        "run_seconds": finished - opened,
        "seconds": seconds,
        "rows_per_second": rows / seconds if seconds > 0 else 0.0,
        "run_file_rows_per_second": rows / (finished - opened) if finished > opened else 0.0,
        "start_rss_mb": start_rss,
        "peak_rss_mb": peak,
        "workers_peak_rss_mb": workers_peak,
        "job": {
            "status": job.status.value,
            "total_rows": job.total_rows,
            "processed_rows": job.processed_rows,
            "created": job.created,
            "updated": job.updated,
            "skipped": job.skipped,
            "failed": job.failed,
            "error_summary": dict(job.error_summary),
        },
        "stored_bookings": stored,
    }


def measure_statements(path: Path, database: Path) -> dict[str, Any]:
    """The library's SQL for importing ``path``, replayed by raw sqlite3: the storage floor.

    The library imports the file (one worker, not timed) while every statement
    it sends, with its parameters, and every ``COMMIT`` and ``ROLLBACK`` are
    written to a recording beside the database, which was copied first. Then
    the recording is replayed on the copy with the standard library's sqlite3
    (the store's pragmas, the same transactions) and only that is timed: what
    storing the file costs with no Python of the library's running.
    """
    import pickle  # noqa: PLC0415
    import sqlite3  # noqa: PLC0415

    from sqlalchemy import event  # noqa: PLC0415

    from bookingcore_adapters.importers import FileLimits, open_rows  # noqa: PLC0415

    store, core, admin = _library_setup(database)
    store.dispose()  # everything written is in the file, and the copy sees all of it
    before = database.with_name(database.name + ".before")
    for suffix in ("", "-wal", "-shm"):
        source = Path(f"{database}{suffix}")
        if source.exists():
            shutil.copy(source, f"{before}{suffix}")
    recording = database.with_name(database.name + ".sql.pickle")
    limits = FileLimits(max_bytes=max(2 * path.stat().st_size, 10 * 2**20))
    with recording.open("wb") as out:

        def statement(*args: Any) -> None:
            pickle.dump(("run", args[2], args[3], args[5]), out)

        def commit(_: Any) -> None:
            pickle.dump(("end", "COMMIT"), out)

        def rollback(_: Any) -> None:
            pickle.dump(("end", "ROLLBACK"), out)

        listeners: list[tuple[str, Callable[..., None]]] = [
            ("before_cursor_execute", statement),
            ("commit", commit),
            ("rollback", rollback),
        ]
        for name, listener in listeners:
            event.listen(store.engine, name, listener)
        try:
            job = core.imports.run_file(open_rows(path, limits=limits), principal=admin)
        finally:
            for name, listener in listeners:
                event.remove(store.engine, name, listener)
    store.dispose()

    replay = sqlite3.connect(before, isolation_level=None)
    for pragma in ("foreign_keys = ON", "journal_mode = WAL", "cache_size = -32768"):
        replay.execute(f"PRAGMA {pragma}")
    cursor = replay.cursor()
    statements = 0
    started = time.perf_counter()
    with recording.open("rb") as recorded:
        while True:
            try:
                entry = pickle.load(recorded)  # written by this process just now
            except EOFError:
                break
            if entry[0] == "end":
                if replay.in_transaction:
                    replay.execute(entry[1])
                continue
            _, sql, parameters, many = entry
            statements += 1
            if many:
                cursor.executemany(sql, parameters)
            else:
                cursor.execute(sql, parameters)
                cursor.fetchall()
    if replay.in_transaction:
        replay.execute("COMMIT")
    seconds = time.perf_counter() - started
    stored = replay.execute("SELECT count(*) FROM bookings").fetchone()[0]
    replay.close()
    for suffix in ("", "-wal", "-shm"):
        Path(f"{before}{suffix}").unlink(missing_ok=True)
    recording.unlink()
    rows = job.total_rows
    return {
        "side": "statements",
        "format": "csv",
        "reader": "csv",
        "workers": 1,
        "rows": rows,
        "statements": statements,
        "seconds": seconds,
        "rows_per_second": rows / seconds if seconds > 0 else 0.0,
        "peak_rss_mb": peak_rss_mb(),
        "created": job.created,
        "stored_bookings": stored,
    }


def measure(spec: dict[str, Any]) -> dict[str, Any]:
    """One measurement, in this process (the ``--measure`` mode)."""
    path = Path(spec["path"])
    if spec["side"] == "baseline":
        return measure_baseline(path, spec["format"])
    if spec["side"] == "statements":
        return measure_statements(path, Path(spec["database"]))
    return measure_library(
        path,
        spec["format"],
        spec["reader"],
        spec["workers"],
        Path(spec["database"]),
        spec.get("chunk_size"),
    )


def run_measurement(spec: dict[str, Any]) -> dict[str, Any]:
    """Run one measurement in a fresh process of this script and return its figures."""
    command = [sys.executable, str(Path(__file__).resolve()), "--measure", json.dumps(spec)]
    try:
        completed = subprocess.run(
            command, capture_output=True, text=True, timeout=MEASURE_TIMEOUT, check=False
        )
    except subprocess.TimeoutExpired as exc:
        msg = f"{describe(spec)} took more than {MEASURE_TIMEOUT} s"
        raise BenchError(msg) from exc
    for line in reversed(completed.stdout.splitlines()):
        if line.startswith(RESULT_MARK):
            result: dict[str, Any] = json.loads(line[len(RESULT_MARK) :])
            if "crash" in result:
                msg = f"{describe(spec)} failed:\n{result['crash']}"
                raise BenchError(msg)
            return result
    msg = (
        f"{describe(spec)} exited with {completed.returncode} and no result:\n"
        f"{completed.stdout[-2000:]}{completed.stderr[-4000:]}"
    )
    raise BenchError(msg)


def describe(spec: dict[str, Any]) -> str:
    if spec["side"] == "baseline":
        return f"baseline {spec['format']}"
    if spec["side"] == "statements":
        return "the library's statements, replayed by sqlite3"
    return f"library {spec['format']}/{spec['reader']} workers={spec['workers']}"


# --------------------------------------------------------------------------- checks and figures


def check_baseline(result: dict[str, Any], spec: FileSpec) -> list[str]:
    """What disagrees between the baseline's count and the generated file."""
    problems = []
    if result["rows"] != spec.rows:
        problems.append(f"read {result['rows']} rows, the file has {spec.rows}")
    if result["valid"] != spec.good:
        problems.append(f"{result['valid']} valid rows, {spec.good} generated")
    for kind, count in spec.bad.items():
        seen = result["bad_by_kind"].get(kind, 0)
        if seen != count:
            problems.append(f"{seen} rows of kind {kind}, {count} generated")
    return problems


def check_library(result: dict[str, Any], spec: FileSpec) -> list[str]:
    """What disagrees between the import job, the stored bookings and the generated file."""
    job = result["job"]
    problems = []
    if job["status"] != "COMPLETED":
        problems.append(f"job status {job['status']}")
    done = job["created"] + job["failed"] + job["skipped"] + job["updated"]
    if done != spec.rows:
        problems.append(f"created + failed + skipped + updated = {done}, the file has {spec.rows}")
    if job["total_rows"] != spec.rows or job["processed_rows"] != spec.rows:
        counted = f"{job['total_rows']}/{job['processed_rows']}"
        problems.append(f"total/processed rows {counted}, expected {spec.rows}")
    if job["created"] != spec.good:
        problems.append(f"created {job['created']}, {spec.good} good rows generated")
    if job["failed"] != spec.bad_total:
        problems.append(f"failed {job['failed']}, {spec.bad_total} bad rows generated")
    if job["updated"] or job["skipped"]:
        problems.append(f"updated {job['updated']}, skipped {job['skipped']}; expected 0 and 0")
    expected = spec.expected_codes
    summary = job["error_summary"]
    for code in sorted(set(expected) | set(summary)):
        if expected.get(code, 0) != summary.get(code, 0):
            problems.append(
                f"error summary {code}: {summary.get(code, 0)}, expected {expected.get(code, 0)}"
            )
    if result["stored_bookings"] != job["created"]:
        problems.append(
            f"{result['stored_bookings']} bookings stored, job created {job['created']}"
        )
    return problems


def _rss_of(result: dict[str, Any]) -> float:
    """The RSS the memory target judges: the larger of the main process and a worker."""
    return float(max(result["peak_rss_mb"], result.get("workers_peak_rss_mb") or 0.0))


def _error_line(result: dict[str, Any]) -> str:
    """The last line of a failed measurement's error: what went wrong, in short."""
    lines = [line.strip() for line in str(result["error"]).strip().splitlines() if line.strip()]
    return lines[-1] if lines else "failed"


@dataclass
class Case:
    """One library measurement with its baseline; ``result`` holds ``error`` when it failed."""

    result: dict[str, Any]
    baseline: dict[str, Any] | None
    problems: list[str]

    @property
    def name(self) -> str:
        return _case_name(self.result)

    @property
    def failed(self) -> bool:
        return "error" in self.result

    @property
    def ratio(self) -> float | None:
        if self.failed or self.baseline is None or not self.baseline["rows_per_second"]:
            return None
        return float(self.result["rows_per_second"] / self.baseline["rows_per_second"])

    @property
    def speed_met(self) -> bool | None:
        if self.failed:
            return False
        return None if self.ratio is None else self.ratio >= TARGET_RATIO

    @property
    def memory_met(self) -> bool:
        return not self.failed and _rss_of(self.result) < TARGET_RSS_MB

    @property
    def label(self) -> str:
        return f"{self.name} workers={self.result['workers']}"

    def as_json(self) -> dict[str, Any]:
        return {
            "case": self.name,
            **self.result,
            "ratio": self.ratio,
            "baseline_rows_per_second": self.baseline["rows_per_second"] if self.baseline else None,
            "speed_target_met": self.speed_met,
            "memory_target_met": self.memory_met,
            "check": _check_word(self.result, self.problems),
            "problems": self.problems,
        }


def _check_word(result: dict[str, Any], problems: Sequence[str]) -> str:
    if "error" in result:
        return "FAILED"
    return "OK" if not problems else "MISMATCH"


def _case_name(result: dict[str, Any]) -> str:
    if result["format"] == "csv":
        return "csv"
    return f"xlsx/{result['reader']}"


def _mb(value: float | None) -> str:
    return "-" if value is None else f"{value:.0f}"


def _met(value: bool | None) -> str:
    return "-" if value is None else "met" if value else "MISSED"


def _library_cells(result: dict[str, Any], spec: FileSpec) -> list[str]:
    """rows/s, seconds, open s, peak MB, created, failed (expected), skipped + updated."""
    if "error" in result:
        return ["FAILED", "-", "-", "-", "-", "-", "-"]
    job = result["job"]
    workers_rss = result.get("workers_peak_rss_mb")
    return [
        f"{result['rows_per_second']:,.0f}",
        f"{result['seconds']:.2f}",
        f"{result['open_seconds']:.2f}",
        _mb(result["peak_rss_mb"]) + ("" if workers_rss is None else f" / {workers_rss:.0f}"),
        str(job["created"]),
        f"{job['failed']} ({spec.bad_total})",
        str(job["skipped"] + job["updated"]),
    ]


def render(
    spec: FileSpec,
    baselines: dict[str, dict[str, Any]],
    baseline_problems: dict[str, list[str]],
    cases: Sequence[Case],
) -> str:
    """The baseline table, the library table, the verdicts and any problems."""
    base_rows = [
        [
            fmt,
            result["reader"],
            f"{result['rows_per_second']:,.0f}",
            f"{result['seconds']:.2f}",
            _mb(result["peak_rss_mb"]),
            f"{sum(result['bad_by_kind'].values())} ({spec.bad_total})",
            _check_word(result, baseline_problems[fmt]),
        ]
        for fmt, result in baselines.items()
    ]
    lib_rows = []
    for case in cases:
        cells = _library_cells(case.result, spec)
        lib_rows.append(
            [
                case.name,
                str(case.result["workers"]),
                cells[0],
                "-" if case.ratio is None else f"{case.ratio:.2f}",
                *cells[1:],
                _check_word(case.result, case.problems),
                _met(case.speed_met),
                _met(case.memory_met),
            ]
        )
    kinds = ", ".join(f"{kind} {count}" for kind, count in spec.bad.items())
    parts = [
        f"file: {spec.rows:,} rows: {spec.good:,} good, {spec.bad_total:,} bad ({kinds});"
        f" {spec.customers:,} customers",
        "",
        "baseline: parse + strict validation only, one core, no caching",
        table(
            ["format", "reader", "rows/s", "seconds", "peak MB", "bad (expected)", "check"],
            base_rows,
            left=2,
        ),
        "",
        "library: open_rows + core.imports.run_file into SQLite;"
        " ratio: library rows/s / the baseline's for the same format",
        table(
            [
                "case",
                "workers",
                "rows/s",
                "ratio",
                "seconds",
                "open s",
                "peak MB (main / worker)",
                "created",
                "failed (expected)",
                "skip+upd",
                "check",
                f"ratio>={TARGET_RATIO}",
                f"RSS<{TARGET_RSS_MB:.0f}MB",
            ],
            lib_rows,
            left=1,
        ),
        "",
        f"targets: ratio >= {TARGET_RATIO} and peak RSS < {TARGET_RSS_MB:.0f} MB per case",
    ]
    met = [case.label for case in cases if case.speed_met and case.memory_met]
    missed = []
    for case in cases:
        if case.failed:
            missed.append(f"{case.label}: failed ({_error_line(case.result)})")
            continue
        why = []
        if not case.speed_met:
            why.append("no baseline" if case.ratio is None else f"ratio {case.ratio:.2f}")
        if not case.memory_met:
            why.append(f"peak RSS {_rss_of(case.result):.0f} MB")
        if why:
            missed.append(f"{case.label}: {', '.join(why)}")
    parts += ["  met:", *(f"    {line}" for line in met or ["none"])]
    parts += ["  missed:", *(f"    {line}" for line in missed or ["none"])]
    problems = [f"baseline {fmt}: {p}" for fmt, ps in baseline_problems.items() for p in ps]
    problems += [f"{case.label}: {p}" for case in cases for p in case.problems]
    return report_text(parts, problems)


def render_statements(
    floor: dict[str, Any],
    baseline: dict[str, Any] | None,
    cases: Sequence[Case],
    problems: Sequence[str],
) -> str:
    """The storage floor: the library's SQL replayed, against the baseline and the library."""
    rate = floor["rows_per_second"]
    lines = [
        "statements: the library's SQL for the CSV file (recorded from an import), replayed by"
        " raw sqlite3 with no library code",
        f"  {rate:,.0f} rows/s ({floor['statements']:,} statements in {floor['seconds']:.2f} s)",
    ]
    if baseline is not None and baseline["rows_per_second"]:
        lines.append(
            f"  statements / csv baseline: {ratio(rate, baseline['rows_per_second']):.2f}:"
            " no import storing these rows from one"
            f" writer can pass this ratio, however its validation is spread ({TARGET_RATIO} target)"
        )
    for case in cases:
        if case.name == "csv" and not case.failed and rate:
            share = ratio(case.result["rows_per_second"], rate)
            lines.append(
                f"  library csv workers={case.result['workers']} / statements: {share:.2f}"
                " (the rest is the library's own Python)"
            )
    lines += [f"  problem: {problem}" for problem in problems]
    return "\n".join(lines)


@dataclass
class Growth:
    """The CSV import at N and at 10 x N rows, for one worker count."""

    workers: int
    small: dict[str, Any]
    large: dict[str, Any]
    problems: list[str]

    @property
    def ratio(self) -> float | None:
        if "error" in self.small or "error" in self.large:
            return None
        return _rss_of(self.large) / _rss_of(self.small)

    @property
    def met(self) -> bool:
        return self.ratio is not None and self.ratio <= GROWTH_TOLERANCE

    def as_json(self) -> dict[str, Any]:
        return {
            "workers": self.workers,
            "small": self.small,
            "large": self.large,
            "rss_ratio": self.ratio,
            "target_met": self.met,
            "check": "OK" if not self.problems else "MISMATCH",
            "problems": self.problems,
        }


def render_growth(growths: Sequence[Growth], small: FileSpec, large: FileSpec) -> str:
    rows = []
    for growth in growths:
        for spec, result in ((small, growth.small), (large, growth.large)):
            rows.append(
                [
                    str(growth.workers),
                    f"{spec.rows:,}",
                    *_library_cells(result, spec),
                    _check_word(result, growth.problems),
                ]
            )
    headers = [
        "workers",
        "rows",
        "rows/s",
        "seconds",
        "open s",
        "peak MB (main / worker)",
        "created",
        "failed (expected)",
        "skip+upd",
        "check",
    ]
    parts = [
        "memory growth: the CSV import (open_rows + run_file into SQLite) at N and 10 x N rows",
        table(headers, rows),
        "",
        f"target: peak RSS at 10 x N / peak RSS at N <= {GROWTH_TOLERANCE:.2f}",
    ]
    for growth in growths:
        if growth.ratio is None:
            parts.append(f"  workers={growth.workers}: a run failed, no figure")
            continue
        parts.append(
            f"  workers={growth.workers}: {_rss_of(growth.small):.0f} MB ->"
            f" {_rss_of(growth.large):.0f} MB, ratio {growth.ratio:.2f}:"
            f" {'met' if growth.met else 'MISSED'}"
        )
    problems = [f"workers={g.workers}: {p}" for g in growths for p in g.problems]
    return report_text(parts, problems)


# --------------------------------------------------------------------------- command line


@dataclass(frozen=True)
class Options:
    """The command line, resolved."""

    rows: int
    workers: tuple[int, ...]
    formats: tuple[str, ...]
    readers: tuple[str, ...]
    growth: bool
    seed: int
    bad_rate: float
    chunk_size: int | None
    tmpdir: Path | None
    keep: bool
    json: Path | None
    statements: bool = False


def _rate(text: str) -> float:
    value = float(text)
    if not 0 <= value < 1:
        msg = f"expected a share from 0 to below 1, got {text!r}"
        raise argparse.ArgumentTypeError(msg)
    return value


def build_parser() -> argparse.ArgumentParser:
    created = parser(
        "import_throughput.py",
        "Bulk import throughput: bookingcore vs parse + strict validation only.",
    )
    created.add_argument(
        "--rows", type=positive, help=f"rows of the file (default {DEFAULT_ROWS:,})"
    )
    created.add_argument(
        "--workers",
        type=lambda text: whole_numbers(text, most=64),
        default=DEFAULT_WORKERS,
        help="the library's validation worker counts, e.g. 1,2 (the default)",
    )
    created.add_argument(
        "--formats",
        type=some_of(FORMATS),
        default=FORMATS,
        help="file formats to measure: csv,xlsx (the default)",
    )
    created.add_argument(
        "--xlsx-readers",
        type=some_of(XLSX_READERS),
        default=XLSX_READERS,
        help="the library's XLSX readers: openpyxl,calamine (the default;"
        " calamine is left out when python-calamine is not installed)",
    )
    created.add_argument(
        "--growth",
        action="store_true",
        help="instead, the memory growth check: the CSV import at N and 10 x N rows"
        f" (N = --rows, default {DEFAULT_ROWS:,}; {QUICK_ROWS:,} with --quick)",
    )
    created.add_argument(
        "--seed", type=int, default=DEFAULT_SEED, help=f"the data's seed (default {DEFAULT_SEED})"
    )
    created.add_argument(
        "--bad-rate",
        type=_rate,
        default=DEFAULT_BAD_RATE,
        help=f"share of bad rows, spread over every kind (default {DEFAULT_BAD_RATE})",
    )
    created.add_argument(
        "--chunk-size", type=positive, help="the import's rows per transaction (library default)"
    )
    created.add_argument(
        "--statements",
        action="store_true",
        help="also replay the library's SQL for the CSV file with raw sqlite3"
        " (what storing the rows costs with no library code: the storage floor)",
    )
    created.add_argument("--tmpdir", type=Path, help="where to write the files and databases")
    created.add_argument("--keep", action="store_true", help="keep the generated files")
    created.add_argument("--measure", help=argparse.SUPPRESS)
    return created


def parse_options(args: argparse.Namespace) -> Options:
    readers = args.xlsx_readers
    if "calamine" in readers and not _has_calamine():
        print("python-calamine is not installed: no calamine case", file=sys.stderr)
        readers = tuple(reader for reader in readers if reader != "calamine")
    return Options(
        rows=args.rows or (QUICK_ROWS if args.quick else DEFAULT_ROWS),
        workers=args.workers,
        formats=args.formats,
        readers=readers,
        growth=args.growth,
        seed=args.seed,
        bad_rate=args.bad_rate,
        chunk_size=args.chunk_size,
        tmpdir=args.tmpdir,
        keep=args.keep,
        json=args.json,
        statements=args.statements,
    )


def _has_calamine() -> bool:
    try:
        import python_calamine  # noqa: F401, PLC0415
    except ImportError:
        return False
    return True


def _generate(folder: Path, file_format: str, rows: int, options: Options) -> tuple[Path, FileSpec]:
    path = folder / f"bookings-{rows}.{file_format}"
    say(f"writing {path.name} ...")
    started = time.perf_counter()
    write = write_csv if file_format == "csv" else write_xlsx
    spec = write(path, rows, options.seed, options.bad_rate)
    size = path.stat().st_size / 2**20
    say(f"  {size:.1f} MiB in {time.perf_counter() - started:.1f} s")
    return path, spec


def _library_spec(
    folder: Path, path: Path, file_format: str, reader: str, workers: int, options: Options
) -> dict[str, Any]:
    database = folder / f"import-{path.stem}-{file_format}-{reader}-{workers}.db"
    return {
        "side": "library",
        "path": str(path),
        "format": file_format,
        "reader": reader,
        "workers": workers,
        "database": str(database),
        "chunk_size": options.chunk_size,
    }


def _run(spec: dict[str, Any]) -> dict[str, Any]:
    """One measurement; a library case that fails comes back with its ``error``."""
    say(f"{describe(spec)} ...")
    try:
        result = run_measurement(spec)
    except BenchError as exc:
        if spec["side"] == "baseline":
            raise
        say(f"  FAILED: {exc}")
        keys = ("side", "format", "reader", "workers")
        return {**{key: spec[key] for key in keys}, "error": str(exc)}
    finally:
        database = spec.get("database")
        if database:  # the database is not needed after the checks
            for suffix in ("", "-wal", "-shm"):
                Path(database + suffix).unlink(missing_ok=True)
    say(
        f"  {result['rows_per_second']:,.0f} rows/s, {result['seconds']:.2f} s,"
        f" peak {result['peak_rss_mb']:.0f} MB"
    )
    return result


def _library_problems(result: dict[str, Any], spec: FileSpec) -> list[str]:
    if "error" in result:
        return [f"failed: {_error_line(result)}"]
    return check_library(result, spec)


def compare(options: Options, folder: Path) -> tuple[str, dict[str, Any]]:
    """Baselines and library cases for every format: the report and its figures."""
    files: dict[str, tuple[Path, FileSpec]] = {
        fmt: _generate(folder, fmt, options.rows, options) for fmt in options.formats
    }
    specs = [spec for _, spec in files.values()]
    if any(spec.as_json() != specs[0].as_json() for spec in specs):
        msg = "the CSV and XLSX files differ"  # same seed, same rows: cannot happen
        raise BenchError(msg)
    spec = specs[0]
    baselines: dict[str, dict[str, Any]] = {}
    baseline_problems: dict[str, list[str]] = {}
    cases: list[Case] = []
    for fmt, (path, _) in files.items():
        baselines[fmt] = _run({"side": "baseline", "path": str(path), "format": fmt})
        baseline_problems[fmt] = check_baseline(baselines[fmt], spec)
        readers = ("csv",) if fmt == "csv" else options.readers
        for reader in readers:
            for workers in options.workers:
                result = _run(_library_spec(folder, path, fmt, reader, workers, options))
                cases.append(Case(result, baselines[fmt], _library_problems(result, spec)))
    floor: dict[str, Any] | None = None
    floor_problems: list[str] = []
    if options.statements:
        csv_file = files.get("csv") or _generate(folder, "csv", spec.rows, options)
        path = csv_file[0]
        database = folder / f"statements-{path.stem}.db"
        floor = _run({"side": "statements", "path": str(path), "database": str(database)})
        if floor["created"] != spec.good or floor["stored_bookings"] != spec.good:
            floor_problems.append(
                f"replayed {floor['stored_bookings']} bookings, the import created"
                f" {floor['created']}, {spec.good} good rows generated"
            )
    text = render(spec, baselines, baseline_problems, cases)
    if floor is not None:
        text += "\n\n" + render_statements(floor, baselines.get("csv"), cases, floor_problems)
    ok = not any(baseline_problems.values()) and not any(case.problems for case in cases)
    ok = ok and not floor_problems
    return text, {
        "statements": floor and {**floor, "problems": floor_problems},
        "ok": ok,
        "file": spec.as_json(),
        "baselines": {
            fmt: {
                **result,
                "check": _check_word(result, baseline_problems[fmt]),
                "problems": baseline_problems[fmt],
            }
            for fmt, result in baselines.items()
        },
        "cases": [case.as_json() for case in cases],
        "targets_met": {
            case.label: {"ratio": case.speed_met, "rss": case.memory_met} for case in cases
        },
    }


def growth_check(options: Options, folder: Path) -> tuple[str, dict[str, Any]]:
    """The CSV import at N and at 10 x N rows: the report and its figures."""
    small_path, small_spec = _generate(folder, "csv", options.rows, options)
    large_path, large_spec = _generate(folder, "csv", options.rows * GROWTH_FACTOR, options)
    growths = []
    for workers in options.workers:
        small = _run(_library_spec(folder, small_path, "csv", "csv", workers, options))
        large = _run(_library_spec(folder, large_path, "csv", "csv", workers, options))
        problems = [f"{small_spec.rows:,} rows: {p}" for p in _library_problems(small, small_spec)]
        problems += [f"{large_spec.rows:,} rows: {p}" for p in _library_problems(large, large_spec)]
        growths.append(Growth(workers, small, large, problems))
    return render_growth(growths, small_spec, large_spec), {
        "ok": not any(g.problems for g in growths),
        "files": [small_spec.as_json(), large_spec.as_json()],
        "growth": [g.as_json() for g in growths],
        "targets_met": {f"growth workers={g.workers}": g.met for g in growths},
    }


def _measure_mode(text: str) -> int:
    try:
        result = measure(json.loads(text))
    except Exception:
        result = {"crash": traceback.format_exc()}
    print(RESULT_MARK + json.dumps(result, default=str), flush=True)
    return 0 if "crash" not in result else 1


def main(argv: Sequence[str] | None = None) -> int:
    """Run the bench and print the report; 0 when every check passes (see bench/README.md)."""
    args = build_parser().parse_args(argv)
    if args.measure is not None:
        return _measure_mode(args.measure)
    options = parse_options(args)
    folder = Path(tempfile.mkdtemp(prefix="import-bench-", dir=options.tmpdir))

    def measure() -> tuple[str, dict[str, Any]]:
        try:
            return growth_check(options, folder) if options.growth else compare(options, folder)
        finally:
            if options.keep:
                say(f"files kept in {folder}")
            else:
                shutil.rmtree(folder, ignore_errors=True)

    return run_bench(
        f"bookingcore import {'memory growth' if options.growth else 'throughput'}:"
        f" {options.rows:,} rows, workers {','.join(str(count) for count in options.workers)},"
        f" seed {options.seed}, {os.cpu_count()} CPUs, Python {sys.version.split()[0]}",
        measure,
        settings={
            "rows": options.rows,
            "workers": list(options.workers),
            "formats": list(options.formats),
            "xlsx_readers": list(options.readers),
            "growth": options.growth,
            "seed": options.seed,
            "bad_rate": options.bad_rate,
            "chunk_size": options.chunk_size,
            "statements": options.statements,
            "target_ratio": TARGET_RATIO,
            "target_rss_mb": TARGET_RSS_MB,
            "growth_tolerance": GROWTH_TOLERANCE,
            "cpus": os.cpu_count(),
        },
        json_path=options.json,
    )


if __name__ == "__main__":
    sys.exit(main())
