"""Adapters that implement :mod:`bookingcore.ports` over real components.

Each family lives in its own subpackage behind its own install extra:
``memory`` (no dependencies), ``sql``, ``importers``, ``redis``, ``sms`` and
``payments`` (the manual provider needs nothing; ``payments.stripe`` and
``payments.razorpay`` need the ``stripe`` and ``razorpay`` extras). The core
never imports this package; hosts wire it in.

.. versionadded:: 0.1
"""
