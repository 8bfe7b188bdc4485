"""What every service needs: storage, time, ids and settings, wired explicitly."""

from __future__ import annotations

import logging
import zoneinfo
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import date, datetime, timedelta
from typing import Any, TypeVar, cast
from uuid import UUID, uuid5

import attrs

from bookingcore.domain._validation import parse_timezone
from bookingcore.domain.audit import AuditAction, AuditEntry
from bookingcore.domain.bookings import Author, Raised
from bookingcore.domain.cancellation import CancellationPolicy
from bookingcore.domain.catalog import Product
from bookingcore.domain.communications import (
    DEFAULT_TEMPLATES,
    Channel,
    CommunicationType,
    MessageTemplate,
    check_template_fields,
)
from bookingcore.domain.events import DomainEvent
from bookingcore.domain.idempotency import KeyClaim, caller_key, request_digest, scoped_key
from bookingcore.domain.lifecycle import PRESETS, Lifecycle, check
from bookingcore.domain.loyalty import LoyaltyProgram
from bookingcore.domain.policy import Principal
from bookingcore.domain.taxes import TaxRates
from bookingcore.domain.values import BookingId
from bookingcore.errors import (
    DuplicateError,
    FieldError,
    IdempotencyConflictError,
    ValidationError,
)
from bookingcore.ports.clock import Clock, IdGenerator
from bookingcore.ports.uow import UnitOfWork, UnitOfWorkFactory
from bookingcore.services._observing import GuardedObserver

__all__ = ["UNSET", "ServiceContext", "Settings", "Transaction", "Unset"]

_log = logging.getLogger("bookingcore.events")


@attrs.frozen(repr=False)
class Unset:
    """The type of :data:`UNSET`: a field of a change that should stay as it is.

    .. versionadded:: 0.4
       Public (it was private to ``bookingcore.services.bookings``); the same
       :data:`UNSET` marker as before.
    """

    def __repr__(self) -> str:
        return "UNSET"


#: Marks a field of a change (:class:`~bookingcore.services.BookingChanges`,
#: :meth:`~bookingcore.services.CatalogService.update_slot`) that should stay as it is.
UNSET = Unset()

_Id = TypeVar("_Id", bound=UUID)
_Made = TypeVar("_Made")


def _lifecycles(value: Mapping[str, Lifecycle]) -> Mapping[str, Lifecycle]:
    return dict(value)


def _policies(value: object) -> Mapping[str, CancellationPolicy]:
    if not isinstance(value, Mapping):
        msg = "must map lifecycle names to CancellationPolicy"
        raise ValidationError.single("cancellation_by_lifecycle", msg, "invalid_type")
    return dict(cast("Mapping[str, CancellationPolicy]", value))


def _templates(
    value: Mapping[tuple[CommunicationType, Channel], MessageTemplate],
) -> Mapping[tuple[CommunicationType, Channel], MessageTemplate]:
    for (kind, _), template in value.items():
        check_template_fields(CommunicationType(kind), template)
    return {**DEFAULT_TEMPLATES, **value}


