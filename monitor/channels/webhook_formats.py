"""Webhook bodies: press-monitor's own JSON, Slack's Block Kit and Discord's embeds, within each
service's limits. Feed text is escaped for each format: it can never mention, ping or link by itself."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from monitor.channels.render import (
    clean_text,
    digest_heading,
    json_message,
    plural,
    releases_of,
    safe_url,
    spike_heading,
    spike_of,
    truncate,
    utc_human,
    utc_iso,
    view,
)
from monitor.types import AnyNotice, Notice, ReleaseView, SpikeNotice

FORMATS = ("json", "slack", "discord")

# Slack: a message holds at most 50 blocks; section text at most 3000 characters. A digest uses
# a heading, three blocks per alert (divider, section, context) and an "and N more" line: 1+3*15+1.
SLACK_DIGEST_MAX = 15
# Discord: at most 10 embeds per message and 6000 characters across all of them.
DISCORD_EMBEDS_MAX = 10


def _slack_escape(text: str) -> str:
    # Slack's mrkdwn treats only these three as control characters; escaping them stops feed text
    # from forming <!channel> mentions or <url|text> links of its own.
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _slack_link(url: str | None, text: str) -> str:
    if url is None:
        return _slack_escape(text)
    # safe_url() already percent-encoded "|" and ">", so the link cannot end early.
    return f"<{_slack_escape(url)}|{_slack_escape(text)}>"


def _slack_alert_blocks(notice: Notice, *more: Notice) -> list[dict[str, object]]:
    """One alert's blocks; with `more` (other rules about the same release) every rule's snippet."""
    v = view(notice)
    others = [view(n) for n in more]
    title = truncate(v.title, 250)
    text = f"*{_slack_link(v.url, title)}*"
    if len(text) > 2400:  # an absurdly long link: drop it rather than cut it in half
        text = f"*{_slack_escape(title)}*"
    if not others:
        if v.snippet:
            text += "\n" + truncate(_slack_escape(v.snippet), 3000 - len(text) - 1)
    else:
        lines = "\n".join(f"*{_slack_escape(o.rule)}*: {_slack_escape(o.snippet)}" for o in (v, *others))
        text += "\n" + truncate(lines, 3000 - len(text) - 1)
    rules = ", ".join([v.rule, *(o.rule for o in others)])
    context = " | ".join(p for p in (f"rule{'s' if others else ''}: {rules}", v.sources, v.published) if p)
    return [
        {"type": "section", "text": {"type": "mrkdwn", "text": text}},
        {"type": "context", "elements": [{"type": "mrkdwn", "text": truncate(_slack_escape(context), 2000)}]},
    ]


def slack_message(notices: Sequence[AnyNotice], *, now: datetime, digest: bool) -> dict[str, object]:
    """Return a Slack incoming-webhook message: fallback `text` plus Block Kit blocks."""
    spike = spike_of(notices)
    if spike is not None:
        return _slack_spike(spike)
    releases = releases_of(notices)
    if not digest:
        v = view(releases[0])
        rules = ", ".join(n.rule for n in releases)
        fallback = f"[{_slack_escape(truncate(rules, 300))}] {_slack_link(v.url, truncate(v.title, 250))}"
        return {"text": fallback, "blocks": _slack_alert_blocks(*releases)}
    notices = releases
    heading = digest_heading(len(notices), notices[0].channel, now)
    blocks: list[dict[str, object]] = [
        {"type": "section", "text": {"type": "mrkdwn", "text": f"*{_slack_escape(heading)}*"}}
    ]
    for notice in notices[:SLACK_DIGEST_MAX]:
        blocks.append({"type": "divider"})
        blocks.extend(_slack_alert_blocks(notice))
    rest = len(notices) - SLACK_DIGEST_MAX
    if rest > 0:
        blocks.append(
            {"type": "context", "elements": [{"type": "mrkdwn", "text": f"and {plural(rest, 'more alert')}"}]}
        )
    return {"text": _slack_escape(heading), "blocks": blocks}


def _slack_spike(spike: SpikeNotice) -> dict[str, object]:
    heading = _slack_escape(spike_heading(spike))
    blocks: list[dict[str, object]] = [{"type": "section", "text": {"type": "mrkdwn", "text": f"*{heading}*"}}]
    for release in spike.releases:
        title = truncate(clean_text(release.title), 250) or "(untitled)"
        line = f"{_slack_link(safe_url(release.url), title)} ({utc_human(release.published)})"
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": truncate(line, 3000)}})
    return {"text": heading, "blocks": blocks}


def _discord_embed(notice: Notice, *more: Notice, compact: bool) -> dict[str, object]:
    v = view(notice)
    others = [view(n) for n in more]
    # Discord caps all embeds of one message at 6000 characters together, so a digest of ten
    # uses tighter per-field limits than a single alert.
    title_max, desc_max, field_max = (150, 250, 100) if compact else (256, 2000, 1024)
    embed: dict[str, object] = {"title": truncate(v.title, title_max)}
    if v.url:
        embed["url"] = v.url
    if others:  # one release, several rules: each rule's snippet
        embed["description"] = truncate("\n".join(f"**{o.rule}**: {o.snippet}" for o in (v, *others)), desc_max)
    elif v.snippet:
        embed["description"] = truncate(v.snippet, desc_max)
    embed["timestamp"] = v.published_iso
    rules = ", ".join([v.rule, *(o.rule for o in others)])
    fields = [{"name": "Rules" if others else "Rule", "value": truncate(rules, field_max) or "-", "inline": True}]
    if v.sources:
        fields.append({"name": "Source", "value": truncate(v.sources, field_max), "inline": True})
    embed["fields"] = fields
    embed["footer"] = {"text": "press-monitor"}
    return embed


def _discord_release(release: ReleaseView) -> dict[str, object]:
    """One of a spike's top releases as an embed: its title, link and time."""
    embed: dict[str, object] = {"title": truncate(clean_text(release.title), 256) or "(untitled)",
                                "timestamp": utc_iso(release.published), "footer": {"text": "press-monitor"}}
    url = safe_url(release.url)
    if url:
        embed["url"] = url
    return embed


