"""Rendering shared by every channel: clean feed text, safe links, times, text/HTML/JSON views.

Everything that reaches a channel from a feed is untrusted: titles may carry control characters,
terminal escapes, line separators or markup, and links may use any scheme. Each channel renders
through the helpers here so the cleaning rules live in one place.
"""

from __future__ import annotations

import html
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from monitor.links import safe_link
from monitor.types import AnyNotice, Notice, ReleaseView, SpikeNotice

# Lengths that keep one alert readable in a terminal, a mail client or a chat message.
TITLE_MAX = 300
SNIPPET_MAX = 500
SOURCES_SHOWN = 5

ELLIPSIS = "\u2026"

# Cc: C0/C1 controls (incl. ESC, CR, LF, U+0085); Zl/Zp: U+2028/U+2029; Cs: lone surrogates.
_BREAKING = frozenset({"Cc", "Zl", "Zp", "Cs"})


def clean_text(value: str, limit: int | None = None) -> str:
    """Return `value` as one safe line: controls and separators removed, whitespace collapsed, capped."""
    chars: list[str] = []
    for ch in value:
        category = unicodedata.category(ch)
        if category in _BREAKING:
            chars.append(" ")
        elif category == "Cf":
            # Format characters (bidi overrides, zero-width joiners, soft hyphens) can disguise
            # text; they carry no meaning worth keeping in an alert, so drop them outright.
            continue
        else:
            chars.append(ch)
    text = " ".join("".join(chars).split())
    return truncate(text, limit) if limit is not None else text


def truncate(text: str, limit: int) -> str:
    """Return `text` cut to at most `limit` characters, ending in an ellipsis when it was cut."""
    if limit <= 0:
        return ""
    if len(text) <= limit:
        return text
    return text[: limit - 1].rstrip() + ELLIPSIS


def safe_url(value: str) -> str | None:
    """Return the link when it is an absolute http(s) URL (unsafe characters escaped), else None: links.safe_link."""
    return safe_link(value)


def utc_iso(when: datetime) -> str:
    """Return `when` as an RFC 3339 UTC timestamp with a Z suffix, to the second."""
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def utc_human(when: datetime) -> str:
    """Return `when` as 'YYYY-MM-DD HH:MM UTC' for people to read."""
    return when.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def plural(count: int, word: str) -> str:
    """Return '1 alert' / '3 alerts'."""
    return f"{count} {word}" if count == 1 else f"{count} {word}s"


@dataclass(frozen=True)
class AlertView:
    """One notice with every feed string cleaned to a single safe line, ready to lay out."""

    alert_id: str
    rule: str
    channel: str
    title: str
    url: str | None  # None when the release has no http(s) link
    sources: str  # "feed A, feed B (+2 more)"
    published: str  # utc_human
    published_iso: str
    snippet: str
    author: str
    dateline: str


def source_names(release: ReleaseView, shown: int = SOURCES_SHOWN) -> str:
    """Return the feeds that carry the release, comma-separated, the rest counted."""
    names = [clean_text(s.feed, 100) for s in release.sources]
    names = [n for n in names if n]
    if len(names) > shown:
        return ", ".join(names[:shown]) + f" (+{len(names) - shown} more)"
    return ", ".join(names)


def view(notice: Notice) -> AlertView:
    """Return the cleaned, display-ready view of one notice."""
    release = notice.release
    dateline = release.dateline
    dateline_text = ""
    if dateline is not None:
        parts = (dateline.place, dateline.date.isoformat() if dateline.date else "", dateline.wire)
        dateline_text = clean_text(" ".join(p for p in parts if p), 200)
    return AlertView(
        alert_id=notice.alert_id,
        rule=clean_text(notice.rule, 100),
        channel=clean_text(notice.channel, 100),
        title=clean_text(release.title, TITLE_MAX) or "(untitled)",
        url=safe_url(release.url),
        sources=source_names(release),
        published=utc_human(release.published),
        published_iso=utc_iso(release.published),
        snippet=clean_text(notice.snippet, SNIPPET_MAX),
        author=clean_text(release.author, 100),
        dateline=dateline_text,
    )


