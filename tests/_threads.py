"""Running work in several threads released together: the race tests' one helper."""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import pytest

T = TypeVar("T")

#: How long every racer together may take before the test fails as hung.
TIMEOUT = 60.0


def at_once(
    count: int,
    work: Callable[[int], Any],
    *,
    timeout: float = TIMEOUT,
    switch_interval: float | None = None,
) -> list[Any]:
    """Run ``work(0)`` ... ``work(count - 1)`` in threads released together by a barrier.

    Returns, by index, what each call returned or the exception it raised; fails the
    test if a call is still running after ``timeout`` seconds (a lock never released).
    ``switch_interval`` (seconds) makes the interpreter switch threads that often while
    they run, so pure-Python races interleave more (``sys.setswitchinterval``).
    """
    barrier = threading.Barrier(count, timeout=timeout)
    results: list[Any] = [None] * count

    def run(index: int) -> None:
        try:
            barrier.wait()
            results[index] = work(index)
        except Exception as exc:
            results[index] = exc

    threads = [
        threading.Thread(target=run, args=(i,), name=f"racer-{i}", daemon=True)
        for i in range(count)
    ]
    previous = sys.getswitchinterval()
    if switch_interval is not None:
        sys.setswitchinterval(switch_interval)
    try:
        for thread in threads:
            thread.start()
        deadline = time.monotonic() + timeout
        for thread in threads:
            thread.join(max(0.0, deadline - time.monotonic()))
    finally:
        sys.setswitchinterval(previous)
    hung = [thread.name for thread in threads if thread.is_alive()]
    if hung:
        pytest.fail(f"{', '.join(hung)} still running after {timeout:.0f} s")
    return results


def all_at_once(actions: Sequence[Callable[[], T]], *, timeout: float = TIMEOUT) -> list[T]:
    """Run every action in its own thread, released together; their results in order.

    Raises the first exception an action raised (after every thread has ended).
    """
    results = at_once(len(actions), lambda index: actions[index](), timeout=timeout)
    for result in results:
        if isinstance(result, Exception):
            raise result
    return results


def split(results: Sequence[Any]) -> tuple[list[Any], list[Exception]]:
    """``results`` of :func:`at_once` as (what calls returned, what they raised)."""
    raised = [r for r in results if isinstance(r, Exception)]
    return [r for r in results if not isinstance(r, Exception)], raised
