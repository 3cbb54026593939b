"""The read-only JSON API (`/api/…`) and `/healthz`.

Handlers return (HTTP status, JSON-able value). Lists that can grow page by cursor: the answer's
`next_cursor` (null on the last page) goes back as `?cursor=`; it is opaque (base64url JSON) and a
malformed one is a 400. Errors are {"error": message}. Times are ISO 8601 UTC ("…Z").
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping
from typing import Any

from monitor import health, schedule
from monitor.app import App
from monitor.clock import Clock, iso
from monitor.errors import ConfigError, QueryError
from monitor.rules import search_query
from monitor.store import RANK_WINDOW, Store
from monitor.web import view
from monitor.web.model import NotFound, alert_json, release_json, release_model, rule_rows

DEFAULT_LIMIT = 25
MAX_LIMIT = 200
MAX_OFFSET = 250_000  # newest-first paging deeper than this is better done with a date filter or export

Answer = tuple[int, Any]


class BadRequest(Exception):
    """A parameter the API cannot use: answered with 400 and the message."""


Missing = NotFound  # the path names nothing: 404 with the message

def plain(marked: str) -> str:
    """Return a \\x02…\\x03-marked snippet with [brackets] around matches, as `search --json` shows them."""
    return marked.replace(view.OPEN, "[").replace(view.CLOSE, "]")


def unmarked(marked: str) -> str:
    """Return a \\x02…\\x03-marked text as it was (the release's own title, for programs)."""
    return marked.replace(view.OPEN, "").replace(view.CLOSE, "")


def encode_cursor(value: Mapping[str, object]) -> str:
    return base64.urlsafe_b64encode(json.dumps(value, separators=(",", ":")).encode()).decode().rstrip("=")


def decode_cursor(text: str | None) -> dict[str, Any]:
    if not text:
        return {}
    try:
        value = json.loads(base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)))
    except (binascii.Error, ValueError, UnicodeDecodeError):
        value = None
    if not isinstance(value, dict):
        raise BadRequest(f"invalid cursor {text[:60]!r}: pass back a next_cursor unchanged")
    return value


