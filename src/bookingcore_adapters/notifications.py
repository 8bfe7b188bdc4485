"""Notifiers that need no server: a log for development, and a router by channel.

:class:`LogNotifier`: every message shows up in the log with its channel and
recipient, and counts as sent. Real channels come as adapters of their own
(:class:`~bookingcore_adapters.email.SmtpNotifier`,
:class:`~bookingcore_adapters.sms.TwilioNotifier`); :class:`ChannelNotifier`
puts them behind one notifier, one per channel.

.. versionadded:: 0.1
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

from bookingcore.domain.communications import Channel
from bookingcore.errors import DeliveryError, ValidationError
from bookingcore.ports.messaging import Notifier, OutgoingMessage, SendReceipt

__all__ = ["ChannelNotifier", "LogNotifier"]


class LogNotifier:
    """Logs each message at INFO on ``bookingcore.notifications`` (or ``logger``).

    .. versionadded:: 0.1
    .. versionchanged:: 0.4
       the provider id is ``log-<communication id>``: unique across notifiers and
       restarts (a per-notifier counter gave two processes over one store the same
       ids, which the communications log refuses).
    """

    def __init__(self, logger: logging.Logger | None = None) -> None:
        self._log = logger or logging.getLogger("bookingcore.notifications")

    def send(self, message: OutgoingMessage) -> SendReceipt:
        """Log ``message``; its provider id is ``log-<communication id>``."""
        self._log.info(
            "%s to %s%s: %s",
            message.channel.value,
            message.recipient,
            f" [{message.subject}]" if message.subject else "",
            message.body,
        )
        return SendReceipt(provider_message_id=f"log-{message.communication_id}")


class ChannelNotifier:
    """Hands each message to the notifier of its channel.

    ::

        notifier = ChannelNotifier({"email": SmtpNotifier(...), "sms": TwilioNotifier(...)})

    A message for a channel without a notifier fails (not retryable) with a
    reason naming the channel.

    Raises:
        ValidationError: a key that is not a channel (from :class:`Channel`).

    .. versionadded:: 0.2
    """

    def __init__(self, notifiers: Mapping[Channel | str, Notifier]) -> None:
        self._notifiers: dict[Channel, Notifier] = {}
        for channel, notifier in notifiers.items():
            try:
                self._notifiers[Channel(channel)] = notifier
            except ValueError:
                msg = f"{channel!r} is not a channel (email, sms, phone, push)"
                raise ValidationError.single("notifiers", msg, "invalid_choice") from None

    def send(self, message: OutgoingMessage) -> SendReceipt:
        """Send ``message`` through its channel's notifier.

        Raises:
            DeliveryError: no notifier for the channel, or the notifier's own.
        """
        notifier = self._notifiers.get(message.channel)
        if notifier is None:
            reason = f"no notifier configured for {message.channel.value}"
            raise DeliveryError(reason, channel=message.channel.value, retryable=False)
        return notifier.send(message)
