"""Leads for travel agencies: an enquiry that may become a quotation and then a booking.

A lead belongs to a customer (found or created by phone or email when it is
captured), comes from a :class:`LeadSource` (a web form, a phone call, a
partner, ...), may be assigned to a member of staff and carries a follow-up
date. Its :class:`LeadStatus` moves along a small table::

    new -> contacted | qualified | quoted | lost
    contacted -> qualified | quoted | lost
    qualified -> quoted | lost
    quoted -> won | lost
    lost -> new            (reopened)

``quoted`` is reached when the lead is converted into a quotation; ``won``
when one of its quotations is approved (a booking exists), from whatever
status the lead is in (:meth:`Lead.win`).

.. versionadded:: 0.3
"""

from __future__ import annotations

import enum
from datetime import date, datetime

import attrs

from bookingcore.domain._validation import calendar_day, check_move, clean_text, parse_choice
from bookingcore.domain.values import (
    CustomerId,
    LeadId,
    PartnerId,
    StaffId,
    Versioned,
    ensure_aware,
)
from bookingcore.errors import ValidationError

__all__ = ["OPEN_LEAD_STATUSES", "Lead", "LeadFilter", "LeadSource", "LeadStatus", "lead_date"]


class LeadSource(enum.StrEnum):
    """Where an enquiry came from.

    .. versionadded:: 0.3
    """

    WEB_FORM = "web_form"
    PHONE = "phone"
    PARTNER = "partner"
    EMAIL = "email"
    WALK_IN = "walk_in"
    REFERRAL = "referral"
    OTHER = "other"


class LeadStatus(enum.StrEnum):
    """Where a lead is in the sale.

    .. versionadded:: 0.3
    """

    NEW = "new"
    CONTACTED = "contacted"
    QUALIFIED = "qualified"
    QUOTED = "quoted"
    WON = "won"
    LOST = "lost"


#: Statuses of leads still being worked on (they count toward a person's load).
OPEN_LEAD_STATUSES = frozenset(
    {LeadStatus.NEW, LeadStatus.CONTACTED, LeadStatus.QUALIFIED, LeadStatus.QUOTED}
)

_MOVES: dict[LeadStatus, frozenset[LeadStatus]] = {
    LeadStatus.NEW: frozenset(
        {LeadStatus.CONTACTED, LeadStatus.QUALIFIED, LeadStatus.QUOTED, LeadStatus.LOST}
    ),
    LeadStatus.CONTACTED: frozenset({LeadStatus.QUALIFIED, LeadStatus.QUOTED, LeadStatus.LOST}),
    LeadStatus.QUALIFIED: frozenset({LeadStatus.QUOTED, LeadStatus.LOST}),
    LeadStatus.QUOTED: frozenset({LeadStatus.WON, LeadStatus.LOST}),
    LeadStatus.WON: frozenset(),
    LeadStatus.LOST: frozenset({LeadStatus.NEW}),
}


def _source(value: object) -> LeadSource:
    return parse_choice(LeadSource, value, "source", what="a lead source")


def _status(value: object) -> LeadStatus:
    return parse_choice(LeadStatus, value, "status", what="a lead status")


def lead_date(value: object, field: str) -> date | None:
    """``value`` when it is a calendar day (or ``None``): a lead's travel dates and
    follow-up date are days, never a datetime or text.

    Raises:
        ValidationError: on ``field`` (``invalid_type``) for anything else.

    .. versionadded:: 0.4
    """
    return None if value is None else calendar_day(value, field)


def _party(value: object) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 500:
        raise ValidationError.single("travelers", "must be 1 to 500", "out_of_range")
    return value


