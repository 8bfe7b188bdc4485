"""The error hierarchy: builtin parents, stable codes and JSON-ready descriptions."""

from __future__ import annotations

from uuid import UUID

import pytest

from bookingcore import (
    BookingError,
    CapacityError,
    ConcurrentUpdateError,
    ConflictError,
    DuplicateError,
    FieldError,
    IdempotencyConflictError,
    InvalidTransitionError,
    NotFoundError,
    PaymentProviderError,
    PermissionDeniedError,
    RateLimitedError,
    StaleVersionError,
    ValidationError,
    errors,
)

SLOT = UUID(int=7)


class TestHierarchy:
    def test_validation_error_is_a_value_error(self) -> None:
        error = ValidationError.single("phone", "bad")
        assert isinstance(error, ValueError)
        assert isinstance(error, BookingError)

    def test_not_found_error_is_a_lookup_error(self) -> None:
        error = NotFoundError("slot", SLOT)
        assert isinstance(error, LookupError)
        assert isinstance(error, BookingError)

    def test_permission_denied_error_is_a_booking_error_and_no_os_error(self) -> None:
        error = PermissionDeniedError("no")
        assert isinstance(error, BookingError)
        assert not isinstance(error, OSError)  # PermissionError is an OSError

    def test_except_os_error_around_io_does_not_swallow_a_policy_refusal(self) -> None:
        def read_then_refuse() -> None:
            try:
                raise PermissionDeniedError("a customer may not cancel another's booking")
            except OSError:  # what a host writes around file or network I/O
                pytest.fail("a policy refusal was caught as an I/O error")

        with pytest.raises(PermissionDeniedError):
            read_then_refuse()

    @pytest.mark.parametrize(
        "error",
        [
            ValidationError.single("phone", "bad"),
            NotFoundError("slot", SLOT),
            PermissionDeniedError("no"),
            CapacityError(SLOT, 2, 1),
            InvalidTransitionError("travel", "a", "b"),
            RateLimitedError("slow down", retry_after=1.0),
        ],
    )
    def test_no_error_of_the_core_is_an_os_error(self, error: BookingError) -> None:
        assert not isinstance(error, OSError)

    @pytest.mark.parametrize(
        "error",
        [
            CapacityError(SLOT, 2, 1),
            DuplicateError("dup", entity="partner"),
            StaleVersionError("booking", SLOT, 1, 2),
            IdempotencyConflictError("key-1"),
            ConcurrentUpdateError("deadlocked", attempts=4),
        ],
    )
    def test_conflicts_share_the_conflict_branch(self, error: BookingError) -> None:
        assert isinstance(error, ConflictError)
        assert isinstance(error, BookingError)

    def test_a_builtin_except_clause_catches_library_errors(self) -> None:
        with pytest.raises(LookupError):
            raise NotFoundError("traveler", SLOT)

    def test_every_error_has_its_own_stable_code(self) -> None:
        classes = [BookingError]
        for cls in classes:
            classes.extend(cls.__subclasses__())
        public = {cls for cls in classes if cls.__module__ == "bookingcore.errors"}
        assert {cls.__name__ for cls in public} == {
            name for name in errors.__all__ if name != "FieldError"
        }
        assert len({cls.code for cls in public}) == len(public)
        assert ValidationError.code == "validation_error"
        assert CapacityError.code == "capacity_exceeded"


