"""Wheels of this repository's own tool servers (examples, fixtures), which sandboxes install
from a wheelhouse because they are not on PyPI."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path


def build_wheels(target: Path, *packages: Path) -> Path:
    """`pip wheel --no-deps` each package directory into `target`; returns `target`."""
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(target)]
        + [str(package) for package in packages],
        check=True,
        capture_output=True,
    )
    return target
