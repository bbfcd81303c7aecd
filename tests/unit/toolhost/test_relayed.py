"""A hosted server's identity stamp stops at the hop; the rest of `_meta` goes on."""

from __future__ import annotations

import mcp_types as types

from toolhost.relayed import as_own

STAMP = {types.SERVER_INFO_META_KEY: {"name": "calculator", "version": "0.1.0"}}


def result(meta: dict[str, object] | None) -> types.CallToolResult:
    return types.CallToolResult.model_validate(
        {"content": [{"type": "text", "text": "42"}], "_meta": meta}, by_name=False
    )


def test_the_hosted_servers_stamp_is_dropped_and_its_other_meta_kept() -> None:
    relayed = as_own(result({**STAMP, "example.com/trace": "abc"}))
    assert relayed.meta == {"example.com/trace": "abc"}
    assert relayed.content == result(None).content


def test_a_meta_of_only_the_stamp_goes_away_whole() -> None:
    relayed = as_own(result(dict(STAMP)))
    assert relayed.meta is None
    assert "_meta" not in relayed.model_dump(by_alias=True, exclude_none=True)


def test_results_without_the_stamp_are_handed_on_as_they_are() -> None:
    plain = result({"example.com/trace": "abc"})
    assert as_own(plain) is plain
    bare = result(None)
    assert as_own(bare) is bare
