"""Phone sign-in throughput: request + verify pairs per second, bookingcore against a bare pair.

The baseline is the least a safe pair can do by hand (phonenumbers, a code from
``secrets``, its HMAC-SHA256 kept with an expiry, a constant-time compare that
consumes it); the library cases are ``core.auth.request_otp`` then
``verify_otp`` for new and for returning customers, with the memory or the Redis
OTP store and rate limiter. bench/README.md says what runs, how to read the
output and the exit status. From the repository root::

    .venv/bin/python bench/otp.py                        # memory and Redis; under a minute
    .venv/bin/python bench/otp.py --quick                # a smoke run of a few seconds
    .venv/bin/python bench/otp.py --backends memory --pairs 20000 --json out.json
"""

from __future__ import annotations

import hashlib
import hmac
import itertools
import os
import secrets
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import uuid4

import phonenumbers

from _common import (
    BenchError,
    library_core,
    parser,
    positive,
    redis_url,
    report_text,
    run_bench,
    say,
    some_of,
    table,
)
from bookingcore import AuthSettings, BookingCore, PhoneNumber, Principal, Settings
from bookingcore.ports.messaging import SendReceipt
from bookingcore_adapters.auth import JwtTokenSigner
from bookingcore_adapters.memory import MemoryOtpStore, MemoryRateLimiter, MemoryStore

DEFAULT_PAIRS = 2_000
QUICK_PAIRS = 200
DEFAULT_ROUNDS = 3
DEFAULT_WARMUP = 100
BACKENDS = ("memory", "redis")
#: How many hashes and signatures the tight loops time.
LOOP = 20_000

PEPPER = secrets.token_bytes(32)
SIGNING_KEY = secrets.token_bytes(32)
OTP_TTL = timedelta(minutes=5)


# --------------------------------------------------------------------------- shared pieces


class LastTextSms:
    """An :class:`~bookingcore.ports.SmsSender` that keeps the last text and sends nothing."""

    def __init__(self) -> None:
        self.last = ""
        self._numbers = itertools.count(1)

    def send_sms(self, to: PhoneNumber, body: str, *, reference: str | None = None) -> SendReceipt:
        self.last = body
        return SendReceipt(provider_message_id=f"bench-{next(self._numbers)}")

    def code(self) -> str:
        """The six digits of the last text."""
        return next(word for word in self.last.replace(".", " ").split() if word.isdigit())


def phones(start: int) -> Iterator[str]:
    """Valid Indian mobile numbers, written as people write them, never the same twice."""
    for number in itertools.count(start):
        yield f"98{number:08d}"


def e164(raw: str) -> str:
    """The baseline's phone check: parse, validate, format (what any endpoint must do)."""
    parsed = phonenumbers.parse(raw, "IN")
    if not phonenumbers.is_valid_number(parsed):
        msg = f"{raw!r} is not a valid phone number"
        raise ValueError(msg)
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def code_hash(challenge: str, phone: str, code: str) -> str:
    """An HMAC-SHA256 of the code, bound to its challenge and phone, as the library keys it."""
    message = f"{challenge}|{phone}|{code}".encode()
    return hmac.new(PEPPER, message, hashlib.sha256).hexdigest()


def new_code() -> str:
    return f"{secrets.randbelow(1_000_000):06d}"


# --------------------------------------------------------------------------- the sides


class MemoryBaseline:
    """A hand-written pair over a dict under a lock."""

    def __init__(self, sms: LastTextSms) -> None:
        self._sms = sms
        self._lock = threading.Lock()
        self._codes: dict[str, tuple[str, str, datetime]] = {}

    def request(self, raw: str) -> None:
        phone = e164(raw)
        challenge, code = uuid4().hex, new_code()
        expires = datetime.now(UTC) + OTP_TTL
        with self._lock:
            self._codes[phone] = (challenge, code_hash(challenge, phone, code), expires)
        self._sms.send_sms(PhoneNumber.from_stored(phone), f"{code} is your sign-in code.")

    def verify(self, raw: str, code: str) -> bool:
        phone = e164(raw)
        with self._lock:
            stored = self._codes.pop(phone, None)
        if stored is None:
            return False
        challenge, expected, expires = stored
        given = code_hash(challenge, phone, code)
        return datetime.now(UTC) < expires and hmac.compare_digest(given, expected)


