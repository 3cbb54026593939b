"""View models shared by the HTML pages and the JSON API: read once, shown two ways.

A release is read here (`release_model`) and then rendered by `html.Pages.release` (a template)
and `api.Api.release` (`release_json`), so the page and the API can never disagree about what a
release is, which alerts it has, or why it has none.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from monitor import stories
from monitor.clock import iso
from monitor.store import OutboxRow, ReleaseDetail, Store, Story
from monitor.types import RuleSpec
from monitor.web import view


class NotFound(Exception):
    """The path names nothing: answered with 404 (a page, or {"error": …} on the API)."""


def duration_words(seconds: float) -> str:
    """Return 172800 as "2 days", 5400 as "90 minutes"."""
    for size, unit in ((86400, "day"), (3600, "hour"), (60, "minute")):
        if seconds >= size and seconds % size == 0 or seconds >= 2 * size:
            n = round(seconds / size)
            return f"{n} {unit}{'s' if n != 1 else ''}"
    return f"{seconds:.0f} seconds"


@dataclass(frozen=True)
class ReleaseModel:
    detail: ReleaseDetail
    alerts: tuple[OutboxRow, ...]
    why_no_alert: str  # "" when it has alerts
    story: Story  # its story (monitor/stories.py): every copy, itself included


def release_model(store: Store, release_id: int, rules: tuple[RuleSpec, ...] | list[RuleSpec],
                  alert_max_age: float) -> ReleaseModel:
    """Read one release with its alerts, and say why it has none; NotFound for an unknown id."""
    detail = store.release(release_id) if 0 < release_id <= Store.MAX_ID else None
    if detail is None:
        raise NotFound(f"no release with id {release_id}")
    alerts = tuple(store.release_alerts(release_id))
    story = store.story(release_id)
    specs = {r.name: r for r in rules}
    # A rule whose alert went out for another copy of the story (once_per = "story") queued none here.
    covered = {m.rule for m in detail.matches if len(story.copies) > 1 and (spec := specs.get(m.rule)) is not None
               and spec.once_per == "story" and any(store.story_alerted(story.id, release_id, m.rule, c)
                                                    for c in spec.notify)}
    why = "" if alerts else no_alert_reason(detail, specs, alert_max_age, covered)
    return ReleaseModel(detail, alerts, why, story)


def story_json(story: Story) -> dict[str, Any]:
    """A story as the API carries it: its id (its first copy's release id), a sentence, every copy."""
    return {"id": story.id, "told": stories.told(story.copies) if len(story.copies) > 1 else None,
            "copies": [{"id": c.id, "title": c.title, "url": view.link(c.url), "source": c.source,
                        "wire": c.wire or None, "published": iso(c.published), "first_seen": iso(c.first_seen)}
                       for c in story.copies]}


@dataclass(frozen=True)
class RuleRow:
    """One rule as the rules page and /api/rules list it: configured, or only in the archive's matches."""

    name: str
    spec: RuleSpec | None  # None: removed from config.toml, its matches kept
    matches: int
    last_match: datetime | None


def rule_rows(store: Store, rules: tuple[RuleSpec, ...] | list[RuleSpec]) -> list[RuleRow]:
    """The configured rules in config order, then rules that only the archive still knows, by name."""
    stats = store.rule_stats()
    specs = {r.name: r for r in rules}
    return [RuleRow(name, specs.get(name), *stats.get(name, (0, None)))
            for name in list(specs) + sorted(set(stats) - set(specs))]


def no_alert_reason(detail: ReleaseDetail, specs: dict[str, RuleSpec], max_age: float,
                    covered: set[str] | frozenset[str] = frozenset()) -> str:
    """Say why a release has no alert, from what the pipeline checks before queueing one.

    covered: rules that alerted for another copy of the release's story (so, once per story, not here).
    """
    if not detail.matches:
        return "no watch rule matched it."
    why = []
    for m in detail.matches:
        spec = specs.get(m.rule)
        if m.rule in covered:
            why.append(f"rule {m.rule} already alerted for another copy of its story (once_per = \"story\")")
        elif spec is None:
            why.append(f"rule {m.rule} is no longer in config.toml")
        elif not spec.notify:
            why.append(f"rule {m.rule} notifies nobody (archive only: its notify list is empty)")
        elif m.matched_at and detail.view.published < m.matched_at - timedelta(seconds=max_age):
            why.append(f"it was published more than {duration_words(max_age)} before rule {m.rule} matched it"
                       " (alert_max_age: old news is archived quietly)")
        else:
            why.append(f"rule {m.rule} had no channel it could queue for when it matched"
                       " (the channel was added or enabled later)")
    return "; ".join(why) + "."


def alert_json(a: OutboxRow) -> dict[str, object]:
    return {"id": a.alert_id, "kind": "spike" if a.spike_id is not None else "release", "release_id": a.release_id,
            "title": a.title, "rule": a.rule, "channel": a.channel,
            "status": str(a.status), "attempts": a.attempts, "created": iso(a.created_at), "sent": iso(a.sent_at),
            "next_attempt": iso(a.next_attempt_at) if a.status == "pending" else None,
            "last_error": a.last_error}


def release_json(m: ReleaseModel) -> dict[str, Any]:
    d, v = m.detail, m.detail.view
    return {
        "id": v.id, "title": v.title, "url": view.link(v.url), "published": iso(v.published),
        "first_seen": iso(v.first_seen), "updated": iso(d.updated), "author": v.author or None,
        "dateline": {"place": v.dateline.place or None, "wire": v.dateline.wire or None,
                     "date": v.dateline.date.isoformat() if v.dateline.date else None} if v.dateline else None,
        "tickers": list(v.tickers), "summary": v.summary, "body": d.body,
        "sightings": [{"feed": s.feed, "link": view.link(s.link), "first_seen": iso(s.first_seen),
                       "last_seen": iso(s.last_seen)} for s in d.sightings],
        "versions": [{"title": x.title, "summary": x.summary, "body": x.body, "replaced": iso(x.replaced_at)}
                     for x in d.versions],
        "matches": [{"rule": x.rule, "snippet": x.snippet, "matched": iso(x.matched_at)} for x in d.matches],
        "alerts": [alert_json(a) for a in m.alerts],
        "no_alert_reason": m.why_no_alert or None,
        "story": story_json(m.story),
    }
