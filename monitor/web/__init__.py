"""`press-monitor serve`: the read-only web view and JSON API over the archive.

    server.py   HTTP: route table, Host/token checks, base path, the error boundary, bounded threads
    html.py     the HTML pages (search, release, rules, rule, playground, feeds), one template each
    api.py      /api/… JSON and /healthz
    render.py   Jinja2 (the only module importing it): environment, filters, url()
    view.py     pure presentation helpers: display zone, highlights, http(s)-only links, text cuts
    charts.py   pure geometry for the SVG bar charts and sparklines
    templates/  one Jinja2 template per page over base.html; static/ the stylesheet and keys.js
"""

from monitor.web.html import FACET_SECONDS, PAGE_SIZE, Pages
from monitor.web.model import NotFound
from monitor.web.server import LOOPBACK, WebServer, make_server, serve

__all__ = ["FACET_SECONDS", "LOOPBACK", "PAGE_SIZE", "NotFound", "Pages", "WebServer", "make_server", "serve"]
