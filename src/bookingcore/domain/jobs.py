"""Background jobs, as the core sees them: a request to run a named job, its
schedule, and what an engine reports about a job.

A job is named (``outbox.relay``, ``imports.run``) and takes JSON-able
arguments, so any engine can store it. The engine behind the
:class:`~bookingcore.ports.JobQueue` port decides where it waits and who runs it.

.. versionadded:: 0.1
"""

from __future__ import annotations

import enum
import json
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any, ClassVar

import attrs

from bookingcore.domain.events import DomainEvent
from bookingcore.errors import ValidationError

__all__ = [
    "JobRecord",
    "JobRequest",
    "JobRequested",
    "JobState",
    "Schedule",
    "json_args",
]


def json_args(value: Mapping[str, Any] | None) -> dict[str, Any]:
    """``value`` as a plain JSON object (a copy).

    Raises:
        ValidationError: on field ``args`` when a value is not JSON (a date, a
            set, an object): pass ids and times as strings.
    """
    try:
        return dict(json.loads(json.dumps(dict(value or {}), allow_nan=False)))
    except (TypeError, ValueError) as exc:
        msg = f"job arguments must be JSON (strings, numbers, lists, objects): {exc}"
        raise ValidationError.single("args", msg, "not_json") from None


def _name(_: object, attribute: attrs.Attribute[str], value: str) -> None:
    if not value or not value.strip():
        raise ValidationError.single(attribute.name, "a job needs a name", "required")


@attrs.frozen
class JobRequest:
    """Run job ``name`` with ``args`` (JSON), once.

    ``lock`` is a queueing lock: while a job with the same lock waits in the
    queue, deferring another one is a no-op (the engine returns ``None``). Use
    it to collapse bursts (``"outbox.relay"``) and to keep one import job per file.

    Raises:
        ValidationError: on ``name`` when empty, on ``args`` when not JSON.

    .. versionadded:: 0.1
    """

    name: str = attrs.field(validator=_name)
    args: Mapping[str, Any] = attrs.field(factory=dict, converter=json_args)
    lock: str | None = None


@attrs.frozen
class Schedule:
    """Run job ``name`` with ``args`` every ``every``, on one worker at a time.

    Engines turn ``every`` into their own form (the procrastinate adapter into a
    cron line, so it must divide a minute, an hour or a day evenly).

    Raises:
        ValidationError: on ``every`` when it is under a second.

    .. versionadded:: 0.1
    """

    name: str = attrs.field(validator=_name)
    every: timedelta
    args: Mapping[str, Any] = attrs.field(factory=dict, converter=json_args)

    def __attrs_post_init__(self) -> None:
        if self.every < timedelta(seconds=1):
            raise ValidationError.single("every", "must be at least one second", "too_small")


class JobState(enum.StrEnum):
    """Where a job is, in words every engine can map onto.

    ``failed`` jobs wait for another attempt (with backoff); ``dead`` ones ran
    out of attempts and wait for an operator's retry.

    .. versionadded:: 0.1
    """

    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    DEAD = "dead"
    CANCELLED = "cancelled"


@attrs.frozen
class JobRecord:
    """What an engine knows about one job (for ``jobs`` listings and retries).

    .. versionadded:: 0.1
    """

    id: str
    name: str
    args: Mapping[str, Any]
    state: JobState
    attempts: int = 0
    lock: str | None = None
    run_at: datetime | None = None
    last_error: str | None = None


@attrs.frozen(kw_only=True)
class JobRequested(DomainEvent):
    """A change asked for a job; written to the outbox in the change's transaction.

    :class:`~bookingcore.services.JobService` hands it to the engine after
    commit (and a worker's ``events.dispatch`` job catches up on any a crash
    left behind), so a job is never lost between commit and queue.

    .. versionadded:: 0.1
    """

    name: ClassVar[str] = "job.requested"

    job: str
    args: Mapping[str, Any] = attrs.field(factory=dict, converter=json_args)
    lock: str | None = None

    def request(self) -> JobRequest:
        """The job this event asks for."""
        return JobRequest(self.job, self.args, self.lock)
