"""Booking documents (invoices, vouchers, itineraries): list a booking's, download one file.

Any signed-in caller: staff, the customer who owns the booking, the partner that
made it. Who may read which document is the library's rule
(:meth:`~bookingcore.services.BookingService.documents` and
:meth:`~bookingcore.services.BookingService.document`): a booking the caller may not
see answers 404, and so does a document of a customer a partner may not see.
Generating documents is ``POST /api/documents/generate`` (the travel desk).
"""

from __future__ import annotations

from urllib.parse import quote
from uuid import UUID

from fastapi import APIRouter, Response

from bookingcore import AuthenticationError, BookingId, DocumentId, NotFoundError, RateLimitedError
from examples.api.deps import AnyPrincipal, Core
from examples.api.errors import problem_responses
from examples.api.schemas_admin import DocumentOut

__all__ = ["router"]

router = APIRouter(tags=["documents"])

_RESPONSES = problem_responses(AuthenticationError, RateLimitedError, NotFoundError)


@router.get(
    "/api/bookings/{booking_id}/documents",
    operation_id="booking_documents",
    responses=_RESPONSES,
)
def booking_documents(booking_id: UUID, core: Core, caller: AnyPrincipal) -> list[DocumentOut]:
    """The documents generated for the booking (invoice, voucher, itinerary, ...), oldest
    first, without their files (``GET /api/documents/{id}`` downloads one)."""
    found = core.bookings.documents(BookingId(booking_id), principal=caller)
    return [DocumentOut.of(d) for d in found]


@router.get(
    "/api/documents/{document_id}",
    operation_id="download_document",
    response_class=Response,
    responses={
        **_RESPONSES,
        200: {
            "description": "The file, with its stored media type and file name",
            "content": {"*/*": {"schema": {"type": "string", "format": "binary"}}},
        },
    },
)
def download_document(document_id: UUID, core: Core, caller: AnyPrincipal) -> Response:
    """One document's file, sent with the media type it was stored with and its file name
    (``Content-Disposition: attachment``)."""
    document = core.bookings.document(DocumentId(document_id), principal=caller)
    return Response(
        document.to_bytes(),
        media_type=document.media_type,
        headers={"Content-Disposition": _attachment(document.filename)},
    )


def _attachment(filename: str) -> str:
    """``attachment`` with the file name, ASCII-safe (RFC 6266 with an RFC 5987 form)."""
    plain = "".join(
        c if c.isascii() and c.isprintable() and c not in '"\\' else "_" for c in filename
    )
    return f"attachment; filename=\"{plain}\"; filename*=UTF-8''{quote(filename, safe='')}"