@attrs.frozen
class Settings:
    """Behaviour a host may tune. Every field has a documented default.

    Args:
        default_region: ISO 3166 region for phone numbers written without a
            country code (``"IN"`` reads ``098765 43210`` as ``+919876543210``).
            ``None`` (the default) insists on international format.
        lifecycles: the lifecycles bookings may follow, by name; the three
            presets by default. Add your own here.
        default_lifecycle: the lifecycle new bookings follow unless the request
            names another.
        templates: message templates by (type, channel); the library's
            :data:`~bookingcore.domain.communications.DEFAULT_TEMPLATES` fill
            in whatever is not given. A ``family_invitation`` template may use
            only :data:`~bookingcore.domain.communications.FAMILY_INVITATION_FIELDS`
            (a ``ValidationError`` on ``template`` otherwise).
        business_name: how messages and documents sign off.
        taxes: the tax rates invoices show (:class:`~bookingcore.domain.TaxRates`;
            prices include tax); none by default.
        waitlist_offer_ttl: how long freed seats offered to a waiting customer
            stay held for them (24 hours by default); then the offer expires
            and the seats go to the next entry.
        timezone: the business's IANA time zone (``"Asia/Kolkata"``; ``"UTC"``
            by default). Times in messages and itineraries are written in it,
            "today" (a quotation's last valid day, the dashboard's day, a date
            of birth in the future) is its calendar day, and invoice series
            follow its years. Stored times stay in UTC.
        fiscal_year_start: the month (1-12) an invoice series' year begins in:
            ``4`` numbers invoices per April-March year, as Indian GST asks.
            A series is named after the calendar year its fiscal year starts
            in (``2026/DL01`` runs from April 2026 to March 2027).
        outbox_retention: how long an outbox message and its handlers' delivery
            records are kept once the message is done with (30 days by
            default): ``core.events.prune()`` and the ``outbox.prune`` job
            delete them after that. ``None`` keeps them forever (the job is
            then not registered). See docs/events.md, *Retention*.
        outbox_relayed: ``True`` when this deployment relays its outbox to a
            broker (``core.relay(...)``, ``core.jobs.relay_outbox_to(...)``):
            then a message is pruned only once it was published, and a relay
            may only be built when this is set. ``False`` (the default): no
            relay, messages are pruned whether published or not, and building
            a relay is refused. Give every process of a deployment the same value.
        attendance_moves_status: ``True`` when recording attendance also moves the
            booking along its lifecycle: to its ``no_show`` state once every
            traveler is marked a no-show, to its ``completed`` state once every
            one attended, where the lifecycle has that state and allows the move.
            ``False`` (the default): attendance never changes a booking's status.
        loyalty: the customers' loyalty tiers
            (:class:`~bookingcore.domain.loyalty.LoyaltyProgram`); ``None`` (the
            default): no program, no tiers and no loyalty discounts. See
            docs/loyalty.md.
        family_invitation_ttl: how long an invitation into a family account waits
            for its answer (:class:`~bookingcore.services.FamilyService`): 7 days
            by default; it expires afterwards.
        import_file_retention: how long an import's uploaded file is kept once the
            import finished (completed, failed or cancelled; counted from its last
            run, a retry's included): 7 days by default. The
            ``imports.purge_files`` job (``core.imports.purge_files()``) deletes
            it from the core's ``import_files`` store after that. ``None`` keeps
            them forever (the job is then not registered). See docs/importing.md.
        archive_after: how long after its slot ended a booking in a final state is
            archived (left out of the staff lists, searches and dashboard, kept in
            reports, the customer's history and privacy exports): the daily
            ``bookings.archive`` job (``core.archive.archive_due()``) archives
            those past it. ``None`` (the default): nothing is archived unless
            staff ask with a cutoff, and the job is not registered. See
            docs/archiving.md.
        share_link_max_ttl: the longest a trip's share link works
            (:class:`~bookingcore.services.TripSharingService`): 180 days by
            default. A link without its own ``expires_at`` works until the trip
            ends, but never longer than this.
        stalled_message_after: how long a message may stay pending after it was
            handed over for sending before the ``communications.resend_stalled``
            job sends it once more (its sender crashed before the notifier
            answered): 15 minutes by default. It must exceed the longest a send
            takes, the notifier's timeout included, or a slow send is sent twice
            (the same ``communication_id``: a gateway taking an idempotency key
            drops the repeat). ``None``: the job is not registered. See
            docs/notifications.md.
        reminder_retry_after: how long after a booking's reminder failed with a
            failure that may work later (the notifier's ``DeliveryError`` with
            ``retryable=True``: a gateway timeout, an HTTP 503) the
            ``reminders.send_due`` job tries it again: 15 minutes by default. A
            failure that cannot work later (an invalid number) is final.
        reminder_attempts: how many times in all a booking's reminder is handed
            to its channel before its failure is final: 3 by default (the first
            send and two retries); ``1`` never tries again. Retries stop anyway
            once the booking leaves its reminder window or is no longer active.

    Raises:
        ValidationError: an unknown default lifecycle, or a lifecycle that
            :func:`~bookingcore.domain.lifecycle.check` finds problems in (one
            field error per problem, on ``lifecycles.<name>.<part>``); a
            ``timezone`` that is no IANA zone; a ``fiscal_year_start`` that is
            no month; an ``outbox_retention``, ``import_file_retention``,
            ``archive_after``, ``stalled_message_after`` or
            ``reminder_retry_after`` that is not positive; a
            ``reminder_attempts`` below 1; a
            ``cancellation`` that is no :class:`~bookingcore.CancellationPolicy`,
            or a ``cancellation_by_lifecycle`` entry (on
            ``cancellation_by_lifecycle.<name>``) for a lifecycle not configured
            or holding something else; a ``loyalty`` that is no
            :class:`~bookingcore.domain.loyalty.LoyaltyProgram`.

    .. versionadded:: 0.1
    .. versionchanged:: 0.2 ``taxes``.
    .. versionchanged:: 0.4 ``timezone`` and ``fiscal_year_start``.
    .. versionchanged:: 0.4 ``outbox_retention`` and ``outbox_relayed``.
    .. versionchanged:: 0.4 ``cancellation`` and ``cancellation_by_lifecycle``.
    .. versionchanged:: 0.4 ``attendance_moves_status``.
    .. versionchanged:: 0.4 ``loyalty``.
    .. versionchanged:: 0.4 ``import_file_retention``.
    .. versionchanged:: 0.4 ``family_invitation_ttl``.
    .. versionchanged:: 0.4 ``archive_after``.
    .. versionchanged:: 0.4 ``templates`` are checked against the placeholders their
       type fills (``family_invitation``).
    .. versionchanged:: 0.4 ``share_link_max_ttl``.
    .. versionchanged:: 0.4 ``stalled_message_after``.
    .. versionchanged:: 0.4 ``reminder_retry_after`` and ``reminder_attempts``.
    """

    default_region: str | None = None
    lifecycles: Mapping[str, Lifecycle] = attrs.field(
        factory=lambda: dict(PRESETS), converter=_lifecycles
    )
    default_lifecycle: str = "reservation"
    templates: Mapping[tuple[CommunicationType, Channel], MessageTemplate] = attrs.field(
        factory=dict, converter=_templates
    )
    business_name: str = "bookingcore"
    # Invoice documents (issue 18): the tax rates invoices show.
    taxes: TaxRates = attrs.Factory(TaxRates)
    waitlist_offer_ttl: timedelta = timedelta(hours=24)
    timezone: str = "UTC"
    fiscal_year_start: int = 1
    outbox_retention: timedelta | None = timedelta(days=30)
    outbox_relayed: bool = False
    cancellation: CancellationPolicy = attrs.Factory(CancellationPolicy)
    cancellation_by_lifecycle: Mapping[str, CancellationPolicy] = attrs.field(
        factory=dict, converter=_policies
    )
    attendance_moves_status: bool = False
    loyalty: LoyaltyProgram | None = None
    import_file_retention: timedelta | None = timedelta(days=7)
    family_invitation_ttl: timedelta = timedelta(days=7)
    archive_after: timedelta | None = None
    share_link_max_ttl: timedelta = timedelta(days=180)
    stalled_message_after: timedelta | None = timedelta(minutes=15)
    reminder_retry_after: timedelta = timedelta(minutes=15)
    reminder_attempts: int = 3
    zone: zoneinfo.ZoneInfo = attrs.field(init=False, eq=False, repr=False)

    @zone.default
    def _zone_default(self) -> zoneinfo.ZoneInfo:
        return parse_timezone(self.timezone)

    def __attrs_post_init__(self) -> None:
        month: object = self.fiscal_year_start
        if isinstance(month, bool) or not isinstance(month, int) or not 1 <= month <= 12:
            msg = f"{month!r} is not a month number (1-12)"
            raise ValidationError.single("fiscal_year_start", msg, "out_of_range")
        if self.waitlist_offer_ttl <= timedelta(0):
            msg = "must be a positive timedelta"
            raise ValidationError.single("waitlist_offer_ttl", msg, "out_of_range")
        if self.outbox_retention is not None and self.outbox_retention <= timedelta(0):
            msg = "must be a positive timedelta, or None to keep messages forever"
            raise ValidationError.single("outbox_retention", msg, "out_of_range")
        retention = self.import_file_retention
        if retention is not None and retention <= timedelta(0):
            msg = "must be a positive timedelta, or None to keep uploaded files forever"
            raise ValidationError.single("import_file_retention", msg, "out_of_range")
        if self.family_invitation_ttl <= timedelta(0):
            msg = "must be a positive timedelta"
            raise ValidationError.single("family_invitation_ttl", msg, "out_of_range")
        if self.archive_after is not None and self.archive_after <= timedelta(0):
            msg = "must be a positive timedelta, or None to archive only when asked"
            raise ValidationError.single("archive_after", msg, "out_of_range")
        if self.share_link_max_ttl <= timedelta(0):
            msg = "must be a positive timedelta"
            raise ValidationError.single("share_link_max_ttl", msg, "out_of_range")
        stalled: object = self.stalled_message_after
        if stalled is not None and not (isinstance(stalled, timedelta) and stalled > timedelta(0)):
            msg = "must be a positive timedelta, or None to leave stalled messages pending"
            raise ValidationError.single("stalled_message_after", msg, "out_of_range")
        retry_after: object = self.reminder_retry_after
        if not (isinstance(retry_after, timedelta) and retry_after > timedelta(0)):
            msg = "must be a positive timedelta"
            raise ValidationError.single("reminder_retry_after", msg, "out_of_range")
        attempts: object = self.reminder_attempts
        if isinstance(attempts, bool) or not isinstance(attempts, int) or attempts < 1:
            msg = f"{attempts!r} is not a number of attempts (1 or more)"
            raise ValidationError.single("reminder_attempts", msg, "out_of_range")
        self._check_cancellation()
        given: object = self.loyalty
        if given is not None and not isinstance(given, LoyaltyProgram):
            msg = "must be a LoyaltyProgram or None"
            raise ValidationError.single("loyalty", msg, "invalid_type")
        if self.default_lifecycle not in self.lifecycles:
            msg = f"{self.default_lifecycle!r} is not one of the configured lifecycles"
            raise ValidationError.single("default_lifecycle", msg, "invalid_choice")
        problems: list[FieldError] = []
        for key, lifecycle in self.lifecycles.items():
            if key != lifecycle.name:
                msg = f"is registered as {key!r} but is named {lifecycle.name!r}"
                problems.append(FieldError(f"lifecycles.{key}", msg, "name_mismatch"))
            problems += [p.as_field_error(f"lifecycles.{key}") for p in check(lifecycle)]
        if problems:
            raise ValidationError(problems, "a configured lifecycle has problems")

    def _check_cancellation(self) -> None:
        given: object = self.cancellation
        if not isinstance(given, CancellationPolicy):
            msg = "must be a CancellationPolicy"
            raise ValidationError.single("cancellation", msg, "invalid_type")
        problems: list[FieldError] = []
        entries: Mapping[str, object] = self.cancellation_by_lifecycle
        for name, chosen in entries.items():
            field = f"cancellation_by_lifecycle.{name}"
            if not isinstance(chosen, CancellationPolicy):
                problems.append(FieldError(field, "must be a CancellationPolicy", "invalid_type"))
            elif name not in self.lifecycles:
                msg = f"{name!r} is not one of the configured lifecycles"
                problems.append(FieldError(field, msg, "invalid_choice"))
        if problems:
            raise ValidationError(problems)

    def cancellation_policy(
        self, lifecycle: str, product: Product | None = None
    ) -> CancellationPolicy:
        """The cancellation policy of a booking that follows ``lifecycle`` on a slot of
        ``product``: the product's own (``Product.cancellation_policy``) when it has
        one, else ``lifecycle``'s entry of :attr:`cancellation_by_lifecycle`, else
        :attr:`cancellation`. The one place the library chooses a booking's terms.

        .. versionadded:: 0.4
        .. versionchanged:: 0.4 ``product``.
        """
        if product is not None and product.cancellation_policy is not None:
            return product.cancellation_policy
        return self.cancellation_by_lifecycle.get(lifecycle, self.cancellation)

    def local(self, moment: datetime) -> datetime:
        """``moment`` on the business's clock (:attr:`timezone`)."""
        return moment.astimezone(self.zone)

    def fiscal_year(self, moment: datetime) -> int:
        """The year of the invoice series ``moment`` falls in: the calendar year, in
        :attr:`timezone`, that its fiscal year started in."""
        local = self.local(moment)
        return local.year if local.month >= self.fiscal_year_start else local.year - 1

    def template(self, kind: CommunicationType, channel: Channel) -> MessageTemplate:
        """The template for ``kind`` messages over ``channel``.

        Raises:
            ValidationError: on field ``channel`` when no template covers it.
        """
        try:
            return self.templates[(kind, channel)]
        except KeyError:
            msg = f"no {kind.value} template for {channel.value}"
            raise ValidationError.single("channel", msg, "no_template") from None

    def lifecycle(self, name: str | None) -> Lifecycle:
        """The lifecycle called ``name`` (the default one for ``None``).

        Raises:
            ValidationError: on field ``lifecycle`` for an unknown name.
        """
        key = self.default_lifecycle if name is None else name
        try:
            return self.lifecycles[key]
        except KeyError:
            known = ", ".join(sorted(self.lifecycles))
            msg = f"{key!r} is not a configured lifecycle (one of {known})"
            raise ValidationError.single("lifecycle", msg, "invalid_choice") from None


