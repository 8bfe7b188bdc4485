"""The one exception hierarchy that every bookingcore call raises.

Callers catch :class:`BookingError` (or one branch of it) and never a vendor
exception: adapters translate what their libraries raise at the boundary.
Where a builtin means the same thing, a class inherits it too, so ``except
LookupError`` keeps working in code that does not know this library. A policy
refusal inherits no builtin: Python's ``PermissionError`` is an ``OSError`` (a
file system answer), and ``except OSError`` around I/O must not swallow it::

    BookingError
    ├── ValidationError (ValueError)          bad input; .errors names each field
    ├── NotFoundError (LookupError)           no such entity (or not visible to you)
    ├── PermissionDeniedError                 a policy refusal: the principal may not do this
    ├── ConflictError                         the request clashes with stored state
    │   ├── CapacityError                     not enough seats left
    │   ├── DuplicateError                    the same thing exists already
    │   ├── StaleVersionError                 changed since you read it
    │   ├── IdempotencyConflictError          same key, different request
    │   └── ConcurrentUpdateError             deadlocks or serialization failures persisted
    ├── InvalidTransitionError                the lifecycle forbids that status move
    │   └── BookingArchivedError              the booking is archived: unarchive it first
    ├── ReadOnlyError                         a write inside a read-only unit of work
    ├── RateLimitedError                      too many requests; .retry_after
    ├── AuthenticationError                   credentials missing or wrong
    ├── DeliveryError                         a message could not be handed to its channel
    │   └── RecipientGoneError                the address no longer exists (a push token)
    └── PaymentProviderError                  a payment provider refused or could not be reached

Every error has a stable ``code`` (for hosts mapping to HTTP statuses or exit
codes) and :meth:`BookingError.to_dict` for JSON bodies.

.. versionadded:: 0.1
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any, ClassVar

import attrs

__all__ = [
    "AuthenticationError",
    "BookingArchivedError",
    "BookingError",
    "CapacityError",
    "ConcurrentUpdateError",
    "ConflictError",
    "DeliveryError",
    "DuplicateError",
    "FieldError",
    "IdempotencyConflictError",
    "InvalidTransitionError",
    "NotFoundError",
    "PaymentProviderError",
    "PermissionDeniedError",
    "RateLimitedError",
    "ReadOnlyError",
    "RecipientGoneError",
    "StaleVersionError",
    "ValidationError",
]


class BookingError(Exception):
    """Base class of every error bookingcore raises on purpose.

    .. versionadded:: 0.1
    """

    code: ClassVar[str] = "booking_error"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def details(self) -> Mapping[str, Any]:
        """Return the machine-readable facts of this error (empty by default)."""
        return {}

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready description: ``{"code", "message", **details}``."""
        return {"code": self.code, "message": self.message, **self.details()}


@attrs.frozen
class FieldError:
    """One problem with one input field.

    ``field`` is a path such as ``"phone"`` or ``"travelers[2].emergency_contact_phone"``;
    ``code`` is a stable machine-readable reason (``"invalid_phone"``, ``"required"``).

    .. versionadded:: 0.1
    """

    field: str
    message: str
    code: str = "invalid"

    def prefixed(self, prefix: str) -> FieldError:
        """Return the same error with its field path placed under ``prefix``."""
        if not prefix:
            return self
        if not self.field:
            return FieldError(prefix, self.message, self.code)
        joiner = "" if self.field.startswith("[") else "."
        return FieldError(f"{prefix}{joiner}{self.field}", self.message, self.code)


