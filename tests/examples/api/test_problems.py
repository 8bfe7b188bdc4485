"""Every error answers one status and an RFC 9457 problem+json body naming what went wrong."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import redis
from anyio.from_thread import start_blocking_portal
from fastapi import FastAPI
from redis.backoff import NoBackoff
from redis.retry import Retry
from tests.examples.api._client import ApiClient
from tests.examples.api.conftest import PEPPER, SECRET

from bookingcore import (
    AuthenticationError,
    AuthNotConfiguredError,
    AuthSettings,
    BookingCore,
    BookingError,
    CapacityError,
    ConcurrentUpdateError,
    ConflictError,
    DeliveryError,
    DuplicateError,
    FieldError,
    IdempotencyConflictError,
    InvalidTransitionError,
    NotFoundError,
    PaymentProviderError,
    PermissionDeniedError,
    RateLimitedError,
    ReadOnlyError,
    Settings,
    StaleVersionError,
    ValidationError,
)
from bookingcore.domain import Slot
from bookingcore.services import JobsNotConfiguredError
from bookingcore.testing import FixedClock
from bookingcore_adapters.auth import JwtTokenSigner
from bookingcore_adapters.memory import MemoryStore
from bookingcore_adapters.redis import RedisOtpStore, RedisRateLimiter, RedisUnavailableError
from bookingcore_adapters.sms import ConsoleSmsSender
from examples.api import create_app
from examples.api.errors import STATUS, status_of

PHONE = "+919876543210"
SignIn = Callable[[str], dict[str, str]]

#: One instance of every error class, with the status and headers it must answer.
CASES: list[tuple[BookingError, int, dict[str, str]]] = [
    (ValidationError([FieldError("travelers[1].age", "too old", "out_of_range")]), 422, {}),
    (NotFoundError("booking", "b-1"), 404, {}),
    (PermissionDeniedError("not yours"), 403, {}),
    (ConflictError("clash"), 409, {}),
    (CapacityError("s-1", requested=3, seats_left=1), 409, {}),
    (DuplicateError("booked already", entity="booking"), 409, {}),
    (StaleVersionError("booking", "b-1", 1, 2), 409, {}),
    (ConcurrentUpdateError("deadlocked", attempts=3), 409, {}),
    (IdempotencyConflictError("k-1"), 422, {}),
    (InvalidTransitionError("reservation", "cancelled", "confirmed"), 409, {}),
    (RateLimitedError("slow down", retry_after=1.2), 429, {"retry-after": "2"}),
    (AuthenticationError("who are you"), 401, {"www-authenticate": "Bearer"}),
    (DeliveryError("gateway down", channel="sms", retryable=True), 502, {}),
    (PaymentProviderError("declined", provider="stripe", reason="card_declined"), 502, {}),
    (PaymentProviderError("timed out", provider="stripe", retryable=True), 503, {}),
    (BookingError("something else"), 400, {}),
]


@pytest.fixture
def raising(app: FastAPI) -> Callable[[Exception], None]:
    """Make ``GET /boom`` raise the given exception."""
    box: list[Exception] = []

    def boom() -> None:
        raise box[0]

    app.add_api_route("/boom", boom)
    return box.append


@pytest.mark.parametrize(("error", "status", "headers"), CASES, ids=lambda c: str(c)[:30])
def test_each_error_class_answers_its_status_as_problem_json(
    client: ApiClient,
    raising: Callable[[Exception], None],
    error: BookingError,
    status: int,
    headers: dict[str, str],
) -> None:
    raising(error)
    answer = client.get("/boom")
    assert answer.status_code == status
    assert answer.headers["content-type"] == "application/problem+json"
    for name, value in headers.items():
        assert answer.headers[name] == value
    body = answer.json()
    assert body["status"] == status
    assert body["code"] == error.code
    assert body["detail"] == error.message
    assert body["instance"] == "/boom"
    assert body["type"] == f"/problems/{error.code.replace('_', '-')}"
    assert body["title"]
    for key, value in error.to_dict().items():
        if key != "message":
            assert body[key] == value


def test_every_error_class_has_a_status() -> None:
    """A class the table forgot would answer its parent's status silently: name each."""
    classes = {type(error) for error, _, _ in CASES} | {AuthNotConfiguredError, ReadOnlyError}
    assert classes <= set(STATUS)
    assert status_of(PaymentProviderError("x", provider="p", retryable=True)).status == 503


