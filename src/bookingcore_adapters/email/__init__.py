"""Email notifiers: implementations of :class:`~bookingcore.ports.Notifier` for email.

- :class:`SmtpNotifier` sends through any SMTP server with the standard
  library's :mod:`smtplib` (no extra needed).
- :class:`MailgunNotifier` sends through Mailgun's Messages API, with open and
  click tracking; :func:`read_mailgun_webhook` (with
  :func:`verify_mailgun_signature` and :class:`MailgunEvent`) checks and reads
  its webhooks, which move a message to delivered, opened, clicked or failed.
  They need httpx (``pip install bookingcore[mailgun]``), imported only when one
  of these names is first used, so the SMTP notifier works without it.

Wire one explicitly, alone or with an SMS notifier behind a
:class:`~bookingcore_adapters.notifications.ChannelNotifier`::

    email = SmtpNotifier("smtp.example.com", 587, sender="bookings@example.com",
                         username="bookings", password=smtp_password)
    core = BookingCore(uow_factory=..., notifier=email)

.. versionadded:: 0.2
.. versionchanged:: 0.4
   :class:`MailgunNotifier` and its webhooks.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from bookingcore_adapters.email._smtp import SmtpNotifier

if TYPE_CHECKING:
    from bookingcore_adapters.email._mailgun import (
        MailgunEvent,
        MailgunNotifier,
        read_mailgun_webhook,
        verify_mailgun_signature,
    )

__all__ = [
    "MailgunEvent",
    "MailgunNotifier",
    "SmtpNotifier",
    "read_mailgun_webhook",
    "verify_mailgun_signature",
]

_MAILGUN = frozenset(__all__) - {"SmtpNotifier"}


def __getattr__(name: str) -> Any:
    if name in _MAILGUN:
        return getattr(importlib.import_module("bookingcore_adapters.email._mailgun"), name)
    msg = f"module {__name__!r} has no attribute {name!r}"
    raise AttributeError(msg)