def discord_message(notices: Sequence[AnyNotice], *, now: datetime, digest: bool) -> dict[str, object]:
    """Return a Discord webhook message: short content plus up to 10 embeds; mentions disabled."""
    spike = spike_of(notices)
    releases = releases_of(notices)
    if spike is not None:
        content = truncate(spike_heading(spike), 2000)
        embeds = [_discord_release(r) for r in spike.releases[:DISCORD_EMBEDS_MAX]]
    elif not digest:
        v = view(releases[0])
        content = truncate(f"[{', '.join(n.rule for n in releases)}] {v.title}", 2000)
        embeds = [_discord_embed(*releases, compact=False)]
    else:
        notices = releases
        content = digest_heading(len(notices), notices[0].channel, now)
        rest = len(notices) - DISCORD_EMBEDS_MAX
        if rest > 0:
            content += f" (showing {DISCORD_EMBEDS_MAX}; and {rest} more)"
        embeds = [_discord_embed(n, compact=True) for n in notices[:DISCORD_EMBEDS_MAX]]
    # Feed text could contain "@everyone" or a role mention; never let an alert ping anyone.
    return {"content": content, "embeds": embeds, "allowed_mentions": {"parse": []}}


def render(fmt: str, notices: Sequence[AnyNotice], *, now: datetime, digest: bool) -> dict[str, object]:
    """Return the JSON payload of one alert or a digest in the given format."""
    if fmt == "slack":
        return slack_message(notices, now=now, digest=digest)
    if fmt == "discord":
        return discord_message(notices, now=now, digest=digest)
    return json_message(notices, now=now, digest=digest)
