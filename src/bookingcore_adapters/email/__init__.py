"""Email notifiers: :class:`SmtpNotifier`, a :class:`~bookingcore.ports.Notifier` that
sends through any SMTP server with the standard library's :mod:`smtplib` (no extra
needed).

Wire it explicitly, alone or with an SMS notifier behind a
:class:`~bookingcore_adapters.notifications.ChannelNotifier`::

    email = SmtpNotifier("smtp.example.com", 587, sender="bookings@example.com",
                         username="bookings", password=smtp_password)
    core = BookingCore(uow_factory=..., notifier=email)

.. versionadded:: 0.2
"""

from bookingcore_adapters.email._smtp import SmtpNotifier

__all__ = ["SmtpNotifier"]
