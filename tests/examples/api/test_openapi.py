"""The OpenAPI document: stable operation ids, and every route's error responses as problems."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from tests.examples.api._client import ApiClient

PROBLEM = "application/problem+json"


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
