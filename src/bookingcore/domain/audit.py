"""The audit trail: who changed what, when, from what to what, and why.

Every state change of a booking, customer, traveler or partner leaves one
:class:`AuditEntry`, written in the same unit of work as the change. Values are
kept as plain JSON data (strings, numbers, booleans, lists), so the trail reads
the same whatever storage keeps it.

.. versionadded:: 0.1
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Collection, Iterable, Mapping
from datetime import date, datetime
from decimal import Decimal
from typing import Any, cast
from uuid import UUID

import attrs

from bookingcore.domain.values import (
    Actor,
    BookingId,
    EmailAddress,
    Money,
    PhoneNumber,
    RequestOrigin,
)

__all__ = ["REDACTED", "AuditAction", "AuditEntry", "audit_value", "diff", "snapshot"]


class AuditAction(enum.StrEnum):
    """What kind of change an audit entry records.

    .. versionadded:: 0.1
    """

    CREATED = "created"
    UPDATED = "updated"
    STATUS_CHANGED = "status_changed"
    DELETED = "deleted"
    ACTIVATED = "activated"
    DEACTIVATED = "deactivated"
    CREDENTIALS_ROTATED = "credentials_rotated"
    #: an advisor's or staff member's note on a booking (append-only)
    NOTE_ADDED = "note_added"
    MERGED = "merged"
    ERASED = "erased"
    #: a booking left the operational lists (``archived_at`` set), or came back
    #:
    #: .. versionadded:: 0.4
    ARCHIVED = "archived"
    UNARCHIVED = "unarchived"


def _plain(value: Mapping[str, Any] | None) -> Mapping[str, Any]:
    if not value:
        return {}
    # Most values are plain already (a snapshot made them so): no call for those.
    plain = _PLAIN
    return {
        key: item if item is None or type(item) in plain else audit_value(item)
        for key, item in value.items()
    }


def _action(value: str) -> AuditAction:
    return value if type(value) is AuditAction else AuditAction(value)


@attrs.frozen(kw_only=True)
class AuditEntry:
    """One change to one entity.

    ``old_values`` and ``new_values`` hold only the fields that changed (a
    creation has no old values). ``booking_id`` is set for changes to a booking
    so its trail can be read in one query (what older systems keep in ``booking_audit_logs``).

    .. versionadded:: 0.1
    """

    id: UUID
    entity: str
    entity_id: UUID
    action: AuditAction = attrs.field(converter=_action)
    actor: Actor
    occurred_at: datetime
    old_values: Mapping[str, Any] = attrs.field(factory=dict, converter=_plain)
    new_values: Mapping[str, Any] = attrs.field(factory=dict, converter=_plain)
    reason: str | None = None
    ip_address: str | None = None
    user_agent: str | None = None
    booking_id: BookingId | None = None

    @property
    def created_at(self) -> datetime:
        """When the entry was written (:attr:`occurred_at`), the order of keyset pages.

        .. versionadded:: 0.3
        """
        return self.occurred_at

    @property
    def origin(self) -> RequestOrigin:
        """The request origin the host gave, if any."""
        return RequestOrigin(self.ip_address, self.user_agent)

    @property
    def changed_fields(self) -> tuple[str, ...]:
        """The names of the fields this entry records, sorted."""
        return tuple(sorted({*self.old_values, *self.new_values}))

    def redact(self, fields: Collection[str]) -> bool:
        """Replace the recorded values of ``fields`` with :data:`REDACTED`, in place.

        The one change an audit entry ever takes: erasing a person's data (GDPR)
        must reach the trail too. The entry keeps which fields changed, when and
        by whom. Returns whether anything was replaced; the unit of work that
        read the entry stores the change on commit.

        .. versionadded:: 0.3
        """
        changed = False
        for name in ("old_values", "new_values"):
            values = getattr(self, name)
            if any(key in fields and values[key] != REDACTED for key in values):
                redacted = {k: REDACTED if k in fields else v for k, v in values.items()}
                object.__setattr__(self, name, redacted)  # frozen: see the docstring
                changed = True
        return changed

    def redact_reason(self) -> bool:
        """Replace the reason given for the change with :data:`REDACTED`, in place.

        For a person's erasure (GDPR) where the reason is free text about them (a
        booking's cancellation reason is also its status change's reason).
        Returns whether anything was replaced.

        .. versionadded:: 0.3
        """
        if not self.reason or self.reason == REDACTED:
            return False
        object.__setattr__(self, "reason", REDACTED)  # frozen: see redact
        return True


#: What a redacted audit value reads as.
REDACTED = "[erased]"


def audit_value(value: object) -> Any:
    """``value`` as plain JSON data: money and decimals as strings, times in ISO 8601."""
    kind = type(value)
    if value is None or kind in _PLAIN:  # already plain: most values are
        return value
    convert = _CONVERT.get(kind)  # the common exact types, without the match below
    if convert is not None:
        return convert(value)
    match value:
        case None | bool() | int() | str():
            return value
        case enum.Enum():
            return audit_value(value.value)
        case Money():
            return f"{value.amount} {value.currency}"
        case PhoneNumber():
            return value.e164
        case EmailAddress():
            return value.value
        case datetime() | date():
            return value.isoformat()
        case Decimal() | UUID():
            return str(value)
        case Actor():
            return str(value)
        case Mapping():
            return {str(k): audit_value(v) for k, v in value.items()}
        case list() | tuple() | frozenset() | set():
            items = [audit_value(v) for v in value]
            return sorted(items, key=repr) if isinstance(value, frozenset | set) else items
        case _ if attrs.has(type(value)):
            return {
                a.name: audit_value(getattr(value, a.name))
                for a in attrs.fields(cast("type[attrs.AttrsInstance]", type(value)))
            }
        case _:
            return str(value)


_PLAIN = frozenset({str, int, bool})


def _money_text(value: Money) -> str:
    return f"{value.amount} {value.currency}"


#: What :func:`audit_value` makes of values of exactly these types (the same as its match).
_CONVERT: dict[type, Callable[[Any], Any]] = {
    UUID: str,
    Money: _money_text,
    datetime: datetime.isoformat,
    date: date.isoformat,
    Decimal: str,
}


def snapshot(entity: object, fields: Iterable[str]) -> dict[str, Any]:
    """The named fields of ``entity`` as audit values."""
    return {name: audit_value(getattr(entity, name)) for name in fields}


def diff(
    before: Mapping[str, Any], after: Mapping[str, Any]
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The old and new values of the fields that differ between two snapshots."""
    changed = sorted(k for k in {*before, *after} if before.get(k) != after.get(k))
    return {k: before.get(k) for k in changed}, {k: after.get(k) for k in changed}
