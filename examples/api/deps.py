"""The dependencies routes share: the core, the caller's origin, and who they are.

A bearer token becomes a :class:`~bookingcore.Principal` in one place,
:func:`principal_of`, through :meth:`~bookingcore.services.AuthService.authenticate`
with the token kinds a group of routes accepts: customer routes take customer
tokens only, staff routes staff tokens only, and so on. The request's origin
(client IP address and user agent) goes onto the principal with
:meth:`~bookingcore.Principal.with_origin`, so the library's audit entries say
where each change came from.
"""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import Depends, Header, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from bookingcore import (
    AuthenticationError,
    BookingCore,
    CustomerId,
    Principal,
    PrincipalKind,
    RateLimit,
    RateLimitedError,
    RequestOrigin,
)

__all__ = [
    "MAX_USER_AGENT",
    "AnyPrincipal",
    "Core",
    "CustomerPrincipal",
    "IdempotencyKey",
    "ImportingStaff",
    "Origin",
    "PartnerPrincipal",
    "RequiredIdempotencyKey",
    "StaffPrincipal",
    "Token",
    "any_principal",
    "bearer_token",
    "client_key",
    "customer_id_of",
    "get_core",
    "import_rate",
    "origin_of",
    "partner_principal",
    "principal_of",
    "shared_trip_rate",
]

#: User agents are cut to this many characters before they go on audit entries.
MAX_USER_AGENT = 500

_bearer = HTTPBearer(auto_error=False, description="An access token from a sign-in endpoint")


def get_core(request: Request) -> BookingCore:
    """The :class:`~bookingcore.BookingCore` :func:`~examples.api.create_app` was given."""
    core: BookingCore = request.app.state.core
    return core


Core = Annotated[BookingCore, Depends(get_core)]


def origin_of(request: Request) -> RequestOrigin:
    """Where the request came from: the client's address and its user agent.

    The address is the socket's peer unless the app was created with
    ``trust_forwarded=True`` (behind one proxy you run), when the last address of
    ``X-Forwarded-For`` is taken instead: the one that proxy appended. Addresses
    before it are whatever the client sent, so they are never trusted. Several
    ``X-Forwarded-For`` lines are one list in their order (RFC 9110), so a proxy that
    adds a line of its own after the client's is read right too.
    """
    ip = request.client.host if request.client is not None else None
    if request.app.state.trust_forwarded:
        listed = ",".join(request.headers.getlist("x-forwarded-for"))
        forwarded = listed.split(",")[-1].strip()
        ip = forwarded or ip
    agent = request.headers.get("user-agent")
    return RequestOrigin(ip, agent[:MAX_USER_AGENT] if agent else None)


Origin = Annotated[RequestOrigin, Depends(origin_of)]


def client_key(origin: RequestOrigin) -> str | None:
    """The key the library's per-client rate limits count under: the client's address."""
    return origin.ip_address


