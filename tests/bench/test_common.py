"""The benches' shared module: the loader follows the library's schema, the report's exit status."""

from __future__ import annotations

import importlib.util
import json
import math
import sys
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

import pytest

COMMON = Path(__file__).resolve().parents[2] / "bench" / "_common.py"


@pytest.fixture(scope="module")
def common() -> ModuleType:
    spec = importlib.util.spec_from_file_location("_common", COMMON)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("_common", module)
    spec.loader.exec_module(module)
    return module


class TestCheckColumns:
    def test_the_columns_of_the_librarys_table_pass(self, common: ModuleType) -> None:
        common.check_columns("locations", ["id", "code", "name", "kind", "is_active", "created_at"])

    def test_a_column_the_table_does_not_have_is_named(self, common: ModuleType) -> None:
        columns = ["id", "code", "name", "kind", "is_active", "created_at", "colour"]
        with pytest.raises(common.BenchError, match=r"locations: unknown columns \['colour'\]"):
            common.check_columns("locations", columns)

    def test_a_required_column_left_out_is_named(self, common: ModuleType) -> None:
        with pytest.raises(common.BenchError, match=r"required columns not loaded \['code'"):
            common.check_columns("locations", ["id", "name", "kind", "is_active", "created_at"])

    def test_a_column_the_database_fills_in_may_be_left_out(self, common: ModuleType) -> None:
        """``booking_communications.attempts`` is not null with a server default (0)."""
        from bookingcore_adapters.sql import metadata  # noqa: PLC0415

        table = metadata.tables["booking_communications"]
        assert not table.c.attempts.nullable
        assert table.c.attempts.server_default is not None
        required = [c.name for c in table.c if not c.nullable and c.name != "attempts"]
        common.check_columns("booking_communications", required)
        with pytest.raises(common.BenchError, match=r"required columns not loaded \['id'\]"):
            common.check_columns("booking_communications", [n for n in required if n != "id"])


class TestRunBench:
    def test_the_json_report_holds_ok_seconds_settings_and_the_figures(
        self, common: ModuleType, tmp_path: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        path = tmp_path / "report.json"
        status = common.run_bench(
            "headline",
            lambda: ("the table", {"ok": True, "runs": [1]}),
            settings={"rows": 3},
            json_path=path,
        )
        assert status == 0
        report = json.loads(path.read_text())
        assert report["ok"] is True
        assert report["settings"] == {"rows": 3}
        assert report["runs"] == [1]
        assert report["seconds"] >= 0
        out = capsys.readouterr().out
        assert out.startswith("headline\n")
        assert "the table\n\nfinished in" in out

    def test_a_failed_check_exits_with_1(self, common: ModuleType) -> None:
        assert common.run_bench("h", lambda: ("", {"ok": False}), settings={}, json_path=None) == 1

    def test_a_bench_that_cannot_run_exits_with_1_and_says_why(
        self, common: ModuleType, capsys: pytest.CaptureFixture[str]
    ) -> None:
        def measure() -> tuple[str, dict[str, object]]:
            msg = "the worker crashed"
            raise common.BenchError(msg)

        assert common.run_bench("h", measure, settings={}, json_path=None) == 1
        assert "bench failed: the worker crashed" in capsys.readouterr().err


def test_a_ratio_without_a_baseline_is_not_a_number(common: ModuleType) -> None:
    assert common.ratio(3.0, 2.0) == 1.5
    assert math.isnan(common.ratio(3.0, 0.0))


class TestCallsPerSample:
    """Fast calls are timed many in a row, the same number on every side (a fake clock)."""

    @pytest.fixture
    def clock(self, common: ModuleType, monkeypatch: pytest.MonkeyPatch) -> list[float]:
        now = [0.0]
        monkeypatch.setattr(common.time, "perf_counter", lambda: now[0])
        return now

    def test_the_slowest_side_decides_how_many_calls_make_a_run(
        self, common: ModuleType, clock: list[float]
    ) -> None:
        def side(seconds: float) -> Callable[[], None]:
            def call() -> None:
                clock[0] += seconds

            return call

        # 0.3 ms and 1.5 ms a call: 50 calls of the slower last 75 ms, 100 last 150 ms
        assert common.calls_per_sample(side(0.0003), side(0.0015), at_least=0.1) == 100
        assert common.calls_per_sample(side(0.0003), at_least=0.1) == 500
        assert common.calls_per_sample(side(0.2), at_least=0.1) == 1

    def test_time_calls_gives_the_last_result_and_the_time_per_call(
        self, common: ModuleType, clock: list[float]
    ) -> None:
        results = iter(range(10))

        def call() -> int:
            clock[0] += 0.002
            return next(results)

        assert common.time_calls(call, 4) == (3, pytest.approx(0.002))


class TestReportText:
    def test_parts_a_line_each_then_the_problems_indented_under_a_heading(
        self, common: ModuleType
    ) -> None:
        text = common.report_text(
            [common.table(["side", "n"], [["library", "3"]], left=1), "", "target: met"],
            ["library: one seat sold twice", "baseline: slow"],
        )
        assert text.splitlines() == [
            "side     n",
            "library  3",
            "",
            "target: met",
            "",
            "problems:",
            "  library: one seat sold twice",
            "  baseline: slow",
        ]

    def test_no_problems_no_heading_and_most_keeps_the_first(self, common: ModuleType) -> None:
        assert common.report_text(["a", "b"]) == "a\nb"
        shown = common.report_text(["a"], [f"p{n}" for n in range(5)], most=2)
        assert shown.splitlines()[-3:] == ["problems:", "  p0", "  p1"]
