"""Recognising a retry: a canonical, versioned digest of what a request asked for.

A call made with an idempotency key stores :func:`request_digest` of its
request beside the result. A later call with the same key is a retry when its
digest is equal, and a different request (``IdempotencyConflictError``) when it
is not. The digest is computed from the request's own fields and who asked
(the principal's kind and id) only: never from where the request came from (IP
address, user agent), never from ``repr`` (which changes with the code), and
never from the library's version. Its format is versioned, ``v1:<sha256 hex>``,
so a later format can be introduced beside this one without changing what an
already stored digest means.

The canonical form of a value is JSON with sorted keys and no spaces, in which

* ``None``, booleans, integers and strings are themselves;
* :class:`~decimal.Decimal` is its plain decimal text with no exponent and no
  trailing zeros (``Decimal("10.50")`` and ``Decimal("10.5")`` are one amount);
* :class:`~uuid.UUID` is its hyphenated lower-case text, dates and datetimes
  their ISO 8601 text (datetimes in UTC), enumerations their value;
* mappings are objects (keys must be strings), sequences are arrays, sets are
  sorted arrays;
* an attrs instance is an object of its fields plus ``"@type"``, its class name,
  so a saved and a new traveler with the same fields differ. Fields left at
  their default, empty or ``None`` are left out, so a field added to a request
  type later does not change the digest of requests that do not use it.

Floats are refused: a digest must not depend on binary rounding.

.. versionadded:: 0.2
"""

from __future__ import annotations

import enum
import hashlib
import json
import uuid
from collections.abc import Mapping, Set, Sized
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any, cast
from uuid import UUID

import attrs

from bookingcore.domain._validation import check_idempotency_key

__all__ = [
    "DIGEST_VERSION",
    "KeyClaim",
    "caller_key",
    "canonical",
    "key_claim_id",
    "request_digest",
    "scoped_key",
]

#: The digest format :func:`request_digest` writes. Stored digests of an older
#: format keep their meaning; a new format gets a new number.
DIGEST_VERSION = 1


def canonical(value: object) -> Any:
    """``value`` as the JSON-ready structure its digest is computed from.

    Raises:
        TypeError: a float, a mapping with a non-string key, or a type with no
            canonical form.
    """
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, enum.Enum):
        return canonical(value.value)
    if isinstance(value, Decimal):
        return _decimal_text(value)
    if isinstance(value, UUID):
        return str(value)
    if isinstance(value, datetime):
        if value.tzinfo is None:
            msg = "datetimes in a request digest must be timezone-aware"
            raise TypeError(msg)
        return value.astimezone(UTC).isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if attrs.has(type(value)):
        kind = cast("type[attrs.AttrsInstance]", type(value))
        fields = {
            a.name: canonical(getattr(value, a.name))
            for a in attrs.fields(kind)
            if not _left_out(a, getattr(value, a.name))
        }
        return {"@type": type(value).__name__, **fields}
    if isinstance(value, Mapping):
        out: dict[str, Any] = {}
        for key, item in value.items():
            if not isinstance(key, str):
                msg = f"mapping keys in a request digest must be strings, not {key!r}"
                raise TypeError(msg)
            out[key] = canonical(item)
        return out
    if isinstance(value, Set):
        return sorted((canonical(item) for item in value), key=_sort_key)
    if isinstance(value, list | tuple):
        return [canonical(item) for item in value]
    msg = f"{type(value).__name__} has no canonical form for a request digest"
    raise TypeError(msg)


def request_digest(operation: str, fields: Mapping[str, object]) -> str:
    """The versioned digest of one request: ``operation`` and its ``fields``.

    ``operation`` names the call (``"book"``, ``"transition"``, ...), so the same
    key used for two different calls never matches. Put in ``fields`` what the
    request asks for and who asks (kind and id of the principal), never where
    it came from.

    Raises:
        TypeError: a field with no canonical form (see :func:`canonical`).
    """
    body = {"operation": operation, "fields": canonical(fields)}
    text = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    # A lone surrogate is not UTF-8; "surrogatepass" digests it instead of failing
    # (the request is then refused by its own checks), and leaves any valid text as is.
    encoded = text.encode("utf-8", "surrogatepass")
    return f"v{DIGEST_VERSION}:{hashlib.sha256(encoded).hexdigest()}"