class RedisBaseline:
    """A hand-written pair over redis-py: ``SET ... EX`` then ``GETDEL``."""

    def __init__(self, sms: LastTextSms, client: Any, prefix: str) -> None:
        self._sms = sms
        self._client = client
        self._prefix = f"{prefix}baseline:"

    def request(self, raw: str) -> None:
        phone = e164(raw)
        challenge, code = uuid4().hex, new_code()
        value = f"{challenge}:{code_hash(challenge, phone, code)}"
        self._client.set(self._prefix + phone, value, ex=int(OTP_TTL.total_seconds()))
        self._sms.send_sms(PhoneNumber.from_stored(phone), f"{code} is your sign-in code.")

    def verify(self, raw: str, code: str) -> bool:
        phone = e164(raw)
        stored = self._client.getdel(self._prefix + phone)
        if stored is None:
            return False
        challenge, _, expected = stored.decode().partition(":")
        return hmac.compare_digest(code_hash(challenge, phone, code), expected)


def otp_core(sms: LastTextSms, backend: str, client: Any, prefix: str) -> BookingCore:
    """A core as a host wires it, with the OTP store and limiter of ``backend``."""
    if backend == "redis":
        from bookingcore_adapters.redis import RedisOtpStore, RedisRateLimiter  # noqa: PLC0415

        otp_store: Any = RedisOtpStore(client, prefix=f"{prefix}otp:")
        limiter: Any = RedisRateLimiter(client, prefix=f"{prefix}rate:")
    else:
        otp_store, limiter = MemoryOtpStore(), MemoryRateLimiter()
    return library_core(
        MemoryStore().unit_of_work,
        settings=Settings(default_region="IN"),
        otp_store=otp_store,
        rate_limiter=limiter,
        sms=sms,
        token_signer=JwtTokenSigner({"bench": SIGNING_KEY}),
        auth_settings=AuthSettings(otp_pepper=PEPPER),
    )


# --------------------------------------------------------------------------- measuring


@dataclass
class Case:
    """One side on one backend: its best round and what the checks found."""

    backend: str
    name: str
    pairs: int
    seconds: float = 0.0
    rounds: list[float] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    baseline_pairs_per_second: float | None = None
    #: Seconds spent in the request and in the verify of the best round.
    split: dict[str, float] = field(default_factory=dict)

    @property
    def pairs_per_second(self) -> float:
        return self.pairs / self.seconds if self.seconds else 0.0

    @property
    def micros_per_pair(self) -> float:
        return 1e6 * self.seconds / self.pairs if self.pairs else 0.0

    @property
    def ratio(self) -> float | None:
        if not self.baseline_pairs_per_second:
            return None
        return self.pairs_per_second / self.baseline_pairs_per_second

    def as_json(self, costs: dict[str, float]) -> dict[str, Any]:
        return {
            "backend": self.backend,
            "case": self.name,
            "pairs": self.pairs,
            "seconds": self.seconds,
            "round_seconds": self.rounds,
            "pairs_per_second": self.pairs_per_second,
            "micros_per_pair": self.micros_per_pair,
            "ratio": self.ratio,
            "request_micros": 1e6 * self.split.get("request", 0.0) / self.pairs,
            "verify_micros": 1e6 * self.split.get("verify", 0.0) / self.pairs,
            "hashing_share": _share(costs["hashing_per_pair_us"], self),
            "signing_share": None
            if self.name == "baseline"
            else _share(costs["signing_per_pair_us"], self),
            "check": "OK" if not self.problems else "FAILED",
            "problems": self.problems,
        }


def _share(micros: float, case: Case) -> float | None:
    return micros / case.micros_per_pair if case.micros_per_pair else None


#: One pair: given a phone and where to add the seconds of its two halves, a problem or None.
Pair = Callable[[str, dict[str, float]], "str | None"]


def run_case(case: Case, pair: Pair, numbers: Iterator[str], *, rounds: int, warmup: int) -> Case:
    """Time ``rounds`` rounds of ``case.pairs`` pairs; the best round is kept."""
    for _ in range(warmup):
        problem = pair(next(numbers), {"request": 0.0, "verify": 0.0})
        if problem:
            case.problems.append(f"warm-up: {problem}")
            return case
    for _ in range(rounds):
        batch = [next(numbers) for _ in range(case.pairs)]
        problems: list[str] = []
        split = {"request": 0.0, "verify": 0.0}
        started = time.perf_counter()
        for phone in batch:
            problem = pair(phone, split)
            if problem:
                problems.append(problem)
        elapsed = time.perf_counter() - started
        case.rounds.append(elapsed)
        if elapsed <= min(case.rounds):
            case.split = split
        case.problems += problems[:5]
    case.seconds = min(case.rounds)
    return case


