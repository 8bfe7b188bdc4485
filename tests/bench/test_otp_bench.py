"""The OTP bench runs end to end and every pair it times signs in."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest
from tests.bench._run import REPO_ROOT, run_script

BENCH = REPO_ROOT / "bench" / "otp.py"


def run_bench(tmp_path: Path, *options: str) -> tuple[subprocess.CompletedProcess[str], Any]:
    report_path = tmp_path / "bench.json"
    completed = run_script(
        BENCH,
        "--quick",
        "--pairs",
        "50",
        "--json",
        str(report_path),
        *options,
        timeout=120,
    )
    assert report_path.exists(), completed.stdout + completed.stderr
    return completed, json.loads(report_path.read_text())


def check_cases(report: dict[str, Any], backends: list[str]) -> None:
    cases = {(case["backend"], case["case"]): case for case in report["cases"]}
    names = ("baseline", "library (new)", "library (returning)")
    assert set(cases) == {(backend, name) for backend in backends for name in names}
    for (backend, name), case in cases.items():
        assert case["check"] == "OK", case["problems"]
        assert case["pairs"] == 50
        assert case["pairs_per_second"] > 0
        assert case["request_micros"] > 0
        assert case["verify_micros"] > 0
        baseline = cases[(backend, "baseline")]
        assert case["ratio"] == pytest.approx(
            case["pairs_per_second"] / baseline["pairs_per_second"]
        )
        assert 0 < case["hashing_share"] < 1
        assert (case["signing_share"] is None) == (name == "baseline")
    costs = report["costs"]
    assert costs["hashing_per_pair_us"] == pytest.approx(2 * costs["hash_us"])
    assert costs["signing_per_pair_us"] == pytest.approx(2 * costs["sign_us"])


@pytest.mark.slow
def test_a_quick_run_on_memory_measures_every_case(tmp_path: Path) -> None:
    completed, report = run_bench(tmp_path, "--backends", "memory")

    assert completed.returncode == 0, completed.stdout + completed.stderr
    assert report["ok"] is True
    check_cases(report, ["memory"])
    assert "code hashing   HMAC-SHA256" in completed.stdout
    assert "pairs/s" in completed.stdout


@pytest.mark.redis
@pytest.mark.slow
def test_a_quick_run_on_redis_measures_every_case(redis_url: str, tmp_path: Path) -> None:
    completed, report = run_bench(tmp_path, "--backends", "memory,redis", "--redis-url", redis_url)

    assert completed.returncode == 0, completed.stdout + completed.stderr
    check_cases(report, ["memory", "redis"])


@pytest.mark.slow
def test_an_unreachable_redis_fails_the_run(tmp_path: Path) -> None:
    completed = run_script(
        BENCH,
        "--quick",
        "--backends",
        "redis",
        "--redis-url",
        "redis://127.0.0.1:1/0",
        timeout=60,
    )
    assert completed.returncode == 1
    assert "cannot be reached" in completed.stderr
