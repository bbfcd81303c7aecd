"""Force-removing a container that exits on its own at the same moment."""

from __future__ import annotations

import docker.errors
import pytest
import requests

from sandboxes import removal
from sandboxes.removal import remove_container


def api_error(status: int, message: str) -> docker.errors.APIError:
    response = requests.Response()
    response.status_code = status
    return docker.errors.APIError(message, response=response, explanation=message)


class Engine:
    """Answers each `remove_container` with the next of `answers` (None: removed)."""

    def __init__(self, *answers: Exception | None) -> None:
        self.answers = list(answers)
        self.calls: list[tuple[str, bool]] = []

    def remove_container(self, container_id: str, *, force: bool) -> None:
        self.calls.append((container_id, force))
        answer = self.answers.pop(0) if self.answers else None
        if answer is not None:
            raise answer


@pytest.fixture(autouse=True)
def no_pause(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(removal, "PAUSE", 0.0)


def test_conflict_while_the_container_exits_is_retried_until_removed() -> None:
    not_running = api_error(409, "Could not kill running container abc, cannot remove")
    engine = Engine(not_running, not_running, None)
    remove_container(engine, "abc")
    assert engine.calls == [("abc", True)] * 3


def test_a_container_already_gone_counts_as_removed() -> None:
    engine = Engine(api_error(404, "No such container: abc"))
    remove_container(engine, "abc")
    assert len(engine.calls) == 1


def test_other_engine_errors_are_raised_at_once() -> None:
    engine = Engine(api_error(500, "driver failed"))
    with pytest.raises(docker.errors.APIError, match="driver failed"):
        remove_container(engine, "abc")
    assert len(engine.calls) == 1


def test_a_conflict_that_never_clears_is_raised_in_the_end() -> None:
    engine = Engine(*[api_error(409, "removal already in progress")] * removal.ATTEMPTS)
    with pytest.raises(docker.errors.APIError, match="removal already in progress"):
        remove_container(engine, "abc")
    assert len(engine.calls) == removal.ATTEMPTS
