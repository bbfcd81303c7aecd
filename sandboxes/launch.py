"""From a published version (manifest and policy) to what a sandbox is started with."""

from __future__ import annotations

import json
from typing import Any

from sandboxes.bridges.openapi.config import SECRETS_VARIABLE, BridgeConfig
from sandboxes.errors import SandboxError
from sandboxes.images import BuiltImage, ImageSpec
from sandboxes.profile import Limits, RunProfile


class LaunchError(SandboxError):
    """The manifest cannot be turned into a command line; the message names what is missing."""


def first_package(document: dict[str, Any]) -> dict[str, Any] | None:
    packages = document.get("packages") or []
    return packages[0] if packages else None


def image_spec(package: dict[str, Any]) -> ImageSpec:
    return ImageSpec(
        registry_type=package["registryType"],
        identifier=package["identifier"],
        version=package["version"],
    )


def arguments(package: dict[str, Any]) -> list[str]:
    """`packageArguments` as argv: fixed values only, since nobody is there to prompt."""
    argv: list[str] = []
    for index, argument in enumerate(package.get("packageArguments") or []):
        value = argument.get("value", argument.get("default"))
        if value is None:
            if argument.get("isRequired"):
                raise LaunchError(
                    f"packageArguments[{index}] has no `value` or `default`; a sandboxed "
                    "server runs unattended, so give it one in the manifest"
                )
            continue
        if argument.get("type") == "named":
            argv += [argument["name"], str(value)]
        else:
            argv.append(str(value))
    return argv


def split_environment(
    package: dict[str, Any], secret_names: set[str], stored: dict[str, str]
) -> tuple[dict[str, str], dict[str, str]]:
    """(plain variables, secrets): plain ones from manifest values and defaults, secrets from
    the encrypted store. A required secret that is not stored is an error naming the fix."""
    plain: dict[str, str] = {}
    secrets: dict[str, str] = {}
    for variable in package.get("environmentVariables") or []:
        name = variable["name"]
        if name in secret_names:
            if name in stored:
                secrets[name] = stored[name]
            elif variable.get("isRequired"):
                raise LaunchError(
                    f"secret {name} is required but not stored; set it with "
                    f"`switchboard secret set SERVER {name}`, then run `switchboard discover`"
                )
            continue
        value = variable.get("value", variable.get("default"))
        if value is not None:
            plain[name] = str(value)
    return plain, secrets


def bridge_secrets(config: BridgeConfig, stored: dict[str, str]) -> dict[str, str]:
    """The OpenAPI bridge's one secrets variable: the stored secrets of the schemes it sends.

    A missing one is no error here: the bridge names it in the result of each call that needs
    it, and operations that need none still work.
    """
    values = {name: stored[name] for name in sorted(config.schemes) if name in stored}
    return {SECRETS_VARIABLE: json.dumps(values)}


def run_profile(
    policy: dict[str, Any],
    *,
    environment: dict[str, str],
    network: str | None,
    labels: dict[str, str],
) -> RunProfile:
    return RunProfile(
        limits=Limits(
            memory_mb=int(policy.get("memoryMb", 256)),
            cpus=float(policy.get("cpus", 1.0)),
            pids=int(policy.get("pidsLimit", 64)),
        ),
        network=network,
        environment=environment,
        labels=labels,
    )


def command(image: BuiltImage, package: dict[str, Any]) -> list[str]:
    return [*image.command, *arguments(package)]
