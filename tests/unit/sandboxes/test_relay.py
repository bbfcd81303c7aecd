"""A server's own messages go to the newest request still running on it."""

from __future__ import annotations

import mcp_types as types

from sandboxes.relay import NO_PEER, PeerRelay


class Recorder:
    def __init__(self) -> None:
        self.logged: list[str] = []

    async def create_message(
        self, params: types.CreateMessageRequestParams
    ) -> types.CreateMessageResult | types.ErrorData:
        return types.ErrorData(code=0, message="not asked here")

    async def elicit(
        self, params: types.ElicitRequestParams
    ) -> types.ElicitResult | types.ErrorData:
        return types.ErrorData(code=0, message="not asked here")

    async def log(self, params: types.LoggingMessageNotificationParams) -> None:
        self.logged.append(str(params.data))

    async def notify(self, notification: types.ServerNotification) -> None:
        raise AssertionError("not sent here")


def message(text: str) -> types.LoggingMessageNotificationParams:
    return types.LoggingMessageNotificationParams(level="info", data=text)


async def test_a_call_that_ends_hands_the_servers_messages_back_to_the_one_before() -> None:
    relay = PeerRelay()
    log = relay.relay_callbacks()["logging_callback"]
    first, second = Recorder(), Recorder()
    with relay.attached(first):
        await log(message("one"))
        with relay.attached(second):
            await log(message("two"))
        await log(message("three"))
    await log(message("nobody"))
    assert first.logged == ["one", "three"]
    assert second.logged == ["two"]


async def test_with_no_request_running_the_server_is_told_no_client_is_attached() -> None:
    relay = PeerRelay()
    sample = relay.relay_callbacks()["sampling_callback"]
    params = types.CreateMessageRequestParams(messages=[], max_tokens=1)
    assert await sample(None, params) == NO_PEER
