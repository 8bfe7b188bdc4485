"""One cattrs converter for every entity, value object and filter: JSON-ready dicts.

``to_dict(booking)`` gives plain ``dict``/``list``/``str``/``int``/``bool`` data
that ``json.dumps`` accepts; ``from_dict(data, Booking)`` rebuilds an equal
object, validating it again on the way in. Money is ``{"amount": "12.50",
"currency": "EUR"}`` (a string, never a float), phones are E.164 strings, times
are ISO 8601 with their offset, ids are UUID strings, enums their values, a
cancellation policy and a product's requirements their versioned stored shapes
(:meth:`~bookingcore.CancellationPolicy.as_data`,
:meth:`~bookingcore.ProductRequirements.as_data`).

.. versionadded:: 0.1
.. versionchanged:: 0.4 cancellation policies and requirements (a product's).
"""

from __future__ import annotations

import json
from datetime import date, datetime
from decimal import Decimal
from typing import Any, TypeVar
from uuid import UUID

import cattrs
from cattrs.preconf.json import make_converter as _make_json_converter

from bookingcore.domain.cancellation import CancellationPolicy
from bookingcore.domain.events import (
    DomainEvent,
    OutboxMessage,
    SerializedMessage,
    event_type,
)
from bookingcore.domain.requirements import ProductRequirements
from bookingcore.domain.values import EmailAddress, PhoneNumber

__all__ = [
    "converter",
    "event_from_dict",
    "event_from_serialized",
    "event_to_dict",
    "from_dict",
    "make_converter",
    "serialized_message",
    "to_dict",
]

T = TypeVar("T")


def make_converter() -> cattrs.Converter:
    """A new converter with bookingcore's hooks, for hosts that add their own.

    .. versionadded:: 0.1
    """
    conv = _make_json_converter()
    conv.register_unstructure_hook(UUID, str)
    conv.register_structure_hook(UUID, lambda value, _: UUID(str(value)))
    conv.register_unstructure_hook(Decimal, str)
    conv.register_structure_hook(Decimal, lambda value, _: _decimal(value))
    conv.register_unstructure_hook(datetime, datetime.isoformat)
    conv.register_structure_hook(datetime, lambda value, _: datetime.fromisoformat(value))
    conv.register_unstructure_hook(date, date.isoformat)
    conv.register_structure_hook(date, lambda value, _: date.fromisoformat(value))
    conv.register_unstructure_hook(PhoneNumber, lambda phone: phone.e164)
    conv.register_structure_hook(PhoneNumber, lambda value, _: PhoneNumber(value))
    conv.register_unstructure_hook(EmailAddress, lambda email: email.value)
    conv.register_structure_hook(EmailAddress, lambda value, _: EmailAddress(value))
    conv.register_unstructure_hook(
        frozenset, lambda values: sorted(conv.unstructure(v) for v in values)
    )
    conv.register_unstructure_hook(CancellationPolicy, CancellationPolicy.as_data)
    conv.register_unstructure_hook(ProductRequirements, ProductRequirements.as_data)
    conv.register_structure_hook(
        ProductRequirements, lambda value, _: ProductRequirements.from_data(value)
    )
    conv.register_structure_hook(
        CancellationPolicy, lambda value, _: CancellationPolicy.from_data(value)
    )
    return conv


def _decimal(value: Any) -> Decimal:
    if isinstance(value, float):
        msg = "amounts travel as strings, never floats"
        raise TypeError(msg)
    return Decimal(value)


#: The shared converter. Build your own with :func:`make_converter` to add hooks.
converter = make_converter()


def to_dict(obj: Any) -> Any:
    """Unstructure ``obj`` (an entity, value object or a list of them) into JSON-ready data.

    .. versionadded:: 0.1
    """
    return converter.unstructure(obj)


def from_dict(data: Any, cls: type[T]) -> T:
    """Rebuild an instance of ``cls`` from :func:`to_dict` output.

    Raises:
        cattrs.errors.ClassValidationError: the data does not fit ``cls``.

    .. versionadded:: 0.1
    """
    return converter.structure(data, cls)


def event_to_dict(event: DomainEvent) -> dict[str, Any]:
    """A domain event as ``{"name": ..., "data": {...}}``, as the outbox stores and publishes it.

    .. versionadded:: 0.1
    """
    return {"name": event.name, "data": converter.unstructure(event)}


def event_from_dict(data: Any) -> DomainEvent:
    """Rebuild the event :func:`event_to_dict` wrote, by its registered name.

    Raises:
        ValidationError: on field ``name`` for an event no class is registered for.
        cattrs.errors.ClassValidationError: the data does not fit that event.

    .. versionadded:: 0.1
    """
    return converter.structure(data["data"], event_type(data["name"]))


def serialized_message(message: OutboxMessage) -> SerializedMessage:
    """``message`` as storage keeps it (its event as :func:`event_to_dict` writes it;
    the payload compact, keys sorted).

    .. versionadded:: 0.2
    """
    event = message.event
    return SerializedMessage(
        id=event.id,
        name=event.name,
        occurred_at=event.occurred_at,
        payload=json.dumps(event_to_dict(event)["data"], separators=(",", ":"), sort_keys=True),
        sequence=message.sequence,
    )


def event_from_serialized(message: SerializedMessage) -> DomainEvent:
    """The typed event a :class:`~bookingcore.domain.SerializedMessage` carries.

    Raises:
        ValidationError, cattrs.errors.ClassValidationError: as :func:`event_from_dict`.

    .. versionadded:: 0.2
    """
    return event_from_dict({"name": message.name, "data": message.data})
