"""A caller, as a tool server's relay sees it, whose stream takes a moment per message."""

from __future__ import annotations

import anyio
import mcp_types as types


class SlowCaller:
    """A caller whose stream takes a moment per message, as a real client's does."""

    def __init__(self) -> None:
        self.seen: list[str] = []

    async def create_message(
        self, params: types.CreateMessageRequestParams
    ) -> types.CreateMessageResult | types.ErrorData:
        return types.ErrorData(code=0, message="not asked here")

    async def elicit(
        self, params: types.ElicitRequestParams
    ) -> types.ElicitResult | types.ErrorData:
        return types.ErrorData(code=0, message="not asked here")

    async def log(self, params: types.LoggingMessageNotificationParams) -> None:
        await anyio.sleep(0.05)
        self.seen.append(str(params.data))

    async def notify(self, notification: types.ServerNotification) -> None:
        await anyio.sleep(0.05)
        if isinstance(notification, types.ResourceUpdatedNotification):
            self.seen.append(notification.params.uri)
