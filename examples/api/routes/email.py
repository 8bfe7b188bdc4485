"""Mailgun's webhooks: the signature is checked, then the message log moves forward.

The app takes webhooks only when :func:`~examples.api.create_app` was given the
domain's HTTP webhook signing key (``mailgun_signing_key``, from
``BOOKINGCORE_MAILGUN_SIGNING_KEY`` when served with ``python -m examples.api``);
without it every webhook is refused (401). Point the domain's ``delivered``,
``opened``, ``clicked`` and ``permanent_fail`` webhooks at this route. Webhooks
signed more than five minutes ago are refused, and duplicates or events out of
order change nothing: a message's status only moves forward.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel

from bookingcore import AuthenticationError, NotFoundError, Principal, ValidationError
from bookingcore_adapters.email import read_mailgun_webhook
from examples.api.deps import Core
from examples.api.errors import problem_responses

__all__ = ["MailgunEventOut", "router"]

router = APIRouter(tags=["email"])


class MailgunEventOut(BaseModel):
    """What the webhook did to the message log (``status`` null: nothing to record)."""

    event: str
    communication_id: str | None
    status: str | None


@router.post(
    "/api/webhooks/mailgun",
    operation_id="email_mailgun_webhook",
    responses=problem_responses(AuthenticationError, NotFoundError, ValidationError),
)
async def mailgun_webhook(request: Request, core: Core) -> MailgunEventOut:
    """Mailgun reports a message's progress (a signed JSON body: ``signature``, ``event-data``)."""
    key: str | None = request.app.state.mailgun_signing_key
    if key is None:
        raise AuthenticationError("this host takes no Mailgun webhooks")
    event = read_mailgun_webhook(key, await request.body())
    if event.status is None or event.provider_message_id is None:
        # a temporary failure, a complaint, an unsubscribe ...: nothing the log tracks
        return MailgunEventOut(event=event.event, communication_id=None, status=None)
    logged = await run_in_threadpool(
        core.communications.record_callback,
        event.provider_message_id,
        event.status,
        principal=Principal.webhook("mailgun"),
        at=event.at,
        reason=event.reason,
    )
    return MailgunEventOut(
        event=event.event, communication_id=str(logged.id), status=logged.status.value
    )
