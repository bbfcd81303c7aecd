"""The few Docker engine calls image building needs: legacy builds, reading a file out of an image.

Builds go through `client.api.build` without BuildKit (the Debian engine may lack buildx), and
their output is streamed to the log and kept, since it is the only explanation of a failure.
"""

from __future__ import annotations

import hashlib
import io
import logging
import re
import tarfile
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import docker
from docker.errors import DockerException, ImageNotFound, NotFound

from sandboxes.images.base import MANAGED_LABEL, RECIPE_LABEL
from sandboxes.images.pick_command import ERROR_PREFIX
from sandboxes.images.spec import ImageBuildError

logger = logging.getLogger(__name__)
_COLOUR = re.compile(r"\x1b\[[0-9;]*m")
# Lines in which pip or npm say why they failed (not npm's error code or log file lines).
_TOOL_ERROR = re.compile(r"^(ERROR: |npm (ERR!|error) (?!code |A complete log))")


@dataclass(frozen=True)
class Recipe:
    """A Dockerfile and its build context; its digest names the image it builds."""

    dockerfile: str
    files: dict[str, bytes] = field(default_factory=dict)

    def digest(self) -> str:
        digest = hashlib.sha256(self.dockerfile.encode())
        for name in sorted(self.files):
            digest.update(b"\0" + name.encode() + b"\0")
            digest.update(hashlib.sha256(self.files[name]).digest())
        return digest.hexdigest()


def find_image(client: docker.DockerClient, tag: str, digest: str) -> dict[str, Any] | None:
    """`docker inspect` of the image tagged `tag` if it was built from recipe `digest`."""
    try:
        attrs: dict[str, Any] = client.images.get(tag).attrs
    except ImageNotFound:
        return None
    labels = (attrs.get("Config") or {}).get("Labels") or {}
    return attrs if labels.get(RECIPE_LABEL) == digest else None


def build(
    client: docker.DockerClient,
    recipe: Recipe,
    what: str,
    *,
    tag: str | None = None,
    digest: str | None = None,
) -> tuple[str, str]:
    """Build `recipe`; return the image ID and the log. A tagged image is labelled `digest`."""
    labels = {MANAGED_LABEL: "true", RECIPE_LABEL: digest or recipe.digest()} if tag else None
    lines: list[str] = []
    image_id = error = None
    with tempfile.TemporaryDirectory(prefix="sb-build-") as context:
        _write_context(Path(context), recipe)
        try:
            for chunk in client.api.build(
                path=context, tag=tag, labels=labels, rm=True, forcerm=True, decode=True
            ):
                text = _COLOUR.sub("", chunk.get("stream") or chunk.get("status") or "")
                if text:
                    lines.append(text)
                    logger.debug("%s: %s", what, text.rstrip())
                image_id = chunk.get("aux", {}).get("ID", image_id)
                error = chunk.get("error", error)
        except DockerException as exc:
            error = str(exc)
    log = "".join(lines)
    if error or not image_id:
        raise ImageBuildError(f"could not build {what}: {_reason(log, error)}", log)
    return str(image_id), log


def read_file(client: docker.DockerClient, image: str, path: str) -> bytes | None:
    """The content of `path` in `image` (a symlink's target path), or None if it is absent.

    The container is created, never started: nothing in the image runs.
    """
    try:
        container = client.containers.create(image, entrypoint=["/sb-never-run"], command=[])
    except DockerException as exc:
        raise ImageBuildError(f"could not open image {image} to read {path}: {exc}") from None
    try:
        stream, _ = container.get_archive(path)
        with tarfile.open(fileobj=io.BytesIO(b"".join(stream))) as archive:
            member = archive.next()
            if member is None:
                return None
            if member.issym():
                return member.linkname.encode()
            extracted = archive.extractfile(member)
            return extracted.read() if extracted else b""
    except NotFound:
        return None
    finally:
        container.remove(force=True)


def _write_context(context: Path, recipe: Recipe) -> None:
    (context / "Dockerfile").write_text(recipe.dockerfile, encoding="utf-8")
    for name, content in recipe.files.items():
        target = context / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(content)
        target.chmod(0o755)


def _reason(log: str, error: str | None) -> str:
    """The most specific explanation: our helper's line, else pip's or npm's, else the engine's."""
    lines = log.splitlines()
    ours = [line.removeprefix(ERROR_PREFIX) for line in lines if line.startswith(ERROR_PREFIX)]
    tools = [line for line in lines if _TOOL_ERROR.match(line)]
    if ours:
        return ours[-1].strip()
    return (tools or [error or "the build produced no image"])[0].strip()
