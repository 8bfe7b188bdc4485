"""The communications log: every message sent to a customer and what became of it.

A :class:`Communication` starts ``pending``; the notifier's answer makes it
``sent`` or ``failed``; delivery callbacks move it to ``delivered``, then
``opened`` and ``clicked``. Statuses only move forward: a callback that arrives
late (``delivered`` after ``opened``) fills in its timestamp but does not move
the status back, so the final status is the same whatever order callbacks come in.

Messages are written from :class:`MessageTemplate` s, one per type and channel,
with ``$placeholders`` filled from the booking and customer.

.. versionadded:: 0.1
"""

from __future__ import annotations

import enum
import string
from collections.abc import Mapping
from datetime import datetime, tzinfo
from types import MappingProxyType
from uuid import UUID

import attrs

from bookingcore.domain._validation import without_control_characters
from bookingcore.domain.values import Actor, BookingId, CommunicationId, CustomerId
from bookingcore.errors import ValidationError

__all__ = [
    "DEFAULT_TEMPLATES",
    "FAMILY_INVITATION_FIELDS",
    "SMS_MAX_LENGTH",
    "TEMPLATE_FIELDS",
    "Channel",
    "Communication",
    "CommunicationStatus",
    "CommunicationType",
    "MessageTemplate",
    "check_message_length",
    "check_template_fields",
    "message_time",
    "push_recipient",
    "sms_length",
]


class CommunicationType(enum.StrEnum):
    """Why a message is sent.

    .. versionadded:: 0.1
    """

    CONFIRMATION = "confirmation"
    REMINDER = "reminder"
    FOLLOW_UP = "follow_up"
    CERTIFICATE = "certificate"
    CANCELLATION = "cancellation"
    #: a one-time code for phone sign-in; its text is never stored
    SIGN_IN_CODE = "sign_in_code"
    #: seats freed on a slot are held for a waiting customer until the offer expires
    WAITLIST_OFFER = "waitlist_offer"
    #: a group booking's summary, to its organiser
    GROUP_CONFIRMATION = "group_confirmation"
    #: a quotation sent to a customer
    #:
    #: .. versionadded:: 0.3
    QUOTATION = "quotation"
    #: the operator moved a booking's departure (its slot's start)
    #:
    #: .. versionadded:: 0.4
    SCHEDULE_CHANGE = "schedule_change"
    #: a booking was assigned to a staff member (an advisor): the notice goes to
    #: them, not to the customer; it is logged with the booking, its ``recipient``
    #: the staff member's address, and only staff who see everything read it
    #:
    #: .. versionadded:: 0.4
    ASSIGNMENT = "assignment"
    #: an invitation into a family account, to the invited customer (by SMS unless
    #: told otherwise: they were invited by phone); it names the inviter and the
    #: relation, nothing else (:data:`FAMILY_INVITATION_FIELDS`)
    #:
    #: .. versionadded:: 0.4
    FAMILY_INVITATION = "family_invitation"


class Channel(enum.StrEnum):
    """How a message travels.

    .. versionadded:: 0.1
    """

    EMAIL = "email"
    SMS = "sms"
    PHONE = "phone"
    #: a push notification to every active device the customer registered
    #: (:class:`~bookingcore.domain.devices.PushDevice`); the subject is its title
    #:
    #: .. versionadded:: 0.4
    PUSH = "push"


class CommunicationStatus(enum.StrEnum):
    """Where a message is. Listed in the order a message moves through them.

    ``failed`` ranks below ``delivered``: a delivery receipt that arrives after
    a transient failure report wins, a failure report after delivery is ignored.

    .. versionadded:: 0.1
    """

    PENDING = "pending"
    SENT = "sent"
    FAILED = "failed"
    DELIVERED = "delivered"
    OPENED = "opened"
    CLICKED = "clicked"

    @property
    def rank(self) -> int:
        """Position in the forward order; a status never moves to a lower rank."""
        return _RANK[self]


