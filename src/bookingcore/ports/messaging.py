"""Ports for what leaves the process: messages to people, documents, events to a broker.

.. versionadded:: 0.1
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Protocol, runtime_checkable

import attrs

from bookingcore.domain.communications import Channel, CommunicationStatus
from bookingcore.domain.documents import DocumentData, RenderedDocument
from bookingcore.domain.events import OutboxMessage, SerializedMessage
from bookingcore.domain.values import CommunicationId

__all__ = [
    "DocumentRenderer",
    "EventPublisher",
    "Notifier",
    "OutgoingMessage",
    "SendReceipt",
    "SerializedEventPublisher",
]


@attrs.frozen
class OutgoingMessage:
    """One message for a :class:`Notifier` to send.

    ``communication_id`` is stable across retries of the same message; gateways
    that accept an idempotency key should be given it.

    A push message (:attr:`~bookingcore.domain.communications.Channel.PUSH`) is
    handed over once per active device of the customer: ``recipient`` is that
    device's push token, ``subject`` the notification's title, and ``data`` the
    key-value payload an app reads to open the right screen
    (``communication_id``, ``type`` and, about a booking, ``booking_id``).

    .. versionadded:: 0.1
    .. versionchanged:: 0.4
       ``data``.
    """

    communication_id: CommunicationId
    channel: Channel
    recipient: str
    body: str
    subject: str | None = None
    data: Mapping[str, str] = attrs.field(factory=dict, hash=False)


@attrs.frozen
class SendReceipt:
    """What the channel answered: its id for the message and how far it got.

    .. versionadded:: 0.1
    """

    provider_message_id: str | None = None
    status: CommunicationStatus = CommunicationStatus.SENT


class Notifier(Protocol):
    """Sends messages to people by email, SMS, phone or push notification.

    A push message comes once per device (its token as the ``recipient``): a
    notifier that learns the token is gone raises
    :class:`~bookingcore.errors.RecipientGoneError`, and the device is deactivated.

    .. versionadded:: 0.1
    .. versionchanged:: 0.4
       push messages, one per device.
    """

    def send(self, message: OutgoingMessage) -> SendReceipt:
        """Hand ``message`` to its channel.

        Raises:
            DeliveryError: the channel refused or could not be reached; the
                communication is logged as failed with the error's reason (and
                its ``provider_message_id``, when the channel took the message
                and answered it failed at once).
        """


class DocumentRenderer(Protocol):
    """Turns a booking's document data into a document (text, HTML, PDF as base64).

    .. versionadded:: 0.1
    """

    def render(self, data: DocumentData) -> RenderedDocument:
        """The document of kind ``data.kind`` for ``data.booking``."""


class EventPublisher(Protocol):
    """Relays outbox messages to a broker (Redis streams, Kafka, SQS, ...).

    .. versionadded:: 0.1
    """

    def publish(self, messages: Sequence[OutboxMessage]) -> None:
        """Publish ``messages`` in order; raise if any was not accepted, so the
        relay keeps them for the next run."""


@runtime_checkable
class SerializedEventPublisher(Protocol):
    """Relays outbox messages as stored (JSON data, no typed event) to a broker.

    A publisher with this method gets it from
    :class:`~bookingcore.services.OutboxRelay` instead of
    :meth:`EventPublisher.publish`: the relay then reads the outbox rows and
    hands over their JSON as it is, without rebuilding each typed event (which
    a broker would serialize again). Implement both to be used by either path.

    .. versionadded:: 0.2
    """

    def publish_serialized(self, messages: Sequence[SerializedMessage]) -> None:
        """Publish ``messages`` in order; raise if any was not accepted, so the
        relay keeps them for the next run."""
