"""A development :class:`~bookingcore.ports.Notifier` that writes messages to a log.

Use it while building a host: every message shows up in the log with its
channel and recipient, and counts as sent. Real channels come as adapters of
their own (the SMS gateway sender, an email sender).

.. versionadded:: 0.1
"""

from __future__ import annotations

import itertools
import logging

from bookingcore.ports.messaging import OutgoingMessage, SendReceipt

__all__ = ["LogNotifier"]


class LogNotifier:
    """Logs each message at INFO on ``bookingcore.notifications`` (or ``logger``).

    .. versionadded:: 0.1
    """

    def __init__(self, logger: logging.Logger | None = None) -> None:
        self._log = logger or logging.getLogger("bookingcore.notifications")
        self._counter = itertools.count(1)

    def send(self, message: OutgoingMessage) -> SendReceipt:
        """Log ``message``; its provider id is ``log-<n>``."""
        number = next(self._counter)
        self._log.info(
            "%s to %s%s: %s",
            message.channel.value,
            message.recipient,
            f" [{message.subject}]" if message.subject else "",
            message.body,
        )
        return SendReceipt(provider_message_id=f"log-{number}")
