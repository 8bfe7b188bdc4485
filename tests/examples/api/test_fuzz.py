"""schemathesis against the app's own OpenAPI document, signed in as each kind of caller.

Every operation gets a handful of generated requests (bounded examples, no
deadline) with the token its path takes: a customer's, a staff member's or a
partner's. Every answer must be no server error, declared for the operation,
of the declared media type, and valid against the declared schema.
"""

from __future__ import annotations

import tempfile
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from anyio.from_thread import start_blocking_portal
from fastapi import FastAPI
from hypothesis import HealthCheck, settings
from tests.examples.api._client import ApiClient, last_code
from tests.examples.api.conftest import PEPPER, SECRET, SETUP, STAFF_PASSWORD

from bookingcore import BookingCore, Money, StaffRole
from bookingcore.testing import FakePaymentProvider, FixedClock, RecordingNotifier
from bookingcore_adapters.auth import Argon2PasswordHasher
from bookingcore_adapters.memory import MemoryStore
from bookingcore_adapters.sms import ConsoleSmsSender
from examples.api import build_core, create_app

#: What every answer must pass (schemathesis' built-in checks, by name).
CHECKS = (
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "response_headers_conformance",
    "response_schema_conformance",
)

#: The whole fuzz run stays well under 90 s on a slow 2-core machine.
MAX_EXAMPLES = 10


def _app() -> tuple[BookingCore, FastAPI]:
    core = build_core(
        MemoryStore().unit_of_work,
        token_secret=SECRET,
        otp_pepper=PEPPER,
        sms=SMS,
        password_hasher=Argon2PasswordHasher(time_cost=1, memory_cost=8, parallelism=1),
        clock=FixedClock(),
        payment_providers=[FakePaymentProvider()],
        notifier=RecordingNotifier(),
    )
    return core, create_app(core, upload_dir=Path(tempfile.mkdtemp(prefix="fuzz-uploads-")))


SMS = ConsoleSmsSender()
CORE, APP = _app()
schema = schemathesis.openapi.from_asgi("/openapi.json", APP)


@pytest.fixture(scope="module")
def tokens() -> dict[str, dict[str, str]]:
    """Headers of a customer (with a booking), staff, and a partner; the clock stands still."""
    with start_blocking_portal() as portal:
        client = ApiClient(APP, portal)
        camp = CORE.catalog.add_location("FUZZ-BC", "Fuzz base camp", principal=SETUP)
        slot = CORE.catalog.create_slot(
            location_id=camp.id,
            starts_at=CORE.context.now() + timedelta(days=30),
            price_per_traveler=Money("8500", "INR"),
            capacity=50,
            principal=SETUP,
        )
        client.post("/api/v1/customer/auth/request-otp", json={"phone": "+919876543210"})
        signed = client.post(
            "/api/v1/customer/auth/verify-otp",
            json={"phone": "+919876543210", "otp": last_code(SMS)},
        )
        customer = {"Authorization": f"Bearer {signed.json()['access_token']}"}
        made = client.post(
            "/api/v1/customer/bookings",
            json={"slot_id": str(slot.id), "travelers": [{"name": "Asha", "is_primary": True}]},
            headers=customer,
        )
        assert made.status_code == 201, made.text
        member = CORE.staff.add("desk@example.com", "Desk", principal=SETUP, role=StaffRole.ADMIN)
        CORE.staff.set_password(member.id, STAFF_PASSWORD, principal=SETUP)
        login = client.post(
            "/api/v1/auth/login", json={"email": "desk@example.com", "password": STAFF_PASSWORD}
        )
        staff = {"Authorization": f"Bearer {login.json()['access_token']}"}
        registered = CORE.partners.register(
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


@schema.parametrize()
@settings(
    max_examples=MAX_EXAMPLES,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    derandomize=True,
)
def test_no_server_errors_and_every_answer_as_declared(
    case: Any, tokens: dict[str, dict[str, str]]
) -> None:
    started = time.monotonic()
    headers = dict(tokens[caller_of(case.path)])
    case.call_and_validate(
        headers=headers,
        checks=[getattr(schemathesis.checks, name) for name in CHECKS],
    )
    assert time.monotonic() - started < 5
