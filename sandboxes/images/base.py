"""The local Debian base every Switchboard image starts FROM, built without any registry.

debootstrap a minimal bookworm from the mirror apt already uses, trust the host's CA bundle (TLS
to PyPI, npm and Debian may be intercepted), strip what servers never read, `docker import`.
The tag carries a hash of this file and the CA bundle, so the image is rebuilt only when either
changes. Needs root (debootstrap). `python -m sandboxes.images.base` builds it and prints the tag.
"""

from __future__ import annotations

import hashlib
import logging
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import docker
from docker.errors import ImageNotFound

from sandboxes.images.locks import exclusive
from sandboxes.images.spec import ImageBuildError

REPOSITORY = "switchboard/base"
SUITE = "bookworm"
PACKAGES = ("ca-certificates", "python3", "python3-venv", "tini")
CA_BUNDLE = Path("/etc/ssl/certs/ca-certificates.crt")
DEFAULT_MIRROR = "http://deb.debian.org/debian"
MANAGED_LABEL = "dev.switchboard.managed"
RECIPE_LABEL = "dev.switchboard.recipe"
logger = logging.getLogger(__name__)
_STRIPPED = (
    "var/lib/apt/lists",
    "var/cache/apt",
    "usr/share/doc",
    "usr/share/man",
    "usr/share/locale",
    "usr/share/info",
)


def recipe_hash() -> str:
    """12 hex digits over this recipe and the CA bundle it bakes in."""
    digest = hashlib.sha256(Path(__file__).read_bytes())
    digest.update(CA_BUNDLE.read_bytes())
    return digest.hexdigest()[:12]


def base_tag() -> str:
    return f"{REPOSITORY}:{SUITE}-{recipe_hash()}"


def debian_mirror() -> str:
    """The Debian mirror apt already uses here, which is known to be reachable."""
    for sources in sorted(Path("/etc/apt/sources.list.d").glob("*.sources")):
        found = re.search(r"^URIs: *(http\S+/debian)\s*$", _read(sources), re.MULTILINE)
        if found:
            return found.group(1)
    found = re.search(r"^deb +(http\S+/debian) ", _read(Path("/etc/apt/sources.list")), re.M)
    return found.group(1) if found else DEFAULT_MIRROR


def ensure_base(client: docker.DockerClient) -> str:
    """The base's image ID, building it first if this recipe has no image yet."""
    tag = base_tag()
    with exclusive(tag):
        try:
            return str(client.images.get(tag).id)
        except ImageNotFound:
            pass
        _build(client, tag)
        client.api.tag(tag, REPOSITORY, "latest")
        return str(client.images.get(tag).id)


def _build(client: docker.DockerClient, tag: str) -> None:
    debootstrap = _debootstrap()
    mirror = debian_mirror()
    logger.info("building %s from %s (about a minute)", tag, mirror)
    with tempfile.TemporaryDirectory(prefix="sb-base-") as work:
        root = Path(work) / "root"
        _run(
            [
                debootstrap,
                "--variant=minbase",
                f"--include={','.join(PACKAGES)}",
                SUITE,
                str(root),
                mirror,
            ]
        )
        shutil.copyfile(CA_BUNDLE, root / CA_BUNDLE.relative_to("/"))
        for stripped in _STRIPPED:
            for child in (root / stripped).glob("*"):
                if child.is_dir() and not child.is_symlink():
                    shutil.rmtree(child)
                else:
                    child.unlink()
        archive = Path(work) / "root.tar"
        _run(["tar", "-C", str(root), "-cf", str(archive), "."])
        repository, _, version = tag.partition(":")
        client.api.import_image_from_file(
            str(archive),
            repository=repository,
            tag=version,
            changes=[
                "ENV LANG=C.UTF-8 PIP_DISABLE_PIP_VERSION_CHECK=1",
                'ENTRYPOINT ["/usr/bin/tini", "--"]',
                f"LABEL {MANAGED_LABEL}=true {RECIPE_LABEL}={tag.rpartition('-')[2]}",
            ],
        )


def _debootstrap() -> str:
    found = shutil.which("debootstrap") or shutil.which("debootstrap", path="/usr/sbin:/sbin")
    if found:
        return found
    logger.info("installing debootstrap with apt-get")
    _run(["apt-get", "update", "-q"])
    _run(["apt-get", "install", "-y", "-q", "--no-install-recommends", "debootstrap"])
    found = shutil.which("debootstrap", path="/usr/sbin:/sbin:/usr/bin")
    if not found:
        raise ImageBuildError(
            "debootstrap is missing; install it with `apt-get install debootstrap`"
        )
    return found


def _run(command: list[str]) -> None:
    """Run one build step (as root); its output is logged, and quoted if it fails."""
    try:
        done = subprocess.run(  # noqa: S603 - fixed argv, no shell
            command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, check=False
        )
    except FileNotFoundError:
        raise ImageBuildError(f"`{command[0]}` is not installed; the base image needs it") from None
    logger.debug("%s\n%s", " ".join(command), done.stdout)
    if done.returncode != 0:
        raise ImageBuildError(
            f"building the base image failed at `{' '.join(command[:2])}` (exit "
            f"{done.returncode}); it must run as root and reach the Debian mirror",
            done.stdout,
        )


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except OSError:
        return ""


def main() -> int:
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    client = docker.from_env()
    try:
        ensure_base(client)
    except ImageBuildError as exc:
        print(exc, file=sys.stderr)
        return 1
    finally:
        client.close()
    print(base_tag())
    return 0


if __name__ == "__main__":
    sys.exit(main())
