"""The hardened run profile every tool server gets: what `docker create` is asked for."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

from sandboxes.ownership import OWNER, PROCESS

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

    def create_arguments(self, docker_api: Any, owner: str, process: str) -> dict[str, Any]:
        """Keyword arguments for `APIClient.create_container`."""
        limits = self.limits
        host_config = docker_api.create_host_config(
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
            "stdin_open": True,
            "tty": False,
            "environment": {"HOME": TMP, **self.environment},
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
