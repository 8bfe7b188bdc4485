"""Staff sign-in (``/api/v1/auth``): email and password, refresh, logout, me."""

from __future__ import annotations

from fastapi import APIRouter, Response, status

from bookingcore import AuthenticationError, NotFoundError, RateLimitedError, StaffId
from examples.api.deps import Core, Origin, StaffPrincipal, Token, client_key
from examples.api.errors import problem_responses
from examples.api.schemas import RefreshIn, SignedInOut, StaffLoginIn, StaffOut, TokensOut

__all__ = ["router"]

router = APIRouter(prefix="/api/v1/auth", tags=["staff auth"])


@router.post(
    "/login",
    operation_id="staff_login",
    responses=problem_responses(AuthenticationError, RateLimitedError),
)
def login(body: StaffLoginIn, core: Core, origin: Origin) -> SignedInOut:
    """Sign a staff member in with email and password (15-minute access tokens)."""
    signed = core.auth.sign_in_staff(
        body.email, body.password, client_key=client_key(origin), origin=origin
    )
    return SignedInOut.of_sign_in(signed)


@router.post(
    "/refresh",
    operation_id="staff_refresh",
    responses=problem_responses(AuthenticationError),
)
def refresh(body: RefreshIn, core: Core, origin: Origin) -> TokensOut:
    """Trade a refresh token for new tokens, with the member's current role."""
    return TokensOut.of(core.auth.refresh(body.refresh_token, expect="staff", origin=origin))


@router.post(
    "/logout",
    operation_id="staff_logout",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=problem_responses(AuthenticationError),
)
def logout(core: Core, token: Token, origin: Origin) -> Response:
    """End the session of the bearer token."""
    core.auth.logout(token, origin=origin)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get(
    "/me",
    operation_id="staff_me",
    responses=problem_responses(AuthenticationError, NotFoundError),
)
def me(core: Core, staff: StaffPrincipal) -> StaffOut:
    """The signed-in staff member."""
    assert staff.id is not None
    return StaffOut.of(core.staff.get(StaffId(staff.id), principal=staff))
