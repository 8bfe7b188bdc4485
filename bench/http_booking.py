"""Bookings of hot slots over HTTP (2 uvicorn workers) next to the same bookings by library calls.

One PostgreSQL schema made for the run holds a partner allowed at one location
with a few hot slots of about 10 % fewer seats than the attempts ask for. Two
sides then book the same shape of attempts with the same number of concurrent
clients (one process each), one traveler per attempt, for a customer given by
phone:

* *http*: ``POST /api/partner/bookings`` on the example app
  (``examples.api.create_app``) served by ``uvicorn --workers 2`` over the
  schema, with the partner's bearer token, one keep-alive ``httpx`` client per
  process;
* *library*: ``core.bookings.book(...)`` with the partner's principal, over an
  ``SqlStore`` per process: the same use case without HTTP, JSON, pydantic or
  token checks.

Reported: bookings per second of each side, the ratio http / library, latency
percentiles (p50, p95, p99) of each, and the check of every slot afterwards:
seats held equal the travelers on active bookings and never exceed the
capacity (zero overbooking), and every attempt was booked (201) or refused for
capacity (409). From the repository root, as a script::

    .venv/bin/python bench/http_booking.py
    .venv/bin/python bench/http_booking.py --clients 8 --attempts 300 --json out.json
    .venv/bin/python bench/http_booking.py --quick   # a few seconds, for smoke tests
"""

from __future__ import annotations

import importlib
import math
import os
import secrets
import socket
import subprocess
import sys
import time
import traceback
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal
from uuid import UUID

import httpx
from sqlalchemy import create_engine

from _common import (
    STOPPED,
    BenchError,
    Database,
    bench_schema,
    conninfo,
    fresh_store,
    parser,
    percentile,
    positive,
    postgres_url,
    ratio,
    report_text,
    run_bench,
    run_processes,
    say,
    server_description,
    table,
)
from bookingcore import (
    BookingCore,
    BookingFilter,
    BookingRequest,
    CapacityError,
    CustomerDetails,
    Money,
    NewTraveler,
    PageRequest,
    PartnerId,
    Principal,
    Settings,
    SlotId,
    StaffId,
    StaffRole,
    TravelerDetails,
)
from bookingcore_adapters.sms import ConsoleSmsSender
from bookingcore_adapters.sql import SqlStore

if TYPE_CHECKING:
    from multiprocessing.queues import Queue
    from multiprocessing.synchronize import Barrier

    from fastapi import FastAPI

Side = Literal["http", "library"]

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_CLIENTS = 4
DEFAULT_ATTEMPTS = 150
QUICK_CLIENTS = 2
QUICK_ATTEMPTS = 12
DEFAULT_HOT_SLOTS = 4
DEFAULT_WARMUP = 5
QUICK_WARMUP = 2
#: uvicorn worker processes serving the app.
SERVER_WORKERS = 2
#: Attempts per seat: the hot slots hold about 1/1.1 of the seats the attempts ask for.
OVERSUBSCRIPTION = 1.1
RUN_TIMEOUT = 600.0
SERVER_START_TIMEOUT = 60.0
#: The ratio http / library the host should reach (HTTP, JSON and auth cost something).
TARGET_RATIO = 0.3
MAX_ERROR_SAMPLES = 5
#: Environment variables the server's factory reads (set by this script only).
ENV_URL, ENV_SCHEMA, ENV_SECRET = "BENCH_HTTP_URL", "BENCH_HTTP_SCHEMA", "BENCH_HTTP_SECRET"


# --------------------------------------------------------------------------- the server


