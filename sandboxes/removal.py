"""Removing a tool container for certain, even while it is exiting by itself."""

from __future__ import annotations

import time
from typing import Any

ATTEMPTS = 50
PAUSE = 0.1


def _status(exc: Exception) -> int | None:
    status: int | None = getattr(getattr(exc, "response", None), "status_code", None)
    return status


def remove_container(docker: Any, container_id: str) -> None:
    """Force-remove `container_id` (low-level API client); blocking, so run it in a thread.

    A force-remove answers 409 when the container exits between dockerd's "is it running?" and
    its kill ("Could not kill running container … is not running", Docker 20.10), or while
    another removal is under way. A server whose stdio socket was just closed exits at exactly
    that moment, so 409 is retried until the container is gone instead of being taken for done.
    """
    for attempt in range(ATTEMPTS):
        try:
            docker.remove_container(container_id, force=True)
            return
        except Exception as exc:
            status = _status(exc)
            if status == 404:
                return
            if status != 409 or attempt == ATTEMPTS - 1:
                raise
        time.sleep(PAUSE)