class ValidationError(BookingError, ValueError):
    """Input was rejected; :attr:`errors` names every offending field.

    Raised before anything is written, so a rejected request leaves no trace.

    .. versionadded:: 0.1
    """

    code = "validation_error"

    def __init__(self, errors: Iterable[FieldError] | FieldError, message: str | None = None):
        self.errors: tuple[FieldError, ...] = (
            (errors,) if isinstance(errors, FieldError) else tuple(errors)
        )
        if not self.errors:
            msg = "ValidationError needs at least one FieldError"
            raise ValueError(msg)
        if message is None:
            message = "; ".join(f"{e.field}: {e.message}" for e in self.errors)
        super().__init__(message)

    @classmethod
    def single(cls, field: str, message: str, code: str = "invalid") -> ValidationError:
        """Build the error for one field."""
        return cls(FieldError(field, message, code))

    @property
    def fields(self) -> tuple[str, ...]:
        """The field paths that failed, in the order they were found."""
        return tuple(e.field for e in self.errors)

    def prefixed(self, prefix: str) -> ValidationError:
        """Return a copy whose field paths sit under ``prefix`` (e.g. ``travelers[1]``)."""
        return ValidationError(e.prefixed(prefix) for e in self.errors)

    def details(self) -> Mapping[str, Any]:
        return {
            "errors": [
                {"field": e.field, "message": e.message, "code": e.code} for e in self.errors
            ]
        }


class NotFoundError(BookingError, LookupError):
    """No entity of that kind with that key, or none the caller may see.

    The library answers "not found" rather than "forbidden" where telling the two
    apart would reveal that another tenant's record exists.

    .. versionadded:: 0.1
    """

    code = "not_found"

    def __init__(self, entity: str, key: object, message: str | None = None) -> None:
        self.entity = entity
        self.key = key
        super().__init__(message or f"{entity} {key} not found")

    def details(self) -> Mapping[str, Any]:
        return {"entity": self.entity, "key": str(self.key)}


class PermissionDeniedError(BookingError):
    """The principal is known but may not do this.

    Not a builtin ``PermissionError``: that one is an ``OSError``, and an
    ``except OSError`` meant for I/O failures must not catch a policy refusal.

    .. versionchanged:: 0.1
       No longer a ``PermissionError`` (nor an ``OSError``).

    .. versionadded:: 0.1
    """

    code = "permission_denied"


class ConflictError(BookingError):
    """The request is well formed but clashes with what is stored.

    .. versionadded:: 0.1
    """

    code = "conflict"


class CapacityError(ConflictError):
    """The slot does not have enough seats left for the travelers requested.

    .. versionadded:: 0.1
    """

    code = "capacity_exceeded"

    def __init__(
        self, slot_id: object, requested: int, seats_left: int, *, label: str | None = None
    ) -> None:
        self.slot_id = slot_id
        self.requested = requested
        self.seats_left = seats_left
        noun = "seat" if seats_left == 1 else "seats"
        what = repr(label) if label else f"slot {slot_id}"
        super().__init__(f"{what} has {seats_left} {noun} left; {requested} requested")

    def details(self) -> Mapping[str, Any]:
        return {
            "slot_id": str(self.slot_id),
            "requested": self.requested,
            "seats_left": self.seats_left,
        }


class DuplicateError(ConflictError):
    """An equivalent record exists already (``existing_id`` says which).

    .. versionadded:: 0.1
    """

    code = "duplicate"

    def __init__(self, message: str, *, entity: str, existing_id: object | None = None) -> None:
        self.entity = entity
        self.existing_id = existing_id
        super().__init__(message)

    def details(self) -> Mapping[str, Any]:
        if self.existing_id is None:  # the caller may not know which record it clashes with
            return {"entity": self.entity}
        return {"entity": self.entity, "existing_id": str(self.existing_id)}


class StaleVersionError(ConflictError):
    """The record changed after the caller read it; re-read and try again.

    .. versionadded:: 0.1
    """

    code = "stale_version"

    def __init__(self, entity: str, key: object, expected: int, actual: int) -> None:
        self.entity = entity
        self.key = key
        self.expected = expected
        self.actual = actual
        super().__init__(
            f"{entity} {key} changed while you were editing it "
            f"(you read version {expected}, it is now version {actual})"
        )

    def details(self) -> Mapping[str, Any]:
        return {"entity": self.entity, "expected": self.expected, "actual": self.actual}