# --------------------------------------------------------------------------- plain text


def text_block(notice: Notice, *more: Notice) -> str:
    """Return one alert as a readable multi-line plain-text block (no trailing newline); with `more`
    (other rules' notices about the same release), one block naming every rule, each with its snippet."""
    v = view(notice)
    others = [view(n) for n in more]
    lines = [f"[{', '.join([v.rule, *(o.rule for o in others)])}] {v.title}"]
    if v.sources:
        lines.append(f"  source:    {v.sources}")
    lines.append(f"  published: {v.published}")
    if v.dateline:
        lines.append(f"  dateline:  {v.dateline}")
    lines.append(f"  link:      {v.url or '(no link)'}")
    if not others:
        if v.snippet:
            lines.append(f"  {v.snippet}")
    else:
        lines.extend(f"  {o.rule}: {o.snippet}" if o.snippet else f"  {o.rule}" for o in (v, *others))
    return "\n".join(lines)


def releases_of(notices: Sequence[AnyNotice]) -> list[Notice]:
    """Return the release notices of a batch (check_batch has made sure that is all of them)."""
    return [n for n in notices if isinstance(n, Notice)]


def spike_of(notices: Sequence[AnyNotice]) -> SpikeNotice | None:
    """Return the spike a batch is about, or None for release alerts."""
    first = notices[0] if notices else None
    return first if isinstance(first, SpikeNotice) else None


def window_text(seconds: float) -> str:
    """Return a spike window for people: "1d", "12h", "1d12h"."""
    days, rest = divmod(int(seconds), 86400)
    hours, rest = divmod(rest, 3600)
    text = (f"{days}d" if days else "") + (f"{hours}h" if hours else "") + (f"{rest // 60}m" if rest >= 60 else "")
    return text or f"{int(seconds)}s"


def spike_heading(spike: SpikeNotice) -> str:
    """Return the one line that says what jumped: "[rule] spike: 12 matches in 1d (usually 2.0)"."""
    s = spike.spike
    window = window_text((s.end - s.start).total_seconds())
    matches = "1 match" if s.count == 1 else f"{s.count} matches"
    return (f"[{clean_text(s.rule, 100)}] spike: {matches} "
            f"in the last {window} (usually {s.baseline:g}; alerts at {s.factor:g}x and at least {s.min})")


def spike_text(spike: SpikeNotice) -> str:
    """Return a rule.spike alert as plain text: the heading, the window, the top releases."""
    s = spike.spike
    lines = [spike_heading(spike), f"  window:    {utc_human(s.start)} to {utc_human(s.end)}"]
    if spike.releases:
        lines.append("  top releases:")
    for release in spike.releases:
        sources = source_names(release)
        lines.append(f"  - {clean_text(release.title, TITLE_MAX) or '(untitled)'}")
        lines.append(f"    {utc_human(release.published)}{' · ' + sources if sources else ''}")
        lines.append(f"    {safe_url(release.url) or '(no link)'}")
    return "\n".join(lines)


def digest_heading(count: int, channel: str, now: datetime) -> str:
    """Return the one-line heading of a digest: how many alerts, for which channel, when."""
    return f"press-monitor: {plural(count, 'alert')} for {clean_text(channel, 100)} at {utc_human(now)}"


def text_message(notices: Sequence[AnyNotice], *, now: datetime, digest: bool) -> str:
    """Return the plain-text rendering of one alert (one release, every rule that matched it), of a
    spike, or of a digest (heading, then the blocks)."""
    spike = spike_of(notices)
    if spike is not None:
        return spike_text(spike) + "\n"
    releases = releases_of(notices)
    if not digest:
        return text_block(*releases) + "\n"
    blocks = [text_block(n) for n in releases]
    blocks.insert(0, digest_heading(len(notices), notices[0].channel, now))
    return "\n\n".join(blocks) + "\n"


