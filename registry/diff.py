"""What changed between two versions of a server: the reviewer's main question."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from registry.tooldefs import ToolDefinition

_COMPARED = ("title", "description", "inputSchema", "outputSchema", "annotations")


class ToolChange(BaseModel):
    name: str
    fields: dict[str, dict[str, Any]]
    """Per changed field: `{"before": ..., "after": ...}`."""


class VersionDiff(BaseModel):
    against: str | None = None
    """The version compared with; `None` when nothing was approved before."""
    added: list[str] = Field(default_factory=list)
    removed: list[str] = Field(default_factory=list)
    changed: list[ToolChange] = Field(default_factory=list)
    policy: dict[str, dict[str, Any]] = Field(default_factory=dict)

    @property
    def empty(self) -> bool:
        return not (self.added or self.removed or self.changed or self.policy)


def diff_versions(
    before: list[ToolDefinition],
    after: list[ToolDefinition],
    *,
    before_policy: dict[str, Any] | None = None,
    after_policy: dict[str, Any] | None = None,
    against: str | None = None,
) -> VersionDiff:
    old = {t.name: t for t in before}
    new = {t.name: t for t in after}
    changed = []
    for name in sorted(old.keys() & new.keys()):
        fields = _field_changes(old[name], new[name])
        if fields:
            changed.append(ToolChange(name=name, fields=fields))
    return VersionDiff(
        against=against,
        added=sorted(new.keys() - old.keys()),
        removed=sorted(old.keys() - new.keys()),
        changed=changed,
        policy=_dict_changes(before_policy or {}, after_policy or {}),
    )


def _field_changes(old: ToolDefinition, new: ToolDefinition) -> dict[str, dict[str, Any]]:
    before, after = old.wire(), new.wire()
    fields = {
        key: {"before": before.get(key), "after": after.get(key)}
        for key in _COMPARED
        if before.get(key) != after.get(key)
    }
    if sorted(old.scopes) != sorted(new.scopes):
        fields["scopes"] = {"before": sorted(old.scopes), "after": sorted(new.scopes)}
    return fields


def _dict_changes(before: dict[str, Any], after: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {
        key: {"before": before.get(key), "after": after.get(key)}
        for key in sorted(before.keys() | after.keys())
        if before.get(key) != after.get(key)
    }