_RANK = {status: index for index, status in enumerate(CommunicationStatus)}

_TIMESTAMPS = {
    CommunicationStatus.SENT: "sent_at",
    CommunicationStatus.DELIVERED: "delivered_at",
    CommunicationStatus.OPENED: "opened_at",
    CommunicationStatus.CLICKED: "clicked_at",
    CommunicationStatus.FAILED: "failed_at",
}


@attrs.define(kw_only=True)
class Communication:
    """One message to a customer, about a booking or not; or, about a customer's
    booking, to a staff member (an ``assignment`` notice: ``recipient`` is their
    address, ``customer_id`` still the booking's customer).

    ``dedupe_key`` is unique in storage: the idempotency key of a send, or
    ``reminder:<booking id>`` for the one reminder a booking gets.

    ``sending_since`` is when a pending message was last handed over for sending
    (logged by a use case that sends it after commit, or claimed again to be sent
    again); it is cleared once the notifier's answer (or a report) moves the
    message on. A pending message with none is not the library's to send (logged
    before 0.4, or left to a host's own handler): the stalled-message job
    (``communications.resend_stalled``) leaves it alone.

    ``sending_claim`` is the token of the sender that holds the message at the
    gateway: every sender claims the message in storage before it hands it to the
    notifier (:meth:`~bookingcore.ports.CommunicationRepository.claim_for_sending`,
    or :meth:`~bookingcore.ports.CommunicationRepository.claim_stalled` for the
    stalled-message job) and records the notifier's answer as the claim holder
    only while the token is still its own; ``None`` while nobody holds it.

    ``attempts`` counts the times the message was handed to its channel: each
    claim for sending
    (:meth:`~bookingcore.ports.CommunicationRepository.claim_for_sending`,
    :meth:`~bookingcore.ports.CommunicationRepository.claim_stalled`) adds one;
    messages stored before it was counted (SQL migration 0050) start from 0.
    ``retryable`` tells whether the last failure may work later (the notifier's
    ``DeliveryError.retryable``: a gateway timeout, not an invalid number);
    ``None`` when unknown (a failure reported by a delivery callback, a message
    stored before migration 0050, one that never failed). A reminder whose last
    failure is retryable is tried again (:meth:`retry_due`).

    .. versionadded:: 0.1
    .. versionchanged:: 0.4
       ``sending_since``, ``sending_claim``.
    .. versionchanged:: 0.4
       ``attempts``, ``retryable``.
    """

    id: CommunicationId
    customer_id: CustomerId
    type: CommunicationType = attrs.field(converter=CommunicationType)
    channel: Channel = attrs.field(converter=Channel)
    recipient: str
    created_at: datetime
    created_by: Actor
    booking_id: BookingId | None = None
    status: CommunicationStatus = CommunicationStatus.PENDING
    subject: str | None = None
    content: str = ""
    template_used: str | None = None
    dedupe_key: str | None = None
    request_fingerprint: str | None = None
    provider_message_id: str | None = None
    sent_at: datetime | None = None
    delivered_at: datetime | None = None
    opened_at: datetime | None = None
    clicked_at: datetime | None = None
    failed_at: datetime | None = None
    failed_reason: str | None = None
    source_event_id: UUID | None = None
    sending_since: datetime | None = None
    sending_claim: UUID | None = None
    attempts: int = 0
    retryable: bool | None = None

    def retry_due(self, *, failed_by: datetime, attempts_below: int) -> bool:
        """Whether this message may be tried again now: it failed at or before
        ``failed_by``, its last failure may work later (``retryable`` is True), and
        it was handed to its channel fewer than ``attempts_below`` times.

        .. versionadded:: 0.4
        """
        return (
            self.status is CommunicationStatus.FAILED
            and self.retryable is True
            and self.failed_at is not None
            and self.failed_at <= failed_by
            and self.attempts < attempts_below
        )

    def requeue(self, at: datetime | None = None) -> None:
        """Send a failed message again: back to ``pending``, keeping the last failure
        reason (and whether it was ``retryable``).

        ``at`` is when it is handed over for sending again (``sending_since``).

        Raises:
            ValidationError: on field ``status`` unless the message failed.

        .. versionchanged:: 0.4
           ``at``.
        """
        if self.status is not CommunicationStatus.FAILED:
            msg = f"only a failed message is sent again; this one is {self.status.value}"
            raise ValidationError.single("status", msg, "not_failed")
        self.status = CommunicationStatus.PENDING
        self.failed_at = None
        self.sending_since = at
        self.sending_claim = None

    def record(
        self,
        status: CommunicationStatus | str,
        at: datetime,
        *,
        reason: str | None = None,
        provider_message_id: str | None = None,
        retryable: bool | None = None,
    ) -> bool:
        """Take in a status report (from the notifier or a delivery callback).

        The timestamp of ``status`` is kept if it was not known yet and a
        failure reason is always kept (its control characters but tab and line
        breaks replaced by U+FFFD), with ``retryable`` (whether the failure may
        work later; ``None``: unknown); the status itself only moves forward.
        Returns True when the status moved.

        ``provider_message_id`` is kept when the message has none yet, and
        replaces the one it has while the message is ``pending``: a failed message
        sent again is answered with the provider's id of that send, which its
        delivery reports name (the first send's reports no longer find it).

        Raises:
            ValidationError: on field ``status`` for an unknown status or ``pending``.

        .. versionchanged:: 0.4
           ``retryable``.
        .. versionchanged:: 0.4
           a pending message (one sent again) takes the new ``provider_message_id``.
        """
        try:
            new = CommunicationStatus(status)
        except ValueError:
            msg = f"{status!r} is not a communication status"
            raise ValidationError.single("status", msg, "invalid_choice") from None
        if new is CommunicationStatus.PENDING:
            raise ValidationError.single("status", "a report cannot say 'pending'", "invalid")
        stamp = _TIMESTAMPS[new]
        if getattr(self, stamp) is None:
            setattr(self, stamp, at)
        if new is CommunicationStatus.FAILED:
            if reason:
                # The provider's words (a mail server's reply): kept to be read, with
                # what no store can hold (NUL, lone surrogates) shown as U+FFFD.
                self.failed_reason = without_control_characters(reason)[:2000]
            self.retryable = retryable
        if provider_message_id and (
            self.provider_message_id is None or self.status is CommunicationStatus.PENDING
        ):
            # The answer to this hand-over: a failed message sent again gets a new id
            # from the provider (Twilio a new sid), whose delivery reports must find it.
            self.provider_message_id = provider_message_id
        if new.rank <= self.status.rank:
            return False
        self.status = new
        self.sending_since = None
        self.sending_claim = None
        return True


