"""Choosing among the media types a request body or response offers."""

from __future__ import annotations

_FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


def json_media_type(media_types: list[str]) -> str | None:
    """`application/json` (with any parameters), else a `+json` type, else `None`."""
    return next((m for m in media_types if _base(m) == "application/json"), None) or next(
        (m for m in media_types if _base(m).endswith("+json")), None
    )


def body_media_type(media_types: list[str]) -> str:
    """JSON if offered, then the form encodings, else the first of (non-empty) `media_types`."""
    form = (m for wanted in _FORM_TYPES for m in media_types if _base(m) == wanted)
    return json_media_type(media_types) or next(form, media_types[0])


def _base(media_type: str) -> str:
    return media_type.split(";")[0].strip().lower()
