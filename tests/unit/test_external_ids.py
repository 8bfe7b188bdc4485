"""The import's register of external ids: a dict's answers, in memory that stays flat."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from bookingcore.services._external_ids import ExternalIds

_ids = st.sampled_from([f"EXT-{n}" for n in range(12)])
_operations = st.lists(
    st.tuples(st.sampled_from(["claim", "release"]), _ids, st.integers(2, 10_000)), max_size=60
)


@given(_operations, st.integers(0, 6))
def test_answers_as_a_dict_would_before_and_after_spilling(
    operations: list[tuple[str, str, int]], spill_after: int
) -> None:
    register, model = ExternalIds(spill_after=spill_after), {}
    try:
        for operation, external_id, row in operations:
            if operation == "claim":
                assert register.claim(external_id, row) == model.setdefault(external_id, row)
            else:
                register.release(external_id)
                model.pop(external_id, None)
            assert len(register) == len(model)
            assert register.first(external_id) == model.get(external_id)
        assert sorted(register) == sorted(model.items())
        assert all(external_id in register for external_id in model)
    finally:
        register.close()


def test_a_long_file_moves_its_ids_out_of_the_dict() -> None:
    register = ExternalIds(spill_after=100)
    for row in range(2, 1_002):
        assert register.claim(f"DMS-{row:07d}", row) == row
    assert register.claim("DMS-0000500", 9_999) == 500  # the first holder stays
    assert register._recent == {}  # everything lives in the temporary database
    assert register._db is not None
    assert len(register) == 1_000
    register.release("DMS-0000500")
    assert register.claim("DMS-0000500", 9_999) == 9_999
    register.close()
    assert register._db is None
    assert len(register) == 0
    assert register.first("DMS-0000002") is None