@attrs.frozen
class MessageTemplate:
    """The subject and body of one kind of message, with ``$placeholders``.

    The placeholders a template may use are :data:`TEMPLATE_FIELDS`; anything
    else is refused when the template is built, not when a message is sent.

    .. versionadded:: 0.1
    """

    name: str
    body: str
    subject: str | None = None

    def __attrs_post_init__(self) -> None:
        for part in (self.subject, self.body):
            if part is None:
                continue
            template = string.Template(part)
            if not template.is_valid():
                msg = f"template {self.name!r} has a malformed placeholder"
                raise ValidationError.single("template", msg, "invalid_template")
            unknown = sorted(set(template.get_identifiers()) - TEMPLATE_FIELDS)
            if unknown:
                msg = f"template {self.name!r} uses unknown placeholders {unknown}"
                raise ValidationError.single("template", msg, "invalid_template")

    @property
    def placeholders(self) -> frozenset[str]:
        """The placeholders the subject and body use.

        .. versionadded:: 0.4
        """
        used: set[str] = set()
        for part in (self.subject, self.body):
            if part is not None:
                used.update(string.Template(part).get_identifiers())
        return frozenset(used)

    def render(self, values: Mapping[str, str]) -> tuple[str | None, str]:
        """The subject and body with ``values`` filled in."""
        subject = None if self.subject is None else string.Template(self.subject).substitute(values)
        return subject, string.Template(self.body).substitute(values)


