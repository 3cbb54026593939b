"""Jinja2, in this one module: the environment (autoescaping on, undefined names are errors) and render().

Templates live in monitor/web/templates, one per page, all extending base.html; the page
handlers pass plain values and the helpers of monitor.web.view as filters.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from urllib.parse import quote, urlencode

import jinja2

from monitor import __version__
from monitor.web import view

TEMPLATES = Path(__file__).parent / "templates"


class Renderer:
    """Renders pages under one base path (`serve --base-path`) in one display zone."""

    def __init__(self, *, base: str = "", zone: view.Zone | None = None) -> None:
        self.base = base
        self.zone = zone or view.Zone("UTC")
        env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(TEMPLATES)), autoescape=True,
                                 undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True)
        env.globals.update(url=self.url, version=__version__, zone=self.zone)
        env.filters.update(when=self.zone.when, day=self.zone.day, pieces=view.pieces,
                           brackets=lambda s: view.pieces(view.from_brackets(s)), cut=view.cut,
                           link=view.link, paragraphs=view.paragraphs, seg=lambda s: quote(str(s), safe=""))
        self.env = env

    def url(self, path: str, params: Mapping[str, object] | None = None, **more: object) -> str:
        """Return a link to one of our pages under the base path; empty parameters are left out."""
        items = [(k, str(v)) for k, v in {**(params or {}), **more}.items() if v not in (None, "")]
        return self.base + path + ("?" + urlencode(items) if items else "")

    def page(self, template: str, **context: object) -> bytes:
        return self.env.get_template(template).render(**context).encode("utf-8")
