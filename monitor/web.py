"""`press-monitor serve`: a small read-only web view of the archive (stdlib http.server, no JavaScript).

Pages
    /                   search (FTS5 query language, @terms) with facets by rule, feed, wire, place, date
    /release/ID         one release: text, sightings, earlier versions, rule matches, alert status
    /rules, /rule/NAME  the watch rules; one rule's recent matches and its Atom feed (/rule/NAME/feed.atom)
    /feeds              feed health

Every request opens its own read-only connection (`mode=ro`) and closes it before answering, so the
web side never writes and never holds a lock or a long read snapshot while the daemon writes.
"""

from __future__ import annotations

import html
import signal
import socket
import threading
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import FrameType
from urllib.parse import parse_qs, quote, unquote, urlencode, urlsplit

from monitor import __version__, export, schedule
from monitor.app import App
from monitor.clock import Clock, SystemClock
from monitor.errors import ConfigError, MonitorError, QueryError
from monitor.rules import search_query
from monitor.store import Store
from monitor.types import AlertStatus

PAGE_SIZE = 25
# Facet counting gives up after this long: a broad query over a huge archive still answers at
# once, with the facets it could not count marked as skipped.
FACET_SECONDS = 1.5
LOOPBACK = {"127.0.0.1", "localhost", "::1"}
FACET_TITLES = {"rule": "Rule", "feed": "Feed", "wire": "Wire", "place": "Dateline place", "date": "Date"}

CSS = """
body { font: 15px/1.45 system-ui, sans-serif; margin: 0; color: #1d232a; background: #fafbfc; }
header { background: #1f3a5f; color: #fff; padding: .6em 1.2em; display: flex; gap: 1.5em; align-items: center; }
header a { color: #fff; text-decoration: none; } header .brand { font-weight: 700; }
main { display: flex; gap: 2em; padding: 1em 1.2em; max-width: 1200px; }
.content { flex: 1; min-width: 0; } aside { width: 250px; flex: none; font-size: 14px; }
aside h3 { font-size: 13px; text-transform: uppercase; color: #5a6673; margin: 1.2em 0 .3em; }
aside ul { list-style: none; padding: 0; margin: 0; } aside li { display: flex; justify-content: space-between; }
aside .n { color: #5a6673; }
form.search input[type=search] { width: 70%; font-size: 16px; padding: .35em; }
form.search button { font-size: 16px; padding: .35em .9em; }
ol.results { padding-left: 1.4em; } ol.results li { margin: .8em 0; }
.hit .title { font-size: 17px; } .meta { color: #5a6673; font-size: 13px; }
mark { background: #ffe58a; } .error { background: #fde8e8; border: 1px solid #e7a3a3; padding: .6em; }
.chip { display: inline-block; background: #e4ecf6; border-radius: 1em; padding: .1em .7em; margin: 0 .3em .3em 0; }
.chip a { text-decoration: none; margin-left: .3em; }
table { border-collapse: collapse; margin: .5em 0 1.2em; } td, th { border-bottom: 1px solid #dde3ea;
  padding: .3em .6em; text-align: left; vertical-align: top; } th { background: #eef2f6; }
.text { white-space: pre-wrap; max-width: 80ch; } .status-ok, .status-sent { color: #1b7a36; }
.status-failing, .status-dead, .status-gone { color: #b3261e; font-weight: 600; }
.status-pending, .status-waiting { color: #9a6700; }
code { background: #eef2f6; padding: 0 .25em; }
"""


# --------------------------------------------------------------------------- tiny HTML helpers


def e(value: object) -> str:
    """Return `value` as escaped HTML text ("" for None)."""
    return html.escape("" if value is None else str(value), quote=True)


def when(value: datetime | None) -> str:
    return f"{value:%Y-%m-%d %H:%M} UTC" if value else "–"


def marked(snippet: str) -> str:
    """Return a snippet as HTML: escaped, with the \\x02…\\x03 match markers turned into <mark>."""
    return e(snippet).replace("\x02", "<mark>").replace("\x03", "</mark>")


def href(path: str, params: Mapping[str, str] | None = None) -> str:
    query = urlencode([(k, v) for k, v in (params or {}).items() if v])
    return e(path + ("?" + query if query else ""))


def seg(name: str) -> str:
    """Return a name as one URL path segment."""
    return quote(name, safe="")