#: The longest text an SMS message may carry, in UTF-16 code units (:func:`sms_length`):
#: Twilio's Messages API refuses a longer ``Body`` (error 21617), and the library
#: refuses it before anything is logged or sent.
#:
#: .. versionadded:: 0.4
SMS_MAX_LENGTH = 1600


def sms_length(text: str) -> int:
    """How long ``text`` is as an SMS body: its UTF-16 code units, so a character
    beyond the Basic Multilingual Plane (an emoji) counts as two.

    .. versionadded:: 0.4
    """
    return len(text.encode("utf-16-le")) // 2


def check_message_length(channel: Channel, body: str, field: str = "body") -> None:
    """Refuse a ``body`` its ``channel`` cannot carry: an SMS longer than
    :data:`SMS_MAX_LENGTH` (counted by :func:`sms_length`). Other channels have no
    limit here.

    Raises:
        ValidationError: on ``field`` (``too_long``).

    .. versionadded:: 0.4
    """
    if channel is Channel.SMS and sms_length(body) > SMS_MAX_LENGTH:
        msg = (
            f"an SMS carries at most {SMS_MAX_LENGTH} characters; this one has "
            f"{sms_length(body)} (an emoji counts as two): shorten it or send it by email"
        )
        raise ValidationError.single(field, msg, "too_long")


def push_recipient(customer_id: CustomerId) -> str:
    """The ``recipient`` logged for a push message to ``customer_id``:
    ``customer:<customer id>``. A push goes to the customer's devices active when it
    is sent, so the log names the customer, not a device or a phone number.

    .. versionadded:: 0.4
    """
    return f"customer:{customer_id}"


def message_time(moment: datetime, zone: tzinfo) -> str:
    """``moment`` as messages write it: on the business's clock ``zone``, with the
    zone's abbreviation (``2026-12-05 09:30 IST``; ``... UTC`` in UTC).

    .. versionadded:: 0.4
    """
    local = moment.astimezone(zone)
    return f"{local:%Y-%m-%d %H:%M} {local.tzname()}"


#: The placeholders a :class:`MessageTemplate` may use.
TEMPLATE_FIELDS = frozenset(
    {
        "customer_name",
        "reference",
        "status",
        "starts_at",
        "location",
        "product",
        "travelers",
        "total",
        "business",
        "seats",
        "offer_expires_at",
        "inviter_name",
        "relation",
    }
)

#: The only placeholders a ``family_invitation`` template may use: who invites
#: (their name, or "A customer" when they gave none), the relation they named, and
#: the business. Nothing else of anyone's: the number invited may not be the person
#: the inviter thinks, so the message tells its reader nothing a stranger should
#: not learn (not the invited customer's own name, no phone, no other member).
#:
#: .. versionadded:: 0.4
FAMILY_INVITATION_FIELDS = frozenset({"inviter_name", "relation", "business"})

#: Placeholders only a family invitation fills (a booking message has no inviter).
_FAMILY_ONLY = FAMILY_INVITATION_FIELDS - {"business"}


def check_template_fields(kind: CommunicationType, template: MessageTemplate) -> None:
    """Refuse ``template`` for ``kind`` messages when it uses a placeholder that
    kind does not fill: a ``family_invitation`` anything but
    :data:`FAMILY_INVITATION_FIELDS`; any other kind ``inviter_name`` or ``relation``.

    Raises:
        ValidationError: on ``template`` (``invalid_template``).

    .. versionadded:: 0.4
    """
    used = template.placeholders
    if kind is CommunicationType.FAMILY_INVITATION:
        unknown = sorted(used - FAMILY_INVITATION_FIELDS)
    else:
        unknown = sorted(used & _FAMILY_ONLY)
    if unknown:
        msg = f"template {template.name!r} for {kind.value} messages may not use {unknown}"
        raise ValidationError.single("template", msg, "invalid_template")


