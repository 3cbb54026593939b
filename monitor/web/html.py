"""The HTML pages: each handler reads a fresh read-only Store, shapes plain values, renders one template.

Handlers return (HTTP status, HTML bytes) and hold nothing between requests. Bad input from the
URL (a broken query, an unknown @term, a page number past the end) answers with the page and a
message, never an exception; unknown names raise NotFound.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, timedelta
from urllib.parse import quote

from monitor import health, spikes, stories
from monitor.app import App
from monitor.clock import Clock
from monitor.errors import ConfigError, QueryError
from monitor.rules import compile_query, search_query
from monitor.store import RANK_WINDOW, Store
from monitor.types import RuleSpec
from monitor.web import charts, view
from monitor.web.model import NotFound, release_model, rule_rows
from monitor.web.render import Renderer

PAGE_SIZE = 25
RULE_PAGE_SIZE = 50
MAX_PAGE = 10_000  # deeper pages of "newest first" are better reached with a date filter
# Facet counting gives up after this long: a broad query over a huge archive still answers at
# once, with the facets it could not count marked as skipped. The day chart shares the budget.
FACET_SECONDS = 1.5
CHART_DAYS = 90
SPARK_DAYS = 30
FACET_TITLES = {"rule": "Rule", "feed": "Feed", "wire": "Wire", "place": "Dateline place", "date": "Date"}
# Feeds needing attention first.
STATE_ORDER = {"failing": 0, "waiting": 1, "gone": 2, "new": 3, "ok": 4, "off": 5, "removed": 6}


@dataclass(frozen=True)
class Facet:
    name: str
    title: str
    values: list[tuple[str, int, str]] | None  # (value, releases, link); None: not counted in time


def toml_snippet(query: str, name: str = "my-rule") -> str:
    """Return a [[rules]] entry to paste into config.toml (a JSON string is a valid TOML basic string)."""
    return (f"[[rules]]\nname = {json.dumps(name)}\nquery = {json.dumps(query, ensure_ascii=False)}\n"
            f"notify = []  # channel names, e.g. [\"email\"]\n")


class Pages:
    """Renders each page from a fresh read-only Store."""

    def __init__(self, app: App, clock: Clock, renderer: Renderer | None = None) -> None:
        self.app = app
        self.clock = clock
        self.r = renderer or Renderer(zone=view.Zone(app.config.settings.display_timezone))

    def store(self) -> Store:
        return self.app.open_store(readonly=True)

    def spec(self, name: str) -> RuleSpec | None:
        return next((r for r in self.app.config.rules if r.name == name), None)

    def _budget(self) -> Callable[[], bool]:
        deadline = self.clock.monotonic() + FACET_SECONDS
        return lambda: self.clock.monotonic() > deadline

    # ---------------------------------------------------------------- search

    def search(self, params: Mapping[str, str]) -> tuple[int, bytes]:
        q = params.get("q", "").strip()
        filters = {k: params[k] for k in Store.REVIEW_FILTERS if params.get(k)}
        pageno = view.clamp_int(params.get("page"), 1, 1, MAX_PAGE)
        status, error, windowed, empty_archive = 200, "", False, False
        hits: list[dict[str, object]] = []
        facets: dict[str, list[tuple[str, int]] | None] = {}
        days: dict[str, int] | None = {}
        today = self.clock.now()
        try:
            expanded = search_query(q, self.app.config.terms, everything=True)
            with self.store() as store:
                window, windowed = store.web_window(expanded, filters)
                hits = store.web_search(expanded, filters, limit=PAGE_SIZE + 1, offset=(pageno - 1) * PAGE_SIZE,
                                        window=window if expanded else None)
                expired = self._budget()
                facets = store.web_facets(window, date=filters.get("date", ""), expired=expired)
                days = store.web_days(expanded, since=today - timedelta(days=CHART_DAYS - 1), until=today,
                                      window=window if filters else None, expired=expired)
                empty_archive = not hits and not store.web_has_releases()
                more = len(hits) > PAGE_SIZE
                hits = _one_per_story(store, hits[:PAGE_SIZE])
        except (QueryError, ConfigError) as exc:  # a bad query, filter or @term: the form again, with why
            status, error, more = 400, str(exc), False
        more = more and (not windowed or not q or pageno * PAGE_SIZE < RANK_WINDOW)
        base = {"q": q, **filters}
        chips = [(FACET_TITLES[k], v, self.r.url("/", {kk: vv for kk, vv in base.items() if kk != k}))
                 for k, v in filters.items()]
        sections = [Facet(name, FACET_TITLES[name],
                          None if values is None else
                          [(v, n, self.r.url("/", {**base, name: v})) for v, n in values])
                    for name, values in facets.items() if not (name in base and name != "date")]
        chart = None
        if days is not None and not error:
            chart = charts.bars(days, today.date(), days=CHART_DAYS, what="releases")
        title = f"Search: {q}" if q else "Latest releases"
        return status, self.r.page(
            "search.html", title=title, q=q, filters=filters, chips=chips, error=error, hits=hits,
            first=(pageno - 1) * PAGE_SIZE + 1, pageno=pageno, windowed=windowed, window=RANK_WINDOW,
            prev_url=self.r.url("/", {**base, "page": pageno - 1}) if pageno > 1 else None,
            next_url=self.r.url("/", {**base, "page": pageno + 1}) if more else None,
            facets=sections, chart=chart, chart_skipped=days is None and not error, empty_archive=empty_archive,
            chart_windowed=windowed and bool(filters))

    # ---------------------------------------------------------------- one release

    def release(self, release_id: int) -> tuple[int, bytes]:
        with self.store() as store:
            m = release_model(store, release_id, self.app.config.rules, self.app.config.settings.alert_max_age)
        v = m.detail.view
        copies = m.story.copies if len(m.story.copies) > 1 else ()
        return 200, self.r.page("release.html", title=v.title, v=v, d=m.detail, alerts=m.alerts, why=m.why_no_alert,
                                text=view.paragraphs(m.detail.body or v.summary), copies=copies,
                                told=stories.told(copies), where=stories.where)

    # ---------------------------------------------------------------- rules

    def rules(self) -> tuple[int, bytes]:
        with self.store() as store:
            listed = rule_rows(store, self.app.config.rules)
        rows = [{"name": r.name, "query": r.spec.query if r.spec else "", "n": r.matches, "last": r.last_match,
                 "state": "removed from config" if r.spec is None else ("on" if r.spec.enabled else "off")}
                for r in listed]
        return 200, self.r.page("rules.html", title="Rules", rows=rows)

    def rule(self, name: str, params: Mapping[str, str]) -> tuple[int, bytes]:
        spec = self.spec(name)
        before = _keyset(params.get("before"))
        now = self.clock.now()
        with self.store() as store:
            rows = store.web_rule_matches(name, limit=RULE_PAGE_SIZE + 1, before=before)
            total, last = store.rule_stats().get(name, (0, None))
            days = store.web_rule_days(name, since=now - timedelta(days=CHART_DAYS - 1))
            spiked = store.spikes(name, since=now - timedelta(days=CHART_DAYS))
        if spec is None and not total:
            raise NotFound(f"no rule named {name!r}")
        more = len(rows) > RULE_PAGE_SIZE
        rows = rows[:RULE_PAGE_SIZE]
        older = None
        if more:
            key: tuple[str, int] = rows[-1]["key"]  # type: ignore[assignment]
            older = self.r.url(f"/rule/{_seg(name)}", before=f"{key[0]}~{key[1]}")
        # The level a spike is measured against: the daily mean of the 14 days before today (spikes.py,
        # for a one-day window); days with a spike alert are drawn in the alarm colour.
        baseline = charts.daily_mean(days, now.date(), spikes.BASELINE_DAYS)
        spike_days = frozenset(s.end.astimezone(UTC).date().isoformat() for s in spiked)
        return 200, self.r.page(
            "rule.html", title=f"Rule {name}", name=name, spec=spec, rows=rows, total=total, last=last,
            older=older, newest=self.r.url(f"/rule/{_seg(name)}") if before else None,
            chart=charts.bars(days, now.date(), days=CHART_DAYS, what="matches", baseline=baseline,
                              bad_days=spike_days),
            baseline=baseline, spikes=spiked, atom=self.r.url(f"/rule/{_seg(name)}/feed.atom"))

    def playground(self, params: Mapping[str, str]) -> tuple[int, bytes]:
        """`/rules/try?q=…`: what a query would have matched, per day and latest first; never writes."""
        q = params.get("q", "").strip()
        status, error, chart, expanded = 200, "", None, ""
        hits: list[dict[str, object]] = []
        now = self.clock.now()
        if q:
            try:
                expanded = compile_query(q, self.app.config.terms).rules[0].expanded
                with self.store() as store:
                    days = store.web_days(expanded, since=now - timedelta(days=CHART_DAYS - 1), until=now,
                                          expired=self._budget())
                    hits = store.web_search(expanded, limit=20, newest=True)
                if days is not None:
                    chart = charts.bars(days, now.date(), days=CHART_DAYS, what="matches")
            except (QueryError, ConfigError) as exc:
                status, error = 400, str(exc)
        return status, self.r.page("try.html", title="Try a rule", q=q, error=error, hits=hits, chart=chart,
                                   expanded=expanded if expanded != q else "",
                                   toml=toml_snippet(q) if q and not error else "",
                                   terms=sorted(self.app.config.terms))

    # ---------------------------------------------------------------- feeds

    def feeds(self) -> tuple[int, bytes]:
        now = self.clock.now()
        with self.store() as store:
            snap = health.snapshot(store, self.app.config.feeds, now)
            days = store.web_feed_days(since=now - timedelta(days=SPARK_DAYS - 1))
        out = []
        for f in snap.feeds:
            r, state = f.row, f.state
            bad: frozenset[str] = frozenset()
            if state == "failing" and r is not None:
                since = (r.last_ok_at or r.last_polled_at or now).date()
                bad = frozenset(d.isoformat() for d in charts.days_back(now.date(), SPARK_DAYS) if d >= since)
            notes = [r.last_error] if r and r.last_error and state != "ok" else []
            if r and r.retry_after_until and state == "waiting":
                notes.append(f"asked to wait until {self.r.zone.when(r.retry_after_until)}")
            if r and r.redirect_to:
                notes.append(f"moved to {r.redirect_to}")
            if f.pages_failed:
                notes.append(f"{f.pages_failed} release pages failed (press-monitor pages --status failed)")
            out.append({
                "name": f.name, "url": f.url, "state": str(state),
                "entries": r.entries if r else 0, "failures": r.failures if r else 0,
                "pages_failed": f.pages_failed,
                "last_polled": r.last_polled_at if r else None, "last_ok": r.last_ok_at if r else None,
                "next_poll": f.next_poll, "notes": "; ".join(n for n in notes if n),
                "spark": charts.bars(days.get(f.name, {}), now.date(), days=SPARK_DAYS, width=120, height=24,
                                     bad_days=bad),
            })
        out.sort(key=lambda x: STATE_ORDER.get(str(x["state"]), 9))  # stable: config order within a state
        return 200, self.r.page("feeds.html", title="Feeds", rows=out, spark_days=SPARK_DAYS, pages=snap.pages)

    # ---------------------------------------------------------------- errors

    def error(self, status: int, heading: str, message: str) -> bytes:
        return self.r.page("error.html", title=heading, heading=heading, message=message, status=status)


def _one_per_story(store: Store, hits: list[dict[str, object]]) -> list[dict[str, object]]:
    """Keep the best hit of each story on the page, with its story's other copies (shown expandable).

    Per page: a copy ranked onto another page is listed there too (the page's ranking stays the archive's).
    """
    sizes = store.story_sizes([int(h["id"]) for h in hits])  # type: ignore[call-overload]
    out: dict[int, dict[str, object]] = {}
    for h in hits:
        rid = int(h["id"])  # type: ignore[call-overload]
        story, n = sizes.get(rid, (rid, 1))
        if story not in out:
            others = [c for c in store.story(rid).copies if c.id != rid] if n > 1 else []
            out[story] = {**h, "copies": n, "others": others}
    return list(out.values())


def _seg(name: str) -> str:
    return quote(name, safe="")


def _keyset(text: str | None) -> tuple[str, int] | None:
    """Parse a "published~id" paging key from a URL; None (the first page) for anything malformed."""
    if not text or "~" not in text:
        return None
    stamp, _, ident = text.rpartition("~")
    n = view.clamp_int(ident, -1, -1, Store.MAX_ID)
    return (stamp[:40], n) if n >= 0 else None

