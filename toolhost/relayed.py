"""A hosted server's answer, handed on as Switchboard's own.

In the 2026-07-28 protocol every result names the server that answered it
(`_meta["io.modelcontextprotocol/serverInfo"]`), and the SDK stamps Switchboard's name only
where the handler left none. A hosted server's stamp names that server, which is not the one the
caller is talking to, so it is dropped here and the SDK stamps Switchboard's; the rest of
`_meta` is the tool's own and passes through.
"""

from __future__ import annotations

from typing import TypeVar

import mcp_types as types

R = TypeVar("R", bound=types.Result)


def as_own(result: R) -> R:
    meta = result.meta
    if not meta or types.SERVER_INFO_META_KEY not in meta:
        return result
    rest = {key: value for key, value in meta.items() if key != types.SERVER_INFO_META_KEY}
    return result.model_copy(update={"meta": rest or None})
