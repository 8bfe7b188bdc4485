"""Running a bench script the way its tests do: from the repository root, output kept."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

#: The repository the benches live in (``bench/``).
REPO_ROOT = Path(__file__).resolve().parents[2]


def run_script(bench: Path, *arguments: str, timeout: float) -> subprocess.CompletedProcess[str]:
    """Runs ``bench`` with this interpreter and ``arguments`` from the repository root;
    its exit status and output (as text) whatever it ends with, failing the test only
    when it runs longer than ``timeout`` seconds."""
    return subprocess.run(
        [sys.executable, str(bench), *arguments],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
