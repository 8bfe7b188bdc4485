"""Archiving old bookings (``core.archive``): ended bookings leave the operational lists.

The routine maintenance task "archive old booking data". A booking is archived
once its status is final in its lifecycle
(:func:`~bookingcore.domain.archiving.final_states`), its slot ended before the
cutoff (``Settings.archive_after`` ago, or a cutoff staff give) and nothing
about it is open: no balance left to pay, no payment in flight or flagged for
staff, no pending or unreconciled refund, no open waiting-list offer on its slot
(:func:`~bookingcore.domain.archiving.why_kept`)::

    run = core.archive.archive_due(principal=admin)          # Settings.archive_after ago
    run = core.archive.archive_due(principal=admin, ended_before=cutoff)
    core.archive.unarchive(booking_id, principal=admin, reason="customer disputes it")

Archiving only sets ``Booking.archived_at``: every field, the history, the
payments and the audit trail stay. Archived bookings are left out of
``core.bookings.list``, the exports and the dashboard unless the filter asks
for them (``BookingFilter(include_archived=True)``, or ``only_archived``), and
stay in every report, in the customer's own history and in privacy exports,
erasures and merges. Nothing moves an archived booking: a transition,
reschedule, traveler change or attendance mark raises
:class:`~bookingcore.errors.BookingArchivedError` until staff unarchive it.

Each batch is one transaction: the bookings are locked, checked again, and
archived with one audit entry each (``archived``: the booking's own trail says
when and by whom it left the lists) and one
:class:`~bookingcore.domain.events.BookingsArchived` event for the batch. Two
workers archiving at once archive each booking once; running it again archives
nothing more.

.. versionadded:: 0.4
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from datetime import datetime

import attrs

from bookingcore.domain import policy
from bookingcore.domain._validation import bounded_count, clean_text
from bookingcore.domain.archiving import KeptReason, archivable_statuses, why_kept
from bookingcore.domain.bookings import Booking
from bookingcore.domain.events import BookingsArchived, BookingUnarchived
from bookingcore.domain.policy import Permission, Principal
from bookingcore.domain.queries import BookingFilter, Cursor
from bookingcore.domain.slots import Slot
from bookingcore.domain.tallies import Grouping
from bookingcore.domain.values import BookingId, Money, SlotId
from bookingcore.domain.waitlist import WaitlistEntry
from bookingcore.errors import NotFoundError, ValidationError
from bookingcore.ports.uow import UnitOfWork
from bookingcore.services._context import ServiceContext
from bookingcore.services._settlement import balance_due

__all__ = ["ArchiveRun", "ArchiveService", "ArchiveSummary"]

#: The largest batch one transaction archives.
MAX_BATCH = 1000


@attrs.frozen
class ArchiveRun:
    """What one :meth:`ArchiveService.archive_due` call did.

    ``archived`` bookings were archived in ``batches`` transactions; ``kept``
    counts the candidates left live, by :class:`~bookingcore.domain.archiving.KeptReason`
    (a booking kept for an open balance is reported here, not skipped silently).

    .. versionadded:: 0.4
    """

    ended_before: datetime
    archived: int = 0
    batches: int = 0
    kept: Mapping[str, int] = attrs.field(factory=dict)


@attrs.frozen
class ArchiveSummary:
    """How many bookings are live and how many archived: what the operational lists
    still carry against the stored history (to monitor storage usage).

    .. versionadded:: 0.4
    """

    live: int
    archived: int

    @property
    def archived_share(self) -> float:
        """The archived bookings' share of all bookings (0 without any)."""
        total = self.live + self.archived
        return self.archived / total if total else 0.0


