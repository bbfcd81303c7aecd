"""The hardened run profile every tool server gets: what `docker create` is asked for."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sandboxes.ownership import OWNER, PROCESS
from sandboxes.stdio_listener import MOUNT, SOCKET_NAME, SOCKET_VARIABLE

MANAGED = "dev.switchboard.managed"
KIND = "dev.switchboard.kind"
SANDBOX_USER = "10001:10001"
TMP = "/tmp"  # noqa: S108  (the container's own private tmpfs)


@dataclass(frozen=True)
class Limits:
    """Resource limits from the manifest's policy; the defaults are the policy's defaults."""

    memory_mb: int = 256
    cpus: float = 1.0
    pids: int = 64
    tmp_mb: int = 64


@dataclass(frozen=True)
class RunProfile:
    limits: Limits = field(default_factory=Limits)
    network: str | None = None
    """An egress network to join; `None` means no network at all."""
    environment: dict[str, str] = field(default_factory=dict)
    """Non-secret variables only: these are visible in `docker inspect`."""
    labels: dict[str, str] = field(default_factory=dict)

    def create_arguments(
        self, docker_api: Any, owner: str, process: str, *, stdio_socket: Path | None = None
    ) -> dict[str, Any]:
        """Keyword arguments for `APIClient.create_container`.

        `stdio_socket` is the host directory of the socket the server's stdio connects to
        (`sandboxes.stdio_listener`); without it, stdio is Docker's attach stream.
        """
        limits = self.limits
        environment = {"HOME": TMP, **self.environment}
        binds: dict[str, dict[str, str]] = {}
        if stdio_socket is not None:
            binds[str(stdio_socket)] = {"bind": MOUNT, "mode": "ro"}
            environment[SOCKET_VARIABLE] = f"{MOUNT}/{SOCKET_NAME}"
        host_config = docker_api.create_host_config(
            binds=binds or None,
            cap_drop=["ALL"],
            security_opt=["no-new-privileges:true"],
            read_only=True,
            tmpfs={TMP: f"rw,noexec,nosuid,nodev,size={limits.tmp_mb}m"},
            mem_limit=f"{limits.memory_mb}m",
            memswap_limit=f"{limits.memory_mb}m",
            nano_cpus=int(min(limits.cpus, os.cpu_count() or 1) * 1_000_000_000),
            pids_limit=limits.pids,
            init=True,
            network_mode=self.network or "none",
            ipc_mode="private",
            log_config={"Type": "none", "Config": {}},
            ulimits=[{"Name": "nofile", "Soft": 1024, "Hard": 1024}],
        )
        return {
            "user": SANDBOX_USER,
            "stdin_open": stdio_socket is None,
            "tty": False,
            "environment": environment,
            "labels": {
                **self.labels,
                MANAGED: "true",
                KIND: "tool",
                OWNER: owner,
                PROCESS: process,
            },
            "host_config": host_config,
            "working_dir": TMP,
        }
