"""Benchmarks must keep running; their numbers are read by people, never asserted here."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).parents[3]


def test_registry_scale_benchmark_runs() -> None:
    result = subprocess.run(
        [sys.executable, "benchmarks/registry_scale.py", "--quick"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert [line.split()[0] for line in lines[2:5]] == ["100", "1000", "10000"]
    assert "json.dumps of the same 10,000 definitions" in result.stdout
