"""Every :class:`~bookingcore.BookingError` as an RFC 9457 ``application/problem+json`` answer.

One table, :data:`STATUS`, maps each error class to its HTTP status; the
handler walks the raised class's MRO, so a subclass the table does not name
gets its parent's status. The body carries the RFC's members (``type``,
``title``, ``status``, ``detail``, ``instance``) and the library's stable
``code`` with its details (``to_dict()``): the per-field ``errors`` of a
:class:`~bookingcore.ValidationError`, ``seats_left`` of a
:class:`~bookingcore.CapacityError`, and so on. Request bodies that fail
pydantic's checks answer the same 422 shape, with the same ``errors`` list.
An adapter's error for a service out of reach (``RedisUnavailableError``, a
library error that is also a builtin ``ConnectionError``) answers 503 with a
correlation id; its message, which names the service's address, is only logged.

Anything else becomes a 500 problem whose only detail is a correlation id that
is also in the log next to the traceback: no stack trace, no SQL, ever reaches a
client.
"""

from __future__ import annotations

import logging
import math
import re
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from http import HTTPStatus
from typing import Any

import attrs
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from bookingcore import (
    AuthenticationError,
    AuthNotConfiguredError,
    BookingArchivedError,
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
    StaleVersionError,
    ValidationError,
)
from bookingcore.ports.scanning import FileScanError, InfectedFileError
from bookingcore.services import ImportFilePurgedError, JobsNotConfiguredError
from examples.api.schemas import Problem, ValidationProblem
from examples.api.uploads import UnsupportedUploadError, UploadTooLargeError

__all__ = [
    "PROBLEM_JSON",
    "STATUS",
    "UNAVAILABLE",
    "ErrorStatus",
    "fields_as_sent",
    "install_error_handlers",
    "new_traveler_fields",
    "problem_responses",
    "status_of",
]

_log = logging.getLogger("examples.api")

#: The media type of every error body.
PROBLEM_JSON = "application/problem+json"


@attrs.frozen
class ErrorStatus:
    """The HTTP status and the RFC 9457 ``title`` of one error class."""

    status: int
    title: str


#: Each error class of the library and the status it answers. Looked up along the
#: raised class's MRO, so the most specific entry wins.
STATUS: Mapping[type[BookingError], ErrorStatus] = {
    BookingError: ErrorStatus(400, "The request was refused"),
    ValidationError: ErrorStatus(422, "The request has invalid fields"),
    NotFoundError: ErrorStatus(404, "Not found"),
    PermissionDeniedError: ErrorStatus(403, "Not allowed"),
    ConflictError: ErrorStatus(409, "Conflicts with the current state"),
    CapacityError: ErrorStatus(409, "Not enough seats left"),
    DuplicateError: ErrorStatus(409, "It exists already"),
    StaleVersionError: ErrorStatus(409, "Changed since you read it"),
    ConcurrentUpdateError: ErrorStatus(409, "Concurrent changes got in the way; try again"),
    # The IETF Idempotency-Key draft answers a key reused for another payload with 422.
    IdempotencyConflictError: ErrorStatus(422, "Idempotency key reused for another request"),
    InvalidTransitionError: ErrorStatus(409, "The lifecycle forbids that move"),
    BookingArchivedError: ErrorStatus(409, "The booking is archived; unarchive it first"),
    RateLimitedError: ErrorStatus(429, "Too many requests"),
    AuthenticationError: ErrorStatus(401, "Authentication required"),
    DeliveryError: ErrorStatus(502, "A message could not be sent"),
    PaymentProviderError: ErrorStatus(502, "The payment provider refused or failed"),
    AuthNotConfiguredError: ErrorStatus(500, "The server is not configured for this"),
    # A ValidationError for the library, but of the wiring (no job queue), not the request.
    JobsNotConfiguredError: ErrorStatus(500, "The server is not configured for this"),
    ReadOnlyError: ErrorStatus(500, "Internal server error"),
    UploadTooLargeError: ErrorStatus(413, "The upload is too large"),
    UnsupportedUploadError: ErrorStatus(415, "The upload is not a CSV or XLSX file"),
    InfectedFileError: ErrorStatus(422, "The upload was refused by the virus scanner"),
    FileScanError: ErrorStatus(503, "The upload could not be scanned; try again"),
    ImportFilePurgedError: ErrorStatus(410, "The uploaded file is no longer kept"),
}


#: What an adapter's "the service behind me is down" error answers: a library error
#: that is also a builtin :class:`ConnectionError` or :class:`TimeoutError`
#: (``RedisUnavailableError``: Redis could not be reached), which the table does
#: not name because the adapter is optional.
UNAVAILABLE = ErrorStatus(503, "A service the server needs is unavailable; try again")