def table(headers: Iterable[str], rows: Iterable[Iterable[str]], cls: str = "") -> str:
    """Return an HTML table; the cells are HTML already."""
    head = "".join(f"<th>{e(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in row) + "</tr>" for row in rows)
    return f'<table class="{e(cls)}"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


def page(title: str, body: str, *, aside: str = "", head: str = "") -> bytes:
    nav = ('<a class="brand" href="/">press-monitor</a><a href="/">Search</a><a href="/rules">Rules</a>'
           '<a href="/feeds">Feeds</a>')
    side = f"<aside>{aside}</aside>" if aside else ""
    doc = (f'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{e(title)} · press-monitor</title>'
           f'<meta name="viewport" content="width=device-width, initial-scale=1"><style>{CSS}</style>{head}</head>'
           f'<body><header>{nav}</header><main><div class="content">{body}</div>{side}</main></body></html>')
    return doc.encode("utf-8")


class NotFound(Exception):
    """The path names nothing: answered with 404."""


# --------------------------------------------------------------------------- the pages


class Pages:
    """Renders each page from a fresh read-only Store; holds nothing between requests."""

    def __init__(self, app: App, clock: Clock) -> None:
        self.app = app
        self.clock = clock

    def store(self) -> Store:
        return self.app.open_store(readonly=True)

    # ---------------------------------------------------------------- search

    def search(self, params: Mapping[str, str]) -> tuple[int, bytes]:
        q = params.get("q", "").strip()
        filters = {k: params[k] for k in Store.REVIEW_FILTERS if params.get(k)}
        try:
            pageno = max(1, int(params.get("page", "1")))
        except ValueError:
            pageno = 1
        status, error, hits, facets = 200, "", [], {}
        try:
            expanded = search_query(q, self.app.config.terms, everything=True)
            with self.store() as store:
                hits = store.browse(expanded, filters, limit=PAGE_SIZE + 1, offset=(pageno - 1) * PAGE_SIZE)
                deadline = self.clock.monotonic() + FACET_SECONDS
                facets = store.facets(expanded, filters, expired=lambda: self.clock.monotonic() > deadline)
        except (QueryError, ConfigError) as exc:  # a bad query, filter or @term: the form again, with why
            status, error = 400, str(exc)
        more = len(hits) > PAGE_SIZE
        hits = hits[:PAGE_SIZE]
        base = {"q": q, **filters}
        body = [f'<form class="search" action="/" method="get" role="search">'
                f'<input type="search" name="q" id="q" value="{e(q)}" autofocus '
                f'placeholder="&quot;Central Asia&quot; summit*   ·   @terms   ·   title : merger">']
        for k, v in filters.items():
            body.append(f'<input type="hidden" name="{e(k)}" value="{e(v)}">')
        body.append('<button type="submit">Search</button></form>')
        if filters:
            chips = []
            for k, v in filters.items():
                rest = {kk: vv for kk, vv in base.items() if kk != k}
                chips.append(f'<span class="chip">{e(FACET_TITLES[k])}: {e(v)}'
                             f'<a href="{href("/", rest)}" title="remove this filter">×</a></span>')
            body.append(f'<p class="filters">{"".join(chips)}</p>')
        if error:
            body.append(f'<p class="error" id="error">{e(error)}</p>')
        elif not hits:
            body.append('<p id="none">No releases match.</p>')
        else:
            first = (pageno - 1) * PAGE_SIZE + 1
            what = "best matches first" if q else "newest first"
            body.append(f'<p class="meta">Releases {first}–{first + len(hits) - 1}, {what}.</p>')
            body.append(f'<ol class="results" start="{first}">')
            for h in hits:
                meta = " · ".join(x for x in (when(h["published"]), ", ".join(h["feeds"]), h["place"], h["wire"]) if x)
                body.append(f'<li class="hit"><a class="title" href="/release/{h["id"]}">{e(h["title"])}</a>'
                            f'<div class="meta">{e(meta)}</div><div class="snippet">{marked(h["snippet"])}</div></li>')
            body.append("</ol>")
            nav = []
            if pageno > 1:
                nav.append(f'<a rel="prev" href="{href("/", {**base, "page": str(pageno - 1)})}">← previous</a>')
            if more:
                nav.append(f'<a rel="next" href="{href("/", {**base, "page": str(pageno + 1)})}">next →</a>')
            body.append(f'<p class="pager">{" · ".join(nav)}</p>')
        title = f"Search: {q}" if q else "Latest releases"
        return status, page(title, "".join(body), aside=self._facets(facets, base))

    def _facets(self, facets: Mapping[str, list[tuple[str, int]] | None], base: Mapping[str, str]) -> str:
        out = []
        for name, values in facets.items():
            if name in base and name != "date":
                continue  # already filtered on it: the chip above shows it
            out.append(f'<section class="facet" id="facet-{e(name)}"><h3>{e(FACET_TITLES[name])}</h3>')
            if values is None:
                out.append('<p class="meta">skipped: too many releases to count quickly; narrow the search</p>')
            elif not values:
                out.append('<p class="meta">–</p>')
            else:
                out.append("<ul>")
                for value, n in values:
                    link = href("/", {**{k: v for k, v in base.items() if k != "page"}, name: value})
                    out.append(f'<li><a href="{link}">{e(value)}</a><span class="n">{n}</span></li>')
                out.append("</ul>")
            out.append("</section>")
        return "".join(out)

    # ---------------------------------------------------------------- one release

    def release(self, release_id: int) -> tuple[int, bytes]:
        with self.store() as store:
            detail = store.release(release_id)
            if detail is None:
                raise NotFound(f"no release with id {release_id}")
            alerts = store.release_alerts(release_id)
        v = detail.view
        facts = [("Published", when(v.published)), ("First seen", when(v.first_seen)),
                 ("Updated", when(detail.updated))]
        if v.url:
            facts.append(("URL", f'<a href="{e(v.url)}" rel="noreferrer">{e(v.url)}</a>'))
        if v.author:
            facts.append(("Author", e(v.author)))
        if v.dateline:
            d = v.dateline
            facts.append(("Dateline", e(" · ".join(x for x in (d.place, d.date.isoformat() if d.date else "",
                                                                d.wire) if x))))
        if v.tickers:
            facts.append(("Tickers", e(" ".join(v.tickers))))
        body = [f'<h1 id="release-title">{e(v.title)}</h1>',
                '<table class="facts">' + "".join(f"<tr><th>{k}</th><td>{c}</td></tr>" for k, c in facts) + "</table>"]
        body.append(f'<h2 id="sightings">Sightings ({len(detail.sightings)})</h2>')
        body.append(table(("Feed", "Link", "First seen", "Last seen"), (
            (f'<a href="{href("/", {"feed": s.feed})}">{e(s.feed)}</a>',
             f'<a href="{e(s.link)}" rel="noreferrer">{e(s.link)}</a>' if s.link else "–",
             e(when(s.first_seen)), e(when(s.last_seen))) for s in detail.sightings), "sightings"))
        body.append(f'<h2 id="matches">Rule matches ({len(detail.matches)})</h2>')
        if detail.matches:
            body.append(table(("Rule", "Matched", "Snippet"), (
                (f'<a href="/rule/{seg(m.rule)}">{e(m.rule)}</a>', e(when(m.matched_at)), e(m.snippet))
                for m in detail.matches), "matches"))
        else:
            body.append('<p class="meta">No rule matched this release.</p>')
        body.append(f'<h2 id="alerts">Alerts ({len(alerts)})</h2>')
        if alerts:
            body.append(table(("Rule", "Channel", "Status", "Attempts", "Sent", "Next attempt", "Last error"), (
                (e(a.rule), e(a.channel), f'<span class="status-{e(a.status)}">{e(a.status)}</span>', e(a.attempts),
                 e(when(a.sent_at)), e(when(a.next_attempt_at)) if a.status is AlertStatus.PENDING else "–",
                 e(a.last_error or "")) for a in alerts), "alerts"))
        else:
            body.append('<p class="meta">No alert was queued for this release.</p>')
        body.append(f'<h2 id="text">Text</h2><div class="text">{e(detail.body or v.summary)}</div>')
        body.append(f'<h2 id="versions">Earlier versions ({len(detail.versions)})</h2>')
        for ver in detail.versions:
            body.append(f'<details><summary>replaced {e(when(ver.replaced_at))}: {e(ver.title)}</summary>'
                        f'<div class="text">{e(ver.body or ver.summary)}</div></details>')
        if not detail.versions:
            body.append('<p class="meta">The text never changed.</p>')
        return 200, page(v.title, "".join(body))

    # ---------------------------------------------------------------- rules

    def rules(self) -> tuple[int, bytes]:
        with self.store() as store:
            stats = store.rule_stats()
        specs = {r.name: r for r in self.app.config.rules}
        rows = []
        for name in list(specs) + sorted(set(stats) - set(specs)):
            spec = specs.get(name)
            n, last = stats.get(name, (0, None))
            state = "removed from config" if spec is None else ("on" if spec.enabled else "off")
            rows.append((f'<a href="/rule/{seg(name)}">{e(name)}</a>', f"<code>{e(spec.query)}</code>" if spec else "–",
                         e(state), e(n), e(when(last)),
                         f'<a href="/rule/{seg(name)}/feed.atom">Atom</a>'))
        body = "<h1>Watch rules</h1>" + table(("Rule", "Query", "State", "Matches", "Last match", "Feed"), rows,
                                              "rules")
        return 200, page("Rules", body)

    def rule(self, name: str, limit: int = 50) -> tuple[int, bytes]:
        spec = next((r for r in self.app.config.rules if r.name == name), None)
        with self.store() as store:
            rows = store.rule_matches(name, limit=limit)
        if spec is None and not rows:
            raise NotFound(f"no rule named {name!r}")
        atom = f"/rule/{seg(name)}/feed.atom"
        head = f'<link rel="alternate" type="application/atom+xml" title="{e(name)}" href="{e(atom)}">'
        body = [f'<h1>Rule: {e(name)}</h1>']
        if spec:
            facts = [("Query", f"<code>{e(spec.query)}</code>")]
            if spec.regex:
                facts.append(("Regex", f"<code>{e(spec.regex)}</code>"))
            facts.append(("Feeds", e(", ".join(spec.feeds) or "all")))
            facts.append(("Notifies", e(", ".join(spec.notify) or "nobody (archive only)")))
            facts.append(("Enabled", "yes" if spec.enabled else "no"))
            body.append('<table class="facts">' + "".join(f"<tr><th>{k}</th><td>{c}</td></tr>" for k, c in facts)
                        + "</table>")
        else:
            body.append('<p class="meta">This rule is no longer in config.toml; its past matches remain.</p>')
        body.append(f'<p><a id="atom" href="{e(atom)}">Atom feed of this rule</a> — paste it into any feed reader.'
                    f' · <a href="{href("/", {"rule": name})}">search within its matches</a></p>')
        body.append(f"<h2>Recent matches ({len(rows)})</h2>")
        body.append(table(("Matched", "Release", "Snippet"), (
            (e(when(r["matched_at"])), f'<a href="/release/{r["id"]}">{e(r["title"])}</a>', e(r["snippet"]))
            for r in rows), "matches"))
        return 200, page(f"Rule {name}", "".join(body), head=head)

    def rule_atom(self, name: str, self_link: str, limit: int = 50) -> tuple[int, bytes]:
        spec = next((r for r in self.app.config.rules if r.name == name), None)
        with self.store() as store:
            rows = store.rule_matches(name, limit=limit)
            install_id = store.install_id()
        if spec is None and not rows:
            raise NotFound(f"no rule named {name!r}")
        doc = export.rule_feed(name, rows, install_id=install_id, now=self.clock.now(),
                               query=spec.query if spec else "", self_link=self_link,
                               alternate_link=self_link.rsplit("/", 1)[0], version=__version__)
        return 200, doc.encode("utf-8")

    # ---------------------------------------------------------------- feeds

    def feeds(self) -> tuple[int, bytes]:
        with self.store() as store:
            recorded = {r.name: r for r in store.feeds()}
        now = self.clock.now()
        rows = []
        configured = {f.name: f for f in self.app.config.feeds}
        for name in list(configured) + sorted(set(recorded) - set(configured)):
            f, r = configured.get(name), recorded.get(name)
            status = schedule.feed_state(f, r, now)
            url = f.url if f else (r.url if r else "")
            notes = [r.last_error] if r and r.last_error else []
            if r and r.retry_after_until:
                notes.append(f"asked to wait until {when(r.retry_after_until)}")
            if r and r.redirect_to:
                notes.append(f"moved to {r.redirect_to}")
            rows.append((f'<span class="status-{e(status)}">{e(status)}</span>',
                         f'<a href="{href("/", {"feed": name})}">{e(name)}</a><div class="meta">{e(url)}</div>',
                         e(r.entries if r else 0), e(when(r.last_polled_at if r else None)),
                         e(when(r.last_ok_at if r else None)), e(r.failures if r else 0), e("; ".join(notes))))
        body = "<h1>Feeds</h1>" + table(("Status", "Feed", "Items", "Last poll", "Last success", "Failures in a row",
                                         "Problem"), rows, "feeds")
        return 200, page("Feeds", body)


# --------------------------------------------------------------------------- HTTP


class Handler(BaseHTTPRequestHandler):
    server: WebServer
    server_version = f"press-monitor/{__version__}"

    def do_HEAD(self) -> None:  # noqa: N802 (http.server's naming)
        self._answer(head=True)

    def do_GET(self) -> None:  # noqa: N802
        self._answer(head=False)

    def _answer(self, *, head: bool) -> None:
        parts = urlsplit(self.path)
        params = {k: v[0] for k, v in parse_qs(parts.query).items()}
        pages = self.server.pages
        ctype = "text/html; charset=utf-8"
        try:
            if not self._host_allowed():
                raise PermissionError("unexpected Host header (DNS rebinding?)")
            path = parts.path.rstrip("/") or "/"
            segs = [unquote(s) for s in path.strip("/").split("/")] if path != "/" else []
            if path in ("/", "/search"):
                status, data = pages.search(params)
            elif len(segs) == 2 and segs[0] == "release" and segs[1].isdigit():
                status, data = pages.release(int(segs[1]))
            elif segs == ["rules"]:
                status, data = pages.rules()
            elif len(segs) == 2 and segs[0] == "rule":
                status, data = pages.rule(segs[1], _limit(params))
            elif len(segs) == 3 and segs[0] == "rule" and segs[2] == "feed.atom":
                host = self.headers.get("Host") or f"{self.server.server_address[0]}:{self.server.server_address[1]}"
                status, data = pages.rule_atom(segs[1], f"http://{host}{parts.path}", _limit(params))
                ctype = "application/atom+xml; charset=utf-8"
            elif segs == ["feeds"]:
                status, data = pages.feeds()
            else:
                raise NotFound(f"nothing at {parts.path}")
        except NotFound as exc:
            status, data = 404, page("Not found", f'<h1>Not found</h1><p class="error">{e(exc)}</p>')
        except PermissionError as exc:
            status, data = 403, page("Forbidden", f'<h1>Forbidden</h1><p class="error">{e(exc)}</p>')
        except MonitorError as exc:  # no archive yet, archive from a newer version, ...
            status, data = 503, page("Unavailable", f'<h1>Archive unavailable</h1><p class="error">{e(exc)}</p>')
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        # No scripts at all; links out must not leak the local search in a Referer.
        self.send_header("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; img-src 'self'")
        self.send_header("Referrer-Policy", "no-referrer")
        self.send_header("X-Content-Type-Options", "nosniff")
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        if not head:
            self.wfile.write(data)

    def _host_allowed(self) -> bool:
        """A web page elsewhere may point a DNS name at 127.0.0.1; on loopback answer only loopback names."""
        bound = self.server.server_address[0]
        if bound not in LOOPBACK:
            return True
        host = urlsplit("//" + (self.headers.get("Host") or "")).hostname or ""
        return host in LOOPBACK

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 (the base class's name)
        self.server.log(f"{self.address_string()} {format % args}")


def _limit(params: Mapping[str, str]) -> int:
    try:
        return max(1, min(500, int(params.get("limit", "50"))))
    except ValueError:
        return 50


class WebServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, app: App, host: str, port: int, *, clock: Clock | None = None,
                 log: Callable[[str], None] | None = None) -> None:
        self.address_family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self.pages = Pages(app, clock or SystemClock())
        self.log = log or (lambda line: None)
        super().__init__((host, port), Handler)

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://[{host}]:{port}/" if ":" in host else f"http://{host}:{port}/"


def make_server(app: App, host: str = "127.0.0.1", port: int = 8001, *, clock: Clock | None = None,
                log: Callable[[str], None] | None = None) -> WebServer:
    """Return a bound, not yet serving web server (port 0 picks a free port; see .url)."""
    return WebServer(app, host, port, clock=clock, log=log)


def serve(server: WebServer) -> None:
    """Serve until Ctrl-C or SIGTERM, then close the socket."""
    def stop(signum: int, frame: FrameType | None) -> None:
        # shutdown() waits for serve_forever() to return, so it must run on another thread.
        threading.Thread(target=server.shutdown, daemon=True).start()

    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, stop)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
