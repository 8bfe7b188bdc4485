"""Partner webhooks over HTTP: :class:`HttpxWebhookSender`, a
:class:`~bookingcore.ports.WebhookSender` that signs with the Standard Webhooks
scheme (the ``standardwebhooks`` package) or the ``X-Bookingcore-Signature``
scheme, and POSTs with httpx. Needs ``pip install bookingcore[webhooks]``.

Wire it explicitly::

    core = BookingCore(uow_factory=..., webhook_sender=HttpxWebhookSender(timeout=10))
    core.webhooks.deliver_due()   # from a job, every few seconds

.. versionadded:: 0.2
"""

from bookingcore_adapters.webhooks._httpx import HttpxWebhookSender, signed_headers

__all__ = ["HttpxWebhookSender", "signed_headers"]