class ArchiveService:
    """``core.archive``: archive ended bookings in batches, and bring one back.

    .. versionadded:: 0.4
    """

    def __init__(self, context: ServiceContext) -> None:
        self._ctx = context

    def cutoff(self, ended_before: datetime | None = None) -> datetime:
        """The cutoff :meth:`archive_due` uses: ``ended_before`` when given, else
        ``Settings.archive_after`` before now.

        Raises:
            ValidationError: on ``ended_before``: not a datetime (a date, text:
                ``invalid_type``), naive, or later than now (``in_future``); or
                not given while ``Settings.archive_after`` is ``None``
                (``not_configured``).
        """
        now = self._ctx.now()
        if ended_before is None:
            after = self._ctx.settings.archive_after
            if after is None:
                msg = "give a cutoff, or set Settings.archive_after to archive on a schedule"
                raise ValidationError.single("ended_before", msg, "not_configured")
            return now - after
        given: object = ended_before
        if not isinstance(given, datetime):
            msg = "must be a timezone-aware datetime"
            raise ValidationError.single("ended_before", msg, "invalid_type")
        if ended_before.tzinfo is None:
            msg = "must be a timezone-aware datetime"
            raise ValidationError.single("ended_before", msg, "naive_datetime")
        if ended_before > now:
            msg = "must not be later than now: only slots that ended are archived"
            raise ValidationError.single("ended_before", msg, "in_future")
        return ended_before

    def archive_due(
        self,
        *,
        principal: Principal,
        ended_before: datetime | None = None,
        batch_size: int = 200,
        limit: int | None = None,
        reason: str | None = None,
    ) -> ArchiveRun:
        """Archive the bookings in a final state whose slot ended before the cutoff
        (:meth:`cutoff`), ``batch_size`` per transaction, until none is left (or
        ``limit`` were archived).

        Bookings are taken earliest slot first. One that is not final, ended
        later, or has money or an offer still open is left live and counted in
        :attr:`ArchiveRun.kept`. Safe to run twice, and on two workers at once.

        Args:
            ended_before: the cutoff; ``Settings.archive_after`` before now when ``None``.
            batch_size: bookings per transaction (each batch raises one
                :class:`~bookingcore.domain.events.BookingsArchived`).
            limit: the most bookings this call archives (``None``: all that are due).
            reason: kept on each booking's ``archived`` audit entry.

        Raises:
            PermissionDeniedError: ``principal`` may not change every booking.
            ValidationError: a bad cutoff (see :meth:`cutoff`); ``batch_size``
                outside 1-1000; ``limit`` below 1.
        """
        policy.require(
            principal.has(Permission.CHANGE_ALL), f"{principal} may not archive bookings"
        )
        batch_size = bounded_count(batch_size, "batch_size", minimum=1, maximum=MAX_BATCH)
        if limit is not None:
            limit = bounded_count(limit, "limit", minimum=1)
        reason = clean_text(reason, "reason", max_length=2000)
        cutoff = self.cutoff(ended_before)
        statuses = archivable_statuses(self._ctx.settings.lifecycles.values())
        archived = batches = 0
        kept: Counter[str] = Counter()
        after: Cursor | None = None
        while limit is None or archived < limit:
            wanted = batch_size if limit is None else min(batch_size, limit - archived)
            with self._ctx.uow_factory().read_only() as uow:
                due = [
                    (b.id, b.starts_at)
                    for b in uow.bookings.list_to_archive(
                        cutoff, statuses, limit=wanted, after=after
                    )
                ]
            if not due:
                break
            after = Cursor(due[-1][1], due[-1][0])
            done = self._archive_batch([i for i, _ in due], cutoff, principal, reason, kept)
            archived += done
            batches += 1 if done else 0
            if len(due) < wanted:
                break
        return ArchiveRun(cutoff, archived, batches, dict(sorted(kept.items())))

    def _archive_batch(
        self,
        booking_ids: Sequence[BookingId],
        cutoff: datetime,
        principal: Principal,
        reason: str | None,
        kept: Counter[str],
    ) -> int:
        archived: list[BookingId] = []
        with self._ctx.transaction() as tx:
            author = self._ctx.author(principal)
            checks = _Checks(self._ctx, tx.uow, cutoff)
            for booking_id in booking_ids:
                booking = tx.uow.bookings.get_for_update(booking_id)
                if booking is None or booking.archived_at is not None:
                    continue  # archived by another worker meanwhile
                why = checks.why_kept(booking)
                if why is not None:
                    kept[why.value] += 1
                    continue
                entry = booking.archive(author=author, reason=reason or _ARCHIVED_REASON)
                if entry is not None:
                    tx.uow.audit.add(entry)
                    archived.append(booking.id)
            if archived:
                tx.emit(
                    BookingsArchived(
                        id=self._ctx.ids.new_id(),
                        occurred_at=author.now,
                        booking_ids=tuple(archived),
                        ended_before=cutoff,
                        actor=principal.actor,
                    )
                )
            tx.commit()
        return len(archived)

    def summary(self, *, principal: Principal) -> ArchiveSummary:
        """How many bookings are live and how many archived (two counts in the store).

        Raises:
            PermissionDeniedError: ``principal`` may not see every booking.
        """
        policy.require(principal.has(Permission.VIEW_ALL), f"{principal} may not see every booking")
        with self._ctx.uow_factory().read_only() as uow:
            counts = [
                sum(row.bookings for row in uow.bookings.count_in(query, Grouping.NONE, ()))
                for query in (BookingFilter(), BookingFilter(only_archived=True))
            ]
        return ArchiveSummary(live=counts[0], archived=counts[1])

    def why_kept(
        self, booking_id: BookingId, *, principal: Principal, ended_before: datetime | None = None
    ) -> KeptReason | None:
        """Why :meth:`archive_due` would leave the booking live with this cutoff, or
        ``None`` when it would archive it (or it is archived already).

        Raises:
            PermissionDeniedError: ``principal`` may not see every booking.
            NotFoundError: no such booking.
            ValidationError: a bad cutoff (see :meth:`cutoff`).
        """
        policy.require(principal.has(Permission.VIEW_ALL), f"{principal} may not see every booking")
        cutoff = self.cutoff(ended_before)
        with self._ctx.uow_factory() as uow:
            booking = uow.bookings.get(booking_id)
            if booking is None:
                raise NotFoundError("booking", booking_id)
            if booking.archived_at is not None:
                return None
            return _Checks(self._ctx, uow, cutoff).why_kept(booking)

    def unarchive(
        self, booking_id: BookingId, *, principal: Principal, reason: str | None = None
    ) -> Booking:
        """Bring the archived booking back to the operational lists, so it may be
        changed again; a live booking is returned as it is (nothing recorded).

        Records an ``unarchived`` audit entry and a
        :class:`~bookingcore.domain.events.BookingUnarchived` event. The daily job
        archives the booking again once it is due, unless something about it is
        open by then.

        Raises:
            PermissionDeniedError: ``principal`` may not change every booking.
            NotFoundError: no such booking.
            ValidationError: on ``reason`` (control characters, too long).
        """
        policy.require(
            principal.has(Permission.CHANGE_ALL), f"{principal} may not unarchive bookings"
        )
        reason = clean_text(reason, "reason", max_length=2000)
        with self._ctx.transaction() as tx:
            booking = tx.uow.bookings.get_for_update(booking_id)
            if booking is None:
                raise NotFoundError("booking", booking_id)
            author = self._ctx.author(principal)
            entry = booking.unarchive(author=author, reason=reason)
            if entry is None:
                return booking
            tx.uow.audit.add(entry)
            tx.emit(
                BookingUnarchived(
                    id=self._ctx.ids.new_id(),
                    occurred_at=author.now,
                    booking_id=booking.id,
                    actor=principal.actor,
                    reason=reason,
                )
            )
            tx.commit()
            return booking


