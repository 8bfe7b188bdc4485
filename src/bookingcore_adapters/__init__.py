"""Adapters that implement :mod:`bookingcore.ports` over real components.

Each family lives in its own subpackage behind its own install extra:
``memory`` (no dependencies), and later ``sql``, ``redis``, ``sms``, ``payments``,
``importers``. The core never imports this package; hosts wire it in.

.. versionadded:: 0.1
"""
