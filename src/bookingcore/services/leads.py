"""Lead use cases for a travel agency: capture an enquiry, assign it, follow it up, convert it.

A lead is captured from any source (a web form, a phone call, a partner's
API) and belongs to a customer found by phone or email, or created from the
phone. Staff assign it by hand or with one of the assignment strategies of
:mod:`bookingcore.domain.assignment` (round robin, least loaded); the advisor it
is assigned to works it. Converting a lead makes the first revision of a
quotation (:meth:`bookingcore.services.QuotationService.create`) and moves the
lead to ``quoted``.

.. versionadded:: 0.3
"""

from __future__ import annotations

from datetime import date

import attrs

from bookingcore.domain import policy
from bookingcore.domain._validation import Problems, clean_text, parse_choice
from bookingcore.domain.assignment import Advisor, AssignmentStrategy, least_loaded, round_robin
from bookingcore.domain.audit import AuditAction, audit_value
from bookingcore.domain.idempotency import caller_key
from bookingcore.domain.leads import Lead, LeadFilter, LeadSource, LeadStatus, lead_date
from bookingcore.domain.policy import Permission, Principal, PrincipalKind
from bookingcore.domain.queries import Page, PageRequest
from bookingcore.domain.sources import BookingSource
from bookingcore.domain.values import (
    CustomerId,
    EmailAddress,
    LeadId,
    PartnerId,
    PhoneNumber,
    StaffId,
)
from bookingcore.errors import (
    ConflictError,
    IdempotencyConflictError,
    NotFoundError,
    ValidationError,
)
from bookingcore.ports.uow import UnitOfWork
from bookingcore.services._context import (
    ServiceContext,
    Transaction,
    claim_change,
    claim_key,
    fingerprint,
    principal_key,
)
from bookingcore.services.customers import CustomerService
from bookingcore.services.reports import check_advisor, locked_advisors

__all__ = ["LeadRequest", "LeadService"]

#: Statuses a lead reaches through its quotations (made for it, approved), never by hand.
_SET_BY_QUOTATIONS = frozenset({LeadStatus.QUOTED, LeadStatus.WON})


@attrs.frozen(kw_only=True)
class LeadRequest:
    """An enquiry as it arrives: who asks (phone and/or email), from where, for what.

    The customer is found by phone, else by email (an unknown phone with a known
    email is that customer's, as
    :meth:`~bookingcore.services.CustomerService.identify` finds them); a new one
    needs a phone (customers are phone-first). A customer principal captures
    leads for themselves and needs neither.

    .. versionadded:: 0.3
    """

    source: LeadSource | str
    phone: str | None = None
    email: str | None = None
    name: str | None = None
    destination: str | None = None
    travel_starts_on: date | None = None
    travel_ends_on: date | None = None
    travelers: int | None = None
    notes: str | None = None
    follow_up_on: date | None = None