#: The audit reason of an archiving nobody gave one for.
_ARCHIVED_REASON = "ended before the archive cutoff"


class _Checks:
    """:func:`why_kept` for the bookings of one batch, reading each slot and its
    waiting list once."""

    def __init__(self, context: ServiceContext, uow: UnitOfWork, cutoff: datetime) -> None:
        self._ctx = context
        self._uow = uow
        self._cutoff = cutoff
        self._slots: dict[SlotId, Slot | None] = {}
        self._offers: dict[SlotId, Sequence[WaitlistEntry]] = {}

    def why_kept(self, booking: Booking) -> KeptReason | None:
        uow = self._uow
        lifecycle = self._ctx.settings.lifecycle(booking.lifecycle)
        if booking.slot_id not in self._slots:
            self._slots[booking.slot_id] = uow.slots.get(booking.slot_id)
        slot = self._slots[booking.slot_id]
        if slot is None:  # pragma: no cover - a booking's slot is never deleted
            return KeptReason.RECENT
        payments = uow.payments.list_for_booking(booking.id)
        paid = Money.zero(booking.currency)
        for payment in payments:
            if payment.currency == booking.currency:
                paid += payment.net_amount
        refunds = {p.id: uow.refunds.list_for_payment(p.id) for p in payments}
        if booking.slot_id not in self._offers:
            self._offers[booking.slot_id] = uow.waitlist.list_for_slot(
                booking.slot_id, active_only=True
            )
        return why_kept(
            booking,
            lifecycle=lifecycle,
            slot=slot,
            ended_before=self._cutoff,
            balance_due=balance_due(lifecycle, booking, paid),
            payments=payments,
            refunds=refunds,
            offers=self._offers[booking.slot_id],
        )
