"""Test support that ships with the library: fakes, Hypothesis strategies, contract suites.

* :mod:`bookingcore.testing.fakes`: :class:`FixedClock`, :class:`SequentialIds`,
  :class:`RecordingNotifier`, :class:`RecordingPublisher`, :class:`RecordingWebhookSender`.
* :mod:`bookingcore.testing.strategies`: Hypothesis strategies for every value and entity.
* :mod:`bookingcore.testing.contracts`: the suites every adapter of a port must pass;
  subclass them and provide a ``uow_factory`` fixture.
* :mod:`bookingcore.testing.capabilities`: :class:`AdapterCapabilities`, what an
  adapter's backend can do, which decides the contract tests that apply to it.

Needs the ``testing`` extra (pytest, hypothesis) for the last two.

.. versionadded:: 0.1
"""

from bookingcore.testing.capabilities import AdapterCapabilities, requires
from bookingcore.testing.fakes import (
    FixedClock,
    RecordingNotifier,
    RecordingPublisher,
    RecordingWebhookSender,
    SequentialIds,
)
from bookingcore.testing.payments import FakePaymentProvider

__all__ = [
    "AdapterCapabilities",
    "FakePaymentProvider",
    "FixedClock",
    "RecordingNotifier",
    "RecordingPublisher",
    "RecordingWebhookSender",
    "SequentialIds",
    "requires",
]