def scoped_key(kind: str, principal_id: UUID | None, key: object) -> str | None:
    """The key stored for a caller's idempotency ``key``: scoped to who sent it.

    Keys belong to the principal that sends them (as Stripe scopes them to an
    account): the same key from another principal is a fresh request. The
    stored key is ``"<kind>:<id>:<key>"`` (``-`` for a principal without an
    id), for example ``"customer:1b4e28ba-2fa1-11d2-883f-0016d3cca427:k-42"``;
    that is what ``Booking.idempotency_key``, ``LifecycleEvent.idempotency_key``
    and ``Communication.dedupe_key`` show. Kinds and UUIDs hold no ``:``, so two
    principals never share a stored key, and keys the library writes for itself
    (``import:...``, ``reminder:...``) never collide with a caller's.

    Returns None when ``key`` is None or empty (no key).

    Raises:
        ValidationError: on ``idempotency_key``: not text, longer than 255
            characters, or holding control characters.
    """
    checked = check_idempotency_key(key)
    if checked is None:
        return None
    return f"{kind}:{principal_id or '-'}:{checked}"


def caller_key(stored: str) -> str:
    """The key as its caller sent it, from a key :func:`scoped_key` stored."""
    return stored.split(":", 2)[2] if stored.count(":") >= 2 else stored


#: Claims' ids derive from their keys, so a key is claimed (and found) once everywhere.
#: Migration 0032 writes the same ids for the keys it registers: never change it.
_CLAIM_NAMESPACE = UUID("5f0c2b7e-9a41-4d3c-8e26-1b7d4a9c3f58")


def key_claim_id(key: str) -> UUID:
    """The id of the claim on (stored) idempotency ``key``: derived from the key."""
    return uuid.uuid5(_CLAIM_NAMESPACE, key)


#: The longest name of an operation a key may be claimed for.
MAX_OPERATION = 40


def _check_operation(value: object) -> str:
    if not isinstance(value, str) or not 0 < len(value) <= MAX_OPERATION:
        msg = f"an operation is named by 1 to {MAX_OPERATION} characters, not {value!r}"
        raise ValueError(msg)
    return value


@attrs.frozen
class KeyClaim:
    """Which kind of operation a (stored, scoped) idempotency key belongs to.

    Every operation that takes a caller's key claims it, in the unit of work that
    makes the change the key stands for, with
    ``uow.idempotency_keys.add_if_new``: the first claim wins, and the key then
    answers that kind of operation only. Each keyed call names its own kind
    (``"booking"``, ``"transition"``, ``"refund"``, ``"slot_cancel"``, ...: the
    ``operation`` it passes to ``claim_key``, ``claim_request`` or ``claim_change``
    in :mod:`bookingcore.services`). The claim never changes; its ``id`` derives
    from the key. ``made_id`` is the id of what the claiming call made or wrote,
    for operations that keep no key of their own (an advisor note, a group, a
    slot, a voucher; the audit entry of an edit or of a slot's cancellation),
    derived from the key and the digest of the request as asked, so a retry
    asking the same finds it and a different request does not. None for the
    others, which find their result, and what it asked, in their own store.

    .. versionadded:: 0.4
    .. versionchanged:: 0.4
       ``made_id``.
    """

    key: str
    operation: str = attrs.field(converter=_check_operation)
    created_at: datetime
    id: UUID = attrs.field(
        default=attrs.Factory(lambda self: key_claim_id(self.key), takes_self=True)
    )
    made_id: UUID | None = None

    def __attrs_post_init__(self) -> None:
        if self.id != key_claim_id(self.key):
            msg = f"the id of the claim on {self.key!r} is {key_claim_id(self.key)}"
            raise ValueError(msg)


def _left_out(field: attrs.Attribute[Any], value: object) -> bool:
    """Whether a field says nothing a request without it would not say."""
    if value is None or (isinstance(value, Sized) and not isinstance(value, str) and not value):
        return True
    default = field.default
    if default is attrs.NOTHING or isinstance(default, attrs.Factory):  # type: ignore[arg-type]
        return False
    return bool(value == default)


def _decimal_text(value: Decimal) -> str:
    if not value.is_finite():
        msg = f"{value} has no canonical form for a request digest"
        raise TypeError(msg)
    text = format(value.normalize(), "f")
    return "0" if text in {"-0", "0"} else text


def _sort_key(item: Any) -> str:
    return json.dumps(item, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
