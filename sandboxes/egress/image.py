"""The egress proxy image, built locally from the base image: no registry is involved.

The tag hashes the proxy's sources, this recipe and the base image's id, so any change to
them builds a new image and an unchanged proxy is never rebuilt.
"""

from __future__ import annotations

import hashlib
import io
import tarfile
from pathlib import Path
from typing import Any

import docker

from sandboxes.egress.errors import EgressError

REPOSITORY = "switchboard/egress-proxy"
SOURCES = ("policy.py", "wire.py", "proxy.py")
"""The proxy's modules: standard library only, importable as `sandboxes.egress.*` in the image."""
LABELS = {"dev.switchboard.managed": "true", "dev.switchboard.kind": "egress"}
_RECIPE = """\
FROM {base}
COPY sandboxes /opt/egress/sandboxes
ENV PYTHONPATH=/opt/egress PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
USER 65534:65534
ENTRYPOINT ["python3", "-m", "sandboxes.egress.proxy"]
"""


def ensure_proxy_image(client: Any, base_image: str) -> str:
    """Returns the proxy image's tag, building it first if this Docker engine lacks it."""
    try:
        base_id = client.images.get(base_image).id
    except docker.errors.ImageNotFound as exc:
        raise EgressError(
            f"base image {base_image!r} is missing; build it with `scripts/base-image.sh`"
        ) from exc
    recipe = _RECIPE.format(base=base_image)
    files = {
        f"sandboxes/egress/{name}": (Path(__file__).parent / name).read_bytes() for name in SOURCES
    }
    files |= {"sandboxes/__init__.py": b"", "sandboxes/egress/__init__.py": b""}
    files["Dockerfile"] = recipe.encode()
    digest = hashlib.sha256(base_id.encode())
    for path in sorted(files):
        digest.update(path.encode() + b"\0" + files[path] + b"\0")
    tag = f"{REPOSITORY}:{digest.hexdigest()[:12]}"
    try:
        client.images.get(tag)
    except docker.errors.ImageNotFound:
        _build(client, tag, files)
    return tag


def _build(client: Any, tag: str, files: dict[str, bytes]) -> None:
    context = io.BytesIO()
    with tarfile.open(fileobj=context, mode="w") as tar:
        for path, data in files.items():
            info = tarfile.TarInfo(path)
            info.size, info.mode = len(data), 0o644
            tar.addfile(info, io.BytesIO(data))
    context.seek(0)
    try:
        client.images.build(
            fileobj=context, custom_context=True, tag=tag, labels=LABELS, rm=True, forcerm=True
        )
    except (docker.errors.BuildError, docker.errors.APIError) as exc:
        raise EgressError(f"building the egress proxy image {tag} failed: {exc}") from exc