class TestToDict:
    def test_validation_error_lists_every_field_with_message_and_code(self) -> None:
        error = ValidationError(
            [
                FieldError("phone", "is required", "required"),
                FieldError("travelers[0].age", "must be between 0 and 130", "out_of_range"),
            ]
        )
        assert error.to_dict() == {
            "code": "validation_error",
            "message": "phone: is required; travelers[0].age: must be between 0 and 130",
            "errors": [
                {"field": "phone", "message": "is required", "code": "required"},
                {
                    "field": "travelers[0].age",
                    "message": "must be between 0 and 130",
                    "code": "out_of_range",
                },
            ],
        }
        assert error.fields == ("phone", "travelers[0].age")

    def test_validation_error_keeps_an_explicit_message(self) -> None:
        error = ValidationError(FieldError("email", "bad"), message="check the form")
        assert error.to_dict()["message"] == "check the form"
        assert str(error) == "check the form"

    def test_capacity_error_reports_slot_requested_and_seats_left(self) -> None:
        error = CapacityError(SLOT, 3, 1)
        data = error.to_dict()
        assert data["code"] == "capacity_exceeded"
        assert data["slot_id"] == str(SLOT)
        assert data["requested"] == 3
        assert data["seats_left"] == 1
        assert "1 seat left" in data["message"]
        assert "3 requested" in data["message"]

    def test_capacity_error_says_seats_for_more_than_one(self) -> None:
        assert "0 seats left" in CapacityError(SLOT, 1, 0).message
        assert "2 seats left" in CapacityError(SLOT, 3, 2).message

    def test_stale_version_error_reports_both_versions(self) -> None:
        error = StaleVersionError("traveler", SLOT, 1, 3)
        assert error.to_dict() == {
            "code": "stale_version",
            "message": error.message,
            "entity": "traveler",
            "expected": 1,
            "actual": 3,
        }
        assert "version 1" in error.message
        assert "version 3" in error.message

    def test_invalid_transition_error_names_both_states(self) -> None:
        error = InvalidTransitionError("reservation", "cancelled", "confirmed")
        data = error.to_dict()
        assert data["code"] == "invalid_transition"
        assert data["lifecycle"] == "reservation"
        assert data["from_state"] == "cancelled"
        assert data["to_state"] == "confirmed"
        assert "'cancelled'" in data["message"]
        assert "'confirmed'" in data["message"]

    def test_duplicate_error_without_existing_id_omits_it(self) -> None:
        data = DuplicateError("taken", entity="booking").to_dict()
        assert data == {"code": "duplicate", "message": "taken", "entity": "booking"}
        assert "existing_id" not in data

    def test_duplicate_error_with_existing_id_reports_it_as_text(self) -> None:
        data = DuplicateError("taken", entity="location", existing_id=SLOT).to_dict()
        assert data["existing_id"] == str(SLOT)

    def test_not_found_error_names_entity_and_key(self) -> None:
        error = NotFoundError("slot", SLOT)
        assert error.to_dict() == {
            "code": "not_found",
            "message": f"slot {SLOT} not found",
            "entity": "slot",
            "key": str(SLOT),
        }

    def test_rate_limited_error_reports_retry_after(self) -> None:
        assert RateLimitedError("slow down", retry_after=2.5).to_dict()["retry_after"] == 2.5

    def test_idempotency_conflict_error_reports_the_key(self) -> None:
        assert IdempotencyConflictError("k1").to_dict()["idempotency_key"] == "k1"

    def test_a_plain_error_has_only_code_and_message(self) -> None:
        assert PermissionDeniedError("no").to_dict() == {
            "code": "permission_denied",
            "message": "no",
        }


class TestFieldPaths:
    def test_an_index_prefix_joins_without_a_dot(self) -> None:
        inner = FieldError("phone", "bad", "invalid_phone").prefixed("[1]")
        assert inner.prefixed("travelers").field == "travelers[1].phone"
        assert inner.prefixed("travelers").code == "invalid_phone"

    def test_a_name_prefix_joins_with_a_dot(self) -> None:
        assert FieldError("phone", "bad").prefixed("customer").field == "customer.phone"

    def test_prefixing_with_a_full_index_path(self) -> None:
        assert FieldError("phone", "bad").prefixed("travelers[1]").field == "travelers[1].phone"

    def test_an_empty_prefix_leaves_the_field_alone(self) -> None:
        assert FieldError("phone", "bad").prefixed("").field == "phone"

    def test_a_validation_error_prefixes_every_field(self) -> None:
        error = ValidationError([FieldError("name", "x"), FieldError("age", "y")])
        assert error.prefixed("travelers[2]").fields == ("travelers[2].name", "travelers[2].age")


class TestValidationErrorConstruction:
    def test_a_validation_error_without_errors_is_refused(self) -> None:
        with pytest.raises(ValueError, match="at least one FieldError") as caught:
            ValidationError([])
        assert not isinstance(caught.value, ValidationError)

    def test_single_builds_one_field_error(self) -> None:
        error = ValidationError.single("capacity", "must be at least 1", "out_of_range")
        assert error.errors == (FieldError("capacity", "must be at least 1", "out_of_range"),)


def test_a_payment_provider_error_names_the_provider_and_whether_to_retry() -> None:
    error = PaymentProviderError("card declined", provider="stripe", reason="card_declined")
    assert isinstance(error, BookingError)
    assert error.to_dict()["code"] == "payment_provider_error"
    assert error.details() == {"provider": "stripe", "reason": "card_declined", "retryable": False}
    assert str(error) == "stripe: card declined"
