"""`ImageBuilder`: one cached, runnable image per tool server spec.

Images are tagged `switchboard/tool-<type>-<name>:<recipe digest[:16]>` and labelled with the full
digest, so an unchanged recipe (Dockerfile, helper scripts, wheels, parent image ID) is never
rebuilt. pypi and npm images are built in two steps: the install, which records the server
command from the package's own metadata, then a one-line build that makes it the image's `Cmd`.
Synchronous; one build per recipe at a time on this host, across threads and processes.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import docker
from docker.errors import ImageNotFound

from sandboxes.images import engine, oci, recipes
from sandboxes.images.base import ensure_base
from sandboxes.images.engine import Recipe
from sandboxes.images.locks import exclusive
from sandboxes.images.spec import BuiltImage, ImageBuildError, ImageSpec


class ImageBuilder:
    """Builds tool-server images on a local Docker engine, without any container registry."""

    def __init__(self, client: docker.DockerClient, *, wheelhouse: Path | None = None) -> None:
        if wheelhouse is not None and not wheelhouse.is_dir():
            raise ValueError(f"wheelhouse {wheelhouse} is not a directory; create it or pass None")
        self._client = client
        self._wheelhouse = wheelhouse

    def base(self) -> str:
        """The base image's ID, building it (about a minute, as root) if its recipe changed."""
        return ensure_base(self._client)

    def ensure(self, spec: ImageSpec) -> BuiltImage:
        """A runnable image for `spec`, built only if no image has its current recipe."""
        if spec.registry_type == "oci":
            return self._oci(spec)
        if spec.registry_type == "pypi":
            return self._tool(spec, recipes.pypi(spec, self.base(), self._wheels()))
        return self._tool(spec, recipes.npm(spec, self._node22()))

    def ensure_bridge(self, name: str, config: bytes) -> BuiltImage:
        """The image serving one OpenAPI version: the shared bridge image plus `config`."""
        recipe = recipes.bridged(self._bridge(), config)
        digest = recipe.digest()
        tag = f"switchboard/tool-openapi-{_slug(name)}:{digest[:16]}"
        with exclusive(tag):
            cached = self._cached(tag, digest)
            if cached:
                return cached
            what = f"the OpenAPI bridge image for {name}"
            image_id, log = engine.build(self._client, recipe, what, tag=tag, digest=digest)
            return BuiltImage(image_id, tag, list(recipes.BRIDGE_COMMAND), log)

    def _tool(self, spec: ImageSpec, recipe: Recipe) -> BuiltImage:
        digest = recipe.digest()
        tag = _tag(spec, digest)
        what = f"the image for {spec}"
        with exclusive(tag):
            cached = self._cached(tag, digest)
            if cached:
                return cached
            stage, log = engine.build(self._client, recipe, what)
            command = _command(engine.read_file(self._client, stage, recipes.COMMAND_FILE), what)
            final = recipes.with_command(stage, command)
            image_id, tail = engine.build(self._client, final, what, tag=tag, digest=digest)
            return BuiltImage(image_id, tag, command, log + tail)

    def _oci(self, spec: ImageSpec) -> BuiltImage:
        reference = f"{spec.identifier}:{spec.version}"
        try:
            image = self._client.images.get(reference)
        except ImageNotFound:
            raise ImageBuildError(
                f"OCI image `{reference}` is not in the local Docker engine, and no container "
                f"registry is reachable: load it (`docker load -i image.tar`) or build it "
                f"(`docker build -t {reference} .`) on this host first"
            ) from None
        command, python = oci.inspect(self._client, image, reference)
        recipe = recipes.oci(image.id, self.base(), python, command)
        digest = recipe.digest()
        tag = _tag(spec, digest)
        with exclusive(tag):
            cached = self._cached(tag, digest)
            if cached:
                return cached
            what = f"the image for {spec}"
            image_id, log = engine.build(self._client, recipe, what, tag=tag, digest=digest)
            return BuiltImage(image_id, tag, command, log)

    def _node22(self) -> str:
        """Node.js 22 on the base, an image of its own so every npm build reuses it."""
        architecture = str(self._client.info().get("Architecture", ""))
        try:
            recipe = recipes.node22(self.base(), architecture)
        except ValueError as exc:
            raise ImageBuildError(str(exc)) from None
        return self._shared(recipe, "switchboard/node22", "Node.js 22")

    def _bridge(self) -> str:
        """The OpenAPI bridge on the base, shared by every OpenAPI version's image."""
        return self._shared(
            recipes.openapi_bridge(self.base()), "switchboard/openapi-bridge", "the OpenAPI bridge"
        )

    def _shared(self, recipe: Recipe, repository: str, what: str) -> str:
        """The ID of a parent image other images build on, built if its recipe changed."""
        digest = recipe.digest()
        tag = f"{repository}:{digest[:16]}"
        with exclusive(tag):
            cached = engine.find_image(self._client, tag, digest)
            if cached:
                return str(cached["Id"])
            image_id, _ = engine.build(self._client, recipe, what, tag=tag, digest=digest)
            return image_id

    def _cached(self, tag: str, digest: str) -> BuiltImage | None:
        attrs = engine.find_image(self._client, tag, digest)
        if attrs is None:
            return None
        command = [str(part) for part in (attrs.get("Config") or {}).get("Cmd") or []]
        return BuiltImage(str(attrs["Id"]), tag, command, f"reused {tag}: recipe unchanged\n")

    def _wheels(self) -> dict[str, bytes]:
        if self._wheelhouse is None:
            return {}
        files = sorted(self._wheelhouse.iterdir())
        return {f.name: f.read_bytes() for f in files if f.is_file() and f.name[0] != "."}


def _tag(spec: ImageSpec, digest: str) -> str:
    return f"switchboard/tool-{spec.registry_type}-{_slug(spec.identifier)}:{digest[:16]}"


def _slug(name: str) -> str:
    """A name as a Docker repository path component: lowercase letters, digits and `-`."""
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")[:100]


def _command(raw: bytes | None, what: str) -> list[str]:
    """The command the install step recorded; it is a JSON list of strings."""
    try:
        command = json.loads(raw or b"")
    except ValueError:
        command = None
    if (
        not isinstance(command, list)
        or not command
        or not all(isinstance(part, str) for part in command)
    ):
        raise ImageBuildError(
            f"could not build {what}: {recipes.COMMAND_FILE} holds no server command; "
            "this is a bug in the recipe, please report it"
        )
    return [str(part) for part in command]
