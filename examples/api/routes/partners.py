"""Partner management (admin only): register partners, hand out their credentials,
choose where they may book, switch them off, read their history.

Staff with ``manage_partners`` (admins) use ``/api/admin/partners``; the API secret
and webhook signing secret are in the answers of registration and rotation only,
never again (the library keeps only the API secret's hash).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Query, Request, status

from bookingcore import (
    AuthenticationError,
    DuplicateError,
    LocationId,
    NotFoundError,
    PartnerId,
    PermissionDeniedError,
    StaleVersionError,
    ValidationError,
)
from bookingcore.domain.partners import MAX_SECRET_GRACE
from examples.api.deps import Core, StaffPrincipal
from examples.api.errors import problem_responses
from examples.api.routes._paging import Cursor, Limit, page_request, paged
from examples.api.schemas import (
    ActiveIn,
    AuditEntryOut,
    Paged,
    PartnerChangeIn,
    PartnerCredentialsOut,
    PartnerIn,
    PartnerLocationsIn,
    PartnerOut,
    PartnerSettingsIn,
    PartnerWebhookSecretOut,
)

__all__ = ["router"]

#: ``?keep_previous_for=<seconds>`` on the rotation routes: how long the replaced secret
#: keeps working next to the new one (0, the default: it stops at once).
KeepPreviousFor = Annotated[
    int,
    Query(
        ge=0,
        le=int(MAX_SECRET_GRACE.total_seconds()),
        description=(
            "Seconds the previous secret keeps working next to the new one "
            "(0: it stops at once; at most 7 days)"
        ),
    ),
]

router = APIRouter(prefix="/api/admin/partners", tags=["admin partners"])

_CHANGE = problem_responses(AuthenticationError, PermissionDeniedError, NotFoundError)
_PATCH_ERRORS = (
    AuthenticationError,
    PermissionDeniedError,
    NotFoundError,
    ValidationError,
    DuplicateError,
    StaleVersionError,
)


@router.post(
    "",
    operation_id="admin_register_partner",
    status_code=status.HTTP_201_CREATED,
    responses=problem_responses(AuthenticationError, PermissionDeniedError, DuplicateError),
)
def register_partner(body: PartnerIn, core: Core, staff: StaffPrincipal) -> PartnerCredentialsOut:
    """Register a partner; the answer holds its API secret and webhook secret, shown once.

    A second partner with the same contact email, however it is capitalised
    (``ops@agency.example`` next to ``Ops@Agency.example``), answers 409.
    """
    registered = core.partners.register(
        name=body.name,
        company_name=body.company_name,
        contact_email=body.contact_email,
        principal=staff,
        contact_phone=body.contact_phone,
        allowed_location_ids=[LocationId(i) for i in body.allowed_location_ids],
        commission_rate=body.commission_rate,
        webhook_url=body.webhook_url,
    )
    return PartnerCredentialsOut.of(registered)


@router.get(
    "",
    operation_id="admin_list_partners",
    responses=problem_responses(AuthenticationError, PermissionDeniedError),
)
def list_partners(
    request: Request,
    core: Core,
    staff: StaffPrincipal,
    q: Annotated[
        str | None, Query(max_length=200, description="Part of the name, company or email")
    ] = None,
    only_active: bool = False,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> Paged[PartnerOut]:
    """Partners whose name, company or contact email holds ``q``, newest first, a page
    at a time (follow ``next``)."""
    page = core.partners.list(
        page_request(limit, cursor), principal=staff, only_active=only_active, search=q
    )
    return paged(Paged[PartnerOut], request, page, PartnerOut.of)


@router.get(
    "/{partner_id}",
    operation_id="admin_get_partner",
    responses=problem_responses(AuthenticationError, NotFoundError),
)
def get_partner(partner_id: UUID, core: Core, staff: StaffPrincipal) -> PartnerOut:
    """One partner."""
    return PartnerOut.of(core.partners.get(PartnerId(partner_id), principal=staff))


@router.patch(
    "/{partner_id}",
    operation_id="admin_update_partner",
    responses=problem_responses(*_PATCH_ERRORS),
)
def update_partner(
    partner_id: UUID, body: PartnerChangeIn, core: Core, staff: StaffPrincipal
) -> PartnerOut:
    """Edit the partner's name, company, contact, commission rate or webhook URL (only the
    fields given). A new commission rate applies to payments captured from now on; another
    partner's contact email, however it is capitalised, answers 409 (the partner's own in
    another case is taken as given)."""
    partner = core.partners.update(
        PartnerId(partner_id),
        principal=staff,
        expected_version=body.expected_version,
        **body.changes(),
    )
    return PartnerOut.of(partner)


@router.put("/{partner_id}/active", operation_id="admin_set_partner_active", responses=_CHANGE)
def set_partner_active(
    partner_id: UUID, body: ActiveIn, core: Core, staff: StaffPrincipal
) -> PartnerOut:
    """Switch the partner off (it can no longer sign in, book or list slots) or on again."""
    return PartnerOut.of(
        core.partners.set_active(PartnerId(partner_id), body.active, principal=staff)
    )


@router.post(
    "/{partner_id}/webhooks/enable",
    operation_id="admin_enable_partner_webhooks",
    responses=_CHANGE,
)
def enable_partner_webhooks(partner_id: UUID, core: Core, staff: StaffPrincipal) -> PartnerOut:
    """Send webhooks to the partner's endpoint again after it answered 410 Gone (which
    disabled it); an enabled endpoint is left as it is."""
    return PartnerOut.of(core.partners.enable_webhooks(PartnerId(partner_id), principal=staff))


@router.put(
    "/{partner_id}/locations", operation_id="admin_set_partner_locations", responses=_CHANGE
)
def set_partner_locations(
    partner_id: UUID, body: PartnerLocationsIn, core: Core, staff: StaffPrincipal
) -> PartnerOut:
    """Replace the locations the partner may book (an unknown location answers 422)."""
    partner = core.partners.set_allowed_locations(
        PartnerId(partner_id), [LocationId(i) for i in body.location_ids], principal=staff
    )
    return PartnerOut.of(partner)


@router.post(
    "/{partner_id}/rotate-secret", operation_id="admin_rotate_partner_secret", responses=_CHANGE
)
def rotate_secret(
    partner_id: UUID, core: Core, staff: StaffPrincipal, keep_previous_for: KeepPreviousFor = 0
) -> PartnerCredentialsOut:
    """Issue a new API secret, shown in this answer only. The old one stops working at once
    (and the partner's tokens with it), or after ``keep_previous_for`` seconds."""
    return PartnerCredentialsOut.of(
        core.partners.rotate_secret(
            PartnerId(partner_id),
            principal=staff,
            keep_previous_for=timedelta(seconds=keep_previous_for),
        )
    )


@router.get(
    "/{partner_id}/history",
    operation_id="admin_partner_history",
    responses=problem_responses(AuthenticationError, PermissionDeniedError, NotFoundError),
)
def partner_history(
    request: Request,
    partner_id: UUID,
    core: Core,
    staff: StaffPrincipal,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> Paged[AuditEntryOut]:
    """The partner's audit trail: registration, changes, rotations (never a secret),
    newest first, a page at a time (follow ``next``)."""
    page = core.partners.history(
        PartnerId(partner_id), page_request(limit, cursor), principal=staff
    )
    return paged(Paged[AuditEntryOut], request, page, AuditEntryOut.of)


@router.post(
    "/{partner_id}/rotate-webhook-secret",
    operation_id="admin_rotate_partner_webhook_secret",
    responses=_CHANGE,
)
def rotate_webhook_secret(
    partner_id: UUID, core: Core, staff: StaffPrincipal, keep_previous_for: KeepPreviousFor = 0
) -> PartnerWebhookSecretOut:
    """Issue a new webhook signing secret; webhooks from now on are signed with it only, or
    with it and the previous one for ``keep_previous_for`` seconds (a receiver holding either
    accepts them).

    The secret is in this answer only: update the receiver first, or within the grace period.
    """
    partner = core.partners.rotate_webhook_secret(
        PartnerId(partner_id),
        principal=staff,
        keep_previous_for=timedelta(seconds=keep_previous_for),
    )
    return PartnerWebhookSecretOut.of(partner)


@router.put("/{partner_id}/settings", operation_id="admin_set_partner_settings", responses=_CHANGE)
def set_settings(
    partner_id: UUID, body: PartnerSettingsIn, core: Core, staff: StaffPrincipal
) -> PartnerOut:
    """Replace the partner's settings (``rate_limit``, ``allowed_ips``, webhook options, the
    host's own keys); a bad one answers 422 on ``settings.<key>``."""
    partner = core.partners.set_settings(PartnerId(partner_id), body.settings, principal=staff)
    return PartnerOut.of(partner)
