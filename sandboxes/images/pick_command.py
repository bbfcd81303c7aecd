"""Print, as JSON, the command that starts an installed tool server; runs inside the image.

The builder runs it as the last build step, because only the installed package knows its console
scripts (pypi, under the server's venv interpreter) or its bins (npm). Convention: the entry named
like the package, else the only one. On failure it prints one `sb-build-error:` line and exits 1,
so the build fails and the builder can quote the reason.
Usage: pick_command.py pypi NAME | pick_command.py npm NAME
"""

from __future__ import annotations

import json
import os
import re
import sys
from importlib import metadata

ERROR_PREFIX = "sb-build-error: "
NPM_ROOT = "/opt/server/node_modules"
NODE = "/opt/node/bin/node"


class PickError(Exception):
    """No single command can be chosen; the message names what was found."""


def _normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def choose(wanted: str, names: list[str], kind: str, package: str) -> str:
    """The entry named like `wanted`, else the only entry."""
    matches = [name for name in names if _normalise(name) == _normalise(wanted)]
    if matches:
        return matches[0]
    if len(names) == 1:
        return names[0]
    found = ", ".join(f"`{name}`" for name in sorted(names)) or "none"
    raise PickError(
        f"cannot tell which {kind} of `{package}` starts the server: none is named "
        f"`{wanted}` and there is not exactly one (found: {found})"
    )


def pypi_command(package: str) -> list[str]:
    try:
        distribution = metadata.distribution(package)
    except metadata.PackageNotFoundError:
        raise PickError(f"`{package}` is not installed in {sys.prefix}") from None
    scripts = [ep.name for ep in distribution.entry_points if ep.group == "console_scripts"]
    script = choose(package, scripts, "console script", package)
    return [os.path.join(sys.prefix, "bin", script)]


def npm_command(package: str) -> list[str]:
    root = os.path.join(NPM_ROOT, package)
    with open(os.path.join(root, "package.json"), encoding="utf-8") as file:
        manifest = json.load(file)
    unscoped = package.rsplit("/", 1)[-1]
    bins = manifest.get("bin") or {}
    if isinstance(bins, str):
        bins = {unscoped: bins}
    name = choose(unscoped, sorted(bins), "bin", package)
    return [NODE, os.path.normpath(os.path.join(root, str(bins[name])))]


def main(argv: list[str]) -> int:
    if len(argv) != 3 or argv[1] not in ("pypi", "npm"):
        sys.stderr.write(f"{ERROR_PREFIX}usage: pick_command.py pypi|npm NAME\n")
        return 1
    try:
        command = pypi_command(argv[2]) if argv[1] == "pypi" else npm_command(argv[2])
    except (PickError, OSError, ValueError) as exc:
        sys.stderr.write(f"{ERROR_PREFIX}{exc}\n")
        return 1
    sys.stdout.write(json.dumps(command) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