def baseline_pair(side: MemoryBaseline | RedisBaseline, sms: LastTextSms) -> Pair:
    def pair(phone: str, split: dict[str, float]) -> str | None:
        started = time.perf_counter()
        side.request(phone)
        asked = time.perf_counter()
        matched = side.verify(phone, sms.code())
        split["request"] += asked - started
        split["verify"] += time.perf_counter() - asked
        return None if matched else f"{phone}: the right code failed"

    return pair


def library_pair(core: BookingCore, sms: LastTextSms, *, new: bool) -> Pair:
    def pair(phone: str, split: dict[str, float]) -> str | None:
        started = time.perf_counter()
        core.auth.request_otp(phone)
        asked = time.perf_counter()
        signed = core.auth.verify_otp(phone, sms.code())
        split["request"] += asked - started
        split["verify"] += time.perf_counter() - asked
        if signed.created is not new:
            return f"{phone}: created={signed.created}, expected {new}"
        return None

    return pair


def register(core: BookingCore, numbers: Sequence[str]) -> None:
    """Customers for the returning case (not timed)."""
    system = Principal.system("bench")
    for phone in numbers:
        core.customers.register(phone, principal=system)


def measure_costs() -> dict[str, float]:
    """The code hashing and token signing of one pair, each timed alone."""
    challenge, phone = str(uuid4()), "+919876543210"
    started = time.perf_counter()
    for number in range(LOOP):
        code_hash(challenge, phone, f"{number % 1_000_000:06d}")
    hashing = (time.perf_counter() - started) / LOOP
    signer = JwtTokenSigner({"bench": SIGNING_KEY})
    claims = {
        "iss": "bookingcore",
        "aud": "bookingcore",
        "sub": str(uuid4()),
        "sid": str(uuid4()),
        "jti": str(uuid4()),
        "typ": "customer",
        "use": "access",
        "iat": 1_767_258_000,
        "exp": 1_769_850_000,
    }
    started = time.perf_counter()
    for _ in range(LOOP // 4):
        signer.encode(claims)
    signing = (time.perf_counter() - started) / (LOOP // 4)
    return {
        "hash_us": hashing * 1e6,
        "hashing_per_pair_us": 2 * hashing * 1e6,
        "sign_us": signing * 1e6,
        "signing_per_pair_us": 2 * signing * 1e6,
    }


# --------------------------------------------------------------------------- the run


@dataclass
class Options:
    pairs: int
    rounds: int
    warmup: int
    backends: tuple[str, ...]
    redis_url: str
    json: Path | None


def redis_client(url: str) -> Any:
    """A connected client, or :class:`BenchError` saying why not."""
    import redis  # noqa: PLC0415 - only the Redis backend needs it

    client = redis.Redis.from_url(url, socket_timeout=5.0, socket_connect_timeout=5.0)
    try:
        client.ping()
    except redis.exceptions.RedisError as exc:
        msg = f"Redis at {url} cannot be reached: {exc}"
        raise BenchError(msg) from exc
    return client


def run_backend(backend: str, options: Options, client: Any, prefix: str) -> list[Case]:
    """The baseline and the two library cases on one backend."""
    numbers = phones(1_000_000 * (1 + BACKENDS.index(backend)))
    sms = LastTextSms()
    baseline_side = (
        MemoryBaseline(sms) if backend == "memory" else RedisBaseline(sms, client, prefix)
    )
    kwargs = {"rounds": options.rounds, "warmup": options.warmup}
    say(f"{backend}: baseline ...")
    baseline = run_case(
        Case(backend, "baseline", options.pairs),
        baseline_pair(baseline_side, sms),
        numbers,
        **kwargs,
    )
    core = otp_core(sms, backend, client, prefix)
    say(f"{backend}: library, new customers ...")
    new = run_case(
        Case(backend, "library (new)", options.pairs),
        library_pair(core, sms, new=True),
        numbers,
        **kwargs,
    )
    returning_numbers = [
        next(numbers) for _ in range(options.warmup + options.rounds * options.pairs)
    ]
    say(f"{backend}: registering {len(returning_numbers):,} customers (not timed) ...")
    register(core, returning_numbers)
    say(f"{backend}: library, returning customers ...")
    returning = run_case(
        Case(backend, "library (returning)", options.pairs),
        library_pair(core, sms, new=False),
        iter(returning_numbers),
        **kwargs,
    )
    for case in (baseline, new, returning):
        case.baseline_pairs_per_second = baseline.pairs_per_second
    return [baseline, new, returning]


def _percent(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.1f} %"


def render(cases: Sequence[Case], costs: dict[str, float]) -> str:
    rows = []
    for case in cases:
        figures = case.as_json(costs)
        rows.append(
            [
                case.backend,
                case.name,
                f"{case.pairs_per_second:,.0f}",
                f"{case.micros_per_pair:,.0f}",
                "-" if case.ratio is None else f"{case.ratio:.2f}",
                f"{figures['request_micros']:,.0f}",
                f"{figures['verify_micros']:,.0f}",
                _percent(figures["hashing_share"]),
                _percent(figures["signing_share"]),
                figures["check"],
            ]
        )
    parts = [
        "baseline: a bare request + verify pair (phone check, secrets, HMAC-SHA256,"
        " store, send; look up, compare, consume)",
        "library: core.auth.request_otp + core.auth.verify_otp (rate limits, cooldown,"
        " attempts, customer, session, audit, two JWTs)",
        "ratio: case pairs/s / the baseline's on the same backend;"
        " request and verify: µs per pair in each half",
        "",
        table(
            [
                "backend",
                "case",
                "pairs/s",
                "µs/pair",
                "ratio",
                "request µs",
                "verify µs",
                "hashing",
                "signing",
                "check",
            ],
            rows,
            left=2,
        ),
        "",
        "inside one pair, measured alone:",
        f"  code hashing   HMAC-SHA256, 2 per pair: {costs['hash_us']:.2f} µs each,"
        f" {costs['hashing_per_pair_us']:.2f} µs per pair",
        f"  token signing  JWT HS256 (PyJWT), 2 per sign-in: {costs['sign_us']:.1f} µs each,"
        f" {costs['signing_per_pair_us']:.1f} µs per pair",
    ]
    problems = [f"{c.backend} {c.name}: {p}" for c in cases for p in c.problems]
    return report_text(parts, problems)


def parse_options(argv: Sequence[str] | None = None) -> Options:
    """Read the command line (``argv`` without the program name)."""
    options = parser("otp.py", "Phone sign-in: request + verify pairs per second.", url="Redis")
    options.add_argument(
        "--pairs", type=positive, help=f"pairs per round (default {DEFAULT_PAIRS:,})"
    )
    options.add_argument(
        "--rounds", type=positive, help=f"timed rounds; the best counts (default {DEFAULT_ROUNDS})"
    )
    options.add_argument(
        "--warmup", type=int, default=None, help=f"untimed pairs first (default {DEFAULT_WARMUP})"
    )
    options.add_argument(
        "--backends", type=some_of(BACKENDS), default=BACKENDS, help="memory,redis (the default)"
    )
    args = options.parse_args(argv)
    return Options(
        pairs=args.pairs or (QUICK_PAIRS if args.quick else DEFAULT_PAIRS),
        rounds=args.rounds or (1 if args.quick else DEFAULT_ROUNDS),
        warmup=args.warmup if args.warmup is not None else (20 if args.quick else DEFAULT_WARMUP),
        backends=args.backends,
        redis_url=redis_url(args.redis_url),
        json=args.json,
    )


def measure(options: Options) -> tuple[str, dict[str, Any]]:
    """Every case on every backend, then the costs; Redis keys are deleted at the end."""
    client = None
    prefix = f"bookingcore-bench:{uuid4().hex}:"
    cases: list[Case] = []
    try:
        if "redis" in options.backends:
            client = redis_client(options.redis_url)
        for backend in options.backends:
            cases += run_backend(backend, options, client, prefix)
        costs = measure_costs()
    finally:
        if client is not None:
            keys = list(client.scan_iter(match=f"{prefix}*", count=1000))
            if keys:
                client.delete(*keys)
            client.close()
    figures = {
        "ok": not any(case.problems for case in cases),
        "costs": costs,
        "cases": [case.as_json(costs) for case in cases],
    }
    return render(cases, costs), figures


def main(argv: Sequence[str] | None = None) -> int:
    """Run the bench and print the report; 0 when every check passes (see bench/README.md)."""
    options = parse_options(argv)
    return run_bench(
        f"bookingcore OTP bench: {options.pairs:,} pairs x {options.rounds} round(s) per case"
        f" (best round counts), backends {','.join(options.backends)},"
        f" {os.cpu_count()} CPUs, Python {sys.version.split()[0]}",
        lambda: measure(options),
        settings={
            "pairs": options.pairs,
            "rounds": options.rounds,
            "warmup": options.warmup,
            "backends": list(options.backends),
            "cpus": os.cpu_count(),
        },
        json_path=options.json,
    )


if __name__ == "__main__":
    sys.exit(main())