def test_an_unexpected_exception_is_a_500_with_a_correlation_id_and_no_trace(
    client: ApiClient, raising: Callable[[Exception], None], caplog: pytest.LogCaptureFixture
) -> None:
    raising(RuntimeError("password=hunter2 in SELECT * FROM secrets"))
    answer = client.get("/boom")
    assert answer.status_code == 500
    assert answer.headers["content-type"] == "application/problem+json"
    body = answer.json()
    assert body["code"] == "internal_error"
    assert "hunter2" not in answer.text
    assert "Traceback" not in answer.text
    assert body["correlation_id"] in caplog.text
    assert "hunter2" in caplog.text  # the log has what the client does not


def test_a_wiring_mistake_is_a_500_that_names_nothing(
    client: ApiClient, raising: Callable[[Exception], None]
) -> None:
    raising(AuthNotConfiguredError("sms", "phone sign-in"))
    answer = client.get("/boom")
    assert answer.status_code == 500
    assert "sms" not in answer.json()["detail"]


def test_a_core_without_a_job_queue_is_a_500_not_a_422_on_the_request(
    client: ApiClient, raising: Callable[[Exception], None], caplog: pytest.LogCaptureFixture
) -> None:
    """``JobsNotConfiguredError`` (a route deferring a job on a core wired without a
    queue) is a ``ValidationError`` to the library, but the wiring's mistake: a 500
    logged with its correlation id, not a 422 naming a ``jobs`` field the client never
    sent."""
    raising(JobsNotConfiguredError())
    answer = client.get("/boom")
    assert answer.status_code == 500, answer.text
    body = answer.json()
    assert body["code"] == "internal_error"
    assert "errors" not in body
    assert "job" not in body["detail"]
    assert body["correlation_id"] in caplog.text


def test_a_write_in_a_read_only_unit_of_work_is_a_500_that_names_nothing(
    client: ApiClient, raising: Callable[[Exception], None], caplog: pytest.LogCaptureFixture
) -> None:
    """``ReadOnlyError`` is a bug of the code that wrote: logged, not described."""
    raising(ReadOnlyError("add", "booking"))
    answer = client.get("/boom")
    assert answer.status_code == 500
    body = answer.json()
    assert (body["code"], body["title"]) == ("internal_error", "Internal server error")
    assert "booking" not in answer.text
    assert body["correlation_id"] in caplog.text


def test_unknown_paths_and_methods_answer_problems_too(client: ApiClient) -> None:
    missing = client.get("/api/v1/nowhere")
    assert missing.status_code == 404
    assert missing.headers["content-type"] == "application/problem+json"
    wrong = client.delete("/api/v1/customer/auth/request-otp")
    assert wrong.status_code == 405
    assert wrong.json()["code"] == "method_not_allowed"
    assert "allow" in wrong.headers


# ---------------------------------------------------------------------- through real routes


def test_bad_traveler_fields_are_named_by_the_library(
    client: ApiClient, sign_in: SignIn, slot: Slot
) -> None:
    me = sign_in(PHONE)
    answer = client.post(
        "/api/v1/customer/bookings",
        json={
            "slot_id": str(slot.id),
            "travelers": [
                {"name": "Asha", "is_primary": True},
                {"name": "R", "phone": "12"},
            ],
        },
        headers=me,
    )
    assert answer.status_code == 422
    assert answer.headers["content-type"] == "application/problem+json"
    fields = {e["field"] for e in answer.json()["errors"]}
    # as the body has them, where pydantic names its own refusals of the same fields
    assert fields == {"travelers[1].name", "travelers[1].phone"}
    assert "details" not in answer.json()["detail"]
    too_long = client.post(
        "/api/v1/customer/bookings",
        json={"slot_id": str(slot.id), "travelers": [{"name": "A" * 201, "is_primary": True}]},
        headers=me,
    )
    assert [e["field"] for e in too_long.json()["errors"]] == ["travelers[0].name"]


def test_traveler_fields_are_named_as_each_body_has_them(
    client: ApiClient, sign_in: SignIn, slot: Slot, book: Callable[..., dict[str, Any]]
) -> None:
    """A saved traveler is ``id`` in the body (the library's ``traveler_id``), and the
    travelers a booking change adds are ``add[i]`` (the library's ``travelers[i]``)."""
    me = sign_in(PHONE)
    unknown = "00000000-0000-0000-0000-0000000000ff"
    saved = client.post(
        "/api/v1/customer/bookings",
        json={"slot_id": str(slot.id), "travelers": [{"id": unknown, "is_primary": True}]},
        headers=me,
    )
    assert saved.status_code == 422, saved.text
    assert [e["field"] for e in saved.json()["errors"]] == ["travelers[0].id"]
    booking = book(me)
    added = client.request(
        "PATCH",
        f"/api/bookings/{booking['id']}/travelers",
        json={"add": [{"name": "Ravi Kumar"}, {"name": "R", "phone": "12"}]},
        headers=me,
    )
    assert added.status_code == 422, added.text
    assert {e["field"] for e in added.json()["errors"]} == {"add[1].name", "add[1].phone"}


