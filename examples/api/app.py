"""The application factory of the example HTTP host: :func:`create_app`.

All wiring happens in :func:`build_core` and :func:`create_app`; nothing is read
from the environment and nothing is opened at import time, so a test builds an
app over a :class:`~bookingcore_adapters.memory.MemoryStore` and a server over
an :class:`~bookingcore_adapters.sql.SqlStore` with the same two calls.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterable
from datetime import timedelta
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from bookingcore import AuthSettings, BookingCore, ConcurrentUpdateError, RateLimit, Settings
from bookingcore.ports.clock import Clock, IdGenerator
from bookingcore.ports.documents import FileStore
from bookingcore.ports.messaging import Notifier
from bookingcore.ports.observability import Observer
from bookingcore.ports.payments import PaymentProvider
from bookingcore.ports.scanning import FileScanner
from bookingcore.ports.security import PasswordHasher, SmsSender
from bookingcore.ports.uow import UnitOfWorkFactory
from bookingcore_adapters.auth import Argon2PasswordHasher, JwtTokenSigner
from bookingcore_adapters.memory import MemoryOtpStore, MemoryRateLimiter
from bookingcore_adapters.scanning import NoScanner
from examples.api.errors import PROBLEM_JSON, install_error_handlers
from examples.api.routes import (
    admin,
    advisor,
    archive,
    attendance,
    catalog,
    certificates,
    changes,
    commissions,
    customer,
    devices,
    documents,
    email,
    families,
    general,
    groups,
    imports,
    partner,
    partners,
    payments,
    portal,
    privacy,
    reports,
    sharing,
    slots,
    sms,
    staff,
    travel,
    trips,
    vouchers,
    waitlists,
    webhooks,
)

__all__ = ["build_core", "create_app"]

_DESCRIPTION = """\
An example host over [bookingcore](https://github.com/): its services as
HTTP endpoints for staff, customers, partners and suppliers. Sign in (customers
by phone code, staff by email and password), then send
`Authorization: Bearer <access_token>`. Every error is an RFC 9457
`application/problem+json` body with the library's stable `code`.
"""


def build_core(
    uow_factory: UnitOfWorkFactory,
    *,
    token_secret: bytes,
    otp_pepper: bytes,
    sms: SmsSender,
    password_hasher: PasswordHasher | None = None,
    settings: Settings | None = None,
    clock: Clock | None = None,
    ids: IdGenerator | None = None,
    payment_providers: Iterable[PaymentProvider] = (),
    notifier: Notifier | None = None,
    observer: Observer | None = None,
    import_files: FileStore | None = None,
) -> BookingCore:
    """A core with the sign-in ports this host needs, over ``uow_factory``.

    Codes and rate limits are kept in memory (one server); a host with several
    servers passes Redis adapters to :class:`~bookingcore.BookingCore` itself.
    ``token_secret`` signs the JWTs (HS256, at least 32 bytes) and
    ``otp_pepper`` keys the sign-in codes' hashes: keep both in your secret
    store; tokens signed with one secret die when it changes.
    ``payment_providers`` are what ``/api/payments/*`` take money through;
    ``notifier`` sends what ``/send-email`` asks for (without one, each send
    is logged as failed and answered 502). ``observer`` is told what the use
    cases did (``OpenTelemetryObserver`` from ``bookingcore_adapters.otel``).
    ``import_files`` keeps uploaded import files (for their XLSX error reports)
    until ``Settings.import_file_retention`` after the import finished (the
    ``imports.purge_files`` job deletes them); without it no file is kept.

    Raises:
        ValidationError: a secret or pepper shorter than 32 bytes.
    """
    return BookingCore(
        uow_factory=uow_factory,
        clock=clock,
        ids=ids,
        settings=settings or Settings(default_region="IN"),
        otp_store=MemoryOtpStore(),
        rate_limiter=MemoryRateLimiter(),
        sms=sms,
        token_signer=JwtTokenSigner({"api": token_secret}),
        password_hasher=password_hasher or Argon2PasswordHasher(),
        auth_settings=AuthSettings(otp_pepper=otp_pepper),
        payment_providers=payment_providers,
        notifier=notifier,
        observer=observer,
        import_files=import_files,
    )


#: Uploads (import, preview, validate) and retries of imports a staff member may
#: start per window, by default.
IMPORT_RATE_LIMIT = RateLimit(20, timedelta(minutes=1))

#: Reads of shared trips (``GET /api/v1/shared-trips/{token}``, no sign-in) each client
#: address may make per window, by default.
SHARED_TRIP_RATE_LIMIT = RateLimit(60, timedelta(minutes=1))


def create_app(
    core: BookingCore,
    *,
    title: str = "bookingcore example API",
    trust_forwarded: bool = False,
    problem_type_base: str = "/problems/",
    docs_url: str | None = "/docs",
    upload_dir: Path | None = None,
    max_upload_bytes: int = 10 * 1024 * 1024,
    twilio_auth_token: str | None = None,
    twilio_callback_url: str | None = None,
    mailgun_signing_key: str | None = None,
    scanner: FileScanner | None = None,
    import_rate_limit: RateLimit | None = IMPORT_RATE_LIMIT,
    shared_trip_rate_limit: RateLimit | None = SHARED_TRIP_RATE_LIMIT,
) -> FastAPI:
    """A FastAPI app serving ``core``'s services on the paths booking apps call.

    Tokens are signed and checked by ``core.auth`` with the ``token_signer``
    ``core`` was built with (see :func:`build_core`), so the app holds no keys.

    Args:
        core: the wired library; its services do all the work.
        title: the OpenAPI title.
        trust_forwarded: take the client's address from ``X-Forwarded-For``:
            its last address, the one appended by the proxy in front (only
            behind one proxy you run, which appends it).
        problem_type_base: what problem ``type`` URIs start with, followed by
            the error code (``/problems/capacity-exceeded``).
        docs_url: where Swagger UI is served (``None``: nowhere).
        upload_dir: where import uploads are streamed to and kept for their
            error reports (default: ``bookingcore-uploads`` in the system's
            temporary directory).
        max_upload_bytes: the largest import file accepted (default 10 MiB);
            larger uploads are refused (413) as soon as they pass it.
        twilio_auth_token: the Twilio account's auth token, which signs SMS
            status callbacks (``None``: ``/api/sms/twilio/status`` refuses all).
        twilio_callback_url: the public URL Twilio calls, when it differs from
            the one the app sees (behind a proxy); the signature covers it.
        mailgun_signing_key: the Mailgun domain's HTTP webhook signing key, which
            signs its webhooks (``None``: ``/api/webhooks/mailgun`` refuses all).
        scanner: scans each import upload before it is read
            (``ClamdScanner``); an infected file is refused (422, code
            ``infected`` on ``file``) and nothing is kept; a scanner that
            cannot scan answers 503. Default: ``NoScanner`` (no scanning).
        import_rate_limit: how many import uploads (import, preview, validate)
            and retries each staff member may make per window, counted by the
            core's ``rate_limiter`` (answered 429 with ``Retry-After``);
            ``None``, or a core without a rate limiter: unlimited.
        shared_trip_rate_limit: how many shared trips each client address may read
            per window (the public ``/api/v1/shared-trips/{token}``), counted by the
            core's ``rate_limiter`` (429 with ``Retry-After``); ``None``, or a core
            without a rate limiter: unlimited.
    """
    app = FastAPI(
        title=title,
        version="0.1",
        description=_DESCRIPTION,
        docs_url=docs_url,
        redoc_url=None,
    )
    app.state.core = core
    app.state.trust_forwarded = trust_forwarded
    app.state.problem_type_base = problem_type_base
    app.state.upload_dir = upload_dir or Path(tempfile.gettempdir()) / "bookingcore-uploads"
    app.state.max_upload_bytes = max_upload_bytes
    app.state.scanner = scanner or NoScanner()
    app.state.import_rate_limit = import_rate_limit
    app.state.shared_trip_rate_limit = shared_trip_rate_limit
    app.state.twilio_auth_token = twilio_auth_token
    app.state.twilio_callback_url = twilio_callback_url
    app.state.mailgun_signing_key = mailgun_signing_key
    install_error_handlers(app)
    app.include_router(customer.router)
    app.include_router(devices.router)
    app.include_router(sharing.router)
    app.include_router(families.router)
    app.include_router(families.admin_router)
    app.include_router(portal.router)
    app.include_router(staff.router)
    # before admin: its /{booking_id} would otherwise claim /imports, /preview, ...
    app.include_router(imports.router)
    app.include_router(groups.router)  # before admin too: /groups is not a booking id
    app.include_router(vouchers.router)
    app.include_router(vouchers.check_router)
    app.include_router(archive.router)  # before admin: its unarchive route is a booking's
    app.include_router(admin.router)
    app.include_router(advisor.router)
    app.include_router(partner.router)
    app.include_router(partners.router)
    app.include_router(payments.router)
    app.include_router(general.router)
    app.include_router(reports.router)
    app.include_router(waitlists.router)
    app.include_router(commissions.router)
    app.include_router(webhooks.router)
    app.include_router(changes.router)
    app.include_router(travel.router)
    app.include_router(catalog.router)
    app.include_router(slots.router)
    app.include_router(attendance.router)
    app.include_router(trips.router)
    app.include_router(sms.router)
    app.include_router(email.router)
    app.include_router(certificates.router)
    app.include_router(documents.router)
    app.include_router(privacy.router)

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = get_openapi(
                title=app.title,
                version=app.version,
                description=app.description,
                routes=app.routes,
            )
            _problem_media_types(schema)
            _concurrent_updates(schema)
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
    return app


#: Calls that store nothing: dry runs of an import, a text code (kept out of the
#: database), and the SMS callback this host refuses.
_STORES_NOTHING = frozenset(
    {
        "admin_preview_import",
        "admin_validate_import",
        "customer_request_otp",
        "sms_twilio_status_callback",
    }
)


def _concurrent_updates(schema: dict[str, Any]) -> None:
    """Declare the 409 ``concurrent_update`` every write may answer on PostgreSQL, when
    concurrent transactions kept aborting it past the store's retries."""
    for operations in schema.get("paths", {}).values():
        for method, operation in operations.items():
            if method == "get" or operation.get("operationId") in _STORES_NOTHING:
                continue
            responses = operation.setdefault("responses", {})
            found = responses.get("409")
            if found is None:
                responses["409"] = {
                    "description": f"Conflict ({ConcurrentUpdateError.code})",
                    "content": {PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/Problem"}}},
                }
            elif ConcurrentUpdateError.code not in found.get("description", ""):
                codes = found["description"].removeprefix("Conflict (").removesuffix(")")
                listed = ", ".join(sorted({*codes.split(", "), ConcurrentUpdateError.code}))
                found["description"] = f"Conflict ({listed})"


def _problem_media_types(schema: dict[str, Any]) -> None:
    """Declare error bodies as ``application/problem+json``, the type they are sent with."""
    for operations in schema.get("paths", {}).values():
        for operation in operations.values():
            for status, response in operation.get("responses", {}).items():
                content = response.get("content", {})
                if status.isdigit() and int(status) >= 400 and "application/json" in content:
                    body = content.pop("application/json")
                    content[PROBLEM_JSON] = {**content.get(PROBLEM_JSON, {}), **body}
