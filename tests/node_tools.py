"""Node.js 22 and the MCP npm tools, for tests that run them: `node_tools()` says where they are.

`scripts/node-tools.sh` installs them into its cache directory the first time (about half a
minute, from the npm registry) and returns at once after that; `node_tools()` runs it once per
process. Every tool runs on the Node 22 binary, never on the machine's own `node`:

    [str(tools.node), str(tools.inspector_cli), url, "--transport", "http", ...]

`inspector_cli` takes the arguments of `mcp-inspector --cli`, without `--cli`. The two
conformance entries take the `conformance` command's (`server --url URL`, `list`, ...).
"""

from __future__ import annotations

import asyncio
import functools
import json
import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).parents[1]
SCRIPT = ROOT / "scripts" / "node-tools.sh"

# The environment as the suite started, before a test pointed SWITCHBOARD_DATA_DIR at a temporary
# directory: the tools' cache has to outlive every test, or each process would download it again.
_ENVIRONMENT = dict(os.environ)


class NodeToolsError(RuntimeError):
    """scripts/node-tools.sh failed, or left something out."""


@dataclass(frozen=True)
class NodeTools:
    directory: Path
    node: Path
    inspector_cli: Path
    conformance_02: Path
    conformance_0116: Path


def _conformance_entry(prefix: Path) -> Path:
    package = prefix / "node_modules" / "@modelcontextprotocol" / "conformance"
    manifest = json.loads((package / "package.json").read_text())
    bin_field = manifest["bin"]
    entry = bin_field if isinstance(bin_field, str) else bin_field["conformance"]
    return package / entry


@functools.cache
def node_tools() -> NodeTools:
    try:
        done = subprocess.run(
            [str(SCRIPT)],
            cwd=ROOT,
            env=_ENVIRONMENT,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=900,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        raise NodeToolsError(f"scripts/node-tools.sh took over {exc.timeout:.0f} s") from exc
    if done.returncode != 0:
        raise NodeToolsError(
            f"scripts/node-tools.sh failed with exit code {done.returncode}:\n{done.stderr[-4000:]}"
        )
    lines = done.stdout.strip().splitlines()
    if not lines:
        raise NodeToolsError("scripts/node-tools.sh printed no directory")
    directory = Path(lines[-1])
    node_packages = sorted((directory / "node22" / "node_modules").glob("node-linux-*"))
    inspector = directory / "inspector" / "node_modules" / "@modelcontextprotocol" / "inspector"
    try:
        tools = NodeTools(
            directory=directory,
            node=node_packages[0] / "bin" / "node" if node_packages else directory / "node22",
            inspector_cli=inspector / "clients" / "cli" / "build" / "index.js",
            conformance_02=_conformance_entry(directory / "conformance-0.2"),
            conformance_0116=_conformance_entry(directory / "conformance-0.1.16"),
        )
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise NodeToolsError(f"a conformance package in {directory} is incomplete: {exc}") from exc
    missing = [
        str(path)
        for path in (tools.node, tools.inspector_cli, tools.conformance_02, tools.conformance_0116)
        if not path.is_file()
    ]
    if missing:
        raise NodeToolsError(f"scripts/node-tools.sh left out {', '.join(missing)}")
    return tools


RUN_SECONDS = 120


@dataclass(frozen=True)
class NodeRun:
    code: int
    stdout: str
    stderr: str


async def run_node(
    tools: NodeTools, home: Path, *arguments: str, seconds: float = RUN_SECONDS
) -> NodeRun:
    """Run Node 22 with `arguments`; `home` takes the Inspector's ~/.mcp-inspector state."""
    process = await asyncio.create_subprocess_exec(
        str(tools.node),
        *arguments,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env={**os.environ, "HOME": str(home), "NO_COLOR": "1"},
    )
    try:
        out, err = await asyncio.wait_for(process.communicate(), timeout=seconds)
    except TimeoutError:
        process.kill()
        await process.wait()
        raise
    assert process.returncode is not None
    return NodeRun(process.returncode, out.decode(), err.decode())
