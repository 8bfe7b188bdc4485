"""A travel agency's desk: leads, quotations, supplier confirmations, documents on
demand, itineraries and the admin dashboard (the catalogue is in
:mod:`examples.api.routes.catalog`, trips and itinerary edits in
:mod:`examples.api.routes.trips`).

Staff tokens on ``/api/admin/...`` (the library's policy decides per role: an
advisor sees and works the leads assigned to them, only staff with ``set_prices``
quote, only staff who change everything assign leads); a customer decides their
own quotations on ``/api/v1/customer/quotations``; a supplier's user answers for
its items on ``/api/supplier/items``.
"""

from __future__ import annotations

from datetime import date
from enum import Enum
from uuid import UUID

from fastapi import APIRouter, Request, status

from bookingcore import (
    AuthenticationError,
    BookingId,
    BookingItemId,
    CapacityError,
    CustomerId,
    IdempotencyConflictError,
    InvalidTransitionError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitedError,
    SlotId,
    StaffId,
    SupplierId,
)
from bookingcore.domain import LeadId, QuotationId
from examples.api.deps import (
    AnyPrincipal,
    Core,
    CustomerPrincipal,
    IdempotencyKey,
    RequiredIdempotencyKey,
    StaffPrincipal,
)
from examples.api.errors import fields_as_sent, new_traveler_fields, problem_responses
from examples.api.routes._bookings import booking_out, partner_names
from examples.api.routes._paging import Cursor, Limit, page_request, paged
from examples.api.schemas import BookingOut, CommunicationOut, Paged
from examples.api.schemas_travel import (
    BookingItemOut,
    DashboardOut,
    DocumentOut,
    DocumentRequestIn,
    FollowUpIn,
    ItemConfirmIn,
    ItemRejectIn,
    ItineraryOut,
    LeadAssignIn,
    LeadConvertIn,
    LeadIn,
    LeadMoveIn,
    LeadOut,
    QuotationApproveIn,
    QuotationIn,
    QuotationOut,
    QuotationRejectIn,
    QuotationReviseIn,
)

__all__ = ["router"]

router = APIRouter()

_LEADS: list[str | Enum] = ["travel leads"]
_QUOTES: list[str | Enum] = ["travel quotations"]
_SUPPLIER: list[str | Enum] = ["supplier items"]
_DESK: list[str | Enum] = ["travel desk"]


def _assign_to(value: str | None) -> str | StaffId | None:
    """A staff id given as text becomes a :class:`~bookingcore.StaffId`; a strategy stays."""
    if value is None:
        return None
    try:
        return StaffId(UUID(value))
    except ValueError:
        return value


# ---------------------------------------------------------------------- leads


@router.post(
    "/api/admin/leads",
    tags=_LEADS,
    operation_id="admin_capture_lead",
    status_code=status.HTTP_201_CREATED,
    responses=problem_responses(
        AuthenticationError, PermissionDeniedError, IdempotencyConflictError
    ),
)
def capture_lead(
    body: LeadIn, core: Core, staff: StaffPrincipal, idempotency_key: IdempotencyKey = None
) -> LeadOut:
    """Record an enquiry as a lead of the customer it comes from (found by phone or email).

    With an ``Idempotency-Key`` a retry answers the lead the first call made.
    """
    lead = core.leads.capture(
        body.to_request(),
        principal=staff,
        assign=_assign_to(body.assign),
        idempotency_key=idempotency_key,
    )
    return LeadOut.of(lead)