@attrs.frozen
class ServiceContext:
    """The dependencies shared by every service of one :class:`~bookingcore.BookingCore`.

    ``observer`` is the host's :class:`~bookingcore.ports.Observer`, guarded (one
    that raises is logged and ignored), or ``None`` when none is wired; with one,
    the bookings each transaction made and moved are told to it after the commit
    (the first ``committed`` listener).

    .. versionadded:: 0.1
    .. versionchanged:: 0.4 ``observer``.
    """

    uow_factory: UnitOfWorkFactory
    clock: Clock
    ids: IdGenerator
    settings: Settings = attrs.Factory(Settings)
    observer: GuardedObserver | None = attrs.field(default=None, eq=False, repr=False)
    committed: list[Callable[[Sequence[DomainEvent]], object]] = attrs.field(
        factory=list, eq=False, repr=False
    )

    def __attrs_post_init__(self) -> None:
        if self.observer is not None:
            self.committed.append(self.observer.committed)

    @contextmanager
    def transaction(self) -> Iterator[Transaction]:
        """A unit of work that also writes audit entries and outbox events.

        After the block commits, the events are handed to every listener in
        ``committed`` (the in-process dispatcher); a listener that raises is
        logged and never undoes or fails the committed change.
        """
        with self.uow_factory() as uow:
            tx = Transaction(self, uow)
            yield tx
        if tx.delivered:
            for listener in self.committed:
                try:
                    listener(tx.delivered)
                except Exception:
                    _log.exception("after-commit listener %r failed", listener)

    def author(self, principal: Principal, now: datetime | None = None) -> Author:
        """``principal`` making a change at ``now`` (the clock's time by default)."""
        return Author(
            actor=principal.actor,
            now=self.now() if now is None else now,
            new_id=self.ids.new_id,
            origin=principal.origin,
        )

    def today(self) -> date:
        """The business's calendar day now (in ``settings.timezone``)."""
        return self.settings.local(self.now()).date()

    def now(self) -> datetime:
        """The clock's time, checked to be timezone-aware."""
        now = self.clock.now()
        if now.tzinfo is None:
            msg = "the Clock port must return timezone-aware datetimes"
            raise TypeError(msg)
        return now