def app_factory() -> FastAPI:
    """The app each uvicorn worker serves: the example host over the run's schema.

    Read by ``uvicorn --factory http_booking:app_factory``; the environment is
    read here, when the worker starts, and only by this bench. The example host
    is found through the ``PYTHONPATH`` :func:`start_server` gives the server.
    """
    api = importlib.import_module("examples.api")
    engine = create_engine(
        os.environ[ENV_URL],
        connect_args={"options": f"-csearch_path={os.environ[ENV_SCHEMA]}"},
        pool_size=8,
    )
    secret = os.environ[ENV_SECRET].encode()
    core = api.build_core(
        SqlStore(engine).unit_of_work,
        token_secret=secret,
        otp_pepper=secret,
        sms=ConsoleSmsSender(),
        settings=Settings(default_region="IN"),
    )
    app: FastAPI = api.create_app(core, docs_url=None)
    return app


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def start_server(database: Database, secret: str) -> tuple[subprocess.Popen[bytes], str]:
    """``uvicorn --workers 2`` serving :func:`app_factory`; waits until it answers."""
    port = _free_port()
    env = {
        **os.environ,
        ENV_URL: database.url.render_as_string(hide_password=False),
        ENV_SCHEMA: database.schema,
        ENV_SECRET: secret,
        "PYTHONPATH": os.pathsep.join(
            [str(REPO_ROOT / "src"), str(REPO_ROOT), os.environ.get("PYTHONPATH", "")]
        ),
    }
    command = [
        sys.executable, "-m", "uvicorn", "--factory", "http_booking:app_factory",
        "--app-dir", str(Path(__file__).parent), "--workers", str(SERVER_WORKERS),
        "--port", str(port), "--log-level", "warning", "--no-access-log",
    ]  # fmt: skip
    server = subprocess.Popen(command, env=env, cwd=REPO_ROOT)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + SERVER_START_TIMEOUT
    while time.monotonic() < deadline:
        if server.poll() is not None:
            msg = f"uvicorn exited with {server.returncode} before answering"
            raise BenchError(msg)
        try:
            if httpx.get(f"{base}/openapi.json", timeout=2).status_code == 200:
                return server, base
        except httpx.HTTPError:
            time.sleep(0.3)
    stop_server(server)
    msg = f"uvicorn did not answer within {SERVER_START_TIMEOUT:.0f} s"
    raise BenchError(msg)


def stop_server(server: subprocess.Popen[bytes]) -> None:
    """Stop the server (SIGTERM, then SIGKILL after 10 s)."""
    server.terminate()
    try:
        server.wait(timeout=10)
    except subprocess.TimeoutExpired:
        server.kill()
        server.wait()


# --------------------------------------------------------------------------- the plan


@dataclass(frozen=True)
class Task:
    """One client process of one side."""

    side: Side
    worker: int
    attempts: int
    slots: tuple[str, ...]
    database: Database
    partner_id: str
    base_url: str
    token: str
    first_phone: int
    warmup_slot: str
    warmup: int


@dataclass
class Outcome:
    """What one client process did."""

    worker: int
    booked: int = 0
    refused: int = 0
    failed: int = 0
    seconds: float = 0.0
    latencies_ms: list[float] | None = None
    errors: list[str] | None = None
    crash: str | None = None


def _body(slot: str, phone: str) -> dict[str, Any]:
    return {
        "slot_id": slot,
        "customer": {"phone": phone, "name": "Bench Customer"},
        "travelers": [{"name": "Bench Customer", "is_primary": True}],
    }


def work(task: Task, barrier: Barrier, results: Queue[Outcome]) -> None:
    """One client: book ``task.attempts`` times over HTTP or by library calls, timing each."""
    outcome = Outcome(task.worker, latencies_ms=[], errors=[])
    try:
        book = _http_booker(task) if task.side == "http" else _library_booker(task)
    except Exception:
        outcome.crash = traceback.format_exc()
        barrier.abort()
        results.put(outcome)
        return
    try:
        for n in range(task.warmup):  # connections, caches and code paths, before the clock
            book(task.warmup_slot, f"+9196{task.first_phone + n:08d}")
        barrier.wait()
    except Exception:
        outcome.crash = STOPPED
        results.put(outcome)
        return
    assert outcome.latencies_ms is not None
    assert outcome.errors is not None
    started = time.perf_counter()
    for n in range(task.attempts):
        slot = task.slots[(task.worker + n) % len(task.slots)]
        phone = f"+9197{task.first_phone + n:08d}"
        began = time.perf_counter()
        verdict, detail = book(slot, phone)
        outcome.latencies_ms.append((time.perf_counter() - began) * 1000)
        if verdict == "booked":
            outcome.booked += 1
        elif verdict == "refused":
            outcome.refused += 1
        else:
            outcome.failed += 1
            if len(outcome.errors) < MAX_ERROR_SAMPLES:
                outcome.errors.append(detail)
    outcome.seconds = time.perf_counter() - started
    results.put(outcome)


def _http_booker(task: Task) -> Any:
    client = httpx.Client(
        base_url=task.base_url,
        headers={"Authorization": f"Bearer {task.token}"},
        timeout=60,
    )

    def book(slot: str, phone: str) -> tuple[str, str]:
        answer = client.post("/api/partner/bookings", json=_body(slot, phone))
        if answer.status_code == 201:
            return "booked", ""
        if answer.status_code == 409 and answer.json().get("code") == "capacity_exceeded":
            return "refused", ""
        return "failed", f"{answer.status_code} {answer.text[:300]}"

    return book


