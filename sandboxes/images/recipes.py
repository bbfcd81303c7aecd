"""Dockerfiles for tool-server images; each returns a `Recipe` whose digest names the image.

Every tool image: the base (or node22 on it), a non-root `sandbox` user (uid 10001, HOME=/tmp),
the host's CA bundle trusted by Python and Node, and the secrets entrypoint `sb-entry` under tini.
Shared steps come first, so the engine's layer cache reuses them across servers.
"""

from __future__ import annotations

import json
import shlex
from importlib.metadata import version
from pathlib import Path

from sandboxes.bridges.openapi import config as bridge_config
from sandboxes.images import pick_command, sb_entry
from sandboxes.images.base import CA_BUNDLE
from sandboxes.images.engine import Recipe
from sandboxes.images.spec import ImageSpec

SB_ENTRY = "/usr/local/bin/sb-entry"
PICK_COMMAND = "/usr/local/lib/switchboard/pick-command"
COMMAND_FILE = "/opt/server/sb-command.json"
BRIDGE_REQUIREMENTS = tuple(f"{package}=={version(package)}" for package in ("mcp", "httpx"))
"""The bridge's packages, pinned to the versions Switchboard itself runs: the bridge must
serialise tool definitions exactly as Switchboard parses and digests them. An upgrade changes
the recipe, so the bridge image is rebuilt with it."""
BRIDGE_CONFIG = "/opt/bridge/config.json"
BRIDGE_COMMAND = ("/opt/bridge/venv/bin/python", "-m", "sandboxes.bridges.openapi", BRIDGE_CONFIG)
NODE_ARCHES = {"x86_64": "x64", "amd64": "x64", "aarch64": "arm64", "arm64": "arm64"}
_CA = str(CA_BUNDLE)


def _helpers() -> dict[str, bytes]:
    """The scripts copied into tool images; their content is part of every recipe digest."""
    return {
        "sb-entry": Path(sb_entry.__file__).read_bytes(),
        "pick-command": Path(pick_command.__file__).read_bytes(),
    }


def _prologue(parent: str) -> str:
    return f"""\
FROM {parent}
ENV SSL_CERT_FILE={_CA} REQUESTS_CA_BUNDLE={_CA} NODE_EXTRA_CA_CERTS={_CA}
COPY sb-entry {SB_ENTRY}
RUN useradd --uid 10001 --user-group --no-create-home --home-dir /tmp \\
      --shell /usr/sbin/nologin sandbox
COPY pick-command {PICK_COMMAND}
"""


_EPILOGUE = f"""\
USER 10001:10001
ENV HOME=/tmp TINI_SUBREAPER=1
ENTRYPOINT ["/usr/bin/tini", "--", "{SB_ENTRY}"]
"""


def pypi(spec: ImageSpec, base: str, wheels: dict[str, bytes]) -> Recipe:
    """A venv at /opt/server with `identifier==version`; local wheels win over PyPI."""
    find_links = "--find-links /tmp/sb-wheels " if wheels else ""
    dockerfile = (
        _prologue(base)
        + f"ENV PIP_CERT={_CA} PIP_NO_CACHE_DIR=1 PIP_ROOT_USER_ACTION=ignore PIP_NO_INPUT=1\n"
        + ("COPY wheels /tmp/sb-wheels\n" if wheels else "")
        + f"""\
RUN python3 -m venv /opt/server \\
 && /opt/server/bin/pip install {find_links}{shlex.quote(f"{spec.identifier}=={spec.version}")} \\
 && /opt/server/bin/python {PICK_COMMAND} pypi {shlex.quote(spec.identifier)} > {COMMAND_FILE} \\
 && rm -rf /tmp/sb-wheels
"""
        + _EPILOGUE
    )
    files = _helpers() | {f"wheels/{name}": content for name, content in wheels.items()}
    return Recipe(dockerfile, files)


def npm(spec: ImageSpec, node22: str) -> Recipe:
    """`identifier@version` installed into /opt/server with node 22's npm."""
    package = shlex.quote(f"{spec.identifier}@{spec.version}")
    dockerfile = (
        _prologue(node22)
        + f"""\
RUN npm install --prefix /opt/server --omit=dev {package} \\
 && python3 {PICK_COMMAND} npm {shlex.quote(spec.identifier)} > {COMMAND_FILE} \\
 && rm -rf /root/.npm /tmp/*
"""
        + _EPILOGUE
    )
    return Recipe(dockerfile, _helpers())


