"""Benchmarks must keep running; their numbers are read by people, never asserted here."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

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


def test_auth_overhead_benchmark_runs() -> None:
    result = subprocess.run(
        [sys.executable, "benchmarks/auth_overhead.py", "--quick"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[2].split() == ["request", "conc", "open", "grants", "jwt", "pat"]
    assert [line.split()[:2] for line in lines[3:7]] == [
        ["session", "1"],
        ["session", "16"],
        ["stateless", "1"],
        ["stateless", "16"],
    ]
    assert lines[8].split()[2:4] == ["jwt/open", "pat/open"]
    assert "database work per tools/list" in result.stdout
    assert lines[-1] in ("PASS", "FAIL")


@pytest.mark.docker
def test_gateway_overhead_benchmark_runs() -> None:
    """The audit count is checked: it is correctness, not speed. The first run builds the
    calculator's sandbox image, hence the longer time limit."""
    result = subprocess.run(
        [sys.executable, "benchmarks/gateway_overhead.py", "--quick"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=1200,
    )
    assert result.returncode == 0, result.stderr
    transport, *lines = result.stdout.splitlines()
    assert transport.startswith("sandbox stdio: "), transport  # socket, or attach where it must
    assert lines[1].split()[:6] == ["conc", "variant", "calls", "calls/s", "p50", "ms"]
    assert [line.split()[:2] for line in lines[2:6]] == [
        ["1", "direct"],
        ["1", "switchboard"],
        ["16", "direct"],
        ["16", "switchboard"],
    ]
    assert [line.split()[0] for line in lines[8:10]] == ["1", "16"]
    assert "chain intact" in result.stdout
    audit = next(line for line in lines if line.startswith("audit: "))
    made, recorded = audit.split()[1], audit.split()[6]
    assert made == recorded, audit
    assert {line.split()[0] for line in lines[-4:]} <= {"PASS", "FAIL"}


def test_router_overhead_benchmark_runs() -> None:
    """Every call through `/v1` has its usage and audit record: correctness, checked here."""
    result = subprocess.run(
        [sys.executable, "benchmarks/router_overhead.py", "--quick"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert [line.split()[:2] for line in lines[2:6]] == [
        ["1", "direct"],
        ["1", "switchboard"],
        ["16", "direct"],
        ["16", "switchboard"],
    ]
    made, usage, audited = (int(part.split(": ")[1]) for part in lines[10].split("; "))
    assert made == usage == audited
    assert lines[-1] in ("PASS", "FAIL")