#: How often a booking or quotation (or an import's chunk of bookings) is tried under
#: fresh references when a random one is taken.
REFERENCE_ATTEMPTS = 3


def under_fresh_reference(
    context: ServiceContext,
    make: Callable[[Callable[[], str]], _Made],
    *,
    draw: Callable[[], str],
    entity: str,
    taken: Callable[[UnitOfWork, str], bool],
) -> _Made:
    """``make(fresh)``, where ``make`` takes each reference it needs from ``fresh()``
    (``draw()``); again, whole, under fresh ones when the store refuses a reference
    as taken.

    References are random (about 10**12 of them): one in a store of a million
    bookings is drawn again about once in a million. ``make`` runs its own
    transaction, so a refused attempt leaves nothing behind: a booking or a
    quotation draws one reference, an import's chunk one a booking it makes. A
    :class:`~bookingcore.errors.DuplicateError` is retried only when it is about
    ``entity`` and a reference the attempt drew is stored (``taken``) or was drawn
    twice in it (another unique key of the same entity, an external id say, is
    refused at once), at most :data:`REFERENCE_ATTEMPTS` times; the last one's
    error is raised.

    .. versionchanged:: 0.4 ``make`` draws its references (any number) from the
       function it is given, so an import's chunk retries as one booking does.
    """
    drawn: list[str] = []  # what the current attempt drew

    def fresh() -> str:
        reference = draw()
        drawn.append(reference)
        return reference

    for attempt in range(REFERENCE_ATTEMPTS):
        drawn.clear()
        try:
            return make(fresh)
        except DuplicateError as exc:
            if exc.entity != entity or attempt + 1 == REFERENCE_ATTEMPTS:
                raise
            if len(set(drawn)) == len(drawn):
                with context.uow_factory() as uow:
                    if not any(taken(uow, reference) for reference in drawn):
                        raise
    raise AssertionError("unreachable")  # pragma: no cover