@router.get(
    "/api/admin/leads",
    tags=_LEADS,
    operation_id="admin_list_leads",
    responses=problem_responses(AuthenticationError),
)
def list_leads(
    request: Request,
    core: Core,
    staff: StaffPrincipal,
    status: str | None = None,
    assignee_id: UUID | None = None,
    customer_id: UUID | None = None,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> Paged[LeadOut]:
    """Leads the caller may see matching every filter, newest first, a page at a time
    (follow ``next``)."""
    page = core.leads.list(
        page_request(limit, cursor),
        principal=staff,
        status=status,
        assignee_id=None if assignee_id is None else StaffId(assignee_id),
        customer_id=None if customer_id is None else CustomerId(customer_id),
    )
    return paged(Paged[LeadOut], request, page, LeadOut.of)


@router.get(
    "/api/admin/leads/follow-ups-due",
    tags=_LEADS,
    operation_id="admin_list_follow_ups_due",
    responses=problem_responses(AuthenticationError),
)
def follow_ups_due(
    request: Request,
    core: Core,
    staff: StaffPrincipal,
    day: date | None = None,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> Paged[LeadOut]:
    """Open leads the caller may see whose follow-up is due on ``day`` (default
    today on the business's calendar) or earlier, earliest follow-up first, a page
    at a time (follow ``next``).
    Declared before ``/api/admin/leads/{lead_id}``, which would take the path."""
    on = day or core.context.today()  # today on the business calendar
    page = core.leads.follow_ups_due(on, page_request(limit, cursor), principal=staff)
    return paged(Paged[LeadOut], request, page, LeadOut.of)


@router.get(
    "/api/admin/leads/{lead_id}",
    tags=_LEADS,
    operation_id="admin_get_lead",
    responses=problem_responses(AuthenticationError, NotFoundError),
)
def get_lead(lead_id: UUID, core: Core, staff: StaffPrincipal) -> LeadOut:
    """One lead."""
    return LeadOut.of(core.leads.get(LeadId(lead_id), principal=staff))


@router.post(
    "/api/admin/leads/{lead_id}/status",
    tags=_LEADS,
    operation_id="admin_move_lead",
    responses=problem_responses(
        AuthenticationError,
        NotFoundError,
        PermissionDeniedError,
        InvalidTransitionError,
        IdempotencyConflictError,
    ),
)
def move_lead(
    lead_id: UUID,
    body: LeadMoveIn,
    core: Core,
    staff: StaffPrincipal,
    idempotency_key: IdempotencyKey = None,
) -> LeadOut:
    """Move the lead along its statuses (``contacted``, ``qualified``, ``lost`` ...).

    With an ``Idempotency-Key`` a retry answers the lead as it is now.
    """
    lead = core.leads.move(
        LeadId(lead_id),
        body.status,
        principal=staff,
        reason=body.reason,
        idempotency_key=idempotency_key,
    )
    return LeadOut.of(lead)


@router.patch(
    "/api/admin/leads/{lead_id}/assign",
    tags=_LEADS,
    operation_id="admin_assign_lead",
    responses=problem_responses(
        AuthenticationError, NotFoundError, PermissionDeniedError, IdempotencyConflictError
    ),
)
def assign_lead(
    lead_id: UUID,
    body: LeadAssignIn,
    core: Core,
    staff: StaffPrincipal,
    idempotency_key: IdempotencyKey = None,
) -> LeadOut:
    """Give the lead to an active advisor, or to whom ``round_robin`` or ``least_loaded``
    picks among the active advisors (``null``: take it from whoever had it).

    With an ``Idempotency-Key`` a retry answers the lead as it is now and picks nobody again.
    """
    lead = core.leads.assign(
        LeadId(lead_id),
        _assign_to(body.assign),
        principal=staff,
        idempotency_key=idempotency_key,
    )
    return LeadOut.of(lead)


@router.put(
    "/api/admin/leads/{lead_id}/follow-up",
    tags=_LEADS,
    operation_id="admin_schedule_lead_follow_up",
    responses=problem_responses(AuthenticationError, NotFoundError, PermissionDeniedError),
)
def schedule_follow_up(
    lead_id: UUID, body: FollowUpIn, core: Core, staff: StaffPrincipal
) -> LeadOut:
    """Plan the next call on the lead (``null``: none planned); the dashboard lists it when due."""
    lead = core.leads.schedule_follow_up(LeadId(lead_id), body.follow_up_on, principal=staff)
    return LeadOut.of(lead)


# ---------------------------------------------------------------------- quotations


@router.post(
    "/api/admin/quotations",
    tags=_QUOTES,
    operation_id="admin_create_quotation",
    status_code=status.HTTP_201_CREATED,
    responses=problem_responses(
        AuthenticationError, PermissionDeniedError, IdempotencyConflictError
    ),
)
def create_quotation(
    body: QuotationIn, core: Core, staff: StaffPrincipal, idempotency_key: IdempotencyKey = None
) -> QuotationOut:
    """Make the first revision of a quotation (a draft; nothing is sent or booked yet).

    With an ``Idempotency-Key`` a retry answers the revision the first call made.
    """
    made = core.quotations.create(
        body.to_request(), principal=staff, idempotency_key=idempotency_key
    )
    return QuotationOut.of(made)


@router.get(
    "/api/admin/quotations",
    tags=_QUOTES,
    operation_id="admin_list_quotations",
    responses=problem_responses(AuthenticationError),
)
def list_quotations(
    request: Request,
    core: Core,
    staff: StaffPrincipal,
    status: str | None = None,
    customer_id: UUID | None = None,
    lead_id: UUID | None = None,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> Paged[QuotationOut]:
    """Revisions matching every filter, newest first, a page at a time (follow ``next``)."""
    page = core.quotations.list(
        page_request(limit, cursor),
        principal=staff,
        status=status,
        customer_id=None if customer_id is None else CustomerId(customer_id),
        lead_id=None if lead_id is None else LeadId(lead_id),
    )
    return paged(Paged[QuotationOut], request, page, QuotationOut.of)


@router.get(
    "/api/admin/quotations/{quotation_id}",
    tags=_QUOTES,
    operation_id="admin_get_quotation",
    responses=problem_responses(AuthenticationError, NotFoundError),
)
def get_quotation(quotation_id: UUID, core: Core, staff: StaffPrincipal) -> QuotationOut:
    """One revision."""
    return QuotationOut.of(core.quotations.get(QuotationId(quotation_id), principal=staff))


@router.post(
    "/api/admin/quotations/{quotation_id}/revise",
    tags=_QUOTES,
    operation_id="admin_revise_quotation",
    responses=problem_responses(
        AuthenticationError,
        NotFoundError,
        PermissionDeniedError,
        InvalidTransitionError,
        IdempotencyConflictError,
    ),
)
def revise_quotation(
    quotation_id: UUID,
    body: QuotationReviseIn,
    core: Core,
    staff: StaffPrincipal,
    idempotency_key: IdempotencyKey = None,
) -> QuotationOut:
    """Make the next revision (the one replaced is ``superseded``); fields left out are kept.

    Revising a replaced revision answers 422 on ``revision`` (code ``superseded``).
    With an ``Idempotency-Key`` a retry answers the revision the first call made.
    """
    revised = core.quotations.revise(
        QuotationId(quotation_id),
        principal=staff,
        lines=None if body.lines is None else [line.to_line() for line in body.lines],
        travelers=body.travelers,
        valid_until=body.valid_until,
        seat_price=None if body.seat_price is None else body.seat_price.to_money(),
        slot_id=None if body.slot_id is None else SlotId(body.slot_id),
        notes=body.notes,
        idempotency_key=idempotency_key,
    )
    return QuotationOut.of(revised)


@router.post(
    "/api/admin/quotations/{quotation_id}/send",
    tags=_QUOTES,
    operation_id="admin_send_quotation",
    responses=problem_responses(
        AuthenticationError,
        NotFoundError,
        PermissionDeniedError,
        InvalidTransitionError,
        IdempotencyConflictError,
    ),
)
def send_quotation(
    quotation_id: UUID, core: Core, staff: StaffPrincipal, idempotency_key: IdempotencyKey = None
) -> CommunicationOut:
    """Mark the revision sent and send it to the customer; the message as logged.

    With an ``Idempotency-Key`` a retry answers the message the first call sent,
    without sending it again.
    """
    sent = core.quotations.send(
        QuotationId(quotation_id), principal=staff, idempotency_key=idempotency_key
    )
    return CommunicationOut.of(sent.communication)


@router.get(
    "/api/v1/customer/quotations/{quotation_id}",
    tags=_QUOTES,
    operation_id="customer_get_quotation",
    responses=problem_responses(AuthenticationError, NotFoundError),
)
def customer_get_quotation(quotation_id: UUID, core: Core, me: CustomerPrincipal) -> QuotationOut:
    """One of my quotations, once sent to me (a draft answers 404)."""
    return QuotationOut.of(core.quotations.get(QuotationId(quotation_id), principal=me))


@router.get(
    "/api/v1/customer/quotations",
    tags=_QUOTES,
    operation_id="customer_list_quotations",
    responses=problem_responses(AuthenticationError),
)
def customer_list_quotations(
    request: Request, core: Core, me: CustomerPrincipal, limit: Limit = 50, cursor: Cursor = None
) -> Paged[QuotationOut]:
    """My quotations sent to me, every revision, newest first, a page at a time
    (follow ``next``); drafts never sent are left out."""
    page = core.quotations.list(page_request(limit, cursor), principal=me)
    return paged(Paged[QuotationOut], request, page, QuotationOut.of)


@router.post(
    "/api/v1/customer/quotations/{quotation_id}/approve",
    tags=_QUOTES,
    operation_id="customer_approve_quotation",
    status_code=status.HTTP_201_CREATED,
    responses=problem_responses(
        AuthenticationError,
        NotFoundError,
        PermissionDeniedError,
        InvalidTransitionError,
        CapacityError,
        IdempotencyConflictError,
    ),
)
def approve_quotation(
    quotation_id: UUID,
    body: QuotationApproveIn,
    core: Core,
    me: CustomerPrincipal,
    idempotency_key: RequiredIdempotencyKey,
) -> BookingOut:
    """Accept the current revision: it is booked, with its items, for these travelers.

    ``Idempotency-Key`` is required: a retry answers the first booking.
    """
    with fields_as_sent(new_traveler_fields()):
        booking = core.quotations.approve(
            QuotationId(quotation_id),
            [t.to_choice() for t in body.travelers],
            principal=me,
            idempotency_key=idempotency_key,
        )
    return booking_out(core, me, booking)


@router.post(
    "/api/v1/customer/quotations/{quotation_id}/reject",
    tags=_QUOTES,
    operation_id="customer_reject_quotation",
    responses=problem_responses(
        AuthenticationError, NotFoundError, PermissionDeniedError, InvalidTransitionError
    ),
)
def reject_quotation(
    quotation_id: UUID, body: QuotationRejectIn, core: Core, me: CustomerPrincipal
) -> QuotationOut:
    """Turn the revision down (the agency may revise it)."""
    rejected = core.quotations.reject(QuotationId(quotation_id), principal=me, reason=body.reason)
    return QuotationOut.of(rejected)


# ---------------------------------------------------------------------- items, documents, desk


@router.get(
    "/api/admin/bookings/{booking_id}/items",
    tags=_DESK,
    operation_id="admin_booking_items",
    responses=problem_responses(AuthenticationError, NotFoundError),
)
def booking_items(booking_id: UUID, core: Core, staff: StaffPrincipal) -> list[BookingItemOut]:
    """The booking's supplier items and their confirmations."""
    return [
        BookingItemOut.of(i) for i in core.items.for_booking(BookingId(booking_id), principal=staff)
    ]


@router.get(
    "/api/supplier/items",
    tags=_SUPPLIER,
    operation_id="supplier_list_items",
    responses=problem_responses(AuthenticationError, PermissionDeniedError),
)
def supplier_items(
    request: Request,
    core: Core,
    staff: StaffPrincipal,
    supplier_id: UUID | None = None,
    status: str | None = None,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> Paged[BookingItemOut]:
    """A supplier's items (a supplier's user: its own), newest first, a page at a time
    (follow ``next``)."""
    page = core.items.for_supplier(
        page_request(limit, cursor),
        principal=staff,
        supplier_id=None if supplier_id is None else SupplierId(supplier_id),
        status=status,
    )
    return paged(Paged[BookingItemOut], request, page, BookingItemOut.of)


@router.post(
    "/api/supplier/items/{item_id}/confirm",
    tags=_SUPPLIER,
    operation_id="supplier_confirm_item",
    responses=problem_responses(
        AuthenticationError,
        NotFoundError,
        PermissionDeniedError,
        InvalidTransitionError,
        IdempotencyConflictError,
    ),
)
def confirm_item(
    item_id: UUID,
    body: ItemConfirmIn,
    core: Core,
    staff: StaffPrincipal,
    idempotency_key: IdempotencyKey = None,
) -> BookingItemOut:
    """The supplier confirms the item; the booking moves on when every item is confirmed.

    With an ``Idempotency-Key`` a retry answers the item as it is now.
    """
    item = core.items.confirm(
        BookingItemId(item_id),
        principal=staff,
        supplier_reference=body.supplier_reference,
        idempotency_key=idempotency_key,
    )
    return BookingItemOut.of(item)


@router.post(
    "/api/supplier/items/{item_id}/reject",
    tags=_SUPPLIER,
    operation_id="supplier_reject_item",
    responses=problem_responses(
        AuthenticationError,
        NotFoundError,
        PermissionDeniedError,
        InvalidTransitionError,
        IdempotencyConflictError,
    ),
)
def reject_item(
    item_id: UUID,
    body: ItemRejectIn,
    core: Core,
    staff: StaffPrincipal,
    idempotency_key: IdempotencyKey = None,
) -> BookingItemOut:
    """The supplier turns the item down; staff see the reason.

    With an ``Idempotency-Key`` a retry answers the item as it is now.
    """
    item = core.items.reject(
        BookingItemId(item_id), body.reason, principal=staff, idempotency_key=idempotency_key
    )
    return BookingItemOut.of(item)


@router.post(
    "/api/documents/generate",
    tags=_DESK,
    operation_id="generate_documents",
    responses=problem_responses(
        AuthenticationError, NotFoundError, PermissionDeniedError, IdempotencyConflictError
    ),
)
def generate_documents(
    body: DocumentRequestIn,
    core: Core,
    staff: StaffPrincipal,
    idempotency_key: IdempotencyKey = None,
) -> list[DocumentOut]:
    """Write the next version of the booking's quotation, voucher or itinerary documents.

    Each document names the staff member who generated it (``generated_by``). With an
    ``Idempotency-Key`` a retry answers the documents the first call wrote and writes
    no new version.
    """
    made = core.travel_documents.generate(
        BookingId(body.booking_id), body.kind, principal=staff, idempotency_key=idempotency_key
    )
    return [DocumentOut.of(d) for d in made]


@router.get(
    "/api/admin/dashboard",
    tags=_DESK,
    operation_id="admin_dashboard",
    responses=problem_responses(AuthenticationError, PermissionDeniedError),
)
def dashboard(core: Core, staff: StaffPrincipal, day: date | None = None) -> DashboardOut:
    """A travel desk's admin dashboard: leads, follow-ups, quotations, suppliers, departures."""
    board = core.dashboard.staff(principal=staff, day=day)
    shown = [
        *(b for b, _ in board.bookings_waiting_for_supplier),
        *board.departures,
        *board.awaiting_payment,
    ]
    return DashboardOut.of(board, partner_names(core, staff, shown))


@router.get(
    "/api/bookings/{booking_id}/itinerary",
    tags=_DESK,
    operation_id="get_booking_itinerary",
    responses=problem_responses(AuthenticationError, RateLimitedError, NotFoundError),
)
def get_itinerary(booking_id: UUID, core: Core, caller: AnyPrincipal) -> ItineraryOut:
    """The booking's day-by-day plan, for whoever may see the booking (404: none yet)."""
    return ItineraryOut.of(core.itineraries.get(BookingId(booking_id), principal=caller))


@router.post(
    "/api/admin/bookings/{booking_id}/itinerary",
    tags=_DESK,
    operation_id="admin_plan_itinerary",
    responses=problem_responses(
        AuthenticationError, NotFoundError, PermissionDeniedError, IdempotencyConflictError
    ),
)
def plan_itinerary(
    booking_id: UUID,
    core: Core,
    staff: StaffPrincipal,
    replace: bool = False,
    idempotency_key: IdempotencyKey = None,
) -> ItineraryOut:
    """Make the booking's plan from its live items (``replace``: make it again).

    With an ``Idempotency-Key`` a retry answers the plan as it is now (a retried
    ``replace`` loses no edit made since).
    """
    made = core.itineraries.generate(
        BookingId(booking_id),
        principal=staff,
        replace=replace,
        idempotency_key=idempotency_key,
    )
    return ItineraryOut.of(made)


# ---------------------------------------------------------------------- lead conversion, history


@router.post(
    "/api/admin/leads/{lead_id}/convert",
    tags=_LEADS,
    operation_id="admin_convert_lead",
    status_code=status.HTTP_201_CREATED,
    responses=problem_responses(
        AuthenticationError,
        NotFoundError,
        PermissionDeniedError,
        InvalidTransitionError,
        IdempotencyConflictError,
    ),
)
def convert_lead(
    lead_id: UUID,
    body: LeadConvertIn,
    core: Core,
    staff: StaffPrincipal,
    idempotency_key: IdempotencyKey = None,
) -> QuotationOut:
    """Turn a lead into the first revision of a quotation for its customer (a draft).

    ``travelers`` defaults to the lead's party size; the lead moves to ``quoted``.
    A won or lost lead answers 409. With an ``Idempotency-Key`` a retry answers
    the revision the first call made.
    """
    made = core.quotations.convert_lead(
        LeadId(lead_id),
        slot_id=SlotId(body.slot_id),
        valid_until=body.valid_until,
        principal=staff,
        lines=[line.to_line() for line in body.lines],
        travelers=body.travelers,
        seat_price=None if body.seat_price is None else body.seat_price.to_money(),
        notes=body.notes,
        idempotency_key=idempotency_key,
    )
    return QuotationOut.of(made)


@router.get(
    "/api/admin/quotations/{quotation_id}/revisions",
    tags=_QUOTES,
    operation_id="admin_quotation_revisions",
    responses=problem_responses(AuthenticationError, NotFoundError),
)
def quotation_revisions(
    quotation_id: UUID, core: Core, staff: StaffPrincipal
) -> list[QuotationOut]:
    """Every revision of the quotation this one belongs to, first first; the last is current."""
    one = core.quotations.get(QuotationId(quotation_id), principal=staff)
    return [QuotationOut.of(q) for q in core.quotations.revisions(one.reference, principal=staff)]
