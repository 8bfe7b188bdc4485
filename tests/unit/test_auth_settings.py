"""Auth settings refuse bad values by name, and the security guide states their real defaults."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from bookingcore import AuthSettings, PrincipalKind, RateLimit, TokenLifetimes, ValidationError

ROOT = Path(__file__).resolve().parents[2]
GUIDE = ROOT / "docs" / "security.md"
PEPPER = b"pepper-pepper-pepper-pepper-pepper"


class TestAuthSettings:
    def test_the_defaults_follow_seed_000(self) -> None:
        settings = AuthSettings()
        assert settings.otp_ttl == timedelta(minutes=5)
        assert settings.otp_max_attempts == 3
        assert settings.customer_tokens.access == timedelta(days=30)

    def test_without_a_pepper_each_settings_draws_its_own(self) -> None:
        assert len(AuthSettings().otp_pepper) == 32
        assert AuthSettings().otp_pepper != AuthSettings().otp_pepper
        assert AuthSettings(otp_pepper=PEPPER.decode()).otp_pepper == PEPPER

    def test_the_pepper_stays_out_of_the_repr(self) -> None:
        assert PEPPER.decode() not in repr(AuthSettings(otp_pepper=PEPPER))

    @pytest.mark.parametrize(
        ("changes", "fields"),
        [
            ({"otp_ttl": timedelta(0)}, ("otp_ttl",)),
            ({"otp_cooldown": timedelta(minutes=5)}, ("otp_cooldown",)),
            ({"otp_cooldown": timedelta(seconds=-1)}, ("otp_cooldown",)),
            ({"otp_max_attempts": 0}, ("otp_max_attempts",)),
            ({"otp_max_attempts": 11}, ("otp_max_attempts",)),
            ({"otp_max_attempts": "3"}, ("otp_max_attempts",)),
            ({"otp_max_attempts": True}, ("otp_max_attempts",)),
            ({"otp_ttl": 300}, ("otp_ttl",)),
            ({"otp_cooldown": 60}, ("otp_cooldown",)),
            ({"otp_pepper": b"short"}, ("otp_pepper",)),
            ({"otp_message": "your code is ready"}, ("otp_message",)),
            ({"otp_message": "$code for $customer_name"}, ("otp_message",)),
            ({"otp_message": "$code costs $"}, ("otp_message",)),
            ({"issuer": " "}, ("issuer",)),
            ({"audience": "", "otp_max_attempts": 0}, ("otp_max_attempts", "audience")),
        ],
    )
    def test_values_out_of_bounds_are_named(
        self, changes: dict[str, Any], fields: tuple[str, ...]
    ) -> None:
        with pytest.raises(ValidationError) as refused:
            AuthSettings(**{"otp_pepper": PEPPER, **changes})
        assert refused.value.fields == fields

    @pytest.mark.parametrize(
        ("build", "field"),
        [
            (lambda: RateLimit(0, timedelta(hours=1)), "limit"),
            (lambda: RateLimit(True, timedelta(hours=1)), "limit"),
            (lambda: RateLimit(5, timedelta(0)), "window"),
            (lambda: TokenLifetimes(timedelta(0)), "access"),
            (lambda: TokenLifetimes(3600), "access"),  # type: ignore[arg-type]
            (lambda: TokenLifetimes(timedelta(hours=1), timedelta(seconds=-1)), "refresh"),
        ],
    )
    def test_limits_and_lifetimes_name_their_bad_part(self, build: Any, field: str) -> None:
        with pytest.raises(ValidationError) as refused:
            build()
        assert refused.value.fields == (field,)

    def test_a_session_lasts_the_longer_of_its_two_lifetimes(self) -> None:
        assert TokenLifetimes(timedelta(hours=1)).session == timedelta(hours=1)
        week, day = timedelta(days=7), timedelta(days=1)
        assert TokenLifetimes(day, week).session == week
        assert TokenLifetimes(week, day).session == week

    def test_each_token_kind_has_its_lifetimes(self) -> None:
        settings = AuthSettings()
        assert settings.tokens(PrincipalKind.STAFF).access == timedelta(minutes=15)
        assert settings.tokens(PrincipalKind.PARTNER).refresh is None


def _duration(value: timedelta) -> str:
    seconds = int(value.total_seconds())
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60)):
        if seconds % size == 0:
            count = seconds // size
            return f"{count} {unit}{'' if count == 1 else 's'}"
    return f"{seconds} seconds"


def _rate(limit: RateLimit) -> str:
    window = _duration(limit.window)
    return f"{limit.limit} per {'hour' if window == '1 hour' else window}"


def _lifetimes(lifetimes: TokenLifetimes) -> str:
    refresh = (
        "no refresh" if lifetimes.refresh is None else f"refresh {_duration(lifetimes.refresh)}"
    )
    return f"access {_duration(lifetimes.access)}, {refresh}"


class TestTheSecurityGuide:
    def test_states_every_default_as_the_code_has_it(self) -> None:
        text = GUIDE.read_text()
        guide = text[text.index("## The defaults") : text.index("The adapters' own parameters")]
        settings = AuthSettings()
        rendered = {
            "otp_ttl": _duration(settings.otp_ttl),
            "otp_cooldown": f"{int(settings.otp_cooldown.total_seconds())} seconds",
            "otp_max_attempts": str(settings.otp_max_attempts),
            "otp_per_phone": _rate(settings.otp_per_phone),
            "otp_per_client": _rate(settings.otp_per_client),
            "otp_verify_per_client": _rate(settings.otp_verify_per_client),
            "otp_pepper": "random per process",
            "otp_message": f"`{settings.otp_message}`",
            "customer_tokens": _lifetimes(settings.customer_tokens),
            "staff_tokens": _lifetimes(settings.staff_tokens),
            "partner_tokens": _lifetimes(settings.partner_tokens),
            "sign_in_per_email": _rate(settings.sign_in_per_email),
            "sign_in_per_client": _rate(settings.sign_in_per_client),
            "issuer": settings.issuer,
            "audience": settings.audience,
        }
        documented = set(re.findall(r"^\| `(\w+)` \|", guide, flags=re.MULTILINE))
        assert documented == set(rendered), "the table and AuthSettings list different settings"
        for name, value in rendered.items():
            assert f"| `{name}` | {value} |" in guide, name

    def test_the_wiring_example_runs_and_signs_a_customer_in(
        self, capsys: pytest.CaptureFixture[str]
    ) -> None:
        (example,) = re.findall(r"```python\n(.*?)```", GUIDE.read_text(), flags=re.DOTALL)
        exec(compile(example, "security.md", "exec"), {})
        assert capsys.readouterr().out.splitlines() == ["True customer", "True"]

    def test_the_readme_links_the_guide(self) -> None:
        assert "(docs/security.md)" in (ROOT / "README.md").read_text()