def fingerprint(operation: str, principal: Principal, **fields: object) -> str:
    """The digest that tells a retry of ``operation`` from a different request.

    It covers ``fields`` (what the request asks for) and who asks (the
    principal's kind and id), never where the request came from: see
    :func:`~bookingcore.domain.idempotency.request_digest`.
    """
    asker = {"kind": principal.kind, "id": principal.id}
    return request_digest(operation, {"principal": asker, **fields})


#: Names the ids of events whose id is derived from the idempotency key of their request.
_KEYED_EVENTS = UUID("8d0f7c52-3f5e-4c0e-9a43-5b8f4e1c2a77")


def keyed_event_id(operation: str, key: str) -> UUID:
    """The id of the event a request with (scoped) idempotency ``key`` raises.

    A change that leaves no row of its own to keep its key (a reschedule) gives
    its event this id instead: the outbox holds each id once, so it finds the
    first call again and refuses a twin. It does for as long as the outbox keeps
    the event (``Settings.outbox_retention``); the key registry remembers the key
    after that, and a retry is then refused rather than made again.
    """
    return uuid5(_KEYED_EVENTS, f"{operation}:{key}")


def claim_key(
    uow: UnitOfWork, key: str, operation: str, now: datetime, *, made_id: UUID | None = None
) -> bool:
    """Claim (scoped) idempotency ``key`` for ``operation`` in ``uow``: True when it is new.

    A key belongs to the kind of operation that first used it (``"booking"``,
    ``"transition"``, ``"message"``, ``"payment"``, ``"refund"``, ``"lead"``,
    ``"quotation"``, ``"reschedule"``, ``"note"``, ``"group"``, ...). ``made_id``, the
    id of what the call makes, is kept with the claim for operations whose
    retries are recognised through it (see :func:`claim_request`). The claim is
    written in the unit of work of the change the key stands for, so it stands
    or falls with that change, and of two requests claiming one key at the same
    moment the second waits for the first to end. One statement when the key is new: nothing else is
    read, and the caller has made nothing with it before (it may skip looking).

    False: an earlier request of the same operation claimed it (a retry, or a
    twin that committed while this one waited); the caller looks for what that
    request made, in its own store, as a retry does.

    Raises:
        IdempotencyConflictError: another kind of operation claimed the key.
    """
    if uow.idempotency_keys.add_if_new(KeyClaim(key, operation, now, made_id=made_id)):
        return True
    held = uow.idempotency_keys.get(key)
    if held is None or held.operation != operation:
        raise IdempotencyConflictError(caller_key(key))
    return False