_EMAIL = Channel.EMAIL
_SMS = Channel.SMS
_PUSH = Channel.PUSH

#: The templates used unless a host configures its own, by type and channel.
DEFAULT_TEMPLATES: Mapping[tuple[CommunicationType, Channel], MessageTemplate] = MappingProxyType(
    {
        (CommunicationType.CONFIRMATION, _EMAIL): MessageTemplate(
            "confirmation.email",
            subject="Your booking $reference is confirmed",
            body=(
                "Hello $customer_name,\n\nyour booking $reference for $travelers "
                "traveler(s) at $location on $starts_at is confirmed.\n"
                "Total: $total.\n\n$business"
            ),
        ),
        (CommunicationType.CONFIRMATION, _SMS): MessageTemplate(
            "confirmation.sms",
            body="$business: booking $reference confirmed for $starts_at at $location.",
        ),
        (CommunicationType.REMINDER, _EMAIL): MessageTemplate(
            "reminder.email",
            subject="Reminder: $reference on $starts_at",
            body=(
                "Hello $customer_name,\n\na reminder that your booking $reference "
                "starts on $starts_at at $location.\n\n$business"
            ),
        ),
        (CommunicationType.REMINDER, _SMS): MessageTemplate(
            "reminder.sms",
            body="$business: reminder, $reference starts $starts_at at $location.",
        ),
        (CommunicationType.FOLLOW_UP, _EMAIL): MessageTemplate(
            "follow_up.email",
            subject="Thank you for travelling with us ($reference)",
            body=(
                "Hello $customer_name,\n\nthank you for booking $reference with us. "
                "We would love to hear how it went.\n\n$business"
            ),
        ),
        (CommunicationType.FOLLOW_UP, _SMS): MessageTemplate(
            "follow_up.sms",
            body="$business: thank you for $reference! Tell us how it went.",
        ),
        (CommunicationType.CERTIFICATE, _EMAIL): MessageTemplate(
            "certificate.email",
            subject="Your certificate for $reference",
            body=(
                "Hello $customer_name,\n\ncongratulations on completing $product "
                "($reference). Your certificate is attached to your booking.\n\n$business"
            ),
        ),
        (CommunicationType.CERTIFICATE, _SMS): MessageTemplate(
            "certificate.sms",
            body="$business: your certificate for $reference is ready.",
        ),
        (CommunicationType.CANCELLATION, _EMAIL): MessageTemplate(
            "cancellation.email",
            subject="Booking $reference cancelled",
            body=(
                "Hello $customer_name,\n\nyour booking $reference on $starts_at "
                "has been cancelled.\n\n$business"
            ),
        ),
        (CommunicationType.CANCELLATION, _SMS): MessageTemplate(
            "cancellation.sms",
            body="$business: booking $reference on $starts_at is cancelled.",
        ),
        (CommunicationType.SCHEDULE_CHANGE, _EMAIL): MessageTemplate(
            "schedule_change.email",
            subject="New time for $reference: $starts_at",
            body=(
                "Hello $customer_name,\n\nyour booking $reference at $location now "
                "starts on $starts_at.\n\n$business"
            ),
        ),
        (CommunicationType.SCHEDULE_CHANGE, _SMS): MessageTemplate(
            "schedule_change.sms",
            body="$business: $reference at $location now starts $starts_at.",
        ),
        (CommunicationType.ASSIGNMENT, _EMAIL): MessageTemplate(
            "assignment.email",
            subject="Booking $reference is assigned to you",
            body=(
                "Hello,\n\nbooking $reference of $customer_name ($travelers traveler(s), "
                "$product at $location on $starts_at, status $status) is now assigned "
                "to you.\n\n$business"
            ),
        ),
        (CommunicationType.ASSIGNMENT, _SMS): MessageTemplate(
            "assignment.sms",
            body="$business: booking $reference ($customer_name, $starts_at) is assigned to you.",
        ),
        (CommunicationType.GROUP_CONFIRMATION, _EMAIL): MessageTemplate(
            "group_confirmation.email",
            subject="Your group $reference is confirmed",
            body=(
                "Hello $customer_name,\n\nyour group $reference ($product) is confirmed "
                "for $travelers traveler(s). Total: $total.\n\n$business"
            ),
        ),
        (CommunicationType.GROUP_CONFIRMATION, _SMS): MessageTemplate(
            "group_confirmation.sms",
            body="$business: group $reference confirmed for $travelers traveler(s), $total.",
        ),
        (CommunicationType.WAITLIST_OFFER, _EMAIL): MessageTemplate(
            "waitlist_offer.email",
            subject="$seats seat(s) are free for $product on $starts_at",
            body=(
                "Hello $customer_name,\n\n$seats seat(s) you waited for on $product "
                "at $location on $starts_at are held for you until $offer_expires_at. "
                "Accept the offer before then to book them.\n\n$business"
            ),
        ),
        (CommunicationType.WAITLIST_OFFER, _SMS): MessageTemplate(
            "waitlist_offer.sms",
            body=(
                "$business: $seats seat(s) free on $starts_at at $location, held for you "
                "until $offer_expires_at."
            ),
        ),
        # A family invitation names the inviter and the relation, nothing else.
        (CommunicationType.FAMILY_INVITATION, _SMS): MessageTemplate(
            "family_invitation.sms",
            body=(
                "$business: $inviter_name invited you into their family account as "
                "their $relation. Sign in to accept or decline."
            ),
        ),
        (CommunicationType.FAMILY_INVITATION, _EMAIL): MessageTemplate(
            "family_invitation.email",
            subject="$inviter_name invited you into their family account",
            body=(
                "Hello,\n\n$inviter_name invited you into their family account with "
                "$business as their $relation. Members of a family book each other's "
                "saved travelers. Sign in to accept or decline; nothing is shared "
                "unless you accept.\n\n$business"
            ),
        ),
        (CommunicationType.FAMILY_INVITATION, _PUSH): MessageTemplate(
            "family_invitation.push",
            subject="Family invitation",
            body="$inviter_name invited you into their family as their $relation.",
        ),
        # Push notifications: the subject is the notification's title, the body short.
        (CommunicationType.CONFIRMATION, _PUSH): MessageTemplate(
            "confirmation.push",
            subject="Booking confirmed",
            body="$reference at $location on $starts_at is confirmed.",
        ),
        (CommunicationType.REMINDER, _PUSH): MessageTemplate(
            "reminder.push",
            subject="Coming up: $reference",
            body="$product starts $starts_at at $location.",
        ),
        (CommunicationType.FOLLOW_UP, _PUSH): MessageTemplate(
            "follow_up.push",
            subject="How was it?",
            body="Thank you for $reference! Tell us how it went.",
        ),
        (CommunicationType.CERTIFICATE, _PUSH): MessageTemplate(
            "certificate.push",
            subject="Your certificate is ready",
            body="Your certificate for $reference is ready.",
        ),
        (CommunicationType.CANCELLATION, _PUSH): MessageTemplate(
            "cancellation.push",
            subject="Booking cancelled",
            body="$reference on $starts_at is cancelled.",
        ),
        (CommunicationType.SCHEDULE_CHANGE, _PUSH): MessageTemplate(
            "schedule_change.push",
            subject="New time for $reference",
            body="$reference at $location now starts $starts_at.",
        ),
        (CommunicationType.GROUP_CONFIRMATION, _PUSH): MessageTemplate(
            "group_confirmation.push",
            subject="Group confirmed",
            body="Group $reference is confirmed for $travelers traveler(s).",
        ),
        (CommunicationType.WAITLIST_OFFER, _PUSH): MessageTemplate(
            "waitlist_offer.push",
            subject="$seats seat(s) free for you",
            body="$product on $starts_at: held for you until $offer_expires_at.",
        ),
    }
)
