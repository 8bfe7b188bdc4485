"""Contract suites for the security ports: the OTP store and the rate limiter.

Subclass a contract in a class whose name starts with ``Test`` and provide its
fixture, a fresh and empty adapter::

    class TestMyOtpStore(OtpStoreContract):
        @pytest.fixture
        def otp_store(self):
            return MyOtpStore(...)

    class TestMyRateLimiter(RateLimiterContract):
        @pytest.fixture
        def rate_limiter(self):
            return MyRateLimiter(...)

The memory and Redis adapters run exactly these suites. Besides the plain
behaviour they pin down what "atomic" means: several threads race on one phone
or one key, and exactly the right number of them may win. The races are run
several rounds with Python's thread switch interval turned down, so a check
and write that are not atomic lose updates often enough to fail the suite.

Times are explicit (the ports take ``now``), starting at
:data:`~bookingcore.testing.builders.T0`.

.. versionadded:: 0.1
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable, Iterator, Sequence
from datetime import datetime, timedelta, timezone
from functools import partial
from typing import TypeVar
from uuid import uuid4

import attrs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bookingcore.domain.otp import OtpChallenge
from bookingcore.domain.values import PhoneNumber
from bookingcore.errors import ValidationError
from bookingcore.ports.security import OtpStore, RateDecision, RateLimiter
from bookingcore.testing.builders import T0, Builder

__all__ = ["OtpStoreContract", "RateLimiterContract"]

R = TypeVar("R")

#: How many threads race in each concurrency test, and how many rounds they race.
WORKERS = 16
ROUNDS = 40

LIFETIME = timedelta(minutes=5)
COOLDOWN = timedelta(seconds=30)


def _race(actions: Sequence[Callable[[], R]]) -> list[R]:
    """Run each action in a thread of its own, all released together; return every result.

    Raises:
        AssertionError: a worker raised or did not finish within 30 seconds.
    """
    barrier = threading.Barrier(len(actions))
    results: list[R] = []
    errors: list[BaseException] = []
    guard = threading.Lock()

    def run(action: Callable[[], R]) -> None:
        try:
            barrier.wait()
            result = action()
        except BaseException as exc:  # reported below, in the test's thread
            with guard:
                errors.append(exc)
            return
        with guard:
            results.append(result)

    threads = [threading.Thread(target=run, args=(action,)) for action in actions]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert not any(thread.is_alive() for thread in threads), "a worker hung"
    assert not errors, f"workers raised: {errors!r}"
    return results


class _Races:
    @pytest.fixture
    def eager_thread_switches(self) -> Iterator[None]:
        """Switch threads as often as Python allows, so unguarded races show up."""
        previous = sys.getswitchinterval()
        sys.setswitchinterval(1e-6)
        try:
            yield
        finally:
            sys.setswitchinterval(previous)


class OtpStoreContract(_Races):
    """One live challenge per phone; cooldown, attempts and consumption are atomic.

    Provide an ``otp_store`` fixture returning a fresh, empty store.

    .. versionadded:: 0.1
    """

    @pytest.fixture
    def otp_store(self) -> OtpStore:
        """Override: a fresh, empty OTP store."""
        msg = "subclasses provide an otp_store fixture"
        raise NotImplementedError(msg)

    @pytest.fixture
    def make(self) -> Builder:
        """A builder, here for its unique phone numbers."""
        return Builder()

    @staticmethod
    def challenge(
        phone: PhoneNumber, created_at: datetime = T0, *, max_attempts: int = 3, attempts: int = 0
    ) -> OtpChallenge:
        """A fresh challenge for ``phone`` that lives five minutes from ``created_at``."""
        return OtpChallenge(
            id=uuid4(),
            phone=phone,
            code_hash=f"hash-{uuid4().hex}",
            created_at=created_at,
            expires_at=created_at + LIFETIME,
            max_attempts=max_attempts,
            attempts=attempts,
        )

    # ------------------------------------------------------------------ replace

    def test_replace_stores_the_first_challenge(self, otp_store: OtpStore, make: Builder) -> None:
        first = self.challenge(make.phone())
        assert otp_store.replace(first, not_before=T0 - COOLDOWN) is None
        assert otp_store.get(first.phone) == first

    def test_an_unknown_phone_has_no_challenge(self, otp_store: OtpStore, make: Builder) -> None:
        assert otp_store.get(make.phone()) is None

    def test_a_challenge_reads_back_equal_in_every_field(
        self, otp_store: OtpStore, make: Builder
    ) -> None:
        india = timezone(timedelta(hours=5, minutes=30))
        created = datetime(2026, 3, 4, 10, 11, 12, 345678, tzinfo=india)
        stored = self.challenge(make.phone(), created, max_attempts=5, attempts=2)
        assert otp_store.replace(stored, not_before=created) is None
        read = otp_store.get(stored.phone)
        assert read == stored
        assert read is not None
        assert read.created_at.utcoffset() is not None

    def test_replace_inside_the_cooldown_returns_the_blocker_and_stores_nothing(
        self, otp_store: OtpStore, make: Builder
    ) -> None:
        phone = make.phone()
        first = self.challenge(phone, T0)
        otp_store.replace(first, not_before=T0 - COOLDOWN)
        later = T0 + timedelta(seconds=10)
        second = self.challenge(phone, later)
        assert otp_store.replace(second, not_before=later - COOLDOWN) == first
        assert otp_store.get(phone) == first
        assert otp_store.record_attempt(phone, second.id, later) is None
        assert otp_store.consume(phone, second.id, later) is False

    def test_the_cooldown_ends_when_not_before_reaches_the_current_creation_time(
        self, otp_store: OtpStore, make: Builder
    ) -> None:
        """Blocked only by a challenge created strictly after ``not_before``."""
        phone = make.phone()
        first = self.challenge(phone, T0)
        otp_store.replace(first, not_before=T0 - COOLDOWN)
        second = self.challenge(phone, T0 + COOLDOWN)
        assert otp_store.replace(second, not_before=T0) is None
        assert otp_store.get(phone) == second

    def test_after_the_cooldown_the_new_challenge_replaces_the_old_one(
        self, otp_store: OtpStore, make: Builder
    ) -> None:
        phone = make.phone()
        old = self.challenge(phone, T0)
        otp_store.replace(old, not_before=T0 - COOLDOWN)
        later = T0 + timedelta(minutes=1)
        new = self.challenge(phone, later)
        assert otp_store.replace(new, not_before=later - COOLDOWN) is None
        assert otp_store.get(phone) == new
        assert otp_store.record_attempt(phone, old.id, later) is None
        assert otp_store.consume(phone, old.id, later) is False
        otp_store.discard(phone, old.id)
        assert otp_store.get(phone) == new
        assert otp_store.record_attempt(phone, new.id, later) == 1

    def test_a_used_up_challenge_still_blocks_inside_its_cooldown(
        self, otp_store: OtpStore, make: Builder
    ) -> None:
        """The cooldown counts from creation, whether the challenge was consumed or not."""
        phone = make.phone()
        first = self.challenge(phone, T0)
        otp_store.replace(first, not_before=T0 - COOLDOWN)
        assert otp_store.consume(phone, first.id, T0 + timedelta(seconds=1))
        later = T0 + timedelta(seconds=5)
        blocker = otp_store.replace(self.challenge(phone, later), not_before=later - COOLDOWN)
        assert blocker is not None
        assert blocker.id == first.id

    # ------------------------------------------------------------------ attempts

    def test_record_attempt_counts_up_to_max_attempts_then_refuses(
        self, otp_store: OtpStore, make: Builder
    ) -> None:
        challenge = self.challenge(make.phone(), max_attempts=3)
        otp_store.replace(challenge, not_before=T0 - COOLDOWN)
        now = T0 + timedelta(seconds=20)
        counts = [otp_store.record_attempt(challenge.phone, challenge.id, now) for _ in range(5)]
        assert counts == [1, 2, 3, None, None]
        stored = otp_store.get(challenge.phone)
        assert stored is not None
        assert stored.attempts == 3

    def test_record_attempt_refuses_from_the_moment_of_expiry(
        self, otp_store: OtpStore, make: Builder
    ) -> None:
        challenge = self.challenge(make.phone())
        otp_store.replace(challenge, not_before=T0 - COOLDOWN)
        just_before = challenge.expires_at - timedelta(microseconds=1)
        assert otp_store.record_attempt(challenge.phone, challenge.id, just_before) == 1
        assert otp_store.record_attempt(challenge.phone, challenge.id, challenge.expires_at) is None
        stored = otp_store.get(challenge.phone)
        assert stored is not None
        assert stored.attempts == 1

    def test_record_attempt_refuses_a_consumed_challenge(
        self, otp_store: OtpStore, make: Builder
    ) -> None:
        challenge = self.challenge(make.phone())
        otp_store.replace(challenge, not_before=T0 - COOLDOWN)
        now = T0 + timedelta(seconds=20)
        assert otp_store.consume(challenge.phone, challenge.id, now)
        assert otp_store.record_attempt(challenge.phone, challenge.id, now) is None

    def test_record_attempt_refuses_an_id_that_is_not_the_phones(
        self, otp_store: OtpStore, make: Builder
    ) -> None:
        challenge = self.challenge(make.phone())
        otp_store.replace(challenge, not_before=T0 - COOLDOWN)
        assert otp_store.record_attempt(challenge.phone, uuid4(), T0) is None
        assert otp_store.record_attempt(make.phone(), challenge.id, T0) is None
        stored = otp_store.get(challenge.phone)
        assert stored is not None
        assert stored.attempts == 0

    # ------------------------------------------------------------------ consume

    def test_consume_succeeds_once_and_records_when(
        self, otp_store: OtpStore, make: Builder
    ) -> None:
        challenge = self.challenge(make.phone())
        otp_store.replace(challenge, not_before=T0 - COOLDOWN)
        now = T0 + timedelta(seconds=42)
        assert otp_store.consume(challenge.phone, challenge.id, now) is True
        assert otp_store.consume(challenge.phone, challenge.id, now) is False
        stored = otp_store.get(challenge.phone)
        assert stored is not None
        assert stored.consumed_at == now
        assert not stored.is_usable(now)

    def test_consume_refuses_an_expired_or_unknown_challenge(
        self, otp_store: OtpStore, make: Builder
    ) -> None:
        challenge = self.challenge(make.phone())
        otp_store.replace(challenge, not_before=T0 - COOLDOWN)
        assert otp_store.consume(challenge.phone, uuid4(), T0) is False
        assert otp_store.consume(make.phone(), challenge.id, T0) is False
        assert otp_store.consume(challenge.phone, challenge.id, challenge.expires_at) is False
        stored = otp_store.get(challenge.phone)
        assert stored is not None
        assert stored.consumed_at is None

    def test_the_attempt_that_used_the_last_try_may_still_consume(
        self, otp_store: OtpStore, make: Builder
    ) -> None:
        """``record_attempt`` is the gate on tries; a correct last try must be able to win."""
        challenge = self.challenge(make.phone(), max_attempts=1)
        otp_store.replace(challenge, not_before=T0 - COOLDOWN)
        assert otp_store.record_attempt(challenge.phone, challenge.id, T0) == 1
        assert otp_store.consume(challenge.phone, challenge.id, T0) is True

    # ------------------------------------------------------------------ discard and cleanup

    def test_discard_removes_only_the_matching_challenge(
        self, otp_store: OtpStore, make: Builder
    ) -> None:
        challenge = self.challenge(make.phone())
        otp_store.replace(challenge, not_before=T0 - COOLDOWN)
        otp_store.discard(challenge.phone, uuid4())
        otp_store.discard(make.phone(), challenge.id)
        assert otp_store.get(challenge.phone) == challenge
        otp_store.discard(challenge.phone, challenge.id)
        assert otp_store.get(challenge.phone) is None
        otp_store.discard(challenge.phone, challenge.id)  # a second discard is harmless
        fresh = self.challenge(challenge.phone, T0 + timedelta(seconds=1))
        assert otp_store.replace(fresh, not_before=T0 - COOLDOWN) is None

    def test_forget_removes_the_phone_s_challenge_whatever_its_state(
        self, otp_store: OtpStore, make: Builder
    ) -> None:
        """.. versionadded:: 0.4"""
        used, live, other = self.challenge(make.phone()), None, self.challenge(make.phone())
        otp_store.replace(used, not_before=T0 - COOLDOWN)
        otp_store.replace(other, not_before=T0 - COOLDOWN)
        assert otp_store.consume(used.phone, used.id, T0 + timedelta(seconds=1))
        otp_store.forget(used.phone)
        assert otp_store.get(used.phone) is None
        assert otp_store.get(other.phone) == other
        live = self.challenge(used.phone, T0 + timedelta(seconds=2))
        assert otp_store.replace(live, not_before=T0 - COOLDOWN) is None  # no cooldown left
        otp_store.forget(live.phone)
        otp_store.forget(live.phone)  # a second forget is harmless
        assert otp_store.get(live.phone) is None
        # Nothing is left for the clean-up to count.
        assert otp_store.delete_expired(T0 + LIFETIME * 10) == 1  # ``other`` only

    def test_delete_expired_removes_expired_and_consumed_and_keeps_live_ones(
        self, otp_store: OtpStore, make: Builder
    ) -> None:
        expired = self.challenge(make.phone(), T0 - LIFETIME - timedelta(minutes=1))
        consumed = self.challenge(make.phone(), T0 - timedelta(minutes=1))
        exhausted = self.challenge(make.phone(), T0 - timedelta(minutes=1), max_attempts=1)
        live = self.challenge(make.phone(), T0 - timedelta(minutes=1))
        for challenge in (expired, consumed, exhausted, live):
            assert otp_store.replace(challenge, not_before=T0 - timedelta(days=1)) is None
        assert otp_store.consume(consumed.phone, consumed.id, T0 - timedelta(seconds=30))
        assert otp_store.record_attempt(exhausted.phone, exhausted.id, T0) == 1
        assert otp_store.delete_expired(T0) == 2
        assert otp_store.get(expired.phone) is None
        assert otp_store.get(consumed.phone) is None
        assert otp_store.get(live.phone) == live
        assert otp_store.get(exhausted.phone) is not None
        assert otp_store.delete_expired(T0) == 0
        assert otp_store.delete_expired(T0 + LIFETIME) == 2
        assert otp_store.get(live.phone) is None

    def test_delete_expired_counts_a_challenge_expiring_exactly_now(
        self, otp_store: OtpStore, make: Builder
    ) -> None:
        """A challenge stops being usable at ``expires_at``, so it is removable then too."""
        challenge = self.challenge(make.phone())
        otp_store.replace(challenge, not_before=T0 - COOLDOWN)
        assert otp_store.delete_expired(challenge.expires_at - timedelta(microseconds=1)) == 0
        assert otp_store.delete_expired(challenge.expires_at) == 1
        assert otp_store.get(challenge.phone) is None

    def test_phones_do_not_share_challenges_or_cooldowns(
        self, otp_store: OtpStore, make: Builder
    ) -> None:
        mine = self.challenge(make.phone())
        theirs = self.challenge(make.phone())
        assert otp_store.replace(mine, not_before=T0 - COOLDOWN) is None
        assert otp_store.replace(theirs, not_before=T0 - COOLDOWN) is None
        assert otp_store.record_attempt(mine.phone, mine.id, T0) == 1
        assert otp_store.consume(mine.phone, mine.id, T0)
        otp_store.discard(mine.phone, mine.id)
        assert otp_store.get(mine.phone) is None
        assert otp_store.get(theirs.phone) == theirs
        assert otp_store.record_attempt(theirs.phone, theirs.id, T0) == 1

    # ------------------------------------------------------------------ concurrency

    @pytest.mark.usefixtures("eager_thread_switches")
    def test_racing_consumers_of_one_challenge_have_exactly_one_winner(
        self, otp_store: OtpStore, make: Builder
    ) -> None:
        now = T0 + timedelta(seconds=20)
        for _ in range(ROUNDS):
            challenge = self.challenge(make.phone())
            otp_store.replace(challenge, not_before=T0 - COOLDOWN)
            consume = partial(otp_store.consume, challenge.phone, challenge.id, now)
            wins = _race([consume] * WORKERS)
            assert sorted(wins) == [False] * (WORKERS - 1) + [True]

    @pytest.mark.usefixtures("eager_thread_switches")
    def test_racing_attempts_get_distinct_counts_up_to_the_maximum(
        self, otp_store: OtpStore, make: Builder
    ) -> None:
        now = T0 + timedelta(seconds=20)
        for _ in range(ROUNDS):
            challenge = self.challenge(make.phone(), max_attempts=3)
            otp_store.replace(challenge, not_before=T0 - COOLDOWN)
            attempt = partial(otp_store.record_attempt, challenge.phone, challenge.id, now)
            counts = _race([attempt] * WORKERS)
            assert sorted(c for c in counts if c is not None) == [1, 2, 3]
            assert counts.count(None) == WORKERS - 3
            stored = otp_store.get(challenge.phone)
            assert stored is not None
            assert stored.attempts == 3

    @pytest.mark.usefixtures("eager_thread_switches")
    def test_racing_replacements_for_one_phone_store_exactly_one(
        self, otp_store: OtpStore, make: Builder
    ) -> None:
        now = T0 + timedelta(seconds=1)

        def offer(candidate: OtpChallenge) -> tuple[OtpChallenge, OtpChallenge | None]:
            return candidate, otp_store.replace(candidate, not_before=now - COOLDOWN)

        for _ in range(ROUNDS):
            phone = make.phone()
            otp_store.replace(self.challenge(phone, T0 - timedelta(minutes=2)), not_before=T0)
            outcomes = _race([partial(offer, self.challenge(phone, now)) for _ in range(WORKERS)])
            stored = [candidate.id for candidate, blocker in outcomes if blocker is None]
            assert len(stored) == 1
            current = otp_store.get(phone)
            assert current is not None
            assert current.id == stored[0]
            assert all(blocker == current for _, blocker in outcomes if blocker is not None)


# ---------------------------------------------------------------------- rate limiter


@attrs.define
class _SlidingLogModel:
    """The reference a limiter is compared with: every accepted hit, per key."""

    hits: dict[str, list[datetime]] = attrs.field(factory=dict)

    def hit(self, key: str, limit: int, window: timedelta, now: datetime) -> RateDecision:
        live = [t for t in self.hits.get(key, []) if t > now - window]
        self.hits[key] = live
        if len(live) >= limit:
            return RateDecision(False, 0, min(live) + window - now)
        live.append(now)
        return RateDecision(True, limit - len(live))


class RateLimiterContract(_Races):
    """A sliding window per key: ``limit`` hits in any ``window``, refusals not counted.

    Provide a ``rate_limiter`` fixture returning a fresh limiter. A hit at
    ``now`` counts the accepted hits in ``(now - window, now]``.

    .. versionadded:: 0.1
    """

    @pytest.fixture
    def rate_limiter(self) -> RateLimiter:
        """Override: a fresh rate limiter with no hits recorded."""
        msg = "subclasses provide a rate_limiter fixture"
        raise NotImplementedError(msg)

    @staticmethod
    def key() -> str:
        """A key no other test uses."""
        return f"contract:{uuid4().hex}"

    def test_allows_limit_hits_then_refuses_with_a_wait(self, rate_limiter: RateLimiter) -> None:
        key, window = self.key(), timedelta(minutes=1)
        decisions = [rate_limiter.hit(key, limit=3, window=window, now=T0) for _ in range(4)]
        assert decisions[:3] == [
            RateDecision(True, 2),
            RateDecision(True, 1),
            RateDecision(True, 0),
        ]
        refused = decisions[3]
        assert not refused.allowed
        assert refused.remaining == 0
        assert timedelta(0) < refused.retry_after <= window

    def test_retry_after_is_the_time_until_the_oldest_hit_leaves_the_window(
        self, rate_limiter: RateLimiter
    ) -> None:
        key, window = self.key(), timedelta(seconds=60)
        assert rate_limiter.hit(key, limit=2, window=window, now=T0).allowed
        assert rate_limiter.hit(key, limit=2, window=window, now=T0 + timedelta(seconds=10)).allowed
        refused = rate_limiter.hit(key, limit=2, window=window, now=T0 + timedelta(seconds=30))
        assert refused == RateDecision(False, 0, timedelta(seconds=30))

    def test_the_window_slides(self, rate_limiter: RateLimiter) -> None:
        key, window = self.key(), timedelta(seconds=60)

        def at(seconds: float) -> RateDecision:
            return rate_limiter.hit(
                key, limit=2, window=window, now=T0 + timedelta(seconds=seconds)
            )

        assert at(0).allowed
        assert at(10).allowed
        assert not at(59.999999).allowed
        assert at(60) == RateDecision(True, 0)  # the hit at 0 is exactly a window old
        assert not at(69).allowed
        assert at(70) == RateDecision(True, 0)
        assert at(200) == RateDecision(True, 1)

    def test_refused_hits_are_not_counted(self, rate_limiter: RateLimiter) -> None:
        key, window = self.key(), timedelta(seconds=60)
        assert rate_limiter.hit(key, limit=1, window=window, now=T0).allowed
        for second in range(1, 60, 5):
            now = T0 + timedelta(seconds=second)
            assert not rate_limiter.hit(key, limit=1, window=window, now=now).allowed
        assert rate_limiter.hit(key, limit=1, window=window, now=T0 + window).allowed

    def test_keys_are_counted_apart(self, rate_limiter: RateLimiter) -> None:
        mine, theirs, window = self.key(), self.key(), timedelta(minutes=1)
        assert rate_limiter.hit(mine, limit=1, window=window, now=T0).allowed
        assert not rate_limiter.hit(mine, limit=1, window=window, now=T0).allowed
        assert rate_limiter.hit(theirs, limit=1, window=window, now=T0) == RateDecision(True, 0)

    def test_reset_forgets_every_hit_on_the_key_only(self, rate_limiter: RateLimiter) -> None:
        mine, theirs, window = self.key(), self.key(), timedelta(minutes=1)
        for key in (mine, theirs):
            for _ in range(2):
                rate_limiter.hit(key, limit=2, window=window, now=T0)
        rate_limiter.reset(mine)
        assert rate_limiter.hit(mine, limit=2, window=window, now=T0) == RateDecision(True, 1)
        assert not rate_limiter.hit(theirs, limit=2, window=window, now=T0).allowed
        rate_limiter.reset(self.key())  # an unknown key is fine

    def test_a_limit_below_one_or_an_empty_window_is_rejected(
        self, rate_limiter: RateLimiter
    ) -> None:
        with pytest.raises(ValidationError) as no_hits:
            rate_limiter.hit(self.key(), limit=0, window=timedelta(minutes=1), now=T0)
        assert no_hits.value.errors[0].field == "limit"
        with pytest.raises(ValidationError) as no_window:
            rate_limiter.hit(self.key(), limit=1, window=timedelta(0), now=T0)
        assert no_window.value.errors[0].field == "window"

    def test_decisions_match_a_reference_sliding_log(self, rate_limiter: RateLimiter) -> None:
        """Every decision, wait included, equals the one of a plain list of accepted hits."""

        # Given inside the test, not on it: one adapter's examples are never replayed
        # against another's subclass, and the fixture is shared through the closure.
        @settings(deadline=None)
        @given(
            limit=st.integers(1, 4),
            window_ms=st.integers(1, 60_000),
            steps=st.lists(st.tuples(st.integers(0, 30_000), st.sampled_from("ab")), max_size=30),
        )
        def decisions_match(limit: int, window_ms: int, steps: list[tuple[int, str]]) -> None:
            model = _SlidingLogModel()
            window = timedelta(milliseconds=window_ms)
            prefix = self.key()  # a fresh key per example: the limiter is not reset between them
            now = T0
            for gap_ms, name in steps:
                now += timedelta(milliseconds=gap_ms)
                key = f"{prefix}:{name}"
                expected = model.hit(key, limit, window, now)
                assert rate_limiter.hit(key, limit=limit, window=window, now=now) == expected

        decisions_match()

    @pytest.mark.usefixtures("eager_thread_switches")
    def test_racing_hits_on_one_key_allow_exactly_the_limit(
        self, rate_limiter: RateLimiter
    ) -> None:
        limit, window = 5, timedelta(minutes=1)
        for _ in range(ROUNDS):
            hit = partial(rate_limiter.hit, self.key(), limit=limit, window=window, now=T0)
            decisions = _race([hit] * WORKERS)
            allowed = [d for d in decisions if d.allowed]
            assert sorted(d.remaining for d in allowed) == list(range(limit))
            assert all(d.retry_after == window for d in decisions if not d.allowed)
