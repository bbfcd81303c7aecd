"""The agent overhead benchmark keeps running; its numbers are read by people, not asserted."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[3]


@pytest.mark.docker
def test_agent_overhead_benchmark_runs() -> None:
    result = subprocess.run(
        [sys.executable, "benchmarks/agent_overhead.py", "--quick"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].startswith("agent run engine overhead")
    assert [line.split()[0] for line in lines[2:4]] == ["engine", "tool"]
    assert lines[-1].startswith("engine/tool call ratio: ")
