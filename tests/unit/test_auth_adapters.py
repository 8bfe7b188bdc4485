"""The PyJWT token signer and the Argon2 password hasher, on their own."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import jwt
import pytest

from bookingcore import AuthenticationError, ValidationError
from bookingcore_adapters.auth import Argon2PasswordHasher, JwtTokenSigner

NOW = datetime(2026, 1, 1, 9, 0, tzinfo=UTC)
KEY = b"0123456789abcdef0123456789abcdef"
OTHER = b"fedcba9876543210fedcba9876543210"


def at(moment: datetime) -> int:
    return int(moment.timestamp())


class TestJwtTokenSigner:
    def test_signs_with_the_current_key_and_names_it(self) -> None:
        signer = JwtTokenSigner({"old": KEY, "new": OTHER}, current_kid="new")
        token = signer.encode({"sub": "x", "exp": at(NOW + timedelta(minutes=1))})
        assert jwt.get_unverified_header(token) == {"alg": "HS256", "kid": "new", "typ": "JWT"}
        plain = jwt.decode(token, OTHER, algorithms=["HS256"], options={"verify_exp": False})
        assert plain["sub"] == "x"
        assert signer.decode(token, now=NOW) == {"sub": "x", "exp": at(NOW) + 60}
        assert signer.current_kid == "new"
        assert signer.key_ids == {"old", "new"}

    def test_verifies_with_whichever_key_the_token_names(self) -> None:
        old = JwtTokenSigner({"old": KEY})
        token = old.encode({"exp": at(NOW) + 60})
        rotated = JwtTokenSigner({"old": KEY, "new": OTHER}, current_kid="new")
        assert rotated.decode(token, now=NOW)["exp"] == at(NOW) + 60

    def test_expiry_is_checked_against_the_given_time_with_leeway(self) -> None:
        signer = JwtTokenSigner({"k": KEY}, leeway=timedelta(seconds=10))
        token = signer.encode({"exp": at(NOW)})
        assert signer.decode(token, now=NOW + timedelta(seconds=9))
        with pytest.raises(AuthenticationError, match="expired"):
            signer.decode(token, now=NOW + timedelta(seconds=10))

    def test_a_token_without_leeway_expires_at_its_exp(self) -> None:
        signer = JwtTokenSigner({"k": KEY}, leeway=timedelta(0))
        token = signer.encode({"exp": at(NOW)})
        assert signer.decode(token, now=NOW - timedelta(microseconds=1))
        with pytest.raises(AuthenticationError, match="expired"):
            signer.decode(token, now=NOW)

    def test_not_before_is_honoured(self) -> None:
        signer = JwtTokenSigner({"k": KEY}, leeway=timedelta(0))
        token = signer.encode({"exp": at(NOW) + 600, "nbf": at(NOW) + 60})
        with pytest.raises(AuthenticationError, match="not valid yet"):
            signer.decode(token, now=NOW)
        assert signer.decode(token, now=NOW + timedelta(seconds=60))

    @pytest.mark.parametrize("exp", [None, "tomorrow", True])
    def test_a_token_without_a_valid_expiry_is_refused(self, exp: Any) -> None:
        signer = JwtTokenSigner({"k": KEY})
        claims = {} if exp is None else {"exp": exp}
        with pytest.raises(AuthenticationError, match="no valid expiry"):
            signer.decode(signer.encode(claims), now=NOW)

    def test_another_algorithm_is_refused_even_with_the_right_key(self) -> None:
        signer = JwtTokenSigner({"k": KEY})
        token = jwt.encode({"exp": at(NOW) + 60}, KEY * 2, algorithm="HS512", headers={"kid": "k"})
        with pytest.raises(AuthenticationError, match="signature"):
            signer.decode(token, now=NOW)

    def test_a_token_without_a_kid_is_refused(self) -> None:
        token = jwt.encode({"exp": at(NOW) + 60}, KEY, algorithm="HS256")
        with pytest.raises(AuthenticationError, match="key this server does not hold"):
            JwtTokenSigner({"k": KEY}).decode(token, now=NOW)

    @pytest.mark.parametrize("algorithm", ["HS384", "HS512"])
    def test_longer_hmac_algorithms_need_longer_secrets(self, algorithm: str) -> None:
        with pytest.raises(ValidationError) as refused:
            JwtTokenSigner({"k": KEY}, algorithm=algorithm)
        assert refused.value.fields == ("keys['k']",)
        signer = JwtTokenSigner({"k": KEY * 2}, algorithm=algorithm)
        token = signer.encode({"exp": at(NOW) + 60})
        assert jwt.get_unverified_header(token)["alg"] == algorithm
        assert signer.decode(token, now=NOW)

    @pytest.mark.parametrize(
        ("arguments", "fields"),
        [
            ({"keys": {}}, ("keys",)),
            ({"keys": {"k": b"short"}}, ("keys['k']",)),
            ({"keys": {"": KEY}}, ("keys['']",)),
            ({"keys": {"a": KEY, "b": OTHER}}, ("current_kid",)),
            ({"keys": {"a": KEY}, "current_kid": "b"}, ("current_kid",)),
            ({"keys": {"a": KEY}, "algorithm": "RS256"}, ("algorithm",)),
            ({"keys": {"a": KEY}, "algorithm": "none"}, ("algorithm",)),
            ({"keys": {"a": KEY}, "leeway": timedelta(seconds=-1)}, ("leeway",)),
            ({"keys": {"a": 123}}, ("keys['a']",)),
        ],
    )
    def test_bad_configuration_names_the_field(
        self, arguments: dict[str, Any], fields: tuple[str, ...]
    ) -> None:
        with pytest.raises(ValidationError) as refused:
            JwtTokenSigner(**arguments)
        assert refused.value.fields == fields

    def test_a_text_secret_works_like_its_utf8_bytes(self) -> None:
        text = JwtTokenSigner({"k": KEY.decode()})
        raw = JwtTokenSigner({"k": KEY})
        assert raw.decode(text.encode({"exp": at(NOW) + 60}), now=NOW)


class TestArgon2PasswordHasher:
    @pytest.fixture
    def hasher(self) -> Argon2PasswordHasher:
        return Argon2PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)

    def test_a_hash_verifies_its_password_only(self, hasher: Argon2PasswordHasher) -> None:
        hashed = hasher.hash("correct horse battery staple")
        assert hashed.startswith("$argon2id$")
        assert "correct horse" not in hashed
        assert hasher.verify(hashed, "correct horse battery staple")
        assert not hasher.verify(hashed, "correct horse battery stapler")

    def test_each_hash_has_its_own_salt(self, hasher: Argon2PasswordHasher) -> None:
        assert hasher.hash("same password!") != hasher.hash("same password!")

    @pytest.mark.parametrize("garbage", ["", "not a hash", "$argon2id$v=19$m=8,t=1,p=1$bad"])
    def test_something_that_is_not_a_hash_never_verifies(
        self, hasher: Argon2PasswordHasher, garbage: str
    ) -> None:
        assert not hasher.verify(garbage, "anything")
        assert hasher.needs_rehash(garbage)

    def test_a_hash_with_other_parameters_needs_a_rehash(
        self, hasher: Argon2PasswordHasher
    ) -> None:
        stronger = Argon2PasswordHasher(time_cost=2, memory_cost=8, parallelism=1)
        hashed = hasher.hash("correct horse battery staple")
        assert not hasher.needs_rehash(hashed)
        assert stronger.needs_rehash(hashed)
        assert stronger.verify(hashed, "correct horse battery staple")

    def test_the_defaults_are_rfc_9106_low_memory(self) -> None:
        hashed = Argon2PasswordHasher().hash("correct horse battery staple")
        assert hashed.startswith("$argon2id$v=19$m=65536,t=3,p=4$")

    def test_parameters_below_their_minimum_are_named(self) -> None:
        with pytest.raises(ValidationError) as refused:
            Argon2PasswordHasher(time_cost=0, memory_cost=16, parallelism=4, salt_len=8)
        assert refused.value.fields == ("time_cost", "memory_cost", "salt_len")
