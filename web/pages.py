"""Rendering pages: autoescaped templates and the headers every page carries."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.responses import HTMLResponse

_ENVIRONMENT = Environment(
    loader=FileSystemLoader(Path(__file__).parent / "templates"),
    autoescape=select_autoescape(["html"]),
    auto_reload=False,
)
CSP = (
    "default-src 'none'; style-src 'unsafe-inline'; form-action {form_action}; "
    "frame-ancestors 'none'; base-uri 'none'"
)
PAGE_HEADERS = {
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    "Cache-Control": "no-store",
}


def render(
    template: str, status_code: int = 200, *, form_targets: tuple[str, ...] = (), **context: Any
) -> HTMLResponse:
    """`form_targets`: origins a form may end up at (browsers apply `form-action` to redirects)."""
    html = _ENVIRONMENT.get_template(template).render(**context)
    csp = CSP.format(form_action=" ".join(("'self'", *form_targets)))
    return HTMLResponse(
        html, status_code=status_code, headers={**PAGE_HEADERS, "Content-Security-Policy": csp}
    )


def message(title: str, text: str, status_code: int) -> HTMLResponse:
    return render("message.html", status_code, title=title, message=text)
