"""Staff queries on a million bookings: bookingcore's filtered, keyset-paged lists against raw SQL.

The bench creates bookingcore's tables in a schema of its own (``bench_q_<random>``)
from the library's ``metadata`` and loads (not timed) ``--rows`` bookings
(1 000 000) with ``COPY`` through the shared loader, then checks that a sample of
every table reads back through the library and that the library stores it
again exactly as loaded. For each shape of staff query it walks the list page
by page by cursor on both sides, ``core.bookings.list`` against hand-written
psycopg keyset SQL, which must return the same bookings; it also times a
customer's history and counts its statements. ``--extra-indexes`` measures
again with candidate indexes. bench/README.md says what runs, how to read the
output and the exit status. From the repository root::

    .venv/bin/python bench/booking_queries.py                    # 1 000 000 bookings; ~10 min
    .venv/bin/python bench/booking_queries.py --extra-indexes    # ... then again with indexes
    .venv/bin/python bench/booking_queries.py --quick            # 20 000 bookings; seconds
    .venv/bin/python bench/booking_queries.py --rows 200000 --pages 50 --json out.json
"""

from __future__ import annotations

import argparse
import bisect
import functools
import json
import math
import random
import re
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

import psycopg
from psycopg import sql
from sqlalchemy import Engine, event, select
from sqlalchemy.engine import URL

from _common import (
    BenchError,
    Database,
    bench_schema,
    conninfo,
    copy_into,
    copy_rows,
    fresh_store,
    library_core,
    parser,
    percentile,
    positive,
    postgres_url,
    ratio,
    report_text,
    run_bench,
    say,
    server_description,
    table,
    timed,
    zero_or_more,
)
from bookingcore import BookingFilter, PageRequest, Principal, StaffId, StaffRole
from bookingcore.domain.queries import Cursor, fold_case
from bookingcore_adapters.sql import SqlStore, metadata

DEFAULT_ROWS = 1_000_000
QUICK_ROWS = 20_000
MIN_ROWS = 1_000
BOOKINGS_PER_CUSTOMER = 10
DEFAULT_SLOTS = 400
DEFAULT_PAGES = 200
QUICK_PAGES = 5
DEFAULT_PAGE_SIZE = 50
DEFAULT_REPEATS = 5
QUICK_REPEATS = 2
DEFAULT_BUDGET = 30.0
DEFAULT_HISTORY_REPEATS = 30
QUICK_HISTORY_REPEATS = 5
DEFAULT_SEED = 7

#: A shape is flagged slow when its p95 page is over this many milliseconds ...
SLOW_PAGE_MS = 50.0
#: ... or its deep page takes more than this many times page 1 (and 1 ms more).
DEEP_FACTOR = 2.0
#: The bookings of the two customers whose history is timed.
HISTORY_SIZES = (1, 30)

SCHEMA_PREFIX = "bench_q_"
LOCATIONS = 20
PARTNERS = 5
ADVISORS = 40
LIFECYCLE = "reservation"
CURRENCY = "INR"

#: Bookings are made over one year; slots run from the next day to 90 days past it.
FIRST_DAY = datetime(2025, 1, 1, tzinfo=UTC)
YEAR = timedelta(days=365)
BOOKING_HORIZON = timedelta(days=90)
#: "Today" for the data: slots before it are past.
TODAY = FIRST_DAY + YEAR
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
MICROS = 1_000_000

CITIES = (
    "Goa", "Jaipur", "Kochi", "Udaipur", "Rishikesh", "Manali", "Munnar", "Hampi", "Pondicherry",
    "Varanasi", "Agra", "Mysuru", "Leh", "Shillong", "Darjeeling", "Coorg", "Alleppey",
    "Jodhpur", "Ooty", "Andaman",
)  # fmt: skip
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
US_AREAS = ("201", "212", "305", "312", "415", "617", "646", "718", "917")
GENDERS = ("male", "female", "other", "undisclosed")
#: Sources of the bookings of a business's own customers, and their weights.
OWN_SOURCES = (("direct", 40), ("mobile", 15), ("phone", 13), ("walk_in", 10), ("email", 5))
API_SHARE = 0.08
PARTNER_SHARE = 0.7  # of the bookings of a partner's customers
IMPORT_SHARE = 0.08
IMPORT_BATCH = (100, 400)
PAST_STATUSES = (("completed", 70), ("cancelled", 15), ("confirmed", 10), ("no_show", 5))
FUTURE_STATUSES = (("confirmed", 50), ("pending", 35), ("cancelled", 15))
ASSIGNED_SHARE = 0.65
MESSAGE_SHARE = 0.2
CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
NULL = "\\N"
#: A generated row: column name -> ``COPY`` text.
Row = dict[str, str]

# --------------------------------------------------------------------------- helpers


def _stamp(micros: int) -> str:
    """A UTC time as ``COPY`` text, from microseconds since the epoch."""
    return (EPOCH + timedelta(microseconds=micros)).isoformat()


def _micros(moment: datetime) -> int:
    return (moment - EPOCH) // timedelta(microseconds=1)


def _weighted(rng: random.Random, choices: Sequence[tuple[str, int]]) -> Callable[[], str]:
    names = [name for name, _ in choices]
    cumulative: list[float] = []
    total = 0
    for _, weight in choices:
        total += weight
        cumulative.append(total)

    def pick() -> str:
        return names[bisect.bisect(cumulative, rng.random() * total)]

    return pick


def _uid(rng: random.Random) -> str:
    """A random UUID (version 4) as 32 hex digits, which PostgreSQL reads as ``uuid``."""
    return str(UUID(int=rng.getrandbits(128), version=4)).replace("-", "")


def _reference(index: int) -> str:
    """``BK-`` and eight Crockford characters, distinct for every index below 2**40."""
    bits = (index * 0x9E3779B1 + 0x5DEECE66D) % (1 << 40)
    return "BK-" + "".join(CROCKFORD[(bits >> shift) & 31] for shift in range(35, -1, -5))


# --------------------------------------------------------------------------- the data


@dataclass(frozen=True)
class Picks:
    """The values the query shapes filter on, chosen from the data once it is made."""

    status: str
    source: str
    partner_id: str
    location_id: str
    slot_id: str
    starts_from: str
    starts_before: str
    assignee_id: str
    combo_status: str
    combo_location_id: str
    combo_from: str
    combo_before: str
    name_fragment: str
    email_fragment: str
    phone_fragment: str
    history: dict[str, str]  # bookings (as text) -> customer id


@dataclass
class LoadReport:
    """What was loaded, and how long each step took (seconds)."""

    rows: int
    customers: int = 0
    travelers: int = 0
    slots: int = 0
    booking_travelers: int = 0
    communications: int = 0
    seconds: dict[str, float] = field(default_factory=dict)

    @property
    def total_seconds(self) -> float:
        return sum(self.seconds.values())


@dataclass
class Customer:
    """A generated customer: enough to write its bookings and pick search fragments."""

    id: str
    phone: str
    name: str | None
    email: str | None
    partner: int | None
    travelers: list[str]
    bookings: int = 0


@dataclass(frozen=True)
class SlotRow:
    id: str
    location: int
    starts: int  # microseconds since the epoch
    price: int


