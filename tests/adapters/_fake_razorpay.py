"""A local stand-in for Razorpay's REST API, on 127.0.0.1, for the adapter's tests.

It speaks the shapes Razorpay documents: JSON request bodies, HTTP basic auth
with ``key_id:key_secret``, order, payment, refund and collection entities,
and errors as ``{"error": {"code": "BAD_REQUEST_ERROR", "description": ...,
"field": ...}}``; an id it does not know is a 400 "The id provided does not
exist", as Razorpay answers it. ``X-Refund-Idempotency`` makes a retried refund
answer the first one. Tests add payments with :meth:`FakeRazorpay.pay`, queue
failures with :meth:`FakeRazorpay.fail_next`, refund as the dashboard does with
:meth:`FakeRazorpay.refund_in_dashboard` and lose a refund's answer with
:meth:`FakeRazorpay.lose_next_refund_answer`.
"""

from __future__ import annotations

import base64
import itertools
import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

KEY_ID = "rzp_test_bookingcore"
KEY_SECRET = "fake-key-secret"
CURRENCIES = {"INR", "USD", "EUR", "JPY", "KWD"}
MIN_AMOUNT = 100


class FakeRazorpay:
    """Razorpay's orders, payments and refunds, in memory, behind an HTTP server."""

    def __init__(self) -> None:
        self.orders: dict[str, dict[str, Any]] = {}
        self.payments: dict[str, dict[str, Any]] = {}
        self.refunds: dict[str, dict[str, Any]] = {}
        self.requests: list[dict[str, Any]] = []
        self._idempotent_refunds: dict[str, tuple[Any, dict[str, Any]]] = {}
        self._failures: list[tuple[int, dict[str, Any] | str]] = []
        self._delay = 0.0
        self._lose_refund_answers = 0
        self._ids = itertools.count(1)
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None

    # -- what tests use --------------------------------------------------

    @property
    def base_url(self) -> str:
        assert self._server is not None
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def fail_next(
        self,
        status: int,
        code: str = "BAD_REQUEST_ERROR",
        description: str = "failure",
        field: str | None = None,
        *,
        raw: str | None = None,
    ) -> None:
        """Answer the next request with ``status`` and a Razorpay error (or ``raw`` text)."""
        body: dict[str, Any] | str = (
            raw
            if raw is not None
            else {
                "error": {
                    "code": code,
                    "description": description,
                    "source": "NA",
                    "step": "NA",
                    "reason": "NA",
                    "metadata": {},
                    "field": field,
                }
            }
        )
        self._failures.append((status, body))

    def delay(self, seconds: float) -> None:
        """Wait ``seconds`` before answering each request (0 to stop)."""
        self._delay = seconds

    def lose_next_refund_answer(self) -> None:
        """Make the next refund but lose its answer: the connection closes unanswered, as
        when the network fails after Razorpay acted."""
        self._lose_refund_answers += 1

    def refund_in_dashboard(self, payment_id: str, amount: int | None = None) -> str:
        """Refund ``amount`` paise of a payment (all that is left when not given) as someone
        would in Razorpay's dashboard: no notes, no idempotency key; the refund's id."""
        with self._lock:
            body = {} if amount is None else {"amount": amount}
            status, answer = self._refund(self.payments[payment_id], None, body)
        assert status == 200, answer
        return str(answer["id"])

    def pay(self, order_id: str, status: str = "captured", amount: int | None = None) -> str:
        """Add a payment on the order, as Checkout would, and move the order along."""
        order = self.orders[order_id]
        payment_id = self._new_id("pay")
        self.payments[payment_id] = {
            "id": payment_id,
            "entity": "payment",
            "amount": order["amount"] if amount is None else amount,
            "currency": order["currency"],
            "status": status,
            "order_id": order_id,
            "invoice_id": None,
            "international": False,
            "method": "upi",
            "amount_refunded": 0,
            "refund_status": None,
            "captured": status == "captured",
            "description": None,
            "email": "customer@example.com",
            "contact": "+919000090000",
            "notes": [],
            "error_code": "BAD_REQUEST_ERROR" if status == "failed" else None,
            "error_description": "Payment was declined by the bank" if status == "failed" else None,
            "created_at": int(time.time()) + next(self._ids),
        }
        order["attempts"] += 1
        if status == "captured":
            order["status"] = "paid"
            order["amount_paid"] = self.payments[payment_id]["amount"]
            order["amount_due"] = 0
        else:
            order["status"] = "attempted"
        return payment_id

    # -- the HTTP side ---------------------------------------------------

    def _new_id(self, prefix: str) -> str:
        return f"{prefix}_{next(self._ids):014d}"

    @staticmethod
    def _error(
        status: int, description: str, field: str | None = None
    ) -> tuple[int, dict[str, Any]]:
        return status, {
            "error": {
                "code": "BAD_REQUEST_ERROR",
                "description": description,
                "source": "business",
                "step": "payment_initiation",
                "reason": "input_validation_failed",
                "metadata": {},
                "field": field,
            }
        }

    def handle(
        self, method: str, target: str, headers: dict[str, str], raw: bytes
    ) -> tuple[int, dict[str, Any] | str]:
        url = urlsplit(target)
        with self._lock:
            body: Any = json.loads(raw) if raw else None
            self.requests.append(
                {
                    "method": method,
                    "path": url.path,
                    "query": url.query,
                    "headers": headers,
                    "body": body,
                }
            )
            if self._failures:
                return self._failures.pop(0)
            expected = base64.b64encode(f"{KEY_ID}:{KEY_SECRET}".encode()).decode()
            if headers.get("authorization") != f"Basic {expected}":
                return 401, self._error(401, "Authentication failed")[1]
            return self._route(method, url.path, parse_qs(url.query), headers, body)

    def _route(
        self,
        method: str,
        path: str,
        query: dict[str, list[str]],
        headers: dict[str, str],
        body: Any,
    ) -> tuple[int, dict[str, Any]]:
        parts = path.strip("/").split("/")
        if parts[:2] == ["v1", "orders"]:
            if len(parts) == 2 and method == "POST":
                return self._create_order(body)
            if len(parts) == 2 and method == "GET":
                receipt = query.get("receipt", [None])[0]
                items = [o for o in self.orders.values() if receipt in (None, o["receipt"])]
                return 200, {"entity": "collection", "count": len(items), "items": items}
            if len(parts) >= 3 and method == "GET":
                order = self.orders.get(parts[2])
                if order is None:
                    return self._error(400, "The id provided does not exist")
                if len(parts) == 3:
                    return 200, order
                if parts[3:] == ["payments"]:
                    items = [p for p in self.payments.values() if p["order_id"] == parts[2]]
                    return 200, {"entity": "collection", "count": len(items), "items": items}
        if parts[:2] == ["v1", "payments"] and len(parts) >= 3:
            payment = self.payments.get(parts[2])
            if payment is None:
                return self._error(400, "The id provided does not exist")
            if len(parts) == 3 and method == "GET":
                return 200, payment
            if parts[3:] == ["refund"] and method == "POST":
                return self._refund(payment, headers.get("x-refund-idempotency"), body)
        return self._error(404, "The requested URL was not found on the server.")

    def _create_order(self, body: Any) -> tuple[int, dict[str, Any]]:
        if not isinstance(body, dict):
            return self._error(400, "The request body is not valid JSON")
        amount, currency = body.get("amount"), body.get("currency")
        if not isinstance(amount, int) or isinstance(amount, bool):
            return self._error(400, "The amount must be an integer.", "amount")
        if currency not in CURRENCIES:
            return self._error(400, "Currency is not supported", "currency")
        if amount < MIN_AMOUNT:
            return self._error(400, f"The amount must be atleast {currency} 1.00", "amount")
        receipt = body.get("receipt")
        if receipt is not None and len(receipt) > 40:
            return self._error(400, "receipt: the length must be 40 or less", "receipt")
        notes = body.get("notes") or {}
        if len(notes) > 15:
            return self._error(
                400, "Number of fields in notes should be less than or equal to 15", "notes"
            )
        order_id = self._new_id("order")
        self.orders[order_id] = {
            "id": order_id,
            "entity": "order",
            "amount": amount,
            "amount_paid": 0,
            "amount_due": amount,
            "currency": currency,
            "receipt": receipt,
            "offer_id": None,
            "status": "created",
            "attempts": 0,
            "notes": notes,
            "created_at": int(time.time()),
        }
        return 200, self.orders[order_id]

    def _refund(
        self, payment: dict[str, Any], key: str | None, body: Any
    ) -> tuple[int, dict[str, Any]]:
        if key is not None:
            if len(key) < 10 or not all(c.isalnum() or c in "-_" for c in key):
                return self._error(400, "The idempotency key is invalid")
            if key in self._idempotent_refunds:
                first_body, refund = self._idempotent_refunds[key]
                if first_body != body:
                    return self._error(
                        400,
                        "Different request with the same idempotency key"
                        " has already been processed.",
                    )
                return 200, refund
        if payment["status"] not in {"captured", "refunded"}:
            return self._error(400, "The payment has not been captured")
        left = payment["amount"] - payment["amount_refunded"]
        amount = (body or {}).get("amount", left)
        if not isinstance(amount, int) or amount <= 0:
            return self._error(400, "The amount must be an integer.", "amount")
        if amount > left:
            return self._error(
                400, "The refund amount provided is greater than amount captured", "amount"
            )
        refund_id = self._new_id("rfnd")
        refund = {
            "id": refund_id,
            "entity": "refund",
            "amount": amount,
            "currency": payment["currency"],
            "payment_id": payment["id"],
            "notes": (body or {}).get("notes") or [],
            "receipt": None,
            "acquirer_data": {"arn": None},
            "created_at": int(time.time()),
            "batch_id": None,
            "status": "processed",
            "speed_processed": "normal",
            "speed_requested": "normal",
        }
        self.refunds[refund_id] = refund
        payment["amount_refunded"] += amount
        full = payment["amount_refunded"] == payment["amount"]
        payment["refund_status"] = "full" if full else "partial"
        if full:
            payment["status"] = "refunded"
        if key is not None:
            self._idempotent_refunds[key] = (body, refund)
        return 200, refund

    @contextmanager
    def running(self) -> Iterator[FakeRazorpay]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _serve(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                headers = {name.lower(): value for name, value in self.headers.items()}
                if fake._delay:
                    time.sleep(fake._delay)
                status, answer = fake.handle(self.command, self.path, headers, raw)
                if fake._lose_refund_answers and self.path.endswith("/refund"):
                    fake._lose_refund_answers -= 1
                    self.close_connection = True
                    return
                data = answer.encode() if isinstance(answer, str) else json.dumps(answer).encode()
                self.send_response(status)
                kind = "text/html" if isinstance(answer, str) else "application/json"
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = _serve  # noqa: N815 - http.server's names

            def log_message(self, format: str, *args: object) -> None:
                return

        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        server.daemon_threads = True
        thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._server = server
        thread.start()
        try:
            yield self
        finally:
            server.shutdown()
            server.server_close()
            thread.join(timeout=5)