class LeadService:
    """Capture, read, assign, follow up and close leads.

    .. versionadded:: 0.3
    """

    def __init__(self, context: ServiceContext, customers: CustomerService) -> None:
        self._ctx = context
        self._customers = customers

    # ------------------------------------------------------------------ capture

    def capture(
        self,
        request: LeadRequest,
        *,
        principal: Principal,
        assign: AssignmentStrategy | str | StaffId | None = None,
        idempotency_key: str | None = None,
    ) -> Lead:
        """Record an enquiry as a new lead of the customer it comes from.

        Who may capture: staff who change everything, the system (a public web
        form's host), a partner (the lead is then theirs, source ``partner``)
        and a customer for themselves. ``assign`` names a member of staff, or a
        strategy (``round_robin``, ``least_loaded``) that picks among the
        active advisors; ``None`` or ``manual`` leaves it unassigned. Leads go to
        advisors, as bookings do: a named member of staff must be an active
        advisor. Only staff who change everything and the system name one; a
        partner or customer may ask for a strategy.

        With an ``idempotency_key`` (scoped to ``principal``) a retry of the
        same request (the same ``request`` and ``assign``, by the same
        principal) returns the lead the first call made and writes nothing.

        Raises:
            PermissionDeniedError: an advisor, a supplier or a webhook captures; a
                partner or customer names the member of staff in ``assign``.
            ValidationError: naming each bad field: no phone or email (or an
                unknown email and no phone; an email of a customer ``principal``
                may not see counts as unknown), a bad phone or email, dates in the
                wrong order, an unknown source, an unknown strategy; on
                ``assignee_id`` (code ``unknown_advisor``) for a member of staff
                who is not an active advisor; on ``advisors`` when a strategy
                finds no active advisor; a malformed ``idempotency_key``.
            IdempotencyConflictError: the key was used for a different request.

        .. versionchanged:: 0.3 ``idempotency_key``.
        .. versionchanged:: 0.4
           A named member of staff must be an active advisor (code
           ``unknown_advisor``; any active member of staff was taken).
        """
        allowed = principal.kind in (
            PrincipalKind.SYSTEM,
            PrincipalKind.PARTNER,
            PrincipalKind.CUSTOMER,
        ) or (principal.kind is PrincipalKind.STAFF and principal.has(Permission.CHANGE_ALL))
        policy.require(allowed, f"{principal} may not capture leads")
        if assign is not None and not isinstance(assign, str):
            # Naming the member of staff is assigning the lead (see :meth:`assign`).
            policy.require(
                principal.kind is PrincipalKind.SYSTEM or principal.has(Permission.CHANGE_ALL),
                f"{principal} may not choose who works the lead (ask for a strategy)",
            )
        key = principal_key(principal, idempotency_key)
        digest = None
        if key is not None:
            asked = _as_asked(request)
            digest = fingerprint("capture_lead", principal, request=asked, assign=assign)
        try:
            return self._capture(
                request, principal=principal, assign=assign, key=key, digest=digest
            )
        except ConflictError:
            if key is None:
                raise
            # Lost the race to a twin with the same key: its lead is this call's answer.
            with self._ctx.uow_factory() as uow:
                prior = _prior_lead(uow, key, digest)
            if prior is None:
                raise
            return prior

    def _capture(
        self,
        request: LeadRequest,
        *,
        principal: Principal,
        assign: AssignmentStrategy | str | StaffId | None,
        key: str | None,
        digest: str | None,
    ) -> Lead:
        source = LeadSource.PARTNER if principal.kind is PrincipalKind.PARTNER else request.source
        p = Problems()
        phone: PhoneNumber | None = None
        email: EmailAddress | None = None
        if principal.kind is not PrincipalKind.CUSTOMER:
            if request.phone:
                phone = p.capture(lambda: self._customers.parse_phone(request.phone or ""))
            if request.email:
                email = p.capture(lambda: EmailAddress.parse(request.email or ""))
            if not request.phone and not request.email:
                p.add("phone", "give the customer's phone or email", "required")
        name = p.capture(lambda: clean_text(request.name, "name", min_length=2))
        now = self._ctx.now()
        with self._ctx.transaction() as tx:
            if key is not None and not claim_key(tx.uow, key, "lead", now):
                prior = _prior_lead(tx.uow, key, digest)
                if prior is not None:
                    return prior
            p.raise_if_any()
            customer_id = self._customer_for(tx, principal, phone, email, name)
            lead = Lead(
                id=LeadId(self._ctx.ids.new_id()),
                customer_id=customer_id,
                source=source,
                created_at=now,
                updated_at=now,
                destination=request.destination,
                travel_starts_on=request.travel_starts_on,
                travel_ends_on=request.travel_ends_on,
                travelers=request.travelers,
                notes=request.notes,
                follow_up_on=request.follow_up_on,
                partner_id=(
                    PartnerId(principal.id)
                    if principal.kind is PrincipalKind.PARTNER and principal.id
                    else None
                ),
                idempotency_key=key,
                request_fingerprint=digest,
            )
            if assign is not None:
                lead.assignee_id = self._pick(tx.uow, assign)
            tx.uow.leads.add(lead)
            tx.audit(
                principal,
                entity="lead",
                entity_id=lead.id,
                action=AuditAction.CREATED,
                new={"source": lead.source.value, "customer_id": str(lead.customer_id)},
            )
            tx.commit()
            return lead

    def _customer_for(
        self,
        tx: Transaction,
        principal: Principal,
        phone: PhoneNumber | None,
        email: EmailAddress | None,
        name: str | None,
    ) -> CustomerId:
        if principal.kind is PrincipalKind.CUSTOMER:
            assert principal.id is not None
            return CustomerService.load_visible(tx.uow, CustomerId(principal.id), principal).id
        if phone is None and email is not None:
            found = tx.uow.customers.find_by_emails([email]).get(email)
            # One the principal may not see is answered as unknown: no email probing.
            if found is not None and policy.can_view_customer(principal, found):
                return found.id
            msg = f"no customer has the email {email.value}; give their phone to add them"
            raise ValidationError.single("phone", msg, "required")
        assert phone is not None
        if email is not None and tx.uow.customers.get_by_phone(phone) is None:
            # Phone, then email, as CustomerService.identify finds a customer.
            found = tx.uow.customers.find_by_emails([email]).get(email)
            if found is not None and policy.can_view_customer(principal, found):
                return found.id
        source = BookingSource.PARTNER if principal.kind is PrincipalKind.PARTNER else None
        match = self._customers.find_or_create(
            tx, phone, principal=principal, name=name, email=email, source=source
        )
        return match.customer_id

    # ------------------------------------------------------------------ read

    def get(self, lead_id: LeadId, *, principal: Principal) -> Lead:
        """The lead, if ``principal`` may see it.

        Raises:
            NotFoundError: no such lead visible to ``principal``.
        """
        with self._ctx.uow_factory() as uow:
            return _visible(uow, lead_id, principal)

    def list(
        self,
        page: PageRequest | None = None,
        *,
        principal: Principal,
        status: LeadStatus | str | None = None,
        assignee_id: StaffId | None = None,
        customer_id: CustomerId | None = None,
    ) -> Page[Lead]:
        """Leads ``principal`` may see matching every filter given, newest first, a
        page at a time (pass the page's ``next_cursor`` for older ones).

        An advisor sees the leads assigned to them, a partner its own, a customer
        theirs (asking for someone else's finds none).

        Raises:
            ValidationError: on ``status`` for an unknown status; on ``limit`` or
                ``cursor`` for a bad page.

        .. versionchanged:: 0.3
           Takes a :class:`~bookingcore.domain.PageRequest` and answers a
           :class:`~bookingcore.domain.Page`, newest first (was every lead, oldest first).
        """
        wanted = LeadFilter(
            status=None if status is None else _status(status),
            assignee_id=assignee_id,
            customer_id=customer_id,
        )
        scoped = policy.scope_leads(principal, wanted)
        if scoped is None:
            return Page([])
        with self._ctx.uow_factory() as uow:
            return uow.leads.list(scoped, page or PageRequest())

    def follow_ups_due(
        self, on: date, page: PageRequest | None = None, *, principal: Principal
    ) -> Page[Lead]:
        """Open leads ``principal`` may see whose follow-up date is ``on`` or earlier,
        earliest follow-up first (then oldest lead first), a page at a time (pass the
        page's ``next_cursor`` for later ones).

        Raises:
            ValidationError: on ``on`` when it is not a date (``invalid_type``); on
                ``limit`` or ``cursor`` for a bad page.

        .. versionchanged:: 0.3
           Takes a :class:`~bookingcore.domain.PageRequest` and answers a
           :class:`~bookingcore.domain.Page` (was every lead due).
        """
        if lead_date(on, "on") is None:
            raise ValidationError.single("on", "must be a date", "invalid_type")
        page = page or PageRequest()
        scoped = policy.scope_leads(principal, LeadFilter())
        if scoped is None:
            return Page([])
        with self._ctx.uow_factory() as uow:
            return uow.leads.list_by_follow_up(attrs.evolve(scoped, follow_up_due_on=on), page)

    # ------------------------------------------------------------------ change

    def assign(
        self,
        lead_id: LeadId,
        to: AssignmentStrategy | str | StaffId | None,
        *,
        principal: Principal,
        idempotency_key: str | None = None,
    ) -> Lead:
        """Give the lead to an active advisor, or to whom a strategy picks.

        ``to`` is an advisor's staff id, ``round_robin`` (active advisors take
        turns) or ``least_loaded`` (the active advisor with the fewest open leads);
        ``None`` or ``manual`` takes the lead from whoever had it. A strategy
        locks the active advisors (in id order) before it counts, so picks at the
        same time never take the same turn; re-assigning a lead by a strategy
        takes the turn it took before, and does not count the lead against its
        advisor. Naming the lead's own advisor again keeps the lead. A retry with
        the same ``idempotency_key`` and the same request (the lead and ``to``:
        what was asked, not whom it picked) returns the lead as it is now and
        picks nobody again.

        Raises:
            NotFoundError: no such lead visible to ``principal``.
            PermissionDeniedError: ``principal`` does not change everything.
            ValidationError: on ``assignee_id`` (code ``unknown_advisor``) for a
                member of staff who is not an active advisor (unknown, inactive or
                of another role); on ``strategy`` for ``dealer_based`` (leads have no location)
                or an unknown strategy; on ``advisors`` when no advisor is active; a
                malformed ``idempotency_key``.
            IdempotencyConflictError: ``idempotency_key`` was used for another
                request or another kind of operation.

        .. versionchanged:: 0.4
           ``idempotency_key``.
        .. versionchanged:: 0.4
           Only an active advisor is given a lead (code ``unknown_advisor``; any
           active member of staff was taken); strategies take turns under locks.
        """
        policy.require(principal.has(Permission.CHANGE_ALL), f"{principal} may not assign leads")
        asked_to = str(to) if isinstance(to, str) else to
        with self._ctx.transaction() as tx:
            entry_id, fresh = claim_change(
                tx.uow,
                self._ctx.now(),
                idempotency_key,
                "lead_assignment",
                principal,
                lead_id=lead_id,
                to=asked_to,
            )
            lead = _visible(tx.uow, lead_id, principal)
            if not fresh:
                return lead
            before = lead.assignee_id
            lead.assign(self._pick(tx.uow, to, lead), now=self._ctx.now())
            tx.audit(
                principal,
                entity="lead",
                entity_id=lead.id,
                action=AuditAction.UPDATED,
                old={"assignee_id": None if before is None else str(before)},
                new={"assignee_id": None if lead.assignee_id is None else str(lead.assignee_id)},
                entry_id=entry_id,
            )
            tx.commit()
            return lead

    def move(
        self,
        lead_id: LeadId,
        status: LeadStatus | str,
        *,
        principal: Principal,
        reason: str | None = None,
        idempotency_key: str | None = None,
    ) -> Lead:
        """Move the lead along its statuses (``contacted``, ``qualified``, ``lost`` ...).

        ``quoted`` and ``won`` are not moved to by hand: a lead is quoted when a
        quotation is made for it, and won when one of its quotations is approved.
        A retry with the same ``idempotency_key`` and the same request (the lead,
        ``status`` and ``reason``) returns the lead as it is now (moved on since,
        perhaps) and writes nothing: no ``InvalidTransitionError``.

        Raises:
            NotFoundError: no such lead visible to ``principal``.
            PermissionDeniedError: neither staff who change everything nor its advisor.
            ValidationError: an unknown status, ``quoted`` or ``won`` (on ``status``,
                code ``set_by_quotation``), a reason over 500 characters; a
                malformed ``idempotency_key``.
            InvalidTransitionError: the move is not allowed from the lead's status.
            IdempotencyConflictError: ``idempotency_key`` was used for another
                request or another kind of operation.

        .. versionchanged:: 0.4
           Refuses ``quoted`` and ``won``; ``idempotency_key``.
        """
        target = _status(status)
        if target in _SET_BY_QUOTATIONS:
            msg = (
                f"a lead is {target.value} through its quotations "
                "(made for it, approved), not moved there by hand"
            )
            raise ValidationError.single("status", msg, "set_by_quotation")
        if target is LeadStatus.LOST:
            # The reason as the lead keeps it: a retry spacing it otherwise asks the same.
            reason = clean_text(reason, "reason", max_length=500)
        with self._ctx.transaction() as tx:
            entry_id, fresh = claim_change(
                tx.uow,
                self._ctx.now(),
                idempotency_key,
                "lead_move",
                principal,
                lead_id=lead_id,
                status=target.value,
                reason=reason,
            )
            lead = self._workable(tx.uow, lead_id, principal)
            if not fresh:
                return lead
            before = lead.status
            lead.move(target, now=self._ctx.now(), reason=reason)
            tx.audit(
                principal,
                entity="lead",
                entity_id=lead.id,
                action=AuditAction.STATUS_CHANGED,
                old={"status": before.value},
                new={"status": lead.status.value},
                reason=lead.lost_reason,
                entry_id=entry_id,
            )
            tx.commit()
            return lead

    def schedule_follow_up(self, lead_id: LeadId, on: date | None, *, principal: Principal) -> Lead:
        """Plan the next call (``None``: none planned).

        Audited as the lead's other changes are: an ``updated`` entry with the
        ``follow_up_on`` before and after (ISO dates, or ``None``).

        Raises:
            NotFoundError: no such lead visible to ``principal``.
            PermissionDeniedError: neither staff who change everything nor its advisor.
            ValidationError: on ``follow_up_on`` when ``on`` is not a date.

        .. versionchanged:: 0.4
           Writes an audit entry.
        """
        with self._ctx.transaction() as tx:
            lead = self._workable(tx.uow, lead_id, principal)
            before = lead.follow_up_on
            lead.schedule_follow_up(on, now=self._ctx.now())
            tx.audit(
                principal,
                entity="lead",
                entity_id=lead.id,
                action=AuditAction.UPDATED,
                old={"follow_up_on": audit_value(before)},
                new={"follow_up_on": audit_value(lead.follow_up_on)},
            )
            tx.commit()
            return lead

    # ------------------------------------------------------------------ helpers

    @staticmethod
    def _workable(uow: UnitOfWork, lead_id: LeadId, principal: Principal) -> Lead:
        lead = _visible(uow, lead_id, principal)
        policy.require(policy.can_work_lead(principal, lead), f"{principal} may not work {lead_id}")
        return lead

    @staticmethod
    def _pick(
        uow: UnitOfWork, to: AssignmentStrategy | str | StaffId | None, current: Lead | None = None
    ) -> StaffId | None:
        """Whom ``to`` gives the lead to (``current``: the lead re-assigned, ``None``
        for a new one), by the rules bookings follow: a named member of staff must be
        an active advisor (the lead's current advisor named again stays), and a
        strategy locks the active advisors in id order before it counts, so picks at
        the same time take turns."""
        if to is None:
            return None
        own = None if current is None else current.assignee_id
        if not isinstance(to, str):
            if to == own:
                return to
            return check_advisor(uow, to, "assignee_id").id
        try:
            strategy = AssignmentStrategy(to)
        except ValueError:
            choices = ", ".join(s.value for s in AssignmentStrategy)
            msg = f"{to!r} is not an assignment strategy (choose one of {choices})"
            raise ValidationError.single("strategy", msg, "invalid_choice") from None
        if strategy is AssignmentStrategy.MANUAL:
            return None
        if strategy is AssignmentStrategy.DEALER_BASED:
            msg = "leads have no location: use round_robin, least_loaded or manual"
            raise ValidationError.single("strategy", msg, "invalid_choice")
        staff = locked_advisors(uow)
        loads = dict(uow.leads.count_open_by_assignee())
        if current is not None and current.is_open and own in loads:
            loads[own] -= 1  # the lead itself is no load for whoever gets it
        advisors = [
            Advisor(m.id, max(loads.get(m.id, 0), 0), m.location_ids, m.is_active) for m in staff
        ]
        if strategy is AssignmentStrategy.ROUND_ROBIN:
            turn = uow.leads.count(LeadFilter(assigned=True))
            if own is not None:
                turn -= 1  # the lead's own assignment is the turn it retakes
            return round_robin(advisors, turn)[0]
        return least_loaded(advisors, loads)


