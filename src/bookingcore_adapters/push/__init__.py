"""Push notifications: a :class:`~bookingcore.ports.Notifier` for the push channel.

- :class:`FcmNotifier` sends through Firebase Cloud Messaging's HTTP v1 API (Android,
  iOS through APNs, and web apps), authenticated as a Google service account
  (:class:`ServiceAccount`) with OAuth 2.0 access tokens from
  :class:`GoogleAccessTokens` (the JWT bearer grant, cached until shortly before
  they expire).

It needs httpx and PyJWT with ``cryptography`` (``pip install 'bookingcore[push]'``);
without ``cryptography`` importing this package raises an ``ImportError`` naming the
extra. Token requests are signed with the private key in the service account file.
Wire it for the push channel, next to email and SMS::

    push = FcmNotifier(ServiceAccount.from_file("firebase-service-account.json"))
    core = BookingCore(
        uow_factory=...,
        notifier=ChannelNotifier({"email": email, "sms": sms, "push": push}),
    )

The communications service hands it one message per active device of the customer
(:class:`~bookingcore.services.PushDeviceService` keeps them); a token FCM no longer
knows raises :class:`~bookingcore.errors.RecipientGoneError` and its device is
deactivated.

.. versionadded:: 0.4
"""

from __future__ import annotations

from bookingcore_adapters.push._fcm import (
    FCM_SCOPE,
    GOOGLE_TOKEN_URI,
    JWT_BEARER_GRANT,
    FcmNotifier,
    GoogleAccessTokens,
    ServiceAccount,
)

__all__ = [
    "FCM_SCOPE",
    "GOOGLE_TOKEN_URI",
    "JWT_BEARER_GRANT",
    "FcmNotifier",
    "GoogleAccessTokens",
    "ServiceAccount",
]