#: Names the ids of what keyed requests make: derived from the key and what was asked.
_KEYED_REQUESTS = UUID("3c9e51d4-7a2b-4f08-b6d1-0e4a8c2f9b63")


def keyed_id(operation: str, key: str, asked: str) -> UUID:
    """The id of what the request with (scoped) ``key`` and digest ``asked`` makes.

    Derived from the key and the request as asked (:func:`fingerprint`), never
    from what the request found: a retry that asks the same derives the same id,
    and a different request with the key derives another.
    """
    return uuid5(_KEYED_REQUESTS, f"{operation}:{key}:{asked}")


def claim_request(
    uow: UnitOfWork, key: str, operation: str, now: datetime, asked: str
) -> tuple[UUID, bool]:
    """Claim ``key`` for the request of ``operation`` whose digest is ``asked``.

    The one way a keyed call that keeps no key of its own recognises its
    retries: the claim records, as ``made_id``, :func:`keyed_id` of the request
    as asked, in the unit of work of the change (the caller gives what it makes
    or writes that id). Returns that id and True when the key is new (the
    caller makes the change in ``uow``), or the id and False for a retry of the
    same request (the caller returns what the first call made or did, and
    writes nothing). A twin sending the key at the same moment waits for the
    first to end and is then a retry.

    Raises:
        IdempotencyConflictError: another kind of operation claimed the key, or
            a request of this operation that asked for something else.
    """
    made = keyed_id(operation, key, asked)
    if claim_key(uow, key, operation, now, made_id=made):
        return made, True
    held = uow.idempotency_keys.get(key)
    if held is None or held.made_id != made:
        raise IdempotencyConflictError(caller_key(key))
    return made, False


