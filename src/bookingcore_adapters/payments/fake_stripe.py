"""A local stand-in for Stripe's API, speaking its real request and response shapes.

:class:`FakeStripe` runs an HTTP server on 127.0.0.1 (an ephemeral port) in a
thread. It answers the calls :class:`~bookingcore_adapters.payments.stripe.StripeProvider`
makes, the way Stripe does:

* requests carry ``Authorization: Bearer <secret key>`` and form-encoded bodies
  with bracketed keys (``metadata[booking_id]=...``);
* ``POST /v1/payment_intents``, ``GET /v1/payment_intents/{id}`` and
  ``POST /v1/refunds`` answer with ``payment_intent`` and ``refund`` objects;
* errors are ``{"error": {"type", "code", "message", "param", "decline_code"}}``
  with Stripe's HTTP statuses (400, 401, 402, 404, 429, 500);
* an ``Idempotency-Key`` replays the first response for the same parameters
  (with ``Idempotent-Replayed: true``) and is refused for different ones.

A test makes the fake fail on purpose with a ``fake_error`` metadata value
(``card_declined``, ``rate_limit``, ``api_error``, ``permission``,
``invalid_currency``) on the intent or refund request, or loses the answer to
the next request it serves (:meth:`FakeStripe.lose_next_reply`).
:meth:`FakeStripe.event` builds a webhook delivery (headers and raw body) signed
the way Stripe signs; :meth:`FakeStripe.refund_in_dashboard` refunds as a person
would in Stripe's dashboard, and :meth:`FakeStripe.charge` shows the charge
``charge.refunded`` carries.

It ships with the adapter, as httpx ships ``MockTransport``, so your tests and
demos can drive :class:`StripeProvider` end to end without the internet; the
example CLI's demo pays a booking through it. Never point production at it.

.. versionadded:: 0.2
"""

from __future__ import annotations

import itertools
import json
import re
import secrets
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

from bookingcore_adapters.payments.stripe import sign_stripe_payload

__all__ = ["API_KEY", "WEBHOOK_SECRET", "FakeStripe", "decode_form", "running_fake_stripe"]

API_KEY = "sk_test_fake_0123456789"
WEBHOOK_SECRET = "whsec_fake_0123456789abcdef"  # noqa: S105 - the fake's own signing key

#: ``fake_error`` metadata values: (HTTP status, error object).
ERRORS: dict[str, tuple[int, dict[str, Any]]] = {
    "card_declined": (
        402,
        {
            "type": "card_error",
            "code": "card_declined",
            "decline_code": "insufficient_funds",
            "message": "Your card has insufficient funds.",
            "param": "payment_method",
        },
    ),
    "rate_limit": (
        429,
        {
            "type": "invalid_request_error",
            "code": "rate_limit",
            "message": "Too many requests hit the API too quickly.",
        },
    ),
    "api_error": (
        500,
        {"type": "api_error", "message": "An unknown error occurred on Stripe's end."},
    ),
    "idempotency_key_in_use": (
        409,
        {
            "type": "invalid_request_error",
            "code": "idempotency_key_in_use",
            "message": "There is currently another in-progress request using this key.",
        },
    ),
    "permission": (
        403,
        {
            "type": "invalid_request_error",
            "code": "secret_key_required",
            "message": "This API call cannot be made with a publishable API key.",
        },
    ),
    "invalid_currency": (
        400,
        {
            "type": "invalid_request_error",
            "code": "parameter_invalid_empty",
            "message": "Invalid currency.",
            "param": "currency",
        },
    ),
}


def decode_form(body: str) -> dict[str, Any]:
    """Stripe's form encoding to nested dicts: ``metadata[a]=1`` -> ``{"metadata": {"a": "1"}}``."""
    result: dict[str, Any] = {}
    for key, value in parse_qsl(body, keep_blank_values=True):
        parts = re.findall(r"[^\[\]]+", key)
        target = result
        for part in parts[:-1]:
            target = target.setdefault(part, {})
        target[parts[-1]] = value
    return result