class ConcurrentUpdateError(ConflictError):
    """Concurrent transactions kept getting in the way; the change was not made.

    Storage raises it when the database aborted the transaction for a deadlock
    or a serialization failure more times than its retry limit allows, or when
    a row the transaction had locked changed while it retried. Nothing was
    written: the whole request may be tried again.

    .. versionadded:: 0.1
    """

    code = "concurrent_update"

    def __init__(self, message: str, *, attempts: int) -> None:
        self.attempts = attempts
        super().__init__(message)

    def details(self) -> Mapping[str, Any]:
        return {"attempts": self.attempts}


class IdempotencyConflictError(ConflictError):
    """An idempotency key was reused for a different request.

    .. versionadded:: 0.1
    """

    code = "idempotency_conflict"

    def __init__(self, key: str) -> None:
        self.key = key
        super().__init__(f"idempotency key {key!r} was already used for a different request")

    def details(self) -> Mapping[str, Any]:
        return {"idempotency_key": self.key}


class InvalidTransitionError(BookingError):
    """The lifecycle does not allow moving from ``from_state`` to ``to_state``.

    ``lifecycle`` names the state machine: a booking lifecycle, or the fixed
    ones of waitlist entries, payments, refunds, booking items and groups
    (``"waitlist"``, ``"payment"``, ...), whose errors pass their own ``message``.

    .. versionadded:: 0.1
    """

    code = "invalid_transition"

    def __init__(
        self, lifecycle: str, from_state: str, to_state: str, *, message: str | None = None
    ) -> None:
        self.lifecycle = lifecycle
        self.from_state = from_state
        self.to_state = to_state
        super().__init__(
            message or f"a {lifecycle} booking cannot move from {from_state!r} to {to_state!r}"
        )

    def details(self) -> Mapping[str, Any]:
        return {
            "lifecycle": self.lifecycle,
            "from_state": self.from_state,
            "to_state": self.to_state,
        }


class BookingArchivedError(InvalidTransitionError):
    """The booking is archived, so nothing may move it: unarchive it first.

    An archived booking ended long ago (see :mod:`bookingcore.services.archiving`);
    a lifecycle move, a reschedule, a traveler change or an attendance mark on it
    is refused with this error and changes nothing. Staff bring it back with
    ``core.archive.unarchive(booking_id, ...)``. ``to_state`` names what was
    tried (a state, ``"rescheduled"``, ``"attendance"``, ...).

    .. versionadded:: 0.4
    """

    code = "booking_archived"

    def __init__(
        self,
        lifecycle: str,
        from_state: str,
        to_state: str,
        *,
        booking_id: object,
        reference: str,
        archived_at: datetime,
    ) -> None:
        self.booking_id = booking_id
        self.reference = reference
        self.archived_at = archived_at
        msg = (
            f"booking {reference} was archived on {archived_at.isoformat()}: "
            "unarchive it before changing it"
        )
        super().__init__(lifecycle, from_state, to_state, message=msg)

    def details(self) -> Mapping[str, Any]:
        return {
            **super().details(),
            "booking_id": str(self.booking_id),
            "reference": self.reference,
            "archived_at": self.archived_at.isoformat(),
        }


class ReadOnlyError(BookingError):
    """Something tried to write, or to lock rows, in a unit of work opened read-only.

    ``operation`` says what was tried (``add``, ``commit``, ``lock``, ...) and
    ``entity`` on what, where there is one. Nothing was written. See
    :meth:`~bookingcore.ports.UnitOfWork.read_only`.

    .. versionadded:: 0.3
    """

    code = "read_only"

    def __init__(self, operation: str, entity: str | None = None) -> None:
        self.operation = operation
        self.entity = entity
        what = f"{operation} {entity}" if entity else operation
        super().__init__(f"this unit of work is read-only: cannot {what}")

    def details(self) -> Mapping[str, Any]:
        return {"operation": self.operation, "entity": self.entity}