def _as_asked(request: LeadRequest) -> LeadRequest:
    """``request`` as its digest reads it: the source as the lead reads it (any case), and
    the fields a digest cannot take (a float party, a datetime for a day) refused on
    their field, as the lead would refuse them, rather than as a ``TypeError``."""
    travelers: object = request.travelers
    if travelers is not None and (isinstance(travelers, bool) or not isinstance(travelers, int)):
        raise ValidationError.single("travelers", "must be 1 to 500", "out_of_range")
    return attrs.evolve(
        request,
        source=parse_choice(LeadSource, request.source, "source", what="a lead source"),
        travel_starts_on=lead_date(request.travel_starts_on, "travel_starts_on"),
        travel_ends_on=lead_date(request.travel_ends_on, "travel_ends_on"),
        follow_up_on=lead_date(request.follow_up_on, "follow_up_on"),
    )


def _status(value: LeadStatus | str) -> LeadStatus:
    return parse_choice(LeadStatus, value, "status", what="a lead status")


def _prior_lead(uow: UnitOfWork, key: str, digest: str | None) -> Lead | None:
    """The lead an earlier capture with idempotency ``key`` made, if any.

    Raises:
        IdempotencyConflictError: that call asked for something else.
    """
    prior = uow.leads.get_by_idempotency_key(key)
    if prior is not None and prior.request_fingerprint != digest:
        raise IdempotencyConflictError(caller_key(key))
    return prior


def _visible(uow: UnitOfWork, lead_id: LeadId, principal: Principal) -> Lead:
    lead = uow.leads.get(lead_id)
    if lead is None or not policy.can_view_lead(principal, lead):
        raise NotFoundError("lead", lead_id)
    return lead