def node22(base: str, architecture: str) -> Recipe:
    """Node.js 22 and npm 10 at /opt/node, fetched by Debian's older npm in a discarded stage."""
    arch = NODE_ARCHES.get(architecture)
    if arch is None:
        raise ValueError(f"no Node.js 22 build for the engine's architecture {architecture!r}")
    dockerfile = f"""\
FROM {base} AS fetch
ENV DEBIAN_FRONTEND=noninteractive npm_config_cafile=/tmp/ca.crt
RUN cp {_CA} /tmp/ca.crt \\
 && apt-get update -q && apt-get install -y -q --no-install-recommends npm \\
 && mkdir /opt/fetch \\
 && npm install --prefix /opt/fetch --no-audit --no-fund node-linux-{arch}@22 npm@10

FROM {base}
COPY --from=fetch /opt/fetch/node_modules/node-linux-{arch}/bin/node /opt/node/bin/node
COPY --from=fetch /opt/fetch/node_modules/npm /opt/node/lib/node_modules/npm
ENV PATH=/opt/node/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \\
    NODE_EXTRA_CA_CERTS={_CA} npm_config_cafile={_CA} \\
    npm_config_update_notifier=false npm_config_fund=false npm_config_audit=false
RUN ln -s ../lib/node_modules/npm/bin/npm-cli.js /opt/node/bin/npm \\
 && ln -s ../lib/node_modules/npm/bin/npx-cli.js /opt/node/bin/npx \\
 && node --version && npm --version
"""
    return Recipe(dockerfile)


def with_command(stage: str, command: list[str]) -> Recipe:
    """The final image: the built stage with the server command it reported as `Cmd`."""
    return Recipe(f"FROM {stage}\nCMD {json.dumps(command)}\n")


def oci(image: str, base: str, python: str, command: list[str]) -> Recipe:
    """A local OCI image plus static tini and `sb-entry` run by the image's own python3."""
    entrypoint = ["/usr/local/bin/sb-tini", "--", python, "-I", SB_ENTRY]
    dockerfile = f"""\
FROM {base} AS tini
FROM {image}
COPY --from=tini /usr/bin/tini-static /usr/local/bin/sb-tini
COPY sb-entry {SB_ENTRY}
ENTRYPOINT {json.dumps(entrypoint)}
CMD {json.dumps(command)}
"""
    return Recipe(dockerfile, {"sb-entry": _helpers()["sb-entry"]})


def openapi_bridge(base: str) -> Recipe:
    """The OpenAPI bridge without any version's tools: a venv with its pinned packages, and its
    modules (copied from this checkout, so a change to them builds a new image)."""
    requirements = " ".join(shlex.quote(r) for r in BRIDGE_REQUIREMENTS)
    dockerfile = (
        _prologue(base)
        + f"ENV PIP_CERT={_CA} PIP_NO_CACHE_DIR=1 PIP_ROOT_USER_ACTION=ignore PIP_NO_INPUT=1\n"
        + f"""\
RUN python3 -m venv /opt/bridge/venv && /opt/bridge/venv/bin/pip install {requirements}
COPY src /opt/bridge/src
RUN /opt/bridge/venv/bin/python -m compileall -q /opt/bridge/src
ENV PYTHONPATH=/opt/bridge/src PYTHONDONTWRITEBYTECODE=1
"""
        + _EPILOGUE
    )
    return Recipe(dockerfile, _helpers() | _bridge_sources())


def bridged(bridge: str, config: bytes) -> Recipe:
    """One OpenAPI version's image: the bridge with that version's configuration baked in.

    Baked, not handed over at start: the configuration holds every tool's schemas (megabytes
    for a large API), too much for an environment variable (which `docker inspect` shows, too)
    or for the secrets line; and the image digest then names exactly the tools reviewed.
    """
    dockerfile = (
        f"FROM {bridge}\nCOPY config.json {BRIDGE_CONFIG}\nCMD {json.dumps(BRIDGE_COMMAND)}\n"
    )
    return Recipe(dockerfile, {"config.json": config})


def _bridge_sources() -> dict[str, bytes]:
    """The bridge's package under `src/`, with the parents it needs to be importable."""
    package = Path(bridge_config.__file__).parent
    files = {
        f"src/sandboxes/bridges/openapi/{path.name}": path.read_bytes()
        for path in sorted(package.glob("*.py"))
    }
    files["src/sandboxes/bridges/__init__.py"] = (package.parent / "__init__.py").read_bytes()
    files["src/sandboxes/__init__.py"] = b""
    return files