class Dataset:
    """Generates the bench's rows, deterministically from ``seed``, as ``COPY`` text.

    Each row names its columns; those left out are nullable and stay NULL.
    """

    def __init__(self, rows: int, customers: int, slots: int, seed: int) -> None:
        self.rows = rows
        self.customer_count = customers
        self.slot_count = slots
        self.rng = random.Random(seed)
        rng = self.rng
        self.locations = [_uid(rng) for _ in range(LOCATIONS)]
        self.partners = [_uid(rng) for _ in range(PARTNERS)]
        self.advisors = [_uid(rng) for _ in range(ADVISORS)]
        self.slots = self._make_slots()
        self.slot_starts = [slot.starts for slot in self.slots]
        self.customers = self._make_customers()
        #: Bookings forced onto the customers whose history is timed: index -> customer.
        self.forced: dict[int, int] = {}
        first_history = len(self.customers) - len(HISTORY_SIZES)
        for offset, size in enumerate(HISTORY_SIZES):
            customer = first_history + offset
            for k in range(size):
                index = (rows * (2 * k + 1 + offset)) // (2 * size + 2) + offset
                self.forced[index] = customer
        #: Generated rows kept for the read-back check: booking index -> (row, children).
        self.kept: dict[int, tuple[Row, list[Row]]] = {}
        #: Other rows kept for it: table -> id -> row.
        self.samples: dict[str, dict[str, Row]] = {}
        self._generated: dict[str, int] = {}
        self.keep = {0, rows // 3, rows // 2, rows - 1, *self.forced}
        self.booked_at_slot: dict[int, int] = {}
        self.seats_at_slot: dict[int, int] = {}

    def _sample(self, table_: str, fields: Row, every: int = 997) -> Row:
        """``fields``, of which every ``every``-th row is kept for the read-back."""
        seen = self._generated.get(table_, 0)
        self._generated[table_] = seen + 1
        if seen % every == 0:
            self.samples.setdefault(table_, {})[fields["id"]] = fields
        return fields

    # ---------------------------------------------------------------- the small tables

    def _make_slots(self) -> list[SlotRow]:
        rng = self.rng
        first = _micros(FIRST_DAY + timedelta(days=1))
        span = _micros(FIRST_DAY + YEAR + BOOKING_HORIZON) - first
        slots = [
            SlotRow(
                id=_uid(rng),
                location=rng.randrange(LOCATIONS),
                starts=first + (span * n) // self.slot_count + rng.randrange(6) * 3600 * MICROS,
                price=rng.randrange(30, 180) * 50,
            )
            for n in range(self.slot_count)
        ]
        return sorted(slots, key=lambda slot: slot.starts)

    def _make_customers(self) -> list[Customer]:
        rng = self.rng
        phones: set[str] = set()
        customers: list[Customer] = []
        for n in range(self.customer_count):
            while True:
                kind = n % 20
                if kind == 0:
                    area = US_AREAS[rng.randrange(len(US_AREAS))]
                    phone = f"+1{area}{rng.randrange(2_000_000, 10_000_000)}"
                elif kind in (1, 2):
                    phone = f"+447{rng.randrange(100_000_000, 1_000_000_000)}"
                else:
                    phone = f"+91{rng.randrange(6_000_000_000, 10_000_000_000)}"
                if phone not in phones:
                    phones.add(phone)
                    break
            named = rng.random() >= 0.05
            first = FIRST_NAMES[rng.randrange(len(FIRST_NAMES))]
            last = LAST_NAMES[rng.randrange(len(LAST_NAMES))]
            name = f"{first} {last}" if named else None
            email = None
            if named and rng.random() < 0.85:
                domain = EMAIL_DOMAINS[rng.randrange(len(EMAIL_DOMAINS))]
                email = f"{first}.{last}{n}@{domain}".lower()
            partner = (n // 10) % PARTNERS if n % 10 == 0 else None
            size = 1 + (rng.random() >= 0.55) + (rng.random() >= 0.7)
            travelers = [_uid(rng) for _ in range(size)]
            customers.append(Customer(_uid(rng), phone, name, email, partner, travelers))
        return customers

    def location_lines(self) -> Iterator[Row]:
        created = _stamp(_micros(FIRST_DAY - timedelta(days=400)))
        for n, ident in enumerate(self.locations):
            code = f"LOC{n + 1:02d}"
            fields = {
                "id": ident,
                "code": code,
                "name": CITIES[n % len(CITIES)],
                "kind": "location",
                "is_active": "t",
                "created_at": created,
            }
            yield self._sample("locations", fields, every=7)

    def partner_lines(self) -> Iterator[Row]:
        created = _stamp(_micros(FIRST_DAY - timedelta(days=300)))
        allowed = json.dumps(sorted(str(UUID(hex=ident)) for ident in self.locations))
        for n, ident in enumerate(self.partners):
            fields = {
                "id": ident,
                "name": f"Partner {n + 1}",
                "company_name": f"Partner {n + 1} Travels Pvt Ltd",
                "contact_email": f"bookings@partner{n + 1}.example",
                "contact_email_key": f"bookings@partner{n + 1}.example",
                "contact_phone": f"+9180{4000_0000 + n:08d}",
                "api_key": f"pk_bench_{n + 1:04d}",
                "api_secret_last4": NULL,
                "commission_rate": "0.1000",
                "allowed_locations": allowed,
                "is_active": "t",
                "settings": "{}",
                "created_at": created,
                "updated_at": created,
                "version": "1",
            }
            yield self._sample("partners", fields, every=2)

    def staff_lines(self) -> Iterator[Row]:
        created = _stamp(_micros(FIRST_DAY - timedelta(days=200)))
        for n, ident in enumerate(self.advisors):
            first = FIRST_NAMES[n % len(FIRST_NAMES)]
            email = f"advisor{n + 1:02d}@bench.example"
            fields = {
                "id": ident,
                "email": email,
                "email_key": email.casefold(),
                "name": f"{first} Advisor",
                "role": "advisor",
                "locations": "[]",
                "is_active": "t",
                "created_at": created,
                "updated_at": created,
                "version": "1",
            }
            yield self._sample("staff_members", fields, every=7)

    def slot_lines(self) -> Iterator[Row]:
        created = _stamp(_micros(FIRST_DAY - timedelta(days=30)))
        for n, slot in enumerate(self.slots):
            seats = self.seats_at_slot.get(n, 0)
            capacity = max(seats, 1) + 50
            fields = {
                "id": slot.id,
                "location_id": self.locations[slot.location],
                "name": f"{CITIES[slot.location % len(CITIES)]} departure {n + 1}",
                "starts_at": _stamp(slot.starts),
                "ends_at": _stamp(slot.starts + 8 * 3600 * MICROS),
                "price_amount": f"{slot.price}.00",
                "currency": CURRENCY,
                "capacity": str(capacity),
                "seats_held": str(seats),
                "group_discounts": '[{"min_travelers": 3, "percent": "10"}]',
                "is_active": "t",
                "has_waitlist": "f",
                "created_at": created,
                "version": "1",
            }
            yield self._sample("slots", fields, every=37)

    def customer_lines(self) -> Iterator[Row]:
        rng = self.rng
        base = _micros(FIRST_DAY - timedelta(days=400))
        span = 400 * 86_400 * MICROS
        for customer in self.customers:
            created = _stamp(base + rng.randrange(span))
            partner = NULL if customer.partner is None else self.partners[customer.partner]
            if customer.partner is None:
                source, kind, by = "direct", "customer", customer.id
            else:
                source, kind, by = "partner", "partner", partner
            fields = {
                "id": customer.id,
                "phone": customer.phone,
                "name": customer.name or NULL,
                "email": customer.email or NULL,
                "email_key": customer.email.casefold() if customer.email else NULL,
                "source": source,
                "partner_id": partner,
                "created_by_partner_id": partner,
                "created_by_kind": kind,
                "created_by_id": str(UUID(hex=by)),
                "created_at": created,
                "updated_at": created,
                "version": "1",
            }
            yield self._sample("customers", fields)

    def traveler_lines(self) -> Iterator[Row]:
        rng = self.rng
        created = _stamp(_micros(FIRST_DAY - timedelta(days=1)))
        for n, customer in enumerate(self.customers):
            last = (customer.name or "Guest Traveler").split(" ")[-1]
            for k, ident in enumerate(customer.travelers):
                if k == 0 and customer.name:
                    name = customer.name
                else:
                    name = f"{FIRST_NAMES[(n + 7 * k) % len(FIRST_NAMES)]} {last}"
                age = str(rng.randrange(3, 80)) if rng.random() < 0.6 else NULL
                gender = GENDERS[rng.randrange(len(GENDERS))] if rng.random() < 0.7 else NULL
                fields = {
                    "id": ident,
                    "customer_id": customer.id,
                    "name": name,
                    "age": age,
                    "gender": gender,
                    "special_requirements": "Vegetarian meals" if rng.random() < 0.05 else NULL,
                    "created_at": created,
                    "updated_at": created,
                    "version": "1",
                }
                yield self._sample("travelers", fields)

    # ---------------------------------------------------------------- bookings

    def booking_batches(
        self, batch_rows: int = 5_000
    ) -> Iterator[tuple[list[Row], list[Row], list[Row]]]:
        """Bookings oldest first, in batches: their lines, their travelers' and messages'."""
        rng = self.rng
        customers = self.customers
        randoms = len(customers) - len(HISTORY_SIZES)
        status_past = _weighted(rng, PAST_STATUSES)
        status_future = _weighted(rng, FUTURE_STATUSES)
        own_source = _weighted(rng, OWN_SOURCES)
        start = _micros(FIRST_DAY)
        step = _micros(FIRST_DAY + YEAR) - start
        today = _micros(TODAY)
        hour = 3600 * MICROS
        horizon = _micros(FIRST_DAY + BOOKING_HORIZON) - _micros(FIRST_DAY)
        import_left = 0
        import_at = 0
        import_by = ""
        bookings: list[Row] = []
        travelers: list[Row] = []
        messages: list[Row] = []
        for index in range(self.rows):
            if import_left == 0 and rng.random() < IMPORT_SHARE / sum(IMPORT_BATCH) * 2:
                import_left = rng.randrange(*IMPORT_BATCH)
                import_at = start + (step * index) // self.rows
                import_by = str(UUID(hex=self.advisors[rng.randrange(ADVISORS)]))
            forced = self.forced.get(index)
            # Skewed: a few customers book often, most rarely.
            skewed = int(randoms * rng.random() ** 1.6)
            customer_index = forced if forced is not None else skewed
            customer = customers[customer_index]
            customer.bookings += 1
            if import_left:
                import_left -= 1
                created = import_at
                source = "import"
                kind, by = "staff", import_by
            else:
                created = start + (step * index) // self.rows + rng.randrange(step // self.rows)
                if customer.partner is not None and rng.random() < PARTNER_SHARE:
                    source = "partner"
                    partner = str(UUID(hex=self.partners[customer.partner]))
                    kind, by = "partner", partner
                elif rng.random() < API_SHARE:
                    source, kind, by = "api", "system", "api"
                else:
                    source = own_source()
                    if source in ("direct", "mobile"):
                        kind, by = "customer", str(UUID(hex=customer.id))
                    else:
                        kind = "staff"
                        by = str(UUID(hex=self.advisors[rng.randrange(ADVISORS)]))
            low = bisect.bisect_right(self.slot_starts, created + hour)
            high = bisect.bisect_right(self.slot_starts, created + horizon)
            slot_index = rng.randrange(low, high) if high > low else min(low, len(self.slots) - 1)
            slot = self.slots[slot_index]
            past = slot.starts < today
            status = status_past() if past else status_future()
            count = rng.randint(1, len(customer.travelers))
            subtotal = slot.price * count
            discount = subtotal // 10 if count >= 3 else 0
            ident = _uid(rng)
            cancelled = status == "cancelled"
            cancelled_at = min(created + rng.randrange(hour, 7 * 24 * hour), today)
            updated = cancelled_at if cancelled else created + rng.randrange(hour)
            partner_id = NULL
            if source == "partner":
                partner_id = self.partners[customer.partner or 0]
            external = NULL
            if source == "import":
                external = f"IMP-{index:08d}"
            elif source == "partner" and rng.random() < 0.5:
                external = f"P{(customer.partner or 0) + 1}-{index:08d}"
            metadata = '{"campaign": "monsoon"}' if rng.random() < 0.1 else "{}"
            row = {
                "id": ident,
                "reference": _reference(index),
                "customer_id": customer.id,
                "slot_id": slot.id,
                "location_id": self.locations[slot.location],
                "partner_id": partner_id,
                "created_by_partner_id": partner_id,
                "starts_at": _stamp(slot.starts),
                "lifecycle": LIFECYCLE,
                "status": status,
                "source": source,
                "total_travelers": str(count),
                "primary_contact_traveler_id": customer.travelers[0],
                "subtotal_amount": f"{subtotal}.00",
                "discount_amount": f"{discount}.00",
                "total_amount": f"{subtotal - discount}.00",
                "currency": CURRENCY,
                "items_total_amount": "0.00",
                "created_by_kind": kind,
                "created_by_id": by,
                "referral_source": "newsletter" if rng.random() < 0.05 else NULL,
                "internal_notes": "Call before visiting" if rng.random() < 0.03 else NULL,
                "external_id": external,
                "assignee_id": self.advisors[rng.randrange(ADVISORS)]
                if rng.random() < ASSIGNED_SHARE
                else NULL,
                "idempotency_key": f"idem-{index:08d}" if source == "api" else NULL,
                "cancelled_at": _stamp(cancelled_at) if cancelled else NULL,
                "cancellation_reason": "Customer asked to cancel" if cancelled else NULL,
                "metadata": metadata,
                "created_at": _stamp(created),
                "updated_at": _stamp(updated),
                "version": "1" if status == "pending" else "2",
            }
            bookings.append(row)
            children = [
                {
                    "booking_id": ident,
                    "traveler_id": traveler,
                    "position": str(position),
                    "price_amount": f"{slot.price}.00",
                    "price_currency": CURRENCY,
                    "is_primary": "t" if position == 0 else "f",
                }
                for position, traveler in enumerate(customer.travelers[:count])
            ]
            travelers.extend(children)
            if status != "cancelled":
                self.seats_at_slot[slot_index] = self.seats_at_slot.get(slot_index, 0) + count
            self.booked_at_slot[slot_index] = self.booked_at_slot.get(slot_index, 0) + 1
            if index in self.keep:
                self.kept[index] = (row, children)
            if forced is not None or rng.random() < MESSAGE_SHARE:
                messages.append(self._message(customer, ident, index, created))
            if len(bookings) >= batch_rows:
                yield bookings, travelers, messages
                bookings, travelers, messages = [], [], []
        if bookings:
            yield bookings, travelers, messages

    def _message(self, customer: Customer, booking: str, index: int, created: int) -> Row:
        email = customer.email
        channel, recipient = ("email", email) if email else ("sms", customer.phone)
        sent = _stamp(created + 2 * MICROS)
        fields = {
            "id": _uid(self.rng),
            "booking_id": booking,
            "customer_id": customer.id,
            "type": "confirmation",
            "channel": channel,
            "status": "delivered",
            "recipient": recipient or customer.phone,
            "subject": "Your booking is confirmed" if channel == "email" else NULL,
            "content": f"Booking {_reference(index)} is confirmed. See you soon!",
            "template_used": "confirmation",
            "provider_message_id": f"msg-{index:09d}",
            "sent_at": sent,
            "delivered_at": _stamp(created + 9 * MICROS),
            "created_by_kind": "system",
            "created_by_id": "notifications",
            "created_at": _stamp(created + MICROS),
        }
        return self._sample("booking_communications", fields)

    # ---------------------------------------------------------------- what to search for

    def picks(self) -> Picks:
        """The filter values of the shapes: chosen from the generated data, after the load."""
        rng = random.Random(self.rows)
        busiest = sorted(self.booked_at_slot, key=lambda n: -self.booked_at_slot[n])
        slot = busiest[len(busiest) // 4]
        named = [
            c
            for c in self.customers[: -len(HISTORY_SIZES)]
            if c.email is not None and 3 <= c.bookings <= 60
        ] or [c for c in self.customers if c.email is not None]
        by_name = named[rng.randrange(len(named))]
        by_email = named[rng.randrange(len(named))]
        by_phone = named[rng.randrange(len(named))]
        first, _, last = (by_name.name or "").partition(" ")
        digits = by_phone.phone[-7:]
        first_history = len(self.customers) - len(HISTORY_SIZES)
        history = {
            str(size): str(UUID(hex=self.customers[first_history + n].id))
            for n, size in enumerate(HISTORY_SIZES)
        }
        return Picks(
            status="pending",
            source="phone",
            partner_id=str(UUID(hex=self.partners[1])),
            location_id=str(UUID(hex=self.locations[4])),
            slot_id=str(UUID(hex=self.slots[slot].id)),
            starts_from=datetime(2025, 6, 1, tzinfo=UTC).isoformat(),
            starts_before=datetime(2025, 7, 1, tzinfo=UTC).isoformat(),
            assignee_id=str(UUID(hex=self.advisors[6])),
            combo_status="confirmed",
            combo_location_id=str(UUID(hex=self.locations[2])),
            combo_from=datetime(2025, 9, 1, tzinfo=UTC).isoformat(),
            combo_before=datetime(2025, 12, 1, tzinfo=UTC).isoformat(),
            name_fragment=f"{first} {last[:2]}",  # such as "Ravi Ku": some hundred customers
            email_fragment=(by_email.email or "").partition("@")[0][1:],
            phone_fragment=f"{digits[:3]} {digits[3:]}",
            history=history,
        )


# --------------------------------------------------------------------------- loading

#: The big tables: their plain indexes are dropped for the load and built again after it.
BIG_TABLES = ("bookings", "booking_travelers", "booking_communications", "travelers", "customers")


def _plain_indexes(connection: psycopg.Connection[Any]) -> list[tuple[str, str]]:
    """The big tables' indexes that back no constraint: (name, definition)."""
    rows = connection.execute(
        """
        SELECT i.indexname, i.indexdef
        FROM pg_indexes AS i
        JOIN pg_namespace AS n ON n.nspname = i.schemaname
        JOIN pg_class AS c ON c.relname = i.indexname AND c.relnamespace = n.oid
        WHERE i.schemaname = current_schema() AND i.tablename = ANY(%s)
          AND NOT EXISTS (SELECT 1 FROM pg_constraint AS k WHERE k.conindid = c.oid)
        ORDER BY i.indexname
        """,
        (list(BIG_TABLES),),
    ).fetchall()
    return [(name, definition) for name, definition in rows]


def _without_foreign_key_checks(connection: psycopg.Connection[Any]) -> bool:
    """Skip foreign key triggers on this connection (superusers only); False if refused."""
    try:
        connection.execute("SET session_replication_role = replica")
    except psycopg.errors.InsufficientPrivilege:
        connection.rollback()
        return False
    return True


def load(target: Database, dataset: Dataset) -> LoadReport:
    """bookingcore's schema in the target's schema, the dataset COPYed into it, VACUUM ANALYZE.

    Plain indexes of the big tables are dropped before the COPY and built after
    it. Foreign keys are not checked during the load when the user is a
    superuser (the rows are consistent by construction); the constraints stay.
    Bookings, their travelers and their messages stream on three connections at once.
    """
    report = LoadReport(rows=dataset.rows)
    started = time.perf_counter()
    fresh_store(target.engine()).dispose()
    report.seconds["create schema"] = time.perf_counter() - started
    with target.connect() as main, target.connect() as second, target.connect() as third:
        checked = [not _without_foreign_key_checks(c) for c in (main, second, third)]
        if any(checked):
            say("  not a superuser: foreign keys are checked during the load (slower)")
        main.execute("SET maintenance_work_mem = '256MB'")
        indexes = _plain_indexes(main)
        for name, _ in indexes:
            main.execute(sql.SQL("DROP INDEX {}").format(sql.Identifier(name)))
        main.commit()
        started = time.perf_counter()
        copy_rows(main, "locations", dataset.location_lines())
        copy_rows(main, "partners", dataset.partner_lines())
        copy_rows(main, "staff_members", dataset.staff_lines())
        report.customers = copy_rows(main, "customers", dataset.customer_lines())
        report.travelers = copy_rows(main, "travelers", dataset.traveler_lines())
        report.seconds["copy customers"] = time.perf_counter() - started
        say(f"  {report.customers} customers with {report.travelers} travelers")
        started = time.perf_counter()
        with (
            copy_into(main, "bookings") as bookings,
            copy_into(second, "booking_travelers") as travelers,
            copy_into(third, "booking_communications") as messages,
        ):
            for booking_lines, traveler_lines, message_lines in dataset.booking_batches():
                bookings(booking_lines)
                travelers(traveler_lines)
                messages(message_lines)
                report.booking_travelers += len(traveler_lines)
                report.communications += len(message_lines)
        report.slots = copy_rows(main, "slots", dataset.slot_lines())
        for connection in (main, second, third):
            connection.commit()
        report.seconds["copy bookings"] = time.perf_counter() - started
        say(f"  {dataset.rows} bookings, {report.booking_travelers} of their travelers")
        started = time.perf_counter()
        for _, definition in indexes:
            main.execute(definition)  # type: ignore[arg-type]  # read from pg_indexes
        main.commit()
        report.seconds["build indexes"] = time.perf_counter() - started
    started = time.perf_counter()
    with target.connect(autocommit=True) as connection:
        connection.execute("VACUUM (ANALYZE)")
    report.seconds["vacuum analyze"] = time.perf_counter() - started
    return report


# --------------------------------------------------------------------------- the read-back


#: What the read-back reads through the library, parents first: table -> unit of work attribute.
READ_BACK = {
    "locations": "locations",
    "partners": "partners",
    "staff_members": "staff",
    "slots": "slots",
    "customers": "customers",
    "travelers": "travelers",
    "bookings": "bookings",
    "booking_communications": "communications",
}


def _rows(engine: Engine, name: str, column: str, ids: Sequence[UUID]) -> dict[Any, dict[str, Any]]:
    """The rows of ``name`` whose ``column`` is in ``ids``, by their key, as the library's
    column types read them."""
    table_ = metadata.tables[name]
    key = [c.name for c in table_.primary_key.columns]
    with engine.connect() as connection:
        found = connection.execute(select(table_).where(table_.c[column].in_(ids))).mappings()
        return {tuple(row[k] for k in key): dict(row) for row in found}


def verify_readback(library: LibrarySide, dataset: Dataset, folder: Path) -> list[str]:
    """Read a sample of every loaded table through the library, store it again with the
    library in a scratch SQLite database, and compare the two databases' rows.

    A difference is a column the loader writes otherwise than the library would,
    so the bench would measure data the library never makes. The scratch store
    does not check foreign keys: only the sample is stored again, not its parents.
    """
    wanted = {name: list(rows) for name, rows in dataset.samples.items()}
    wanted["bookings"] = [row["id"] for row, _ in dataset.kept.values()]
    problems: list[str] = []
    scratch = fresh_store(f"sqlite:///{folder / 'readback.db'}")
    event.listen(scratch.engine, "connect", _no_foreign_keys)
    scratch.engine.dispose()  # connections made from here on skip foreign keys
    try:
        with library.store.unit_of_work() as source, scratch.unit_of_work() as copy:
            for name, repository in READ_BACK.items():
                for ident in wanted.get(name, ()):
                    entity = getattr(source, repository).get(UUID(ident))
                    if entity is None:
                        problems.append(f"{name} {ident} does not read back")
                    else:
                        getattr(copy, repository).add(entity)
            copy.commit()
        children = [("booking_travelers", "booking_id", wanted["bookings"])]
        for name, column, idents in [*((n, "id", wanted.get(n, [])) for n in READ_BACK), *children]:
            ids = [UUID(ident) for ident in idents]
            loaded = _rows(library.engine, name, column, ids)
            stored = _rows(scratch.engine, name, column, ids)
            for key in sorted(loaded.keys() | stored.keys(), key=str):
                before, after = loaded.get(key, {}), stored.get(key, {})
                problems += [
                    f"{name}.{c} of {key[0]}: loaded {before.get(c)!r}, the library stores"
                    f" {after.get(c)!r}"
                    for c in sorted(before.keys() | after.keys())
                    if before.get(c) != after.get(c)
                ]
    finally:
        scratch.dispose()
    return problems


def _no_foreign_keys(dbapi_connection: Any, _: Any) -> None:
    dbapi_connection.execute("PRAGMA foreign_keys = OFF")


# --------------------------------------------------------------------------- the query shapes


@dataclass(frozen=True)
class Shape:
    """One staff query: a name, what it asks for, and the filter both sides answer."""

    name: str
    wanted: str
    query: BookingFilter


def make_shapes(p: Picks) -> list[Shape]:
    """The shapes of the issue, with the values picked from the data."""
    at = datetime.fromisoformat
    statuses = frozenset({p.status})
    dates = f"{p.starts_from[:10]} to {p.starts_before[:10]}"
    combo_dates = f"{p.combo_from[:10]} to {p.combo_before[:10]}"
    return [
        Shape("no filter", "every booking", BookingFilter()),
        Shape("status", f"status {p.status}", BookingFilter(statuses=statuses)),
        Shape("source", f"source {p.source}", BookingFilter(sources=frozenset({p.source}))),  # type: ignore[arg-type]
        Shape("partner", f"partner {p.partner_id}", BookingFilter(partner_id=UUID(p.partner_id))),  # type: ignore[arg-type]
        Shape(
            "location",
            f"location {p.location_id}",
            BookingFilter(location_id=UUID(p.location_id)),  # type: ignore[arg-type]
        ),
        Shape("slot", f"slot {p.slot_id}", BookingFilter(slot_id=UUID(p.slot_id))),  # type: ignore[arg-type]
        Shape(
            "date range",
            f"slot starts {dates}",
            BookingFilter(starts_from=at(p.starts_from), starts_before=at(p.starts_before)),
        ),
        Shape(
            "assignee",
            f"assignee {p.assignee_id}",
            BookingFilter(assignee_id=UUID(p.assignee_id)),  # type: ignore[arg-type]
        ),
        Shape(
            "combination",
            f"status {p.combo_status}, location {p.combo_location_id}, starts {combo_dates}",
            BookingFilter(
                statuses=frozenset({p.combo_status}),
                location_id=UUID(p.combo_location_id),  # type: ignore[arg-type]
                starts_from=at(p.combo_from),
                starts_before=at(p.combo_before),
            ),
        ),
        Shape("text: name", f"text {p.name_fragment!r}", BookingFilter(text=p.name_fragment)),
        Shape("text: email", f"text {p.email_fragment!r}", BookingFilter(text=p.email_fragment)),
        Shape("text: phone", f"text {p.phone_fragment!r}", BookingFilter(text=p.phone_fragment)),
    ]


# --------------------------------------------------------------------------- the two sides

#: The library's page: the bookings and the cursor of the next page.
Key = tuple[datetime, UUID]


@dataclass(frozen=True)
class Fetched:
    """One page as either side returned it: booking ids in order, and where the next starts."""

    ids: tuple[UUID, ...]
    next_key: Key | None


class Recorder:
    """The statements a library engine sends while :meth:`LibrarySide.record` is on.

    ``driver`` has every statement executed on the psycopg cursors of the engine's
    connections (the cursor class is this recorder's); ``events`` only those that
    the engine's ``before_cursor_execute`` listeners see, which the adapter also
    calls for the statements it sends straight to the driver.
    """

    def __init__(self) -> None:
        self.on = False
        self.driver: list[tuple[Any, Any]] = []
        self.events: list[str] = []

    def cursor_class(self) -> type[psycopg.Cursor[Any]]:
        recorder = self

        class RecordingCursor(psycopg.Cursor[Any]):
            def execute(self, query: Any, params: Any = None, **options: Any) -> Any:
                if recorder.on:
                    recorder.driver.append((query, params))
                return super().execute(query, params, **options)

            def executemany(self, query: Any, params_seq: Any, **options: Any) -> None:
                if recorder.on:
                    recorder.driver.append((query, None))
                super().executemany(query, params_seq, **options)

        return RecordingCursor

    def event(
        self,
        conn: Any,
        cursor: Any,
        statement: str,
        parameters: Any,
        context: Any,
        executemany: bool,
    ) -> None:
        if self.on:
            self.events.append(statement)


class LibrarySide:
    """``core.bookings.list`` over ``SqlStore``; can record the SQL statements it sends."""

    def __init__(self, target: Database) -> None:
        self.recorder = Recorder()
        self.engine = target.engine(cursor_factory=self.recorder.cursor_class())
        event.listen(self.engine, "before_cursor_execute", self.recorder.event)
        self.store = SqlStore(self.engine)
        self.core = library_core(self.store.unit_of_work)
        self.staff = Principal.staff(StaffId(uuid4()), StaffRole.STAFF)

    @contextmanager
    def record(self) -> Iterator[Recorder]:
        """Record the statements sent inside the block."""
        recorder = self.recorder
        recorder.driver, recorder.events, recorder.on = [], [], True
        try:
            yield recorder
        finally:
            recorder.on = False

    def page(self, query: BookingFilter, limit: int, cursor: str | None) -> tuple[Fetched, Any]:
        found = self.core.bookings.list(
            query, PageRequest(limit=limit, cursor=cursor), principal=self.staff
        )
        after = None if found.next_cursor is None else Cursor.decode(found.next_cursor)
        fetched = Fetched(
            tuple(b.id for b in found.items),
            None if after is None else (after.created_at, after.id),
        )
        return fetched, found.next_cursor

    def page_statement(self, query: BookingFilter, limit: int, cursor: str | None) -> Any:
        """The SQL and parameters of the library's page query (not its travelers' query)."""
        with self.record() as recorder:
            self.page(query, limit, cursor)
        pages = [
            (text, params)
            for text, params in recorder.driver
            if isinstance(text, str) and "ORDER BY" in text and "LIMIT" in text
        ]
        if not pages:
            msg = f"the library sent no page query: {recorder.driver}"
            raise BenchError(msg)
        return pages[0]

    def close(self) -> None:
        self.engine.dispose()


_PUNCTUATION = re.compile(r"[\s\-().+]")


def _like(text: str) -> str:
    """A LIKE pattern matching ``text`` anywhere (backslash escapes the wildcards)."""
    return "%" + re.sub(r"([\\%_])", r"\\\1", text) + "%"


def baseline_where(query: BookingFilter, text_form: str = "in") -> tuple[list[str], dict[str, Any]]:
    """The hand-written ``WHERE`` conditions for ``query``, with the ``matches()`` semantics.

    The text search finds the customers in a sub-query instead of joining them:
    ``customer_id IN (SELECT ...)`` (``text_form="in"``), or, for when trigram
    indexes make every part of the search an index scan, ``customer_id =
    ANY(ARRAY(SELECT ...))`` (``"array"``), which PostgreSQL can combine with them
    in one bitmap. Digits are matched with a regular expression (``9\\D*8\\D*7``).
    """
    where: list[str] = []
    params: dict[str, Any] = {}
    exact = {
        "customer_id": query.customer_id,
        "partner_id": query.partner_id,
        "location_id": query.location_id,
        "slot_id": query.slot_id,
        "product_id": query.product_id,
        "supplier_id": query.supplier_id,
        "assignee_id": query.assignee_id,
    }
    for column, value in exact.items():
        if value is not None:
            where.append(f"{column} = %({column})s")
            params[column] = value
    for column, values in (("status", query.statuses), ("source", query.sources)):
        if values is not None and len(values) == 1:
            where.append(f"{column} = %({column})s")
            params[column] = str(next(iter(values)))
        elif values is not None:
            where.append(f"{column} = ANY(%({column})s)")
            params[column] = sorted(str(v) for v in values)
    for column, low, high in (
        ("starts_at", query.starts_from, query.starts_before),
        ("created_at", query.created_from, query.created_before),
    ):
        if low is not None:
            where.append(f"{column} >= %({column}_low)s")
            params[f"{column}_low"] = low
        if high is not None:
            where.append(f"{column} < %({column}_high)s")
            params[f"{column}_high"] = high
    needle = fold_case((query.text or "").strip())  # as the library folds it
    if needle:
        params["pattern"] = _like(needle)
        people = [f"lower(c.{c}) LIKE %(pattern)s" for c in ("name", "email", "phone")]
        own = [f"lower({c}) LIKE %(pattern)s" for c in ("reference", "external_id")]
        compact = _PUNCTUATION.sub("", needle)
        if len(compact) >= 3 and compact.isdigit():
            params["digits"] = "\\D*".join(compact)
            people += [f"c.{c} ~ %(digits)s" for c in ("name", "email", "phone")]
            own += [f"{c} ~ %(digits)s" for c in ("reference", "external_id")]
        matching = "SELECT c.id FROM customers AS c WHERE " + " OR ".join(people)
        if text_form == "array":
            customers = f"customer_id = ANY(ARRAY({matching}))"
        else:
            customers = f"customer_id IN ({matching})"
        where.append("(" + " OR ".join([customers, *own]) + ")")
    return where, params


class BaselineSide:
    """Hand-written psycopg 3 keyset queries on one autocommit connection.

    Statements are never prepared (``prepare=False``): psycopg would prepare one
    after five runs, and PostgreSQL may then switch to a generic plan, which
    for these filters can be several times slower. The library's statements
    never get there: psycopg forgets what it prepared at each ``ROLLBACK``,
    which ends every read-only unit of work.
    """

    CHILDREN = "SELECT * FROM booking_travelers WHERE booking_id = ANY(%(ids)s)"

    def __init__(self, target: Database) -> None:
        self.connection = target.connect(autocommit=True)
        self.text_form = "in"

    def statement(self, query: BookingFilter, limit: int, after: Key | None) -> tuple[str, Any]:
        where, params = baseline_where(query, self.text_form)
        if after is not None:
            where.append("(created_at, id) < (%(after_at)s, %(after_id)s)")
            params["after_at"], params["after_id"] = after
        params["limit"] = limit + 1
        condition = " AND ".join(where) or "TRUE"
        text = (
            f"SELECT * FROM bookings WHERE {condition}"
            " ORDER BY created_at DESC, id DESC LIMIT %(limit)s"
        )
        return text, params

    def page(self, query: BookingFilter, limit: int, after: Key | None) -> Fetched:
        text, params = self.statement(query, limit, after)
        with self.connection.cursor() as cursor:
            rows = cursor.execute(text, params, prepare=False).fetchall()  # type: ignore[arg-type]
            names = [d.name for d in cursor.description or ()]
            ident, created = names.index("id"), names.index("created_at")
            chosen = rows[:limit]
            ids = [row[ident] for row in chosen]
            cursor.execute(self.CHILDREN, {"ids": ids}, prepare=False).fetchall()
        last = chosen[-1] if chosen and len(rows) > limit else None
        return Fetched(
            tuple(row[ident] for row in chosen),
            None if last is None else (last[created], last[ident]),
        )

    def close(self) -> None:
        self.connection.close()


# --------------------------------------------------------------------------- plans


@dataclass(frozen=True)
class Plan:
    """How PostgreSQL read ``bookings`` for one query (from ``EXPLAIN (ANALYZE)``)."""

    access: str
    seq_scan: bool
    rows_read: int
    ms: float
    others: dict[str, str]

    @property
    def short(self) -> str:
        return "SEQ SCAN" if self.seq_scan else self.access


def _nodes(node: Mapping[str, Any]) -> Iterator[Mapping[str, Any]]:
    yield node
    for child in node.get("Plans", ()):
        yield from _nodes(child)


def _access(node: Mapping[str, Any]) -> str:
    kind = node["Node Type"]
    if "Seq Scan" in kind:
        return "seq scan"
    if kind == "Bitmap Heap Scan":
        names = [n["Index Name"] for n in _nodes(node) if n["Node Type"] == "Bitmap Index Scan"]
        return "bitmap " + "+".join(names)
    if "Index" in kind:
        only = " only" if "Only" in kind else ""
        backward = " backward" if node.get("Scan Direction") == "Backward" else ""
        return f"index{only}{backward} {node.get('Index Name')}"
    return kind.lower()


def explain(
    connection: psycopg.Connection[Any], statement: str, params: Any, *, analyze: bool = True
) -> Plan:
    """``EXPLAIN (FORMAT JSON)`` of a statement, summed up for ``bookings``.

    With ``analyze`` the statement runs, and ``rows_read`` counts the ``bookings``
    rows PostgreSQL looked at; without, it is -1 and ``ms`` is NaN.
    """
    options = "ANALYZE, FORMAT JSON" if analyze else "FORMAT JSON"
    row = connection.execute(
        f"EXPLAIN ({options}) " + statement,  # type: ignore[arg-type]
        params,
    ).fetchone()
    assert row is not None
    root = row[0][0]
    accesses: list[str] = []
    others: dict[str, str] = {}
    rows_read = 0
    seq_scan = False
    for node in _nodes(root["Plan"]):
        relation = node.get("Relation Name")
        if relation is None:
            continue
        access = _access(node)
        if relation != "bookings":
            others.setdefault(relation, access)
            continue
        accesses.append(access)
        seq_scan = seq_scan or access == "seq scan"
        per_loop = (
            node.get("Actual Rows", 0)
            + node.get("Rows Removed by Filter", 0)
            + node.get("Rows Removed by Index Recheck", 0)
        )
        rows_read += int(per_loop * node.get("Actual Loops", 1))
    return Plan(
        access=", ".join(accesses) or "none",
        seq_scan=seq_scan,
        rows_read=rows_read if analyze else -1,
        ms=float(root.get("Execution Time", math.nan)),
        others=others,
    )


# --------------------------------------------------------------------------- the walks


@dataclass
class Walk:
    """One shape walked page by page by both sides."""

    shape: str
    wanted: str
    pages: int = 0
    rows: int = 0
    ended: bool = False
    stopped: bool = False
    library_ms: list[float] = field(default_factory=list)
    baseline_ms: list[float] = field(default_factory=list)
    library_first_ms: float = math.nan
    library_deep_ms: float = math.nan
    baseline_first_ms: float = math.nan
    baseline_deep_ms: float = math.nan
    statements_per_page: int = 0
    plan_first: Plan | None = None
    plan_deep: Plan | None = None
    baseline_plan_deep: Plan | None = None
    problems: list[str] = field(default_factory=list)

    def p(self, side: str, percent: int) -> float:
        return percentile(self.library_ms if side == "library" else self.baseline_ms, percent)

    @property
    def ratio(self) -> float:
        """Baseline time / library time at p50 (1.00: as fast as the hand-written SQL)."""
        return ratio(self.p("baseline", 50), self.p("library", 50))

    @property
    def notes(self) -> list[str]:
        found: list[str] = []
        if self.problems:
            found.append("MISMATCH")
        if (self.plan_deep and self.plan_deep.seq_scan) or (
            self.plan_first and self.plan_first.seq_scan
        ):
            found.append("seq scan")
        first, deep = self.library_first_ms, self.library_deep_ms
        if self.pages > 1 and deep > max(DEEP_FACTOR * first, first + 1.0):
            found.append(f"deep {deep / first:.1f}x page 1")
        if self.p("library", 95) > SLOW_PAGE_MS:
            found.append(f"p95 > {SLOW_PAGE_MS:.0f} ms")
        if self.stopped:
            found.append("budget spent")
        return found

    def as_json(self) -> dict[str, Any]:
        return {
            "shape": self.shape,
            "wanted": self.wanted,
            "pages": self.pages,
            "rows": self.rows,
            "ended": self.ended,
            "stopped_by_budget": self.stopped,
            "library_ms": {"p50": self.p("library", 50), "p95": self.p("library", 95)},
            "baseline_ms": {"p50": self.p("baseline", 50), "p95": self.p("baseline", 95)},
            "speed_ratio": self.ratio,
            "library_first_ms": self.library_first_ms,
            "library_deep_ms": self.library_deep_ms,
            "baseline_first_ms": self.baseline_first_ms,
            "baseline_deep_ms": self.baseline_deep_ms,
            "statements_per_page": self.statements_per_page,
            "plan_first": None if self.plan_first is None else asdict(self.plan_first),
            "plan_deep": None if self.plan_deep is None else asdict(self.plan_deep),
            "baseline_plan_deep": (
                None if self.baseline_plan_deep is None else asdict(self.baseline_plan_deep)
            ),
            "notes": self.notes,
            "problems": self.problems,
        }


@dataclass(frozen=True)
class WalkSettings:
    pages: int
    page_size: int
    repeats: int
    budget: float


def _compare(walk: Walk, page: int, library: Fetched, baseline: Fetched) -> None:
    if library == baseline:
        return
    pairs = zip(library.ids, baseline.ids, strict=False)
    differs = next((i for i, (a, b) in enumerate(pairs) if a != b), None)
    if len(walk.problems) < 3:
        walk.problems.append(
            f"page {page}: the library returned {len(library.ids)} bookings"
            f" (next {library.next_key}), the baseline {len(baseline.ids)}"
            f" (next {baseline.next_key}); first different position: {differs}"
        )


def walk_shape(
    shape: Shape, library: LibrarySide, baseline: BaselineSide, settings: WalkSettings
) -> Walk:
    """Page 1, then the next page by its cursor, on both sides; then page 1 and the deep page
    again ``repeats`` times each, and the plans."""
    walk = Walk(shape.name, shape.wanted)
    limit, query = settings.page_size, shape.query
    # Warm-up, not timed: the first use of a statement on each side.
    library.page(query, limit, None)
    baseline.page(query, limit, None)
    with library.record() as recorder:
        library.page(query, limit, None)
    walk.statements_per_page = len(recorder.driver)
    token: str | None = None
    key: Key | None = None
    deep: tuple[str | None, Key | None] = (None, None)
    started = time.perf_counter()
    for number in range(1, settings.pages + 1):
        from_library = functools.partial(library.page, query, limit, token)
        from_baseline = functools.partial(baseline.page, query, limit, key)
        if number % 2:  # each side goes first on every other page
            (lib, next_token), lib_ms = timed(from_library)
            base, base_ms = timed(from_baseline)
        else:
            base, base_ms = timed(from_baseline)
            (lib, next_token), lib_ms = timed(from_library)
        walk.library_ms.append(lib_ms)
        walk.baseline_ms.append(base_ms)
        walk.pages = number
        walk.rows += len(lib.ids)
        _compare(walk, number, lib, base)
        deep = (token, key)
        if next_token is None:
            walk.ended = True
            break
        token, key = next_token, lib.next_key
        if time.perf_counter() - started > settings.budget:
            walk.stopped = number < settings.pages
            break
    deep_token, deep_key = deep
    # Page 1 and the deep page again, while the shape has time left (half its budget).
    lib_first: list[float] = []
    lib_deep: list[float] = []
    base_first: list[float] = []
    base_deep: list[float] = []
    started = time.perf_counter()
    for _ in range(settings.repeats):
        lib_first.append(timed(lambda: library.page(query, limit, None))[1])
        base_first.append(timed(lambda: baseline.page(query, limit, None))[1])
        lib_deep.append(timed(lambda: library.page(query, limit, deep_token))[1])
        base_deep.append(timed(lambda: baseline.page(query, limit, deep_key))[1])
        if time.perf_counter() - started > settings.budget / 2:
            break
    walk.library_first_ms = statistics.median(lib_first or walk.library_ms[:1])
    walk.library_deep_ms = statistics.median(lib_deep or walk.library_ms[-1:])
    walk.baseline_first_ms = statistics.median(base_first or walk.baseline_ms[:1])
    walk.baseline_deep_ms = statistics.median(base_deep or walk.baseline_ms[-1:])
    # How bookings was read: EXPLAIN ANALYZE of the library's deep page (it reports the
    # rows looked at), a plain EXPLAIN of its page 1 and of the baseline's deep page.
    explainer = baseline.connection
    walk.plan_deep = explain(explainer, *library.page_statement(query, limit, deep_token))
    walk.plan_first = explain(explainer, *library.page_statement(query, limit, None), analyze=False)
    walk.baseline_plan_deep = explain(
        explainer, *baseline.statement(query, limit, deep_key), analyze=False
    )
    return walk


def walk_all(
    shapes: Sequence[Shape], library: LibrarySide, baseline: BaselineSide, settings: WalkSettings
) -> list[Walk]:
    walks: list[Walk] = []
    for shape in shapes:
        say(f"  {shape.name} ...")
        walks.append(walk_shape(shape, library, baseline, settings))
    return walks


# --------------------------------------------------------------------------- the history


@dataclass
class History:
    """A customer's history read by both sides, and the statements the library sent."""

    bookings: int
    statements: int  # sent to the driver
    events: int  # seen by SQLAlchemy's before_cursor_execute
    library_ms: list[float]
    baseline_ms: list[float]
    problems: list[str]

    @property
    def ratio(self) -> float:
        """Baseline time / library time at p50."""
        return ratio(percentile(self.baseline_ms, 50), percentile(self.library_ms, 50))

    def as_json(self) -> dict[str, Any]:
        return {
            "bookings": self.bookings,
            "statements": self.statements,
            "statements_seen_by_sqlalchemy_events": self.events,
            "library_ms": {
                "p50": percentile(self.library_ms, 50),
                "p95": percentile(self.library_ms, 95),
            },
            "baseline_ms": {
                "p50": percentile(self.baseline_ms, 50),
                "p95": percentile(self.baseline_ms, 95),
            },
            "speed_ratio": self.ratio,
            "problems": self.problems,
        }


BASELINE_HISTORY = (
    "SELECT * FROM customers WHERE id = %(customer)s",
    "SELECT * FROM travelers WHERE customer_id = %(customer)s AND deleted_at IS NULL"
    " ORDER BY created_at, id",
    "SELECT * FROM bookings WHERE customer_id = %(customer)s"
    " ORDER BY created_at DESC, id DESC LIMIT %(limit)s",
    "SELECT * FROM booking_travelers WHERE booking_id = ANY(%(ids)s)",
    "SELECT * FROM booking_communications WHERE customer_id = %(customer)s ORDER BY created_at, id",
    "SELECT * FROM payments WHERE customer_id = %(customer)s ORDER BY created_at, id",
)


def _baseline_history(
    connection: psycopg.Connection[Any], customer: UUID, limit: int
) -> tuple[list[UUID], list[UUID], list[UUID]]:
    """The hand-written history: travelers, the newest page of bookings, the messages (ids)."""
    params: dict[str, Any] = {"customer": customer, "limit": limit + 1}
    found: list[list[Any]] = []
    for text in BASELINE_HISTORY:
        if "booking_travelers" in text:
            params["ids"] = [row[0] for row in found[-1][:limit]]
        found.append(connection.execute(text, params, prepare=False).fetchall())  # type: ignore[arg-type]
    _, travelers, bookings, _, messages, _ = found
    return (
        [row[0] for row in travelers],
        [row[0] for row in bookings[:limit]],
        [row[0] for row in messages],
    )


def measure_history(
    library: LibrarySide, baseline: BaselineSide, customer: UUID, bookings: int, repeats: int
) -> History:
    problems: list[str] = []
    limit = PageRequest().limit

    def read() -> Any:
        return library.core.customers.history(customer, principal=library.staff)  # type: ignore[arg-type]

    read()
    with library.record() as recorder:
        history = read()
    if len(history.bookings.items) != min(bookings, limit):
        problems.append(f"{len(history.bookings.items)} bookings in the history, not {bookings}")
    travelers, booking_ids, messages = _baseline_history(baseline.connection, customer, limit)
    if [t.id for t in history.travelers] != travelers:
        problems.append("the travelers differ from the baseline's")
    if [b.id for b in history.bookings.items] != booking_ids:
        problems.append("the bookings differ from the baseline's")
    if [c.id for c in history.communications] != messages:
        problems.append("the messages differ from the baseline's")
    library_ms = [timed(read)[1] for _ in range(repeats)]
    baseline_ms = [
        timed(lambda: _baseline_history(baseline.connection, customer, limit))[1]
        for _ in range(repeats)
    ]
    return History(
        bookings, len(recorder.driver), len(recorder.events), library_ms, baseline_ms, problems
    )


def history_problems(histories: Sequence[History]) -> list[str]:
    found = [f"history of {h.bookings} bookings: {p}" for h in histories for p in h.problems]
    for what, counts in (
        ("statements", {h.bookings: h.statements for h in histories}),
        ("statements seen by SQLAlchemy", {h.bookings: h.events for h in histories}),
    ):
        if len(set(counts.values())) > 1:
            found.append(f"the history's {what} grow with its bookings: {counts}")
    return found


# --------------------------------------------------------------------------- extra indexes

#: Candidate B-tree indexes, measured before and after. Empty now: the composites
#: ``(filter column, created_at, id)`` measured here landed in SQL revision 0005.
EXTRA_INDEXES: tuple[tuple[str, str], ...] = ()
#: Trigram indexes for the text search (``{ops}`` is pg_trgm's ``gin_trgm_ops``).
TRIGRAM_INDEXES: tuple[tuple[str, str], ...] = (
    ("ix_customers_name_trgm", "customers USING gin (lower(name) {ops})"),
    ("ix_customers_email_trgm", "customers USING gin (lower(email) {ops})"),
    ("ix_customers_phone_trgm", "customers USING gin (lower(phone) {ops})"),
    ("ix_bookings_reference_trgm", "bookings USING gin (lower(reference) {ops})"),
    ("ix_bookings_external_id_trgm", "bookings USING gin (lower(external_id) {ops})"),
)


@dataclass(frozen=True)
class BuiltIndex:
    name: str
    definition: str
    seconds: float
    megabytes: float


def _trigram_ops(connection: psycopg.Connection[Any], schema: str) -> str | None:
    """``gin_trgm_ops``, qualified with pg_trgm's schema (installed in ``schema`` if need be)."""
    found = connection.execute(
        "SELECT n.nspname FROM pg_extension AS e JOIN pg_namespace AS n"
        " ON n.oid = e.extnamespace WHERE e.extname = 'pg_trgm'"
    ).fetchone()
    if found is None:
        available = connection.execute(
            "SELECT 1 FROM pg_available_extensions WHERE name = 'pg_trgm'"
        ).fetchone()
        if available is None:
            return None
        connection.execute(
            sql.SQL("CREATE EXTENSION pg_trgm SCHEMA {}").format(sql.Identifier(schema))
        )
        found = (schema,)
    return f'"{found[0]}".gin_trgm_ops'


def create_extra_indexes(target: Database) -> tuple[list[BuiltIndex], list[str]]:
    """Build the candidate indexes in the bench schema, then ANALYZE; with notes."""
    built: list[BuiltIndex] = []
    notes: list[str] = []
    with target.connect(autocommit=True) as connection:
        connection.execute("SET maintenance_work_mem = '256MB'")
        wanted = [(name, f"CREATE INDEX {name} ON {body}") for name, body in EXTRA_INDEXES]
        ops = _trigram_ops(connection, target.schema)
        if ops is None:
            notes.append("pg_trgm is not available on this server: no trigram indexes")
        else:
            wanted += [
                (name, f"CREATE INDEX {name} ON {body.format(ops=ops)}")
                for name, body in TRIGRAM_INDEXES
            ]
        for name, definition in wanted:
            say(f"  {definition}")
            started = time.perf_counter()
            connection.execute(definition)  # type: ignore[arg-type]
            seconds = time.perf_counter() - started
            size = connection.execute("SELECT pg_relation_size(%s::regclass)", (name,)).fetchone()
            megabytes = (size[0] if size else 0) / 2**20
            built.append(BuiltIndex(name, definition, seconds, megabytes))
        connection.execute("ANALYZE")
    return built, notes


def drop_extra_indexes(target: Database, built: Sequence[BuiltIndex]) -> None:
    with target.connect(autocommit=True) as connection:
        for index in built:
            statement = sql.SQL("DROP INDEX IF EXISTS {}").format(sql.Identifier(index.name))
            connection.execute(statement)


# --------------------------------------------------------------------------- the report


def _ms(value: float) -> str:
    return f"{value:.1f}" if value < 100 else f"{value:.0f}"


def _pair(values: Sequence[float]) -> str:
    return f"{_ms(percentile(values, 50)):>6} / {_ms(percentile(values, 95)):>6}"


def render_walks(walks: Sequence[Walk]) -> str:
    rows = [
        [
            walk.shape,
            f"{walk.pages}{'' if walk.ended or walk.stopped else '+'}",
            _pair(walk.library_ms),
            _pair(walk.baseline_ms),
            f"{walk.ratio:.2f}",
            _ms(walk.library_first_ms),
            _ms(walk.library_deep_ms),
            f"{walk.plan_deep.rows_read:,}" if walk.plan_deep else "?",
            walk.plan_deep.short if walk.plan_deep else "?",
            ", ".join(walk.notes) or "OK",
        ]
        for walk in walks
    ]
    headers = [
        "shape",
        "pages",
        "library ms p50 / p95",
        "baseline ms p50 / p95",
        "speed ratio",
        "lib p1 ms",
        "lib deep ms",
        "rows read",
        "bookings read by (deep page)",
        "notes",
    ]
    return table(headers, rows, left=(0, 8, 9))


def render_history(histories: Sequence[History]) -> str:
    rows = [
        [
            str(h.bookings),
            str(h.statements),
            str(h.events),
            _pair(h.library_ms),
            _pair(h.baseline_ms),
            f"{h.ratio:.2f}",
            "MISMATCH" if h.problems else "OK",
        ]
        for h in histories
    ]
    headers = [
        "bookings",
        "statements",
        "(SQLAlchemy events)",
        "library ms p50 / p95",
        "baseline ms p50 / p95",
        "speed ratio",
        "check",
    ]
    return table(headers, rows)


def render_comparison(before: Sequence[Walk], after: Sequence[Walk]) -> str:
    rows = []
    for old, new in zip(before, after, strict=True):
        rows.append(
            [
                old.shape,
                f"{_ms(old.p('library', 50))} -> {_ms(new.p('library', 50))}",
                f"{_ms(old.library_deep_ms)} -> {_ms(new.library_deep_ms)}",
                f"{old.ratio:.2f} -> {new.ratio:.2f}",
                f"{old.plan_deep.short if old.plan_deep else '?'}"
                f" -> {new.plan_deep.short if new.plan_deep else '?'}",
            ]
        )
    headers = [
        "shape",
        "library p50 ms",
        "library deep ms",
        "speed ratio",
        "bookings read by (deep page)",
    ]
    return table(headers, rows, left=(0, 4))


def render_indexes(built: Sequence[BuiltIndex]) -> str:
    rows = [[b.definition, f"{b.seconds:.1f}", f"{b.megabytes:.1f}"] for b in built]
    return table(["index", "build s", "MB"], rows, left=1)


# --------------------------------------------------------------------------- command line


@dataclass(frozen=True)
class Options:
    """The command line, resolved."""

    url: URL
    rows: int
    customers: int
    slots: int
    settings: WalkSettings
    history_repeats: int
    seed: int
    extra_indexes: bool
    keep: bool
    schema: str | None
    json: Path | None


def build_parser() -> argparse.ArgumentParser:
    created = parser(
        "booking_queries.py",
        "Staff queries on many bookings: bookingcore's keyset lists vs raw SQL.",
        url="PostgreSQL",
    )
    created.add_argument(
        "--rows", type=positive, help=f"bookings to load (default {DEFAULT_ROWS:_})"
    )
    created.add_argument(
        "--customers",
        type=positive,
        help=f"customers to load (default: one per {BOOKINGS_PER_CUSTOMER} bookings)",
    )
    created.add_argument(
        "--slots", type=positive, default=DEFAULT_SLOTS, help=f"slots (default {DEFAULT_SLOTS})"
    )
    created.add_argument(
        "--pages",
        type=positive,
        help=f"pages to walk per shape by cursor (default {DEFAULT_PAGES})",
    )
    created.add_argument(
        "--page-size",
        type=positive,
        default=DEFAULT_PAGE_SIZE,
        help=f"bookings per page (default {DEFAULT_PAGE_SIZE}, at most 500)",
    )
    created.add_argument(
        "--repeats",
        type=zero_or_more,
        help=f"extra fetches of page 1 and the deep page, per side (default {DEFAULT_REPEATS})",
    )
    created.add_argument(
        "--budget",
        type=float,
        default=DEFAULT_BUDGET,
        help=f"seconds a shape's walk may take before it stops (default {DEFAULT_BUDGET:.0f})",
    )
    created.add_argument(
        "--history-repeats",
        type=positive,
        help=f"timed reads of each customer's history (default {DEFAULT_HISTORY_REPEATS})",
    )
    created.add_argument("--seed", type=int, default=DEFAULT_SEED, help="the data's random seed")
    created.add_argument(
        "--extra-indexes",
        action="store_true",
        help="then create candidate indexes in the bench schema and measure again",
    )
    created.add_argument("--keep", action="store_true", help="keep the schema (prints its name)")
    created.add_argument(
        "--schema", help=f"measure a schema kept by --keep ({SCHEMA_PREFIX}...) instead of loading"
    )
    return created


def parse_options(argv: Sequence[str] | None = None) -> Options:
    """Read the command line (``argv`` without the program name)."""
    options = build_parser()
    args = options.parse_args(argv)
    quick = args.quick
    rows = args.rows or (QUICK_ROWS if quick else DEFAULT_ROWS)
    if rows < MIN_ROWS:
        options.error(f"--rows must be at least {MIN_ROWS}")
    customers = args.customers or max(rows // BOOKINGS_PER_CUSTOMER, 100)
    if customers < 2 * len(HISTORY_SIZES) or customers > rows:
        options.error("--customers must be between 4 and --rows")
    if args.page_size > 500:
        options.error("--page-size is at most 500")
    if args.budget <= 0:
        options.error("--budget must be positive")
    if args.schema is not None and not re.fullmatch(f"{SCHEMA_PREFIX}[0-9a-f]+", args.schema):
        options.error(f"--schema names a schema kept by --keep ({SCHEMA_PREFIX}<hex>)")
    try:
        url = postgres_url(args.url)
    except ValueError as exc:
        options.error(str(exc))
    settings = WalkSettings(
        pages=args.pages or (QUICK_PAGES if quick else DEFAULT_PAGES),
        page_size=args.page_size,
        repeats=args.repeats
        if args.repeats is not None
        else (QUICK_REPEATS if quick else DEFAULT_REPEATS),
        budget=args.budget,
    )
    return Options(
        url=url,
        rows=rows,
        customers=customers,
        slots=args.slots,
        settings=settings,
        history_repeats=args.history_repeats
        or (QUICK_HISTORY_REPEATS if quick else DEFAULT_HISTORY_REPEATS),
        seed=args.seed,
        extra_indexes=args.extra_indexes,
        keep=args.keep,
        schema=args.schema,
        json=args.json,
    )


@contextmanager
def _existing_schema(name: str) -> Iterator[str]:
    yield name


def _remember(target: Database, payload: dict[str, Any]) -> None:
    """Keep the picks and the load's figures on the schema, for ``--schema`` runs."""
    with target.connect(autocommit=True) as connection:
        connection.execute(
            sql.SQL("COMMENT ON SCHEMA {} IS {}").format(
                sql.Identifier(target.schema), sql.Literal(json.dumps(payload))
            )
        )


def _recall(target: Database) -> dict[str, Any]:
    with target.connect() as connection:
        found = connection.execute(
            "SELECT obj_description(oid, 'pg_namespace') FROM pg_namespace WHERE nspname = %s",
            (target.schema,),
        ).fetchone()
    if found is None or not found[0]:
        msg = f"schema {target.schema} does not exist or was not loaded by this bench"
        raise BenchError(msg)
    recalled: dict[str, Any] = json.loads(found[0])
    return recalled


@dataclass
class Measured:
    """Every figure of a run."""

    load: LoadReport
    picks: Picks
    loaded_now: bool
    readback: list[str] = field(default_factory=list)
    before: list[Walk] = field(default_factory=list)
    histories: list[History] = field(default_factory=list)
    indexes: list[BuiltIndex] = field(default_factory=list)
    index_notes: list[str] = field(default_factory=list)
    after: list[Walk] = field(default_factory=list)
    histories_after: list[History] = field(default_factory=list)

    @property
    def problems(self) -> list[str]:
        found = [f"read-back: {p}" for p in self.readback]
        for label, walks in (("", self.before), ("with the extra indexes, ", self.after)):
            found += [f"{label}{w.shape}: {p}" for w in walks for p in w.problems]
        found += history_problems(self.histories)
        found += [f"with the extra indexes, {p}" for p in history_problems(self.histories_after)]
        return found


def _histories(
    library: LibrarySide, baseline: BaselineSide, picks: Picks, repeats: int
) -> list[History]:
    histories = []
    for size, customer in sorted(picks.history.items(), key=lambda item: int(item[0])):
        say(f"  history of a customer with {size} bookings ...")
        histories.append(measure_history(library, baseline, UUID(customer), int(size), repeats))
    return histories


def measure(options: Options, target: Database, measured: Measured) -> None:
    """Walk every shape and read the histories; with ``--extra-indexes``, again after them."""
    shapes = make_shapes(measured.picks)
    library = LibrarySide(target)
    baseline = BaselineSide(target)
    try:
        say("walking the shapes ...")
        measured.before = walk_all(shapes, library, baseline, options.settings)
        measured.histories = _histories(library, baseline, measured.picks, options.history_repeats)
        if not options.extra_indexes:
            return
        say("creating the extra indexes ...")
        built, notes = create_extra_indexes(target)
        measured.indexes, measured.index_notes = built, notes
        if any(index.name.endswith("_trgm") for index in built):
            # Every part of a text search is an index scan now: let the baseline say so.
            baseline.text_form = "array"
            measured.index_notes.append(
                "the baseline's text search is customer_id = ANY(ARRAY(SELECT ...)) from here on"
            )
        try:
            say("walking the shapes again, with the extra indexes ...")
            measured.after = walk_all(shapes, library, baseline, options.settings)
            measured.histories_after = _histories(
                library, baseline, measured.picks, options.history_repeats
            )
        finally:
            drop_extra_indexes(target, built)
    finally:
        library.close()
        baseline.close()


def run(options: Options) -> Measured:
    """Load (or reuse) a schema, check the read-back, and measure."""
    dsn = conninfo(options.url)
    schemas = (
        bench_schema(dsn, SCHEMA_PREFIX, keep=options.keep)
        if options.schema is None
        else _existing_schema(options.schema)
    )
    with schemas as schema:
        target = Database(options.url, schema)
        if options.schema is None:
            say(f"loading {options.rows:,} bookings into {schema} ...")
            dataset = Dataset(options.rows, options.customers, options.slots, options.seed)
            report = load(target, dataset)
            measured = Measured(report, dataset.picks(), loaded_now=True)
            library = LibrarySide(target)
            try:
                with tempfile.TemporaryDirectory(prefix="bench-readback-") as folder:
                    measured.readback = verify_readback(library, dataset, Path(folder))
            finally:
                library.close()
            del dataset
            _remember(target, {"picks": asdict(measured.picks), "load": asdict(report)})
        else:
            recalled = _recall(target)
            measured = Measured(
                LoadReport(**recalled["load"]), Picks(**recalled["picks"]), loaded_now=False
            )
        if not measured.readback:
            measure(options, target, measured)
        if options.keep or options.schema is not None:
            say(f"the schema {schema} is kept; drop it with DROP SCHEMA {schema} CASCADE")
    return measured


def render(options: Options, measured: Measured) -> str:
    load_ = measured.load
    settings = options.settings
    loaded = "loaded" if measured.loaded_now else "loaded earlier"
    steps = ", ".join(f"{name} {seconds:.1f} s" for name, seconds in load_.seconds.items())
    parts = [
        f"data ({loaded} in {load_.total_seconds:.1f} s: {steps}):",
        f"  {load_.rows:,} bookings, {load_.booking_travelers:,} of their travelers,"
        f" {load_.customers:,} customers, {load_.travelers:,} saved travelers,"
        f" {load_.slots} slots, {load_.communications:,} messages",
        "read-back through the library: "
        + ("OK" if not measured.readback else f"{len(measured.readback)} PROBLEMS"),
    ]
    if measured.before:
        parts += [
            "",
            f"pages of {settings.page_size}, newest first, walked by cursor up to"
            f" {settings.pages} pages; ms per page; speed ratio: baseline time / library time"
            " (p50); deep: the last page walked",
            render_walks(measured.before),
            "",
            "shapes:",
            *(f"  {shape.name}: {shape.wanted}" for shape in make_shapes(measured.picks)),
            "",
            "customer history (customer, travelers, newest bookings page, messages):",
            render_history(measured.histories),
        ]
    if measured.indexes or measured.index_notes:
        parts += [
            "",
            "extra indexes (in the bench schema only):",
            render_indexes(measured.indexes),
            *(f"  {note}" for note in measured.index_notes),
        ]
    if measured.after:
        parts += [
            "",
            "with the extra indexes:",
            render_walks(measured.after),
            "",
            render_history(measured.histories_after),
            "",
            "before -> after the extra indexes:",
            render_comparison(measured.before, measured.after),
        ]
    return report_text(parts, measured.problems, most=40)


def figures(measured: Measured) -> dict[str, Any]:
    """Every figure of the run, for the JSON report."""
    return {
        "ok": not measured.problems,
        "load": {**asdict(measured.load), "total_seconds": measured.load.total_seconds},
        "picks": asdict(measured.picks),
        "readback_problems": measured.readback,
        "shapes": [walk.as_json() for walk in measured.before],
        "histories": [h.as_json() for h in measured.histories],
        "indexes": [asdict(index) for index in measured.indexes],
        "index_notes": measured.index_notes,
        "shapes_with_indexes": [walk.as_json() for walk in measured.after],
        "histories_with_indexes": [h.as_json() for h in measured.histories_after],
        "problems": measured.problems,
    }


def main(argv: Sequence[str] | None = None) -> int:
    """Run the bench and print the report; 0 when every check passes (see bench/README.md)."""
    options = parse_options(argv)
    database = options.url.render_as_string(hide_password=True)
    try:
        server = server_description(conninfo(options.url))
    except BenchError as exc:
        print(f"{database}: {exc}", file=sys.stderr)
        return 1

    def measure() -> tuple[str, dict[str, Any]]:
        measured = run(options)
        return render(options, measured), figures(measured)

    settings = options.settings
    return run_bench(
        f"bookingcore booking queries: {options.rows:,} bookings, pages of"
        f" {settings.page_size}, up to {settings.pages} pages per shape\n{database}: {server}",
        measure,
        settings={
            "rows": options.rows,
            "pages": settings.pages,
            "page_size": settings.page_size,
            "repeats": settings.repeats,
            "budget": settings.budget,
            "history_repeats": options.history_repeats,
            "seed": options.seed,
            "extra_indexes": options.extra_indexes,
        },
        json_path=options.json,
    )


if __name__ == "__main__":
    sys.exit(main())
