"""Payment providers: implementations of :class:`~bookingcore.ports.payments.PaymentProvider`."""
