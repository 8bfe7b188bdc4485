"""SMS senders: implementations of :class:`~bookingcore.ports.SmsSender`.

- :class:`ConsoleSmsSender` logs texts and keeps them in memory (development,
  demos, tests); it needs nothing beyond the core.
- :class:`TwilioSmsSender` sends through Twilio's Messages REST API; with
  :func:`verify_twilio_signature` and :func:`twilio_status` for its status
  callbacks. :class:`TwilioNotifier` is the same as a
  :class:`~bookingcore.ports.Notifier` for the communications log, and
  :func:`read_twilio_status_callback` checks and reads a status callback.
  They need httpx (``pip install bookingcore[sms]``), imported only when one
  of these names is first used, so the console sender works without it.

Wire one explicitly::

    sms = TwilioSmsSender(account_sid, auth_token, from_number="+15005550006")

.. versionadded:: 0.1
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from bookingcore_adapters.sms._console import ConsoleSmsSender

if TYPE_CHECKING:
    from bookingcore_adapters.sms._twilio import (
        TwilioNotifier,
        TwilioSmsSender,
        TwilioStatusReport,
        read_twilio_status_callback,
        twilio_status,
        verify_twilio_signature,
    )

__all__ = [
    "ConsoleSmsSender",
    "TwilioNotifier",
    "TwilioSmsSender",
    "TwilioStatusReport",
    "read_twilio_status_callback",
    "twilio_status",
    "verify_twilio_signature",
]

_TWILIO = frozenset(__all__) - {"ConsoleSmsSender"}


def __getattr__(name: str) -> Any:
    if name in _TWILIO:
        return getattr(importlib.import_module("bookingcore_adapters.sms._twilio"), name)
    msg = f"module {__name__!r} has no attribute {name!r}"
    raise AttributeError(msg)