class _Error(Exception):
    def __init__(self, status: int, error: Mapping[str, Any]) -> None:
        super().__init__(error.get("message"))
        self.status = status
        self.error = dict(error)


def _invalid(message: str, *, code: str | None = None, param: str | None = None) -> _Error:
    error: dict[str, Any] = {"type": "invalid_request_error", "message": message}
    if code:
        error["code"] = code
    if param:
        error["param"] = param
    return _Error(400, error)


class FakeStripe:
    """Stripe's PaymentIntents and Refunds API on 127.0.0.1, with its state in memory.

    Use it as a context manager (or :func:`running_fake_stripe`); ``url`` is
    what :class:`StripeProvider` takes as ``api_base``. ``requests`` records
    every request as ``(method, path, headers, form)``.
    """

    def __init__(self, *, api_key: str = API_KEY, webhook_secret: str = WEBHOOK_SECRET) -> None:
        self.api_key = api_key
        self.webhook_secret = webhook_secret
        self.intents: dict[str, dict[str, Any]] = {}
        self.refunds: dict[str, dict[str, Any]] = {}
        self.requests: list[tuple[str, str, dict[str, str], dict[str, Any]]] = []
        self._replies: dict[tuple[str, str], tuple[str, int, bytes]] = {}
        self._ids = itertools.count(1)
        self._lost_replies = 0
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        """The fake's base URL, ``http://127.0.0.1:<port>``."""
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def __enter__(self) -> FakeStripe:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    # ------------------------------------------------------------------ test controls

    def _new_id(self, prefix: str) -> str:
        return f"{prefix}_{next(self._ids):06d}{secrets.token_hex(4)}"

    def succeed(self, intent_id: str, amount_received: int | None = None) -> dict[str, Any]:
        """The customer paid: the intent is ``succeeded`` with a charge."""
        with self._lock:
            intent = self.intents[intent_id]
            intent["status"] = "succeeded"
            intent["amount_received"] = (
                intent["amount"] if amount_received is None else amount_received
            )
            intent["latest_charge"] = intent["latest_charge"] or self._new_id("ch")
            intent["last_payment_error"] = None
            return dict(intent)

    def set_status(self, intent_id: str, status: str, **fields: Any) -> dict[str, Any]:
        """Put an intent in any Stripe status, with any other fields (``last_payment_error``)."""
        with self._lock:
            intent = self.intents[intent_id]
            intent["status"] = status
            intent.update(fields)
            return dict(intent)

    def refund_in_dashboard(self, intent_id: str, amount: int | None = None) -> dict[str, Any]:
        """Refund ``amount`` minor units of a paid intent (all that is left when not given)
        as someone would in Stripe's dashboard: no metadata; the refund object."""
        form: dict[str, Any] = {"payment_intent": intent_id}
        if amount is not None:
            form["amount"] = str(amount)
        with self._lock:
            return dict(self._create_refund(form))

    def charge(self, intent_id: str) -> dict[str, Any]:
        """The paid intent's charge, with its refunds newest first, as ``charge.refunded``
        carries it."""
        with self._lock:
            intent = self.intents[intent_id]
            refunds = [dict(r) for r in self.refunds.values() if r["payment_intent"] == intent_id]
        refunded = sum(r["amount"] for r in refunds if r["status"] != "failed")
        return {
            "id": intent["latest_charge"],
            "object": "charge",
            "amount": intent["amount_received"],
            "amount_captured": intent["amount_received"],
            "amount_refunded": refunded,
            "currency": intent["currency"],
            "payment_intent": intent_id,
            "refunded": refunded >= intent["amount_received"],
            "refunds": {"object": "list", "data": refunds[::-1], "has_more": False},
        }

    def lose_next_reply(self) -> None:
        """Serve the next request but lose its answer: the connection closes unanswered, as
        when the network fails after Stripe acted."""
        with self._lock:
            self._lost_replies += 1

    def _lose_reply(self) -> bool:
        with self._lock:
            if not self._lost_replies:
                return False
            self._lost_replies -= 1
            return True

    def event(
        self,
        kind: str,
        obj: Mapping[str, Any],
        *,
        event_id: str | None = None,
        timestamp: int | None = None,
        secret: str | None = None,
    ) -> tuple[dict[str, str], bytes]:
        """A webhook delivery for ``obj``, as Stripe sends it: ``(headers, raw body)``."""
        created = int(time.time()) if timestamp is None else timestamp
        body = json.dumps(
            {
                "id": event_id or self._new_id("evt"),
                "object": "event",
                "api_version": "2025-01-27.acacia",
                "created": created,
                "data": {"object": dict(obj)},
                "livemode": False,
                "pending_webhooks": 1,
                "request": {"id": None, "idempotency_key": None},
                "type": kind,
            },
            indent=2,  # Stripe's bodies are pretty-printed; re-serialising changes them
        ).encode()
        signature = sign_stripe_payload(secret or self.webhook_secret, body, created)
        return {"Content-Type": "application/json", "Stripe-Signature": signature}, body

    # ------------------------------------------------------------------ the API

    def _create_intent(self, form: dict[str, Any]) -> dict[str, Any]:
        amount = _amount(form)
        currency = str(form.get("currency", "")).lower()
        if not re.fullmatch(r"[a-z]{3}", currency):
            raise _invalid("Missing required param: currency.", code="parameter_missing")
        if amount < 50:
            msg = "Amount must be at least 50 in the currency's smallest unit"
            raise _invalid(msg, code="amount_too_small", param="amount")
        intent_id = self._new_id("pi")
        intent = {
            "id": intent_id,
            "object": "payment_intent",
            "amount": amount,
            "amount_capturable": 0,
            "amount_received": 0,
            "capture_method": "automatic",
            "client_secret": f"{intent_id}_secret_{secrets.token_hex(8)}",
            "confirmation_method": "automatic",
            "created": int(time.time()),
            "currency": currency,
            "description": form.get("description"),
            "last_payment_error": None,
            "latest_charge": None,
            "livemode": False,
            "metadata": form.get("metadata", {}),
            "next_action": None,
            "payment_method": None,
            "payment_method_types": ["card"],
            "receipt_email": form.get("receipt_email"),
            "status": "requires_payment_method",
        }
        self.intents[intent_id] = intent
        return intent

    def _retrieve_intent(self, intent_id: str) -> dict[str, Any]:
        intent = self.intents.get(intent_id)
        if intent is None:
            raise _Error(
                404,
                {
                    "type": "invalid_request_error",
                    "code": "resource_missing",
                    "message": f"No such payment_intent: '{intent_id}'",
                    "param": "intent",
                },
            )
        return intent

    def _create_refund(self, form: dict[str, Any]) -> dict[str, Any]:
        intent_id = str(form.get("payment_intent", ""))
        intent = self.intents.get(intent_id)
        if intent is None:
            msg = f"No such payment_intent: '{intent_id}'"
            raise _invalid(msg, code="resource_missing", param="payment_intent")
        if intent["status"] != "succeeded":
            msg = f"PaymentIntent {intent_id} does not have a successful charge to refund."
            raise _invalid(msg, code="charge_not_refundable")
        refunded = sum(
            r["amount"]
            for r in self.refunds.values()
            if r["payment_intent"] == intent_id and r["status"] != "failed"
        )
        left = intent["amount_received"] - refunded
        if left <= 0:
            msg = f"Charge {intent['latest_charge']} has already been refunded."
            raise _invalid(msg, code="charge_already_refunded")
        amount = _amount(form) if "amount" in form else left
        if amount > left:
            msg = f"Refund amount ({amount}) is greater than unrefunded amount on charge ({left})"
            raise _invalid(msg, code="amount_too_large", param="amount")
        reason = form.get("reason")
        if reason is not None and reason not in {
            "duplicate",
            "fraudulent",
            "requested_by_customer",
        }:
            msg = "Invalid reason: must be one of duplicate, fraudulent, or requested_by_customer"
            raise _invalid(msg, code="parameter_invalid_string", param="reason")
        refund = {
            "id": self._new_id("re"),
            "object": "refund",
            "amount": amount,
            "balance_transaction": self._new_id("txn"),
            "charge": intent["latest_charge"],
            "created": int(time.time()),
            "currency": intent["currency"],
            "metadata": form.get("metadata", {}),
            "payment_intent": intent_id,
            "reason": reason,
            "status": "succeeded",
        }
        self.refunds[refund["id"]] = refund
        return refund

    def _route(self, method: str, path: str, form: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        fake_error = form.get("metadata", {}).get("fake_error")
        if fake_error in ERRORS:
            status, error = ERRORS[fake_error]
            raise _Error(status, error)
        if method == "POST" and path == "/v1/payment_intents":
            return 200, dict(self._create_intent(form))
        match = re.fullmatch(r"/v1/payment_intents/([^/]+)", path)
        if method == "GET" and match:
            return 200, dict(self._retrieve_intent(unquote(match.group(1))))
        if method == "POST" and path == "/v1/refunds":
            return 200, dict(self._create_refund(form))
        msg = f"Unrecognized request URL ({method}: {path})."
        raise _Error(404, {"type": "invalid_request_error", "message": msg})

    def _answer(
        self, method: str, path: str, headers: dict[str, str], body: str
    ) -> tuple[int, bytes, dict[str, str]]:
        form = decode_form(body)
        with self._lock:
            self.requests.append((method, path, headers, form))
            if headers.get("authorization") != f"Bearer {self.api_key}":
                error = {
                    "type": "invalid_request_error",
                    "message": "Invalid API Key provided: sk_test_****",
                }
                return 401, json.dumps({"error": error}).encode(), {}
            key = headers.get("idempotency-key") if method == "POST" else None
            if key is not None and (self.api_key, key) in self._replies:
                first_body, status, reply = self._replies[(self.api_key, key)]
                if first_body != body:
                    error = {
                        "type": "idempotency_error",
                        "message": (
                            "Keys for idempotent requests can only be used with the same "
                            "parameters they were first used with."
                        ),
                    }
                    return 400, json.dumps({"error": error}).encode(), {}
                return status, reply, {"Idempotent-Replayed": "true"}
            try:
                status, payload = self._route(method, path, form)
            except _Error as exc:
                status, payload = exc.status, {"error": exc.error}
            reply = json.dumps(payload).encode()
            if key is not None and status != 429 and status < 500:
                self._replies[(self.api_key, key)] = (body, status, reply)
            return status, reply, {}

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def _serve(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length).decode() if length else ""
                url = urlsplit(self.path)
                if self.command == "GET" and url.query:
                    body = url.query
                headers = {k.lower(): v for k, v in self.headers.items()}
                status, reply, extra = fake._answer(self.command, url.path, headers, body)
                if fake._lose_reply():
                    self.close_connection = True
                    return
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(reply)))
                self.send_header("Request-Id", f"req_{secrets.token_hex(6)}")
                for name, value in extra.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(reply)

            do_GET = do_POST = do_DELETE = _serve  # noqa: N815

            def log_message(self, format: str, *args: Any) -> None:
                return  # quiet: tests read fake.requests instead

        return Handler


def _amount(form: Mapping[str, Any]) -> int:
    raw = form.get("amount")
    if raw is None:
        raise _invalid("Missing required param: amount.", code="parameter_missing", param="amount")
    try:
        return int(raw)
    except ValueError:
        raise _invalid(
            "Invalid integer: amount", code="parameter_invalid_integer", param="amount"
        ) from None


@contextmanager
def running_fake_stripe(**kwargs: Any) -> Iterator[FakeStripe]:
    """A started :class:`FakeStripe`, shut down on exit."""
    with FakeStripe(**kwargs) as fake:
        yield fake
