"""Pydantic models of certificates, documents, privacy, staff and waiting-list conversion.

As in :mod:`examples.api.schemas`: the models check shapes and types, the library
checks the rules and names the field of each problem.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from uuid import UUID

from pydantic import AwareDatetime, BaseModel, Field

from bookingcore.domain import Document
from bookingcore.services import ArchiveRun, ArchiveSummary, ComplianceReport, WaitlistConversion
from examples.api.schemas import StrictIn
from examples.api.schemas_ops import CertificateOut

__all__ = [
    "ArchiveIn",
    "ArchiveRunOut",
    "ArchiveSummaryOut",
    "CertificateIssueIn",
    "CertificateRenewIn",
    "ComplianceLineOut",
    "ComplianceReportOut",
    "CustomerEraseIn",
    "CustomerMergeIn",
    "DocumentOut",
    "StaffIn",
    "UnarchiveIn",
    "WaitlistConversionOut",
]


class ArchiveIn(StrictIn):
    """Archive now: the bookings in a final state whose slot ended before ``ended_before``
    (default: ``Settings.archive_after`` ago) and with nothing open."""

    ended_before: AwareDatetime | None = Field(
        default=None, description="Default: Settings.archive_after before now"
    )
    batch_size: int = Field(default=200, ge=1, le=1000, description="Bookings per transaction")


class ArchiveRunOut(BaseModel):
    """What one archiving did: how many bookings it archived, in how many batches, and the
    candidates it left live by reason (``open_balance``, ``recent``, ...)."""

    ended_before: datetime
    archived: int
    batches: int
    kept: dict[str, int]

    @classmethod
    def of(cls, run: ArchiveRun) -> ArchiveRunOut:
        """The run as returned by ``core.archive.archive_due``."""
        return cls(
            ended_before=run.ended_before,
            archived=run.archived,
            batches=run.batches,
            kept=dict(run.kept),
        )


class ArchiveSummaryOut(BaseModel):
    """How many bookings are live and how many archived, and the archived share."""

    live: int
    archived: int
    archived_share: float

    @classmethod
    def of(cls, summary: ArchiveSummary) -> ArchiveSummaryOut:
        """The summary as ``core.archive.summary`` returns it."""
        return cls(
            live=summary.live, archived=summary.archived, archived_share=summary.archived_share
        )


class UnarchiveIn(StrictIn):
    """Why the booking comes back (kept on its audit entry)."""

    reason: str | None = Field(default=None, max_length=500)


class CertificateIssueIn(StrictIn):
    """A certificate earned on a completed booking (by one of its travelers, if given)."""

    booking_id: UUID
    kind: str = Field(max_length=100, examples=["PADI Open Water"])
    number: str = Field(max_length=100, examples=["OW-2026-0042"])
    traveler_id: UUID | None = None
    issued_at: AwareDatetime | None = Field(default=None, description="Default: now")
    expires_at: AwareDatetime | None = Field(default=None, description="None: never expires")


class CertificateRenewIn(StrictIn):
    """The certificate's new expiry: a day after today on the business's calendar."""

    expires_at: AwareDatetime


class ComplianceLineOut(BaseModel):
    """One certificate in the compliance report: who holds it and where it stands."""

    certificate: CertificateOut
    holder: str
    state: str = Field(examples=["expiring"])


class ComplianceReportOut(BaseModel):
    """Who holds what and what expires when, soonest expiry first (permanent ones last)."""

    generated_at: datetime
    counts: dict[str, int] = Field(description="Certificates per state")
    lines: list[ComplianceLineOut]

    @classmethod
    def of(cls, report: ComplianceReport) -> ComplianceReportOut:
        """The report's lines and counts."""
        return cls(
            generated_at=report.generated_at,
            counts={state.value: n for state, n in report.counts.items()},
            lines=[
                ComplianceLineOut(
                    certificate=CertificateOut.of(line.certificate),
                    holder=line.holder,
                    state=line.state.value,
                )
                for line in report.lines
            ],
        )


class DocumentOut(BaseModel):
    """A document generated for a booking; its file is at ``GET /api/documents/{id}``."""

    id: UUID
    booking_id: UUID
    kind: str = Field(examples=["voucher"])
    filename: str
    media_type: str = Field(examples=["text/plain"])
    created_at: datetime
    generated_by: UUID | None

    @classmethod
    def of(cls, document: Document) -> DocumentOut:
        """The document's fields, without its content."""
        return cls(
            id=document.id,
            booking_id=document.booking_id,
            kind=document.kind.value,
            filename=document.filename,
            media_type=document.media_type,
            created_at=document.created_at,
            generated_by=document.generated_by,
        )


class CustomerMergeIn(StrictIn):
    """The duplicate record to merge into the customer of the path, and why."""

    duplicate_id: UUID
    reason: str | None = Field(default=None, max_length=500)


class CustomerEraseIn(StrictIn):
    """Why the customer is erased (kept on the audit entry, without their data)."""

    reason: str | None = Field(default=None, max_length=500)


class StaffIn(StrictIn):
    """A staff member or advisor to add; ``locations`` (location codes) is an advisor's
    territory. They sign in once a password is set."""

    email: str = Field(max_length=320, examples=["advisor@example.com"])
    name: str = Field(max_length=200, examples=["Meera Nair"])
    role: str = Field(default="advisor", max_length=32, examples=["advisor"])
    locations: list[str] = Field(default_factory=list, max_length=200)


class WaitlistConversionOut(BaseModel):
    """Waiting-list entries that joined in the period, by outcome, and their conversion."""

    joined: int
    seats: int
    waiting: int
    offered: int
    booked: int
    expired: int
    cancelled: int
    conversion_rate: Decimal = Field(description="booked / joined")
    acceptance_rate: Decimal = Field(description="booked / offered")

    @classmethod
    def of(cls, found: WaitlistConversion) -> WaitlistConversionOut:
        """The report's figures."""
        return cls(
            joined=found.joined,
            seats=found.seats,
            waiting=found.waiting,
            offered=found.offered,
            booked=found.booked,
            expired=found.expired,
            cancelled=found.cancelled,
            conversion_rate=found.conversion_rate,
            acceptance_rate=found.acceptance_rate,
        )