def bearer_token(
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> str:
    """The bearer token of the ``Authorization`` header.

    Raises:
        AuthenticationError: no ``Authorization: Bearer ...`` header (answered 401).
    """
    if credentials is None or not credentials.credentials:
        msg = "this endpoint needs an 'Authorization: Bearer <access token>' header"
        raise AuthenticationError(msg, field="authorization")
    return credentials.credentials


Token = Annotated[str, Depends(bearer_token)]


def principal_of(*kinds: PrincipalKind) -> object:
    """A dependency: the principal of the request's access token, if of one of ``kinds``."""

    def dependency(core: Core, token: Token, origin: Origin) -> Principal:
        return core.auth.authenticate(token, expect=kinds, origin=origin)

    return Depends(dependency)


def partner_principal(core: Core, token: Token, origin: Origin) -> Principal:
    """The partner of the request's access token, its request counted against its rate limit.

    Raises:
        AuthenticationError: not a valid partner token (answered 401).
        PermissionDeniedError: the request's address is outside the partner's
            ``allowed_ips`` (answered 403).
        RateLimitedError: the partner used up its requests for now (answered 429).
    """
    principal = core.auth.authenticate(token, expect=PrincipalKind.PARTNER, origin=origin)
    core.partners.check_rate(principal)
    return principal


def any_principal(core: Core, token: Token, origin: Origin) -> Principal:
    """The customer, staff member or partner of the request's access token.

    A partner's request counts against its rate limit, as on the partner routes.

    Raises:
        AuthenticationError: no valid access token (answered 401).
        PermissionDeniedError: a partner calling from outside its ``allowed_ips`` (403).
        RateLimitedError: a partner over its limit (answered 429).
    """
    principal = core.auth.authenticate(
        token,
        expect=(PrincipalKind.CUSTOMER, PrincipalKind.STAFF, PrincipalKind.PARTNER),
        origin=origin,
    )
    if principal.kind is PrincipalKind.PARTNER:
        core.partners.check_rate(principal)
    return principal


def customer_id_of(principal: Principal) -> CustomerId:
    """The customer a customer principal (from :data:`CustomerPrincipal`) stands for."""
    assert principal.id is not None  # a customer token always names its customer
    return CustomerId(principal.id)


AnyPrincipal = Annotated[Principal, Depends(any_principal)]
CustomerPrincipal = Annotated[Principal, principal_of(PrincipalKind.CUSTOMER)]
StaffPrincipal = Annotated[Principal, principal_of(PrincipalKind.STAFF)]
PartnerPrincipal = Annotated[Principal, Depends(partner_principal)]


def import_rate(request: Request, core: Core, staff: StaffPrincipal) -> Principal:
    """The staff member of the request, one import upload or retry counted against
    their limit (``create_app(import_rate_limit=...)``) by the core's rate limiter.

    Raises:
        AuthenticationError: no valid staff token (answered 401).
        RateLimitedError: the staff member started too many imports for now
            (answered 429 with ``Retry-After``).
    """
    rate: RateLimit | None = request.app.state.import_rate_limit
    limiter = core.rate_limiter
    if rate is None or limiter is None:
        return staff
    who: UUID | str | None = staff.id or staff.name
    decision = limiter.hit(
        f"imports:staff:{who}", limit=rate.limit, window=rate.window, now=core.context.now()
    )
    if not decision.allowed:
        retry_after = decision.retry_after.total_seconds()
        msg = f"too many import uploads; try again in {retry_after:.0f} s"
        raise RateLimitedError(msg, retry_after=retry_after)
    return staff


#: A staff member uploading or retrying an import, counted against the import rate limit.
ImportingStaff = Annotated[Principal, Depends(import_rate)]


def shared_trip_rate(request: Request, core: Core, origin: Origin) -> None:
    """Count one read of a shared trip against the client's limit
    (``create_app(shared_trip_rate_limit=...)``) by the core's rate limiter: the
    public route needs no sign-in, so its callers are told apart by address.

    Raises:
        RateLimitedError: the client read too many shared trips for now (answered
            429 with ``Retry-After``).
    """
    rate: RateLimit | None = request.app.state.shared_trip_rate_limit
    limiter = core.rate_limiter
    if rate is None or limiter is None:
        return
    who = client_key(origin) or "unknown"
    decision = limiter.hit(
        f"shared-trips:client:{who}", limit=rate.limit, window=rate.window, now=core.context.now()
    )
    if not decision.allowed:
        retry_after = decision.retry_after.total_seconds()
        msg = f"too many shared trip reads; try again in {retry_after:.0f} s"
        raise RateLimitedError(msg, retry_after=retry_after)


IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        max_length=255,
        description="Makes a retry of this call return the first result instead of acting again",
    ),
]

RequiredIdempotencyKey = Annotated[
    str,
    Header(
        alias="Idempotency-Key",
        min_length=1,
        max_length=255,
        description="Required: a retry with the same key returns the first result",
    ),
]