def _library_booker(task: Task) -> Any:
    core = BookingCore(
        uow_factory=SqlStore(task.database.engine()).unit_of_work,
        settings=Settings(default_region="IN"),
    )
    partner = Principal.partner(PartnerId(UUID(task.partner_id)))

    def book(slot: str, phone: str) -> tuple[str, str]:
        request = BookingRequest(
            SlotId(UUID(slot)),
            [NewTraveler(TravelerDetails("Bench Customer"), is_primary=True)],
            customer=CustomerDetails(phone, name="Bench Customer"),
        )
        try:
            core.bookings.book(request, principal=partner)
        except CapacityError:
            return "refused", ""
        except Exception as exc:
            return "failed", f"{type(exc).__name__}: {exc}"
        return "booked", ""

    return book


# --------------------------------------------------------------------------- a side


@dataclass(frozen=True)
class SideFigures:
    """One side's figures and its check."""

    side: Side
    attempts: int
    booked: int
    refused: int
    failed: int
    seats: int
    bookings_per_second: float
    p50_ms: float
    p95_ms: float
    p99_ms: float
    overbooked: bool
    problems: tuple[str, ...]
    errors: tuple[str, ...]

    @property
    def check(self) -> str:
        """``OK`` or what went wrong."""
        if self.overbooked:
            return "OVERBOOKED"
        return "OK" if not self.problems else "FAILED"


def _setup(core: Any, capacity: int, slots: int) -> tuple[str, list[str], str, Any]:
    setup = Principal.system("bench-setup")
    camp = core.catalog.add_location("HOT-BC", "Hot base camp", principal=setup)
    start = datetime.now(UTC).replace(microsecond=0) + timedelta(days=30)
    hot = [
        str(
            core.catalog.create_slot(
                location_id=camp.id,
                starts_at=start + timedelta(days=n),
                price_per_traveler=Money("100", "INR"),
                capacity=capacity,
                principal=setup,
            ).id
        )
        for n in range(slots)
    ]
    warmup = core.catalog.create_slot(
        location_id=camp.id,
        starts_at=start - timedelta(days=1),
        price_per_traveler=Money("100", "INR"),
        capacity=None,
        principal=setup,
    )
    partner = core.partners.register(
        name="Bench Partner",
        company_name="Bench Travel",
        contact_email="ops@bench.example",
        principal=setup,
        allowed_location_ids=[camp.id],
        settings={"rate_limit": "1000000/60"},
    )
    return str(partner.partner.id), hot, str(warmup.id), partner


def _check(core: Any, hot: Sequence[str], capacity: int) -> tuple[bool, list[str], int]:
    """Every hot slot: seats held == travelers on active bookings <= capacity."""
    admin = Principal.staff(StaffId(UUID(int=1)), StaffRole.ADMIN)
    overbooked, problems, sold = False, [], 0
    for slot_id in hot:
        slot = core.catalog.get_slot(SlotId(UUID(slot_id)), principal=admin)
        travelers, cursor = 0, None
        while True:
            page = core.bookings.list(
                BookingFilter(slot_id=slot.id, statuses=frozenset({"pending", "confirmed"})),
                PageRequest(limit=200, cursor=cursor),
                principal=admin,
            )
            travelers += sum(len(b.travelers) for b in page.items)
            cursor = page.next_cursor
            if cursor is None:
                break
        held = slot.capacity - slot.seats_left
        sold += travelers
        if max(held, travelers) > capacity:
            overbooked = True
            problems.append(f"slot {slot_id} holds {held} seats for {travelers} of {capacity}")
        elif held != travelers:
            problems.append(f"slot {slot_id} counts {held} seats held for {travelers} travelers")
        elif held != capacity:
            problems.append(f"slot {slot_id} sold {held} of {capacity} seats")
    return overbooked, problems, sold


