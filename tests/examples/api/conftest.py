"""Fixtures of the example API's tests: an app over a wired core, and ways to sign in."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from anyio.from_thread import start_blocking_portal
from fastapi import FastAPI
from tests._sqlite import sqlite_file_store
from tests.examples.api._client import ApiClient, last_code

from bookingcore import BookingCore, Money, Principal, Settings, StaffRole
from bookingcore.domain import Slot
from bookingcore.testing import FakePaymentProvider, FixedClock, RecordingNotifier, SequentialIds
from bookingcore_adapters.auth import Argon2PasswordHasher
from bookingcore_adapters.filestore import FileSystemDocumentStore
from bookingcore_adapters.memory import MemoryStore
from bookingcore_adapters.sms import ConsoleSmsSender
from bookingcore_adapters.sql import SqlStore
from examples.api import build_core, create_app

SECRET = b"api-test-secret-api-test-secret-0123"
PEPPER = b"api-test-pepper-api-test-pepper-0123"
STAFF_PASSWORD = "correct horse battery staple"
SETUP = Principal.system("test-setup")


@pytest.fixture(params=["memory"])
def uow_factory(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Any]:
    """The store under the app: memory by default; a test module may ask for more."""
    if request.param == "memory":
        yield MemoryStore().unit_of_work
    elif request.param == "sqlite":
        store = sqlite_file_store(tmp_path / "api.sqlite3", schema="migrate")
        yield store.unit_of_work
        store.dispose()
    else:
        pg_store: SqlStore = request.getfixturevalue("pg_store")
        yield pg_store.unit_of_work


@pytest.fixture
def sms() -> ConsoleSmsSender:
    """Records the texts sent, so a test reads the sign-in code."""
    return ConsoleSmsSender()


@pytest.fixture
def provider() -> FakePaymentProvider:
    """The payment provider ``fake``, whose webhooks tests sign."""
    return FakePaymentProvider()


@pytest.fixture
def notifier() -> RecordingNotifier:
    """Records the messages the app sends."""
    return RecordingNotifier()


@pytest.fixture
def api_settings() -> Settings | None:
    """The core's settings (``None``: the example host's); a test module may override it."""
    return None


@pytest.fixture
def api_core(
    uow_factory: Any,
    sms: ConsoleSmsSender,
    clock: FixedClock,
    provider: FakePaymentProvider,
    notifier: RecordingNotifier,
    api_settings: Settings | None,
    tmp_path: Path,
) -> BookingCore:
    """A core with every sign-in port, a fixed clock, predictable ids and the fake provider;
    import files are kept where the app streams uploads (``app``)."""
    return build_core(
        uow_factory,
        token_secret=SECRET,
        otp_pepper=PEPPER,
        sms=sms,
        password_hasher=Argon2PasswordHasher(time_cost=1, memory_cost=8, parallelism=1),
        settings=api_settings,
        clock=clock,
        ids=SequentialIds(),
        payment_providers=[provider],
        notifier=notifier,
        import_files=FileSystemDocumentStore(tmp_path / "uploads"),
    )


#: An app an earlier test of this process made, its routes ready, and what it was
#: made with (see ``app``).
_READY: list[tuple[FastAPI, tuple[object, ...]]] = []


def _shape(app: FastAPI) -> tuple[object, ...]:
    """All of an app a test could change but its state: routes, middleware, handlers."""
    return (
        tuple(map(id, app.routes)),
        tuple(map(id, app.user_middleware)),
        tuple(app.exception_handlers.items()),
        tuple(app.dependency_overrides.items()),
        app.openapi_schema is None,  # a schema asked for could have been changed
    )


@pytest.fixture
def app(api_core: BookingCore, tmp_path: Path) -> Iterator[FastAPI]:
    """The example app over ``api_core``, keeping uploads under the test's directory.

    FastAPI readies an app's 170-odd routes on its first request (a pydantic adapter
    per parameter: ~0.4 s of CPU), and ``create_app`` gives every app the same routes;
    only ``app.state`` differs between them. So a test gets the app an earlier test
    made, its routes ready, with the state of an app made for it by ``create_app``.
    A test that changes anything else of the app (adds a route, say) leaves it unused."""
    made = create_app(api_core, upload_dir=tmp_path / "uploads")
    if _READY:
        ready, shape = _READY.pop()
        assert len(ready.routes) == len(made.routes)
        assert len(ready.user_middleware) == len(made.user_middleware)
        assert ready.exception_handlers.keys() == made.exception_handlers.keys()
        ready.state = made.state
    else:
        ready, shape = made, _shape(made)
    yield ready
    if _shape(ready) == shape:  # else the next test makes a new one
        _READY.append((ready, shape))


@pytest.fixture
def client(app: FastAPI) -> Iterator[ApiClient]:
    """An HTTP client of the app over its ASGI interface (no server, no sockets)."""
    with start_blocking_portal() as portal:
        http = ApiClient(app, portal)
        try:
            yield http
        finally:
            http.close()


@pytest.fixture
def slot(api_core: BookingCore, clock: FixedClock) -> Slot:
    """A slot in 30 days at 8,500 INR per traveler with four seats."""
    camp = api_core.catalog.add_location("HAMPTA-BC", "Hampta Pass base camp", principal=SETUP)
    return api_core.catalog.create_slot(
        location_id=camp.id,
        starts_at=clock.now() + timedelta(days=30),
        price_per_traveler=Money("8500", "INR"),
        capacity=4,
        principal=SETUP,
    )


@pytest.fixture
def sign_in(client: ApiClient, sms: ConsoleSmsSender) -> Callable[[str], dict[str, str]]:
    """Sign a customer in by phone code; returns their ``Authorization`` header."""

    def run(phone: str) -> dict[str, str]:
        sent = client.post("/api/v1/customer/auth/request-otp", json={"phone": phone})
        assert sent.status_code == 202, sent.text
        signed = client.post(
            "/api/v1/customer/auth/verify-otp", json={"phone": phone, "otp": last_code(sms)}
        )
        assert signed.status_code == 200, signed.text
        return {"Authorization": f"Bearer {signed.json()['access_token']}"}

    return run


@pytest.fixture
def staff_headers(api_core: BookingCore, client: ApiClient) -> dict[str, str]:
    """An admin signed in through ``/api/v1/auth/login``."""
    member = api_core.staff.add(
        "desk@example.com", "Front Desk", principal=SETUP, role=StaffRole.ADMIN
    )
    api_core.staff.set_password(member.id, STAFF_PASSWORD, principal=SETUP)
    answer = client.post(
        "/api/v1/auth/login", json={"email": "desk@example.com", "password": STAFF_PASSWORD}
    )
    assert answer.status_code == 200, answer.text
    return {"Authorization": f"Bearer {answer.json()['access_token']}"}


@pytest.fixture
def staff_sign_in(api_core: BookingCore, client: ApiClient) -> Callable[..., dict[str, str]]:
    """Add a staff member of ``role`` and sign them in; returns their ``Authorization`` header."""

    def run(email: str, role: StaffRole = StaffRole.ADMIN) -> dict[str, str]:
        name = email.split("@", maxsplit=1)[0]
        member = api_core.staff.add(email, name, principal=SETUP, role=role)
        api_core.staff.set_password(member.id, STAFF_PASSWORD, principal=SETUP)
        answer = client.post(
            "/api/v1/auth/login", json={"email": email, "password": STAFF_PASSWORD}
        )
        assert answer.status_code == 200, answer.text
        return {"Authorization": f"Bearer {answer.json()['access_token']}"}

    return run


@pytest.fixture
def book(client: ApiClient, slot: Slot) -> Callable[..., dict[str, Any]]:
    """Book ``slot`` for one new traveler as the customer of ``headers``; returns the booking."""

    def run(headers: dict[str, str], name: str = "Asha Verma", seats: int = 1) -> dict[str, Any]:
        travelers = [{"name": f"{name} {n}", "is_primary": n == 0} for n in range(seats)]
        made = client.post(
            "/api/v1/customer/bookings",
            json={"slot_id": str(slot.id), "travelers": travelers},
            headers=headers,
        )
        assert made.status_code == 201, made.text
        booking: dict[str, Any] = made.json()
        return booking

    return run