def status_of(error: BookingError) -> ErrorStatus:
    """The status of ``error``: its class's entry in :data:`STATUS`, or its nearest parent's.

    A retryable :class:`~bookingcore.PaymentProviderError` (a timeout, the
    provider's 5xx) answers 503 rather than 502, and so does an adapter's error
    that is also a builtin ``ConnectionError`` or ``TimeoutError`` (:data:`UNAVAILABLE`).
    """
    if isinstance(error, PaymentProviderError) and error.retryable:
        return ErrorStatus(503, "The payment provider is unavailable; try again")
    return status_of_class(type(error))


def _type_uri(base: str, code: str) -> str:
    return f"{base}{code.replace('_', '-')}"


def _problem(
    request: Request,
    *,
    status: int,
    title: str,
    detail: str,
    code: str,
    extra: Mapping[str, Any] | None = None,
    headers: Mapping[str, str] | None = None,
) -> JSONResponse:
    base: str = request.app.state.problem_type_base
    body: dict[str, Any] = {
        "type": _type_uri(base, code),
        "title": title,
        "status": status,
        "detail": detail,
        "instance": request.url.path,
        "code": code,
    }
    for key, value in (extra or {}).items():
        body.setdefault(key, value)
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


def _booking_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, BookingError)
    found = status_of(exc)
    headers: dict[str, str] = {}
    if isinstance(exc, AuthNotConfiguredError | JobsNotConfiguredError | ReadOnlyError):
        # A wiring mistake, or a write in a read-only unit of work (a bug of the
        # code that opened it): log it, tell the client no more than any other 500.
        return _unexpected(request, exc)
    if found is UNAVAILABLE:
        # Its message names the service's address ("Error 111 connecting to
        # cache.internal:6379"): logged for the operator, not told to the client.
        return _unavailable(request, exc)
    if isinstance(exc, RateLimitedError):
        headers["Retry-After"] = str(max(1, math.ceil(exc.retry_after)))
    if isinstance(exc, AuthenticationError):
        given = request.headers.get("authorization") is not None
        headers["WWW-Authenticate"] = 'Bearer error="invalid_token"' if given else "Bearer"
    details = {k: v for k, v in exc.to_dict().items() if k not in ("code", "message")}
    return _problem(
        request,
        status=found.status,
        title=found.title,
        detail=exc.message,
        code=exc.code,
        extra=details,
        headers=headers,
    )


def _field_path(location: Sequence[int | str]) -> str:
    """``("body", "travelers", 1, "age")`` -> ``travelers[1].age``; query and path names stay."""
    parts = list(location)
    if parts and parts[0] in ("body", "query", "path", "header", "cookie"):
        parts = parts[1:]
    path = ""
    for part in parts:
        if isinstance(part, int):
            path += f"[{part}]"
        else:
            path += f".{part}" if path else str(part)
    return path or "body"


