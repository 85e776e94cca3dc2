"""The Jinja environment of an app's pages: its own templates first, then the shared ones in
``interfaces/web/templates`` (the error page, the CSRF field, an inline error), autoescaped,
strict about undefined names, with the amount and time filters."""

from __future__ import annotations

from pathlib import Path

import jinja2

from interfaces.web.formatting import FILTERS

__all__ = ["environment"]

SHARED = Path(__file__).resolve().parent / "templates"


def environment(templates: Path) -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader([templates, SHARED]),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(FILTERS)
    return env
