"""Twilio's SMS status callbacks: the signature is checked, then the message log moves forward.

The app takes callbacks only when :func:`~examples.api.create_app` was given the
account's auth token (``twilio_auth_token``); without it every callback is
refused (401). Point Twilio's ``StatusCallback`` at this route's full public URL:
the signature covers it, so behind a proxy pass ``twilio_callback_url``.
``TwilioNotifier`` adds the message's ``communication_id`` to that URL's query,
and the query of the request is the one Twilio signed: it is kept (after the
configured URL's scheme, host and path), and the id it names finds a message
whose sid is not recorded yet.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel

from bookingcore import AuthenticationError, NotFoundError, Principal
from bookingcore_adapters.sms import read_twilio_status_callback
from examples.api.deps import Core
from examples.api.errors import problem_responses

__all__ = ["SmsStatusOut", "router"]

router = APIRouter(tags=["sms"])


class SmsStatusOut(BaseModel):
    """What the callback did to the message log."""

    communication_id: str
    status: str | None


@router.post(
    "/api/sms/twilio/status",
    operation_id="sms_twilio_status_callback",
    responses=problem_responses(AuthenticationError, NotFoundError),
)
async def twilio_status_callback(request: Request, core: Core) -> SmsStatusOut:
    """Twilio reports a message's progress (form fields, ``X-Twilio-Signature`` header)."""
    token: str | None = request.app.state.twilio_auth_token
    if token is None:
        raise AuthenticationError("this host takes no Twilio callbacks")
    form = await request.form()
    params = {key: value for key, value in form.items() if isinstance(value, str)}
    url = _called_url(request)
    report = read_twilio_status_callback(
        token, url, params, request.headers.get("x-twilio-signature")
    )
    if report.status is None:  # a status the log does not track (receiving, received ...)
        return SmsStatusOut(communication_id="", status=None)
    logged = await run_in_threadpool(
        core.communications.record_callback,
        report.message_sid,
        report.status,
        principal=Principal.webhook("twilio"),
        reason=report.reason,
        communication_id=report.communication_id,
    )
    return SmsStatusOut(communication_id=str(logged.id), status=logged.status.value)


def _called_url(request: Request) -> str:
    """The URL Twilio called: the configured public one (behind a proxy), with the
    query of this request (the communication id the notifier added), else the
    request's own URL."""
    configured: str | None = request.app.state.twilio_callback_url
    if configured is None:
        return str(request.url)
    query = request.url.query
    if not query:
        return configured
    return urlsplit(configured)._replace(query=query, fragment="").geturl()