def _int(value: object, name: str, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise BadRequest(f"invalid cursor: {name} out of range")
    return value


def limit_of(params: Mapping[str, str]) -> int:
    text = params.get("limit")
    if text is None:
        return DEFAULT_LIMIT
    n = view.clamp_int(text, -1, -1, 10**9)
    if not 1 <= n <= MAX_LIMIT:
        raise BadRequest(f"invalid limit {text[:30]!r}: a whole number from 1 to {MAX_LIMIT}")
    return n


class Api:
    def __init__(self, app: App, clock: Clock) -> None:
        self.app = app
        self.clock = clock

    def store(self) -> Store:
        return self.app.open_store(readonly=True)

    def search(self, params: Mapping[str, str]) -> Answer:
        q = params.get("q", "").strip()
        filters = {k: params[k] for k in Store.REVIEW_FILTERS if params.get(k)}
        limit = limit_of(params)
        offset = _int(decode_cursor(params.get("cursor")).get("offset", 0), "offset", 0, MAX_OFFSET)
        try:
            expanded = search_query(q, self.app.config.terms, everything=True)
            with self.store() as store:
                self._known(store, filters)
                window, windowed = store.web_window(expanded, filters) if expanded else (None, False)
                hits = store.web_search(expanded, filters, limit=limit + 1, offset=offset, window=window)
        except (QueryError, ConfigError) as exc:
            raise BadRequest(str(exc)) from None
        more = len(hits) > limit and (window is None or offset + limit < RANK_WINDOW)
        return 200, {
            "query": q, "filters": filters, "ranked_within_newest": RANK_WINDOW if windowed else None,
            "results": [{"id": h["id"], "title": unmarked(str(h["title"])), "title_marked": plain(str(h["title"])),
                         "url": view.link(str(h["url"])),
                         "published": iso(h["published"]), "first_seen": iso(h["first_seen"]),  # type: ignore[arg-type]
                         "feeds": h["feeds"], "wire": h["wire"] or None, "place": h["place"] or None,
                         "snippet": plain(view.cut(str(h["snippet"]), 400))} for h in hits[:limit]],
            "next_cursor": encode_cursor({"offset": offset + limit}) if more else None,
        }

    def _known(self, store: Store, filters: Mapping[str, str]) -> None:
        """A rule or feed filter must name a rule or feed (configured, or in the archive): else a 400."""
        rule, feed = filters.get("rule"), filters.get("feed")
        if rule is not None and rule not in {r.name for r in self.app.config.rules} and rule not in store.rule_stats():
            raise BadRequest(f"no rule named {rule!r} (GET /api/rules lists them)")
        if feed is not None and feed not in {f.name for f in self.app.config.feeds} \
                and feed not in {r.name for r in store.feeds()}:
            raise BadRequest(f"no feed named {feed!r} (GET /api/feeds lists them)")

    def release(self, release_id: int) -> Answer:
        with self.store() as store:
            m = release_model(store, release_id, self.app.config.rules, self.app.config.settings.alert_max_age)
        return 200, release_json(m)

    def rules(self, params: Mapping[str, str]) -> Answer:
        with self.store() as store:
            listed = rule_rows(store, self.app.config.rules)
        out = [{"name": r.name, "query": s.query if s else None, "regex": s.regex if s else None,
                "feeds": list(s.feeds) if s else [], "notify": list(s.notify) if s else [],
                "enabled": s.enabled if s else False, "in_config": s is not None,
                "spike": {"factor": s.spike.factor, "min": s.spike.min, "window_seconds": int(s.spike.window)}
                if s and s.spike else None,
                "matches": r.matches, "last_match": iso(r.last_match)}
               for r in listed for s in (r.spec,)]
        return 200, {"rules": out}

    def rule_matches(self, name: str, params: Mapping[str, str]) -> Answer:
        limit = limit_of(params)
        cur = decode_cursor(params.get("cursor"))
        before = None
        if cur:
            stamp = cur.get("matched")
            if not isinstance(stamp, str) or len(stamp) > 40:
                raise BadRequest("invalid cursor: matched")
            before = (stamp, _int(cur.get("id"), "id", 0, Store.MAX_ID))
        with self.store() as store:
            rows = store.web_rule_matches(name, limit=limit + 1, before=before)
            known = bool(rows) or name in store.rule_stats()
        if not known and not any(r.name == name for r in self.app.config.rules):
            raise Missing(f"no rule named {name!r}")
        more = len(rows) > limit
        rows = rows[:limit]
        return 200, {
            "rule": name,
            "matches": [{"release_id": r["id"], "title": r["title"], "url": view.link(str(r["url"])),
                         "published": iso(r["published"]), "matched": iso(r["matched_at"]),  # type: ignore[arg-type]
                         "feeds": r["feeds"], "snippet": r["snippet"]} for r in rows],
            "next_cursor": encode_cursor({"matched": rows[-1]["key"][0], "id": rows[-1]["key"][1]})  # type: ignore[index]
            if more else None,
        }

    def feeds(self, params: Mapping[str, str]) -> Answer:
        snap = self.snapshot()
        return 200, {"feeds": [{
            "name": f.name, "url": f.url, "state": str(f.state), "enabled": bool(f.configured and f.configured.enabled),
            "entries": r.entries if r else 0, "failures": r.failures if r else 0,
            "last_polled": iso(r.last_polled_at) if r else None, "last_ok": iso(r.last_ok_at) if r else None,
            "last_error": r.last_error if r else None, "next_poll": iso(f.next_poll),
            "retry_after_until": iso(r.retry_after_until) if r else None,
            "redirect_to": r.redirect_to if r else None, "pages_failed": f.pages_failed,
        } for f in snap.configured for r in [f.row]], "pages": snap.pages}

    def snapshot(self) -> health.Snapshot:
        with self.store() as store:
            return health.snapshot(store, self.app.config.feeds, self.clock.now())

    def alerts(self, params: Mapping[str, str]) -> Answer:
        limit = limit_of(params)
        cur = decode_cursor(params.get("cursor"))
        before = _int(cur["before"], "before", 1, Store.MAX_ID) if "before" in cur else None
        with self.store() as store:
            rows = store.web_alerts(limit=limit + 1, before_id=before)
        more = len(rows) > limit
        rows = rows[:limit]
        return 200, {"alerts": [alert_json(a) for a in rows],
                     "next_cursor": encode_cursor({"before": rows[-1].id}) if more else None}

    def health(self, params: Mapping[str, str]) -> Answer:
        """`/healthz`: 200 while `press-monitor status` would say healthy or degraded, 503 when down."""
        snap = self.snapshot()
        h = snap.health
        return (503 if h.code == schedule.DOWN else 200), {"status": h.verdict, "code": h.code,
                                                           "reasons": list(h.reasons), "last_poll": iso(snap.last_poll),
                                                           "pages": snap.pages, "nodes": snap.nodes_json()}