# --------------------------------------------------------------------------- HTML


def _e(text: str) -> str:
    return html.escape(text, quote=True)


# A snippet marks matched terms as [term] (FTS5 snippet()); HTML mail highlights them instead.
_MATCHED = re.compile(r"\[([^\[\]]{1,200})\]")
MARK = '<mark style="background:#fff1a8;color:inherit"><b>{}</b></mark>'


def marked_html(snippet: str) -> str:
    """Return a snippet as escaped HTML with its [matched] terms in <mark><b>, brackets dropped."""
    out, at = [], 0
    for m in _MATCHED.finditer(snippet):
        out.append(_e(snippet[at:m.start()]))
        out.append(MARK.format(_e(m.group(1))))
        at = m.end()
    out.append(_e(snippet[at:]))
    return "".join(out)


def html_block(notice: Notice, *more: Notice) -> str:
    """Return one alert as an HTML fragment; every feed string escaped, only http(s) hrefs. With `more`
    (other rules' notices about the same release): every rule named, each with its snippet."""
    v = view(notice)
    others = [view(n) for n in more]
    title = f'<a href="{_e(v.url)}">{_e(v.title)}</a>' if v.url else _e(v.title)
    meta = " &middot; ".join(_e(p) for p in (v.sources, v.published, v.dateline) if p)
    parts = [
        '<div style="margin:0 0 1.5em 0">',
        f'<div style="color:#555;font-size:90%">{_e(", ".join([v.rule, *(o.rule for o in others)]))}</div>',
        f'<div style="font-size:120%;font-weight:bold;margin:.2em 0">{title}</div>',
    ]
    if not others:
        if v.snippet:
            parts.append(f'<div style="margin:.3em 0">{marked_html(v.snippet)}</div>')
    else:
        parts.extend(f'<div style="margin:.3em 0"><b>{_e(o.rule)}</b>: {marked_html(o.snippet)}</div>'
                     for o in (v, *others))
    parts.append(f'<div style="color:#777;font-size:85%">{meta}</div>')
    if v.url:
        parts.append(f'<div style="color:#777;font-size:85%">{_e(v.url)}</div>')
    parts.append("</div>")
    return "\n".join(parts)


def spike_html(spike: SpikeNotice) -> str:
    """Return a rule.spike alert as an HTML fragment: the heading, then the top releases linked."""
    s = spike.spike
    parts = [f'<h2 style="font-size:110%">{_e(spike_heading(spike))}</h2>',
             f'<div style="color:#777;font-size:85%">{_e(utc_human(s.start))} to {_e(utc_human(s.end))}</div>',
             "<ul>"]
    for release in spike.releases:
        title = clean_text(release.title, TITLE_MAX) or "(untitled)"
        url = safe_url(release.url)
        link = f'<a href="{_e(url)}">{_e(title)}</a>' if url else _e(title)
        parts.append(f"<li>{link} <span style=\"color:#777\">{_e(utc_human(release.published))}</span></li>")
    parts.append("</ul>")
    return "\n".join(parts)


def html_message(notices: Sequence[AnyNotice], *, now: datetime, digest: bool) -> str:
    """Return a complete HTML document for one alert (one release, every rule), a spike or a digest."""
    spike = spike_of(notices)
    releases = releases_of(notices)
    if spike is not None:
        body = [spike_html(spike)]
    elif not digest:
        body = [html_block(*releases)]
    else:
        body = [html_block(n) for n in releases]
        heading = digest_heading(len(notices), notices[0].channel, now)
        body.insert(0, f"<h2 style=\"font-size:110%\">{_e(heading)}</h2>")
    return (
        '<!DOCTYPE html>\n<html><head><meta charset="utf-8"></head>\n'
        '<body style="font-family:sans-serif">\n' + "\n".join(body) + "\n</body></html>\n"
    )