def test_malformed_bodies_answer_the_same_422_shape(client: ApiClient, sign_in: SignIn) -> None:
    me = sign_in(PHONE)
    answer = client.post(
        "/api/v1/customer/bookings",
        json={"slot_id": "not-a-uuid", "travelers": [{"age": "old"}], "extra": 1},
        headers=me,
    )
    assert answer.status_code == 422
    body = answer.json()
    assert body["code"] == "validation_error"
    fields = {e["field"] for e in body["errors"]}
    assert fields == {"slot_id", "travelers[0].age", "extra"}


def test_capacity_is_a_409_with_the_seats_left(
    client: ApiClient, sign_in: SignIn, slot: Slot
) -> None:
    me = sign_in(PHONE)
    travelers: list[dict[str, Any]] = [
        {"name": f"Guest {i}", "is_primary": i == 0} for i in range(5)
    ]
    answer = client.post(
        "/api/v1/customer/bookings",
        json={"slot_id": str(slot.id), "travelers": travelers},
        headers=me,
    )
    assert answer.status_code == 409
    assert answer.json()["code"] == "capacity_exceeded"
    assert answer.json()["seats_left"] == 4


def test_a_duplicate_booking_is_a_409(client: ApiClient, sign_in: SignIn, slot: Slot) -> None:
    me = sign_in(PHONE)
    asha = client.post("/api/v1/customer/travelers", json={"name": "Asha"}, headers=me).json()
    request = {"slot_id": str(slot.id), "travelers": [{"id": asha["id"], "is_primary": True}]}
    assert client.post("/api/v1/customer/bookings", json=request, headers=me).status_code == 201
    again = client.post("/api/v1/customer/bookings", json=request, headers=me)
    assert again.status_code == 409
    assert again.json()["code"] == "duplicate"


def test_cancelling_after_the_start_is_a_403_and_twice_a_409(
    client: ApiClient, sign_in: SignIn, slot: Slot, clock: FixedClock
) -> None:
    me = sign_in(PHONE)
    request = {"slot_id": str(slot.id), "travelers": [{"name": "Asha", "is_primary": True}]}
    first = client.post("/api/v1/customer/bookings", json=request, headers=me).json()
    done = client.post(f"/api/v1/customer/bookings/{first['id']}/cancel", headers=me)
    assert done.status_code == 200
    twice = client.post(f"/api/v1/customer/bookings/{first['id']}/cancel", headers=me)
    assert twice.status_code == 409
    assert twice.json()["code"] == "invalid_transition"
    second = client.post("/api/v1/customer/bookings", json=request, headers=me).json()
    clock.advance(days=31)
    me = sign_in(PHONE)  # the first token has expired by now
    late = client.post(f"/api/v1/customer/bookings/{second['id']}/cancel", headers=me)
    assert late.status_code == 403
    assert late.json()["code"] == "permission_denied"


def test_a_stale_version_is_a_409(client: ApiClient, sign_in: SignIn) -> None:
    me = sign_in(PHONE)
    answer = client.put(
        "/api/v1/customer/auth/profile", json={"name": "Asha", "expected_version": 7}, headers=me
    )
    assert answer.status_code == 409
    assert answer.json()["code"] == "stale_version"


def test_asking_for_codes_too_fast_is_a_429_with_retry_after(
    client: ApiClient, clock: FixedClock
) -> None:
    assert client.post("/api/v1/customer/auth/request-otp", json={"phone": PHONE}).is_success
    clock.advance(seconds=20)
    again = client.post("/api/v1/customer/auth/request-otp", json={"phone": PHONE})
    assert again.status_code == 429
    assert again.headers["retry-after"] == "40"
    assert again.json()["retry_after"] == 40


def test_a_wrong_code_is_a_401_saying_how_many_attempts_are_left(client: ApiClient) -> None:
    client.post("/api/v1/customer/auth/request-otp", json={"phone": PHONE})
    answer = client.post("/api/v1/customer/auth/verify-otp", json={"phone": PHONE, "otp": "000000"})
    if answer.status_code == 200:  # one in a million: the code was 000000
        return
    assert answer.status_code == 401
    assert "attempts left" in answer.json()["detail"]
    bad = client.post("/api/v1/customer/auth/verify-otp", json={"phone": PHONE, "otp": "12ab"})
    assert bad.status_code == 422
    # the body's name for it (the library's parameter is ``code``)
    assert [e["field"] for e in bad.json()["errors"]] == ["otp"]
    assert bad.json()["detail"].startswith("otp: ")


