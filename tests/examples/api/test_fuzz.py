"""schemathesis against the app's own OpenAPI document, signed in as each kind of caller.

Every operation gets a bounded number of generated requests (no deadline) with
the token its path takes: a customer's, a staff member's or a partner's. Every
answer must be no server error, declared for the operation, of the declared
media type, and valid against the declared schema. The app runs over memory
(10 examples per operation, valid and invalid, plus the valid boundary values of
the coverage phase) and,
when ``BOOKINGCORE_TEST_POSTGRES_URL`` is set, over PostgreSQL too (5 per
operation, no coverage phase), where the database has its own opinions of what
text it stores.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any
from uuid import uuid4

import pytest
import schemathesis
from anyio.from_thread import start_blocking_portal
from fastapi import FastAPI
from hypothesis import HealthCheck, settings
from schemathesis.config import GenerationConfig
from schemathesis.generation import GenerationMode
from tests.examples.api._client import ApiClient, last_code
from tests.examples.api.conftest import PEPPER, SECRET, SETUP, STAFF_PASSWORD

from bookingcore import BookingCore, Money, StaffRole
from bookingcore.ports.uow import UnitOfWorkFactory
from bookingcore.testing import FakePaymentProvider, FixedClock, RecordingNotifier
from bookingcore_adapters.auth import Argon2PasswordHasher
from bookingcore_adapters.memory import MemoryStore
from bookingcore_adapters.sms import ConsoleSmsSender
from examples.api import build_core, create_app
from examples.api.openapi import document

#: What every answer must pass (schemathesis' built-in checks, by name).
CHECKS = (
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "response_headers_conformance",
    "response_schema_conformance",
)

#: Examples per operation; the whole fuzz run stays well under 90 s of a slow 2-core machine.
#: At 160 operations the run sends about 4,000 requests (6,600 at 128 operations, when the
#: coverage phase also sent every broken boundary); generating an example costs more than
#: sending it, so bound these before anything else when the route table grows.
MEMORY_EXAMPLES = 10
POSTGRES_EXAMPLES = 5

schema = schemathesis.openapi.from_dict(document())
# The coverage phase sends each operation its boundary values whatever max_examples says
# (about 50 requests an operation, 10 of them valid); its unexpected-method probes only
# test FastAPI's 405.
schema.config.phases.coverage.unexpected_methods = set()
# Its negative half (each constraint broken in turn) grows with every field of every
# operation and tests FastAPI's one 422 handler over and over; the generated examples
# still break constraints at random, so the boundaries are sent in their valid form only.
schema.config.phases.coverage.generation = GenerationConfig(modes=[GenerationMode.POSITIVE])
#: PostgreSQL gets the generated examples only: the boundaries are checked on memory.
pg_schema = schemathesis.openapi.from_dict(document())
pg_schema.config.phases.coverage.enabled = False


class Fuzzed:
    """An app over one store, with a customer (who booked), staff and a partner signed in."""

    def __init__(self, uow_factory: UnitOfWorkFactory, upload_dir: Path) -> None:
        sms = ConsoleSmsSender()
        core = build_core(
            uow_factory,
            token_secret=SECRET,
            otp_pepper=PEPPER,
            sms=sms,
            password_hasher=Argon2PasswordHasher(time_cost=1, memory_cost=8, parallelism=1),
            clock=FixedClock(),
            payment_providers=[FakePaymentProvider()],
            notifier=RecordingNotifier(),
        )
        self.app: FastAPI = create_app(core, upload_dir=upload_dir)
        self.tokens = _sign_in(core, self.app, sms)

    def call_and_validate(self, case: Any) -> None:
        """Send ``case`` with the token of its path and run every check on the answer."""
        started = time.monotonic()
        case.call_and_validate(
            app=self.app,
            headers=dict(self.tokens[caller_of(case.path)]),
            checks=[getattr(schemathesis.checks, name) for name in CHECKS],
        )
        assert time.monotonic() - started < 10


def _sign_in(core: BookingCore, app: FastAPI, sms: ConsoleSmsSender) -> dict[str, dict[str, str]]:
    with start_blocking_portal() as portal:
        client = ApiClient(app, portal)
        camp = core.catalog.add_location("FUZZ-BC", "Fuzz base camp", principal=SETUP)
        slot = core.catalog.create_slot(
            location_id=camp.id,
            starts_at=core.context.now() + timedelta(days=30),
            price_per_traveler=Money("8500", "INR"),
            capacity=50,
            principal=SETUP,
        )
        client.post("/api/v1/customer/auth/request-otp", json={"phone": "+919876543210"})
        signed = client.post(
            "/api/v1/customer/auth/verify-otp",
            json={"phone": "+919876543210", "otp": last_code(sms)},
        )
        customer = {"Authorization": f"Bearer {signed.json()['access_token']}"}
        made = client.post(
            "/api/v1/customer/bookings",
            json={"slot_id": str(slot.id), "travelers": [{"name": "Asha", "is_primary": True}]},
            headers=customer,
        )
        assert made.status_code == 201, made.text
        member = core.staff.add("desk@example.com", "Desk", principal=SETUP, role=StaffRole.ADMIN)
        core.staff.set_password(member.id, STAFF_PASSWORD, principal=SETUP)
        login = client.post(
            "/api/v1/auth/login", json={"email": "desk@example.com", "password": STAFF_PASSWORD}
        )
        staff = {"Authorization": f"Bearer {login.json()['access_token']}"}
        registered = core.partners.register(
            name="Fuzz Travel",
            company_name="Fuzz Travel",
            contact_email="ops@fuzz.example",
            principal=SETUP,
            allowed_location_ids=[slot.location_id],
        )
        answer = client.post(
            "/api/partner/auth/token",
            json={"api_key": registered.api_key, "api_secret": registered.api_secret},
        )
        partner = {"Authorization": f"Bearer {answer.json()['access_token']}"}
        client.close()
    return {"customer": customer, "staff": staff, "partner": partner}


def caller_of(path: str) -> str:
    """Which token a path takes."""
    if path.startswith("/api/partner"):
        return "partner"
    if path.startswith(("/api/v1/customer", "/api/customer")):
        return "customer"
    return "staff"


@pytest.fixture(scope="module")
def on_memory(tmp_path_factory: pytest.TempPathFactory) -> Fuzzed:
    """The app over a memory store, shared by every operation's examples."""
    return Fuzzed(MemoryStore().unit_of_work, tmp_path_factory.mktemp("fuzz-uploads"))


