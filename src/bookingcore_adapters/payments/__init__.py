"""Payment providers: implementations of :class:`~bookingcore.ports.payments.PaymentProvider`.

- :class:`ManualProvider` (here): cash or a bank transfer that staff record; it
  needs nothing beyond the core.
- ``bookingcore_adapters.payments.stripe.StripeProvider``: Stripe
  PaymentIntents through the official ``stripe`` SDK
  (``pip install bookingcore[stripe]``).
- ``bookingcore_adapters.payments.razorpay.RazorpayProvider``: Razorpay orders
  through the official ``razorpay`` SDK (``pip install bookingcore[razorpay]``).

Each vendor adapter lives in its own module, which imports its SDK at the top,
so import it by its module path; this package itself imports no SDK. Wire the
providers a host accepts explicitly, by name::

    from bookingcore_adapters.payments import ManualProvider
    from bookingcore_adapters.payments.razorpay import RazorpayProvider

    providers = {
        "manual": ManualProvider(),
        "razorpay": RazorpayProvider(key_id, key_secret, webhook_secret),
    }

.. versionadded:: 0.2
"""

from __future__ import annotations

from bookingcore_adapters.payments._manual import ManualProvider

__all__ = ["ManualProvider"]