def _request_invalid(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = [
        {
            "field": _field_path(error.get("loc", ())),
            "message": str(error.get("msg", "is invalid")),
            "code": str(error.get("type", "invalid")),
        }
        for error in exc.errors()
    ]
    detail = "; ".join(f"{e['field']}: {e['message']}" for e in errors)
    found = STATUS[ValidationError]
    return _problem(
        request,
        status=found.status,
        title=found.title,
        detail=detail,
        code=ValidationError.code,
        extra={"errors": errors},
    )


def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    if exc.status_code == 400:
        # FastAPI's answer to a body that is not JSON (or not UTF-8): the same
        # 422 shape as any other malformed input, naming the body.
        found = STATUS[ValidationError]
        error = {"field": "body", "message": "is not a valid JSON document", "code": "json_invalid"}
        return _problem(
            request,
            status=found.status,
            title=found.title,
            detail="body: is not a valid JSON document",
            code=ValidationError.code,
            extra={"errors": [error]},
        )
    phrase = HTTPStatus(exc.status_code).phrase
    code = phrase.lower().replace(" ", "_").replace("-", "_")
    detail = exc.detail or phrase
    return _problem(
        request,
        status=exc.status_code,
        title=phrase,
        detail=detail,
        code=code,
        headers=exc.headers,
    )


def _unavailable(request: Request, exc: BookingError) -> JSONResponse:
    correlation_id = uuid.uuid4().hex
    _log.warning(
        "service unavailable %s on %s %s: %s",
        correlation_id,
        request.method,
        request.url.path,
        exc.message,
        exc_info=exc,
    )
    return _problem(
        request,
        status=UNAVAILABLE.status,
        title=UNAVAILABLE.title,
        detail=f"a service we depend on is unavailable; try again ({correlation_id})",
        code=exc.code,
        extra={"correlation_id": correlation_id},
    )


def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    correlation_id = uuid.uuid4().hex
    _log.error(
        "unexpected error %s on %s %s",
        correlation_id,
        request.method,
        request.url.path,
        exc_info=exc,
    )
    return _problem(
        request,
        status=500,
        title="Internal server error",
        detail=f"something went wrong on our side; quote {correlation_id} when reporting it",
        code="internal_error",
        extra={"correlation_id": correlation_id},
    )


def install_error_handlers(app: FastAPI) -> None:
    """Answer every error of ``app`` as problem+json: the library's, pydantic's, HTTP's, any."""
    app.add_exception_handler(BookingError, _booking_error)
    app.add_exception_handler(RequestValidationError, _request_invalid)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(Exception, _unexpected)


def problem_responses(*errors: type[BookingError]) -> dict[int | str, dict[str, Any]]:
    """The OpenAPI ``responses`` of a route that may raise ``errors``, one per status.

    Every route answers 422 for a malformed request and 500 for a fault of ours;
    pass the library errors its service may raise on top of those.
    """
    by_status: dict[int, list[type[BookingError]]] = {}
    for cls in (*errors, ValidationError):
        entry = status_of_class(cls)
        by_status.setdefault(entry.status, []).append(cls)
        if cls is PaymentProviderError:
            by_status.setdefault(503, []).append(cls)
    responses: dict[int | str, dict[str, Any]] = {}
    for status, classes in sorted(by_status.items()):
        codes = ", ".join(sorted({c.code for c in classes}))
        model = ValidationProblem if status in (413, 415, 422) else Problem
        responses[status] = {
            "model": model,
            "description": f"{HTTPStatus(status).phrase} ({codes})",
            "content": {PROBLEM_JSON: {}},
            **_headers_for(classes),
        }
    responses[500] = {
        "model": Problem,
        "description": "Internal server error (internal_error, with a correlation_id)",
        "content": {PROBLEM_JSON: {}},
    }
    return responses


def status_of_class(cls: type[BookingError]) -> ErrorStatus:
    """The status an error of class ``cls`` answers, from :data:`STATUS` along its MRO;
    :data:`UNAVAILABLE` for one the table does not name that is also a builtin
    ``ConnectionError`` or ``TimeoutError``."""
    for parent in cls.__mro__:
        if parent is not BookingError and issubclass(parent, BookingError) and parent in STATUS:
            return STATUS[parent]
    if issubclass(cls, ConnectionError | TimeoutError):
        return UNAVAILABLE
    return STATUS[BookingError]


def _headers_for(classes: Iterable[type[BookingError]]) -> dict[str, Any]:
    headers: dict[str, Any] = {}
    for cls in classes:
        if issubclass(cls, RateLimitedError):
            headers["Retry-After"] = {
                "description": "Seconds to wait before trying again",
                "schema": {"type": "integer"},
            }
        if issubclass(cls, AuthenticationError):
            headers["WWW-Authenticate"] = {
                "description": "The scheme to authenticate with (Bearer)",
                "schema": {"type": "string"},
            }
    return {"headers": headers} if headers else {}


@contextmanager
def fields_as_sent(rename: Callable[[str], str]) -> Iterator[None]:
    """Name the fields of a :class:`~bookingcore.ValidationError` raised inside as the
    request body names them (``rename`` maps the library's path to the body's), so a
    client finds each problem on the field it sent, as pydantic's own 422s do."""
    try:
        yield
    except ValidationError as exc:
        renamed = [FieldError(rename(e.field), e.message, e.code) for e in exc.errors]
        if renamed == list(exc.errors):
            raise
        default = "; ".join(f"{e.field}: {e.message}" for e in exc.errors)
        message = None if exc.message == default else exc.message
        raise ValidationError(renamed, message) from exc


_LIBRARY_TRAVELER = re.compile(r"^travelers\[(?P<index>\d+)\](?P<rest>.*)$", re.DOTALL)


def new_traveler_fields(body_list: str = "travelers") -> Callable[[str], str]:
    """The library's paths of a booking's travelers as a body of
    :class:`~examples.api.schemas.BookingTravelerIn` items in ``body_list`` names them.

    The library nests a new traveler's details (``travelers[1].details.phone``) and
    names a saved one ``traveler_id``; the body holds both flat in one item
    (``travelers[1].phone``, ``travelers[1].id``), at ``body_list`` (``add`` when
    changing a booking's travelers).
    """

    def rename(field: str) -> str:
        found = _LIBRARY_TRAVELER.match(field)
        if found is None:
            return field
        rest = found["rest"]
        if rest == ".details":
            rest = ""
        elif rest.startswith(".details."):
            rest = rest.removeprefix(".details")
        elif rest == ".traveler_id":
            rest = ".id"
        return f"{body_list}[{found['index']}]{rest}"

    return rename