def claim_creation(
    uow: UnitOfWork,
    key: str,
    operation: str,
    now: datetime,
    asked: str,
    *,
    as_id: Callable[[UUID], _Id],
    load: Callable[[_Id], _Made | None],
) -> tuple[_Id, _Made | None]:
    """Claim (scoped) ``key`` for the request of ``operation`` that makes one thing.

    :func:`claim_request` for a creation whose retries answer what the first
    call made: returns the id (as ``as_id`` types it) that the new thing takes
    and None when the key is new (the caller makes it, with that id, in
    ``uow``), or the id and the thing the first call made, found with ``load``
    (as it is now), for a retry (the caller returns it and writes nothing).

    Raises:
        IdempotencyConflictError: another kind of operation claimed the key, a
            request of this operation asked for something else, or what the
            first call made is no longer found.
    """
    made, fresh = claim_request(uow, key, operation, now, asked)
    made_id = as_id(made)
    if fresh:
        return made_id, None
    prior = load(made_id)
    if prior is None:
        raise IdempotencyConflictError(caller_key(key))
    return made_id, prior


def claim_change(
    uow: UnitOfWork,
    now: datetime,
    idempotency_key: str | None,
    operation: str,
    principal: Principal,
    /,
    **asked: object,
) -> tuple[UUID | None, bool]:
    """Claim ``principal``'s ``idempotency_key`` (if any) for ``operation`` asking for
    ``asked``, through :func:`claim_request`.

    Returns the id the change's record (its audit entry, say) takes and whether the
    change is to be made: ``(None, True)`` without a key, False for a retry of the
    same request.

    Raises:
        ValidationError: on ``idempotency_key`` when malformed.
        IdempotencyConflictError: the key was used for another request.
    """
    key = principal_key(principal, idempotency_key)
    if key is None:
        return None, True
    return claim_request(uow, key, operation, now, fingerprint(operation, principal, **asked))


