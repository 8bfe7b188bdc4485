"""A development :class:`~bookingcore.ports.SmsSender` that writes texts to a log.

.. versionadded:: 0.1
"""

from __future__ import annotations

import itertools
import logging
import threading
from typing import TextIO

from bookingcore.domain.communications import Channel, check_message_length
from bookingcore.domain.values import PhoneNumber
from bookingcore.ports.messaging import SendReceipt

__all__ = ["ConsoleSmsSender"]


class ConsoleSmsSender:
    """Logs each text at INFO on ``bookingcore.sms`` and keeps it in :attr:`sent`.

    For demos, tests and local development: nothing leaves the process and every
    message counts as sent, with the provider id ``console-<n>``. Pass
    ``stream=sys.stdout`` to also print each text (the CLI demo shows OTP codes
    this way). Do not use it in production: OTP codes end up in the log.

    Args:
        stream: where to print each text as well, if anywhere.
        logger: the logger to use instead of ``bookingcore.sms``.

    .. versionadded:: 0.1
    """

    def __init__(self, *, stream: TextIO | None = None, logger: logging.Logger | None = None):
        self._log = logger or logging.getLogger("bookingcore.sms")
        self._stream = stream
        self._numbers = itertools.count(1)
        self._lock = threading.Lock()
        #: Every text sent so far, in order: ``(to, body, reference)``.
        self.sent: list[tuple[PhoneNumber, str, str | None]] = []

    def send_sms(self, to: PhoneNumber, body: str, *, reference: str | None = None) -> SendReceipt:
        """Log ``body`` for ``to`` and remember it.

        Raises:
            ValidationError: on ``body`` when it is longer than an SMS carries
                (:data:`~bookingcore.domain.communications.SMS_MAX_LENGTH`), as a
                real gateway refuses it; nothing is logged or kept.

        .. versionchanged:: 0.4
           A body over 1600 characters is refused, as Twilio refuses it.
        """
        check_message_length(Channel.SMS, body)
        with self._lock:
            provider_id = f"console-{next(self._numbers)}"
            self.sent.append((to, body, reference))
            suffix = f" [{reference}]" if reference else ""
            self._log.info("sms %s to %s%s: %s", provider_id, to.e164, suffix, body)
            if self._stream is not None:
                print(f"SMS to {to.e164}{suffix}: {body}", file=self._stream, flush=True)
        return SendReceipt(provider_message_id=provider_id)