def test_the_lifecycle_call_names_its_camel_case_fields(
    client: ApiClient,
    staff_headers: dict[str, str],
    book: Callable[..., dict[str, Any]],
    sign_in: SignIn,
) -> None:
    """``POST /api/core/booking-lifecycle`` takes ``toStatus`` and ``expectedVersion``:
    the library's refusals name those, as pydantic's own do, not ``to``."""
    booking = book(sign_in(PHONE))
    answer = client.post(
        "/api/core/booking-lifecycle",
        json={"bookingId": booking["id"], "toStatus": "nonsense"},
        headers=staff_headers,
    )
    assert answer.status_code == 422, answer.text
    assert [e["field"] for e in answer.json()["errors"]] == ["toStatus"]
    malformed = client.post(
        "/api/core/booking-lifecycle",
        json={"bookingId": booking["id"], "toStatus": 5},
        headers=staff_headers,
    )
    assert [e["field"] for e in malformed.json()["errors"]] == ["toStatus"]
    # the advisors' route takes it as ``status``
    advised = client.request(
        "PATCH",
        f"/api/advisor/bookings/{booking['id']}/status",
        json={"status": "nonsense"},
        headers=staff_headers,
    )
    assert advised.status_code == 422, advised.text
    assert [e["field"] for e in advised.json()["errors"]] == ["status"]


def test_an_sms_that_cannot_be_sent_is_a_502(
    client: ApiClient, sms: ConsoleSmsSender, monkeypatch: pytest.MonkeyPatch
) -> None:
    def fail(*_: object, **__: object) -> None:
        raise DeliveryError("gateway timed out", channel="sms", retryable=True)

    monkeypatch.setattr(sms, "send_sms", fail)
    answer = client.post("/api/v1/customer/auth/request-otp", json={"phone": PHONE})
    assert answer.status_code == 502
    assert answer.json()["code"] == "delivery_failed"
    assert answer.json()["retryable"] is True


# ---------------------------------------------------------------------- auth refusals


def test_no_token_is_a_401_with_www_authenticate(client: ApiClient) -> None:
    answer = client.get("/api/v1/customer/bookings")
    assert answer.status_code == 401
    assert answer.headers["www-authenticate"] == "Bearer"
    assert answer.json()["code"] == "authentication_failed"


def test_a_forged_token_is_a_401_invalid_token(client: ApiClient) -> None:
    answer = client.get(
        "/api/v1/customer/bookings", headers={"Authorization": "Bearer not.a.token"}
    )
    assert answer.status_code == 401
    assert answer.headers["www-authenticate"] == 'Bearer error="invalid_token"'


def test_a_staff_token_is_refused_on_customer_paths_and_back(
    client: ApiClient, sign_in: SignIn, staff_headers: dict[str, str]
) -> None:
    assert client.get("/api/v1/customer/bookings", headers=staff_headers).status_code == 401
    customer = sign_in(PHONE)
    assert client.get("/api/admin/bookings", headers=customer).status_code == 401


def test_an_expired_token_is_a_401(client: ApiClient, sign_in: SignIn, clock: FixedClock) -> None:
    me = sign_in(PHONE)
    clock.advance(timedelta(days=31))
    assert client.get("/api/v1/customer/auth/profile", headers=me).status_code == 401


def test_redis_out_of_reach_is_a_503_that_names_no_address(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """An app over Redis (codes and rate limits shared by several servers) whose Redis is
    down answers 503 ``service_unavailable``, which clients retry, not a 400 saying the
    request was refused; Redis's address stays in the log."""
    # Nothing listens on port 1; no retries, so the refusal comes at once.
    down = redis.Redis(host="127.0.0.1", port=1, retry=Retry(NoBackoff(), 0))
    core = BookingCore(
        uow_factory=MemoryStore().unit_of_work,
        settings=Settings(default_region="IN"),
        otp_store=RedisOtpStore(down),
        rate_limiter=RedisRateLimiter(down),
        sms=ConsoleSmsSender(),
        token_signer=JwtTokenSigner({"api": SECRET}),
        auth_settings=AuthSettings(otp_pepper=PEPPER),
    )
    assert status_of(RedisUnavailableError("Redis is unavailable")).status == 503
    with start_blocking_portal() as portal:
        client = ApiClient(create_app(core, upload_dir=tmp_path), portal)
        try:
            answer = client.post("/api/v1/customer/auth/request-otp", json={"phone": PHONE})
        finally:
            client.close()
    assert answer.status_code == 503, answer.text
    assert answer.headers["content-type"] == "application/problem+json"
    body = answer.json()
    assert body["code"] == "service_unavailable"
    assert "127.0.0.1" not in answer.text
    assert ":1" not in body["detail"]
    assert body["correlation_id"] in caplog.text
    assert "127.0.0.1" in caplog.text  # the operator learns which Redis
