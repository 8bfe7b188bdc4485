"""The CLI's archive commands: archive ended bookings now, list them, bring one back.

The ``worker`` archives on its own once a day (the ``bookings.archive`` job, with
``Settings.archive_after`` of :data:`examples.cli.jobs.ARCHIVE_AFTER`); these commands are for an
operator who wants it done now, with a cutoff of their own, or needs one back.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime, time

from bookingcore import BookingFilter, PageRequest
from bookingcore.domain import Booking
from bookingcore.services import ArchiveRun
from examples.cli.imports import CLI, opened

__all__ = ["archive_bookings", "archived_bookings", "cutoff_of", "unarchive_booking"]


def cutoff_of(day: date | None) -> datetime | None:
    """The cutoff for slots that ended before ``day`` (midnight UTC), if given."""
    return None if day is None else datetime.combine(day, time(0), tzinfo=UTC)


def archive_bookings(database: str, ended_before: date, *, batch_size: int = 200) -> ArchiveRun:
    """Archive the ended, settled bookings whose slot ended before ``ended_before``."""
    with opened(database) as core:
        return core.archive.archive_due(
            principal=CLI, ended_before=cutoff_of(ended_before), batch_size=batch_size
        )


def archived_bookings(database: str, *, limit: int = 50) -> Sequence[Booking]:
    """The archived bookings, newest first (at most ``limit``)."""
    with opened(database) as core:
        page = core.bookings.list(
            BookingFilter(only_archived=True), PageRequest(limit=limit), principal=CLI
        )
        return page.items


def unarchive_booking(database: str, reference: str, reason: str | None = None) -> Booking:
    """Bring the booking with ``reference`` back to the operational lists.

    Raises:
        NotFoundError: no booking has that reference.
    """
    with opened(database) as core:
        found = core.bookings.get_by_reference(reference, principal=CLI)
        return core.archive.unarchive(found.id, principal=CLI, reason=reason)