class RateLimitedError(BookingError):
    """Too many requests; try again after ``retry_after`` seconds.

    .. versionadded:: 0.1
    """

    code = "rate_limited"

    def __init__(self, message: str, *, retry_after: float) -> None:
        self.retry_after = retry_after
        super().__init__(message)

    def details(self) -> Mapping[str, Any]:
        return {"retry_after": self.retry_after}


class AuthenticationError(BookingError):
    """Credentials were missing, malformed, expired or wrong.

    ``field`` names the input the refusal is about, as a :class:`ValidationError`'s
    fields do: the parameter the credential came in (``"code"``, ``"password"``,
    ``"current_password"``, ``"access_token"``, ``"refresh_token"``, ``"token"``,
    ``"api_secret"``, ``"signature"``, ...), or ``None`` when it is about no one
    input (an account deactivated). A wrong email or password names
    ``"password"``, never which of the two was wrong. :meth:`to_dict` carries it
    when set.

    .. versionadded:: 0.1
    .. versionchanged:: 0.4 ``field``.
    """

    code = "authentication_failed"

    def __init__(self, message: str, *, field: str | None = None) -> None:
        self.field = field
        super().__init__(message)

    def details(self) -> Mapping[str, Any]:
        return {} if self.field is None else {"field": self.field}


class DeliveryError(BookingError):
    """A message (SMS, email) could not be handed to its channel.

    ``retryable`` tells whether sending the same message later may work (a
    gateway timeout) or not (an invalid number). Notifier adapters raise it;
    the communications log keeps ``reason`` as the failure reason.

    ``provider_message_id`` is the channel's id for a message it took and then
    answered failed at once (Twilio's sid on a ``201`` that says ``failed``): the
    failed message keeps it, so the channel's later delivery reports find it.

    .. versionadded:: 0.1
    .. versionchanged:: 0.4
       ``provider_message_id``.
    """

    code = "delivery_failed"

    def __init__(
        self,
        reason: str,
        *,
        channel: str,
        retryable: bool = False,
        provider_message_id: str | None = None,
    ) -> None:
        self.reason = reason
        self.channel = channel
        self.retryable = retryable
        self.provider_message_id = provider_message_id
        super().__init__(f"could not send by {channel}: {reason}")

    def details(self) -> Mapping[str, Any]:
        return {"channel": self.channel, "reason": self.reason, "retryable": self.retryable}


class RecipientGoneError(DeliveryError):
    """The channel says the recipient no longer exists: a push token the push
    service does not know (the app was uninstalled, the token expired).

    Never ``retryable``: sending again to the same address cannot work. The
    communications service deactivates the device that held the token, so no
    later message goes to it.

    .. versionadded:: 0.4
    """

    code = "recipient_gone"

    def __init__(self, reason: str, *, channel: str) -> None:
        super().__init__(reason, channel=channel, retryable=False)


class PaymentProviderError(BookingError):
    """A payment provider refused a request or could not be reached.

    ``provider`` names it (``stripe``, ``razorpay``, ...), ``reason`` is the
    provider's own code where it gave one (``card_declined``,
    ``BAD_REQUEST_ERROR``), and ``retryable`` tells whether the same request
    may work later (a timeout, the provider's 5xx, a rate limit) or not (a
    declined card, an invalid amount). Payment adapters raise it for every
    vendor error, so callers never see a vendor SDK's exceptions.

    .. versionadded:: 0.2
    """

    code = "payment_provider_error"

    def __init__(
        self, message: str, *, provider: str, reason: str | None = None, retryable: bool = False
    ) -> None:
        self.provider = provider
        self.reason = reason
        self.retryable = retryable
        super().__init__(f"{provider}: {message}")

    def details(self) -> Mapping[str, Any]:
        return {"provider": self.provider, "reason": self.reason, "retryable": self.retryable}