@attrs.define(slots=False, kw_only=True)
class Lead(Versioned):
    """An enquiry from a customer: what they want, who works on it, when to call back.

    Invariants: a customer; travel dates, when both are known, in order; a
    ``lost_reason`` only on a lost lead.

    Raises:
        ValidationError: naming the field that breaks an invariant.

    .. versionadded:: 0.3
    """

    id: LeadId
    customer_id: CustomerId
    source: LeadSource = attrs.field(converter=_source)
    created_at: datetime
    updated_at: datetime
    status: LeadStatus = attrs.field(default=LeadStatus.NEW, converter=_status)
    destination: str | None = None
    travel_starts_on: date | None = None
    travel_ends_on: date | None = None
    travelers: int | None = attrs.field(default=None, converter=_party)
    notes: str | None = None
    assignee_id: StaffId | None = None
    partner_id: PartnerId | None = None
    follow_up_on: date | None = None
    lost_reason: str | None = None
    #: The scoped idempotency key of the capture that made the lead (unique in
    #: storage) and the digest of that request.
    #:
    #: .. versionadded:: 0.3
    idempotency_key: str | None = None
    request_fingerprint: str | None = None
    version: int = 1

    entity_name = "lead"

    def __attrs_post_init__(self) -> None:
        self.destination = clean_text(self.destination, "destination", max_length=200)
        self.notes = clean_text(self.notes, "notes", max_length=5000)
        self.lost_reason = clean_text(self.lost_reason, "lost_reason", max_length=500)
        self.created_at = ensure_aware(self.created_at, "created_at")
        self.updated_at = ensure_aware(self.updated_at, "updated_at")
        for field in ("travel_starts_on", "travel_ends_on", "follow_up_on"):
            lead_date(getattr(self, field), field)
        starts, ends = self.travel_starts_on, self.travel_ends_on
        if starts is not None and ends is not None and ends < starts:
            msg = f"{ends.isoformat()} is before the trip starts ({starts.isoformat()})"
            raise ValidationError.single("travel_ends_on", msg, "before_start")

    @property
    def is_open(self) -> bool:
        """True while someone is still working on the lead."""
        return self.status in OPEN_LEAD_STATUSES

    def move(self, target: LeadStatus | str, *, now: datetime, reason: str | None = None) -> None:
        """Move the lead to ``target``; a lost lead keeps ``reason`` as its ``lost_reason``.

        Raises:
            ValidationError: on ``status`` for an unknown status; on ``reason`` when
                it is not text or over 500 characters (the lead is left as it was).
            InvalidTransitionError: the move is not in the table.
        """
        wanted = _status(target)
        if wanted is self.status and wanted is LeadStatus.QUOTED:
            self.touch(now)  # a further quotation for a quoted lead
            return
        check_move("lead", f"lead {self.id}", _MOVES, self.status, wanted)
        lost_reason = (
            clean_text(reason, "reason", max_length=500) if wanted is LeadStatus.LOST else None
        )
        self.status = wanted
        self.lost_reason = lost_reason
        self.touch(now)

    def win(self, *, now: datetime) -> None:
        """One of the lead's quotations was approved: the lead is ``won``, whatever it was.

        The booking exists, so this is a fact rather than a move of the table: a
        lead marked ``lost`` (or lost and reopened) whose customer then approved a
        quotation still sent to them is won too, and forgets its ``lost_reason``.
        Nothing changes when the lead is won already.

        .. versionadded:: 0.4
        """
        if self.status is LeadStatus.WON:
            return
        self.status = LeadStatus.WON
        self.lost_reason = None
        self.touch(now)

    def assign(self, staff_id: StaffId | None, *, now: datetime) -> None:
        """Give the lead to ``staff_id`` (``None``: nobody)."""
        self.assignee_id = staff_id
        self.touch(now)

    def schedule_follow_up(self, on: date | None, *, now: datetime) -> None:
        """Call the customer back on ``on`` (``None``: no follow-up planned).

        Raises:
            ValidationError: on ``follow_up_on`` when ``on`` is not a date.
        """
        self.follow_up_on = lead_date(on, "follow_up_on")
        self.touch(now)

    def touch(self, now: datetime) -> None:
        """Record that the lead changed: new ``updated_at``, next version."""
        self.updated_at = ensure_aware(now, "now")
        self.version += 1


@attrs.frozen
class LeadFilter:
    """Which leads to list. Every field left ``None`` does not filter.

    :func:`~bookingcore.domain.policy.scope_leads` narrows it to what a
    principal may see (a partner's own leads, an advisor's assigned ones).

    ``assigned`` keeps the leads someone is assigned to (``True``) or nobody is
    (``False``); ``follow_up_due_on`` keeps the open leads whose follow-up date
    is that day or earlier.

    .. versionadded:: 0.3
    .. versionchanged:: 0.3
       ``assigned`` and ``follow_up_due_on``.
    """

    status: LeadStatus | None = None
    assignee_id: StaffId | None = None
    customer_id: CustomerId | None = None
    partner_id: PartnerId | None = None
    assigned: bool | None = None
    follow_up_due_on: date | None = None

    def matches(self, lead: Lead) -> bool:
        """The reference semantics every adapter implements."""
        due = self.follow_up_due_on
        return (
            (self.status is None or lead.status is self.status)
            and (self.assignee_id is None or lead.assignee_id == self.assignee_id)
            and (self.customer_id is None or lead.customer_id == self.customer_id)
            and (self.partner_id is None or lead.partner_id == self.partner_id)
            and (self.assigned is None or (lead.assignee_id is not None) is self.assigned)
            and (
                due is None
                or (lead.is_open and lead.follow_up_on is not None and lead.follow_up_on <= due)
            )
        )