@pytest.fixture(scope="module")
def on_postgres(
    postgres_url: str, postgres_admin: Any, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Fuzzed]:
    """The app over PostgreSQL, in a schema of its own for the module."""
    from sqlalchemy import create_engine  # noqa: PLC0415 - memory-only runs need no sql extra

    from bookingcore_adapters.sql import SqlStore  # noqa: PLC0415

    name = f"bookingcore_fuzz_{uuid4().hex[:12]}"
    with postgres_admin.begin() as connection:
        connection.exec_driver_sql(f'CREATE SCHEMA "{name}"')
    engine = create_engine(postgres_url, connect_args={"options": f"-csearch_path={name}"})
    store = SqlStore(engine)
    store.create_schema()
    try:
        yield Fuzzed(store.unit_of_work, tmp_path_factory.mktemp("fuzz-pg-uploads"))
    finally:
        store.dispose()
        with postgres_admin.begin() as connection:
            connection.exec_driver_sql(f'DROP SCHEMA "{name}" CASCADE')


_BOUNDED = {"deadline": None, "suppress_health_check": list(HealthCheck), "derandomize": True}


@schema.parametrize()
@settings(max_examples=MEMORY_EXAMPLES, **_BOUNDED)
def test_every_answer_is_as_declared_on_memory(case: Any, on_memory: Fuzzed) -> None:
    on_memory.call_and_validate(case)


@pytest.mark.postgres
@pg_schema.parametrize()
@settings(max_examples=POSTGRES_EXAMPLES, **_BOUNDED)
def test_every_answer_is_as_declared_on_postgres(case: Any, on_postgres: Fuzzed) -> None:
    on_postgres.call_and_validate(case)
