"""The playground benchmark runs at a tiny size, so it cannot rot (its figures are not asserted)."""

from __future__ import annotations

import os
import subprocess
import sys

from tests.unit.test_bench_smoke import ROOT


def test_playground_benchmark_runs_at_tiny_size(chromium: str) -> None:
    result = subprocess.run([sys.executable, "-m", "bench.playground", "--runs", "1", "--opens", "2"], cwd=ROOT,
                            capture_output=True, text=True, timeout=300, env={**os.environ, "CHROMIUM": chromium})
    assert result.returncode in (0, 1), result.stderr[-2000:]
    assert "Enter to modal drawn, p95" in result.stdout and "start to page served" in result.stdout
    assert "Traceback" not in result.stderr
