"""What a local OCI image needs to run under `sb-entry`: its command and a python3 to run it.

OCI images are used as they are, plus a static tini and `sb-entry`, so secrets reach them the
same way as every other tool server (first stdin line, never `docker inspect`). `sb-entry` is a
Python script, so the image must contain python3; images without it are refused with that
reason instead of silently receiving secrets some other way. The image keeps its own USER and
working directory; the runtime decides the uid it runs as.
"""

from __future__ import annotations

import docker

from sandboxes.images import engine
from sandboxes.images.spec import ImageBuildError

PYTHONS = ("/usr/bin/python3", "/usr/local/bin/python3", "/bin/python3")


def inspect(
    client: docker.DockerClient, image: docker.models.images.Image, reference: str
) -> tuple[list[str], str]:
    """The image's command (Entrypoint + Cmd) and the path of its python3."""
    config = image.attrs.get("Config") or {}
    command = [str(part) for part in (config.get("Entrypoint") or []) + (config.get("Cmd") or [])]
    if not command:
        raise ImageBuildError(
            f"OCI image `{reference}` has neither Entrypoint nor Cmd; set the command that "
            "starts its MCP server on stdio"
        )
    for python in PYTHONS:
        if engine.read_file(client, image.id, python) is not None:
            return command, python
    raise ImageBuildError(
        f"OCI image `{reference}` has no python3 (looked for {', '.join(PYTHONS)}), which the "
        "secrets entrypoint `sb-entry` needs; add python3 to the image, or publish the server "
        "as a pypi or npm package"
    )