def check_key_free(uow: UnitOfWork, key: str, operation: str) -> None:
    """Refuse ``key`` early when another kind of operation claimed it (one read).

    For operations that must not ask an outside party (a payment provider)
    with a key they will not be able to keep; they still claim it with
    :func:`claim_key` when they store their change.

    Raises:
        IdempotencyConflictError: another kind of operation claimed the key.
    """
    held = uow.idempotency_keys.get(key)
    if held is not None and held.operation != operation:
        raise IdempotencyConflictError(caller_key(key))


def principal_key(principal: Principal, key: object) -> str | None:
    """``key`` as stored for ``principal``: see :func:`~bookingcore.domain.idempotency.scoped_key`.

    Raises:
        ValidationError: on ``idempotency_key`` for a malformed key.
    """
    return scoped_key(principal.kind.value, principal.id, key)


class Transaction:
    """One unit of work of a use case, with its audit entries and outbox events.

    Use :meth:`ServiceContext.transaction`; ``uow`` gives the repositories.

    .. versionadded:: 0.1
    """

    def __init__(self, context: ServiceContext, uow: UnitOfWork) -> None:
        self.uow = uow
        self._ctx = context
        self._events: list[DomainEvent] = []
        self.delivered: tuple[DomainEvent, ...] = ()

    def new_event_id(self) -> UUID:
        """An id for an event or history entry."""
        return self._ctx.ids.new_id()

    def emit(self, event: DomainEvent) -> None:
        """Write ``event`` to the outbox with this transaction's changes."""
        self._events.append(event)
        self.uow.outbox.add(event)

    @property
    def emitted(self) -> tuple[DomainEvent, ...]:
        """The events written to the outbox since the last commit, in order."""
        return tuple(self._events)

    def audit(
        self,
        principal: Principal,
        *,
        entity: str,
        entity_id: UUID,
        action: AuditAction,
        old: Mapping[str, Any] | None = None,
        new: Mapping[str, Any] | None = None,
        reason: str | None = None,
        booking_id: BookingId | None = None,
        entry_id: UUID | None = None,
    ) -> AuditEntry:
        """Add an audit entry for a change made by ``principal`` (with id ``entry_id`` if given)."""
        origin = principal.origin
        entry = AuditEntry(
            id=entry_id or self._ctx.ids.new_id(),
            entity=entity,
            entity_id=entity_id,
            action=action,
            actor=principal.actor,
            occurred_at=self._ctx.now(),
            old_values=old or {},
            new_values=new or {},
            reason=reason,
            ip_address=origin.ip_address if origin else None,
            user_agent=origin.user_agent if origin else None,
            booking_id=booking_id,
        )
        self.uow.audit.add(entry)
        return entry

    def record(self, raised: Raised, *, emit: bool = True) -> None:
        """Store what a booking's change raised: its history entry, audit entry and event.

        ``emit=False`` leaves the event out of the outbox (an import told not to emit).
        """
        if raised.history is not None:
            self.uow.lifecycle_events.add(raised.history)
        self.uow.audit.add(raised.audit)
        if emit:
            self.emit(raised.event)

    def commit(self) -> None:
        """Commit the unit of work; its events go to the listeners after the block."""
        self.uow.commit()
        self.delivered = (*self.delivered, *self._events)
        self._events = []
