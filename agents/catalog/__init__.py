"""The prebuilt agents shipped with Switchboard: one YAML agent document per file here.

`switchboard agent publish --catalog` (run by `make up`) publishes them; republishing an
unchanged file is a no-op, so it is safe on every start.
"""

from __future__ import annotations

from pathlib import Path

from agents.spec import AgentDocument, parse_agent

CATALOG_DIR = Path(__file__).parent


def catalog_files() -> list[Path]:
    return sorted(CATALOG_DIR.glob("*.yaml"))


def load_catalog() -> list[AgentDocument]:
    """Every bundled agent, validated (blocking file reads: call from a worker thread)."""
    return [parse_agent(path.read_text(encoding="utf-8"), str(path)) for path in catalog_files()]