def run_side(
    side: Side, url: Any, clients: int, attempts: int, slots: int, first_phone: int, warmup: int
) -> SideFigures:
    """Book on a fresh schema with ``clients`` processes of ``attempts`` each; check the slots."""
    total = clients * attempts
    capacity = max(1, math.floor(total / (slots * OVERSUBSCRIPTION)))
    with bench_schema(conninfo(url), "bench_http_") as schema:
        database = Database(url, schema)
        store = fresh_store(database.engine())
        core = BookingCore(uow_factory=store.unit_of_work, settings=Settings(default_region="IN"))
        partner_id, hot, warmup_slot, registered = _setup(core, capacity, slots)
        server, base, token = None, "", ""
        secret = secrets.token_hex(32)
        try:
            if side == "http":
                server, base = start_server(database, secret)
                answer = httpx.post(
                    f"{base}/api/partner/auth/token",
                    json={"api_key": registered.api_key, "api_secret": registered.api_secret},
                    timeout=30,
                )
                if answer.status_code != 200:
                    msg = f"the partner could not sign in: {answer.status_code} {answer.text}"
                    raise BenchError(msg)
                token = answer.json()["access_token"]
            say(f"{side}: {clients} clients x {attempts} attempts on {slots} slots of {capacity}")
            tasks = [
                Task(side, n, attempts, tuple(hot), database, partner_id, base, token,
                     first_phone + n * attempts, warmup_slot, warmup)
                for n in range(clients)
            ]  # fmt: skip
            outcomes = run_processes(work, tasks, label=side, timeout=RUN_TIMEOUT)
        finally:
            if server is not None:
                stop_server(server)
        overbooked, problems, sold = _check(core, hot, capacity)
        store.dispose()
    latencies = sorted(x for o in outcomes for x in (o.latencies_ms or []))
    booked = sum(o.booked for o in outcomes)
    failed = sum(o.failed for o in outcomes)
    if failed:
        problems.append(f"{failed} attempts failed (neither booked nor refused for capacity)")
    if booked != sold:
        problems.append(f"{booked} bookings answered, {sold} travelers stored")
    seconds = max(o.seconds for o in outcomes)
    return SideFigures(
        side=side,
        attempts=total,
        booked=booked,
        refused=sum(o.refused for o in outcomes),
        failed=failed,
        seats=capacity * slots,
        bookings_per_second=total / seconds if seconds > 0 else math.nan,
        p50_ms=percentile(latencies, 50),
        p95_ms=percentile(latencies, 95),
        p99_ms=percentile(latencies, 99),
        overbooked=overbooked,
        problems=tuple(problems),
        errors=tuple(e for o in outcomes for e in (o.errors or [])),
    )


def measure(
    url: Any, clients: int, attempts: int, slots: int, warmup: int
) -> tuple[str, dict[str, Any]]:
    """Both sides, then the report."""
    library = run_side("library", url, clients, attempts, slots, 0, warmup)
    http = run_side("http", url, clients, attempts, slots, clients * attempts, warmup)
    speed = ratio(http.bookings_per_second, library.bookings_per_second)
    rows = [
        [
            f.side,
            f"{f.bookings_per_second:.0f}",
            f"{f.p50_ms:.1f}",
            f"{f.p95_ms:.1f}",
            f"{f.p99_ms:.1f}",
            f"{f.booked}/{f.seats}",
            str(f.refused),
            str(f.failed),
            f.check,
        ]
        for f in (library, http)
    ]
    headers = ["side", "attempts/s", "p50 ms", "p95 ms", "p99 ms", "sold", "refused", "failed"]
    problems = [f"{f.side}: {p}" for f in (library, http) for p in (*f.problems, *f.errors)]
    text = report_text(
        [
            table([*headers, "check"], rows, left=1),
            "",
            f"http / library: {speed:.2f} (target {TARGET_RATIO:.2f})",
        ],
        problems,
    )
    ok = library.check == "OK" and http.check == "OK"
    figures: dict[str, Any] = {
        "ok": ok,
        "clients": clients,
        "server_workers": SERVER_WORKERS,
        "ratio": speed,
        "target_ratio": TARGET_RATIO,
    }
    for f in (library, http):
        figures[f.side] = {**asdict(f), "check": f.check}
    return text, figures


def main(argv: Sequence[str] | None = None) -> int:
    """Parse the options, run both sides, print the report; the exit status."""
    options = parser("bench/http_booking.py", __doc__ or "", url="PostgreSQL")
    options.add_argument("--clients", type=positive, help="concurrent clients per side")
    options.add_argument("--attempts", type=positive, help="booking attempts per client")
    options.add_argument("--slots", type=positive, default=DEFAULT_HOT_SLOTS)
    options.add_argument("--warmup", type=positive, help="untimed bookings per client first")
    args = options.parse_args(argv)
    clients = args.clients or (QUICK_CLIENTS if args.quick else DEFAULT_CLIENTS)
    attempts = args.attempts or (QUICK_ATTEMPTS if args.quick else DEFAULT_ATTEMPTS)
    warmup = args.warmup or (QUICK_WARMUP if args.quick else DEFAULT_WARMUP)
    url = postgres_url(args.url)
    try:
        server = server_description(conninfo(url))
    except BenchError as exc:
        print(f"bench failed: {exc}", file=sys.stderr)
        return 1
    headline = (
        f"Hot-slot bookings over HTTP ({SERVER_WORKERS} uvicorn workers) and by library calls, "
        f"{clients} clients each, on {server}"
    )
    settings = {"clients": clients, "attempts": attempts, "slots": args.slots, "warmup": warmup}
    return run_bench(
        headline,
        lambda: measure(url, clients, attempts, args.slots, warmup),
        settings=settings,
        json_path=args.json,
    )


if __name__ == "__main__":
    sys.exit(main())
