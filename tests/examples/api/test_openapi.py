"""The OpenAPI document: stable operation ids, and every route's error responses as problems."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import FastAPI
from openapi_spec_validator import validate
from tests.examples.api._client import ApiClient

from examples.api.openapi import render

PROBLEM = "application/problem+json"

#: Creates whose retry is refused by a natural key instead (409 naming what exists):
#: an import job per upload, a partner's customer by phone, a supplier or product per
#: code, a partner per contact email, a staff member per email. (A saved traveler has no
#: natural key: its route takes the header.) A push device is one per token.
_NATURALLY_UNIQUE = (
    "import",
    "/api/v1/customer/devices",
    "customers",
    "suppliers",
    "products",
    "/api/admin/partners",
    "/api/admin/staff",
)


def _operations(schema: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (path, method, operation)
        for path, methods in schema["paths"].items()
        for method, operation in methods.items()
    ]


def test_every_operation_has_a_stable_id_and_a_tag(app: FastAPI) -> None:
    operations = _operations(app.openapi())
    ids = [op["operationId"] for _, _, op in operations]
    assert len(ids) == len(set(ids))
    assert all("_" in i and not i.endswith("_post") for i in ids), ids
    assert all(op.get("tags") for _, _, op in operations)


def test_every_operation_lists_its_errors_as_problem_json(app: FastAPI) -> None:
    schema = app.openapi()
    for path, method, operation in _operations(schema):
        responses = operation["responses"]
        for status in ("422", "500"):
            assert status in responses, (method, path, status)
        for status, response in responses.items():
            if int(status) >= 400:
                assert list(response["content"]) == [PROBLEM], (method, path, status)
                ref = response["content"][PROBLEM]["schema"]["$ref"]
                assert ref.rsplit("/", 1)[-1] in {"Problem", "ValidationProblem"}
        if "security" in operation:  # token-taking routes say they may answer 401
            assert "WWW-Authenticate" in responses["401"]["headers"], (method, path)
    assert {"Problem", "ValidationProblem", "FieldProblem"} <= set(schema["components"]["schemas"])


def test_the_booking_route_names_the_library_errors_it_may_answer(app: FastAPI) -> None:
    responses = app.openapi()["paths"]["/api/v1/customer/bookings"]["post"]["responses"]
    assert set(responses) == {"201", "401", "403", "404", "409", "422", "500"}
    assert "capacity_exceeded" in responses["409"]["description"]
    assert "idempotency_conflict" in responses["422"]["description"]
    otp = app.openapi()["paths"]["/api/v1/customer/auth/request-otp"]["post"]["responses"]
    assert "Retry-After" in otp["429"]["headers"]
    assert "502" in otp


def test_the_document_and_swagger_ui_are_served(client: ApiClient) -> None:
    assert client.get("/openapi.json").json()["info"]["title"] == "bookingcore example API"
    docs = client.get("/docs")
    assert docs.status_code == 200
    assert "swagger-ui" in docs.text


def test_the_document_is_valid_openapi(app: FastAPI) -> None:
    """openapi-spec-validator accepts the document (3.1 rules, every $ref resolved)."""
    validate(app.openapi())


def test_the_committed_document_is_up_to_date() -> None:
    """docs/openapi.json is what the app serves; regenerate it with ``make openapi``."""
    committed = (Path(__file__).parents[3] / "docs" / "openapi.json").read_text(encoding="utf-8")
    assert committed == render(), "docs/openapi.json is stale: run `make openapi`"


def test_every_list_has_a_next_link_and_every_create_takes_an_idempotency_key(
    app: FastAPI,
) -> None:
    schema = app.openapi()
    schemas = schema["components"]["schemas"]
    for path, method, operation in _operations(schema):
        ok = operation["responses"].get("200", {}).get("content", {}).get("application/json", {})
        ref = ok.get("schema", {}).get("$ref", "")
        name = ref.rsplit("/", 1)[-1]
        if name.startswith("Paged") or name.endswith("Page"):
            assert "next" in schemas[name]["properties"], (method, path)
            params = {p["name"] for p in operation.get("parameters", [])}
            assert {"limit", "cursor"} <= params, (method, path)
        creates = method == "post" and "201" in operation["responses"]
        if creates and not any(word in path for word in _NATURALLY_UNIQUE):
            params = {p["name"] for p in operation.get("parameters", [])}
            assert "Idempotency-Key" in params, (method, path)


def test_every_operation_that_writes_declares_the_409_of_a_concurrent_update(app: FastAPI) -> None:
    """On PostgreSQL any write may answer 409 ``concurrent_update`` after its retries; the
    calls that store nothing (dry runs, a text code, the unused SMS callback) do not."""
    stores_nothing = {
        "sms_twilio_status_callback",
        "admin_preview_import",
        "admin_validate_import",
        "customer_request_otp",
    }
    for path, method, operation in _operations(app.openapi()):
        responses = operation["responses"]
        if method == "get" or operation["operationId"] in stores_nothing:
            assert "concurrent_update" not in responses.get("409", {}).get("description", "")
            continue
        assert "concurrent_update" in responses["409"]["description"], (method, path)
        assert responses["409"]["content"][PROBLEM]["schema"]["$ref"].endswith("/Problem")
