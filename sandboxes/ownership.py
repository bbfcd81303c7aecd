"""Who started a container: this deployment (owner label) and which process (host:pid), so a
start-up removes only what dead processes left behind, never a live neighbour's sandboxes."""

from __future__ import annotations

import os
import socket

OWNER = "dev.switchboard.owner"
PROCESS = "dev.switchboard.process"


def this_process() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def left_behind(labels: dict[str, str] | None) -> bool:
    """True for a resource whose process ran on this host and is gone.

    This very process counts as alive: several runtimes (concurrent discoveries in one server)
    share it, and none may sweep another's resources.
    """
    origin, _, pid = (labels or {}).get(PROCESS, "").rpartition(":")
    return origin == socket.gethostname() and not _alive(pid)


def _alive(pid: str) -> bool:
    if not pid.isdigit():
        return False
    if int(pid) == os.getpid():
        return True
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