# --------------------------------------------------------------------------- JSON


# The JSON events are described by WEBHOOK_SCHEMA (shipped in the package, shown in the README):
# change both together. A value the release lacks is null, never "" (as in the JSON API).
WEBHOOK_SCHEMA = "webhook-events.schema.json"
MATCHED, DIGEST, TEST, SPIKE = "release.matched", "release.digest", "release.test", "rule.spike"


def release_payload(release: ReleaseView) -> dict[str, object]:
    """Return the JSON-ready description of a release (links that are not http(s) become null)."""
    dateline = release.dateline
    return {
        "id": release.id,
        "title": release.title,
        "url": safe_url(release.url),
        "published": utc_iso(release.published),
        "first_seen": utc_iso(release.first_seen),
        "author": release.author or None,
        "summary": release.summary,
        "dateline": None
        if dateline is None
        else {
            "place": dateline.place or None,
            "date": dateline.date.isoformat() if dateline.date else None,
            "wire": dateline.wire or None,
        },
        "tickers": list(release.tickers),
        "sources": [{"feed": s.feed, "url": safe_url(s.url)} for s in release.sources],
    }


def alert_payload(notice: Notice) -> dict[str, object]:
    """Return the JSON-ready description of one alert inside a digest."""
    return {
        "alert_id": notice.alert_id,
        "rule": notice.rule,
        "snippet": notice.snippet,
        "release": release_payload(notice.release),
    }


def spike_payload(spike: SpikeNotice) -> dict[str, object]:
    s = spike.spike
    return {
        "alert_id": spike.alert_id,
        "rule": s.rule,
        "channel": spike.channel,
        "window": {"start": utc_iso(s.start), "end": utc_iso(s.end),
                   "seconds": int((s.end - s.start).total_seconds())},
        "count": s.count,
        "baseline": s.baseline,
        "factor": s.factor,
        "min": s.min,
        "releases": [release_payload(r) for r in spike.releases],
    }


def json_message(notices: Sequence[AnyNotice], *, now: datetime, digest: bool) -> dict[str, object]:
    """Return the release.matched (one release, every rule that matched it), release.test (`alerts test`),
    rule.spike or release.digest (several alerts) event."""
    spike = spike_of(notices)
    if spike is not None:
        return {"type": SPIKE, "timestamp": utc_iso(now), "data": spike_payload(spike)}
    releases = releases_of(notices)
    if digest:
        return {
            "type": DIGEST,
            "timestamp": utc_iso(now),
            "data": {"channel": notices[0].channel, "alerts": [alert_payload(n) for n in releases]},
        }
    notice = releases[0]
    return {
        "type": TEST if notice.test else MATCHED,
        "timestamp": utc_iso(now),
        "data": {
            # The message's id (webhook-id): the first rule's alert. rule and snippet are the first
            # match's, as before grouping; `matches` names every rule that matched, in rule-row order.
            "alert_id": notice.alert_id,
            "rule": notice.rule,
            "channel": notice.channel,
            "snippet": notice.snippet,
            "matches": [{"alert_id": n.alert_id, "rule": n.rule, "snippet": n.snippet} for n in releases],
            "release": release_payload(notice.release),
        },
    }


def check_batch(notices: Sequence[AnyNotice], digest: bool) -> None:
    """Raise ValueError unless `notices` fits the call: one spike; alerts about one release (its rules);
    or, for a digest, at least one release alert."""
    if not notices:
        raise ValueError("send() needs at least one notice")
    spikes = sum(isinstance(n, SpikeNotice) for n in notices)
    if spikes and (digest or len(notices) != 1):
        raise ValueError("a spike is sent alone, never in a digest")
    if not digest and not spikes and len({n.release.id for n in releases_of(notices)}) != 1:
        raise ValueError("send() without digest=True takes the alerts of one release")
